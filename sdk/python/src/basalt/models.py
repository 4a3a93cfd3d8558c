"""The objects the SDK hands back: documents, pages, sessions, users, files and events.

They are plain frozen dataclasses built from the wire shapes of `basalt.generated.openapi`
(generated from the server's OpenAPI document).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol, TypeVar, Union

from typing_extensions import Self

from .generated import openapi as wire

__all__ = [
    "BroadcastEvent",
    "ChangeEvent",
    "Document",
    "Filter",
    "MfaEnrolment",
    "MfaRequired",
    "Model",
    "ObjectInfo",
    "ObjectList",
    "OrderBy",
    "Page",
    "PresenceEvent",
    "ResetEvent",
    "Session",
    "SessionInfo",
    "SignUpResult",
    "SnapshotEvent",
    "SubscriptionEvent",
    "User",
]

T = TypeVar("T")

#: A filter of API.md: `[path, op, value]`, a list of filters (AND), or `{"and"|"or": [...]}`.
Filter = Union[Sequence[Any], Mapping[str, Any]]
#: `"field"` / `"-field"`, or a list of `(path, "asc"|"desc")` pairs.
OrderBy = Union[str, Sequence[tuple[str, str] | Sequence[str]]]


class Model(Protocol):
    """What a typed collection's model offers: pydantic v2 models (as `basalt-typegen` writes) fit."""

    @classmethod
    def model_validate(cls, obj: Any) -> Self: ...

    def model_dump(self, *, mode: str = ..., exclude_none: bool = ...) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Document(Generic[T]):
    id: str
    collection: str
    version: int
    created_at: str
    updated_at: str
    data: T


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    documents: list[Document[T]]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str | None
    email_verified: bool
    anonymous: bool
    mfa_enabled: bool
    disabled: bool
    created_at: str
    updated_at: str
    data: dict[str, Any]
    claims: dict[str, Any]

    @classmethod
    def from_wire(cls, u: wire.User) -> User:
        return cls(
            id=str(u["id"]),
            email=u.get("email"),
            email_verified=bool(u.get("email_verified")),
            anonymous=bool(u.get("anonymous")),
            mfa_enabled=bool(u.get("mfa_enabled")),
            disabled=bool(u.get("disabled")),
            created_at=str(u.get("created_at", "")),
            updated_at=str(u.get("updated_at", "")),
            data=dict(u.get("data") or {}),
            claims=dict(u.get("claims") or {}),
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "email_verified": self.email_verified,
            "anonymous": self.anonymous,
            "mfa_enabled": self.mfa_enabled,
            "disabled": self.disabled,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "data": self.data,
            "claims": self.claims,
        }


@dataclass(frozen=True, slots=True)
class Session:
    access_token: str
    refresh_token: str
    #: When the access token expires, in seconds since the epoch.
    expires_at: float
    user: User

    @classmethod
    def from_wire(cls, s: wire.SessionTokens) -> Session:
        return cls(
            access_token=str(s["access_token"]),
            refresh_token=str(s["refresh_token"]),
            expires_at=time.time() + float(s.get("expires_in") or 0),
            user=User.from_wire(s["user"]),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
            "user": self.user.to_wire(),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Session:
        return cls(
            access_token=str(d["access_token"]),
            refresh_token=str(d["refresh_token"]),
            expires_at=float(d["expires_at"]),
            user=User.from_wire(d["user"]),
        )


@dataclass(frozen=True, slots=True)
class MfaRequired:
    """`sign_in` of a user with MFA on: finish with `auth.mfa.verify(mfa_token=..., code=...)`."""

    mfa_token: str
    mfa_required: Literal[True] = True


@dataclass(frozen=True, slots=True)
class SignUpResult:
    user: User
    #: None when the server requires the email to be confirmed first.
    session: Session | None


@dataclass(frozen=True, slots=True)
class SessionInfo:
    id: str
    created_at: str
    last_used_at: str
    user_agent: str | None
    ip: str | None
    current: bool


@dataclass(frozen=True, slots=True)
class MfaEnrolment:
    secret: str
    otpauth_url: str
    recovery_codes: list[str]


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    bucket: str
    path: str
    size: int
    content_type: str
    etag: str
    metadata: dict[str, str]
    created_at: str
    updated_at: str

    @classmethod
    def from_wire(cls, o: wire.ObjectInfo) -> ObjectInfo:
        return cls(
            bucket=str(o["bucket"]),
            path=str(o["path"]),
            size=int(o["size"]),
            content_type=str(o.get("content_type", "")),
            etag=str(o.get("etag", "")),
            metadata=dict(o.get("metadata") or {}),
            created_at=str(o.get("created_at", "")),
            updated_at=str(o.get("updated_at", "")),
        )


@dataclass(frozen=True, slots=True)
class ObjectList:
    objects: list[ObjectInfo]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class SnapshotEvent(Generic[T]):
    """The documents matching the subscription when it started (with `snapshot=True`)."""

    documents: list[Document[T]]
    type: Literal["snapshot"] = "snapshot"


@dataclass(frozen=True, slots=True)
class ChangeEvent(Generic[T]):
    """One committed change, as this subscriber sees it (`delete` carries the last document)."""

    op: Literal["create", "update", "delete"]
    document: Document[T]
    seq: int
    type: Literal["change"] = "change"


@dataclass(frozen=True, slots=True)
class ResetEvent(Generic[T]):
    """The changes missed while away were no longer retained: these documents replace all you had."""

    documents: list[Document[T]]
    type: Literal["reset"] = "reset"


SubscriptionEvent = Union[SnapshotEvent[T], ChangeEvent[T], ResetEvent[T]]


@dataclass(frozen=True, slots=True)
class BroadcastEvent:
    event: str
    payload: Any
    #: The sender's member id.
    sender: str


@dataclass(frozen=True, slots=True)
class PresenceEvent:
    joins: dict[str, Any] = field(default_factory=dict)
    leaves: dict[str, Any] = field(default_factory=dict)
