"""Push notifications on three nodes: devices registered through the
balancer (so on every node), one send fanned out once and each device's
delivery claimed by one node, decrypted and verified by the Web Push service
of tests/push-services (py-vapid, http_ece); then a node SIGKILLed in the
middle of a send, after which every device still gets it (its claims run
out after the lease and the others send them)."""
import json
import os
import subprocess
import sys
import time

import pytest

from cluster import http, wait_for

SERVICES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "push-services", "services.py")
USERS = 6
PER_USER = 10
# docs/push.md#limits: a claim lasts the longest a run may take (max of the 5 s
# script budget and webhook_timeout, 10 s by default) plus 5 s.
LEASE_S = 15.0


@pytest.fixture(scope="module")
def push(cluster, api):
    log_path = os.path.join(cluster.workdir, "push-services.log")
    err = open(log_path, "wb")
    proc = subprocess.Popen([sys.executable, "-u", SERVICES], stdout=subprocess.PIPE, stderr=err,
                            stdin=subprocess.DEVNULL, text=True)
    err.close()
    line = proc.stdout.readline()
    assert line.startswith("{"), f"the push services did not start: {line!r}"
    where = json.loads(line)
    base = f"http://127.0.0.1:{where['http']}"
    try:
        users, devices = [], {}
        for u in range(USERS):
            # Each from an address of its own, as test_cluster.py's sign-ups: the
            # login rate limit counts sign-ups per client address.
            node = cluster.nodes[u % len(cluster.nodes)]
            status, _, body = http("POST", f"{node.url}/v1/auth/signup",
                                   {"email": f"push{u}@example.com", "password": "correct horse battery"},
                                   headers={"x-forwarded-for": f"203.0.113.{u + 10}"})
            assert status == 201, body
            users.append(body["user"]["id"])
            for _ in range(PER_USER):
                _, _, browser = http("GET", f"{base}/webpush/new?mode=ok")
                status, _, sub = http("POST", f"{cluster.lb}/v1/push/subscriptions",
                                      {"kind": "webpush", **browser}, body["access_token"])
                assert status == 201, sub
                devices[browser["endpoint"].rsplit("/", 1)[1]] = sub["id"]
        # A token of its own: earlier scenarios restart nodes and may end older ones.
        yield {"base": base, "users": users, "devices": devices, "admin": cluster.admin_token()}
    finally:
        proc.kill()
        proc.wait()


def received(push, send_id):
    """{device: times it got the send}, and entries with problems."""
    _, _, log = http("GET", f"{push['base']}/log")
    counts, problems = {}, []
    for e in log:
        if e.get("service") != "webpush" or (e.get("payload") or {}).get("id") != send_id:
            continue
        if e["problems"]:
            problems.append(e)
        counts[e["device"]] = counts.get(e["device"], 0) + 1
    return counts, problems


def send(cluster, push, title, via):
    status, _, body = http("POST", f"{via}/v1/admin/push",
                           {"user_ids": push["users"], "notification": {"title": title, "body": "cluster"}},
                           push["admin"])
    assert status == 202, body
    return body["id"]


def report(cluster, push, send_id, node=None):
    status, _, body = http("GET", f"{(node or cluster.nodes[0]).url}/v1/admin/push/{send_id}?limit=1000",
                           None, push["admin"])
    assert status == 200, body
    return body


def test_one_send_reaches_every_device_once(cluster, push, results):
    t0 = time.monotonic()
    send_id = send(cluster, push, "To everyone", cluster.lb)
    wait_for(lambda: report(cluster, push, send_id)["status"] == "done", 30, "the send to finish", interval=0.1)
    t_done = time.monotonic()
    r = report(cluster, push, send_id)
    counts, problems = received(push, send_id)
    results["push_send"] = {"devices": len(push["devices"]), "done_after_s": round(t_done - t0, 2),
                            "counts": r["counts"], "received": sum(counts.values())}
    print("push send:", results["push_send"])
    assert not problems, problems[:3]
    assert r["devices"] == USERS * PER_USER and r["counts"]["ok"] == USERS * PER_USER, r["counts"]
    # Fanned out once, each device's delivery claimed by one node at a time.
    assert set(counts) == set(push["devices"]) and all(n == 1 for n in counts.values()), counts


def test_sigkill_mid_send_loses_no_device(cluster, push, results):
    victim = cluster.nodes[1]
    try:
        send_id = send(cluster, push, "Through a crash", cluster.nodes[0].url)
        # Killed once the first devices have it.
        wait_for(lambda: sum(received(push, send_id)[0].values()) >= 1, 20, "a first device", interval=0.005)
        before = sum(received(push, send_id)[0].values())
        t_kill = time.monotonic()
        victim.kill()
        wait_for(lambda: report(cluster, push, send_id)["status"] == "done", LEASE_S + 30,
                 "the send to finish after the SIGKILL", interval=0.25)
        t_done = time.monotonic()
    finally:
        if not victim.running():
            victim.start()
            cluster.wait_lb_state(victim, "UP")
    counts, problems = received(push, send_id)
    r = report(cluster, push, send_id)
    results["push_sigkill"] = {"devices": len(push["devices"]), "received_before_kill": before,
                               "done_after_kill_s": round(t_done - t_kill, 2),
                               "duplicates": sum(n - 1 for n in counts.values()), "counts": r["counts"]}
    print("push SIGKILL:", results["push_sigkill"])
    assert not problems, problems[:3]
    assert r["counts"]["ok"] == USERS * PER_USER, r["counts"]
    assert set(counts) == set(push["devices"]), "a device never got it"
