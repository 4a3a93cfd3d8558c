-- App users. Anonymous users have no email until they upgrade.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT UNIQUE,
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash TEXT,
    anonymous BOOLEAN NOT NULL DEFAULT FALSE,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    -- JSON: the app's profile, and custom claims set by admins.
    data TEXT NOT NULL DEFAULT '{}',
    claims TEXT NOT NULL DEFAULT '{}',
    mfa_secret TEXT,
    mfa_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    -- The last TOTP time step accepted, so a code works only once.
    mfa_last_step BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One row per sign-in. A session's refresh tokens are numbered; only the
-- newest may be used, and presenting an older one revokes the session.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    aal BIGINT NOT NULL DEFAULT 1,
    user_agent TEXT,
    ip TEXT,
    refresh_counter BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_revoked ON sessions (revoked_at);

-- SHA-256 of each refresh token a session has been given.
CREATE TABLE refresh_tokens (
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    counter BIGINT NOT NULL,
    secret_hash BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (session_id, counter)
);

-- Single-use tokens sent by mail (verify, reset, magic link) and MFA sign-in
-- tokens; only SHA-256 of the secret is kept.
CREATE TABLE one_time_tokens (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    email TEXT,
    secret_hash BYTEA NOT NULL,
    redirect_to TEXT,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX one_time_tokens_expiry ON one_time_tokens (expires_at);

-- SHA-256 of each unused MFA recovery code.
CREATE TABLE mfa_recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash BYTEA NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);

-- Mail written when no SMTP server is configured, for admins to read.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    to_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    token TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX outbox_created ON outbox (created_at);
