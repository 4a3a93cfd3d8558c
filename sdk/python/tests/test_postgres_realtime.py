"""Realtime on PostgreSQL with two `basalt serve` nodes on one database: resume through a proxy
that cuts the TCP connection in the middle of 500 writes, `reset` once the gap is past the
change retention, and channels across nodes. Skipped without PostgreSQL unless
BASALT_TEST_REQUIRE_POSTGRES=1 (CI), where an unreachable PostgreSQL fails."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from basalt import (
    AsyncClient,
    BroadcastEvent,
    ChangeEvent,
    Client,
    ResetEvent,
    SnapshotEvent,
    SubscriptionEvent,
)
from tests.helpers import (
    PASSWORD,
    REQUIRE_POSTGRES,
    Database,
    Proxy,
    Server,
    async_wait_for,
    create_database,
    postgres_problem,
    start_server,
    sync_wait_for,
    unique,
    unique_email,
)

PROBLEM = postgres_problem()
if PROBLEM and REQUIRE_POSTGRES:
    raise RuntimeError(f"BASALT_TEST_REQUIRE_POSTGRES=1 but {PROBLEM}")
pytestmark = pytest.mark.skipif(PROBLEM is not None, reason=PROBLEM or "")

# Nodes of one cluster share the public URL: it is the issuer of every token.
CLUSTER = ["--login-rate-limit", "0", "--public-url", "http://basalt-cluster.test"]
OPEN = {"read": "auth != ()", "create": "auth != ()", "update": "auth != ()", "delete": "auth != ()"}


@dataclass
class Cluster:
    db: Database
    a: Server
    b: Server


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    db = create_database()
    a = b = None
    try:
        a = start_server(CLUSTER, database_url=db.url)
        a.admin("POST", "/v1/db/collections", {"name": "feed", "rules": OPEN})
        b = start_server(CLUSTER, database_url=db.url, join_key=a.service_key)
        yield Cluster(db, a, b)
    finally:
        for s in (a, b):
            if s is not None:
                s.stop()
        db.drop()


@pytest.fixture
async def closing() -> AsyncIterator[list[AsyncClient]]:
    made: list[AsyncClient] = []
    yield made
    for c in made:
        await c.aclose()


def changes(events: list[SubscriptionEvent[Any]]) -> list[int]:
    return [int(e.document.data["n"]) for e in events if isinstance(e, ChangeEvent)]


async def test_two_nodes_share_one_database(cluster: Cluster) -> None:
    assert cluster.a.port != cluster.b.port
    names = [c["name"] for c in cluster.b.admin("GET", "/v1/db/collections")["collections"]]
    assert "feed" in names


async def test_resume_through_cuts_during_500_writes(cluster: Cluster, closing: list[AsyncClient]) -> None:
    """Two cuts in the middle of 500 writes, the second one moving the socket to the other node:
    exactly the 500 changes arrive, in order, none twice, and no reset."""
    proxy = Proxy(cluster.a.port)
    try:
        sub_client = AsyncClient(proxy.url)
        writer = AsyncClient(cluster.b.url, key=cluster.a.service_key)
        closing.extend([sub_client, writer])
        await sub_client.auth.sign_up(email=unique_email("resume"), password=PASSWORD)
        statuses: list[str] = []
        reopened = asyncio.Event()

        def on_status(status: str) -> None:
            statuses.append(status)
            if status == "open" and "reconnecting" in statuses:
                reopened.set()

        sub_client.realtime.on_status(on_status)
        group = unique("g")
        sub = sub_client.collection("feed").subscribe(where=[("group", "==", group)])
        await sub.ready()
        events: list[SubscriptionEvent[Any]] = []

        async def consume() -> None:
            async for ev in sub:
                events.append(ev)
                if len(changes(events)) >= 500:
                    return

        consumer = asyncio.create_task(consume())
        loop = asyncio.get_running_loop()
        feed = writer.collection("feed")
        for i in range(500):
            await feed.create({"group": group, "n": i})
            if i == 150:
                proxy.cut()
                loop.call_later(0.4, proxy.restore)
            if i == 350:
                # The first cut's reconnection is over before the second cut (on a busy
                # machine 200 writes can take less than it), so that each cut is its own.
                await asyncio.wait_for(reopened.wait(), 30)
                proxy.retarget(cluster.b.port)  # the next connection lands on node B
                proxy.cut()
                loop.call_later(0.4, proxy.restore)
        await asyncio.wait_for(consumer, 90)
        await asyncio.sleep(0.5)
        got = changes(events)
        assert got == list(range(500))
        assert not [e for e in events if isinstance(e, (ResetEvent, SnapshotEvent))]
        assert statuses.count("reconnecting") >= 2 and proxy.connections >= 3
        assert sub_client.realtime.status == "open"
        sub.unsubscribe()
    finally:
        proxy.close()


def test_sync_client_resumes_through_a_cut(cluster: Cluster) -> None:
    """The sync client's realtime thread resumes the same way."""
    proxy = Proxy(cluster.a.port)
    sub_client = Client(proxy.url)
    writer = Client(cluster.b.url, key=cluster.a.service_key)
    try:
        sub_client.auth.sign_up(email=unique_email("sresume"), password=PASSWORD)
        group = unique("s")
        sub = sub_client.collection("feed").subscribe(where=[("group", "==", group)])
        sub.ready()
        got: list[int] = []

        def consume() -> None:
            for ev in sub:
                if isinstance(ev, ChangeEvent):
                    got.append(int(ev.document.data["n"]))
                if len(got) >= 60:
                    return

        t = threading.Thread(target=consume, daemon=True)
        t.start()
        for i in range(60):
            writer.collection("feed").create({"group": group, "n": i})
            if i == 20:
                proxy.cut()
                sync_wait_for(lambda: sub_client.realtime.status == "reconnecting", 10, "reconnecting")
            if i == 40:
                proxy.restore()
        t.join(60)
        assert got == list(range(60))
        sub.close()
    finally:
        sub_client.close()
        writer.close()
        proxy.close()


