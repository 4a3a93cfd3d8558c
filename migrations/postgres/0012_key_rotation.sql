-- Signing key rotation: from when a key signs new tokens, and when it stops
-- verifying (it is deleted then). NULL signs_from: since created_at.
ALTER TABLE signing_keys ADD COLUMN signs_from BIGINT;
ALTER TABLE signing_keys ADD COLUMN retire_at BIGINT;
