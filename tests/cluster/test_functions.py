"""The functions slice on three nodes (docs/functions.md), after test_cluster.py:

1. a schedule every second runs each slot exactly once across the nodes,
   with no slot missing between the first and the last;
2. an after-trigger fed by creates through the balancer (so committed on
   every node) writes one document per change, none twice;
3. a webhook to a Standard Webhooks receiver on loopback
   (tests/webhook-receiver/receiver.py) gets every event, every signature
   verified; duplicate deliveries (allowed: at least once) are counted;
4. SIGKILL of a node with webhook deliveries in flight: when their lease
   runs out the other nodes deliver them, nothing lost; the time it took and
   the duplicates are measured.

Every node runs with BASALT_FN_NODE set to its name (cluster.py), so scripts
record which node ran them, and with functions_allow_private_net (conftest.py)
so webhooks may reach loopback.
"""
import base64
import datetime
import os
import secrets
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from cluster import http, wait_for

RECEIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "webhook-receiver", "receiver.py")
RULES = {"read": "auth != ()", "create": "auth != ()", "update": "auth != ()", "delete": "auth != ()"}
# docs/functions.md#operations: a claim's lease is the longest a run may take
# (max of the 5 s script budget and webhook_timeout, 10 s by default) plus 5 s.
LEASE_S = 15.0
SCHEDULE_SECONDS = 8.0
# A trigger or webhook saved on one node reaches the others at once: the save
# rings a PostgreSQL NOTIFY and they read the stored ones again (and every 2 s
# regardless; crates/functions/src/triggers.rs, docs/functions.md). Until then
# a write committed there queues nothing for it.
DIRECTORY_REFRESH_S = 2.0
NOTIFIED_S = 0.5
MARGIN = 1.5
WEBHOOKS = {"cluster-hook": ("/ok", "fn_hook"), "cluster-kill": ("/slow", "fn_kill")}


@pytest.fixture(scope="module")
def fn(cluster, api):
    """An admin token and a webhook receiver on loopback with a known secret."""
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    log_path = os.path.join(cluster.workdir, "webhook-receiver.log")
    err = open(log_path, "wb")
    proc = subprocess.Popen([sys.executable, "-u", RECEIVER, secret], stdout=subprocess.PIPE,
                            stderr=err, stdin=subprocess.DEVNULL, text=True)
    err.close()
    line = proc.stdout.readline()
    assert line.startswith("listening on "), f"the receiver did not start: {line!r}"
    port = int(line.split()[-1])
    ctx = {"admin": cluster.admin_token(), "key": api["key"], "secret": secret,
           "receiver": f"http://127.0.0.1:{port}", "receiver_port": port}
    try:
        # Both webhooks now, so that every node knows them by the time their
        # tests write (DIRECTORY_REFRESH_S).
        for name, (path, coll) in WEBHOOKS.items():
            collection(cluster, ctx["admin"], coll)
            save_webhook(cluster, ctx, name, path, [f"{coll}.create"])
        ctx["webhooks_saved"] = time.monotonic()
        yield ctx
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def collection(cluster, token, name):
    status, _, body = http("POST", cluster.lb + "/v1/db/collections", {"name": name, "rules": RULES}, token)
    assert status == 201, body


def save_function(cluster, token, name, spec):
    status, _, body = http("PUT", f"{cluster.lb}/v1/admin/functions/{name}", spec, token)
    assert status in (200, 201), body
    return body


def executions(base, token, name):
    """Every execution of a function, following next_cursor."""
    out, after = [], None
    while True:
        url = f"{base}/v1/admin/functions/{name}/executions?limit=100" + (f"&after={after}" if after else "")
        status, _, body = http("GET", url, token=token)
        assert status == 200, body
        out += body["executions"]
        after = body.get("next_cursor")
        if not after or not body["executions"]:
            return out


