"""Realtime on one node (SQLite): subscriptions, live queries and channels."""

from __future__ import annotations

import pytest

from basalt import AsyncClient, BasaltError, BroadcastEvent, ChangeEvent, PresenceEvent, SnapshotEvent
from tests.aio.conftest import ClientFactory
from tests.helpers import PASSWORD, async_wait_for, unique, unique_email


async def test_snapshot_then_changes_in_order(async_user: AsyncClient) -> None:
    posts = async_user.collection("posts")
    group = unique("rt")
    pre = await posts.create({"group": group, "n": 0})
    async with posts.subscribe(where=[("group", "==", group)], snapshot=True) as sub:
        await sub.ready()
        first = await sub.next(timeout=10)
        assert isinstance(first, SnapshotEvent) and [d.id for d in first.documents] == [pre.id]
        assert first.type == "snapshot"
        d = await posts.create({"group": group, "n": 1})
        await posts.update(d.id, data={"n": 2})
        await posts.update(d.id, data={"group": "elsewhere"})  # leaves the filter: a delete
        await posts.delete(pre.id)
        evs = [await sub.next(timeout=10) for _ in range(4)]
        assert all(isinstance(e, ChangeEvent) and e.type == "change" for e in evs)
        got = [(e.op, e.document.id, e.document.data["n"]) for e in evs if isinstance(e, ChangeEvent)]
        assert got == [("create", d.id, 1), ("update", d.id, 2), ("delete", d.id, 2), ("delete", pre.id, 0)]
        seqs = [e.seq for e in evs if isinstance(e, ChangeEvent)]
        assert seqs == sorted(seqs) and len(set(seqs)) == 4
    assert async_user.realtime.status == "open"


async def test_one_document_and_unsubscribe(async_user: AsyncClient) -> None:
    posts = async_user.collection("posts")
    doc_id = unique("one")
    sub = posts.subscribe(id=doc_id)
    await sub.ready()
    await posts.create({"n": 1}, id=doc_id)
    await posts.create({"n": 1})  # another document: not delivered
    await posts.update(doc_id, increment={"n": 1})
    a = await sub.next(timeout=10)
    b = await sub.next(timeout=10)
    assert isinstance(a, ChangeEvent) and a.op == "create" and a.document.id == doc_id
    assert isinstance(b, ChangeEvent) and b.op == "update" and b.document.data == {"n": 2}
    sub.unsubscribe()
    with pytest.raises(StopAsyncIteration):
        await sub.next(timeout=5)


async def test_refused_subscription_raises(async_user: AsyncClient) -> None:
    sub = async_user.collection("locked").subscribe()
    with pytest.raises(BasaltError) as e:
        await sub.ready()
    assert e.value.code == "permission_denied"
    with pytest.raises(BasaltError) as e:
        await sub.next(timeout=5)
    assert e.value.code == "permission_denied"
    bad = async_user.collection("posts").subscribe(where=[("n", "~~", 1)])
    with pytest.raises(BasaltError) as e:
        await bad.next(timeout=5)
    assert e.value.code == "invalid_argument"
    missing = async_user.collection("no_such_collection").subscribe()
    with pytest.raises(BasaltError) as e:
        await missing.next(timeout=5)
    assert e.value.code == "not_found"


async def test_rules_filter_changes(async_user: AsyncClient, async_clients: ClientFactory) -> None:
    other = async_clients()
    await other.auth.sign_up(email=unique_email("other"), password=PASSWORD)
    uid = async_user.auth.user.id if async_user.auth.user else ""
    oid = other.auth.user.id if other.auth.user else ""
    sub = async_user.collection("notes").subscribe()
    await sub.ready()
    await other.collection("notes").create({"owner": oid, "text": "not yours"})
    mine = await async_user.collection("notes").create({"owner": uid, "text": "yours"})
    e = await sub.next(timeout=10)
    assert isinstance(e, ChangeEvent) and e.document.id == mine.id
    sub.unsubscribe()


