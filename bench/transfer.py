#!/usr/bin/env python3
"""Moving and backing up a project: seeds a SQLite project with --docs
documents (default 100,000, about 200 bytes each) in one indexed collection
and --objects 64 KiB files (default 200), then times, each --runs times
(median shown):
  - basalt backup --to DIR        (of the running server, with writes going on)
  - basalt restore --from DIR     (into a new data directory)
  - basalt export --to DIR        (the server stopped)
  - basalt import --from DIR      (into a new SQLite project)
  - basalt migrate-db --to URL    (to a fresh PostgreSQL database, with --postgres URL)
and prints documents/s and the peak RSS of each command (/usr/bin/time -v is
not needed: the bench reads the child's rusage).

Usage: bench/transfer.py [--binary PATH] [--postgres URL] [--docs N] [--objects N] [--runs N]
Build first: cargo build --release -p basalt-server.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import foundation  # noqa: E402
from foundation import default_binary, free_port, reset_postgres  # noqa: E402


def call(port, method, path, body=None, token=None, raw=None, ctype=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", ctype or "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read() or b"null")


def timed(args):
    """(seconds, peak RSS MiB) of one command, which must succeed."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, rusage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - t0
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} failed: {err}")
    return took, rusage.ru_maxrss / 1024, out.strip()


def seed(binary, data, docs, objects):
    subprocess.run([binary, "migrate", "--data-dir", data], check=True, capture_output=True)
    key = subprocess.run([binary, "keys", "create", "--name", "bench", "--data-dir", data],
                         check=True, capture_output=True, text=True).stdout.strip()
    port = free_port()
    proc, _ = foundation.start(binary, data, port, None, "warn")
    call(port, "POST", "/v1/db/collections", {
        "name": "posts", "indexes": [{"fields": [["owner", "asc"], ["n", "desc"]]}]}, key)
    for start in range(0, docs, 500):
        ops = [{"op": "create", "collection": "posts",
                "data": {"owner": f"user{n % 997}", "title": f"post number {n}", "n": n,
                         "body": "x" * 120, "tags": ["a", "b"]}}
               for n in range(start, min(docs, start + 500))]
        call(port, "POST", "/v1/db/batch", {"operations": ops}, key)
    call(port, "POST", "/v1/storage/buckets", {"name": "media"}, key)
    blob = os.urandom(64 * 1024)
    for i in range(objects):
        call(port, "PUT", f"/v1/storage/media/o{i}.bin", raw=blob, ctype="application/octet-stream", token=key)
    return proc, port, key


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=default_binary())
    ap.add_argument("--postgres")
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--objects", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    b = a.binary
    results = {}

    def record(name, sample):
        results.setdefault(name, []).append(sample)

    with tempfile.TemporaryDirectory() as root:
        data = os.path.join(root, "data")
        t0 = time.perf_counter()
        proc, port, key = seed(b, data, a.docs, a.objects)
        print(f"seeded {a.docs} documents and {a.objects} objects in {time.perf_counter() - t0:.1f} s")
        # A writer keeps going during the backups.
        stop = threading.Event()
        written = [0]

        def writer():
            while not stop.is_set():
                call(port, "POST", "/v1/db/posts", {"data": {"owner": "live", "n": written[0]}}, key)
                written[0] += 1
        w = threading.Thread(target=writer)
        w.start()
        for r in range(a.runs):
            dest = os.path.join(root, f"backup{r}")
            record("backup (server running, a writer going)", timed([b, "backup", "--to", dest, "--data-dir", data]))
        stop.set()
        w.join()
        foundation.stop(proc)
        for r in range(a.runs):
            record("restore", timed([b, "restore", "--from", os.path.join(root, f"backup{r}"),
                                     "--data-dir", os.path.join(root, f"restored{r}")]))
            shutil.rmtree(os.path.join(root, f"restored{r}"))
        for r in range(a.runs):
            dest = os.path.join(root, f"export{r}")
            record("export", timed([b, "export", "--to", dest, "--data-dir", data]))
        for r in range(a.runs):
            target = os.path.join(root, f"imported{r}")
            record("import (into SQLite)", timed([b, "import", "--from", os.path.join(root, "export0"),
                                                  "--data-dir", target]))
            shutil.rmtree(target)
        if a.postgres:
            for r in range(a.runs):
                url = reset_postgres(a.postgres)
                record("migrate-db (to PostgreSQL)", timed([b, "migrate-db", "--to", url, "--data-dir", data]))
        size = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(os.path.join(root, "export0"))
                   for f in fs)
    print(f"\n{platform.node()}, {os.cpu_count()} cores; {a.docs} documents, {a.objects} objects of 64 KiB; "
          f"export folder {size / 1048576:.1f} MiB; median of {a.runs}\n")
    print("| command | seconds | documents/s | peak RSS |")
    print("|---|---|---|---|")
    for name, samples in results.items():
        secs = statistics.median(s[0] for s in samples)
        rss = statistics.median(s[1] for s in samples)
        print(f"| {name} | {secs:.2f} | {a.docs / secs:,.0f} | {rss:.0f} MiB |")


if __name__ == "__main__":
    main()
