"""`Client` and `AsyncClient` have one surface, and that surface is SDK.md's (in Python's spelling)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

import basalt

PAIRS = [
    ("Client", "AsyncClient"),
    ("Auth", "AsyncAuth"),
    ("Mfa", "AsyncMfa"),
    ("Collection", "AsyncCollection"),
    ("Bucket", "AsyncBucket"),
    ("Storage", "AsyncStorage"),
    ("Functions", "AsyncFunctions"),
    ("Realtime", "AsyncRealtime"),
    ("Subscription", "AsyncSubscription"),
    ("Channel", "AsyncChannel"),
    ("LiveQuery", "AsyncLiveQuery"),
]
#: Names that differ by design: Python's async spelling, and what only an async iterator has.
RENAMED = {"aclose": "close"}


def public(cls: type) -> dict[str, Any]:
    names = {**dict.fromkeys(getattr(cls, "__annotations__", {}), None), **vars(cls)}
    return {RENAMED.get(n, n): v for n, v in names.items() if not n.startswith("_")}


@pytest.mark.parametrize(("sync_name", "async_name"), PAIRS)
def test_sync_and_async_have_the_same_calls(sync_name: str, async_name: str) -> None:
    s, a = getattr(basalt, sync_name), getattr(basalt, async_name)
    ps, pa = public(s), public(a)
    assert sorted(ps) == sorted(pa)
    for name, fn in ps.items():
        if callable(fn) and callable(pa[name]):
            params_s = [p.name for p in inspect.signature(fn).parameters.values() if not p.name.startswith("_")]
            params_a = [p.name for p in inspect.signature(pa[name]).parameters.values() if not p.name.startswith("_")]
            # The sync wrappers of blocking waits take a timeout the async ones leave to asyncio.
            params_s = [p for p in params_s if not (p == "timeout" and p not in params_a)]
            assert params_s == params_a, f"{sync_name}.{name}"


@pytest.mark.parametrize("client", ["Client", "AsyncClient"])
def test_sdk_md_surface_exists(client: str) -> None:
    c = getattr(basalt, client)("http://127.0.0.1:9")
    auth = [
        "sign_up", "sign_in", "sign_in_anonymously", "sign_out", "refresh", "session", "user", "on_change",
        "send_magic_link", "verify_magic_link", "send_password_reset", "reset_password", "send_verification",
        "verify_email", "oauth_url", "handle_redirect", "update_user", "sessions", "end_session", "get_user",
    ]  # fmt: skip
    for name in auth:
        assert hasattr(c.auth, name), name
    for name in ("verify", "enroll", "confirm", "disable"):
        assert callable(getattr(c.auth.mfa, name))
    posts = c.collection("posts")
    for name in (
        "create",
        "get",
        "set",
        "update",
        "delete",
        "query",
        "query_all",
        "count",
        "list",
        "subscribe",
        "live",
    ):
        assert callable(getattr(posts, name)), name
    assert callable(c.batch) and callable(c.channel)
    bucket = c.storage.bucket("avatars")
    for name in ("upload", "download", "download_to", "info", "list", "remove", "url", "signed_url"):
        assert callable(getattr(bucket, name)), name
    assert callable(c.functions.invoke)
    assert c.realtime.status == "closed" and callable(c.realtime.on_status)
    for call in (posts.set, posts.update, posts.delete):
        assert "if_version" in inspect.signature(call).parameters
    assert set(inspect.signature(posts.query).parameters) == {"where", "order_by", "limit", "after", "select"}
    assert set(inspect.signature(posts.subscribe).parameters) == {"where", "id", "snapshot"}
    for cls in (basalt.Channel, basalt.AsyncChannel):
        for name in ("join", "on", "broadcast", "leave", "presence", "member_id"):
            assert name in public(cls), name


def test_typed_objects() -> None:
    fields = {f for f in basalt.Document.__dataclass_fields__}
    assert fields == {"id", "collection", "version", "created_at", "updated_at", "data"}
    assert set(basalt.Page.__dataclass_fields__) == {"documents", "next_cursor"}
    assert set(basalt.ChangeEvent.__dataclass_fields__) >= {"type", "op", "document"}
    assert set(basalt.SnapshotEvent.__dataclass_fields__) == {"type", "documents"}
    assert set(basalt.ResetEvent.__dataclass_fields__) == {"type", "documents"}
    err = basalt.BasaltError(status=404, code="not_found", message="m", details={"a": 1}, request_id="r")
    assert (err.status, err.code, err.message, err.details, err.request_id) == (404, "not_found", "m", {"a": 1}, "r")
    import pickle

    again = pickle.loads(pickle.dumps(err))
    assert again.code == "not_found" and again.details == {"a": 1}
