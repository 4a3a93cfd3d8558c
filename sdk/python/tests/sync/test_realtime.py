# Generated from tests/aio/test_realtime.py by scripts/unasync.py: do not edit.
# Regenerate with `python scripts/unasync.py`.
"""Realtime on one node (SQLite): subscriptions, live queries and channels."""

from __future__ import annotations

import pytest

from basalt import Client, BasaltError, BroadcastEvent, ChangeEvent, PresenceEvent, SnapshotEvent
from tests.sync.conftest import ClientFactory
from tests.helpers import PASSWORD, sync_wait_for, unique, unique_email


def test_snapshot_then_changes_in_order(sync_user: Client) -> None:
    posts = sync_user.collection("posts")
    group = unique("rt")
    pre = posts.create({"group": group, "n": 0})
    with posts.subscribe(where=[("group", "==", group)], snapshot=True) as sub:
        sub.ready()
        first = sub.next(timeout=10)
        assert isinstance(first, SnapshotEvent) and [d.id for d in first.documents] == [pre.id]
        assert first.type == "snapshot"
        d = posts.create({"group": group, "n": 1})
        posts.update(d.id, data={"n": 2})
        posts.update(d.id, data={"group": "elsewhere"})  # leaves the filter: a delete
        posts.delete(pre.id)
        evs = [sub.next(timeout=10) for _ in range(4)]
        assert all(isinstance(e, ChangeEvent) and e.type == "change" for e in evs)
        got = [(e.op, e.document.id, e.document.data["n"]) for e in evs if isinstance(e, ChangeEvent)]
        assert got == [("create", d.id, 1), ("update", d.id, 2), ("delete", d.id, 2), ("delete", pre.id, 0)]
        seqs = [e.seq for e in evs if isinstance(e, ChangeEvent)]
        assert seqs == sorted(seqs) and len(set(seqs)) == 4
    assert sync_user.realtime.status == "open"


def test_one_document_and_unsubscribe(sync_user: Client) -> None:
    posts = sync_user.collection("posts")
    doc_id = unique("one")
    sub = posts.subscribe(id=doc_id)
    sub.ready()
    posts.create({"n": 1}, id=doc_id)
    posts.create({"n": 1})  # another document: not delivered
    posts.update(doc_id, increment={"n": 1})
    a = sub.next(timeout=10)
    b = sub.next(timeout=10)
    assert isinstance(a, ChangeEvent) and a.op == "create" and a.document.id == doc_id
    assert isinstance(b, ChangeEvent) and b.op == "update" and b.document.data == {"n": 2}
    sub.unsubscribe()
    with pytest.raises(StopIteration):
        sub.next(timeout=5)


def test_refused_subscription_raises(sync_user: Client) -> None:
    sub = sync_user.collection("locked").subscribe()
    with pytest.raises(BasaltError) as e:
        sub.ready()
    assert e.value.code == "permission_denied"
    with pytest.raises(BasaltError) as e:
        sub.next(timeout=5)
    assert e.value.code == "permission_denied"
    bad = sync_user.collection("posts").subscribe(where=[("n", "~~", 1)])
    with pytest.raises(BasaltError) as e:
        bad.next(timeout=5)
    assert e.value.code == "invalid_argument"
    missing = sync_user.collection("no_such_collection").subscribe()
    with pytest.raises(BasaltError) as e:
        missing.next(timeout=5)
    assert e.value.code == "not_found"


def test_rules_filter_changes(sync_user: Client, sync_clients: ClientFactory) -> None:
    other = sync_clients()
    other.auth.sign_up(email=unique_email("other"), password=PASSWORD)
    uid = sync_user.auth.user.id if sync_user.auth.user else ""
    oid = other.auth.user.id if other.auth.user else ""
    sub = sync_user.collection("notes").subscribe()
    sub.ready()
    other.collection("notes").create({"owner": oid, "text": "not yours"})
    mine = sync_user.collection("notes").create({"owner": uid, "text": "yours"})
    e = sub.next(timeout=10)
    assert isinstance(e, ChangeEvent) and e.document.id == mine.id
    sub.unsubscribe()


