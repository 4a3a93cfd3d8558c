"""The async client: the source `generated/sync/` is generated from (scripts/unasync.py)."""
