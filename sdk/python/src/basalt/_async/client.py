from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar, overload

import httpx

from .._core import RAW, Codec, storage_key
from ..models import Document, Model
from ..realtime import AsyncChannel, AsyncRealtime
from ..session_storage import AuthStorage, MemoryStorage
from .auth import AsyncAuth
from .documents import AsyncCollection, run_batch
from .files import AsyncStorage
from .functions import AsyncFunctions
from .http import AsyncTransport

M = TypeVar("M", bound=Model)


class AsyncClient:
    """A Basalt client whose every call is awaited: auth, documents, realtime, storage, functions.

    `key="bsk_…"` acts with a service key (servers and scripts only: it bypasses the rules).
    Pass `http_client` to bring your own `httpx.AsyncClient` (its pool, proxies, TLS settings).
    """

    def __init__(
        self,
        url: str,
        *,
        key: str | None = None,
        storage: AuthStorage | None = None,
        storage_key: str | None = None,
        auto_refresh: bool = True,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        owns = http_client is None
        http = http_client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )
        self._transport = AsyncTransport(self.url, http, key=key, headers=dict(headers or {}), owns_http=owns)
        self.auth = AsyncAuth(
            self._transport, storage or MemoryStorage(), storage_key or _default_key(self.url), auto_refresh
        )
        self._transport.auth = self.auth
        self.storage = AsyncStorage(self._transport)
        self.functions = AsyncFunctions(self._transport)
        self._realtime: AsyncRealtime | None = None

    @overload
    def collection(self, name: str) -> AsyncCollection[dict[str, Any]]: ...

    @overload
    def collection(self, name: str, model: type[M]) -> AsyncCollection[M]: ...

    def collection(self, name: str, model: type[Model] | None = None) -> AsyncCollection[Any]:
        """The documents of one collection; with `model`, `doc.data` is an instance of it."""
        return AsyncCollection(self, name, RAW if model is None else Codec(model))

    async def batch(self, operations: Sequence[Mapping[str, Any]]) -> list[Document[Any] | None]:
        """All the operations or none: one result per operation, in order (None for a delete).

        Each operation is `{"op": "create"|"set"|"update"|"delete", "collection", "id"?, "data"?,
        "if_version"?}` (an update also takes `increment`, `server_time`, `array_union`, `array_remove`).
        """
        return await run_batch(self, operations)

    @property
    def realtime(self) -> AsyncRealtime:
        """The realtime connection: one socket per client, opened on first use."""
        if self._realtime is None:
            rt = AsyncRealtime(self.url, self._realtime_token, self.auth.refresh_due_in)
            self._realtime = rt

            def on_auth(event: str, session: Any) -> None:
                if event == "signed_out":
                    rt.reconnect()
                elif session is not None and self._transport.key is None:
                    rt.send_token(session.access_token)

            self.auth.on_change(on_auth)
        return self._realtime

    async def _realtime_token(self) -> str | None:
        return await self._transport.token()

    def channel(self, name: str) -> AsyncChannel:
        """A broadcast channel with presence (`room:1`)."""
        return self.realtime.channel(name)

    async def aclose(self) -> None:
        """Closes the socket and the connection pool; the stored session stays."""
        if self._realtime is not None:
            await self._realtime.aclose()
        self.auth.close()
        await self._transport.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()


def _default_key(url: str) -> str:
    return storage_key(url)
