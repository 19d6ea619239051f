"""Two app processes behind HAProxy on loopback (deploy/cluster.py), driven by wire sessions.

Checks what only a real balancer shows: both processes get visitors, every request of a visitor
reaches the process that holds its session (the affinity cookie), and when one process dies its
visitors reconnect through the balancer to the other one and see the same view (their URL holds
every view-defining setting), with no error box. HAProxy comes from Debian (.ci/run installs
it); without it the test is skipped here, and fails in CI (CI=true or LLE_REQUIRE_HAPROXY=1).
"""

import asyncio
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import psutil
import pytest

from deploy.cluster import Cluster, haproxy_binary
from tests.browser.harness import ARTIFACTS
from tests.load import failover
from tests.load.loadtest import SEED_BASE, Session, run_wire
from tests.load.wire import WireSession

SESSIONS = 4
STEPS = 10
WAIT_S = 60.0
REQUIRED = os.environ.get("CI") == "true" or os.environ.get("LLE_REQUIRE_HAPROXY") == "1"


@pytest.fixture(scope="module")
def haproxy():
    if haproxy_binary() is None:
        why = "haproxy is not installed (apt-get install -y haproxy; .ci/run does it)"
        if REQUIRED:
            pytest.fail(why + ": required in CI")
        pytest.skip(why)


async def reference_view(base: str, query: str) -> dict:
    """The view `query` defines, opened straight on one app process (no balancer)."""
    async with WireSession(base) as w:
        await w.open("training", query)
        await w.run_done(WAIT_S)
        assert not w.errors, w.errors
        return failover.chart_digests(w)


async def scenario(cluster: Cluster) -> tuple[list[Session], failover.Failover, dict]:
    args = SimpleNamespace(steps=STEPS, timeout=WAIT_S, ramp=0.0, sessions=SESSIONS, balanced=True)
    args.server_pids = [r.proc.pid for r in cluster.replicas]
    for r in cluster.replicas:  # warm: the first Training page a process draws is slow
        await reference_view(r.base, f"steps={STEPS}")
    sessions = [Session(i) for i in range(SESSIONS)]
    # the kill comes once every session is through: each then sits on an open connection
    fail = failover.Failover(cluster, victim="r0", after=SESSIONS, timeout=WAIT_S * 2)
    await asyncio.gather(fail.run(), *(run_wire(cluster.base, s, args, fail) for s in sessions))
    live = cluster.replica("r1").base
    references = {s.index: await reference_view(live, s.view[0]) for s in sessions}
    return sessions, fail, references


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_two_replicas_behind_haproxy_share_visitors_keep_affinity_and_fail_over(haproxy):
    with Cluster(2, logs=ARTIFACTS / "deploy-cluster", timeout_s=WAIT_S) as cluster:
        pids = [cluster.balancer.pid, *(r.proc.pid for r in cluster.replicas)]
        with ThreadPoolExecutor(1) as pool:  # its own event loop (playwright's sync API holds one)
            sessions, fail, refs = pool.submit(asyncio.run, scenario(cluster)).result()
        port = cluster.port
    errors = [f"{s.index}: {s.error}" for s in sessions if not s.ok]
    assert not errors, errors
    # both replicas served, in turn (roundrobin): two sessions each
    assert sorted(s.replica for s in sessions) == ["r0", "r0", "r1", "r1"]
    for s in sessions:
        names = [name for *_, name in s.seen]  # page, WebSocket, a later request
        assert names == [s.replica] * 3, (s.index, names)
        assert f"seed={SEED_BASE + s.index}" in s.view[0]  # the URL holds the seed
        assert "fit" in s.view[1]
        assert s.affected == (s.replica == "r0"), s.index  # only r0's visitors were cut off
    on_r0 = [s for s in sessions if s.replica == "r0"]
    for s in on_r0:
        # reconnected with the old cookie, sent to r1, and kept there (the new cookie)
        assert [name for *_, name in s.seen_after] == ["r1", "r1"], s.index
        assert s.recovered and s.phase_lost == "failover"
        assert s.view_after == s.view[1]  # the view it had before the kill ...
        assert s.view_after == refs[s.index]  # ... which is the view its URL gives on r1
    # the sessions had their own runs: distinct seeds, distinct loss curves
    assert len({s.curve_hash for s in sessions}) == SESSIONS
    assert fail.finished_at_kill == SESSIONS
    # stopped cleanly: no process left, the balancer's port closed
    gone = [not psutil.pid_exists(p) or psutil.Process(p).status() == "zombie" for p in pids]
    assert all(gone), pids
    assert not port_open(port)
