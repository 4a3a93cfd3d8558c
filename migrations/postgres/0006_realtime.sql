-- Realtime: an update's change also carries the document as it was, so a
-- subscriber can tell a document entering its filter from one leaving it.
ALTER TABLE changes ADD COLUMN previous TEXT;

-- Channel rules, per channel pattern (`room:*`).
CREATE TABLE channel_rules (
    pattern TEXT PRIMARY KEY,
    join_rule TEXT,
    broadcast_rule TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
