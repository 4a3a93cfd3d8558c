from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import Server, start_server

OWNER = "auth != () && doc.data.owner == auth.uid"
OWNER_NEW = "auth != () && data.owner == auth.uid"


def set_up_project(s: Server) -> None:
    """The collections, buckets and functions the tests use."""
    open_rules = {"read": "auth != ()", "create": "auth != ()", "update": "auth != ()", "delete": "auth != ()"}
    s.admin("POST", "/v1/db/collections", {"name": "posts", "rules": open_rules})
    s.admin(
        "POST",
        "/v1/db/collections",
        {"name": "notes", "rules": {"read": OWNER, "create": OWNER_NEW, "update": OWNER, "delete": OWNER}},
    )
    s.admin(
        "POST",
        "/v1/db/collections",
        {
            "name": "typed",
            "rules": open_rules,
            "schema": {
                "type": "object",
                "properties": {"title": {"type": "string"}, "n": {"type": "integer"}},
                "required": ["title"],
            },
        },
    )
    s.admin("POST", "/v1/db/collections", {"name": "locked"})  # no rules: every app user is denied
    rw = {"read": "auth != ()", "write": "auth != ()", "delete": "auth != ()"}
    s.admin("POST", "/v1/storage/buckets", {"name": "files", "rules": rw})
    s.admin("POST", "/v1/storage/buckets", {"name": "public", "public": True, "rules": rw})
    s.admin(
        "POST",
        "/v1/storage/buckets",
        {"name": "images", "allowed_types": ["image/*"], "max_object_size": 1024, "rules": rw},
    )
    s.admin(
        "PUT",
        "/v1/admin/functions/hello",
        {
            "kind": "http",
            "invoke": "true",
            "source": 'let who = if auth == () { "anon" } else { auth.uid };\n'
            '#{greeting: "hello " + args.name, caller: who}',
        },
    )
    s.admin("PUT", "/v1/admin/functions/refuse", {"kind": "http", "invoke": "true", "source": 'throw "no thanks";'})
    s.admin("PUT", "/v1/admin/functions/members", {"kind": "http", "invoke": "auth != ()", "source": "#{ok: true}"})


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    s = start_server(["--login-rate-limit", "0"])
    try:
        set_up_project(s)
        yield s
    finally:
        s.stop()
