#!/usr/bin/env python3
"""Document store benchmark over HTTP, with wrk on the same machine.

For SQLite (and PostgreSQL with --postgres URL): seeds a `posts` collection
with an owner rule (read/create/update/delete: `doc.data.owner == auth.uid`)
and an index on [owner asc, created_at desc] to --docs documents (default
100,000), then measures as an app user, at 1 and 32 connections:
  - GET /v1/health (the same binary's ceiling, for comparison)
  - GET /v1/db/posts/{id}        (get by id, the rule allowing)
  - POST /v1/db/posts/query      (owner == me, order created_at desc, limit 20)
  - POST /v1/db/posts            (create)
Prints a Markdown table: req/s, p50, p99.

Usage: bench/documents.py [--binary PATH] [--postgres URL] [--seconds N] [--docs N] [--log LEVEL]
Build first: cargo build --release -p basalt-server. Needs wrk (apt-get install wrk).
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import foundation  # noqa: E402
from foundation import default_binary, free_port, reset_postgres, rss_kib  # noqa: E402



def call(port, method, path, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read() or b"null")


def wrk(port, path, connections, seconds, script=None, env=None):
    return foundation.wrk(port, connections, 1 if connections == 1 else 2, seconds, path, script, env)


def seed(port, admin, uid, docs):
    """`docs` posts; every 100th is the bench user's, the rest spread over 999 other owners."""
    call(port, "POST", "/v1/db/collections", {
        "name": "posts",
        "rules": {
            "read": "auth != () && doc.data.owner == auth.uid",
            "create": "auth != () && data.owner == auth.uid",
            "update": "auth != () && doc.data.owner == auth.uid",
            "delete": "auth != () && doc.data.owner == auth.uid",
        },
        "indexes": [{"fields": [["owner", "asc"], ["created_at", "desc"]]}],
    }, admin)
    mine = []
    t0 = time.perf_counter()
    for start_at in range(0, docs, 500):
        ops = []
        for n in range(start_at, min(docs, start_at + 500)):
            owner = uid if n % 100 == 0 else f"user{n % 999}"
            ops.append({"op": "create", "collection": "posts",
                        "data": {"owner": owner, "title": f"post number {n}", "n": n, "tags": ["a", "b"]}})
        for doc in call(port, "POST", "/v1/db/batch", {"operations": ops}, admin)["results"]:
            if doc["data"]["owner"] == uid:
                mine.append(doc["id"])
    return mine, time.perf_counter() - t0


def run(binary, database_url, seconds, docs, log):
    rows = []
    with tempfile.TemporaryDirectory() as d:
        port = free_port()
        db = reset_postgres(database_url) if database_url else None
        proc, _ = foundation.start(binary, d, port, db, log)
        try:
            cli = [binary, "admin", "create", "--data-dir", d, "--email", "bench@example.com",
                   "--password", "bench password 1"]
            if db:
                cli += ["--database-url", db]
            subprocess.run(cli, check=True, capture_output=True)
            admin = call(port, "POST", "/v1/admin/login",
                         {"email": "bench@example.com", "password": "bench password 1"})["access_token"]
            user = call(port, "POST", "/v1/auth/signup",
                        {"email": "app-user@example.com", "password": "bench password 1"})
            token, uid = user["access_token"], user["user"]["id"]
            mine, secs = seed(port, admin, uid, docs)
            rows.append((f"seed {docs:,} documents in batches of 500", f"{docs / secs:,.0f} docs/s"))
            rows.append(("RSS after seeding", f"{rss_kib(proc.pid) / 1024:.1f} MiB"))
            ids_file = os.path.join(d, "ids.txt")
            with open(ids_file, "w") as f:
                f.write("\n".join(mine) + "\n")
            env = {"BENCH_TOKEN": token, "BENCH_IDS": ids_file, "BENCH_COLLECTION": "posts"}
            query = {"where": [["owner", "==", uid]], "order_by": [["created_at", "desc"]], "limit": 20}
            create = {"data": {"owner": uid, "title": "a new post", "n": 1, "tags": ["x"]}}
            for conns in (1, 32):
                health = wrk(port, "/v1/health", conns, seconds)
                get = wrk(port, "/v1/db/posts/x", conns, seconds, "get_by_id.lua", env)
                q = wrk(port, "/v1/db/posts/query", conns, seconds, "post_json.lua",
                        {**env, "BENCH_BODY": json.dumps(query)})
                c = wrk(port, "/v1/db/posts", conns, seconds, "post_json.lua",
                        {**env, "BENCH_BODY": json.dumps(create)})
                for name, r in (("GET /v1/health", health), ("get by id", get),
                                ("indexed query (owner == me, created_at desc, limit 20)", q),
                                ("create", c)):
                    rows.append((f"{name}, {conns} conn", f"{r[0]:,.0f} req/s | p50 {r[1]:.2f} ms | p99 {r[2]:.2f} ms"))
                rows.append((f"get by id / health, {conns} conn", f"{100 * get[0] / health[0]:.0f} %"))
            rows.append(("RSS after the load", f"{rss_kib(proc.pid) / 1024:.1f} MiB"))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=default_binary())
    ap.add_argument("--postgres", default=None, help="postgres://… server URL to also run on PostgreSQL")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--log", default="info", help="BASALT_LOG for the server (default info: a line per request)")
    a = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk")
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    print(f"Machine: {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}; "
          f"wrk on the same machine; log={a.log}; {a.seconds} s per run")
    backends = [("SQLite", None)] + ([("PostgreSQL", a.postgres)] if a.postgres else [])
    for name, url in backends:
        print(f"\n### {name}\n\n| measure | value |\n|---|---|")
        for k, v in run(a.binary, url, a.seconds, a.docs, a.log):
            print(f"| {k} | {v} |", flush=True)


if __name__ == "__main__":
    main()
