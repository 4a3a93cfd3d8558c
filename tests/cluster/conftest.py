"""One cluster for the whole session: three nodes on PostgreSQL and moto,
behind HAProxy. BASALT_BIN names the binary, BASALT_TEST_POSTGRES_URL the
PostgreSQL server (a database of its own is created and dropped)."""
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster import Cluster, http  # noqa: E402
from traffic import BUCKET, COLLECTION  # noqa: E402

RESULTS = {}
# Seconds a node keeps serving after SIGTERM while /v1/health/ready answers 503
# (shutdown_delay): above the ~1.5 s HAProxy's checks in deploy/docker/haproxy.cfg
# take to see it down. BASALT_CLUSTER_SHUTDOWN_DELAY=0 shows SIGTERM without it.
SHUTDOWN_DELAY = float(os.environ.get("BASALT_CLUSTER_SHUTDOWN_DELAY", "3"))


def pytest_addoption(parser):
    parser.addoption("--results", default=os.environ.get("BASALT_CLUSTER_RESULTS"),
                     help="write the measured numbers to this JSON file")


@pytest.fixture(scope="session")
def results():
    return RESULTS


@pytest.fixture(scope="session")
def cluster(request):
    binary = os.environ.get("BASALT_BIN", os.path.expanduser("~/.cache/basalt-target/debug/basalt"))
    postgres = os.environ.get("BASALT_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
    if not os.access(binary, os.X_OK):
        pytest.fail(f"no basalt binary at {binary} (set BASALT_BIN)")
    settings = {"BASALT_SHUTDOWN_DELAY": f"{SHUTDOWN_DELAY:g}",
                # test_functions.py's webhooks go to a receiver on loopback.
                "BASALT_FUNCTIONS_ALLOW_PRIVATE_NET": "true"}
    c = Cluster(binary, postgres, nodes=3, settings=settings)
    c.shutdown_delay = SHUTDOWN_DELAY
    failed = False
    try:
        c.start()
        yield c
        failed = request.session.testsfailed > 0
    except BaseException:
        failed = True
        raise
    finally:
        if failed:
            print(f"\ncluster logs kept in {c.workdir}\n{c.logs()}")
        c.close()
        if not failed:
            c.cleanup_files()


@pytest.fixture(scope="session")
def api(cluster):
    """The app the scenarios use: a collection, a bucket, a service key."""
    admin = cluster.admin_token()
    lb = cluster.lb
    status, _, body = http("POST", lb + "/v1/db/collections", {"name": COLLECTION, "rules": {
        "read": "auth != ()", "create": "auth != ()", "update": "auth != ()", "delete": "auth != ()"}}, admin)
    assert status == 201, body
    status, _, body = http("POST", lb + "/v1/storage/buckets", {"name": BUCKET, "rules": {
        "read": "auth != ()", "write": "auth != ()", "delete": "auth != ()"}}, admin)
    assert status == 201, body
    status, _, body = http("POST", lb + "/v1/admin/keys", {"name": "cluster harness"}, admin)
    assert status == 201, body
    return {"admin": admin, "key": body["key"]}


def pytest_sessionfinish(session, exitstatus):
    if not RESULTS:
        return
    text = json.dumps(RESULTS, indent=2, sort_keys=True)
    print("\n==> cluster measurements\n" + text)
    path = session.config.getoption("--results")
    if path:
        with open(path, "w") as f:
            f.write(text + "\n")
