"""What the tests share: a real `basalt` server started on loopback, a TCP proxy that can cut
connections, a PostgreSQL database of their own, and small tools (TOTP codes, emails)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import os
import re
import secrets
import shutil
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

BIN = os.environ.get("BASALT_BIN") or str(Path.home() / ".cache/basalt-target/debug/basalt")
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "long admin password 1"
PASSWORD = "correct horse battery"
POSTGRES_URL = os.environ.get("BASALT_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("BASALT_TEST_REQUIRE_POSTGRES") == "1"

_counter = itertools.count(1)


def unique_email(tag: str = "u") -> str:
    return f"{tag}{next(_counter)}.{os.getpid()}.{secrets.token_hex(3)}@example.com"


def unique(tag: str = "x") -> str:
    return f"{tag}{next(_counter)}_{secrets.token_hex(4)}"


def totp(secret_b32: str, step_offset: int = 0) -> str:
    """RFC 6238 (SHA-1, 30 s, 6 digits)."""
    key = base64.b32decode(secret_b32.rstrip("=").upper() + "=" * (-len(secret_b32.rstrip("=")) % 8))
    counter = int(time.time() // 30) + step_offset
    h = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    o = h[-1] & 0xF
    n = struct.unpack(">I", h[o : o + 4])[0] & 0x7FFFFFFF
    return f"{n % 1_000_000:06d}"


def sync_wait_for(cond: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


async def async_wait_for(cond: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@dataclass
class Server:
    url: str
    port: int
    data_dir: Path
    service_key: str
    process: subprocess.Popen[bytes]
    log_path: Path
    own_dir: bool = True
    _http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """A request with the service key; fails the test on a non-2xx answer."""
        r = self._http.request(
            method,
            self.url + path,
            headers={"authorization": f"Bearer {self.service_key}"},
            **({"json": body} if body is not None else {}),
        )
        if r.status_code >= 300:
            raise AssertionError(f"{method} {path}: {r.status_code} {r.text}")
        return r.json() if r.content else None

    def mail_token(self, to: str, subject: str | None = None) -> str:
        """The token of the newest outbox mail to `to` (waits for it)."""
        for _ in range(200):
            items = self.admin("GET", "/v1/admin/outbox")["items"]
            for it in items:
                if it["to"] == to and it.get("token") and (subject is None or re.search(subject, it["subject"], re.I)):
                    return str(it["token"])
            time.sleep(0.05)
        raise AssertionError(f"no mail to {to}")

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text("utf-8", "replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        self._http.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def start_server(
    args: list[str] | None = None,
    *,
    database_url: str | None = None,
    join_key: str | None = None,
    env: dict[str, str] | None = None,
) -> Server:
    """`basalt serve` on 127.0.0.1 and a free port, with a fresh data directory (and database).

    `join_key`: another node of a project whose database exists (no admin or key created).
    """
    data_dir = Path(tempfile.mkdtemp(prefix="basalt-py-test-"))
    where = ["--data-dir", str(data_dir)] + (["--database-url", database_url] if database_url else [])
    full_env = {**os.environ, "BASALT_LOG": "warn", **(env or {})}
    key = join_key
    if key is None:
        subprocess.run(
            [BIN, "admin", "create", "--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD, *where],
            env=full_env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        out = subprocess.run(
            [BIN, "keys", "create", "--name", "sdk-tests", *where],
            env=full_env,
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
        m = re.search(r"bsk_[A-Za-z0-9_-]+", out)
        assert m, f"no service key in: {out}"
        key = m.group(0)
    log_path = data_dir / "server.log"
    out_path = data_dir / "server.out"
    with log_path.open("ab") as err, out_path.open("ab") as out_f:
        proc = subprocess.Popen(
            [BIN, "serve", "--http", "127.0.0.1:0", *where, *(args or [])],
            env=full_env,
            stdout=out_f,
            stderr=err,
            stdin=subprocess.DEVNULL,
        )
    port = 0
    deadline = time.monotonic() + 30
    while not port:
        if proc.poll() is not None:
            raise RuntimeError(f"basalt exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"basalt did not start: {log_path.read_text()[-2000:]}")
        m = re.search(r"listening on\s+http://127\.0\.0\.1:(\d+)", out_path.read_text("utf-8", "replace"))
        if m:
            port = int(m.group(1))
        else:
            time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            if httpx.get(f"{url}/v1/health/ready", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("basalt never became ready")
        time.sleep(0.05)
    return Server(url=url, port=port, data_dir=data_dir, service_key=key, process=proc, log_path=log_path)


# ---- PostgreSQL ------------------------------------------------------------------------------


def _psql(url: str, sql: str) -> str:
    return subprocess.run(
        ["psql", url, "-v", "ON_ERROR_STOP=1", "-tAc", sql], check=True, capture_output=True, text=True, timeout=30
    ).stdout


def postgres_problem() -> str | None:
    """None when PostgreSQL answers; else why not."""
    try:
        return None if _psql(POSTGRES_URL, "SELECT 1").strip() == "1" else "SELECT 1 did not answer 1"
    except (OSError, subprocess.SubprocessError) as e:
        detail = getattr(e, "stderr", "") or str(e)
        return f"PostgreSQL at {POSTGRES_URL} is unreachable: {str(detail).strip()}"


@dataclass
class Database:
    name: str
    url: str

    def query(self, sql: str) -> str:
        return _psql(self.url, sql).strip()

    def drop(self) -> None:
        _psql(POSTGRES_URL, f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


def create_database() -> Database:
    """A new, empty database for this run (`basalt_py_<random>`); `drop()` removes it."""
    name = f"basalt_py_{secrets.token_hex(6)}"
    _psql(POSTGRES_URL, f"CREATE DATABASE {name}")
    parts = urlsplit(POSTGRES_URL)
    return Database(name=name, url=urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, "")))


# ---- a TCP proxy that can cut -----------------------------------------------------------------

_REQUEST_LINE = re.compile(rb"(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (\S+) HTTP/1\.[01]\r\n")


class Proxy:
    """A TCP proxy on 127.0.0.1 (asyncio, on a thread of its own) that a test can cut.

    `cut()` drops every open connection and refuses new ones until `restore()`; `retarget(port)`
    sends new connections elsewhere. `requests` lists the HTTP request lines that went through.
    """

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.down = False
        self.requests: list[str] = []
        self.connections = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="test-proxy", daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        self.port: int = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    async def _start(self) -> asyncio.Server:
        return await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, sniff: bool) -> None:
            try:
                while data := await src.read(65536):
                    if sniff:
                        for m in _REQUEST_LINE.finditer(data[:4096]):
                            self.requests.append(f"{m.group(1).decode()} {m.group(2).decode()}")
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                dst.transport.abort()
                src_writer = writer if src is reader else up_writer
                src_writer.transport.abort()

        await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))
        self._writers.discard(writer)
        self._writers.discard(up_writer)

    def _cut(self) -> None:
        self.down = True
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    def cut(self) -> None:
        """Drops every connection (both directions, at once) and refuses new ones."""
        self._loop.call_soon_threadsafe(self._cut)
        time.sleep(0.05)

    def restore(self) -> None:
        self.down = False

    def retarget(self, port: int) -> None:
        self.target = port

    def count(self, request: str) -> int:
        return sum(1 for r in self.requests if r == request)

    def close(self) -> None:
        async def stop() -> None:
            self._cut()
            self._server.close()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in others:
                t.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
