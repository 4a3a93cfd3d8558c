#!/usr/bin/env python3
"""What logging costs: GET /v1/health and get by id (an owner rule) at 1 and
32 connections, with the server log and the request log in each setting an
operator might choose, all servers' stderr going to a file as under systemd
or Docker. The servers run side by side and are measured in turn, round
after round, so drift on a shared machine touches every setting alike.

Settings: off (BASALT_LOG=off, request_log=false), text (the default: info
lines as text, request log on), text without the request log, json, json
without the request log. Also the request log's write rate and drops.

Usage: bench/observability.py [--binary PATH] [--postgres URL] [--seconds N] [--rounds N]
Build first: cargo build --release -p basalt-server. Needs wrk (apt-get install wrk).
"""
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

SETTINGS = [
    ("off", {"BASALT_LOG": "off", "BASALT_REQUEST_LOG": "false"}),
    ("text (default)", {"BASALT_LOG": "info"}),
    ("text, no request log", {"BASALT_LOG": "info", "BASALT_REQUEST_LOG": "false"}),
    ("json", {"BASALT_LOG": "info", "BASALT_LOG_FORMAT": "json"}),
    ("json, no request log", {"BASALT_LOG": "info", "BASALT_LOG_FORMAT": "json", "BASALT_REQUEST_LOG": "false"}),
]


class Server:
    def __init__(self, binary, name, env_extra, database_url):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="basalt-obs-")
        self.port = free_port()
        self.db = database_url
        env = {k: v for k, v in os.environ.items() if not k.startswith("BASALT_")}
        env.update(env_extra)
        args = [binary, "serve", "--http", f"127.0.0.1:{self.port}", "--data-dir", self.dir]
        if database_url:
            args += ["--database-url", database_url]
        self.log_path = os.path.join(self.dir, "server.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.time() + 30
        while True:
            try:
                if get(self.port, "/v1/health/ready", timeout=0.5) == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                sys.exit(f"{name}: basalt did not start")
            time.sleep(0.01)
        cli = [binary, "admin", "create", "--data-dir", self.dir, "--email", "bench@example.com",
               "--password", "bench password 1"]
        if database_url:
            cli += ["--database-url", database_url]
        subprocess.run(cli, check=True, capture_output=True, env=env)
        admin = call(self.port, "POST", "/v1/admin/login",
                     {"email": "bench@example.com", "password": "bench password 1"})["access_token"]
        user = call(self.port, "POST", "/v1/auth/signup",
                    {"email": "app-user@example.com", "password": "bench password 1"})
        self.token, uid = user["access_token"], user["user"]["id"]
        call(self.port, "POST", "/v1/db/collections", {
            "name": "posts",
            "rules": {"read": "auth != () && doc.data.owner == auth.uid"},
        }, admin)
        ops = [{"op": "create", "collection": "posts", "data": {"owner": uid, "title": f"post {n}", "n": n}}
               for n in range(500)]
        ids = [d["id"] for d in call(self.port, "POST", "/v1/db/batch", {"operations": ops}, admin)["results"]]
        self.ids_file = os.path.join(self.dir, "ids.txt")
        with open(self.ids_file, "w") as f:
            f.write("\n".join(ids) + "\n")

    def metric(self, name):
        return int(foundation.metric(self.port, name))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def run(binary, database_url, seconds, rounds):
    servers = []
    for name, env in SETTINGS:
        db = None
        if database_url:
            # One fresh database per setting, beside the one in the URL.
            name_db = f"basalt_obs_{len(servers)}"
            for sql in (f"DROP DATABASE IF EXISTS {name_db} WITH (FORCE)", f"CREATE DATABASE {name_db}"):
                subprocess.run(["psql", database_url, "-qc", sql], check=True, stdout=subprocess.DEVNULL)
            db = database_url.rsplit("/", 1)[0] + "/" + name_db
        servers.append(Server(binary, name, env, db))
    results = {(s.name, w, c): [] for s in servers for w in ("health", "get") for c in (1, 32)}
    written, dropped = [], []
    try:
        for _ in range(rounds):
            for conns in (1, 32):
                for s in servers:
                    threads = 1 if conns == 1 else 2
                    before = (s.metric("basalt_request_log_written_total"), s.metric("basalt_request_log_dropped_total"))
                    t0 = time.perf_counter()
                    h = foundation.wrk(s.port, conns, threads, seconds, "/v1/health")
                    elapsed = time.perf_counter() - t0
                    time.sleep(1.5)  # let the writer catch up before counting
                    after = (s.metric("basalt_request_log_written_total"), s.metric("basalt_request_log_dropped_total"))
                    if conns == 32 and s.name == "text (default)":
                        written.append((after[0] - before[0]) / elapsed)
                        dropped.append(after[1] - before[1])
                    g = foundation.wrk(s.port, conns, threads, seconds, "/v1/db/posts/x", "get_by_id.lua",
                                       {"BENCH_TOKEN": s.token, "BENCH_IDS": s.ids_file, "BENCH_COLLECTION": "posts"})
                    results[(s.name, "health", conns)].append(h)
                    results[(s.name, "get", conns)].append(g)
        log_sizes = {s.name: os.path.getsize(s.log_path) for s in servers}
    finally:
        for s in servers:
            s.stop()
    rows = []
    med = {k: statistics.median(r[0] for r in v) for k, v in results.items()}
    for w, label in (("health", "GET /v1/health"), ("get", "get by id (owner rule)")):
        for conns in (1, 32):
            off = med[("off", w, conns)]
            for name, _ in SETTINGS:
                v = med[(name, w, conns)]
                p50 = statistics.median(r[1] for r in results[(name, w, conns)])
                rows.append((f"{label}, {conns} conn, {name}",
                             f"{v:,.0f} req/s | p50 {p50:.3f} ms | {100 * v / off:.0f} % of off"))
    rows.append(("request log writes, health at 32 conn (median)", f"{statistics.median(written):,.0f} entries/s"))
    rows.append(("request log entries dropped during those runs", f"{sum(dropped):,}"))
    for name, size in log_sizes.items():
        rows.append((f"server log written, {name}", f"{size / 1e6:.1f} MB"))
    return rows


def main():
    foundation.run_backends("Basalt logging cost", run)


if __name__ == "__main__":
    main()
