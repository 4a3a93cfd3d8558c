#!/usr/bin/env python3
"""Schemathesis against a real `basalt serve` on loopback (SQLite), with
every check, in every phase (examples, coverage, fuzzing, stateful), three
times: as a service key (admin rights of a developer), as a signed-in user,
and anonymous. Any failure, any 5xx, fails the run.

Usage: tests/schemathesis/run.py [--binary PATH] [--seconds N] [--postgres URL] [--seed N]
  --seconds: the time budget of each of the three runs (default 60).
  --seed: the search to repeat (a fixed one by default; 0 draws a new one).
Exceptions the schema cannot express (an unknown token, a rule text that
does not compile, state that must exist first) are listed, with the reason,
in schemathesis.toml beside this file.
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url, method, path, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.environ.get("BASALT_BIN", "target/debug/basalt"))
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--postgres", default=None, help="a database URL; the run uses it whole")
    # CI repeats one search, so a commit's result does not depend on luck;
    # the long run in bench/ draws a new one (--seed 0).
    ap.add_argument("--seed", type=int, default=20261203)
    args = ap.parse_args()
    data = tempfile.mkdtemp(prefix="basalt-schemathesis-")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASALT_")}
    store = ["--data-dir", data] + (["--database-url", args.postgres] if args.postgres else [])
    subprocess.run([args.binary, "admin", "create", "--email", "owner@example.com",
                    "--password", "schemathesis password"] + store, check=True, env=env,
                   capture_output=True)
    log = open(os.path.join(data, "server.log"), "wb")
    server = subprocess.Popen([args.binary, "serve", "--http", f"127.0.0.1:{port}"] + store,
                              env=env, stdout=log, stderr=log)
    failed = []
    try:
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/v1/health/ready", timeout=1)
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    sys.exit("basalt did not start")
                time.sleep(0.1)
        admin = call(url, "POST", "/v1/admin/login",
                     {"email": "owner@example.com", "password": "schemathesis password"})["access_token"]
        # Something to find: a collection, a document, a bucket, an object.
        call(url, "POST", "/v1/db/collections", {"name": "notes", "rules": {
            "read": "auth != ()", "create": "auth != ()", "update": "auth != () && doc.data.owner == auth.uid",
            "delete": "auth != () && doc.data.owner == auth.uid"}}, admin)
        call(url, "POST", "/v1/storage/buckets", {"name": "files", "rules": {
            "read": "auth != ()", "write": "auth != ()", "delete": "auth != ()"}}, admin)
        key = call(url, "POST", "/v1/admin/keys", {"name": "schemathesis"}, admin)["key"]
        user = call(url, "POST", "/v1/auth/signup",
                    {"email": "user@example.com", "password": "schemathesis password"})["access_token"]
        call(url, "POST", "/v1/db/notes", {"id": "first", "data": {"owner": "nobody"}}, user)
        for who, token in (("service key", key), ("user", user), ("anonymous", None)):
            print(f"\n==> schemathesis as {who}, {args.seconds} s", flush=True)
            cmd = ["st", "--config-file", os.path.join(HERE, "schemathesis.toml"), "run", f"{url}/v1/openapi.json",
                   "--checks", "all", "--phases", "examples,coverage,fuzzing,stateful",
                   "--max-time", str(args.seconds), "--workers", "2", "--no-color",
                   "--generation-database", "none", "--exclude-path", "/v1/realtime"]
            if args.seed:
                cmd += ["--seed", str(args.seed)]
            if token:
                cmd += ["-H", f"Authorization: Bearer {token}"]
            for attempt in (1, 2):
                run = subprocess.run(cmd, cwd=data, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                print(run.stdout, flush=True)
                if run.returncode == 0:
                    break
                # A failure of the API is reported as a failure with its code
                # (ST201, …); an exit without one is the tool's own error, and
                # the search is run once more.
                found = re.search(r"\d+ unique failures?|\bST\d{3}\b", run.stdout)
                if found or attempt == 2:
                    failed.append(who)
                    break
                print(f"schemathesis stopped on an error of its own as {who}; running it again", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    if failed:
        print(f"\nschemathesis failed as: {', '.join(failed)}; the server's log: {data}/server.log")
        sys.exit(1)
    shutil.rmtree(data, ignore_errors=True)
    print("\nschemathesis: no failures")


if __name__ == "__main__":
    main()
