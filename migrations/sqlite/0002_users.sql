-- App users. Anonymous users have no email until they upgrade.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT UNIQUE,
    email_verified INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT,
    anonymous INTEGER NOT NULL DEFAULT 0,
    disabled INTEGER NOT NULL DEFAULT 0,
    -- JSON: the app's profile, and custom claims set by admins.
    data TEXT NOT NULL DEFAULT '{}',
    claims TEXT NOT NULL DEFAULT '{}',
    mfa_secret TEXT,
    mfa_enabled INTEGER NOT NULL DEFAULT 0,
    -- The last TOTP time step accepted, so a code works only once.
    mfa_last_step INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- One row per sign-in. A session's refresh tokens are numbered; only the
-- newest may be used, and presenting an older one revokes the session.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    aal INTEGER NOT NULL DEFAULT 1,
    user_agent TEXT,
    ip TEXT,
    refresh_counter INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_revoked ON sessions (revoked_at);

-- SHA-256 of each refresh token a session has been given.
CREATE TABLE refresh_tokens (
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    counter INTEGER NOT NULL,
    secret_hash BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (session_id, counter)
);

-- Single-use tokens sent by mail (verify, reset, magic link) and MFA sign-in
-- tokens; only SHA-256 of the secret is kept.
CREATE TABLE one_time_tokens (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    email TEXT,
    secret_hash BLOB NOT NULL,
    redirect_to TEXT,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX one_time_tokens_expiry ON one_time_tokens (expires_at);

-- SHA-256 of each unused MFA recovery code.
CREATE TABLE mfa_recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash BLOB NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);

-- Mail written when no SMTP server is configured, for admins to read.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    to_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    token TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX outbox_created ON outbox (created_at);