async def test_live_query(async_user: AsyncClient) -> None:
    posts = async_user.collection("posts")
    group = unique("live")
    a = await posts.create({"group": group, "n": 1})
    live = posts.live(where=[("group", "==", group)])
    await live.ready()
    assert [d.id for d in live.documents] == [a.id]
    calls: list[int] = []
    live.on_change(lambda docs, ev: calls.append(len(docs)))
    b = await posts.create({"group": group, "n": 2})
    await posts.delete(a.id)
    await async_wait_for(lambda: [d.id for d in live.documents] == [b.id], 10, "live documents")
    assert calls[-1] == 1
    live.close()


async def test_channel_presence_and_broadcast(async_user: AsyncClient, async_clients: ClientFactory) -> None:
    bo = async_clients()
    await bo.auth.sign_up(email=unique_email("bo"), password=PASSWORD)
    name = f"room:{unique()}"
    room_a = async_user.channel(name)
    room_b = bo.channel(name)
    got: list[BroadcastEvent] = []
    presence_b: list[PresenceEvent] = []
    room_b.on("broadcast", got.append)
    room_b.on("presence", presence_b.append)
    await room_b.join(presence={"name": "Bo"})
    await room_a.join(presence={"name": "Ada"})
    assert room_a.member_id and room_a.presence[room_a.member_id] == {"name": "Ada"}
    await async_wait_for(lambda: len(room_b.presence) == 2, 10, "presence on B")
    assert any(room_a.member_id in p.joins for p in presence_b)
    await room_a.broadcast("wave", {"x": 1})
    await async_wait_for(lambda: len(got) == 1, 10, "broadcast")
    assert got[0].event == "wave" and got[0].payload == {"x": 1} and got[0].sender == room_a.member_id
    await room_a.join(presence={"name": "Ada", "typing": True})
    await async_wait_for(
        lambda: room_b.presence.get(room_a.member_id or "") == {"name": "Ada", "typing": True}, 10, "presence update"
    )
    await room_a.leave()
    await async_wait_for(lambda: len(room_b.presence) == 1, 10, "leave seen by B")
    with pytest.raises(BasaltError) as e:
        await room_a.broadcast("wave", {})
    assert e.value.code == "failed_precondition"


async def test_anonymous_may_not_join(async_clients: ClientFactory) -> None:
    anon = async_clients()
    with pytest.raises(BasaltError) as e:
        await anon.channel(f"room:{unique()}").join()
    assert e.value.code in ("permission_denied", "unauthenticated")


async def test_sign_out_reconnects_as_anonymous(async_user: AsyncClient, async_service: AsyncClient) -> None:
    statuses: list[str] = []
    async_user.realtime.on_status(statuses.append)
    group = unique("so")
    sub = async_user.collection("posts").subscribe(where=[("group", "==", group)])
    await sub.ready()
    await async_service.collection("posts").create({"group": group, "n": 1})
    first = await sub.next(timeout=10)
    assert isinstance(first, ChangeEvent) and first.document.data["n"] == 1
    await async_user.auth.sign_out()
    await async_wait_for(lambda: "reconnecting" in statuses and statuses[-1] == "open", 10, "reconnected")
    # Anonymous now: the read rule (auth != ()) lets nothing through.
    await async_service.collection("posts").create({"group": group, "n": 2})
    with pytest.raises(TimeoutError):
        await sub.next(timeout=1.5)
    sub.unsubscribe()


async def test_service_key_watches_every_collection(async_service: AsyncClient) -> None:
    sub = async_service.realtime.subscribe("*")
    await sub.ready()
    await async_service.collection("posts").create({"w": 1})
    await async_service.collection("locked").create({"w": 2})
    a = await sub.next(timeout=10)
    b = await sub.next(timeout=10)
    assert isinstance(a, ChangeEvent) and isinstance(b, ChangeEvent)
    assert (a.document.collection, b.document.collection) == ("posts", "locked")
    sub.unsubscribe()
