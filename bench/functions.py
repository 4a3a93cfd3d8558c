#!/usr/bin/env python3
"""HTTP function calls per second, against the same work done by a plain
route, on one server with its log going to a file as under systemd:

- `POST /v1/functions/echo` (returns its arguments: the cost of a call),
- `POST /v1/functions/read` (one db.get: a function that reads),
- `POST /v1/functions/write` (one db.create: a function that writes),
- beside `GET /v1/health`, `GET /v1/db/items/{id}` and `POST /v1/db/items`
  by the same user, measured in the same rounds.

Usage: bench/functions.py [--binary PATH] [--postgres URL] [--seconds N] [--rounds N]
Build first: cargo build --release -p basalt-server. Needs wrk (apt-get install wrk).
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import foundation  # noqa: E402
from documents import call  # noqa: E402
from foundation import free_port, get  # noqa: E402


def put(port, path, body, token):
    return call(port, "PUT", path, body, token)


def run(binary, database_url, seconds, rounds):
    d = tempfile.mkdtemp(prefix="basalt-fn-")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASALT_")}
    env["BASALT_LOG"] = "info"
    env["BASALT_LOGIN_RATE_LIMIT"] = "0"
    args = [binary, "serve", "--http", f"127.0.0.1:{port}", "--data-dir", d]
    if database_url:
        args += ["--database-url", foundation.reset_postgres(database_url)]
    log = open(os.path.join(d, "server.log"), "wb")
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.time() + 30
        while True:
            try:
                if get(port, "/v1/health/ready", timeout=0.5) == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline or proc.poll() is not None:
                sys.exit("basalt did not start")
            time.sleep(0.01)
        cli = [binary, "admin", "create", "--data-dir", d, "--email", "bench@example.com",
               "--password", "bench password 1"]
        if database_url:
            cli += ["--database-url", args[-1]]
        subprocess.run(cli, check=True, capture_output=True, env=env)
        admin = call(port, "POST", "/v1/admin/login",
                     {"email": "bench@example.com", "password": "bench password 1"})["access_token"]
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
        ]
        results = {c[0]: [] for c in cases}
        for _ in range(rounds):
            for label, path, script, extra in cases:
                results[label].append(foundation.wrk(port, 32, 2, seconds, path, script,
                                                     {"BENCH_TOKEN": token, **extra}))
        rows = []
        for label, _, _, _ in cases:
            rps = statistics.median(r[0] for r in results[label])
            p50 = statistics.median(r[1] for r in results[label])
            p99 = statistics.median(r[2] for r in results[label])
            rows.append((label + ", 32 conn", f"{rps:,.0f} req/s | p50 {p50:.2f} ms | p99 {p99:.2f} ms"))
        return rows
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        shutil.rmtree(d, ignore_errors=True)


def main():
    foundation.run_backends("Basalt functions", run)


if __name__ == "__main__":
    main()
