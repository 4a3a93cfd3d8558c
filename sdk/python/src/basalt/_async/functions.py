from __future__ import annotations

from typing import Any

from .._core import encode_segment, request
from .http import AsyncTransport


class AsyncFunctions:
    """`client.functions`: the HTTP functions the project's admins defined."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport

    async def invoke(self, name: str, args: Any = None) -> Any:
        """`POST /v1/functions/{name}` with `args` as the body (`{}` when left out); the function's answer."""
        return await self._t.json(
            request("POST", f"/v1/functions/{encode_segment(name)}", body={} if args is None else args)
        )
