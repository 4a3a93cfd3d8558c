-- Triggers and schedules: what a function listens to.
ALTER TABLE functions ADD COLUMN collection TEXT;
ALTER TABLE functions ADD COLUMN event TEXT;
ALTER TABLE functions ADD COLUMN cron TEXT;
ALTER TABLE functions ADD COLUMN timezone TEXT;
ALTER TABLE function_versions ADD COLUMN collection TEXT;
ALTER TABLE function_versions ADD COLUMN event TEXT;
ALTER TABLE function_versions ADD COLUMN cron TEXT;
ALTER TABLE function_versions ADD COLUMN timezone TEXT;
-- The outbox delivery a run belonged to (after-triggers), for its retry.
ALTER TABLE executions ADD COLUMN delivery TEXT;

-- The durable outbox: one row per event and target, written in the
-- transaction of the change that caused it.
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    -- Shared by the rows of one event: the receiver's idempotency key.
    event_id TEXT NOT NULL,
    -- `function` or `webhook`.
    target_kind TEXT NOT NULL,
    target TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    -- `pending`, `retrying`, `ok` or `dead`.
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    -- Not before this (ms); a claim sets `lease_until` past now.
    next_at BIGINT NOT NULL,
    lease_until BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- The last attempt: its HTTP status (webhooks), error and duration.
    last_status BIGINT,
    last_error TEXT,
    duration_us BIGINT
);
CREATE INDEX deliveries_due ON deliveries (next_at) WHERE status IN ('pending', 'retrying');
CREATE INDEX deliveries_target ON deliveries (target_kind, target, id);

-- Webhooks: signed POSTs of events to an URL.
CREATE TABLE webhooks (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    -- JSON array of event patterns.
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    -- Why it was disabled by the server (a 410), if it was.
    disabled_reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Each slot of a schedule is claimed once, across all nodes.
CREATE TABLE schedule_runs (
    function TEXT NOT NULL,
    slot BIGINT NOT NULL,
    claimed_at BIGINT NOT NULL,
    finished_at BIGINT,
    status TEXT NOT NULL,
    PRIMARY KEY (function, slot)
);
