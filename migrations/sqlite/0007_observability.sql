-- Admin roles: owner (everything), developer (all but admins and service
-- keys), viewer (reads only). Admins made before roles existed are owners.
ALTER TABLE admins ADD COLUMN role TEXT NOT NULL DEFAULT 'owner'
    CHECK (role IN ('owner', 'developer', 'viewer'));

-- Every change made by an admin, a service key or a server command, written
-- in the same transaction as the change. Never holds a secret.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    time INTEGER NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT,
    actor_name TEXT,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before_json TEXT,
    after_json TEXT
);
