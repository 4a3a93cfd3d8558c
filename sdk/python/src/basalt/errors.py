"""Every failure of the SDK raises `BasaltError`."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["BasaltError"]

_STATUS_CODES: dict[int, str] = {
    400: "invalid_argument",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "already_exists",
    412: "failed_precondition",
    413: "payload_too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    422: "validation_failed",
    429: "rate_limited",
    503: "unavailable",
}


class BasaltError(Exception):
    """A refusal of the server, a network failure or a misuse of the SDK.

    `status` is the HTTP status, or 0 when no answer arrived (`code` is then `network`,
    `closed` or `invalid_argument` for an argument the SDK refused before sending).
    `code` is a code of the server's error table (`not_found`, `failed_precondition`, ...).
    """

    status: int
    code: str
    message: str
    details: dict[str, Any]
    request_id: str | None

    def __init__(
        self,
        *,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details if details is not None else {}
        self.request_id = request_id

    def __str__(self) -> str:
        where = f" (request {self.request_id})" if self.request_id else ""
        return f"{self.code}: {self.message}{where}"

    def __repr__(self) -> str:
        return (
            f"BasaltError(status={self.status}, code={self.code!r}, message={self.message!r}, "
            f"details={self.details!r}, request_id={self.request_id!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.status, self.code, self.message, self.details, self.request_id))


def _rebuild(status: int, code: str, message: str, details: dict[str, Any], request_id: str | None) -> BasaltError:
    return BasaltError(status=status, code=code, message=message, details=details, request_id=request_id)


def error_from_response(status: int, request_id: str | None, text: str) -> BasaltError:
    """The error of a non-2xx answer, from its status and body (the API's error envelope)."""
    code = _STATUS_CODES.get(status, "internal" if status >= 500 else "unknown")
    message = text[:500] if text else f"HTTP {status}"
    details: dict[str, Any] = {}
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        if isinstance(err.get("code"), str):
            code = err["code"]
        if isinstance(err.get("message"), str):
            message = err["message"]
        if isinstance(err.get("details"), dict):
            details = err["details"]
    return BasaltError(status=status, code=code, message=message, details=details, request_id=request_id)


def network_error(cause: BaseException) -> BasaltError:
    err = BasaltError(status=0, code="network", message=f"network failure: {cause or type(cause).__name__}")
    err.__cause__ = cause
    return err


def closed_error() -> BasaltError:
    return BasaltError(status=0, code="closed", message="the client is closed")


def argument_error(message: str) -> BasaltError:
    return BasaltError(status=0, code="invalid_argument", message=message)
