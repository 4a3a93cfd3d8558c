-- Collections: their rules, schema and index definitions. Each collection's
-- documents live in their own table, named by `tbl` (never by user input).
CREATE TABLE collections (
    name TEXT PRIMARY KEY,
    tbl TEXT NOT NULL UNIQUE,
    rules TEXT NOT NULL,
    schema TEXT,
    indexes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The change feed: one row per committed document write. Writers append
-- under a transaction-scoped advisory lock, so seq order is commit order.
CREATE TABLE changes (
    seq BIGSERIAL PRIMARY KEY,
    collection TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    op TEXT NOT NULL,
    document TEXT NOT NULL,
    committed_at BIGINT NOT NULL
);
CREATE INDEX changes_committed_at ON changes (committed_at);
