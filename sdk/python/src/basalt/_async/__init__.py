"""The async client: the source `_sync/` is generated from (scripts/unasync.py)."""
