#!/usr/bin/env python3
"""Checks everything in deploy/ without Docker or a network (CI runs it):

- kubernetes: both overlays render with `kubectl kustomize`, validate against
  the Kubernetes schemas (kubernetes-validate, strict), and carry what a
  Basalt pod needs (probes, security context, grace above the drain, ...);
- systemd: `systemd-analyze verify` of the unit (a copy whose ExecStart is the
  binary under test), and the hardening it must keep;
- docker: the Dockerfile's pinned bases, USER, HEALTHCHECK (`basalt health
  --ready`), STOPSIGNAL and exec-form entry point; the compose files parse,
  pin every image, wire the nodes as documented and give them a
  shutdown_delay HAProxy's checks notice in time; the health check command
  passes against a ready server and fails when nothing listens or the server
  is draining;
- haproxy: `haproxy -c` on deploy/docker/haproxy.cfg; nginx: `nginx -t` on
  deploy/nginx/basalt.conf (with a throwaway certificate);
- monitoring: `promtool check rules` and `promtool test rules`, and every
  metric the dashboard and the alerts use exists on a live server's /metrics.

Usage: deploy/check.py [--binary PATH] [--only NAME,...]
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
import urllib.error
import urllib.request

import yaml

DEPLOY = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(DEPLOY)
FAILURES = []


def fail(what):
    FAILURES.append(what)
    print(f"  FAIL {what}")


def ok(what):
    print(f"  ok   {what}")


def check(cond, what):
    (ok if cond else fail)(what)
    return cond


def tool(name):
    """A program by name; Debian puts haproxy and nginx in /usr/sbin, which
    is not on every PATH."""
    return shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else name)


def run(cmd, **kw):
    return subprocess.run([tool(cmd[0])] + cmd[1:], capture_output=True, text=True, **kw)


# ------------------------------------------------------------------ kubernetes
SHUTDOWN_TIMEOUT_DEFAULT = 10
SHUTDOWN_DELAY_DEFAULT = 0
# Whatever stops Basalt waits this much longer than preStop + shutdown_delay +
# shutdown_timeout before SIGKILL.
STOP_MARGIN = 5


def seconds(value, default):
    return float(value) if value not in (None, "") else default


def render(overlay):
    out = run(["kubectl", "kustomize", os.path.join(DEPLOY, "kubernetes", "overlays", overlay)])
    if out.returncode != 0:
        fail(f"kubectl kustomize overlays/{overlay}: {out.stderr.strip()}")
        return None, []
    return out.stdout, [d for d in yaml.safe_load_all(out.stdout) if d]


def pod_checks(name, workload, config, secret):
    spec = workload["spec"]["template"]["spec"]
    c = spec["containers"][0]
    psc, csc = spec.get("securityContext", {}), c.get("securityContext", {})
    check(psc.get("runAsNonRoot") is True, f"{name}: runAsNonRoot")
    check(csc.get("readOnlyRootFilesystem") is True, f"{name}: readOnlyRootFilesystem")
    check(csc.get("allowPrivilegeEscalation") is False, f"{name}: no privilege escalation")
    check(csc.get("capabilities", {}).get("drop") == ["ALL"], f"{name}: drops ALL capabilities")
    check(spec.get("automountServiceAccountToken") is False, f"{name}: no service account token")
    probes = {k: c.get(k, {}).get("httpGet", {}).get("path") for k in ("startupProbe", "readinessProbe", "livenessProbe")}
    check(probes == {"startupProbe": "/v1/health/ready", "readinessProbe": "/v1/health/ready",
                     "livenessProbe": "/v1/health"}, f"{name}: probes {probes}")
    port = c["ports"][0]["containerPort"]
    env = dict(config["data"])
    check(env.get("BASALT_HTTP", "").endswith(f":{port}"), f"{name}: BASALT_HTTP listens on the container port {port}")
    check(env.get("BASALT_DATA_DIR") in [m["mountPath"] for m in c.get("volumeMounts", [])],
          f"{name}: the data directory is a mounted volume (the only writable path)")
    pre = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    sleep = int(pre[1]) if len(pre) == 2 and pre[0] == "sleep" else 0
    delay = seconds(env.get("BASALT_SHUTDOWN_DELAY"), SHUTDOWN_DELAY_DEFAULT)
    check(0 <= delay <= 300, f"{name}: BASALT_SHUTDOWN_DELAY {delay:g} s is within 0 to 300")
    # The pod leaves the Service's endpoints when it starts terminating; the
    # proxies in front notice a few seconds later. Meanwhile it must still
    # serve: a preStop sleep before SIGTERM, or shutdown_delay after it.
    check(sleep + delay >= 5, f"{name}: serves for preStop {sleep} s + shutdown_delay {delay:g} s >= 5 s after it starts terminating")
    shutdown = seconds(env.get("BASALT_SHUTDOWN_TIMEOUT"), SHUTDOWN_TIMEOUT_DEFAULT)
    grace = spec.get("terminationGracePeriodSeconds", 30)
    check(grace >= sleep + delay + shutdown + STOP_MARGIN,
          f"{name}: terminationGracePeriodSeconds {grace} >= preStop {sleep} + shutdown_delay {delay:g} + "
          f"shutdown_timeout {shutdown:g} + {STOP_MARGIN} s")
    refs = [e.get("configMapRef", {}).get("name") or e.get("secretRef", {}).get("name") for e in c.get("envFrom", [])]
    check(refs == [config["metadata"]["name"], secret["metadata"]["name"]], f"{name}: settings from the ConfigMap and the Secret")
    return spec


def kubernetes():
    print("kubernetes")
    for overlay in ("single", "cluster"):
        text, docs = render(overlay)
        if text is None:
            continue
        ok(f"kubectl kustomize overlays/{overlay}: {len(docs)} resources")
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(text)
        out = run([sys.executable, "-m", "kubernetes_validate", "--strict", "--quiet", f.name])
        # Older releases of the package have no __main__; use the script then.
        if "No module named" in out.stderr and shutil.which("kubernetes-validate"):
            out = run(["kubernetes-validate", "--strict", "--quiet", f.name])
        check(out.returncode == 0, f"overlays/{overlay} validates against the Kubernetes schemas (strict)"
              + ("" if out.returncode == 0 else f": {out.stdout}{out.stderr}"))
        os.unlink(f.name)
        kinds = {(d["kind"], d["metadata"]["name"]): d for d in docs}
        config = kinds.get(("ConfigMap", "basalt-config"))
        secret = kinds.get(("Secret", "basalt-secrets"))
        if not check(config and secret, f"{overlay}: ConfigMap basalt-config and Secret basalt-secrets"):
            continue
        check(all("CHANGE-ME" in v or v == "" for v in secret.get("stringData", {}).values()),
              f"{overlay}: the Secret holds placeholders only")
        ing = kinds.get(("Ingress", "basalt"))
        ann = ing["metadata"].get("annotations", {}) if ing else {}
        check(int(ann.get("nginx.ingress.kubernetes.io/proxy-read-timeout", 0)) > 30
              and int(ann.get("nginx.ingress.kubernetes.io/proxy-send-timeout", 0)) > 30,
              f"{overlay}: ingress timeouts above the 30 s realtime ping")
        paths = [p["path"] for r in ing["spec"]["rules"] for p in r["http"]["paths"]] if ing else []
        check("/metrics" not in paths and "/" not in paths, f"{overlay}: /metrics is not published ({paths})")
        svc = kinds.get(("Service", "basalt"))
        if overlay == "single":
            sts = kinds.get(("StatefulSet", "basalt"))
            if check(sts is not None, "single: a StatefulSet"):
                check(sts["spec"]["replicas"] == 1, "single: exactly one replica (SQLite)")
                pod_checks("single", sts, config, secret)
                claims = [v["metadata"]["name"] for v in sts["spec"].get("volumeClaimTemplates", [])]
                mounts = {m["name"]: m["mountPath"] for m in sts["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
                check("data" in claims and mounts.get("data") == config["data"]["BASALT_DATA_DIR"],
                      "single: the data directory is on a PersistentVolumeClaim")
                check("BASALT_DATABASE_URL" not in config["data"] and "BASALT_DATABASE_URL" not in secret.get("stringData", {}),
                      "single: SQLite (no database URL)")
                sel = sts["spec"]["selector"]["matchLabels"]
                check(svc and svc["spec"]["selector"] == sel, "single: the Service selects the pod")
        else:
            dep = kinds.get(("Deployment", "basalt"))
            if check(dep is not None, "cluster: a Deployment"):
                check(dep["spec"]["replicas"] == 3, "cluster: 3 replicas")
                check(dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0, "cluster: rolling update keeps every replica")
                pod_checks("cluster", dep, config, secret)
                sel = dep["spec"]["selector"]["matchLabels"]
                check(svc and svc["spec"]["selector"] == sel, "cluster: the Service selects the pods")
                pdb = kinds.get(("PodDisruptionBudget", "basalt"))
                check(pdb and pdb["spec"]["selector"]["matchLabels"] == sel, "cluster: a PodDisruptionBudget on the pods")
                hpa = kinds.get(("HorizontalPodAutoscaler", "basalt"))
                check(hpa and hpa["spec"]["scaleTargetRef"]["name"] == "basalt" and hpa["spec"]["minReplicas"] >= 2,
                      "cluster: a HorizontalPodAutoscaler on the Deployment")
            check(config["data"].get("BASALT_FILES_URL", "").startswith("s3://"), "cluster: files on S3")
            check(secret.get("stringData", {}).get("BASALT_DATABASE_URL", "").startswith("postgres://"),
                  "cluster: PostgreSQL database URL (placeholder) in the Secret")


# --------------------------------------------------------------------- systemd
REQUIRED_UNIT = {
    "DynamicUser": "yes", "StateDirectory": "basalt", "ProtectSystem": "strict", "ProtectHome": "yes",
    "PrivateTmp": "yes", "NoNewPrivileges": "yes", "CapabilityBoundingSet": "", "MemoryDenyWriteExecute": "yes",
    "Restart": "on-failure", "KillSignal": "SIGTERM",
}


def unit_settings(path):
    settings = {}
    for line in open(path):
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            k, v = line.split("=", 1)
            settings.setdefault(k, []).append(v)
    return settings


def systemd(binary):
    print("systemd")
    unit = os.path.join(DEPLOY, "systemd", "basalt.service")
    s = unit_settings(unit)
    for k, v in REQUIRED_UNIT.items():
        check(s.get(k, [None])[-1] == v, f"basalt.service: {k}={v}")
    check(any(v.startswith("@system-service") for v in s.get("SystemCallFilter", [])), "SystemCallFilter=@system-service")
    check(set(s.get("RestrictAddressFamilies", [""])[-1].split()) == {"AF_INET", "AF_INET6", "AF_UNIX"},
          "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX")
    check(any(v.startswith("-/etc/basalt/") for v in s.get("EnvironmentFile", [])), "EnvironmentFile for secrets (optional)")
    check(int(s.get("LimitNOFILE", ["0"])[-1]) >= 10000, "LimitNOFILE covers max_connections")
    env = dict(e.split("=", 1) for e in s.get("Environment", []) if "=" in e)
    shutdown = seconds(env.get("BASALT_SHUTDOWN_TIMEOUT"), SHUTDOWN_TIMEOUT_DEFAULT)
    delay = seconds(env.get("BASALT_SHUTDOWN_DELAY"), SHUTDOWN_DELAY_DEFAULT)
    stop = int(s.get("TimeoutStopSec", ["90"])[-1])
    check(stop >= delay + shutdown + STOP_MARGIN,
          f"TimeoutStopSec {stop} >= shutdown_delay {delay:g} + shutdown_timeout {shutdown:g} + {STOP_MARGIN} s")
    if not shutil.which("systemd-analyze"):
        fail("systemd-analyze is not installed")
        return
    # The unit names /usr/local/bin/basalt; verify a copy that names the binary
    # under test (systemd-analyze checks that ExecStart is executable).
    with tempfile.TemporaryDirectory() as d:
        copy = os.path.join(d, "basalt.service")
        text = open(unit).read().replace("ExecStart=/usr/local/bin/basalt", f"ExecStart={os.path.abspath(binary)}")
        open(copy, "w").write(text)
        out = run(["systemd-analyze", "verify", copy])
        # It exits 0 on settings it ignores: any word about the unit is a failure.
        clean = out.returncode == 0 and "basalt.service" not in out.stderr
        check(clean, "systemd-analyze verify, without a warning" + ("" if clean else f": {out.stderr.strip()}"))
        # And the verifier does catch a mistake (so the check above means something).
        open(copy, "w").write(text.replace("ProtectSystem=strict", "ProtectSystem=stricter"))
        out = run(["systemd-analyze", "verify", copy])
        check("stricter" in out.stderr, "systemd-analyze verify reports a bad setting (so a clean run means something)")


# ---------------------------------------------------------------------- docker
PINNED = re.compile(r"^[\w./-]+:(?!latest$)[\w.-]*\d[\w.-]*$")


def dockerfile_instructions(path):
    """(instruction, argument) pairs, continuation lines joined."""
    out, cur = [], ""
    for raw in open(path):
        line = raw.rstrip("\n")
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        cur += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            word, _, rest = cur.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
            cur = ""
    return out


def docker(binary):
    print("docker")
    path = os.path.join(DEPLOY, "docker", "Dockerfile")
    ins = dockerfile_instructions(path)
    args = {}
    for word, rest in ins:
        if word == "ARG" and "=" in rest:
            k, v = rest.split("=", 1)
            args[k] = v
    froms = [rest.split()[0] for word, rest in ins if word == "FROM"]
    images = [re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), "?"), f) for f in froms]
    check(len(images) >= 2, f"multi-stage build ({len(images)} stages)")
    for image in images:
        check(bool(PINNED.match(image)), f"FROM {image} is pinned to an exact version")
    check(images[0].startswith("rust:"), "builds with the Rust toolchain image")
    last = [w for w, _ in ins]
    final = ins[last.index("FROM", len(last) - 1 - last[::-1].index("FROM")):] if "FROM" in last else []
    words = {w: r for w, r in final}
    user = words.get("USER", "")
    check(user and user.split(":")[0] not in ("root", "0"), f"runs as a non-root USER ({user})")
    hc = words.get("HEALTHCHECK", "")
    m = re.search(r"\bCMD\s+(\[.*\])\s*$", hc)
    try:
        hc_cmd = json.loads(m.group(1)) if m else None
    except ValueError:
        hc_cmd = None
    check(hc_cmd == ["basalt", "health", "--ready"], f"HEALTHCHECK CMD [\"basalt\", \"health\", \"--ready\"] in exec form ({hc_cmd})")
    copies = [r.split()[-1] for w, r in final if w == "COPY" and r.split()[-1].endswith("/basalt")]
    check(copies == ["/usr/local/bin/basalt"], f"the binary is /usr/local/bin/basalt, on the default PATH, as the health check calls it ({copies})")
    check(words.get("STOPSIGNAL") == "SIGTERM", "STOPSIGNAL SIGTERM")
    for w in ("ENTRYPOINT", "CMD"):
        try:
            json.loads(words.get(w, ""))
            ok(f"{w} in exec form")
        except ValueError:
            fail(f"{w} is not in exec form: {words.get(w)}")
    check("VOLUME" in words and "/var/lib/basalt" in words["VOLUME"], "the data directory is a VOLUME")
    ignore = os.path.join(ROOT, ".dockerignore")
    check(os.path.exists(ignore) and "target" in open(ignore).read(), ".dockerignore keeps target/ out of the context")
    # The health check's command, with the binary under test, against a real
    # server. BASALT_HTTP is the image's (0.0.0.0:PORT): it means loopback.
    if hc_cmd:
        health = [binary] + hc_cmd[1:]
        with Server(binary, env={"BASALT_SHUTDOWN_DELAY": "3"}) as srv:
            env = dict(os.environ, BASALT_HTTP=f"0.0.0.0:{srv.port}")
            out = run(health, env=env, timeout=10)
            check(out.returncode == 0, f"the HEALTHCHECK command passes against a ready server ({(out.stdout + out.stderr).strip()})")
            # Stopping (SIGTERM, within shutdown_delay): not ready, still alive.
            srv.proc.send_signal(15)
            time.sleep(0.5)
            out = run(health, env=env, timeout=10)
            check(out.returncode == 1 and "503" in out.stderr,
                  f"the HEALTHCHECK command fails while the server drains ({out.returncode}: {out.stderr.strip()})")
            live = run([binary, "health"], env=env, timeout=10)
            check(live.returncode == 0, f"`basalt health` (liveness) still passes while it drains ({(live.stdout + live.stderr).strip()})")
        env = dict(os.environ, BASALT_HTTP=f"0.0.0.0:{free_port()}")
        out = run(health, env=env, timeout=10)
        check(out.returncode == 1, f"the HEALTHCHECK command fails when nothing listens ({out.returncode}: {out.stderr.strip()})")
    writes_only_data_dir(binary)
    compose()


def writes_only_data_dir(binary):
    """The image runs with a read-only root filesystem and the data directory
    as its only writable path: under strace, a server taking requests of every
    kind (documents, uploads, functions, realtime) writes nowhere else."""
    if not check(shutil.which("strace") is not None, "strace is installed (to watch the server's writes)"):
        return
    with tempfile.TemporaryDirectory() as d:
        trace = os.path.join(d, "trace")
        wrap = ["strace", "-f", "-qq", "-o", trace, "-e",
                "trace=open,openat,creat,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat,truncate,symlink,symlinkat,link,linkat"]
        with Server(binary, wrap) as srv:
            ws = exercise(srv)
            ws.close()
            data_dir = srv.dir
            time.sleep(0.5)
        writes, inside = set(), 0
        for line in open(trace):
            call = re.search(r"(\w+)\((.*)", line)
            if not call or "= -1" in line or "resumed>" in line:
                continue
            name, rest = call.groups()
            paths = re.findall(r'"([^"]*)"', rest)
            if name in ("open", "openat", "creat"):
                if name != "creat" and not re.search(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC", rest):
                    continue
                paths = paths[:1]
            for path in paths:
                full = path if os.path.isabs(path) else os.path.join(data_dir, path)
                if os.path.normpath(full).startswith(data_dir):
                    inside += 1
                elif not full.startswith("/dev/"):
                    writes.add(f"{name} {path}")
        check(inside > 10, f"strace saw the server's writes in its data directory ({inside})")
        check(not writes, "the server writes only in its data directory (a read-only root filesystem works)"
              + ("" if not writes else f": {sorted(writes)[:10]}"))


def compose():
    for name in ("compose.yaml", "compose.cluster.yaml"):
        doc = yaml.safe_load(open(os.path.join(DEPLOY, "docker", name)))
        services = doc.get("services", {})
        for svc, spec in services.items():
            image = spec.get("image")
            check(image is not None and bool(PINNED.match(image)), f"{name}: {svc} image {image} is pinned")
        basalts = {k: v for k, v in services.items() if v.get("image", "").startswith("basalt:")
                   and v.get("command") != ["migrate"]}
        for svc, spec in basalts.items():
            check(spec.get("read_only") is True, f"{name}: {svc} has a read-only root filesystem")
            grace = int(str(spec.get("stop_grace_period", "10s")).rstrip("s"))
            env = spec.get("environment", {})
            shutdown = seconds(env.get("BASALT_SHUTDOWN_TIMEOUT"), SHUTDOWN_TIMEOUT_DEFAULT)
            delay = seconds(env.get("BASALT_SHUTDOWN_DELAY"), SHUTDOWN_DELAY_DEFAULT)
            check(grace >= delay + shutdown + STOP_MARGIN,
                  f"{name}: {svc} stop_grace_period {grace} s >= shutdown_delay {delay:g} + shutdown_timeout {shutdown:g} + {STOP_MARGIN} s")
        if name == "compose.yaml":
            check(len(basalts) == 1 and any("/var/lib/basalt" in v for s in basalts.values() for v in s.get("volumes", []))
                  and "basalt-data" in doc.get("volumes", {}), "compose.yaml: one node, data in a named volume")
        else:
            check(len(basalts) == 3, f"compose.cluster.yaml: three nodes ({sorted(basalts)})")
            for svc, spec in basalts.items():
                env = spec.get("environment", {})
                check(env.get("BASALT_DATABASE_URL", "").startswith("postgres://") and env.get("BASALT_FILES_URL", "").startswith("s3://")
                      and env.get("BASALT_TRUST_PROXY") == "true", f"compose.cluster.yaml: {svc} on PostgreSQL and S3 behind the proxy")
            lb = services.get("haproxy", {})
            check(any(v.startswith("./haproxy.cfg:") for v in lb.get("volumes", [])), "compose.cluster.yaml: HAProxy with deploy/docker/haproxy.cfg")
            cfg = open(os.path.join(DEPLOY, "docker", "haproxy.cfg")).read()
            for svc in basalts:
                check(f" {svc}:8090" in cfg, f"haproxy.cfg routes to {svc}")
            # A stopping node answers 503 for shutdown_delay while it serves:
            # HAProxy must see it down well within that, with time to spare for
            # requests it already sent there.
            down = haproxy_down_after(cfg)
            for svc, spec in basalts.items():
                delay = seconds(spec.get("environment", {}).get("BASALT_SHUTDOWN_DELAY"), SHUTDOWN_DELAY_DEFAULT)
                check(down is not None and delay >= 2 * down,
                      f"compose.cluster.yaml: {svc} shutdown_delay {delay:g} s >= twice the time HAProxy takes to see a node down ({down} s)")


def haproxy_duration(value):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(us|ms|s|m)?", value)
    return float(m.group(1)) * {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, None: 1e-3}[m.group(2)]


def haproxy_down_after(cfg):
    """Seconds from a node's first 503 until HAProxy marks it down, at worst:
    up to one `inter` until the next check, then `fall - 1` more checks
    `fastinter` apart (`default-server` line of haproxy.cfg)."""
    line = next((l.split() for l in cfg.splitlines() if l.strip().startswith("default-server")), None)
    if not line or "check" not in line:
        return None
    opts = dict(zip(line[1:], line[2:]))
    inter = haproxy_duration(opts.get("inter", "2s"))
    fastinter = haproxy_duration(opts.get("fastinter", opts.get("inter", "2s")))
    fall = int(opts.get("fall", "3"))
    return round(inter + (fall - 1) * fastinter, 3)


# ------------------------------------------------------------ load balancers
def balancers():
    print("load balancers")
    cfg = os.path.join(DEPLOY, "docker", "haproxy.cfg")
    out = run(["haproxy", "-c", "-q", "-f", cfg])
    check(out.returncode == 0, "haproxy -c deploy/docker/haproxy.cfg" + ("" if out.returncode == 0 else f": {out.stderr}"))
    text = open(cfg).read()
    for needle in ("option httpchk", "/v1/health/ready", "timeout tunnel", "option redispatch", "retry-on"):
        check(needle in text, f"haproxy.cfg has {needle}")
    conf = os.path.join(DEPLOY, "nginx", "basalt.conf")
    if not os.path.exists(conf):
        fail("deploy/nginx/basalt.conf is missing")
        return
    with tempfile.TemporaryDirectory() as d:
        key, crt = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
        gen = run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=basalt.example.com",
                   "-keyout", key, "-out", crt])
        if not check(gen.returncode == 0, "a throwaway certificate for nginx -t"):
            return
        text = open(conf).read()
        text = text.replace("/etc/ssl/basalt/fullchain.pem", crt).replace("/etc/ssl/basalt/privkey.pem", key)
        # A whole nginx.conf around the site file, as Debian's is.
        main = os.path.join(d, "nginx.conf")
        site = os.path.join(d, "basalt.conf")
        open(site, "w").write(text)
        open(main, "w").write(f"pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\n"
                              f"http {{\n access_log off;\n client_body_temp_path {d}/body;\n proxy_temp_path {d}/proxy;\n"
                              f" include {site};\n}}\n")
        out = run(["nginx", "-t", "-q", "-c", main, "-e", os.path.join(d, "error.log")])
        check(out.returncode == 0, "nginx -t deploy/nginx/basalt.conf" + ("" if out.returncode == 0 else f": {out.stderr}"))
    for needle in ("proxy_read_timeout", "Upgrade", "/v1/realtime", "X-Forwarded-For"):
        check(needle in text, f"nginx basalt.conf has {needle}")


# ------------------------------------------------------------------ monitoring
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A throwaway `basalt serve` on SQLite in a temporary directory."""

    def __init__(self, binary, wrap=(), env=None):
        self.binary = binary
        self.wrap = list(wrap)
        self.extra_env = dict(env or {})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="basalt-deploy-check-")
        env = {k: v for k, v in os.environ.items() if not k.startswith("BASALT_")}
        env.update(self.extra_env)
        self.log = open(os.path.join(self.dir, "server.log"), "wb")
        self.proc = subprocess.Popen(self.wrap + [self.binary, "serve", "--http", f"127.0.0.1:{self.port}", "--data-dir", self.dir],
                                     env=env, stdout=self.log, stderr=self.log, cwd=self.dir)
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(self.url + "/v1/health/ready", timeout=1):
                    return self
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"basalt did not start; see {self.dir}/server.log")
                time.sleep(0.1)

    def __exit__(self, *exc):
        target = self.proc.pid
        if self.wrap:
            # Stop the server, not the tracer wrapped around it.
            with open(f"/proc/{target}/task/{target}/children") as f:
                target = int(f.read().split()[0])
        os.kill(target, 15)
        self.proc.wait(timeout=30)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def call(self, method, path, body=None, token=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("content-type", "application/json")
        if token:
            req.add_header("authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                raw = r.read()
                return r.status, raw
        except urllib.error.HTTPError as e:
            return e.code, e.read()


PROMQL_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
                   "offset", "bool", "inf", "nan", "le"}
# Series Prometheus makes itself for every scrape, not served by Basalt.
PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}


