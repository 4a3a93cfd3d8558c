"""The async client, written by hand; `generated/sync/` is made from it by scripts/unasync.py."""  # unasync: skip
