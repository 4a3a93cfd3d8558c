"""Cluster scenarios, in the order they run (one cluster for the session):

1. mixed HTTP load through the balancer;
2. realtime subscribers on every node receive every change once, in order;
3. per-node state that should be cluster-wide: rate limits, revoked sessions
   and refresh tokens, collection rules and schemas, a node that is not ready,
   a signing key retired at once (measured bounds);
4. SIGKILL of one node under load: only its requests in flight fail, its
   sockets resume through the balancer with nothing missed or repeated;
5. what SIGTERM does on one node (not ready but serving for shutdown_delay,
   then new connections are refused and a request in flight finishes);
6. rolling restarts under load: drained at the balancer first, and by SIGTERM
   alone (shutdown_delay, health checks and retries): zero failures each.
"""
import asyncio
import os
import secrets
import signal
import time

import aiohttp

from cluster import BACKEND, http
from traffic import COLLECTION, Subscriber, run_load

CONCURRENCY = int(os.environ.get("BASALT_CLUSTER_CONCURRENCY", "8"))
LOAD_SECONDS = float(os.environ.get("BASALT_CLUSTER_LOAD_SECONDS", "6"))

# Bounds documented in docs/auth.md, docs/documents.md and docs/realtime.md,
# with a margin for a busy two-core machine: a node remembers live sessions for
# 5 s, collection settings for 2 s.
SESSION_CACHE_BOUND = 5.0
COLLECTION_CACHE_BOUND = 2.0
MARGIN = 1.5
# After a node is set to drain at the balancer: longer than any request of the load.
DRAIN_WAIT = 2.0
# Writes dominate while a node is killed, so that some are in flight on it.
KILL_MIX = {"create": 6, "update": 1, "get": 2, "query": 1, "upload": 1, "download": 1}


def run(coro):
    return asyncio.run(coro)


def node_counts(requests):
    counts = {}
    for r in requests:
        counts[r.node] = counts.get(r.node, 0) + 1
    return counts


async def sentinel_seen(subscribers, lb, key, timeout=20):
    """Write one last document through the balancer and wait until every
    subscriber has it: everything committed before it has been delivered."""
    status, _, doc = await asyncio.to_thread(
        http, "POST", lb + f"/v1/db/{COLLECTION}", {"data": {"sentinel": True}}, key)
    assert status == 201, doc
    deadline = time.monotonic() + timeout
    while not all(any(c[2] == doc["id"] for c in s.changes) for s in subscribers):
        if time.monotonic() > deadline:
            missing = [s.name for s in subscribers if not any(c[2] == doc["id"] for c in s.changes)]
            raise AssertionError(f"the sentinel change never reached {missing}")
        await asyncio.sleep(0.05)
    return doc["id"]


def assert_no_duplicate_writes(cluster, api, load, seed):
    """The database holds every acknowledged create and, of the creates that
    failed, at most those that committed before their node died: a create is
    never written twice (the balancer does not resend a POST)."""
    status, _, body = http("POST", f"{cluster.lb}/v1/db/{COLLECTION}/count", {"where": [["run", "==", seed]]}, api["key"])
    assert status == 200, body
    failed_creates = [f for f in load.failures() if f.op == "create"]
    assert len(load.created) <= body["count"] <= len(load.created) + len(failed_creates), \
        (body["count"], len(load.created), len(failed_creates))
    return body["count"] - len(load.created)


def assert_same_stream(subscribers, reference, created):
    """Each subscriber saw exactly the reference's changes, once each, in seq
    order, and every acknowledged create is among them."""
    problems = []
    for s in subscribers:
        problems += s.check_sequence()
        if s.errors:
            problems.append(f"{s.name}: errors {s.errors[:3]}")
    ref = reference.changes
    for s in subscribers:
        if s is reference:
            continue
        # A subscriber's stream starts at its own subscription; compare from there.
        first = s.changes[0][0] if s.changes else None
        tail = [c for c in ref if first is not None and c[0] >= first]
        if s.changes != tail:
            have, want = set(s.changes), set(tail)
            problems.append(f"{s.name}: {len(s.changes)} changes, reference has {len(tail)} "
                            f"(missing {sorted(want - have)[:5]}, extra {sorted(have - want)[:5]}, "
                            f"duplicates {len(s.changes) - len(have)})")
    seen = {c[2] for c in ref if c[1] == "create"}
    lost = [i for i, _, _ in created if i not in seen]
    if lost:
        problems.append(f"{len(lost)} acknowledged creates never delivered, e.g. {lost[:3]}")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------- 1. load