def deliveries(base, token, name):
    out, after = [], None
    while True:
        url = f"{base}/v1/admin/webhooks/{name}/deliveries?limit=100" + (f"&after={after}" if after else "")
        status, _, body = http("GET", url, token=token)
        assert status == 200, body
        out += body["deliveries"]
        after = body.get("next_cursor")
        if not after or not body["deliveries"]:
            return out


def all_documents(base, token, name):
    out, after = [], None
    while True:
        query = {"limit": 500, **({"after": after} if after else {})}
        status, _, body = http("POST", f"{base}/v1/db/{name}/query", query, token)
        assert status == 200, body
        out += body["documents"]
        after = body.get("next_cursor")
        if not after or not body["documents"]:
            return out


def count(base, token, name):
    status, _, body = http("POST", f"{base}/v1/db/{name}/count", {}, token)
    assert status == 200, body
    return body["count"]


def create_many(cluster, token, name, n, workers=6):
    """n creates through the balancer, `workers` at a time: [(id, node)]."""
    def one(i):
        status, headers, body = http("POST", f"{cluster.lb}/v1/db/{name}", {"data": {"i": i}}, token)
        assert status == 201, (status, body)
        return body["id"], {k.lower(): v for k, v in headers.items()}.get("x-basalt-node", "")
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(n)))


def by_node(pairs):
    out = {}
    for _, node in pairs:
        out[node] = out.get(node, 0) + 1
    return out


def receiver_log(fn, path):
    status, _, body = http("GET", fn["receiver"] + "/log")
    assert status == 200
    return [e for e in body if e["path"] == path]


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


# ------------------------------------------------------------ 1. schedules
def test_schedule_runs_each_slot_once_across_nodes(cluster, fn, results):
    name = "cluster-tick"
    collection(cluster, fn["admin"], "fn_ticks")
    source = ('log(event.slot);\n'
              'let id = event.slot; id.replace(":", "");\n'
              'db.create("fn_ticks", #{slot: event.slot, node: env.NODE}, #{id: id});')
    t_saved = datetime.datetime.now(datetime.timezone.utc)
    save_function(cluster, fn["admin"], name, {"kind": "schedule", "cron": "* * * * * *", "source": source})
    time.sleep(SCHEDULE_SECONDS)
    status, _, body = http("DELETE", f"{cluster.lb}/v1/admin/functions/{name}", token=fn["admin"])
    assert status == 204, body
    t_deleted = datetime.datetime.now(datetime.timezone.utc)
    time.sleep(1.5)  # a run claimed just before the delete finishes and is recorded
    runs = executions(cluster.nodes[0].url, fn["admin"], name)
    # The same list from every node: executions are in the shared database.
    for node in cluster.nodes[1:]:
        assert len(executions(node.url, fn["admin"], name)) == len(runs)
    slots = {}
    for r in runs:
        assert r["trigger"] == "schedule", r
        slots.setdefault(r["logs"][0], []).append(r)
    twice = {s: len(rs) for s, rs in slots.items() if len(rs) > 1}
    ordered = sorted(parse_time(s) for s in slots)
    missing = []
    for a, b in zip(ordered, ordered[1:]):
        gap = int((b - a).total_seconds())
        missing += [(a + datetime.timedelta(seconds=k)).isoformat() for k in range(1, gap)]
    docs = all_documents(cluster.lb, fn["key"], "fn_ticks")
    nodes = {}
    for d in docs:
        nodes[d["data"]["node"]] = nodes.get(d["data"]["node"], 0) + 1
    first_delay = (ordered[0] - t_saved).total_seconds() if ordered else None
    results["functions_schedule"] = {
        "cron": "* * * * * *", "seconds": SCHEDULE_SECONDS, "slots": len(slots), "executions": len(runs),
        "slots_run_twice": twice, "slots_missing": missing,
        "statuses": sorted({r["status"] for r in runs}), "slots_by_node": nodes,
        "first_slot_after_save_s": round(first_delay, 2) if first_delay is not None else None}
    print("schedule:", results["functions_schedule"])
    assert not twice, f"slots run more than once: {twice}"
    assert not missing, f"slots missing between the first and the last: {missing}"
    assert all(r["status"] == "ok" for r in runs), [r for r in runs if r["status"] != "ok"][:3]
    # Every slot from the first whole one after the save to the last before the delete.
    assert first_delay is not None and first_delay <= 2.0, (t_saved, ordered[:2])
    assert (t_deleted - ordered[-1]).total_seconds() <= 2.0, (t_deleted, ordered[-1])
    assert len(slots) >= SCHEDULE_SECONDS - 2, len(slots)
    # Each run's write committed with its slot: one document per slot.
    assert sorted(d["data"]["slot"] for d in docs) == sorted(slots), (len(docs), len(slots))


