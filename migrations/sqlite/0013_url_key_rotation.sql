-- Rotation of the keys the server keeps for itself (the key of signed file
-- URLs): from when a key signs, and when it stops verifying (it is deleted
-- then). NULL signs_from: since created_at; NULL retire_at: never.
ALTER TABLE server_secrets ADD COLUMN signs_from INTEGER;
ALTER TABLE server_secrets ADD COLUMN retire_at INTEGER;