def test_mixed_load_through_balancer(cluster, api, results):
    load = run(run_load(cluster.lb, api["key"], LOAD_SECONDS, CONCURRENCY, seed=1))
    print("load through the balancer:", load.summary())
    counts = node_counts(load.requests)
    results["load"] = {"requests": len(load.requests), "failed": len(load.failures()),
                       "seconds": LOAD_SECONDS, "concurrency": CONCURRENCY,
                       "p50_ms": round(load.percentile(50), 2), "p99_ms": round(load.percentile(99), 2),
                       "by_node": counts, "by_op": load.by_op()}
    assert load.failures() == [], [(f.op, f.status, f.error) for f in load.failures()[:10]]
    assert len(load.requests) > 200, "the load did not run"
    assert assert_no_duplicate_writes(cluster, api, load, 1) == 0
    # Every node took a share of the traffic.
    for node in cluster.nodes:
        assert counts.get(node.name, 0) > len(load.requests) / 10, counts
    # Every acknowledged write is readable from every node directly.
    sample = load.created[:: max(1, len(load.created) // 30)]
    for node in cluster.nodes:
        for doc_id, worker, n in sample:
            status, _, doc = http("GET", f"{node.url}/v1/db/{COLLECTION}/{doc_id}", token=api["key"])
            assert status == 200 and doc["data"]["n"] == n, (node.name, doc_id, status, doc)


def test_nginx_site_in_front(cluster, api, results):
    """deploy/nginx/basalt.conf (TLS, WebSocket upgrade, streamed uploads) in
    front of the same nodes: the mixed load without a failure, a realtime
    subscriber over wss receiving a change, /metrics kept private, port 80
    redirected to https."""
    base, wss, plain = cluster.start_nginx()

    async def scenario():
        async with aiohttp.ClientSession() as session:
            sub = Subscriber("nginx-wss", wss, api["key"]).start(session)
            await asyncio.wait_for(sub.subscribed.wait(), 15)
            load = await run_load(base, api["key"], LOAD_SECONDS / 2, CONCURRENCY, seed=7)
            await sentinel_seen([sub], cluster.lb, api["key"])
            await sub.stop()
            async with session.get(base + "/metrics", ssl=False) as r:
                metrics_status = r.status
            async with session.get(plain + "/v1/health", allow_redirects=False) as r:
                redirect = (r.status, r.headers.get("location", ""))
            return sub, load, metrics_status, redirect

    sub, load, metrics_status, redirect = run(scenario())
    print("load through nginx:", load.summary())
    results["nginx"] = {"requests": len(load.requests), "failed": len(load.failures()),
                        "p50_ms": round(load.percentile(50), 2), "p99_ms": round(load.percentile(99), 2),
                        "nodes": len(node_counts(load.requests))}
    assert load.failures() == [], [(f.op, f.status, f.error) for f in load.failures()[:10]]
    assert len(node_counts(load.requests)) == len(cluster.nodes), node_counts(load.requests)
    assert sub.errors == [] and sub.check_sequence() == [], sub.errors
    created = {i for i, _, _ in load.created}
    assert created <= {c[2] for c in sub.changes}, "a change missed over wss through nginx"
    assert metrics_status == 404
    assert redirect[0] == 301 and redirect[1].startswith("https://"), redirect
    assert assert_no_duplicate_writes(cluster, api, load, 7) == 0


# --------------------------------------------------------- 2. realtime fan-out
def test_realtime_on_every_node_exactly_once_in_order(cluster, api, results):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            subs = []
            for node in cluster.nodes:
                for k in range(2):
                    s = Subscriber(f"{node.name}-direct-{k}", node.ws, api["key"])
                    subs.append(s.start(session))
            await asyncio.wait_for(asyncio.gather(*(s.subscribed.wait() for s in subs)), 15)
            load = await run_load(cluster.lb, api["key"], LOAD_SECONDS / 2, CONCURRENCY, seed=2,
                                  mix={"create": 3, "update": 2, "get": 1})
            await sentinel_seen(subs, cluster.lb, api["key"])
            for s in subs:
                await s.stop()
            return subs, load

    subs, load = run(scenario())
    assert load.failures() == [], [(f.op, f.status, f.error) for f in load.failures()[:10]]
    # Every subscriber subscribed before the first write: they all saw the same stream.
    lengths = {s.name: len(s.changes) for s in subs}
    results["realtime_fanout"] = {"subscribers": len(subs), "changes_each": lengths,
                                  "writes": len([r for r in load.requests if r.op in ("create", "update")])}
    assert all(s.disconnects == [] for s in subs), [(s.name, s.errors) for s in subs if s.disconnects]
    assert_same_stream(subs, subs[0], load.created)
    assert len(set(lengths.values())) == 1, lengths
    writes = [r for r in load.requests if r.op in ("create", "update") and r.ok]
    # One change per acknowledged write, plus the sentinel.
    assert lengths[subs[0].name] == len(writes) + 1, (lengths, len(writes))


# ------------------------------------------------------- 3. cluster-wide state
def login_attempts(base, email, address, attempts):
    statuses = []
    for _ in range(attempts):
        status, headers, _ = http("POST", base + "/v1/auth/login",
                                  {"email": email, "password": "not the password"},
                                  headers={"x-forwarded-for": address})
        statuses.append(status)
    return statuses


def test_login_rate_limit_is_per_node(cluster, results):
    """Documented (docs/auth.md#rate-limits): each node counts on its own, so a
    client spread over N nodes gets N × login_rate_limit attempts a minute."""
    limit = int(cluster.node_env.get("BASALT_LOGIN_RATE_LIMIT", "10"))
    address = f"198.51.100.{secrets.randbelow(200) + 20}"
    email = f"nobody-{secrets.token_hex(3)}@example.com"
    per_node = []
    for node in cluster.nodes:
        statuses = login_attempts(node.url, email, address, limit + 2)
        per_node.append(statuses.count(401))
        # Within one node the limit holds: `limit` wrong passwords, then 429.
        assert statuses[:limit] == [401] * limit, (node.name, statuses)
        assert statuses[limit:] == [429, 429], (node.name, statuses)
    results["rate_limit"] = {"login_rate_limit": limit, "allowed_per_node": per_node,
                             "allowed_cluster_wide": sum(per_node)}
    assert sum(per_node) == limit * len(cluster.nodes)


def signup(base, address):
    email = f"u-{secrets.token_hex(4)}@example.com"
    status, _, body = http("POST", base + "/v1/auth/signup", {"email": email, "password": "long enough password"},
                           headers={"x-forwarded-for": address})
    assert status == 201, body
    return body


def accepted_for(url, token, bound, interval=0.05):
    """Seconds until `url` stops accepting `token` (401), polling."""
    t0 = time.monotonic()
    while True:
        status, _, _ = http("GET", url + "/v1/auth/user", token=token)
        elapsed = time.monotonic() - t0
        if status == 401:
            return elapsed
        assert status == 200, status
        if elapsed > bound:
            return elapsed
        time.sleep(interval)


def test_signed_out_session_stops_on_every_node_within_bound(cluster, results):
    n1, n2, n3 = cluster.nodes
    session = signup(n1.url, "198.51.100.2")
    access, refresh = session["access_token"], session["refresh_token"]
    # Every node has seen the session live (and remembers it).
    for node in cluster.nodes:
        assert http("GET", node.url + "/v1/auth/user", token=access)[0] == 200
    assert http("POST", n1.url + "/v1/auth/logout", token=access)[0] == 204
    assert http("GET", n1.url + "/v1/auth/user", token=access)[0] == 401, "not at once on the node that ended it"
    # The refresh token is checked in the database: refused at once everywhere.
    assert http("POST", n2.url + "/v1/auth/refresh", {"refresh_token": refresh})[0] == 401
    on_n2 = accepted_for(n2.url, access, SESSION_CACHE_BOUND * 2)
    on_n3 = accepted_for(n3.url, access, SESSION_CACHE_BOUND * 2)
    results["logout_propagation_s"] = {"node2": round(on_n2, 2), "node3_after_node2": round(on_n3, 2)}
    assert on_n2 <= SESSION_CACHE_BOUND + MARGIN, f"node2 accepted the signed-out token for {on_n2:.2f} s"
    assert on_n2 + on_n3 <= SESSION_CACHE_BOUND + MARGIN


def test_admin_revoke_stops_on_every_node_within_bound(cluster, api, results):
    n1, n2, n3 = cluster.nodes
    session = signup(n2.url, "198.51.100.3")
    access, refresh, uid = session["access_token"], session["refresh_token"], session["user"]["id"]
    for node in cluster.nodes:
        assert http("GET", node.url + "/v1/auth/user", token=access)[0] == 200
    status, _, body = http("POST", f"{n1.url}/v1/admin/users/{uid}/logout", token=api["key"])
    assert status == 204, body
    assert http("GET", n1.url + "/v1/auth/user", token=access)[0] == 401
    assert http("POST", n3.url + "/v1/auth/refresh", {"refresh_token": refresh})[0] == 401
    on_n2 = accepted_for(n2.url, access, SESSION_CACHE_BOUND * 2)
    on_n3 = accepted_for(n3.url, access, SESSION_CACHE_BOUND * 2)
    results["admin_revoke_propagation_s"] = {"node2": round(on_n2, 2), "node3_after_node2": round(on_n3, 2)}
    assert on_n2 <= SESSION_CACHE_BOUND + MARGIN
    assert on_n2 + on_n3 <= SESSION_CACHE_BOUND + MARGIN
    # A disabled user is refused on every node within the same bound.
    session = signup(n3.url, "198.51.100.4")
    access, uid = session["access_token"], session["user"]["id"]
    for node in cluster.nodes:
        assert http("GET", node.url + "/v1/auth/user", token=access)[0] == 200
    assert http("PATCH", f"{n1.url}/v1/admin/users/{uid}", {"disabled": True}, api["key"])[0] == 200
    on_n3 = accepted_for(n3.url, access, SESSION_CACHE_BOUND * 2)
    results["disable_propagation_s"] = {"node3": round(on_n3, 2)}
    assert on_n3 <= SESSION_CACHE_BOUND + MARGIN


def until_status(fn, want, bound, interval=0.02):
    t0 = time.monotonic()
    while True:
        status = fn()
        elapsed = time.monotonic() - t0
        if status == want or elapsed > bound:
            return elapsed, status
        time.sleep(interval)


def test_rule_and_schema_changes_reach_every_node_within_bound(cluster, api, results):
    n1, n2, n3 = cluster.nodes
    name = f"probe_{secrets.token_hex(3)}"
    status, _, body = http("POST", n1.url + "/v1/db/collections", {"name": name, "rules": {
        "read": "true", "create": "true"}}, api["key"])
    assert status == 201, body
    status, _, doc = http("POST", f"{n1.url}/v1/db/{name}", {"data": {"title": "x"}}, api["key"])
    assert status == 201, doc
    url = f"/v1/db/{name}/{doc['id']}"
    # Every node has the collection's settings cached (anonymous reads allowed).
    for node in cluster.nodes:
        assert http("GET", node.url + url)[0] == 200
    assert http("PATCH", f"{n1.url}/v1/db/collections/{name}", {"rules": {"read": "false", "create": "true"}},
                api["key"])[0] == 200
    assert http("GET", n1.url + url)[0] == 403, "not at once on the node that saved it"
    rule_n2, status2 = until_status(lambda: http("GET", n2.url + url)[0], 403, COLLECTION_CACHE_BOUND * 3)
    rule_n3, status3 = until_status(lambda: http("GET", n3.url + url)[0], 403, COLLECTION_CACHE_BOUND * 3)
    # A schema: documents without a title are refused (422) once it applies.
    for node in cluster.nodes:
        assert http("POST", f"{node.url}/v1/db/{name}", {"data": {"other": 1}})[0] == 201
    schema = {"type": "object", "required": ["title"]}
    assert http("PATCH", f"{n1.url}/v1/db/collections/{name}", {"schema": schema}, api["key"])[0] == 200
    assert http("POST", f"{n1.url}/v1/db/{name}", {"data": {"other": 1}})[0] == 422
    schema_n3, status_s = until_status(lambda: http("POST", f"{n3.url}/v1/db/{name}", {"data": {"other": 1}})[0],
                                       422, COLLECTION_CACHE_BOUND * 3, interval=0.05)
    results["collection_propagation_s"] = {"rule_node2": round(rule_n2, 2), "rule_node3": round(rule_n3, 2),
                                           "schema_node3": round(schema_n3, 2)}
    assert (status2, status3, status_s) == (403, 403, 422), results["collection_propagation_s"]
    assert max(rule_n2, rule_n3 + rule_n2, schema_n3) <= COLLECTION_CACHE_BOUND + MARGIN, \
        results["collection_propagation_s"]


def test_a_node_that_is_not_ready_gets_no_traffic(cluster, api, results):
    """A node that runs but cannot reach its file store answers 503 on
    /v1/health/ready (200 on /v1/health): the balancer's health checks take it
    out, and the load through the balancer goes on without a failure."""
    node = cluster.nodes[2]
    node.stop()
    dead = f"http://127.0.0.1:{cluster.free_port()}"
    node.start(wait=False, env_overrides={"BASALT_S3_ENDPOINT": dead})
    try:
        wait_for_status = time.monotonic() + 30
        while http_status(node.url + "/v1/health") != 200:
            assert time.monotonic() < wait_for_status, "the node did not come up"
            time.sleep(0.1)
        assert http_status(node.url + "/v1/health/ready") == 503
        t0 = time.monotonic()
        cluster.wait_lb_state(node, "DOWN")
        out_after = time.monotonic() - t0
        load = run(run_load(cluster.lb, api["key"], LOAD_SECONDS / 2, CONCURRENCY, seed=3))
        counts = node_counts(load.requests)
        results["not_ready_node"] = {"taken_out_after_s": round(out_after, 2), "requests": len(load.requests),
                                     "failed": len(load.failures()), "by_node": counts}
        assert load.failures() == [], [(f.op, f.status, f.node, f.error) for f in load.failures()[:10]]
        assert counts.get(node.name, 0) == 0, counts
    finally:
        node.stop()
        node.start()
        cluster.wait_lb_state(node, "UP")


def http_status(url):
    try:
        return http("GET", url, timeout=5)[0]
    except OSError:
        return 0


SIGNING_KEY_RELOAD_BOUND = 10.0   # docs/admin.md: running servers read the keys every 10 s


def jwt_kid(token):
    import base64
    import json as jsonlib
    head = token.split(".")[0]
    return jsonlib.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"]


def test_signing_key_rotated_now_reaches_every_node_within_bound(cluster, results):
    """`basalt signing-keys rotate --now` (a leaked key) on the shared database:
    every node refuses tokens of the retired key within 10 s."""
    session = signup(cluster.nodes[0].url, "198.51.100.5")
    old = session["access_token"]
    for node in cluster.nodes:
        assert http("GET", node.url + "/v1/auth/user", token=old)[0] == 200
    cluster._cli("signing-keys", "rotate", "--now")
    t0 = time.monotonic()
    # A refresh right after: which key signs it, on a node that has not reloaded yet?
    status, _, fresh = http("POST", cluster.nodes[1].url + "/v1/auth/refresh", {"refresh_token": session["refresh_token"]})
    assert status == 200, fresh
    refused_after = {}
    pending = set(range(len(cluster.nodes)))
    while pending and time.monotonic() - t0 < SIGNING_KEY_RELOAD_BOUND * 2:
        for i in sorted(pending):
            if http("GET", cluster.nodes[i].url + "/v1/auth/user", token=old)[0] == 401:
                refused_after[cluster.nodes[i].name] = round(time.monotonic() - t0, 2)
                pending.discard(i)
        time.sleep(0.1)
    newest = cluster._cli("signing-keys", "list").strip().splitlines()[-1].split()[0]
    fresh_ok = [http("GET", n.url + "/v1/auth/user", token=fresh["access_token"])[0] for n in cluster.nodes]
    results["signing_key_rotate_now_s"] = {
        "old_token_refused_after": refused_after,
        "token_refreshed_at_once_signed_by_new_key": jwt_kid(fresh["access_token"]) == newest,
        "token_refreshed_at_once_accepted_after_reload": fresh_ok}
    assert not pending, f"nodes still accept the retired key's token: {results['signing_key_rotate_now_s']}"
    assert max(refused_after.values()) <= SIGNING_KEY_RELOAD_BOUND + MARGIN, results["signing_key_rotate_now_s"]


# ------------------------------------------------------------------ 4. SIGKILL
def test_sigkill_one_node_under_load(cluster, api, results):
    victim = cluster.nodes[2]
    survivor = cluster.nodes[0]

    async def scenario():
        async with aiohttp.ClientSession() as session:
            reference = Subscriber("reference", survivor.ws, api["key"])
            subs = [reference]
            for k in range(9):
                subs.append(Subscriber(f"lb-{k}", cluster.lb_ws, api["key"], reconnect_url=cluster.lb_ws))
            for s in subs:
                s.start(session)
            await asyncio.wait_for(asyncio.gather(*(s.subscribed.wait() for s in subs)), 15)
            on_victim = [s for s in subs if s.connections[0][1] == victim.name]
            stop = asyncio.Event()
            load_task = asyncio.create_task(
                run_load(cluster.lb, api["key"], 60, CONCURRENCY, seed=4, stop=stop, mix=KILL_MIX))
            await asyncio.sleep(LOAD_SECONDS / 3)
            in_haproxy = int(cluster.lb_stats()[victim.name]["scur"])
            t_kill = time.monotonic()
            victim.kill()
            t_dead = time.monotonic()
            await asyncio.sleep(LOAD_SECONDS / 2)
            stop.set()
            load = await load_task
            await sentinel_seen(subs, cluster.lb, api["key"])
            for s in subs:
                await s.stop()
            return subs, on_victim, load, t_kill, t_dead, in_haproxy

    try:
        subs, on_victim, load, t_kill, t_dead, in_haproxy = run(scenario())
    finally:
        if not victim.running():
            victim.start()
            cluster.wait_lb_state(victim, "UP")
    in_flight = [r for r in load.requests if r.start < t_dead and r.end > t_kill]
    failures = load.failures()
    print(f"SIGKILL: {len(failures)} failed of {len(load.requests)}; {len(in_flight)} requests were in flight "
          f"(HAProxy had {in_haproxy} on {victim.name}); failures: "
          f"{[(f.op, f.status, f.node) for f in failures]}")
    results["sigkill"] = {
        "requests": len(load.requests), "failed": len(failures),
        "failed_ops": sorted(f.op for f in failures),
        "in_flight_at_kill_all_nodes": len(in_flight), "victim_sessions_at_kill": in_haproxy,
        "sockets_on_victim": len(on_victim),
        "reconnects": {s.name: len(s.disconnects) for s in subs if s.disconnects},
        "p99_ms": round(load.percentile(99), 2)}
    # Only requests in flight at the kill failed, each one on the killed node,
    # and no more than the victim had.
    for f in failures:
        assert f.start < t_dead and f.end > t_kill, f"a request failed outside the kill: {f}"
        assert f.node in (victim.name, ""), f"a request failed on another node: {f}"
    # HAProxy's sessions on the victim at the kill (its sockets included) bound
    # what could fail; the client was blocked between that count and the kill.
    assert len(failures) <= min(len(in_flight), in_haproxy), (len(failures), len(in_flight), in_haproxy)
    # Reads, uploads and queries that met the dying node were sent to another.
    retriable = [f for f in failures if f.method in ("GET", "HEAD", "PUT", "DELETE") or f.op == "query"]
    assert retriable == [], retriable
    # Its sockets reconnected (through the balancer, to another node) and resumed.
    assert on_victim, "no realtime socket was on the killed node"
    for s in on_victim:
        assert len(s.disconnects) >= 1 and len(s.connections) >= 2, (s.name, s.connections, s.errors)
        assert s.connections[-1][1] != victim.name, (s.name, s.connections)
    for s in subs:
        if s not in on_victim:
            assert s.disconnects == [], (s.name, s.errors)
    # Nothing missed, nothing twice, in order: the same stream as the reference.
    assert_same_stream(subs, subs[0], load.created)
    results["sigkill"]["failed_creates_that_committed"] = assert_no_duplicate_writes(cluster, api, load, 4)


# --------------------------------------------------- 5. what SIGTERM does
def raw_get(port, path):
    """GET on a new keep-alive connection: (status, lowercased headers, body),
    or None when the connection is refused."""
    import socket as socketlib
    try:
        b = socketlib.create_connection(("127.0.0.1", port), timeout=5)
    except ConnectionRefusedError:
        return None
    with b:
        b.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = b.recv(4096)
            assert chunk, f"the connection closed before the headers: {data!r}"
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = dict((k.strip().lower(), v.strip()) for k, v in (l.split(":", 1) for l in lines[1:]))
        while len(body) < int(headers.get("content-length", 0)):
            body += b.recv(4096)
        return int(lines[0].split(" ")[1]), headers, body


def test_sigterm_finishes_requests_in_flight_and_stops_accepting(cluster, api, results):
    """docs/admin.md#shutdown and docs/deploy.md: on SIGTERM a node first
    keeps serving for shutdown_delay with /v1/health/ready answering 503 and
    every response closing its connection, then stops accepting, lets the
    requests in flight finish and exits 0. Probed on one node directly: an
    upload whose body is still arriving when the listener closes is finished
    and answered 201; during the delay a new connection is served (ready 503
    with checks.shutdown "draining", /v1/health 200, both `Connection: close`);
    after it a new connection is refused."""
    import json as jsonlib
    import socket as socketlib
    node = cluster.nodes[1]
    delay = cluster.shutdown_delay
    body = b"y" * 4096
    s = socketlib.create_connection(("127.0.0.1", node.port), timeout=10 + delay)
    s.sendall((f"PUT /v1/storage/files/sigterm/{secrets.token_hex(4)}.txt HTTP/1.1\r\nHost: x\r\n"
               f"Authorization: Bearer {api['key']}\r\nContent-Type: text/plain\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body[:1000])
    time.sleep(0.3)
    t_sig = time.monotonic()
    node.signal(signal.SIGTERM)
    probe = {}
    if delay:
        time.sleep(min(0.5, delay / 3))
        ready = raw_get(node.port, "/v1/health/ready")
        live = raw_get(node.port, "/v1/health")
        probe["during_delay"] = {
            "ready": ready and [ready[0], ready[1].get("connection"),
                                jsonlib.loads(ready[2])["error"]["details"]["checks"]],
            "health": live and [live[0], live[1].get("connection")]}
        time.sleep(max(0.0, t_sig + delay + 0.5 - time.monotonic()))
    else:
        time.sleep(0.5)
    probe["new_connection_after_delay"] = "refused" if raw_get(node.port, "/v1/health") is None else "accepted"
    s.sendall(body[1000:])
    answer = s.recv(4096).decode(errors="replace")
    s.close()
    node.proc.wait(timeout=30)
    probe["exit_code"] = node.proc.returncode
    probe["exit_after_s"] = round(time.monotonic() - t_sig, 2)
    probe["in_flight_upload"] = answer.split("\r\n", 1)[0]
    results["sigterm_probe"] = probe
    node.start()
    cluster.wait_lb_state(node, "UP")
    assert answer.startswith("HTTP/1.1 201"), answer[:200]
    assert probe["exit_code"] == 0, probe
    assert probe["new_connection_after_delay"] == "refused", probe
    if delay:
        assert probe["during_delay"] == {"ready": [503, "close", {"shutdown": "draining"}],
                                         "health": [200, "close"]}, probe
        assert probe["exit_after_s"] >= delay, probe


# ----------------------------------------------------------- 6. rolling restart
def rolling_restart(cluster, api, drain_first, results_key, results):
    """Restart every node in turn under load; realtime clients through the
    balancer follow and resume."""
    log = []

    async def scenario():
        async with aiohttp.ClientSession() as session:
            subs = [Subscriber(f"lb-{k}", cluster.lb_ws, api["key"], reconnect_url=cluster.lb_ws)
                    for k in range(6)]
            for s in subs:
                s.start(session)
            await asyncio.wait_for(asyncio.gather(*(s.subscribed.wait() for s in subs)), 15)
            stop = asyncio.Event()
            load_task = asyncio.create_task(run_load(cluster.lb, api["key"], 120, CONCURRENCY, seed=5 + drain_first, stop=stop))
            await asyncio.sleep(1)
            for node in cluster.nodes:
                t0 = time.monotonic()
                if drain_first:
                    # The operator's step (docs/deploy.md): no new requests to
                    # this node, give those it has a moment (its realtime
                    # sockets stay until it stops), then stop it.
                    await asyncio.to_thread(cluster.haproxy_cmd, f"set server {BACKEND}/{node.name} state drain")
                    await asyncio.sleep(DRAIN_WAIT)
                t_sig = time.monotonic()
                node.signal(signal.SIGTERM)
                t_down = None
                if not drain_first:
                    # The node answers 503 on /v1/health/ready: when does HAProxy take it out?
                    await asyncio.to_thread(cluster.wait_lb_state, node, "DOWN", 30)
                    t_down = time.monotonic()
                await asyncio.to_thread(node.proc.wait, 30)
                t_exit = time.monotonic()
                code = node.proc.returncode
                try:
                    await asyncio.to_thread(node.start)
                finally:
                    if drain_first:
                        await asyncio.to_thread(cluster.haproxy_cmd, f"set server {BACKEND}/{node.name} state ready")
                await asyncio.to_thread(cluster.wait_lb_state, node, "UP")
                log.append({"node": node.name, "exit_after_s": round(t_exit - t0, 2),
                            "back_up_after_s": round(time.monotonic() - t0, 2),
                            "exit_code": code, "t_sigterm": t_sig, "t_exit": t_exit})
                if t_down is not None:
                    log[-1]["lb_down_after_sigterm_s"] = round(t_down - t_sig, 2)
            await asyncio.sleep(1)
            stop.set()
            load = await load_task
            await sentinel_seen(subs, cluster.lb, api["key"])
            for s in subs:
                await s.stop()
            return subs, load

    subs, load = run(scenario())
    failures = load.failures()
    print(f"rolling restart ({'drained first' if drain_first else 'SIGTERM only'}): {load.summary()}; "
          f"failures {[(f.op, f.status, f.node, f.error[:80]) for f in failures[:10]]}")
    results[results_key] = {"requests": len(load.requests), "failed": len(failures),
                            "failed_ops": sorted(f.op for f in failures), "restarts": log,
                            "concurrency": CONCURRENCY, "shutdown_delay_s": cluster.shutdown_delay,
                            "p50_ms": round(load.percentile(50), 2), "p99_ms": round(load.percentile(99), 2),
                            "reconnects": sum(len(s.disconnects) for s in subs)}
    results[results_key]["failed_creates_that_committed"] = assert_no_duplicate_writes(cluster, api, load, 5 + drain_first)
    # Every subscriber lost its node once and resumed with nothing missed.
    reference = max(subs, key=lambda s: len(s.changes))
    assert_same_stream(subs, reference, load.created)
    assert all(len(s.disconnects) >= 1 for s in subs), [len(s.disconnects) for s in subs]
    # SIGTERM is a clean stop: every node exited with status 0.
    assert [r["exit_code"] for r in log] == [0] * len(log), log
    return failures


def test_rolling_restart_drained_at_the_balancer_loses_nothing(cluster, api, results):
    failures = rolling_restart(cluster, api, True, "rolling_restart_drained", results)
    assert failures == [], [(f.op, f.status, f.node, f.error) for f in failures]


def test_rolling_restart_by_sigterm_alone(cluster, api, results):
    """SIGTERM with nothing done at the balancer first.

    With shutdown_delay (conftest.py: 3 s) the node keeps serving after
    SIGTERM while /v1/health/ready answers 503 and every response carries
    `Connection: close`: HAProxy's checks (deploy/docker/haproxy.cfg, fall 2,
    inter 1s then fastinter 500ms) mark it DOWN within about 1.5 s, its
    keep-alive connections are closed after their response, and only then does
    the listener close. So no request meets a closing connection or a closed
    port: zero failures, and HAProxy saw each node DOWN before its delay ended.

    With BASALT_CLUSTER_SHUTDOWN_DELAY=0 (SIGTERM closes the listener at once)
    a POST or PATCH written into a connection the node is closing, or waiting
    in its accept queue, fails; the test then asserts only that every failure
    is such a non-idempotent request overlapping a shutdown."""
    delay = cluster.shutdown_delay
    failures = rolling_restart(cluster, api, False, "rolling_restart_sigterm_only", results)
    restarts = results["rolling_restart_sigterm_only"]["restarts"]
    if delay:
        assert failures == [], [(f.op, f.status, f.node, f.error) for f in failures]
        late = [r for r in restarts if r["lb_down_after_sigterm_s"] >= delay]
        assert not late, f"HAProxy saw a node DOWN only after its shutdown_delay ({delay} s): {late}"
        return
    windows = [(r["t_sigterm"], r["t_exit"]) for r in restarts]
    for f in failures:
        assert f.method in ("POST", "PATCH") and f.op != "query", f"an idempotent request failed: {f}"
        assert any(f.start <= t_exit + 0.5 and f.end >= t_sig for t_sig, t_exit in windows), \
            f"a request failed away from any shutdown: {f}"
