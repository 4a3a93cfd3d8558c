# Generated from tests/aio/conftest.py by scripts/unasync.py: do not edit.
# Regenerate with `python scripts/unasync.py`.
from __future__ import annotations

from collections.abc import Iterator, Callable

import pytest

from basalt import Client
from tests.helpers import PASSWORD, Server, unique_email

ClientFactory = Callable[..., Client]


@pytest.fixture
def sync_clients(server: Server) -> Iterator[ClientFactory]:
    """Makes clients of the test server (closed at the end of the test)."""
    made: list[Client] = []

    def make(url: str | None = None, **kw: object) -> Client:
        c = Client(url or server.url, **kw)  # type: ignore[arg-type]
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def sync_user(sync_clients: ClientFactory) -> Client:
    """A client signed in as a new user."""
    c = sync_clients()
    c.auth.sign_up(email=unique_email("user"), password=PASSWORD)
    return c


@pytest.fixture
def sync_service(sync_clients: ClientFactory, server: Server) -> Client:
    """A client acting with the service key."""
    return sync_clients(key=server.service_key)
