# Generated from src/basalt/_async/__init__.py by scripts/unasync.py: do not edit.
# Regenerate with `python scripts/unasync.py`.