# ---------------------------------------------------------- 2. after-trigger
def test_after_trigger_once_per_change_from_every_node(cluster, fn, results):
    """Saved through node 1, then: creates directly on nodes 2 and 3 every
    0.1 s for DIRECTORY_REFRESH_S + MARGIN (when does each start to queue the
    trigger?), then n creates through the balancer. Every create after a node
    knew the trigger has exactly one copy, none before, none twice."""
    n = 90
    name = "cluster-copy"
    collection(cluster, fn["admin"], "fn_src")
    collection(cluster, fn["admin"], "fn_out")
    # The copy's id is the source's: a second run for the same change would
    # conflict (409 inside the script) and show as a failed execution.
    source = ('db.create("fn_out", #{src: event.document.id, event: event.id, node: env.NODE},'
              ' #{id: event.document.id});')
    n1 = cluster.nodes[0]
    status, _, body = http("PUT", f"{n1.url}/v1/admin/functions/{name}", {
        "kind": "trigger", "collection": "fn_src", "event": "after_create", "source": source}, fn["admin"])
    assert status == 201, body
    t_saved = time.monotonic()
    probes = []  # (seconds after the save, node, id)
    while time.monotonic() - t_saved < DIRECTORY_REFRESH_S + MARGIN:
        for node in cluster.nodes:
            t = time.monotonic() - t_saved
            status, _, doc = http("POST", f"{node.url}/v1/db/fn_src", {"data": {"probe": True}}, fn["key"])
            assert status == 201, doc
            probes.append((t, node.name, doc["id"]))
        time.sleep(0.1)
    t0 = time.monotonic()
    created = create_many(cluster, fn["key"], "fn_src", n)
    t_written = time.monotonic()
    want = {i for i, _ in created}

    def copies():
        return {d["id"] for d in all_documents(cluster.lb, fn["key"], "fn_out")}
    wait_for(lambda: want <= copies(), 30, f"{n} trigger-written documents", interval=0.25)
    t_done = time.monotonic()
    time.sleep(2.0)  # anything run twice would land by now (or fail and be recorded)
    docs = all_documents(cluster.lb, fn["key"], "fn_out")
    runs = executions(cluster.lb, fn["admin"], name)
    copied = {d["id"] for d in docs}
    # Per node: the probes before it knew the trigger have no copy, all after do.
    reached = {}
    problems = []
    for node in cluster.nodes:
        mine = [(t, i in copied) for t, nm, i in probes if nm == node.name]
        first = next((k for k, (_, c) in enumerate(mine) if c), None)
        if first is None:
            problems.append(f"{node.name}: no probe within {DIRECTORY_REFRESH_S + MARGIN} s ran the trigger")
            continue
        if not all(c for _, c in mine[first:]):
            problems.append(f"{node.name}: a probe after the first copied one has no copy: {mine}")
        reached[node.name] = round(mine[first][0], 2)
        reached[node.name + "_last_missed"] = round(mine[first - 1][0], 2) if first else None
    ran_on, statuses = {}, {}
    for d in docs:
        ran_on[d["data"]["node"]] = ran_on.get(d["data"]["node"], 0) + 1
    for r in runs:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    probes_copied = sum(1 for _, _, i in probes if i in copied)
    results["functions_after_trigger"] = {
        "creates": n, "creates_by_node": by_node(created), "copies_of_those": len(want & copied),
        "probes": len(probes), "probes_copied": probes_copied,
        "trigger_first_ran_for_a_write_after_s": reached, "runs_by_node": ran_on,
        "executions_by_status": statuses, "all_done_after_writes_s": round(t_done - t_written, 2),
        "writes_s": round(t_written - t0, 2)}
    print("after-trigger:", results["functions_after_trigger"])
    assert not problems, problems
    assert len(by_node(created)) == len(cluster.nodes), by_node(created)
    # Every copy is of a create, and every create after the bound has one.
    assert copied <= want | {i for _, _, i in probes}, "a copy of nothing"
    assert len(docs) == n + probes_copied
    assert len({d["data"]["event"] for d in docs}) == len(docs), "two copies share an event id"
    # Each change's outbox row ran once, at its first attempt.
    assert statuses == {"ok": len(docs)}, statuses
    assert all(r["attempts"] == 1 for r in runs), [r for r in runs if r["attempts"] != 1][:3]
    assert len({r["delivery"] for r in runs}) == len(runs), "an outbox row ran twice"
    # Node 1 saved it: it knew at once. The others when the NOTIFY reached them.
    assert reached[n1.name + "_last_missed"] is None, reached
    for node in cluster.nodes[1:]:
        assert reached[node.name] <= NOTIFIED_S, reached


