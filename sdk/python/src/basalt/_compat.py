"""The few things that differ between the async source and the sync copy generated from it:
locks, sleeping and reading an upload's body. `scripts/unasync.py` maps each `Async*` / `async_*`
name here to its sync twin."""

from __future__ import annotations

import asyncio
import inspect
import os
import threading
import time
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol, Union

CHUNK = 256 * 1024

class AsyncReadable(Protocol):
    """A file whose `read` is awaited (aiofiles and the like)."""

    def read(self, n: int = -1, /) -> Awaitable[bytes]: ...


#: What `bucket.upload` takes: bytes, text, a binary file, a `pathlib.Path`, or an iterable of bytes.
UploadBody = Union[bytes, bytearray, memoryview, str, Path, IO[bytes], Iterable[bytes]]
#: What `AsyncBucket.upload` takes: also an async iterable of bytes, or a file with an async `read`.
AsyncUploadBody = Union[UploadBody, AsyncIterable[bytes], AsyncReadable]
Progress = Callable[[int, int | None], None]


class AsyncLock:
    """Task-safe mutual exclusion: one asyncio.Lock per event loop, so a client may serve several
    loops in turn (each `asyncio.run`)."""

    _shared: weakref.WeakKeyDictionary[Any, dict[str, AsyncLock]] = weakref.WeakKeyDictionary()
    _guard = threading.Lock()

    def __init__(self) -> None:
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()

    @classmethod
    def shared(cls, owner: Any, key: str) -> AsyncLock:
        """The one lock of `(owner, key)` in this process (a new one when `owner` takes no weak reference)."""
        with cls._guard:
            try:
                by_key = cls._shared.setdefault(owner, {})
            except TypeError:
                return cls()
            return by_key.setdefault(key, cls())

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._guard:
            lock = self._locks.get(loop)
            if lock is None:
                lock = self._locks[loop] = asyncio.Lock()
            return lock

    async def __aenter__(self) -> None:
        await self._lock().acquire()

    async def __aexit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self._lock().release()


class Lock:
    """Thread-safe mutual exclusion."""

    _shared: weakref.WeakKeyDictionary[Any, dict[str, Lock]] = weakref.WeakKeyDictionary()
    _guard = threading.Lock()

    def __init__(self) -> None:
        self._lock = threading.Lock()

    @classmethod
    def shared(cls, owner: Any, key: str) -> Lock:
        """The one lock of `(owner, key)` in this process (a new one when `owner` takes no weak reference)."""
        with cls._guard:
            try:
                by_key = cls._shared.setdefault(owner, {})
            except TypeError:
                return cls()
            return by_key.setdefault(key, cls())

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self._lock.release()


async def async_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def sync_sleep(seconds: float) -> None:
    time.sleep(seconds)


def body_size(body: Any) -> int | None:
    """The length of a body when it can be known without reading it."""
    if isinstance(body, (bytes, bytearray)):
        return len(body)
    if isinstance(body, memoryview):
        return body.nbytes
    if isinstance(body, str):
        return len(body.encode())
    if isinstance(body, Path):
        return body.stat().st_size
    fileno = getattr(body, "fileno", None)
    tell = getattr(body, "tell", None)
    if callable(fileno) and callable(tell):
        try:
            st = os.fstat(fileno())
            pos = tell()
            if isinstance(pos, int) and st.st_size >= pos and os.path.isfile(getattr(body, "name", "")):
                return int(st.st_size - pos)
        except (OSError, ValueError, TypeError):
            return None
    return None


def _bytes_chunks(data: bytes | bytearray | memoryview) -> Iterator[bytes]:
    view = memoryview(data).cast("B")
    for i in range(0, len(view), CHUNK):
        yield bytes(view[i : i + CHUNK])


def iter_upload(body: Any, total: int | None, progress: Progress | None) -> Iterator[bytes]:
    """The body in chunks, never whole (a file larger than memory streams)."""
    loaded = 0

    def chunks() -> Iterator[bytes]:
        if isinstance(body, str):
            yield from _bytes_chunks(body.encode())
        elif isinstance(body, (bytes, bytearray, memoryview)):
            yield from _bytes_chunks(body)
        elif isinstance(body, Path):
            with body.open("rb") as f:
                while chunk := f.read(CHUNK):
                    yield chunk
        elif callable(getattr(body, "read", None)):
            while True:
                chunk = body.read(CHUNK)
                if inspect.isawaitable(chunk):
                    raise TypeError("an async file needs AsyncClient")
                if not chunk:
                    break
                yield chunk.encode() if isinstance(chunk, str) else bytes(chunk)
        elif isinstance(body, Iterable):
            for chunk in body:
                yield chunk.encode() if isinstance(chunk, str) else bytes(chunk)
        else:
            raise TypeError(f"cannot upload a {type(body).__name__}")

    for chunk in chunks():
        loaded += len(chunk)
        if progress is not None:
            progress(loaded, total)
        yield chunk


async def aiter_upload(body: Any, total: int | None, progress: Progress | None) -> AsyncIterator[bytes]:
    """`iter_upload` for AsyncClient: also takes async iterables and files with an async `read`."""
    if isinstance(body, AsyncIterable):
        loaded = 0
        async for chunk in body:
            data = chunk.encode() if isinstance(chunk, str) else bytes(chunk)
            loaded += len(data)
            if progress is not None:
                progress(loaded, total)
            yield data
        return
    read = getattr(body, "read", None)
    if callable(read) and not isinstance(body, (bytes, bytearray, memoryview, str, Path)):
        loaded = 0
        while True:
            chunk = read(CHUNK)
            if inspect.isawaitable(chunk):
                chunk = await chunk
            if not chunk:
                break
            data = chunk.encode() if isinstance(chunk, str) else bytes(chunk)
            loaded += len(data)
            if progress is not None:
                progress(loaded, total)
            yield data
            await asyncio.sleep(0)
        return
    for chunk in iter_upload(body, total, progress):
        yield chunk
        await asyncio.sleep(0)
