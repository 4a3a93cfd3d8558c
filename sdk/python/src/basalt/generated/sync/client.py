# Generated from src/basalt/_async/client.py by scripts/unasync.py: do not edit.
# Regenerate with `python scripts/unasync.py`.
from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar, overload

import httpx

from ..._core import RAW, Codec, storage_key
from ...models import Document, Model
from ...realtime_sync import Channel, Realtime
from ...session_storage import AuthStorage, MemoryStorage
from .auth import Auth
from .documents import Collection, run_batch
from .files import Storage
from .functions import Functions
from .http import Transport

M = TypeVar("M", bound=Model)


class Client:
    """A Basalt client whose every call is awaited: auth, documents, realtime, storage, functions.

    `key="bsk_…"` acts with a service key (servers and scripts only: it bypasses the rules).
    Pass `http_client` to bring your own `httpx.Client` (its pool, proxies, TLS settings).
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
        http_client: httpx.Client | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        owns = http_client is None
        http = http_client or httpx.Client(
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )
        self._transport = Transport(self.url, http, key=key, headers=dict(headers or {}), owns_http=owns)
        self.auth = Auth(
            self._transport, storage or MemoryStorage(), storage_key or _default_key(self.url), auto_refresh
        )
        self._transport.auth = self.auth
        self.storage = Storage(self._transport)
        self.functions = Functions(self._transport)
        self._realtime: Realtime | None = None

    @overload
    def collection(self, name: str) -> Collection[dict[str, Any]]: ...

    @overload
    def collection(self, name: str, model: type[M]) -> Collection[M]: ...

    def collection(self, name: str, model: type[Model] | None = None) -> Collection[Any]:
        """The documents of one collection; with `model`, `doc.data` is an instance of it."""
        return Collection(self, name, RAW if model is None else Codec(model))

    def batch(self, operations: Sequence[Mapping[str, Any]]) -> list[Document[Any] | None]:
        """All the operations or none: one result per operation, in order (None for a delete).

        Each operation is `{"op": "create"|"set"|"update"|"delete", "collection", "id"?, "data"?,
        "if_version"?}` (an update also takes `increment`, `server_time`, `array_union`, `array_remove`).
        """
        return run_batch(self, operations)

    @property
    def realtime(self) -> Realtime:
        """The realtime connection: one socket per client, opened on first use."""
        if self._realtime is None:
            rt = Realtime(self.url, self._realtime_token, self.auth.refresh_due_in)
            self._realtime = rt

            def on_auth(event: str, session: Any) -> None:
                if event == "signed_out":
                    rt.reconnect()
                elif session is not None and self._transport.key is None:
                    rt.send_token(session.access_token)

            self.auth.on_change(on_auth)
        return self._realtime

    def _realtime_token(self) -> str | None:
        return self._transport.token()

    def channel(self, name: str) -> Channel:
        """A broadcast channel with presence (`room:1`)."""
        return self.realtime.channel(name)

    def close(self) -> None:
        """Closes the socket and the connection pool; the stored session stays."""
        if self._realtime is not None:
            self._realtime.close()
        self.auth.close()
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _default_key(url: str) -> str:
    return storage_key(url)