# --------------------------------------------------------------- 3. webhook
def save_webhook(cluster, fn, name, path, events):
    status, _, body = http("PUT", f"{cluster.lb}/v1/admin/webhooks/{name}",
                           {"url": fn["receiver"] + path, "events": events, "secret": fn["secret"]}, fn["admin"])
    assert status in (200, 201), body


def known_everywhere(fn):
    """Wait until every node has read the webhooks saved by the fixture."""
    time.sleep(max(0.0, fn["webhooks_saved"] + DIRECTORY_REFRESH_S + MARGIN - time.monotonic()))


def delivered(entries):
    """Receiver log entries -> ({webhook-id: [entries]}, {document id: {webhook-ids}})."""
    by_id, by_doc = {}, {}
    for e in entries:
        by_id.setdefault(e["id"], []).append(e)
        if isinstance(e["payload"], dict):
            by_doc.setdefault(e["payload"]["data"]["document"]["id"], set()).add(e["id"])
    return by_id, by_doc


def test_webhook_gets_every_event_signed(cluster, fn, results):
    n = 90
    name = "cluster-hook"
    known_everywhere(fn)
    t0 = time.monotonic()
    created = create_many(cluster, fn["key"], "fn_hook", n)
    t_written = time.monotonic()
    want = {i for i, _ in created}
    wait_for(lambda: want <= set(delivered(receiver_log(fn, "/ok"))[1]), 30, f"{n} webhook deliveries",
             interval=0.2)
    t_done = time.monotonic()

    def finished():
        ds = deliveries(cluster.lb, fn["admin"], name)
        return len(ds) == n and all(d["status"] == "ok" for d in ds)
    wait_for(finished, 15, "every delivery marked ok", interval=0.2)
    time.sleep(1.5)  # late duplicates
    entries = receiver_log(fn, "/ok")
    by_id, by_doc = delivered(entries)
    unverified = [e for e in entries if e["verified"] is not True]
    duplicates = len(entries) - len(by_id)
    results["functions_webhook"] = {
        "events": n, "creates_by_node": by_node(created), "posts_received": len(entries),
        "distinct_webhook_ids": len(by_id), "duplicate_deliveries": duplicates,
        "unverified": len(unverified), "all_received_after_writes_s": round(t_done - t_written, 2),
        "writes_s": round(t_written - t0, 2)}
    print("webhook:", results["functions_webhook"])
    assert not unverified, unverified[:3]
    assert len(by_node(created)) == len(cluster.nodes), by_node(created)
    assert set(by_doc) == want, "an event for a document that was not created"
    assert all(len(ids) == 1 for ids in by_doc.values()), "one change delivered under two event ids"
    assert len(by_id) == n
    for wid, es in by_id.items():
        assert all(e["payload"]["id"] == wid and e["payload"]["type"] == "fn_hook.create" for e in es), es[0]


