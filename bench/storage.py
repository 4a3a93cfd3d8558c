#!/usr/bin/env python3
"""File storage benchmark on the local backend: a 1 GiB upload and download
(MB/s, peak RSS of the server during each), and 4 KiB GETs/s at 32
connections (wrk).

Usage: bench/storage.py [--binary PATH] [--size-mib 1024] [--seconds 10]
Build first: cargo build --release -p basalt-server. Needs wrk.
"""
import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from foundation import default_binary, free_port, start, stop  # noqa: E402

CHUNK = 1 << 20


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request(method, path, body=body, headers=headers or {})
    res = conn.getresponse()
    data = res.read()
    conn.close()
    return res.status, data


def reset_peak(pid):
    # Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0).
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=default_binary())
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--seconds", type=int, default=10)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BASALT_")}
        subprocess.run([a.binary, "admin", "create", "--email", "bench@example.com", "--password",
                        "correct horse battery", "--data-dir", d], check=True, env=env, stdout=subprocess.DEVNULL)
        port = free_port()
        proc, _ = start(a.binary, d, port, log="warn")
        _, body = request(port, "POST", "/v1/admin/login",
                          json.dumps({"email": "bench@example.com", "password": "correct horse battery"}),
                          {"content-type": "application/json"})
        token = json.loads(body)["access_token"]
        auth = {"authorization": f"Bearer {token}"}
        request(port, "POST", "/v1/storage/buckets", json.dumps({"name": "bench", "public": True}),
                {**auth, "content-type": "application/json"})
        time.sleep(0.5)
        idle = status_kib(proc.pid, "VmRSS")

        size = a.size_mib * CHUNK
        block = os.urandom(CHUNK)

        def body_stream():
            for _ in range(a.size_mib):
                yield block

        reset_peak(proc.pid)
        t = time.perf_counter()
        status, _ = request(port, "PUT", "/v1/storage/bench/big.bin", body_stream(),
                            {**auth, "content-type": "application/octet-stream", "content-length": str(size)})
        up = time.perf_counter() - t
        assert status == 201, status
        up_peak = status_kib(proc.pid, "VmHWM")

        reset_peak(proc.pid)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        t = time.perf_counter()
        conn.request("GET", "/v1/storage/bench/big.bin")
        res = conn.getresponse()
        got = 0
        while True:
            chunk = res.read(CHUNK)
            if not chunk:
                break
            got += len(chunk)
        down = time.perf_counter() - t
        conn.close()
        assert got == size, (got, size)
        down_peak = status_kib(proc.pid, "VmHWM")

        request(port, "PUT", "/v1/storage/bench/small.bin", os.urandom(4096),
                {**auth, "content-type": "application/octet-stream"})
        out = subprocess.run(["wrk", "-t", "2", "-c", "32", "-d", f"{a.seconds}s", "--latency",
                              f"http://127.0.0.1:{port}/v1/storage/bench/small.bin"],
                             check=True, capture_output=True, text=True).stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        p50 = re.search(r"\s50%\s+(\S+)", out).group(1)
        p99 = re.search(r"\s99%\s+(\S+)", out).group(1)
        if re.search(r"Non-2xx", out):
            sys.exit("wrk saw errors")
        stop(proc)

    mb = size / 1e6
    print(f"| measure | value |\n|---|---|")
    print(f"| idle RSS | {idle / 1024:.1f} MiB |")
    print(f"| upload {a.size_mib} MiB | {mb / up:.0f} MB/s ({up:.1f} s), peak RSS {up_peak / 1024:.1f} MiB (+{(up_peak - idle) / 1024:.1f}) |")
    print(f"| download {a.size_mib} MiB | {mb / down:.0f} MB/s ({down:.1f} s), peak RSS {down_peak / 1024:.1f} MiB (+{(down_peak - idle) / 1024:.1f}) |")
    print(f"| GET 4 KiB object, 32 connections | {rps:,.0f} req/s, p50 {p50}, p99 {p99} |")


if __name__ == "__main__":
    main()
