"""Realtime, async-first: one WebSocket per client, reconnecting by itself and resuming every
subscription from the last `seq` it saw. `Client` runs this same code on a thread of its own
(`realtime_sync.py`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Generic, Literal, TypeVar, overload
from urllib.parse import quote

import websockets
from websockets.asyncio.client import ClientConnection, connect

from ._core import Codec, where_wire
from .errors import BasaltError
from .models import (
    BroadcastEvent,
    ChangeEvent,
    Document,
    Filter,
    PresenceEvent,
    ResetEvent,
    SnapshotEvent,
    SubscriptionEvent,
)

__all__ = ["AsyncChannel", "AsyncLiveQuery", "AsyncRealtime", "AsyncSubscription", "RealtimeStatus"]

log = logging.getLogger("basalt.realtime")

T = TypeVar("T")
RealtimeStatus = Literal["connecting", "open", "reconnecting", "closed"]
_END = object()


def _rt_error(m: dict[str, Any]) -> BasaltError:
    return BasaltError(
        status=0, code=str(m.get("code") or "internal"), message=str(m.get("message") or "realtime error")
    )


@dataclass(eq=False)
class _Sub:
    id: str
    collection: str
    doc_id: str | None
    where: Any
    want_snapshot: bool
    codec: Codec[Any]
    sink: Callable[[Any], None]
    last_seq: int | None = None
    resyncing: bool = False
    #: A snapshot was asked for and has not come yet (positions before it are not ours).
    awaiting_snapshot: bool = False
    #: The subscriber has had a snapshot or a change (so a later snapshot is a reset).
    delivered: bool = False
    #: The server has confirmed this subscription at least once.
    was_live: bool = False
    ready: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class AsyncSubscription(Generic[T]):
    """Events of one subscription: `async for event in sub` (snapshot, change, reset).

    The iteration raises BasaltError if the server refuses the subscription. `unsubscribe()` (or
    leaving `async with`) ends it.
    """

    id: str

    def __init__(self, rt: AsyncRealtime, state: _Sub) -> None:
        self._rt = rt
        self._state = state
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self.id = state.id
        self._done = False

    def _push(self, item: Any) -> None:
        self._queue.put_nowait(item)

    async def ready(self) -> None:
        """Returns once the server has registered the subscription; raises if it refused it."""
        await asyncio.shield(self._state.ready)

    def __aiter__(self) -> AsyncSubscription[T]:
        return self

    async def __anext__(self) -> SubscriptionEvent[T]:
        if self._done and self._queue.empty():
            raise StopAsyncIteration
        item = await self._queue.get()
        if item is _END:
            self._done = True
            raise StopAsyncIteration
        if isinstance(item, BasaltError):
            self._done = True
            raise item
        ev: SubscriptionEvent[T] = item
        return ev

    async def next(self, timeout: float | None = None) -> SubscriptionEvent[T]:
        """The next event, waiting at most `timeout` seconds (TimeoutError then)."""
        try:
            return await asyncio.wait_for(self.__anext__(), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"no event within {timeout} s") from None

    def unsubscribe(self) -> None:
        if not self._done:
            self._done = True
            self._rt._unsubscribe(self._state.id)
            self._queue.put_nowait(_END)

    async def aclose(self) -> None:
        self.unsubscribe()

    async def __aenter__(self) -> AsyncSubscription[T]:
        return self

    async def __aexit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.unsubscribe()


class AsyncLiveQuery(Generic[T]):
    """Documents matching a filter, kept current: `documents` (ordered by id)."""

    documents: list[Document[T]]

    def __init__(self, rt: AsyncRealtime, collection: str, where: Any, doc_id: str | None, codec: Codec[T]) -> None:
        self.documents: list[Document[T]] = []
        self._map: dict[str, Document[T]] = {}
        self._listeners: list[Callable[[list[Document[T]], SubscriptionEvent[T]], None]] = []
        self._error: BasaltError | None = None
        self._first = asyncio.Event()
        self._sub: AsyncSubscription[T] = rt.subscribe(
            collection, where=where, doc_id=doc_id, snapshot=True, codec=codec, _sink=self._apply
        )

    async def ready(self) -> None:
        """Returns once the first snapshot is in `documents`."""
        await self._sub.ready()
        await self._first.wait()

    def on_change(self, cb: Callable[[list[Document[T]], SubscriptionEvent[T]], None]) -> Callable[[], None]:
        """`cb(documents, event)` after every snapshot, change or reset."""
        self._listeners.append(cb)
        return lambda: self._listeners.remove(cb) if cb in self._listeners else None

    def close(self) -> None:
        self._sub.unsubscribe()
        self._listeners.clear()

    def _apply(self, event: Any) -> None:
        if isinstance(event, BasaltError):
            self._error = event
            return
        if isinstance(event, ChangeEvent):
            if event.op == "delete":
                self._map.pop(event.document.id, None)
            else:
                self._map[event.document.id] = event.document
        elif isinstance(event, (SnapshotEvent, ResetEvent)):
            self._map = {d.id: d for d in event.documents}
        else:
            return
        self.documents = [self._map[k] for k in sorted(self._map)]
        self._first.set()
        for cb in list(self._listeners):
            try:
                cb(self.documents, event)
            except Exception:
                log.exception("a live query listener raised")


class AsyncChannel:
    """A broadcast channel with presence: `client.channel("room:1")`."""

    name: str
    presence: dict[str, Any]
    member_id: str | None

    def __init__(self, rt: AsyncRealtime, name: str) -> None:
        self._rt = rt
        self.name = name
        #: member id -> presence state, this member included.
        self.presence: dict[str, Any] = {}
        self.member_id: str | None = None
        self._state: Literal["idle", "joining", "joined"] = "idle"
        self._my_presence: Any = None
        self._has_presence = False
        self._waiters: list[asyncio.Future[None]] = []
        self._leave_waiters: list[asyncio.Future[None]] = []
        self._broadcast: list[Callable[[BroadcastEvent], None]] = []
        self._presence_cbs: list[Callable[[PresenceEvent], None]] = []

    async def join(self, *, presence: Any = None) -> None:
        """Joins (or, when joined, updates this member's presence); returns when the server confirms."""
        if presence is not None:
            self._my_presence = presence
            self._has_presence = True
        if self._state == "idle":
            self._state = "joining"
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        self._rt._channels.setdefault(self.name, self)
        if self._rt._is_open():
            await self._send_join()
        else:
            self._rt._ensure()
        await fut

    def on(self, event: Literal["broadcast", "presence"], cb: Callable[[Any], None]) -> Callable[[], None]:
        """`on("broadcast", cb)` gets BroadcastEvent; `on("presence", cb)` gets PresenceEvent."""
        target: list[Any] = self._broadcast if event == "broadcast" else self._presence_cbs
        target.append(cb)
        return lambda: target.remove(cb) if cb in target else None

    async def broadcast(self, event: str, payload: Any = None) -> None:
        """Sends to every other member connected now; nothing is stored or echoed."""
        if self._state != "joined" or not self._rt._is_open():
            raise BasaltError(status=0, code="failed_precondition", message=f"not joined to {self.name} right now")
        await self._rt._send({"type": "broadcast", "channel": self.name, "event": event, "payload": payload})

    async def leave(self) -> None:
        was = self._state != "idle"
        self._state = "idle"
        self._my_presence = None
        self._has_presence = False
        if was and self._rt._is_open():
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._leave_waiters.append(fut)
            await self._rt._send({"type": "leave", "channel": self.name})
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(fut, 10)
        self.presence = {}
        self.member_id = None
        self._rt._channels.pop(self.name, None)

    async def _rejoin(self) -> None:
        if self._state != "idle":
            await self._send_join()

    async def _send_join(self) -> None:
        msg: dict[str, Any] = {"type": "join", "channel": self.name}
        if self._has_presence:
            msg["presence"] = self._my_presence
        await self._rt._send(msg)

    def _joined(self, m: dict[str, Any]) -> None:
        before = self.presence
        after = dict(m.get("presence") or {})
        rejoin = self._state == "joined"
        self._state = "joined"
        if isinstance(m.get("member_id"), str):
            self.member_id = m["member_id"]
        self.presence = after
        joins = {k: v for k, v in after.items() if k not in before or before[k] != v}
        leaves = {k: v for k, v in before.items() if k not in after}
        if rejoin or before or joins:
            self._emit(PresenceEvent(joins=joins, leaves=leaves))
        for w in self._waiters:
            if not w.done():
                w.set_result(None)
        self._waiters.clear()

    def _presence(self, m: dict[str, Any]) -> None:
        joins = dict(m.get("joins") or {})
        leaves = dict(m.get("leaves") or {})
        for k in leaves:
            self.presence.pop(k, None)
        self.presence.update(joins)
        self._emit(PresenceEvent(joins=joins, leaves=leaves))

    def _broadcast_in(self, m: dict[str, Any]) -> None:
        e = BroadcastEvent(event=str(m.get("event")), payload=m.get("payload"), sender=str(m.get("from")))
        for cb in list(self._broadcast):
            try:
                cb(e)
            except Exception:
                log.exception("a broadcast listener raised")

    def _left(self) -> None:
        for w in self._leave_waiters:
            if not w.done():
                w.set_result(None)
        self._leave_waiters.clear()

    def _failed(self, e: BasaltError) -> bool:
        """A refusal of a join; True when this channel was waiting for one."""
        if not self._waiters:
            return False
        if self._state == "joining":
            self._state = "idle"
            self._rt._channels.pop(self.name, None)
        for w in self._waiters:
            if not w.done():
                w.set_exception(e)
        self._waiters.clear()
        return True

    def _emit(self, e: PresenceEvent) -> None:
        for cb in list(self._presence_cbs):
            try:
                cb(e)
            except Exception:
                log.exception("a presence listener raised")


TokenSource = Callable[[], Awaitable[str | None]]


class AsyncRealtime:
    """`client.realtime`: one socket per client, opened on first use, reconnecting by itself.

    After a lost connection it reconnects with jittered exponential backoff, resumes each
    subscription from the last `seq` it saw (`resume_from`), and only when the server answers
    `resync_required` takes a fresh snapshot, delivered as a `reset` event. A subscriber never
    sees a change twice and never misses one. Channels re-join with their last presence.
    """

    def __init__(
        self,
        url: str,
        token: TokenSource,
        refresh_due_in: Callable[[], float | None] | None = None,
        *,
        max_backoff: float = 10.0,
    ) -> None:
        self._url = ("ws" + url[4:] if url.startswith("http") else url) + "/v1/realtime"
        self._token = token
        self._refresh_due_in = refresh_due_in
        self._max_backoff = max_backoff
        self._status: RealtimeStatus = "closed"
        self._status_listeners: list[Callable[[RealtimeStatus], None]] = []
        self._subs: dict[str, _Sub] = {}
        self._channels: dict[str, AsyncChannel] = {}
        self._next_id = 1
        self._attempt = 0
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._shut = False
        self._wake: asyncio.Event | None = None
        #: Whether this server's `subscribed` carries `seq` (None until the first one is seen).
        self._seq_in_subscribed: bool | None = None
        self._send_lock: asyncio.Lock | None = None
        self._pending: set[asyncio.Task[None]] = set()

    # ---- public -----------------------------------------------------------------------------

    @property
    def status(self) -> RealtimeStatus:
        return self._status

    def on_status(self, cb: Callable[[RealtimeStatus], None]) -> Callable[[], None]:
        self._status_listeners.append(cb)
        return lambda: self._status_listeners.remove(cb) if cb in self._status_listeners else None

    @overload
    def subscribe(
        self,
        collection: str,
        *,
        where: Filter | None = None,
        doc_id: str | None = None,
        snapshot: bool = False,
        codec: None = None,
        _sink: Callable[[Any], None] | None = None,
    ) -> AsyncSubscription[dict[str, Any]]: ...

    @overload
    def subscribe(
        self,
        collection: str,
        *,
        where: Filter | None = None,
        doc_id: str | None = None,
        snapshot: bool = False,
        codec: Codec[T],
        _sink: Callable[[Any], None] | None = None,
    ) -> AsyncSubscription[T]: ...

    def subscribe(
        self,
        collection: str,
        *,
        where: Filter | None = None,
        doc_id: str | None = None,
        snapshot: bool = False,
        codec: Codec[Any] | None = None,
        _sink: Callable[[Any], None] | None = None,
    ) -> AsyncSubscription[Any]:
        """Watches documents of `collection` (`"*"`: every collection, for service keys and admins).

        Needs a running event loop."""
        loop = asyncio.get_running_loop()
        sid = f"s{self._next_id}"
        self._next_id += 1
        state = _Sub(
            id=sid,
            collection=collection,
            doc_id=doc_id,
            where=None if where is None else where_wire(where),
            want_snapshot=snapshot,
            codec=codec if codec is not None else Codec(None),
            sink=lambda _: None,
            ready=loop.create_future(),
        )
        sub: AsyncSubscription[Any] = AsyncSubscription(self, state)
        state.sink = _sink if _sink is not None else sub._push
        self._subs[sid] = state
        if self._is_open():
            self._spawn(self._send_subscribe(state))
        else:
            self._ensure()
        return sub

    def live(
        self, collection: str, *, where: Filter | None = None, doc_id: str | None = None, codec: Codec[T] | None = None
    ) -> AsyncLiveQuery[T]:
        return AsyncLiveQuery(self, collection, where, doc_id, codec if codec is not None else Codec(None))

    def channel(self, name: str) -> AsyncChannel:
        ch = self._channels.get(name)
        if ch is None:
            ch = AsyncChannel(self, name)
            self._channels[name] = ch
        return ch

    def send_token(self, token: str | None) -> None:
        """Sends a fresh access token on the open socket (after each refresh). Thread-safe."""
        if token and self._loop is not None and not self._shut:
            self._loop.call_soon_threadsafe(self._send_token_now, token)

    def reconnect(self) -> None:
        """Drops the socket and connects again at once (after a sign-out: as anonymous). Thread-safe."""
        if self._loop is not None and not self._shut:
            self._loop.call_soon_threadsafe(self._reconnect_now)

    async def aclose(self) -> None:
        """Closes the socket for good; subscriptions end and channels are left."""
        self._shut = True
        for s in list(self._subs.values()):
            s.sink(_END)
        self._subs.clear()
        self._channels.clear()
        ws = self._ws
        for task in (self._keeper, self._task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._ws = None
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        self._set_status("closed")

    # ---- internals --------------------------------------------------------------------------

    def _is_open(self) -> bool:
        return self._status == "open" and self._ws is not None

    def _spawn(self, coro: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await coro
            except Exception:
                log.debug("realtime send failed", exc_info=True)

        # Held until done: the loop keeps only weak references to its tasks.
        task = asyncio.get_running_loop().create_task(run())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _send_token_now(self, token: str) -> None:
        if self._is_open():
            self._spawn(self._send({"type": "auth", "token": token}))

    def _reconnect_now(self) -> None:
        ws = self._ws
        if ws is not None:
            self._spawn(ws.close(1000, "reconnect"))
        if self._wake is not None:
            self._wake.set()

    def _unsubscribe(self, sid: str) -> None:
        if self._subs.pop(sid, None) is not None and self._is_open():
            self._spawn(self._send({"type": "unsubscribe", "id": sid}))

    def _ensure(self) -> None:
        if self._task is not None and not self._task.done():
            return
        self._shut = False
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._send_lock = asyncio.Lock()
        self._set_status("connecting")
        self._task = self._loop.create_task(self._run())
        if self._refresh_due_in is not None:
            self._keeper = self._loop.create_task(self._keep_token())

    def _set_status(self, s: RealtimeStatus) -> None:
        if self._status == s:
            return
        self._status = s
        for cb in list(self._status_listeners):
            try:
                cb(s)
            except Exception:
                log.exception("a status listener raised")

    def _backoff(self) -> float:
        base: float = min(self._max_backoff, 0.25 * 2.0 ** min(self._attempt, 10))
        self._attempt += 1
        return base * (0.5 + random.random() * 0.5)

    async def _sleep_or_wake(self, delay: float) -> None:
        assert self._wake is not None
        try:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
        finally:
            self._wake.clear()

    async def _keep_token(self) -> None:
        """Refreshes the session before it expires while the socket lives (the new token is sent by
        the auth listener), so the socket never falls back to anonymous."""
        assert self._refresh_due_in is not None
        while not self._shut:
            due = self._refresh_due_in()
            if due is None:
                await asyncio.sleep(5.0)  # signed out, or a service key: look again later
                continue
            if due > 0:
                await asyncio.sleep(min(due, 30.0))
                continue
            try:
                await self._token()  # refreshes: the token is due
            except Exception:
                log.debug("token refresh for the socket failed", exc_info=True)
                await asyncio.sleep(1.0)
                continue
            if self._refresh_due_in() == 0.0:
                await asyncio.sleep(1.0)

    async def _run(self) -> None:
        while not self._shut:
            try:
                token = await self._token()
            except Exception:
                token = None
            url = self._url + (f"?token={quote(token, safe='')}" if token else "")
            try:
                ws = await connect(
                    url,
                    open_timeout=10,
                    close_timeout=2,
                    max_size=None,
                    max_queue=None,
                    ping_interval=20,
                    ping_timeout=20,
                )
            except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException) as e:
                log.debug("realtime connect failed: %s", e)
                self._set_status("reconnecting")
                await self._sleep_or_wake(self._backoff())
                continue
            self._ws = ws
            self._attempt = 0
            self._set_status("open")
            try:
                for s in list(self._subs.values()):
                    await self._send_subscribe(s)
                for ch in list(self._channels.values()):
                    await ch._rejoin()
                async for raw in ws:
                    try:
                        m = json.loads(raw)
                    except ValueError:
                        continue
                    if isinstance(m, dict) and isinstance(m.get("type"), str):
                        try:
                            await self._handle(m)
                        except (KeyError, TypeError, ValueError):
                            # A message this SDK cannot read: skipped, the socket goes on.
                            log.warning("realtime: could not read a %r message", m.get("type"), exc_info=True)
            except websockets.exceptions.ConnectionClosed:
                pass
            except OSError as e:
                log.debug("realtime socket failed: %s", e)
            finally:
                if self._ws is ws:
                    self._ws = None
            if self._shut:
                break
            self._set_status("reconnecting")
            await self._sleep_or_wake(self._backoff())
        self._set_status("closed")

    async def _send(self, msg: dict[str, Any]) -> None:
        ws = self._ws
        if ws is None:
            return
        assert self._send_lock is not None
        async with self._send_lock:
            await ws.send(json.dumps(msg, separators=(",", ":")))

    async def _send_subscribe(self, s: _Sub) -> None:
        msg: dict[str, Any] = {"type": "subscribe", "id": s.id, "collection": s.collection}
        if s.doc_id is not None:
            msg["doc_id"] = s.doc_id
        if s.where is not None:
            msg["where"] = s.where
        # Live before but no position known: what changed meanwhile is unknown, so the snapshot
        # replaces everything (reset).
        if s.last_seq is None and s.was_live:
            s.resyncing = True
        if s.last_seq is not None and not s.resyncing:
            msg["resume_from"] = s.last_seq
        elif s.want_snapshot or s.resyncing or self._seq_in_subscribed is False:
            msg["snapshot"] = True
        s.awaiting_snapshot = msg.get("snapshot") is True
        await self._send(msg)

    @staticmethod
    def _advance(s: _Sub, seq: Any) -> None:
        """Moves the resume position forward (never back, never past a snapshot still to come)."""
        if isinstance(seq, int) and not s.awaiting_snapshot and (s.last_seq is None or seq > s.last_seq):
            s.last_seq = seq

    async def _handle(self, m: dict[str, Any]) -> None:
        t = m["type"]
        if t == "subscribed":
            s = self._subs.get(str(m.get("id")))
            if s is None:
                return
            s.was_live = True
            if isinstance(m.get("seq"), int):
                # Every change after `seq` reaches this subscription: a position to resume from.
                self._seq_in_subscribed = True
                self._advance(s, m["seq"])
            elif self._seq_in_subscribed is None:
                self._seq_in_subscribed = False
            if not s.ready.done():
                s.ready.set_result(None)
        elif t == "checkpoint":
            # Nothing at or before `seq` is still to come for this subscription.
            s = self._subs.get(str(m.get("id")))
            if s is not None:
                self._advance(s, m.get("seq"))
        elif t == "snapshot":
            s = self._subs.get(str(m.get("id")))
            if s is None:
                return
            docs = [s.codec.document(d) for d in m.get("documents") or []]
            first = not s.delivered
            s.awaiting_snapshot = False
            s.delivered = True
            if isinstance(m.get("seq"), int):
                s.last_seq = m["seq"]
            if s.resyncing:
                s.resyncing = False
                s.sink(ResetEvent(documents=docs))
            elif first and s.want_snapshot:
                s.sink(SnapshotEvent(documents=docs))
            elif not first:
                s.sink(ResetEvent(documents=docs))
        elif t == "change":
            s = self._subs.get(str(m.get("id")))
            if s is None:
                return
            seq = m.get("seq")
            if isinstance(seq, int):
                if s.last_seq is not None and seq <= s.last_seq:
                    return  # already seen
                s.last_seq = seq
            s.delivered = True
            s.sink(ChangeEvent(op=m["op"], document=s.codec.document(m["document"]), seq=int(seq or 0)))
        elif t == "error":
            await self._handle_error(m)
        elif t == "joined":
            ch = self._channels.get(str(m.get("channel")))
            if ch is not None:
                ch._joined(m)
        elif t == "presence":
            ch = self._channels.get(str(m.get("channel")))
            if ch is not None:
                ch._presence(m)
        elif t == "broadcast":
            ch = self._channels.get(str(m.get("channel")))
            if ch is not None:
                ch._broadcast_in(m)
        elif t == "left":
            ch = self._channels.get(str(m.get("channel")))
            if ch is not None:
                ch._left()
        elif t in ("unsubscribed", "authenticated", "pong"):
            pass  # acknowledgements: nothing to do
        # A message type newer than this SDK is ignored.

    async def _handle_error(self, m: dict[str, Any]) -> None:
        sid = m.get("id")
        s = self._subs.get(str(sid)) if sid is not None else None
        if s is not None and m.get("code") == "resync_required":
            s.resyncing = True
            await self._send_subscribe(s)
            return
        if s is not None:
            del self._subs[s.id]
            err = _rt_error(m)
            if not s.ready.done():
                s.ready.set_exception(err)
                s.ready.exception()  # retrieved: a refusal nobody awaits is not logged as lost
            s.sink(err)
            return
        if m.get("code") == "slow_consumer":
            # The server closes the socket next; every subscription resumes from its position.
            return
        ch = self._channels.get(str(m.get("channel"))) if m.get("channel") else None
        if ch is not None:
            ch._failed(_rt_error(m))
            return
        # A refusal that names no channel: the channel waiting for an answer gets it.
        for c in list(self._channels.values()):
            if c._failed(_rt_error(m)):
                return
        if m.get("code") == "unauthenticated":
            log.info("realtime: %s", m.get("message"))
