-- TOTP for admins: the same scheme as users' (a base32 secret, the last
-- accepted time step against replays, single-use recovery codes).
ALTER TABLE admins ADD COLUMN mfa_secret TEXT;
ALTER TABLE admins ADD COLUMN mfa_enabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE admins ADD COLUMN mfa_last_step BIGINT;

-- SHA-256 of each unused admin recovery code.
CREATE TABLE admin_mfa_recovery_codes (
    admin_id TEXT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    code_hash BYTEA NOT NULL,
    PRIMARY KEY (admin_id, code_hash)
);
