"""Where a client keeps its session: in memory (the default), in a file, or your own."""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path
from typing import Protocol

__all__ = ["AuthStorage", "FileStorage", "MemoryStorage"]


class AuthStorage(Protocol):
    """Holds strings by key; the shape of a dict-like store. Calls come from any thread."""

    def get_item(self, key: str) -> str | None: ...

    def set_item(self, key: str, value: str) -> None: ...

    def remove_item(self, key: str) -> None: ...


class MemoryStorage:
    """A storage that lives as long as the process (the default)."""

    def __init__(self) -> None:
        self._items: dict[str, str] = {}
        self._lock = threading.Lock()

    def get_item(self, key: str) -> str | None:
        with self._lock:
            return self._items.get(key)

    def set_item(self, key: str, value: str) -> None:
        with self._lock:
            self._items[key] = value

    def remove_item(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)


class FileStorage:
    """One file per key in a directory (mode 0600), for scripts that should stay signed in."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self._dir = Path(directory)
        self._lock = threading.Lock()

    def _path(self, key: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
        return self._dir / f"{safe}.json"

    def get_item(self, key: str) -> str | None:
        try:
            return self._path(key).read_text("utf-8")
        except FileNotFoundError:
            return None

    def set_item(self, key: str, value: str) -> None:
        with self._lock:
            self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=self._dir, prefix=".basalt-")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(value)
            os.replace(tmp, self._path(key))

    def remove_item(self, key: str) -> None:
        with self._lock:
            try:
                self._path(key).unlink()
            except FileNotFoundError:
                pass
