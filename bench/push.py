#!/usr/bin/env python3
"""Push notifications end to end, on one server with its log going to a
file as under systemd: a send from `POST /v1/admin/push` to 1,000 Web Push
devices (20 users with 50 browsers each) on a local push service that
answers 201 at once, in rounds. For each round: the time until the send
was one delivery per device (fan-out), until the last device had it, and
the devices per second; over all rounds, the median of each and the p50
and p99 of a device's wait from the POST.

The receiver does not decrypt (tests/push-services does, in the tests):
what is measured is Basalt, which encrypts each payload for its browser
(RFC 8291) and signs VAPID tokens (once per push service and 11 hours).

Usage: bench/push.py [--binary PATH] [--postgres URL] [--rounds N]
Build first: cargo build --release -p basalt-server.
"""
import base64
import http.server
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import foundation  # noqa: E402
from documents import call  # noqa: E402

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

USERS = 20
PER_USER = 50


class Receiver(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512

    def __init__(self):
        self.lock = threading.Lock()
        self.arrivals = []  # (time, device)
        super().__init__(("127.0.0.1", 0), Handler)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", "0")))
        with self.server.lock:
            self.server.arrivals.append((time.perf_counter(), self.path))
        self.send_response(201)
        self.send_header("content-length", "0")
        self.end_headers()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def run(binary, database_url, _seconds, rounds):
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    proc, port, _, admin = foundation.serve_with_admin(binary, database_url, "basalt-push-", {
        "BASALT_FUNCTIONS_ALLOW_PRIVATE_NET": "true", "BASALT_PUSH_RATE_PER_USER": "0"})
    try:
        users = []
        for u in range(USERS):
            signed = call(port, "POST", "/v1/auth/signup",
                          {"email": f"push{u}@example.com", "password": "bench password 1"})
            users.append(signed["user"]["id"])
            for i in range(PER_USER):
                key = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
                    serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
                call(port, "POST", "/v1/push/subscriptions", {
                    "kind": "webpush",
                    "endpoint": f"http://127.0.0.1:{receiver.server_port}/wp/{u}-{i}",
                    "keys": {"p256dh": b64url(key), "auth": b64url(os.urandom(16))},
                }, signed["access_token"])
        devices = USERS * PER_USER
        fanned, last, rates, waits = [], [], [], []
        for r in range(rounds + 1):  # the first round warms up
            with receiver.lock:
                receiver.arrivals.clear()
            t0 = time.perf_counter()
            sent = call(port, "POST", "/v1/admin/push", {
                "user_ids": users,
                "notification": {"title": f"Round {r}", "body": "x" * 200, "url": "/inbox"},
            }, admin)
            fan = None
            while True:
                report = call(port, "GET", f"/v1/admin/push/{sent['id']}?limit=1", None, admin)
                if fan is None and report["status"] != "queued":
                    fan = time.perf_counter() - t0
                if report["status"] == "done":
                    break
                if time.perf_counter() - t0 > 120:
                    sys.exit(f"round {r} did not finish: {report['counts']}")
                time.sleep(0.005)
            with receiver.lock:
                arrivals = list(receiver.arrivals)
            if report["counts"]["ok"] != devices or len(arrivals) < devices:
                sys.exit(f"round {r}: {report['counts']}, {len(arrivals)} arrivals")
            end = max(t for t, _ in arrivals) - t0
            if r == 0:
                continue
            fanned.append(fan * 1000)
            last.append(end * 1000)
            rates.append(devices / end)
            waits += [(t - t0) * 1000 for t, _ in arrivals]
        waits.sort()
        rss = foundation.rss_kib(proc.pid) / 1024
        return [
            ("devices per send", f"{devices} ({USERS} users × {PER_USER})"),
            ("send → one delivery per device (fan-out), median", f"{statistics.median(fanned):.0f} ms"),
            ("send → last device, median", f"{statistics.median(last):.0f} ms"),
            ("devices per second, median", f"{statistics.median(rates):.0f}"),
            ("a device's wait from the POST, p50 / p99",
             f"{waits[len(waits) // 2]:.0f} / {waits[int(len(waits) * 0.99)]:.0f} ms"),
            ("server RSS after the rounds", f"{rss:.0f} MiB"),
        ]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        receiver.shutdown()


if __name__ == "__main__":
    foundation.run_backends("Push: one send to 1,000 Web Push devices", run)
