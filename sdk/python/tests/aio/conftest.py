from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from basalt import AsyncClient
from tests.helpers import PASSWORD, Server, unique_email

ClientFactory = Callable[..., AsyncClient]


@pytest.fixture
async def async_clients(server: Server) -> AsyncIterator[ClientFactory]:
    """Makes clients of the test server (closed at the end of the test)."""
    made: list[AsyncClient] = []

    def make(url: str | None = None, **kw: object) -> AsyncClient:
        c = AsyncClient(url or server.url, **kw)  # type: ignore[arg-type]
        made.append(c)
        return c

    yield make
    for c in made:
        await c.aclose()


@pytest.fixture
async def async_user(async_clients: ClientFactory) -> AsyncClient:
    """A client signed in as a new user."""
    c = async_clients()
    await c.auth.sign_up(email=unique_email("user"), password=PASSWORD)
    return c


@pytest.fixture
async def async_service(async_clients: ClientFactory, server: Server) -> AsyncClient:
    """A client acting with the service key."""
    return async_clients(key=server.service_key)
