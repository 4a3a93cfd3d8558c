#!/usr/bin/env python3
"""Functions against the same work without them, on one server with its
log going to a file as under systemd, measured in the same rounds:

- `POST /v1/functions/echo` (returns its arguments: the cost of a call),
- `POST /v1/functions/read` (one db.get: a function that reads),
- `POST /v1/functions/write` (one db.create: a function that writes),
  beside `GET /v1/health`, `GET /v1/db/items/{id}` and `POST /v1/db/items`;
- creates into a collection without triggers, with a no-op before-trigger,
  and with an after-trigger (which the outbox then runs for each create);
- the outbox: webhooks received at a paced 1,000 events/s (the lag from
  the change to its receipt, p50/p99), and how fast a burst of 10,000
  events is delivered.

Usage: bench/functions.py [--binary PATH] [--postgres URL] [--seconds N] [--rounds N]
Build first: cargo build --release -p basalt-server. Needs wrk (apt-get install wrk).
"""
import http.client
import http.server
import json
import os
import threading
from datetime import datetime
import shutil
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import foundation  # noqa: E402
from documents import call  # noqa: E402


def put(port, path, body, token):
    return call(port, "PUT", path, body, token)


def outbox_ok(port):
    return foundation.metric(port, 'basalt_outbox_deliveries_total{outcome="ok"}')


def outbox_depth(port):
    return foundation.metric(port, "basalt_outbox_depth")


def run(binary, database_url, seconds, rounds):
    # The benchmark's webhook receiver listens on loopback.
    proc, port, d, admin = foundation.serve_with_admin(
        binary, database_url, "basalt-fn-", {"BASALT_FUNCTIONS_ALLOW_PRIVATE_NET": "true"})
    try:
        user = call(port, "POST", "/v1/auth/signup",
                    {"email": "fn-user@example.com", "password": "bench password 1"})
        token = user["access_token"]
        call(port, "POST", "/v1/db/collections", {
            "name": "items",
            "rules": {"read": "auth != ()", "create": "auth != ()"},
        }, admin)
        item = call(port, "POST", "/v1/db/items", {"id": "one", "data": {"n": 1}}, admin)
        for name, source in (
            ("echo", "args"),
            ("read", "db.get(\"items\", \"one\")"),
            ("write", "db.create(\"items\", #{n: args.n})"),
        ):
            put(port, f"/v1/admin/functions/{name}", {"kind": "http", "invoke": "auth != ()", "source": source}, admin)
        for name in ("plain", "guarded", "watched"):
            call(port, "POST", "/v1/db/collections", {"name": name, "rules": {"create": "auth != ()"}}, admin)
        put(port, "/v1/admin/functions/noop-before",
            {"kind": "trigger", "collection": "guarded", "event": "before_create", "source": "let unchanged = true;"},
            admin)
        put(port, "/v1/admin/functions/noop-after",
            {"kind": "trigger", "collection": "watched", "event": "after_create", "source": "let seen = event.id;"},
            admin)
        ids = os.path.join(d, "ids.txt")
        with open(ids, "w") as f:
            f.write(item["id"] + "\n")
        body = json.dumps({"n": 1})
        cases = [
            ("GET /v1/health", "/v1/health", None, {}),
            ("function echo", "/v1/functions/echo", "post_json.lua", {"BENCH_BODY": body}),
            ("GET /v1/db/items/{id} (plain read)", "/v1/db/items/x", "get_by_id.lua",
             {"BENCH_IDS": ids, "BENCH_COLLECTION": "items"}),
            ("function read (db.get)", "/v1/functions/read", "post_json.lua", {"BENCH_BODY": body}),
            ("POST /v1/db/items (plain create)", "/v1/db/items", "post_json.lua",
             {"BENCH_BODY": json.dumps({"data": {"n": 1}})}),
            ("function write (db.create)", "/v1/functions/write", "post_json.lua", {"BENCH_BODY": body}),
            ("create, no trigger", "/v1/db/plain", "post_json.lua", {"BENCH_BODY": json.dumps({"data": {"n": 1}})}),
            ("create, no-op before-trigger", "/v1/db/guarded", "post_json.lua",
             {"BENCH_BODY": json.dumps({"data": {"n": 1}})}),
            ("create, after-trigger (outbox row)", "/v1/db/watched", "post_json.lua",
             {"BENCH_BODY": json.dumps({"data": {"n": 1}})}),
        ]
        # BENCH_ONLY=create measures only the cases whose label starts with it.
        only = os.environ.get("BENCH_ONLY")
        if only:
            cases = [c for c in cases if c[0].startswith(only)]
        results = {c[0]: [] for c in cases}
        # For the after-trigger: its runs done during the window (/s) and how long
        # the outbox then took to empty.
        drained = []
        for _ in range(0 if os.environ.get("BENCH_ONLY_OUTBOX") else rounds):
            for label, path, script, extra in cases:
                after = label.startswith("create, after-trigger")
                done0 = outbox_ok(port) if after else 0
                results[label].append(foundation.wrk(port, 32, 2, seconds, path, script,
                                                     {"BENCH_TOKEN": token, **extra}))
                if after:
                    done1, t1 = outbox_ok(port), time.time()
                    while outbox_depth(port) > 0 and time.time() - t1 < 300:
                        time.sleep(0.05)
                    drained.append(((done1 - done0) / seconds, time.time() - t1))
        if os.environ.get("BENCH_ONLY_OUTBOX"):
            return outbox(port, admin, token)
        rows = []
        for label, _, _, _ in cases:
            rps = statistics.median(r[0] for r in results[label])
            p50 = statistics.median(r[1] for r in results[label])
            p99 = statistics.median(r[2] for r in results[label])
            rows.append((label + ", 32 conn", f"{rps:,.0f} req/s | p50 {p50:.2f} ms | p99 {p99:.2f} ms"))
        plain = statistics.median(r[0] for r in results.get("create, no trigger", [(1,)]))
        for label in [k for k in ("create, no-op before-trigger", "create, after-trigger (outbox row)") if k in results]:
            with_trigger = statistics.median(r[0] for r in results[label])
            rows.append((label + " vs none", f"{100 * with_trigger / plain:.0f} % of the creates/s"))
        if drained:
            rows.append(("after-trigger runs done during the window",
                         f"{statistics.median(d[0] for d in drained):,.0f}/s; the rest drained in "
                         f"{statistics.median(d[1] for d in drained):.1f} s (medians)"))
        if not only:
            rows += outbox(port, admin, token)
        return rows
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(d, ignore_errors=True)


