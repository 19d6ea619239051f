"""Sessions through the balancer (deploy/cluster.py), and the failover: one replica killed.

A session behind HAProxy first loads the page over HTTP, which sets the affinity cookie
(SERVERID=r0, r1, ...), then opens its WebSocket with that cookie, as a browser does; every
response names the process that answered (X-Served-By), so a session knows where it was served
and can check that it stayed there. When a replica dies, its sessions' WebSockets close; each
reconnects through the balancer with its old cookie, as the Streamlit frontend does, is sent to a
live replica (a fresh session there), reopens the page with its URL's query string and must see
the same view: the same charts with the same data, and no error box.
"""

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

from tests.load.wire import WireSession, curve_digest

PROBE = "/_stcore/host-config"  # a light request a session's page makes over HTTP


def chart_digests(w: WireSession) -> dict[str, str]:
    """chart key -> digest of its traces: the view a session shows."""
    return {key: curve_digest(spec) for key, spec in sorted(w.charts.items())}


async def connect(base: str, page: str, seen: list, cookies=None) -> WireSession:
    """A session through the balancer: GET the page (or, with `cookies`, reconnect with them
    straight away, as the frontend does), then the WebSocket; notes each X-Served-By in `seen`."""
    w = WireSession(base, cookies=dict(cookies or {}))
    if cookies is None:
        served = await w.fetch(page)
        seen.append((w.sent_at, w.answered_at, served))
    t = time.perf_counter()
    await w.__aenter__()
    seen.append((t, time.perf_counter(), w.served_by))
    return w


async def probe(w: WireSession, seen: list) -> None:
    """One more HTTP request with the session's cookies (where a media file would be fetched)."""
    served = await w.fetch(PROBE)
    seen.append((w.sent_at, w.answered_at, served))


def stayed(seen: list, fail: "Failover | None") -> bool:
    """The requests a session made before the kill (`seen`: (sent, answered, X-Served-By); one
    under way as the kill began may have been sent on) were all answered by one replica."""
    cutoff = None if fail is None else fail.kill_started
    return len({name for _, done, name in seen if cutoff is None or done < cutoff}) == 1


@dataclass
class Failover:
    """Kills `victim` once `after` sessions have been through every step (or after `timeout`)."""

    cluster: object  # deploy.cluster.Cluster
    victim: str = "r0"
    after: int = 1
    timeout: float = 120.0
    settle_s: float = 3.0  # how long after the kill a dropped connection must have shown
    finished: int = 0
    finished_at_kill: int = 0
    kill_started: float | None = None
    killed_at: float | None = None
    due: asyncio.Event = field(default_factory=asyncio.Event)
    killed: asyncio.Event = field(default_factory=asyncio.Event)

    def finished_one(self) -> None:
        self.finished += 1
        if self.finished >= self.after:
            self.due.set()

    async def run(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.due.wait(), self.timeout)
        self.finished_at_kill, self.kill_started = self.finished, time.perf_counter()
        await asyncio.to_thread(self.cluster.kill, self.victim)
        self.killed_at = time.perf_counter()
        self.killed.set()

    async def hold(self, w: WireSession) -> bool:
        """Stay connected through the kill; True when the connection dropped."""
        await asyncio.wait_for(self.killed.wait(), self.timeout)
        while not w.lost and time.perf_counter() < self.killed_at + self.settle_s:
            await asyncio.sleep(0.05)
        return w.lost


async def recover(base: str, old: WireSession, s, args) -> WireSession:
    """Reconnect `old`'s visitor through the balancer and reopen its view (`s.view`: the query
    string and chart digests of its latest settled view); checks it is the same view."""
    s.affected, s.phase_lost = True, s.phase
    t0 = time.perf_counter()
    with contextlib.suppress(Exception):
        await old.__aexit__(None, None, None)
    w = await connect(base, "", s.seen_after, cookies=old.cookies)
    query, view = s.view
    if not view:  # lost while opening: nothing shown yet to compare; the open runs again
        s.recovered, s.recover_s = True, time.perf_counter() - t0
        return w
    await w.open("training", query)
    await w.run_done(args.timeout)
    await probe(w, s.seen_after)
    s.view_after = chart_digests(w)
    s.recover_s = time.perf_counter() - t0
    assert not w.errors, f"after the reconnect the page showed {w.errors[0]}"
    assert s.view_after == view, f"another view after the reconnect: {s.view_after} != {view}"
    assert w.query == query, f"the URL changed on reconnecting: {w.query!r} != {query!r}"
    s.recovered = True
    return w


def summary(sessions: list, failover: Failover | None, percentile) -> dict:
    """per_replica, affinity and failover figures of the sessions run through the balancer."""
    per: dict[str, int] = {}
    for s in sessions:
        if s.replica:
            per[s.replica] = per.get(s.replica, 0) + 1
    after: dict[str, int] = {}
    for s in sessions:
        if s.recovered:
            name = s.seen_after[-1][-1]
            after[name] = after.get(name, 0) + 1
    out = {
        "per_replica": dict(sorted(per.items())),
        "stayed_on_one_replica": sum(s.stayed for s in sessions),
        "moved": [  # sessions whose requests before the kill reached more than one replica
            f"session {s.index}: " + " ".join(name or "?" for *_, name in s.seen)
            for s in sessions
            if s.kind == "wire" and not s.stayed
        ],
    }
    if failover is not None:
        times = [s.recover_s for s in sessions if s.recover_s is not None]
        p = {q: percentile(times, q) for q in (50, 95)}
        out["failover"] = {
            "victim": failover.victim,
            "killed_after_finished": failover.finished_at_kill,
            "affected": sum(s.affected for s in sessions),
            "recovered": sum(s.recovered for s in sessions),
            "lost_in_phase": _count(s.phase_lost for s in sessions if s.affected),
            "recovered_on": dict(sorted(after.items())),
            **{f"p{q}_recover_s": None if v is None else round(v, 2) for q, v in p.items()},
        }
    return out


def _count(items) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return dict(sorted(out.items()))
