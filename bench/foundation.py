#!/usr/bin/env python3
"""Foundation benchmark: start-up time to ready, idle RSS, binary size, and
GET /v1/health throughput and latency under wrk at 1 and 32 connections.

Usage: bench/foundation.py [--binary PATH] [--postgres URL] [--seconds N]
Build first: cargo build --release -p basalt-server
Needs wrk (Debian package `wrk`). Prints a Markdown table.
"""
import argparse
import http.client
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

def default_binary():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/basalt-target"))
    return os.path.join(target, "release", "basalt")

def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port

def get(port, path, timeout=1.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()

def metric(port, name):
    """The value of the Prometheus sample `name` (with its labels, as written) on /metrics, 0 if absent."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

def start(binary, data_dir, port, database_url=None, log="info"):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASALT_")}
    env["BASALT_LOG"] = log
    args = [binary, "serve", "--http", f"127.0.0.1:{port}", "--data-dir", data_dir]
    if database_url:
        args += ["--database-url", database_url]
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            if get(port, "/v1/health/ready", timeout=0.5) == 200:
                return proc, (time.perf_counter() - t0) * 1000
        except OSError:
            pass
        if proc.poll() is not None:
            sys.exit(f"basalt exited with {proc.returncode}")
        if time.perf_counter() - t0 > 30:
            proc.kill()
            sys.exit("basalt was not ready after 30 s")
        time.sleep(0.001)

def serve_with_admin(binary, database_url, prefix, env_extra):
    """`basalt serve` on a fresh data directory (and a fresh PostgreSQL
    database with `database_url`), its log going to DIR/server.log as under
    systemd, with an admin signed in: (proc, port, data dir, admin token)."""
    import json
    d = tempfile.mkdtemp(prefix=prefix)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASALT_")}
    env.update({"BASALT_LOG": "info", "BASALT_LOGIN_RATE_LIMIT": "0", **env_extra})
    args = [binary, "serve", "--http", f"127.0.0.1:{port}", "--data-dir", d]
    if database_url:
        args += ["--database-url", reset_postgres(database_url)]
    with open(os.path.join(d, "server.log"), "wb") as log:
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.time() + 30
    while True:
        try:
            if get(port, "/v1/health/ready", timeout=0.5) == 200:
                break
        except OSError:
            pass
        if time.time() > deadline or proc.poll() is not None:
            proc.kill()
            sys.exit("basalt did not start")
        time.sleep(0.01)
    cli = [binary, "admin", "create", "--data-dir", d, "--email", "bench@example.com",
           "--password", "bench password 1"]
    if database_url:
        cli += ["--database-url", args[-1]]
    subprocess.run(cli, check=True, capture_output=True, env=env)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/v1/admin/login",
                     json.dumps({"email": "bench@example.com", "password": "bench password 1"}),
                     {"content-type": "application/json"})
        admin = json.loads(conn.getresponse().read())["access_token"]
    finally:
        conn.close()
    return proc, port, d, admin


def stop(proc):
    proc.terminate()
    proc.wait(timeout=30)

def ready_times(binary, database_url, runs):
    """Median ms to the first 200 from /v1/health/ready: on a fresh data
    directory (migrations, key creation) and on one that already exists."""
    fresh, warm = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as d:
            if database_url:
                db = reset_postgres(database_url)
            else:
                db = None
            port = free_port()
            proc, ms = start(binary, d, port, db)
            fresh.append(ms)
            stop(proc)
            proc, ms = start(binary, d, port, db)
            warm.append(ms)
            stop(proc)
    return statistics.median(fresh), statistics.median(warm)

def reset_postgres(url):
    """A fresh database named basalt_bench on the server of `url`."""
    base = url.rsplit("/", 1)[0]
    subprocess.run(["psql", url, "-qc", "DROP DATABASE IF EXISTS basalt_bench WITH (FORCE)"], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["psql", url, "-qc", "CREATE DATABASE basalt_bench"], check=True, stdout=subprocess.DEVNULL)
    return base + "/basalt_bench"

def wrk(port, connections, threads, seconds, path="/v1/health", script=None, env=None):
    """(req/s, p50 ms, p99 ms) of wrk against `path`; `script` is a Lua file in bench/lua."""
    args = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    if script:
        args += ["-s", os.path.join(os.path.dirname(os.path.abspath(__file__)), "lua", script)]
    args.append(f"http://127.0.0.1:{port}{path}")
    out = subprocess.run(args, check=True, capture_output=True, text=True,
                         env={**os.environ, **(env or {})}).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    def pct(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(m.group(1)), m.group(2)
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        sys.exit(f"wrk saw {errors.group(1)} error responses on {path}:\n{out}")
    return rps, pct(50), pct(99)


def run_backends(title, run):
    """The command line shared by the side-by-side benchmarks: parses
    --binary/--postgres/--seconds/--rounds, prints the machine, then a table
    of `run(binary, database_url, seconds, rounds)` rows per backend."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=default_binary())
    ap.add_argument("--postgres", default=None)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk")
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"# {title} — {os.cpu_count()} cores, {cpu}, {platform.system()}; "
          f"{a.rounds} rounds of {a.seconds} s, medians; wrk on the same machine\n")
    for backend, url in (("SQLite", None), ("PostgreSQL", a.postgres)):
        if backend == "PostgreSQL" and not url:
            continue
        print(f"\n## {backend}\n\n| measure | value |\n|---|---|")
        for k, v in run(a.binary, url, a.seconds, a.rounds):
            print(f"| {k} | {v} |")
        sys.stdout.flush()

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=default_binary())
    ap.add_argument("--postgres", default=None, help="postgres://… server URL to also time start-up on PostgreSQL")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--runs", type=int, default=11)
    a = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk")

    size_mb = os.path.getsize(a.binary) / 1e6
    rows = [("release binary size", f"{size_mb:.1f} MB")]
    fresh, warm = ready_times(a.binary, None, a.runs)
    rows.append(("serve → first 200 from /ready, SQLite, new data dir (median)", f"{fresh:.0f} ms"))
    rows.append(("serve → first 200 from /ready, SQLite, existing data dir (median)", f"{warm:.0f} ms"))
    if a.postgres:
        fresh, warm = ready_times(a.binary, a.postgres, a.runs)
        rows.append(("serve → first 200 from /ready, PostgreSQL, new database (median)", f"{fresh:.0f} ms"))
        rows.append(("serve → first 200 from /ready, PostgreSQL, existing database (median)", f"{warm:.0f} ms"))
        reset_postgres(a.postgres)

    for log in ("info", "warn"):
        with tempfile.TemporaryDirectory() as d:
            port = free_port()
            proc, _ = start(a.binary, d, port, log=log)
            time.sleep(1)
            if log == "info":
                rows.append(("idle RSS after start", f"{rss_kib(proc.pid) / 1024:.1f} MiB"))
            for conns, threads in ((1, 1), (32, 2)):
                rps, p50, p99 = wrk(port, conns, threads, a.seconds)
                rows.append((f"GET /v1/health, {conns} conn, log={log}: req/s | p50 | p99",
                             f"{rps:,.0f} | {p50:.3f} ms | {p99:.3f} ms"))
            if log == "info":
                rows.append(("RSS after the load", f"{rss_kib(proc.pid) / 1024:.1f} MiB"))
            stop(proc)

    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    print(f"Machine: {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}; wrk on the same machine")
    print("| measure | value |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")

if __name__ == "__main__":
    main()
