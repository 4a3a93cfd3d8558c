"""Refresh under load, against a server whose access tokens live 4 s: 20 threads sharing one
`Client` and 20 tasks sharing one `AsyncClient`, across a forced expiry, send exactly one
refresh request between them and none of their requests fails. The proxy in front of the
server counts the refresh requests that really went out."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from basalt import AsyncClient, BasaltError, ChangeEvent, Client, MemoryStorage
from tests.conftest import OWNER, OWNER_NEW
from tests.helpers import PASSWORD, Proxy, Server, start_server, unique_email

TTL = 4
REFRESH = "POST /v1/auth/refresh"


@pytest.fixture(scope="module")
def short_ttl() -> Iterator[Server]:
    s = start_server(["--login-rate-limit", "0", "--access-token-ttl", str(TTL)])
    try:
        s.admin(
            "POST",
            "/v1/db/collections",
            {"name": "notes", "rules": {"read": OWNER, "create": OWNER_NEW, "update": OWNER, "delete": OWNER}},
        )
        yield s
    finally:
        s.stop()


@pytest.fixture
def proxy(short_ttl: Server) -> Iterator[Proxy]:
    p = Proxy(short_ttl.port)
    yield p
    p.close()


def _wait_past_expiry(expires_at: float) -> None:
    time.sleep(max(0.0, expires_at - time.time()) + 0.2)


def test_20_threads_one_client_one_refresh(proxy: Proxy) -> None:
    c = Client(proxy.url)
    try:
        c.auth.sign_up(email=unique_email("threads"), password=PASSWORD)
        uid = c.auth.user.id if c.auth.user else ""
        doc = c.collection("notes").create({"owner": uid, "n": 1})
        first = c.auth.session
        assert first is not None
        _wait_past_expiry(first.expires_at)
        assert proxy.count(REFRESH) == 0
        barrier = threading.Barrier(20)
        results: list[str] = []
        errors: list[BaseException] = []

        def work() -> None:
            try:
                barrier.wait(10)
                results.append(c.collection("notes").get(doc.id).id)
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=work) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == []
        assert results == [doc.id] * 20
        assert proxy.count(REFRESH) == 1
        now = c.auth.session
        assert now is not None and now.refresh_token != first.refresh_token
    finally:
        c.close()


async def test_20_tasks_one_async_client_one_refresh(proxy: Proxy) -> None:
    c = AsyncClient(proxy.url)
    try:
        await c.auth.sign_up(email=unique_email("tasks"), password=PASSWORD)
        uid = c.auth.user.id if c.auth.user else ""
        doc = await c.collection("notes").create({"owner": uid, "n": 1})
        first = c.auth.session
        assert first is not None
        await asyncio.sleep(max(0.0, first.expires_at - time.time()) + 0.2)
        results = await asyncio.gather(*(c.collection("notes").get(doc.id) for _ in range(20)), return_exceptions=True)
        assert [r.id if not isinstance(r, BaseException) else r for r in results] == [doc.id] * 20
        assert proxy.count(REFRESH) == 1
    finally:
        await c.aclose()


def test_two_clients_of_one_storage_refresh_once(proxy: Proxy) -> None:
    """Clients sharing a storage and key share the refresh too: the second adopts what the first got."""
    storage = MemoryStorage()
    a = Client(proxy.url, storage=storage, storage_key="app")
    a.auth.sign_up(email=unique_email("shared"), password=PASSWORD)
    b = Client(proxy.url, storage=storage, storage_key="app")  # signed in from the storage
    try:
        assert b.auth.user is not None and b.auth.user.id == (a.auth.user.id if a.auth.user else None)
        s = a.auth.session
        assert s is not None
        _wait_past_expiry(s.expires_at)
        errors: list[BaseException] = []

        def work(client: Client) -> None:
            try:
                client.auth.get_user()
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=work, args=(x,)) for x in (a, b) * 10]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == []
        assert proxy.count(REFRESH) == 1
        assert a.auth.session is not None and b.auth.session is not None
        assert a.auth.session.refresh_token == b.auth.session.refresh_token
    finally:
        a.close()
        b.close()


def test_threads_and_tasks_on_one_refresh_each_round(proxy: Proxy) -> None:
    """Two expiries in a row: one refresh per expiry, never two."""
    c = Client(proxy.url)
    try:
        c.auth.sign_up(email=unique_email("rounds"), password=PASSWORD)
        for round_no in (1, 2):
            s = c.auth.session
            assert s is not None
            _wait_past_expiry(s.expires_at)
            errors: list[BaseException] = []

            def work(errors: list[BaseException] = errors) -> None:
                try:
                    c.auth.get_user()
                except BaseException as e:
                    errors.append(e)

            threads = [threading.Thread(target=work) for _ in range(20)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            assert errors == []
            assert proxy.count(REFRESH) == round_no
    finally:
        c.close()


def test_network_failure_during_refresh_keeps_the_session(proxy: Proxy) -> None:
    c = Client(proxy.url, timeout=5)
    try:
        c.auth.sign_up(email=unique_email("net"), password=PASSWORD)
        s = c.auth.session
        assert s is not None
        _wait_past_expiry(s.expires_at)
        proxy.cut()
        with pytest.raises(BasaltError) as e:
            c.auth.get_user()
        assert e.value.code == "network"
        assert c.auth.session is not None and c.auth.session.refresh_token == s.refresh_token
        proxy.restore()
        assert c.auth.get_user().id == s.user.id
        assert proxy.count(REFRESH) == 1
    finally:
        c.close()


async def test_socket_keeps_acting_for_the_user_across_refreshes(short_ttl: Server) -> None:
    """The realtime connection refreshes before expiry and sends each new token on the socket, so
    an owner-only rule keeps letting the user's changes through."""
    c = AsyncClient(short_ttl.url)
    try:
        await c.auth.sign_up(email=unique_email("sock"), password=PASSWORD)
        uid = c.auth.user.id if c.auth.user else ""
        refreshed: list[str] = []
        c.auth.on_change(lambda e, s: refreshed.append(e))
        sub = c.collection("notes").subscribe()
        await sub.ready()
        await asyncio.sleep(TTL * 2 + 1)
        assert refreshed.count("token_refreshed") >= 2
        writer = AsyncClient(short_ttl.url, key=short_ttl.service_key)
        try:
            doc = await writer.collection("notes").create({"owner": uid, "n": 2})
        finally:
            await writer.aclose()
        ev = await sub.next(timeout=10)
        assert isinstance(ev, ChangeEvent) and ev.document.id == doc.id
    finally:
        await c.aclose()


def test_sync_socket_keeps_acting_for_the_user_across_refreshes(short_ttl: Server) -> None:
    c = Client(short_ttl.url)
    try:
        c.auth.sign_up(email=unique_email("ssock"), password=PASSWORD)
        uid = c.auth.user.id if c.auth.user else ""
        sub = c.collection("notes").subscribe()
        sub.ready()
        time.sleep(TTL * 2 + 1)
        with Client(short_ttl.url, key=short_ttl.service_key) as writer:
            doc = writer.collection("notes").create({"owner": uid, "n": 3})
        ev = sub.next(timeout=10)
        assert isinstance(ev, ChangeEvent) and ev.document.id == doc.id
    finally:
        c.close()
