-- File storage: buckets and the metadata of their objects. The bytes live
-- in the object store under `key`; a new upload gets a new key, so readers
-- see either the old object or the new one, never a mix.
CREATE TABLE buckets (
    name TEXT PRIMARY KEY,
    public BOOLEAN NOT NULL DEFAULT FALSE,
    max_object_size BIGINT,
    allowed_types TEXT NOT NULL DEFAULT '[]',
    rules TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE objects (
    bucket TEXT NOT NULL REFERENCES buckets (name) ON DELETE CASCADE,
    path TEXT COLLATE "C" NOT NULL,
    key TEXT NOT NULL,
    size BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    etag TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (bucket, path)
);

-- Secrets the server keeps for itself (the key that signs file URLs).
CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY,
    value BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
