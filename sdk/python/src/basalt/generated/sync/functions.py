# Generated from src/basalt/_async/functions.py by scripts/unasync.py: do not edit.
# Regenerate with `python scripts/unasync.py`.
from __future__ import annotations

from typing import Any

from ..._core import encode_segment, request
from .http import Transport


class Functions:
    """`client.functions`: the HTTP functions the project's admins defined."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def invoke(self, name: str, args: Any = None) -> Any:
        """`POST /v1/functions/{name}` with `args` as the body (`{}` when left out); the function's answer."""
        return self._t.json(
            request("POST", f"/v1/functions/{encode_segment(name)}", body={} if args is None else args)
        )
