from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx

from .._core import SDK_HEADERS, Request, dumps, parse_json, raise_for_answer
from ..errors import closed_error, network_error

if TYPE_CHECKING:
    from .auth import AsyncAuth


class AsyncTransport:
    """The one place that talks HTTP: every call of the facade goes through `send`."""

    def __init__(
        self,
        url: str,
        http: httpx.AsyncClient,
        *,
        key: str | None,
        headers: dict[str, str],
        owns_http: bool,
    ) -> None:
        self.url = url
        self.http = http
        self.key = key
        self.headers = {**SDK_HEADERS, **headers}
        self.auth: AsyncAuth | None = None
        self.closed = False
        self._owns_http = owns_http

    async def token(self) -> str | None:
        if self.key is not None:
            return self.key
        if self.auth is None:
            return None
        return await self.auth.access_token()

    async def _build(self, req: Request, content: Any = None) -> httpx.Request:
        if self.closed:
            raise closed_error()
        headers = {**self.headers, **req.headers}
        body = content
        if req.has_json:
            body = dumps(req.json)
            headers["content-type"] = "application/json"
        if req.auth and "authorization" not in headers:
            token = await self.token()
            if token:
                headers["authorization"] = f"Bearer {token}"
        return self.http.build_request(
            req.method, self.url + req.path, params=req.params or None, headers=headers, content=body
        )

    async def send(self, req: Request, content: Any = None) -> httpx.Response:
        """Sends and reads the whole answer; a non-2xx answer raises its BasaltError."""
        built = await self._build(req, content)
        try:
            resp = await self.http.send(built)
        except httpx.HTTPError as e:
            raise network_error(e) from e
        raise_for_answer(resp.status_code, resp.headers, resp.text if resp.status_code >= 300 else "")
        return resp

    async def json(self, req: Request, content: Any = None) -> Any:
        resp = await self.send(req, content)
        return parse_json(resp.status_code, resp.headers, resp.content)

    @asynccontextmanager
    async def stream(self, req: Request) -> AsyncIterator[httpx.Response]:
        """An answer whose body is read by the caller, chunk by chunk."""
        built = await self._build(req)
        try:
            resp = await self.http.send(built, stream=True)
        except httpx.HTTPError as e:
            raise network_error(e) from e
        try:
            if resp.status_code >= 300:
                text = (await resp.aread()).decode("utf-8", "replace")
                raise_for_answer(resp.status_code, resp.headers, text)
            yield resp
        except httpx.HTTPError as e:
            raise network_error(e) from e
        finally:
            await resp.aclose()

    async def aclose(self) -> None:
        self.closed = True
        if self._owns_http:
            await self.http.aclose()

