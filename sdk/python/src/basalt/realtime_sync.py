"""Realtime for the sync `Client`: the async implementation (`realtime.py`) run on an event loop
in a thread of its own. Callbacks (`on`, `on_status`, `on_change`) run on that thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Generic, Literal, TypeVar, overload

from ._core import Codec
from .models import Document, Filter, SubscriptionEvent
from .realtime import AsyncChannel, AsyncLiveQuery, AsyncRealtime, AsyncSubscription, RealtimeStatus

__all__ = ["Channel", "LiveQuery", "Realtime", "Subscription"]

T = TypeVar("T")
R = TypeVar("R")


class _LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="basalt-realtime", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, R], timeout: float | None = None) -> R:
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return fut.result(timeout)
        except BaseException:
            fut.cancel()
            raise

    def call(self, fn: Callable[[], Any]) -> None:
        self.loop.call_soon_threadsafe(fn)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self.loop.close()


class Subscription(Generic[T]):
    """Events of one subscription: `for event in sub` blocks for each (snapshot, change, reset)."""

    id: str

    def __init__(self, thread: _LoopThread, sub: AsyncSubscription[T]) -> None:
        self._thread = thread
        self._sub = sub
        self.id = sub.id

    def ready(self, timeout: float | None = 30.0) -> None:
        """Returns once the server has registered the subscription; raises if it refused it."""
        self._thread.run(self._sub.ready(), timeout)

    def __iter__(self) -> Subscription[T]:
        return self

    def __next__(self) -> SubscriptionEvent[T]:
        ok, ev = self._thread.run(self._next(None))
        if not ok:
            raise StopIteration
        assert ev is not None
        return ev

    def next(self, timeout: float | None = None) -> SubscriptionEvent[T]:
        """The next event, waiting at most `timeout` seconds (TimeoutError then)."""
        ok, ev = self._thread.run(self._next(timeout))
        if not ok:
            raise StopIteration
        assert ev is not None
        return ev

    async def _next(self, timeout: float | None) -> tuple[bool, SubscriptionEvent[T] | None]:
        try:
            return True, await self._sub.next(timeout)
        except StopAsyncIteration:
            return False, None

    def unsubscribe(self) -> None:
        self._thread.call(self._sub.unsubscribe)

    def close(self) -> None:
        self.unsubscribe()

    def __enter__(self) -> Subscription[T]:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.unsubscribe()


class LiveQuery(Generic[T]):
    """Documents matching a filter, kept current by the realtime thread: `documents`."""

    def __init__(self, thread: _LoopThread, live: AsyncLiveQuery[T]) -> None:
        self._thread = thread
        self._live = live

    @property
    def documents(self) -> list[Document[T]]:
        return list(self._live.documents)

    def ready(self, timeout: float | None = 30.0) -> None:
        self._thread.run(self._live.ready(), timeout)

    def on_change(self, cb: Callable[[list[Document[T]], SubscriptionEvent[T]], None]) -> Callable[[], None]:
        return self._live.on_change(cb)

    def close(self) -> None:
        self._thread.call(self._live.close)


class Channel:
    """A broadcast channel with presence; `join`, `broadcast` and `leave` block until done."""

    name: str

    def __init__(self, thread: _LoopThread, channel: AsyncChannel) -> None:
        self._thread = thread
        self._ch = channel
        self.name = channel.name

    @property
    def presence(self) -> dict[str, Any]:
        return dict(self._ch.presence)

    @property
    def member_id(self) -> str | None:
        return self._ch.member_id

    def join(self, *, presence: Any = None, timeout: float | None = 30.0) -> None:
        self._thread.run(self._ch.join(presence=presence), timeout)

    def on(self, event: Literal["broadcast", "presence"], cb: Callable[[Any], None]) -> Callable[[], None]:
        return self._ch.on(event, cb)

    def broadcast(self, event: str, payload: Any = None) -> None:
        self._thread.run(self._ch.broadcast(event, payload), 30.0)

    def leave(self) -> None:
        self._thread.run(self._ch.leave(), 30.0)


class Realtime:
    """`client.realtime` of the sync `Client`: the same socket logic as `AsyncClient`'s, on a thread."""

    def __init__(
        self,
        url: str,
        token: Callable[[], str | None],
        refresh_due_in: Callable[[], float | None] | None = None,
    ) -> None:
        self._url = url
        self._token = token
        self._refresh_due_in = refresh_due_in
        self._lock = threading.Lock()
        self._thread: _LoopThread | None = None
        self._rt: AsyncRealtime | None = None
        self._channels: dict[str, Channel] = {}
        self._status_cbs: list[Callable[[RealtimeStatus], None]] = []

    def _started(self) -> tuple[_LoopThread, AsyncRealtime]:
        with self._lock:
            if self._thread is None or self._rt is None:
                thread = _LoopThread()

                async def token() -> str | None:
                    return await asyncio.to_thread(self._token)

                async def make() -> AsyncRealtime:
                    return AsyncRealtime(self._url, token, self._refresh_due_in)

                rt = thread.run(make())
                for cb in self._status_cbs:
                    rt.on_status(cb)
                self._thread, self._rt = thread, rt
            return self._thread, self._rt

    @property
    def status(self) -> RealtimeStatus:
        return self._rt.status if self._rt is not None else "closed"

    def on_status(self, cb: Callable[[RealtimeStatus], None]) -> Callable[[], None]:
        _, rt = self._started()
        return rt.on_status(cb)

    @overload
    def subscribe(
        self,
        collection: str,
        *,
        where: Filter | None = None,
        doc_id: str | None = None,
        snapshot: bool = False,
        codec: None = None,
    ) -> Subscription[dict[str, Any]]: ...

    @overload
    def subscribe(
        self,
        collection: str,
        *,
        where: Filter | None = None,
        doc_id: str | None = None,
        snapshot: bool = False,
        codec: Codec[T],
    ) -> Subscription[T]: ...

    def subscribe(
        self,
        collection: str,
        *,
        where: Filter | None = None,
        doc_id: str | None = None,
        snapshot: bool = False,
        codec: Codec[Any] | None = None,
    ) -> Subscription[Any]:
        """Watches documents of `collection` (`"*"`: every collection, for service keys and admins)."""
        thread, rt = self._started()

        async def make() -> AsyncSubscription[Any]:
            return rt.subscribe(collection, where=where, doc_id=doc_id, snapshot=snapshot, codec=codec)

        return Subscription(thread, thread.run(make()))

    def live(
        self, collection: str, *, where: Filter | None = None, doc_id: str | None = None, codec: Codec[T] | None = None
    ) -> LiveQuery[T]:
        thread, rt = self._started()

        async def make() -> AsyncLiveQuery[T]:
            return rt.live(collection, where=where, doc_id=doc_id, codec=codec)

        return LiveQuery(thread, thread.run(make()))

    def channel(self, name: str) -> Channel:
        thread, rt = self._started()
        ch = self._channels.get(name)
        if ch is None or rt._channels.get(name) is not ch._ch:

            async def make() -> AsyncChannel:
                return rt.channel(name)

            ch = Channel(thread, thread.run(make()))
            self._channels[name] = ch
        return ch

    def send_token(self, token: str | None) -> None:
        if self._rt is not None:
            self._rt.send_token(token)

    def reconnect(self) -> None:
        if self._rt is not None:
            self._rt.reconnect()

    def close(self) -> None:
        with self._lock:
            thread, rt = self._thread, self._rt
            self._thread = self._rt = None
        if thread is not None and rt is not None:
            try:
                thread.run(rt.aclose(), 10)
            finally:
                thread.stop()
