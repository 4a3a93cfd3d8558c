"""What the sync and the async client share and that does no I/O: building requests,
reading answers, the rules of refresh timing. `_async/` does the I/O over it, and `generated/sync/`
is generated from `_async/` by `scripts/unasync.py`."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast
from urllib.parse import parse_qs, quote

from .errors import BasaltError, argument_error, error_from_response
from .generated import openapi as wire
from .models import Document, Filter, Model, OrderBy, Page, Session

T = TypeVar("T")

SDK_HEADERS = {"accept": "application/json", "user-agent": "basalt-client-python/0.1.0"}


def encode_segment(segment: str) -> str:
    """One path segment (an id, a collection or bucket name), `/` included, percent-encoded.

    `.`, `..` and the empty string are refused: URL resolution would turn them into another
    route, one that would receive the caller's token.
    """
    if not isinstance(segment, str):
        raise argument_error(f"a path segment must be a string, not {type(segment).__name__}")
    if segment in ("", ".", ".."):
        raise argument_error(f"{segment!r} cannot be a path segment")
    return quote(segment, safe="")


def encode_path(path: str) -> str:
    """A storage object's path: each segment encoded on its own, so `/` stays a separator."""
    if not isinstance(path, str):
        raise argument_error(f"a path must be a string, not {type(path).__name__}")
    return "/".join(encode_segment(s) for s in path.split("/"))


@dataclass(slots=True)
class Request:
    """One HTTP request of the API, as the facade describes it."""

    method: str
    path: str
    json: Any = None
    has_json: bool = False
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    #: Send the caller's token.
    auth: bool = True


def request(
    method: str,
    path: str,
    *,
    body: Any = ...,
    params: Mapping[str, str | int | None] | None = None,
    headers: Mapping[str, str] | None = None,
    auth: bool = True,
) -> Request:
    r = Request(method=method, path=path, auth=auth)
    if body is not ...:
        r.json = body
        r.has_json = True
    if params:
        r.params = {k: str(v) for k, v in params.items() if v is not None}
    if headers:
        r.headers = dict(headers)
    return r


def raise_for_answer(status: int, headers: Mapping[str, str], text: str) -> None:
    if status >= 400 or status < 200:
        err = error_from_response(status, headers.get("x-request-id"), text)
        retry = headers.get("retry-after")
        if retry is not None and "retry_after" not in err.details:
            # A 429 (or 503) says when to come back: seconds, in details["retry_after"].
            try:
                err.details["retry_after"] = float(retry)
            except ValueError:
                err.details["retry_after"] = retry
        raise err


def parse_json(status: int, headers: Mapping[str, str], content: bytes) -> Any:
    if not content:
        return None
    try:
        return json.loads(content)
    except ValueError as e:
        raise BasaltError(
            status=status,
            code="internal",
            message="the server answered with something that is not JSON",
            request_id=headers.get("x-request-id"),
        ) from e


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default).encode()