class Receiver(http.server.BaseHTTPRequestHandler):
    """Keeps (receipt time, event timestamp) of every webhook it answers."""
    # Keep-alive, as a production receiver behind a proxy would.
    protocol_version = "HTTP/1.1"
    got = []
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        now = time.time()
        stamp = json.loads(body)["timestamp"]
        with Receiver.lock:
            Receiver.got.append((now, stamp))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()


def outbox(port, admin, token):
    """Webhook receipts at a paced 1,000 events/s, and a burst of 10,000."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{server.server_address[1]}/hook"
    call(port, "POST", "/v1/db/collections", {"name": "paced", "rules": {"create": "auth != ()"}}, admin)
    put(port, "/v1/admin/webhooks/bench", {"url": hook, "events": ["paced.create"]}, admin)
    conn = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}

    def batch(n):
        ops = [{"op": "create", "collection": "paced", "data": {"n": i}} for i in range(n)]
        conn.request("POST", "/v1/db/batch", json.dumps({"operations": ops}), headers)
        res = conn.getresponse()
        res.read()
        if res.status != 200:
            sys.exit(f"batch answered {res.status}")

    def wait_for(count, limit=120):
        deadline = time.time() + limit
        while time.time() < deadline:
            with Receiver.lock:
                if len(Receiver.got) >= count:
                    return
            time.sleep(0.01)
        sys.exit(f"only {len(Receiver.got)} of {count} webhooks arrived")

    # Paced: 10 events every 10 ms for 5 s.
    Receiver.got = []
    start = time.time()
    sent = 0
    while time.time() - start < 5:
        batch(10)
        sent += 10
        pause = start + sent / 1000 - time.time()
        if pause > 0:
            time.sleep(pause)
    wait_for(sent)
    with Receiver.lock:
        got = list(Receiver.got)
    lags = sorted((t - datetime.fromisoformat(stamp).timestamp()) * 1000 for t, stamp in got)
    p50 = lags[len(lags) // 2]
    p99 = lags[int(len(lags) * 0.99)]
    rows = [(f"webhooks at {sent / 5:,.0f} events/s paced, change → receipt",
             f"p50 {p50:.1f} ms | p99 {p99:.1f} ms | {len(got):,} delivered")]
    # Burst: 10,000 events as fast as batches go, then time until all arrive.
    Receiver.got = []
    start = time.time()
    for _ in range(20):
        batch(500)
    committed = time.time() - start
    wait_for(10_000)
    took = time.time() - start
    rows.append(("webhook burst of 10,000 events",
                 f"{10_000 / took:,.0f} deliveries/s (committed in {committed:.1f} s, all received in {took:.1f} s)"))
    server.shutdown()
    return rows


def main():
    foundation.run_backends("Basalt functions", run)


if __name__ == "__main__":
    main()
