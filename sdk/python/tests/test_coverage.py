"""Every operation of the server's OpenAPI document is called by the facade or deliberately left
out (src/basalt/_unwrapped.py); every server message of the realtime protocol has a case."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from basalt._unwrapped import DELIBERATELY_UNWRAPPED, UNWRAPPED_PREFIXES
from tests.helpers import BIN

SRC = Path(__file__).resolve().parent.parent / "src/basalt"
#: What the facade's path helpers stand for.
EXPRESSIONS = {
    "self._base": {"documents.py": "/v1/db/{}", "files.py": "/v1/storage/{}"},
    "self._doc_path(id)": {"documents.py": "/v1/db/{}/{}"},
    "self._object(path)": {"files.py": "/v1/storage/{}/{}"},
}
CALL = re.compile(r'request\(\s*"([A-Z]+)",\s*(f?"[^"]*"|self\.\w+(?:\([a-z_]*\))?)')


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    out = subprocess.run([BIN, "openapi"], check=True, capture_output=True, text=True).stdout
    doc: dict[str, Any] = json.loads(out)
    return doc


def operations(spec: dict[str, Any]) -> dict[tuple[str, str], str]:
    ops = {}
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            if isinstance(op, dict) and "operationId" in op:
                ops[(method.upper(), re.sub(r"\{[^}]+\}", "{}", path))] = op["operationId"]
    return ops


def called() -> set[tuple[str, str]]:
    out = set()
    for f in sorted((SRC / "_async").glob("*.py")):
        for method, expr in CALL.findall(f.read_text()):
            if expr.startswith(('f"', '"')):
                text = expr.lstrip("f").strip('"')
                for name, by_file in EXPRESSIONS.items():
                    text = text.replace("{" + name + "}", by_file.get(f.name, "?"))
                path = re.sub(r"\{[^}]+\}", "{}", text)
            else:
                path = EXPRESSIONS[expr][f.name]
            out.add((method, path))
    return out


def test_the_facade_calls_many_operations(spec: dict[str, Any]) -> None:
    ops = operations(spec)
    assert len(ops) > 40
    assert len(called() & set(ops)) > 30


def test_every_operation_is_wrapped_or_deliberately_not(spec: dict[str, Any]) -> None:
    ops = operations(spec)
    wrapped = {ops[k] for k in called() if k in ops}
    undecided = [
        f"{op} ({m} {p})"
        for (m, p), op in ops.items()
        if op not in wrapped and op not in DELIBERATELY_UNWRAPPED and not p.startswith(tuple(UNWRAPPED_PREFIXES))
    ]
    assert undecided == []
    assert [op for op in DELIBERATELY_UNWRAPPED if op in wrapped] == []


def test_every_call_of_the_facade_is_a_route(spec: dict[str, Any]) -> None:
    ops = operations(spec)
    assert sorted(c for c in called() if c not in ops) == []


def test_every_server_message_has_a_case(spec: dict[str, Any]) -> None:
    variants = spec["components"]["schemas"]["RealtimeServerMessage"]["oneOf"]
    types = {v["properties"]["type"]["const"] for v in variants}
    assert {"subscribed", "snapshot", "change", "checkpoint", "error"} <= types
    source = (SRC / "realtime.py").read_text()
    handled = set(re.findall(r't == "([a-z_]+)"', source)) | set(
        x for group in re.findall(r"t in \(([^)]*)\)", source) for x in re.findall(r'"([a-z_]+)"', group)
    )
    assert sorted(types - handled) == []


def test_every_client_message_the_sdk_sends_is_in_the_document(spec: dict[str, Any]) -> None:
    variants = spec["components"]["schemas"]["RealtimeClientMessage"]["oneOf"]
    types = {v["properties"]["type"]["const"] for v in variants}
    sent = set(re.findall(r'\{"type": "([a-z_]+)"', (SRC / "realtime.py").read_text()))
    assert sent and sorted(sent - types) == []
    assert sorted(types - sent) == ["ping"]  # the server's own pings keep the socket alive