def test_live_query(sync_user: Client) -> None:
    posts = sync_user.collection("posts")
    group = unique("live")
    a = posts.create({"group": group, "n": 1})
    live = posts.live(where=[("group", "==", group)])
    live.ready()
    assert [d.id for d in live.documents] == [a.id]
    calls: list[int] = []
    live.on_change(lambda docs, ev: calls.append(len(docs)))
    b = posts.create({"group": group, "n": 2})
    posts.delete(a.id)
    sync_wait_for(lambda: [d.id for d in live.documents] == [b.id], 10, "live documents")
    assert calls[-1] == 1
    live.close()


def test_channel_presence_and_broadcast(sync_user: Client, sync_clients: ClientFactory) -> None:
    bo = sync_clients()
    bo.auth.sign_up(email=unique_email("bo"), password=PASSWORD)
    name = f"room:{unique()}"
    room_a = sync_user.channel(name)
    room_b = bo.channel(name)
    got: list[BroadcastEvent] = []
    presence_b: list[PresenceEvent] = []
    room_b.on("broadcast", got.append)
    room_b.on("presence", presence_b.append)
    room_b.join(presence={"name": "Bo"})
    room_a.join(presence={"name": "Ada"})
    assert room_a.member_id and room_a.presence[room_a.member_id] == {"name": "Ada"}
    sync_wait_for(lambda: len(room_b.presence) == 2, 10, "presence on B")
    assert any(room_a.member_id in p.joins for p in presence_b)
    room_a.broadcast("wave", {"x": 1})
    sync_wait_for(lambda: len(got) == 1, 10, "broadcast")
    assert got[0].event == "wave" and got[0].payload == {"x": 1} and got[0].sender == room_a.member_id
    room_a.join(presence={"name": "Ada", "typing": True})
    sync_wait_for(
        lambda: room_b.presence.get(room_a.member_id or "") == {"name": "Ada", "typing": True}, 10, "presence update"
    )
    room_a.leave()
    sync_wait_for(lambda: len(room_b.presence) == 1, 10, "leave seen by B")
    with pytest.raises(BasaltError) as e:
        room_a.broadcast("wave", {})
    assert e.value.code == "failed_precondition"


def test_anonymous_may_not_join(sync_clients: ClientFactory) -> None:
    anon = sync_clients()
    with pytest.raises(BasaltError) as e:
        anon.channel(f"room:{unique()}").join()
    assert e.value.code in ("permission_denied", "unauthenticated")


def test_sign_out_reconnects_as_anonymous(sync_user: Client, sync_service: Client) -> None:
    statuses: list[str] = []
    sync_user.realtime.on_status(statuses.append)
    group = unique("so")
    sub = sync_user.collection("posts").subscribe(where=[("group", "==", group)])
    sub.ready()
    sync_service.collection("posts").create({"group": group, "n": 1})
    first = sub.next(timeout=10)
    assert isinstance(first, ChangeEvent) and first.document.data["n"] == 1
    sync_user.auth.sign_out()
    sync_wait_for(lambda: "reconnecting" in statuses and statuses[-1] == "open", 10, "reconnected")
    # Anonymous now: the read rule (auth != ()) lets nothing through.
    sync_service.collection("posts").create({"group": group, "n": 2})
    with pytest.raises(TimeoutError):
        sub.next(timeout=1.5)
    sub.unsubscribe()


def test_service_key_watches_every_collection(sync_service: Client) -> None:
    sub = sync_service.realtime.subscribe("*")
    sub.ready()
    sync_service.collection("posts").create({"w": 1})
    sync_service.collection("locked").create({"w": 2})
    a = sub.next(timeout=10)
    b = sub.next(timeout=10)
    assert isinstance(a, ChangeEvent) and isinstance(b, ChangeEvent)
    assert (a.document.collection, b.document.collection) == ("posts", "locked")
    sub.unsubscribe()
