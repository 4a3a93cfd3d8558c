"""A 200 MB file up and down, sync and async, with the peak RSS of this process measured: the
bytes stream in chunks, so memory stays flat (far below the file's size)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from basalt import AsyncClient, Client
from tests.helpers import Server, unique

SIZE = 200 * 1024 * 1024
#: What the upload or the download may add to the process's peak RSS.
BUDGET = 48 * 1024 * 1024


@dataclass
class BigFile:
    path: Path
    sha256: str


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/self/status")


def _reset_peak() -> int:
    """Resets VmHWM to the current RSS (Linux: `5` into clear_refs) and returns that RSS in bytes."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kib("VmRSS") * 1024


def _peak_since(base: int) -> int:
    return _status_kib("VmHWM") * 1024 - base


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> BigFile:
    path = tmp_path_factory.mktemp("big") / "200mb.bin"
    h = hashlib.sha256()
    block = os.urandom(1 << 20)
    with path.open("wb") as f:
        for i in range(SIZE >> 20):
            chunk = i.to_bytes(8, "big") + block[8:]  # every MiB differs
            h.update(chunk)
            f.write(chunk)
    return BigFile(path, h.hexdigest())


def _report(capsys: pytest.CaptureFixture[str], what: str, up: int, down: int) -> None:
    with capsys.disabled():
        print(f"\n{what}: 200 MB upload peak RSS +{up / 2**20:.1f} MiB, download peak RSS +{down / 2**20:.1f} MiB")


def test_200mb_sync(server: Server, big_file: BigFile, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Client(server.url, key=server.service_key, timeout=300) as c:
        bucket = c.storage.bucket("files")
        name = f"{unique('big')}/sync.bin"
        base = _reset_peak()
        info = bucket.upload(name, big_file.path, content_type="application/octet-stream")
        up = _peak_since(base)
        assert info.size == SIZE
        out = tmp_path / "down.bin"
        base = _reset_peak()
        assert bucket.download_to(name, out) == SIZE
        down = _peak_since(base)
        assert _sha256(out) == big_file.sha256
        # The control: `download` holds the whole file, and the measurement sees it.
        base = _reset_peak()
        whole = bucket.download(name)
        whole_peak = _peak_since(base)
        assert len(whole) == SIZE and hashlib.sha256(whole).hexdigest() == big_file.sha256
        del whole
        bucket.remove(name)
    _report(capsys, "sync", up, down)
    with capsys.disabled():
        print(f"control: download() into memory peak RSS +{whole_peak / 2**20:.1f} MiB")
    assert whole_peak > SIZE
    assert up < BUDGET and down < BUDGET


async def test_200mb_async(
    server: Server, big_file: BigFile, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with AsyncClient(server.url, key=server.service_key, timeout=300) as c:
        bucket = c.storage.bucket("files")
        name = f"{unique('big')}/async.bin"
        loaded: list[int] = []
        base = _reset_peak()
        with big_file.path.open("rb") as f:
            info = await bucket.upload(name, f, on_progress=lambda n, total: loaded.append(n))
        up = _peak_since(base)
        assert info.size == SIZE and loaded[-1] == SIZE
        out = tmp_path / "down.bin"
        base = _reset_peak()
        with out.open("wb") as target:
            assert await bucket.download_to(name, target) == SIZE
        down = _peak_since(base)
        assert _sha256(out) == big_file.sha256
        await bucket.remove(name)
    _report(capsys, "async", up, down)
    assert up < BUDGET and down < BUDGET
