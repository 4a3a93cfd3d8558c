-- Admin roles: owner (everything), developer (all but admins and service
-- keys), viewer (reads only). Admins made before roles existed are owners.
ALTER TABLE admins ADD COLUMN role TEXT NOT NULL DEFAULT 'owner'
    CHECK (role IN ('owner', 'developer', 'viewer'));

-- Every change made by an admin, a service key or a server command, written
-- in the same transaction as the change. Never holds a secret.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    time BIGINT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT,
    actor_name TEXT,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before_json TEXT,
    after_json TEXT
);

-- The request log (on SQLite it has its own file, logs.db). Written in
-- batches by each node; swept after log_retention. Ids sort by time, so
-- time filters and the sweep use the primary key.
CREATE TABLE request_log (
    id TEXT PRIMARY KEY,
    time BIGINT NOT NULL,
    method TEXT NOT NULL,
    route TEXT NOT NULL,
    path TEXT NOT NULL,
    status BIGINT NOT NULL,
    duration_us BIGINT NOT NULL,
    caller_kind TEXT NOT NULL,
    caller_id TEXT,
    ip TEXT NOT NULL,
    request_id TEXT NOT NULL,
    error TEXT
);

-- Per-minute counts of each node, for the dashboard's charts.
CREATE TABLE request_minutes (
    node TEXT NOT NULL,
    minute BIGINT NOT NULL,
    requests BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    latency TEXT NOT NULL,
    PRIMARY KEY (minute, node)
);