def metric_names(expr):
    """Metric names an expression uses: strings, label matchers, grouping
    clauses, ranges, Grafana variables and function calls removed, every
    identifier left is a metric (or a recording rule)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\$\{[^}]*\}|\$\w+", "", expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        rest = expr[m.end():].lstrip()
        if rest.startswith("("):
            continue  # a function
        word = m.group(0)
        if word.lower() in PROMQL_KEYWORDS or expr[max(0, m.start() - 1)].isdigit():
            continue
        names.add(word)
    return names


def dashboard_exprs(dashboard):
    """Every panel query, and the metric each template variable reads."""
    out = []

    def walk(o):
        if isinstance(o, dict):
            if o.get("type") == "row":
                walk(o.get("panels", []))
                return
            for t in o.get("targets", []):
                out.append(t["expr"])
            for v in o.get("panels", []):
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
    walk(dashboard["panels"])
    for var in dashboard.get("templating", {}).get("list", []):
        q = var.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = re.match(r"label_values\((.*),\s*\w+\)$", q or "")
        if var.get("type") == "query":
            out.append(m.group(1) if m else q)
    return out


def exercise(srv):
    """Enough traffic that every labelled series shows up at least once."""
    email, password = "owner@example.com", "deploy check password"
    subprocess.run([srv.binary, "admin", "create", "--email", email, "--password", password, "--data-dir", srv.dir],
                   check=True, capture_output=True, env={k: v for k, v in os.environ.items() if not k.startswith("BASALT_")})
    status, raw = srv.call("POST", "/v1/admin/login", {"email": email, "password": password})
    admin = json.loads(raw)["access_token"]
    srv.call("POST", "/v1/db/collections", {"name": "notes", "rules": {"read": "auth != ()", "create": "auth != ()"}}, admin)
    user = json.loads(srv.call("POST", "/v1/auth/signup", {"email": "u@example.com", "password": "long enough password"})[1])["access_token"]
    srv.call("POST", "/v1/db/notes", {"data": {"a": 1}}, user)
    srv.call("POST", "/v1/db/notes/query", {"where": [["a", "==", 1]]}, user)
    srv.call("GET", "/v1/db/notes/nope", None, user)
    srv.call("PUT", "/v1/admin/functions/hello", {"kind": "http", "invoke": "true", "source": "#{hi: args.name}"}, admin)
    srv.call("POST", "/v1/functions/hello", {"name": "x"})
    srv.call("PUT", "/v1/admin/functions/after", {"kind": "trigger", "collection": "notes", "event": "after_create",
                                                  "source": "log(\"created\")"}, admin)
    srv.call("POST", "/v1/db/notes", {"data": {"a": 2}}, user)
    srv.call("POST", "/v1/storage/buckets", {"name": "files", "rules": {"read": "true", "write": "auth != ()"}}, admin)
    req = urllib.request.Request(srv.url + "/v1/storage/files/a.txt", data=b"hello" * 1000, method="PUT",
                                 headers={"authorization": f"Bearer {user}", "content-type": "text/plain"})
    urllib.request.urlopen(req, timeout=10).read()
    urllib.request.urlopen(srv.url + "/v1/storage/files/a.txt", timeout=10).read()
    # A realtime socket with a subscription.
    ws = socket.create_connection(("127.0.0.1", srv.port))
    ws.sendall(f"GET /v1/realtime?token={user} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    ws.recv(4096)
    payload = json.dumps({"type": "subscribe", "id": "s", "collection": "notes"}).encode()
    mask = b"\x01\x02\x03\x04"
    ws.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    time.sleep(0.3)
    srv.call("POST", "/v1/db/notes", {"data": {"a": 3}}, user)
    time.sleep(1.5)
    return ws


def monitoring(binary):
    print("monitoring")
    rules = os.path.join(DEPLOY, "monitoring", "prometheus-alerts.yaml")
    dash_path = os.path.join(DEPLOY, "monitoring", "grafana-dashboard.json")
    current = open(dash_path).read()
    promtool = shutil.which("promtool")
    if check(promtool is not None, "promtool is installed"):
        out = run([promtool, "check", "rules", rules])
        check(out.returncode == 0, "promtool check rules" + ("" if out.returncode == 0 else f": {out.stdout}{out.stderr}"))
        tests = os.path.join(DEPLOY, "monitoring", "prometheus-alerts.test.yaml")
        out = run([promtool, "test", "rules", tests])
        check(out.returncode == 0, "promtool test rules (the alerts fire, and stay quiet, as meant)"
              + ("" if out.returncode == 0 else f": {out.stdout}{out.stderr}"))
    used = {}
    for group in yaml.safe_load(open(rules))["groups"]:
        for rule in group["rules"]:
            for m in metric_names(rule["expr"]):
                used.setdefault(m, set()).add(f"alert {rule.get('alert') or rule.get('record')}")
    recorded = {r["record"] for g in yaml.safe_load(open(rules))["groups"] for r in g["rules"] if "record" in r}
    made = run([sys.executable, os.path.join(DEPLOY, "monitoring", "make-dashboard.py")], cwd=tempfile.gettempdir())
    check(made.returncode == 0 and open(dash_path).read() == current, "grafana-dashboard.json is what make-dashboard.py writes")
    dashboard = json.load(open(dash_path))
    exprs = dashboard_exprs(dashboard)
    check(len(exprs) >= 10, f"the dashboard has {len(exprs)} queries")
    for e in exprs:
        for m in metric_names(e):
            used.setdefault(m, set()).add("dashboard")
    with Server(binary) as srv:
        ws = exercise(srv)
        with urllib.request.urlopen(srv.url + "/metrics", timeout=10) as r:
            text = r.read().decode()
        ws.close()
    exposed, typed = set(), {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            typed[name] = kind
        elif line and not line.startswith("#"):
            exposed.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
    print(f"  ..   /metrics exposes {len(typed)} metrics ({len(exposed)} sample names)")
    for name in sorted(used):
        if name in recorded or name in PROMETHEUS_OWN:
            continue
        present = name in exposed or (name in typed and typed[name] != "histogram")
        check(present, f"{name} exists on /metrics (used by {', '.join(sorted(used[name]))})")
    # Histograms are used through their series, never by the bare name.
    for name in used:
        check(typed.get(name) != "histogram", f"{name} is used with _bucket/_sum/_count") if name in typed else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.environ.get("BASALT_BIN", os.path.expanduser("~/.cache/basalt-target/debug/basalt")))
    ap.add_argument("--only", default="kubernetes,systemd,docker,balancers,monitoring")
    args = ap.parse_args()
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"no basalt binary at {args.binary}")
    steps = {"kubernetes": lambda: kubernetes(), "systemd": lambda: systemd(args.binary),
             "docker": lambda: docker(args.binary), "balancers": balancers, "monitoring": lambda: monitoring(args.binary)}
    for name in args.only.split(","):
        steps[name]()
    if FAILURES:
        print(f"\ndeploy/check.py: {len(FAILURES)} failed")
        for f in FAILURES:
            print(f"  - {f}")
        sys.exit(1)
    print("\ndeploy/check.py: everything in deploy/ checks out")


if __name__ == "__main__":
    main()
