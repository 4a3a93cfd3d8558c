"""The guide's first program (docs/sdk-python.md), run as written against the test server."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import Server, unique_email

GUIDE = Path(__file__).resolve().parents[3] / "docs/sdk-python.md"


def _block_after(marker: str) -> str:
    text = GUIDE.read_text("utf-8")
    at = text.index(marker)
    m = re.compile(r"```python\n(.*?)```", re.S).search(text, at)
    assert m, f"no python block after {marker!r}"
    return m.group(1)


@pytest.fixture(scope="module")
def todos(server: Server) -> None:
    setup = _block_after("a few lines of Python do it")
    setup = setup.replace('KEY = "bsk_…"', f'KEY = "{server.service_key}"').replace("http://127.0.0.1:8090", server.url)
    exec(compile(setup, "sdk-python.md (setup)", "exec"), {})


def test_the_live_subscription_program_prints_what_the_guide_says(server: Server, todos: None, tmp_path: Path) -> None:
    program = _block_after("Then, in your program (`live.py`):")
    email = unique_email("guide")
    program = program.replace("http://127.0.0.1:8090", server.url).replace("ada@example.com", email)
    path = tmp_path / "live.py"
    path.write_text(program)
    r = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["now: []", "create buy milk"]
    # The sync example after it, signed in as the same user.
    sync = _block_after("The same with the sync client:")
    sync = sync.replace("http://127.0.0.1:8090", server.url).replace("ada@example.com", email)
    path.write_text(sync)
    r = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "['buy milk']" and lines[1].startswith("SnapshotEvent(")
