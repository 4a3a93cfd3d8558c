"""A rate-limited sign-in raises `rate_limited` (429) with the server's Retry-After in details."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from basalt import AsyncClient, BasaltError, Client
from tests.helpers import PASSWORD, Server, start_server, unique_email


@pytest.fixture(scope="module")
def limited() -> Iterator[Server]:
    s = start_server(["--login-rate-limit", "2"])
    yield s
    s.stop()


def test_sync_sign_in_rate_limited(limited: Server) -> None:
    email = unique_email("rl")
    with Client(limited.url) as c:
        codes = []
        for _ in range(4):
            try:
                c.auth.sign_in(email=email, password="wrong password!")
            except BasaltError as e:
                codes.append(e.code)
                last = e
        assert codes[:2] == ["unauthenticated", "unauthenticated"] and codes[-1] == "rate_limited"
        assert last.status == 429 and float(last.details["retry_after"]) > 0


async def test_async_sign_up_rate_limited(limited: Server) -> None:
    email = unique_email("rla")
    async with AsyncClient(limited.url) as c:
        await c.auth.sign_up(email=email, password=PASSWORD)
        with pytest.raises(BasaltError) as e:
            for _ in range(4):
                await c.auth.sign_in(email=email, password=PASSWORD)
        assert e.value.code == "rate_limited" and e.value.status == 429 and e.value.details["retry_after"]