# ------------------------------------------------------ 4. SIGKILL mid-delivery
def connections_to(pid, port):
    """Established TCP connections of process `pid` to 127.0.0.1:port (from
    /proc: its socket inodes, matched in /proc/net/tcp)."""
    inodes = set()
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    remote = f"0100007F:{port:04X}"
    n = 0
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if cols[2] == remote and cols[3] == "01" and cols[9] in inodes:
                n += 1
    return n


def test_sigkill_with_deliveries_in_flight_loses_nothing(cluster, fn, results):
    """/slow holds the first try of each event 3 s: the victim dies with
    deliveries sent and unanswered (and maybe claimed and not yet sent). Their
    rows stay claimed until the lease (15 s) runs out; then a surviving node
    claims and sends them again (receiver.py answers a second try at once)."""
    n = 45
    name = "cluster-kill"
    victim = cluster.nodes[2]
    known_everywhere(fn)
    try:
        created = create_many(cluster, fn["key"], "fn_kill", n)
        want = {i for i, _ in created}
        # Kill the victim while it has deliveries waiting on the receiver.
        wait_for(lambda: connections_to(victim.proc.pid, fn["receiver_port"]) > 0, 10,
                 f"{victim.name} to have a delivery in flight", interval=0.02)
        in_flight = connections_to(victim.proc.pid, fn["receiver_port"])
        seen_before = len(receiver_log(fn, "/slow"))
        t_kill = time.monotonic()
        victim.kill()
        timeline = []

        def everything():
            by_id, by_doc = delivered(receiver_log(fn, "/slow"))
            ds = deliveries(cluster.nodes[0].url, fn["admin"], name)
            waiting = sum(1 for d in ds if d["status"] != "ok")
            timeline.append((round(time.monotonic() - t_kill, 2), waiting))
            return want <= set(by_doc) and len(ds) == n and waiting == 0
        wait_for(everything, LEASE_S + 20, "every delivery after the SIGKILL", interval=0.25)
        t_done = time.monotonic()
        time.sleep(1.5)
        entries = receiver_log(fn, "/slow")
    finally:
        if not victim.running():
            victim.start()
            cluster.wait_lb_state(victim, "UP")
    by_id, by_doc = delivered(entries)
    unverified = [e for e in entries if e["verified"] is not True]
    # Deliveries still waiting once the survivors' own 3 s first tries were done:
    # those the victim held.
    stranded = max([w for t, w in timeline if 4.0 <= t < LEASE_S - 2] or [0])
    recovery = t_done - t_kill
    results["functions_sigkill"] = {
        "events": n, "creates_by_node": by_node(created), "victim_connections_to_receiver_at_kill": in_flight,
        "posts_received_before_kill": seen_before, "stranded_on_victim": stranded,
        "all_delivered_after_kill_s": round(recovery, 2), "lease_s": LEASE_S,
        "posts_received": len(entries), "distinct_webhook_ids": len(by_id),
        "duplicate_deliveries": len(entries) - len(by_id), "unverified": len(unverified),
        "waiting_timeline": timeline[:: max(1, len(timeline) // 20)]}
    print("webhook SIGKILL:", results["functions_sigkill"])
    assert not unverified, unverified[:3]
    assert set(by_doc) == want and all(len(ids) == 1 for ids in by_doc.values())
    assert len(by_id) == n
    # Something was left on the victim, and it was delivered only after the lease.
    assert stranded >= 1, timeline
    # Only what the victim held was sent twice: the survivors sent theirs once.
    assert len(entries) - len(by_id) <= stranded, (len(entries), len(by_id), stranded)
    assert recovery >= LEASE_S - 5, f"delivered after {recovery:.1f} s: before the lease could run out?"
    assert recovery <= LEASE_S + 8, f"delivered only after {recovery:.1f} s"
