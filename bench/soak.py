#!/usr/bin/env python3
"""Soak: mixed load for a long while, watching the server for growth.

Runs `basalt serve` (SQLite, logs to a file in its data directory) under a
steady mix of auth (sign-ups, logins, refreshes), documents (create, get,
patch, query), files (upload, download, delete) and realtime (subscribers
that keep reading, and sockets that come and go), and samples the server's
RSS and open file descriptors every 10 s. After a warm-up, the growth is the
least-squares trend over the rest of the run, as a share of the mean: it
should stay within 5 %.

Usage: bench/soak.py [--binary PATH] [--minutes N] [--warmup MIN]
Build first: cargo build --release -p basalt-server
"""
import argparse
import base64
import http.client
import json
import os
import platform
import random
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from foundation import default_binary, free_port, rss_kib  # noqa: E402

PASSWORD = "correct horse battery"
STOP = threading.Event()
COUNTS = {"auth": 0, "documents": 0, "files": 0, "realtime_events": 0, "sockets_opened": 0, "errors": 0}
LOCK = threading.Lock()


def count(kind, n=1):
    with LOCK:
        COUNTS[kind] += n


class Api:
    """One keep-alive connection."""

    def __init__(self, port, token=None):
        self.port, self.token = port, token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method, path, body=None, raw=None, ctype="application/json"):
        headers = {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = ctype
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                payload = r.read()
                return r.status, payload
            except (http.client.HTTPException, OSError):
                # The server closes keep-alive connections idle past its header timeout.
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def json(self, method, path, body=None, want=(200, 201)):
        status, payload = self.call(method, path, body)
        if status not in want:
            count("errors")
            raise RuntimeError(f"{method} {path}: {status} {payload[:200]!r}")
        return json.loads(payload) if payload else None


def ws_connect(port, token):
    """A minimal RFC 6455 client: the handshake, then text frames."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(
        (
            f"GET /v1/realtime?token={token} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError("handshake refused")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(head.split(b"\r\n")[0].decode())
    rest = head.split(b"\r\n\r\n", 1)[1]
    count("sockets_opened")
    return s, bytearray(rest)


def ws_send(s, opcode, payload):
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    s.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def ws_frames(s, buf):
    """Frames already in `buf` after reading what is there; answers pings."""
    chunk = s.recv(65536)
    if not chunk:
        raise RuntimeError("socket closed")
    buf += chunk
    out = []
    while len(buf) >= 2:
        opcode, n, at = buf[0] & 0x0F, buf[1] & 0x7F, 2
        if n == 126:
            if len(buf) < 4:
                break
            n, at = int.from_bytes(buf[2:4], "big"), 4
        elif n == 127:
            if len(buf) < 10:
                break
            n, at = int.from_bytes(buf[2:10], "big"), 10
        if len(buf) < at + n:
            break
        payload = bytes(buf[at : at + n])
        del buf[: at + n]
        if opcode == 0x9:
            ws_send(s, 0xA, payload)
        elif opcode == 0x8:
            raise RuntimeError("socket closed by the server")
        elif opcode == 0x1:
            out.append(payload)
    return out


def subscriber(port, token, lifetime):
    """Subscribes to `notes` and reads until `lifetime` seconds pass (None: the whole run)."""
    born = time.time()
    while not STOP.is_set():
        try:
            s, buf = ws_connect(port, token)
            ws_send(s, 0x1, json.dumps({"type": "subscribe", "id": "s", "collection": "notes"}).encode())
            while not STOP.is_set() and (lifetime is None or time.time() - born < lifetime):
                ready, _, _ = select.select([s], [], [], 1.0)
                if ready:
                    events = sum(1 for f in ws_frames(s, buf) if b'"change"' in f)
                    count("realtime_events", events)
            s.close()
            if lifetime is not None:
                return
        except Exception:
            count("errors")
            time.sleep(1)


def user(port, admin_token, n):
    """One app user: signs up, then writes, reads, queries, refreshes."""
    api = Api(port)
    email = f"soak{n}-{random.randrange(1 << 30)}@example.com"
    session = api.json("POST", "/v1/auth/signup", {"email": email, "password": PASSWORD})
    count("auth")
    api.token = session["access_token"]
    refresh = session["refresh_token"]
    mine = []
    i = 0
    while not STOP.is_set():
        i += 1
        try:
            doc = api.json("POST", "/v1/db/notes", {"data": {"owner": session["user"]["id"], "i": i, "text": "x" * 300}})
            mine.append(doc["id"])
            api.json("GET", f"/v1/db/notes/{random.choice(mine)}")
            api.json("PATCH", f"/v1/db/notes/{random.choice(mine)}", {"increment": {"i": 1}})
            api.json("POST", "/v1/db/notes/query", {"where": [["owner", "==", session["user"]["id"]]], "limit": 20})
            count("documents", 4)
            if len(mine) > 200:
                api.json("DELETE", f"/v1/db/notes/{mine.pop(0)}", want=(200, 204))
                count("documents")
            if i % 50 == 0:
                s = api.json("POST", "/v1/auth/refresh", {"refresh_token": refresh})
                api.token, refresh = s["access_token"], s["refresh_token"]
                Api(port).json("POST", "/v1/auth/login", {"email": email, "password": PASSWORD})
                count("auth", 2)
        except Exception as e:
            if not STOP.is_set():
                print(f"user {n}: {e}", file=sys.stderr)
            time.sleep(1)


def files(port, admin_token):
    api = Api(port, admin_token)
    blob = os.urandom(64 * 1024)
    i = 0
    while not STOP.is_set():
        i += 1
        try:
            path = f"/v1/storage/soak/f{i % 100}.bin"
            status, _ = api.call("PUT", path, raw=blob, ctype="application/octet-stream")
            status2, got = api.call("GET", path)
            if status != 201 or status2 != 200 or got != blob:
                count("errors")
            if i % 10 == 0:
                api.call("DELETE", path)
            count("files", 2)
            time.sleep(0.05)
        except Exception:
            count("errors")
            time.sleep(1)


def sample(pid):
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss_kib(pid), fds


def trend(xs, ys):
    """Least-squares growth over the span, as a share of the mean."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return slope * (xs[-1] - xs[0]) / my


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=default_binary())
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--users", type=int, default=6)
    ap.add_argument("--subscribers", type=int, default=50)
    args = ap.parse_args()
    data = tempfile.mkdtemp(prefix="basalt-soak-")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASALT_")}
    env.update(BASALT_LOG="info", BASALT_LOGIN_RATE_LIMIT="0")
    subprocess.run(
        [args.binary, "admin", "create", "--email", "ops@example.com", "--data-dir", data],
        input=PASSWORD.encode(), env=env, check=True, capture_output=True,
    )
    log = open(os.path.join(data, "server.log"), "w")
    server = subprocess.Popen(
        [args.binary, "serve", "--http", f"127.0.0.1:{port}", "--data-dir", data],
        env=env, stdout=log, stderr=log,
    )
    try:
        for _ in range(200):
            try:
                Api(port).call("GET", "/v1/health/ready")
                break
            except OSError:
                time.sleep(0.05)
        admin = Api(port)
        admin.token = admin.json("POST", "/v1/admin/login", {"email": "ops@example.com", "password": PASSWORD})["access_token"]
        admin.json("POST", "/v1/db/collections", {
            "name": "notes",
            "rules": {"read": "auth != () && doc.data.owner == auth.uid", "create": "auth != () && data.owner == auth.uid",
                      "update": "doc.data.owner == auth.uid", "delete": "doc.data.owner == auth.uid"},
            "indexes": [{"fields": [["owner", "asc"]]}],
        })
        admin.json("POST", "/v1/storage/buckets", {"name": "soak"})
        threads = [threading.Thread(target=user, args=(port, admin.token, n), daemon=True) for n in range(args.users)]
        threads += [threading.Thread(target=subscriber, args=(port, admin.token, None), daemon=True) for _ in range(args.subscribers)]
        threads.append(threading.Thread(target=files, args=(port, admin.token), daemon=True))
        for t in threads:
            t.start()

        def churn():
            # Sockets that come and go: 5 every 10 s, each living 10 to 30 s.
            while not STOP.is_set():
                for _ in range(5):
                    threading.Thread(target=subscriber, args=(port, admin.token, random.uniform(10, 30)), daemon=True).start()
                STOP.wait(10)

        threading.Thread(target=churn, daemon=True).start()
        start = time.time()
        samples = []
        print("| minute | RSS MiB | open fds | auth | documents | files | realtime events | sockets opened | errors |")
        print("|---|---|---|---|---|---|---|---|---|")
        while time.time() - start < args.minutes * 60:
            time.sleep(10)
            rss, fds = sample(server.pid)
            t = time.time() - start
            samples.append((t, rss, fds))
            if len(samples) % 6 == 0:
                with LOCK:
                    c = dict(COUNTS)
                print(f"| {t / 60:.0f} | {rss / 1024:.1f} | {fds} | {c['auth']} | {c['documents']} | {c['files']} | "
                      f"{c['realtime_events']} | {c['sockets_opened']} | {c['errors']} |", flush=True)
        STOP.set()
        after = [s for s in samples if s[0] >= args.warmup * 60]
        xs = [s[0] for s in after]
        rss_growth = trend(xs, [s[1] for s in after])
        fd_growth = trend(xs, [s[2] for s in after])
        print()
        print(f"machine: {os.cpu_count()} CPUs, {platform.platform()}; {args.minutes:g} min, warm-up {args.warmup:g} min, "
              f"{args.users} users, {args.subscribers} steady subscribers, 5 sockets churned every 10 s")
        print(f"RSS after warm-up: {min(s[1] for s in after) / 1024:.1f} to {max(s[1] for s in after) / 1024:.1f} MiB, "
              f"trend {rss_growth * 100:+.1f} % over the run")
        print(f"open fds after warm-up: {min(s[2] for s in after)} to {max(s[2] for s in after)}, trend {fd_growth * 100:+.1f} %")
        ok = abs(rss_growth) <= 0.05 and abs(fd_growth) <= 0.05
        print("within 5 %" if ok else "GROWTH beyond 5 %")
        print(f"server log: {os.path.join(data, 'server.log')}")
        return 0 if ok else 1
    finally:
        STOP.set()
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