def _json_default(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json", exclude_none=True)
    raise TypeError(f"{type(value).__name__} is not JSON")


# ---- documents -------------------------------------------------------------------------------


class Codec(Generic[T]):
    """How a collection turns `data` into its Python type and back (a dict, or a model)."""

    def __init__(self, model: type[Model] | None) -> None:
        self.model = model

    def decode(self, data: Any) -> T:
        if self.model is None:
            return cast(T, data)
        return cast(T, self.model.model_validate(data))

    def encode(self, data: Any) -> Any:
        dump = getattr(data, "model_dump", None)
        if callable(dump):
            return dump(mode="json", exclude_none=True)
        return data

    def document(self, d: wire.DocumentBody) -> Document[T]:
        return Document(
            id=d["id"],
            collection=d["collection"],
            version=d["version"],
            created_at=d["created_at"],
            updated_at=d["updated_at"],
            data=self.decode(d.get("data")),
        )

    def page(self, r: wire.DocumentList) -> Page[T]:
        return Page(documents=[self.document(d) for d in r["documents"]], next_cursor=r.get("next_cursor"))


RAW: Codec[dict[str, Any]] = Codec(None)


def if_match(if_version: int | None) -> dict[str, str]:
    return {} if if_version is None else {"if-match": f'"{int(if_version)}"'}


def order_by_wire(order_by: OrderBy) -> list[list[str]]:
    if isinstance(order_by, str):
        return [[order_by[1:], "desc"]] if order_by.startswith("-") else [[order_by, "asc"]]
    out: list[list[str]] = []
    for item in order_by:
        if isinstance(item, str):
            out.extend(order_by_wire(item))
        else:
            out.append([str(x) for x in item])
    return out


def where_wire(where: Filter) -> Any:
    """Tuples become lists; everything else goes as it is (the server checks the filter)."""
    if isinstance(where, tuple):
        return [where_wire(x) if isinstance(x, (tuple, list, dict)) else x for x in where]
    if isinstance(where, list):
        return [where_wire(x) if isinstance(x, (tuple, list, dict)) else x for x in where]
    if isinstance(where, Mapping):
        return {k: where_wire(v) if isinstance(v, (tuple, list, dict)) else v for k, v in where.items()}
    return where


def query_body(
    where: Filter | None,
    order_by: OrderBy | None,
    limit: int | None,
    after: str | None,
    select: Sequence[str] | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if where is not None:
        body["where"] = where_wire(where)
    if order_by is not None:
        body["order_by"] = order_by_wire(order_by)
    if limit is not None:
        body["limit"] = limit
    if after is not None:
        body["after"] = after
    if select is not None:
        body["select"] = list(select)
    return body


def patch_body(
    codec: Codec[Any],
    data: Any,
    increment: Mapping[str, float] | None,
    server_time: Sequence[str] | None,
    array_union: Mapping[str, Sequence[Any]] | None,
    array_remove: Mapping[str, Sequence[Any]] | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if data is not None:
        body["data"] = codec.encode(data)
    if increment is not None:
        body["increment"] = dict(increment)
    if server_time is not None:
        body["server_time"] = list(server_time)
    if array_union is not None:
        body["array_union"] = {k: list(v) for k, v in array_union.items()}
    if array_remove is not None:
        body["array_remove"] = {k: list(v) for k, v in array_remove.items()}
    return body


_BATCH_KEYS = {
    "op",
    "collection",
    "id",
    "data",
    "if_version",
    "increment",
    "server_time",
    "array_union",
    "array_remove",
}


def batch_body(operations: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    wire: list[dict[str, Any]] = []
    for i, op in enumerate(operations):
        if not isinstance(op, Mapping):
            raise argument_error(f"batch operation {i} is not a mapping")
        unknown = set(op) - _BATCH_KEYS
        if unknown:
            raise argument_error(f"batch operation {i} has unknown keys: {', '.join(sorted(unknown))}")
        w = {k: v for k, v in op.items() if v is not None}
        if "data" in w:
            w["data"] = RAW.encode(w["data"])
        wire.append(w)
    return {"operations": wire}


# ---- auth ------------------------------------------------------------------------------------


def jwt_claims(token: str) -> dict[str, Any]:
    try:
        part = token.split(".")[1]
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        claims = json.loads(raw)
        return claims if isinstance(claims, dict) else {}
    except (IndexError, ValueError):
        return {}


def refresh_margin(session: Session) -> float:
    """Seconds before expiry at which a token is refreshed: a quarter of its life, 0.5 to 60 s."""
    c = jwt_claims(session.access_token)
    iat, exp = c.get("iat"), c.get("exp")
    lifetime = float(exp - iat) if isinstance(iat, int) and isinstance(exp, int) else 3600.0
    return min(60.0, max(0.5, lifetime / 4))


def expiring_soon(session: Session, now: float | None = None) -> bool:
    return session.expires_at - (time.time() if now is None else now) <= refresh_margin(session)


def refresh_failure(e: BasaltError) -> str:
    """Why the server refused a refresh token: `already_used`, `reused`, `ended`, `invalid`, `disabled`."""
    reason = e.details.get("reason")
    if reason in ("already_used", "reused", "ended", "invalid", "disabled"):
        return str(reason)
    return "already_used" if "already used" in e.message.lower() else "invalid"


def parse_redirect(url: str) -> dict[str, str] | None:
    """The fields of an OAuth redirect's fragment, or None when it carries no sign-in result."""
    at = url.find("#")
    if at < 0:
        return None
    fields = {k: v[0] for k, v in parse_qs(url[at + 1 :], keep_blank_values=True).items()}
    if not ({"access_token", "error", "mfa_required"} & set(fields)):
        return None
    return fields


def storage_key(url: str) -> str:
    return f"basalt.session:{url}"
