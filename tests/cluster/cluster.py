"""A real Basalt cluster on loopback: N `basalt serve` nodes on one PostgreSQL
database (created for the run, dropped at the end), one S3-compatible server
(moto) for files, and HAProxy in front with health checks on
/v1/health/ready, WebSocket upgrades, retries and redispatch.

Nothing here is a mock: the nodes are the binary under test, PostgreSQL is the
server CI runs, moto is a real HTTP server speaking S3, HAProxy is Debian's.
"""
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
DEPLOY_HAPROXY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy", "docker", "haproxy.cfg")
BACKEND = "basalt_nodes"
DEPLOY_NGINX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy", "nginx", "basalt.conf")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
BUCKET = "basalt-files"
ADMIN_EMAIL = "owner@example.com"
ADMIN_PASSWORD = "cluster harness password"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, token=None, headers=None, timeout=10):
    """One HTTP request; returns (status, headers, parsed JSON or None)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, dict(r.headers), (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return e.code, dict(e.headers), parsed


def wait_for(predicate, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def ready(url):
    try:
        status, _, _ = http("GET", url + "/v1/health/ready", timeout=2)
        return status == 200
    except OSError:
        return False


class Node:
    def __init__(self, cluster, index):
        self.cluster = cluster
        self.index = index
        self.name = f"node{index + 1}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}/v1/realtime"
        self.data_dir = os.path.join(cluster.workdir, self.name)
        self.log_path = os.path.join(cluster.workdir, f"{self.name}.log")
        self.proc = None
        self.starts = 0

    def start(self, wait=True, env_overrides=None):
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} is running"
        os.makedirs(self.data_dir, exist_ok=True)
        env = dict(self.cluster.node_env)
        env.update(env_overrides or {})
        env["BASALT_HTTP"] = f"127.0.0.1:{self.port}"
        env["BASALT_DATA_DIR"] = self.data_dir
        # Scripts see it as env.NODE: which node ran a schedule slot or a trigger.
        env["BASALT_FN_NODE"] = self.name
        log = open(self.log_path, "ab")
        log.write(f"\n---- start {self.starts + 1} at {time.time():.3f}\n".encode())
        log.flush()
        self.proc = subprocess.Popen([self.cluster.binary, "serve"], env=env, stdout=log,
                                     stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        self.starts += 1
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=60):
        def up():
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}")
            return ready(self.url)
        wait_for(up, timeout, f"{self.name} ready")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def kill(self):
        """SIGKILL: the process dies with its requests in flight."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=30):
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Cluster:
    def __init__(self, binary, postgres_url, nodes=3, settings=None):
        self.binary = binary
        self.postgres_url = postgres_url
        self.workdir = tempfile.mkdtemp(prefix="basalt-cluster-")
        self.db_name = f"basalt_cluster_{secrets.token_hex(4)}"
        parts = urllib.parse.urlsplit(postgres_url)
        self.database_url = urllib.parse.urlunsplit(parts._replace(path="/" + self.db_name))
        self.lb_port = free_port()
        self.lb = f"http://127.0.0.1:{self.lb_port}"
        self.lb_ws = f"ws://127.0.0.1:{self.lb_port}/v1/realtime"
        self.stats_socket = os.path.join(self.workdir, "haproxy.sock")
        self.stats_port = free_port()
        self.s3_port = free_port()
        self.settings = settings or {}
        self.nodes = [Node(self, i) for i in range(nodes)]
        self.moto = None
        self.haproxy = None
        self.nginx = None
        self.db_created = False
        self.node_env = None

    # ------------------------------------------------------------ lifecycle
    def start(self):
        self._psql(f'CREATE DATABASE "{self.db_name}"')
        self.db_created = True
        self._start_moto()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BASALT_", "AWS_"))}
        env.update({
            "BASALT_DATABASE_URL": self.database_url,
            "BASALT_FILES_URL": f"s3://{BUCKET}",
            "BASALT_S3_ENDPOINT": f"http://127.0.0.1:{self.s3_port}",
            "BASALT_S3_ALLOW_HTTP": "true",
            "BASALT_S3_REGION": "us-east-1",
            "BASALT_S3_ACCESS_KEY_ID": "basalt-test",
            "BASALT_S3_SECRET_ACCESS_KEY": "basalt-test-secret",
            # Every node issues tokens as the one public address: the balancer.
            "BASALT_PUBLIC_URL": self.lb,
            "BASALT_TRUST_PROXY": "true",
            "BASALT_LOG": "warn",
            "BASALT_REQUEST_LOG": "false",
            "BASALT_SHUTDOWN_TIMEOUT": "10",
        })
        env.update(self.settings)
        self.node_env = env
        # The schema once, then the first admin, before any node serves.
        self._cli("migrate")
        self._cli("admin", "create", "--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD)
        for node in self.nodes:
            node.start(wait=False)
        for node in self.nodes:
            node.wait_ready()
        self._start_haproxy()
        wait_for(lambda: all(s == "UP" for s in self.lb_states().values()), 30,
                 "HAProxy to see every node UP")

    def close(self):
        for node in self.nodes:
            node.stop(timeout=15)
        for proc in (self.nginx, self.haproxy, self.moto):
            if proc and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if self.db_created:
            self._psql(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')

    def cleanup_files(self):
        shutil.rmtree(self.workdir, ignore_errors=True)

    def logs(self, lines=40):
        out = []
        for path in sorted(os.listdir(self.workdir)):
            if path.endswith(".log"):
                with open(os.path.join(self.workdir, path), errors="replace") as f:
                    tail = f.readlines()[-lines:]
                out.append(f"---- {path}\n" + "".join(tail))
        return "\n".join(out)

    # ------------------------------------------------------------- helpers
    @staticmethod
    def free_port():
        return free_port()

    def _psql(self, sql):
        subprocess.run(["psql", self.postgres_url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
                       check=True, capture_output=True)

    def _cli(self, *args):
        run = subprocess.run([self.binary, *args, "--data-dir", os.path.join(self.workdir, "cli")],
                             env=self.node_env, capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"basalt {' '.join(args)} failed: {run.stderr}")
        return run.stdout

    def _start_moto(self):
        log = open(os.path.join(self.workdir, "moto.log"), "wb")
        self.moto = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                                      "-p", str(self.s3_port)], stdout=log, stderr=log)
        log.close()
        endpoint = f"http://127.0.0.1:{self.s3_port}"

        def bucket_made():
            req = urllib.request.Request(f"{endpoint}/{BUCKET}", method="PUT", data=b"")
            with urllib.request.urlopen(req, timeout=2) as r:
                return r.status == 200
        wait_for(bucket_made, 30, "moto to create the bucket", interval=0.2)

    def haproxy_config(self):
        """deploy/docker/haproxy.cfg itself, moved onto loopback: the same
        checks, retries, timeouts and WebSocket handling the compose cluster
        ships, with this run's ports and sockets. One addition: a response
        header naming the node that answered, so the harness can attribute
        every response and every failure."""
        with open(DEPLOY_HAPROXY) as f:
            cfg = f.read()

        def sub(pattern, repl, count=1):
            nonlocal cfg
            cfg, n = re.subn(pattern, repl, cfg, flags=re.M)
            assert n == count, f"deploy/docker/haproxy.cfg changed shape: {pattern!r} matched {n} times"

        sub(r"^(\s*stats socket) \S+", rf"\1 {self.stats_socket}")
        # HAProxy needs about two descriptors per connection: stay within this machine's limit.
        sub(r"^(\s*maxconn) \d+$", r"\1 4000")
        sub(r"^(\s*bind) :8080$", rf"\1 127.0.0.1:{self.lb_port}")
        sub(r"^(\s*bind) :8404$", rf"\1 127.0.0.1:{self.stats_port}")
        sub(r" resolvers docker init-addr \S+", "")
        sub(r"^resolvers docker\n(?:[ \t]+.*\n)+", "")
        sub(r"^(\s*default_backend basalt_nodes)$",
            r"    http-after-response set-header x-basalt-node %[srv_name]\n\1")
        servers = "\n".join(f"    server {n.name} 127.0.0.1:{n.port}" for n in self.nodes)
        sub(r"^(?:\s*server node\d+ basalt\d+:8090\n)+", servers + "\n")
        # Every request is logged (the harness reads the log when a test fails).
        sub(r"^\s*option dontlognull\n", "")
        return "# deploy/docker/haproxy.cfg, moved onto loopback by tests/cluster for one run.\n" + cfg

    def _start_haproxy(self):
        path = os.path.join(self.workdir, "haproxy.cfg")
        with open(path, "w") as f:
            f.write(self.haproxy_config())
        subprocess.run([HAPROXY, "-c", "-q", "-f", path], check=True)
        log = open(os.path.join(self.workdir, "haproxy.log"), "wb")
        self.haproxy = subprocess.Popen([HAPROXY, "-db", "-f", path], stdout=log, stderr=log)
        log.close()
        wait_for(lambda: os.path.exists(self.stats_socket), 10, "HAProxy's stats socket")

    def start_nginx(self):
        """deploy/nginx/basalt.conf in front of the same nodes, on loopback,
        with a throwaway certificate: returns (https base URL, wss URL)."""
        d = os.path.join(self.workdir, "nginx")
        os.makedirs(d, exist_ok=True)
        key, crt = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=localhost", "-keyout", key, "-out", crt], check=True, capture_output=True)
        with open(DEPLOY_NGINX) as f:
            site = f.read()
        http_port, https_port = free_port(), free_port()

        def sub(pattern, repl):
            nonlocal site
            site, n = re.subn(pattern, repl, site, flags=re.M)
            assert n >= 1, f"deploy/nginx/basalt.conf changed shape: {pattern!r}"

        sub(r"^(\s*listen) 80;$", rf"\1 127.0.0.1:{http_port};")
        sub(r"^(\s*listen) 443 ssl http2;$", rf"\1 127.0.0.1:{https_port} ssl http2;")
        sub(r"^\s*listen \[::\]:\d+.*\n", "")
        sub(r"/etc/ssl/basalt/fullchain.pem", crt)
        sub(r"/etc/ssl/basalt/privkey.pem", key)
        servers = "".join(f"    server 127.0.0.1:{n.port} max_fails=2 fail_timeout=5s;\n" for n in self.nodes)
        sub(r"^\s*server 127\.0\.0\.1:8090 .*\n(?:\s*# server .*\n)*", servers)
        # Attribute each response to the node that answered, as with HAProxy.
        sub(r"^(\s*location / \{)$", "    add_header x-basalt-node $upstream_addr always;\n\\1")
        with open(os.path.join(d, "basalt.conf"), "w") as f:
            f.write(site)
        main = os.path.join(d, "nginx.conf")
        with open(main, "w") as f:
            f.write(f"pid {d}/nginx.pid;\nerror_log {d}/error.log;\ndaemon off;\nworker_processes 1;\n"
                    f"events {{ worker_connections 1024; }}\n"
                    f"http {{\n access_log {d}/access.log;\n client_body_temp_path {d}/body;\n"
                    f" proxy_temp_path {d}/proxy;\n include {d}/basalt.conf;\n}}\n")
        subprocess.run([NGINX, "-t", "-q", "-c", main, "-e", os.path.join(d, "error.log")], check=True)
        log = open(os.path.join(self.workdir, "nginx.log"), "wb")
        self.nginx = subprocess.Popen([NGINX, "-c", main, "-e", os.path.join(d, "error.log")], stdout=log, stderr=log)
        log.close()
        base = f"https://127.0.0.1:{https_port}"

        def up():
            import ssl
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            with urllib.request.urlopen(base + "/v1/health/ready", timeout=2, context=ctx) as r:
                return r.status == 200
        wait_for(up, 15, "nginx in front of the nodes")
        return base, f"wss://127.0.0.1:{https_port}/v1/realtime", f"http://127.0.0.1:{http_port}"

    def haproxy_cmd(self, command):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(self.stats_socket)
            s.sendall(command.encode() + b"\n")
            chunks = []
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def lb_stats(self):
        """HAProxy's `show stat` for the backend's servers: name -> row."""
        lines = self.haproxy_cmd("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        rows = {}
        for line in lines[1:]:
            if not line:
                continue
            row = dict(zip(header, line.split(",")))
            if row["pxname"] == BACKEND and row["svname"] not in ("FRONTEND", "BACKEND"):
                rows[row["svname"]] = row
        return rows

    def lb_states(self):
        return {name: row["status"].split(" ")[0] for name, row in self.lb_stats().items()}

    def wait_lb_state(self, node, state, timeout=30):
        wait_for(lambda: self.lb_states()[node.name] == state, timeout,
                 f"HAProxy to see {node.name} {state}")

    # ---------------------------------------------------------- API set-up
    def admin_token(self, base=None):
        status, _, body = http("POST", (base or self.lb) + "/v1/admin/login",
                               {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert status == 200, (status, body)
        return body["access_token"]
