-- Accounts at OAuth / OpenID Connect providers, linked to users.
CREATE TABLE identities (
    provider TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX identities_user ON identities (user_id);

-- Sign-ins in progress: the state sent to the provider (hashed), the PKCE
-- verifier and nonce, and where to send the user back.
CREATE TABLE oauth_flows (
    state_hash BYTEA PRIMARY KEY,
    provider TEXT NOT NULL,
    code_verifier TEXT NOT NULL,
    nonce TEXT NOT NULL,
    redirect_to TEXT NOT NULL,
    -- SHA-256 of the random value in the browser's cookie: the callback
    -- must come from the browser that started the sign-in.
    browser_hash BYTEA NOT NULL,
    expires_at BIGINT NOT NULL
);
