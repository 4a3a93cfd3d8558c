-- Push notifications: the devices users register, the sends, and each
-- user's send count in the current minute (the per-user limit).
CREATE TABLE push_subscriptions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- `webpush`, `fcm` or `apns`.
    kind TEXT NOT NULL,
    -- The Web Push endpoint, or the FCM or APNs device token.
    address TEXT NOT NULL,
    -- Web Push: the browser's P-256 key and auth secret (base64url).
    p256dh TEXT,
    auth TEXT,
    -- APNs: the app's bundle id (`apns-topic`).
    topic TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX push_subscriptions_address ON push_subscriptions (kind, address);
CREATE INDEX push_subscriptions_user ON push_subscriptions (user_id, id);

CREATE TABLE push_sends (
    id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    -- `admin:<id>`, `service:<id>` or `function:<name>`.
    sender TEXT NOT NULL,
    -- JSON array of user ids.
    users TEXT NOT NULL,
    -- JSON: {title, body, data?, url?}.
    notification TEXT NOT NULL,
    ttl BIGINT NOT NULL,
    urgency TEXT NOT NULL,
    -- Set when the send became one delivery per device.
    devices BIGINT,
    fanned_out_at BIGINT,
    -- JSON array of the users over their limit, who got nothing.
    limited TEXT
);
CREATE INDEX push_sends_created ON push_sends (created_at);

CREATE TABLE push_rates (
    user_id TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    sent BIGINT NOT NULL
);

CREATE INDEX deliveries_event ON deliveries (event_id);