async def test_channels_span_nodes_and_rejoin_after_a_cut(cluster: Cluster, closing: list[AsyncClient]) -> None:
    proxy = Proxy(cluster.a.port)
    try:
        ada = AsyncClient(proxy.url)
        bo = AsyncClient(cluster.b.url)
        closing.extend([ada, bo])
        await ada.auth.sign_up(email=unique_email("ca"), password=PASSWORD)
        await bo.auth.sign_up(email=unique_email("cb"), password=PASSWORD)
        name = f"room:{unique()}"
        room_a, room_b = ada.channel(name), bo.channel(name)
        got: list[BroadcastEvent] = []
        room_b.on("broadcast", got.append)
        await room_a.join(presence={"name": "Ada"})
        await room_b.join(presence={"name": "Bo"})
        await async_wait_for(
            lambda: len(room_a.presence) == 2 and len(room_b.presence) == 2, 15, "presence across nodes"
        )
        await room_a.broadcast("wave", {"from": "A"})
        await async_wait_for(lambda: len(got) == 1, 15, "broadcast across nodes")
        assert got[0].payload == {"from": "A"} and got[0].sender == room_a.member_id
        first_id = room_a.member_id
        proxy.cut()
        await async_wait_for(lambda: ada.realtime.status == "reconnecting", 10, "reconnecting")
        proxy.restore()
        # Re-joined with its last presence, under a new member id; B sees the old one leave.
        await async_wait_for(
            lambda: room_a.member_id != first_id and room_a.member_id in room_b.presence, 30, "rejoin seen on B"
        )
        assert room_b.presence[room_a.member_id or ""] == {"name": "Ada"}
        await async_wait_for(lambda: first_id not in room_b.presence, 120, "old member gone")
    finally:
        proxy.close()


async def test_reset_when_the_gap_is_past_retention(closing: list[AsyncClient]) -> None:
    """With a 1 s change retention, a client away while the feed is swept gets `reset` (a fresh
    snapshot) and then the live changes; nothing from before the reset is replayed."""
    db = create_database()
    node = None
    proxy = None
    try:
        node = start_server([*CLUSTER, "--change-retention", "1"], database_url=db.url)
        node.admin("POST", "/v1/db/collections", {"name": "feed", "rules": OPEN})
        proxy = Proxy(node.port)
        c = AsyncClient(proxy.url)
        writer = AsyncClient(node.url, key=node.service_key)
        closing.extend([c, writer])
        await c.auth.sign_up(email=unique_email("reset"), password=PASSWORD)
        feed = writer.collection("feed")
        group = unique("r")
        pre = await feed.create({"group": group, "n": 0})
        sub = c.collection("feed").subscribe(where=[("group", "==", group)], snapshot=True)
        first = await sub.next(timeout=10)
        assert isinstance(first, SnapshotEvent) and [d.id for d in first.documents] == [pre.id]
        await feed.create({"group": group, "n": 1})
        one = await sub.next(timeout=10)
        assert isinstance(one, ChangeEvent) and one.document.data["n"] == 1
        proxy.cut()
        await async_wait_for(lambda: c.realtime.status == "reconnecting", 10, "reconnecting")
        position = sub._state.last_seq
        assert position is not None
        await feed.create({"group": group, "n": 2})
        await feed.create({"group": group, "n": 3})
        await feed.delete(pre.id)
        await feed.create({"group": unique("other"), "n": 99})  # the newest change, kept by the sweep

        def swept() -> bool:
            return int(db.query("SELECT COALESCE(MIN(seq), 0) FROM changes") or 0) > position + 1

        await async_wait_for(swept, 75, "the feed swept past the client's position")
        proxy.restore()
        reset = await sub.next(timeout=30)
        assert isinstance(reset, ResetEvent)
        assert sorted(d.data["n"] for d in reset.documents) == [1, 2, 3]
        await feed.create({"group": group, "n": 4})
        live = await sub.next(timeout=10)
        assert isinstance(live, ChangeEvent) and live.op == "create" and live.document.data["n"] == 4
    finally:
        if proxy is not None:
            proxy.close()
        if node is not None:
            node.stop()
        db.drop()
