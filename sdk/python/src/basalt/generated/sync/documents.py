# Generated from src/basalt/_async/documents.py by scripts/unasync.py: do not edit.
# Regenerate with `python scripts/unasync.py`.
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..._core import Codec, batch_body, encode_segment, if_match, patch_body, query_body, request
from ...models import Document, Filter, OrderBy, Page
from ...realtime_sync import LiveQuery, Subscription

if TYPE_CHECKING:
    from .client import Client

T = TypeVar("T")


class Collection(Generic[T]):
    """`client.collection(name)`: the documents of one collection, over HTTP and live.

    `T` is the type of `data`: a dict, or the model given as `collection(name, model=...)`.
    """

    def __init__(self, client: Client, name: str, codec: Codec[T]) -> None:
        self._client = client
        self._t = client._transport
        self.name = name
        self._codec = codec
        self._base = f"/v1/db/{encode_segment(name)}"

    def _doc_path(self, doc_id: str) -> str:
        return f"{self._base}/{encode_segment(doc_id)}"

    def create(self, data: T | Mapping[str, Any], *, id: str | None = None) -> Document[T]:
        body: dict[str, Any] = {"data": self._codec.encode(data)}
        if id is not None:
            body["id"] = id
        return self._codec.document(self._t.json(request("POST", self._base, body=body)))

    def get(self, id: str) -> Document[T]:
        """Raises BasaltError `not_found` when there is no such document (or the rule hides it)."""
        return self._codec.document(self._t.json(request("GET", self._doc_path(id))))

    def set(self, id: str, data: T | Mapping[str, Any], *, if_version: int | None = None) -> Document[T]:
        """Replaces (or creates) the document: PUT."""
        r = self._t.json(
            request("PUT", self._doc_path(id), body={"data": self._codec.encode(data)}, headers=if_match(if_version))
        )
        return self._codec.document(r)

    def update(
        self,
        id: str,
        *,
        data: T | Mapping[str, Any] | None = None,
        increment: Mapping[str, float] | None = None,
        server_time: Sequence[str] | None = None,
        array_union: Mapping[str, Sequence[Any]] | None = None,
        array_remove: Mapping[str, Sequence[Any]] | None = None,
        if_version: int | None = None,
    ) -> Document[T]:
        """Changes parts of the document: `data` is a JSON Merge Patch; dotted paths reach inside."""
        body = patch_body(self._codec, data, increment, server_time, array_union, array_remove)
        r = self._t.json(request("PATCH", self._doc_path(id), body=body, headers=if_match(if_version)))
        return self._codec.document(r)

    def delete(self, id: str, *, if_version: int | None = None) -> None:
        self._t.send(request("DELETE", self._doc_path(id), headers=if_match(if_version)))

    def query(
        self,
        *,
        where: Filter | None = None,
        order_by: OrderBy | None = None,
        limit: int | None = None,
        after: str | None = None,
        select: Sequence[str] | None = None,
    ) -> Page[T]:
        """One page of a query; pass `after=page.next_cursor` for the next one."""
        body = query_body(where, order_by, limit, after, select)
        return self._codec.page(self._t.json(request("POST", f"{self._base}/query", body=body)))

    def query_all(
        self,
        *,
        where: Filter | None = None,
        order_by: OrderBy | None = None,
        page_size: int | None = None,
        select: Sequence[str] | None = None,
    ) -> Iterator[Document[T]]:
        """Every matching document, following the cursors page after page."""
        after: str | None = None
        while True:
            page = self.query(where=where, order_by=order_by, limit=page_size, after=after, select=select)
            for doc in page.documents:
                yield doc
            after = page.next_cursor
            if after is None:
                return

    def list(self, *, limit: int | None = None, after: str | None = None, order: str | None = None) -> Page[T]:
        """The simple listing (GET): by id, or by one field (`order="-age"`)."""
        r = self._t.json(request("GET", self._base, params={"limit": limit, "after": after, "order": order}))
        return self._codec.page(r)

    def count(self, *, where: Filter | None = None) -> int:
        body = query_body(where, None, None, None, None)
        r = self._t.json(request("POST", f"{self._base}/count", body=body))
        return int(r["count"])

    def subscribe(
        self, *, where: Filter | None = None, id: str | None = None, snapshot: bool = False
    ) -> Subscription[T]:
        """Watches one document (`id`) or the documents matching `where`: iterate it for events."""
        return self._client.realtime.subscribe(self.name, where=where, doc_id=id, snapshot=snapshot, codec=self._codec)

    def live(self, *, where: Filter | None = None, id: str | None = None) -> LiveQuery[T]:
        """A live query: its `documents` stay current."""
        return self._client.realtime.live(self.name, where=where, doc_id=id, codec=self._codec)


def run_batch(client: Client, operations: Sequence[Mapping[str, Any]]) -> list[Document[Any] | None]:
    r = client._transport.json(request("POST", "/v1/db/batch", body=batch_body(operations)))
    raw: Codec[Any] = Codec(None)
    return [raw.document(d) if d else None for d in r["results"]]
