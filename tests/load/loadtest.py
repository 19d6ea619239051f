"""Load test: N concurrent sessions against one app server on loopback.

    python -m tests.load.loadtest --sessions 20 --browsers 4
    python -m tests.load.loadtest --replicas 2 --sessions 40 --browsers 0   # behind HAProxy

Starts `streamlit run app.py` on a free loopback port and, in every session at once: opens the
Training page, sets the sidebar's seed to a value of its own (a widget change), runs a short
training to its end, and checks that it got its own result (no session sees another's state).
`--browsers` of the sessions are headless Chromium (one context each) and show the whole path to
a drawn chart; the others are wire sessions (tests/load/wire.py), which send the server the very
messages the Streamlit frontend sends but cost the client machine next to nothing. On a laptop
or this 2-core box, twenty Chromiums beside the server measure the Chromiums; a class brings its
own machines. `--browsers N` makes every session a browser.

Reports sessions succeeded / failed, p50 / p95 of the time to a chart (drawn, for browsers;
arrived, for wire sessions), and the server's peak RSS and CPU (server and its children, sampled
with psutil). Exits 1 when a target is missed.

`--replicas N` (N >= 2) starts N app processes behind HAProxy on loopback (deploy/cluster.py)
and drives every session through the balancer (tests/load/failover.py): it reports how many
sessions each replica served (the affinity cookie's value), checks that each session's requests
all reached one replica, and kills one replica (r0) once half the wire sessions are through.
Its sessions, mid-run or done, reconnect through the balancer, get a fresh session on another
replica and must show the same view (same charts, same data, no error box); one killed mid-run
trains again there. The figures go to artifacts/loadtest.json as `replicas`, `per_replica`,
`succeeded`, `failed`, `failover` ({affected, recovered, ...}) and the p50 / p95 timings. Not collected by pytest (no test_ prefix); it
stops by itself (every wait has a deadline).
"""

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import threading
import time
from dataclasses import dataclass, field

import psutil

from tests.apptest import array
from tests.browser.harness import (
    ACTIVITY_JS,
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    FIGURES_JS,
    SETTLED_JS,
    browser_missing,
    running_app,
)
from tests.load import failover
from tests.load.wire import ConnectionLost, WireSession, curve_digest

TARGETS = {"failed": 0, "p95_chart_s": 10.0, "peak_rss_mb": 1500.0}
# When the websocket connected (the page's JavaScript has loaded: client work) and when the
# first script run ended (server work), in ms since the page started loading.
MARKS_JS = """(() => {
  window.__lleMarks = {};
  new MutationObserver((changes) => {
    for (const c of changes) {
      const v = c.target.getAttribute(c.attributeName), m = window.__lleMarks;
      if (v === "CONNECTED" && m.connected === undefined) m.connected = performance.now();
      if (v === "notRunning" && m.connected !== undefined && m.ran === undefined)
        m.ran = performance.now();
    }
  }).observe(document, {subtree: true,
    attributeFilter: ["data-test-connection-state", "data-test-script-state"]});
})()"""
SEED_BASE = 1000  # session i uses seed SEED_BASE + i
PROGRESS = "[data-testid='stProgress']"


STATE_JS = f"""() => {{
  const app = document.querySelector("[data-testid='stApp']");
  return [app?.getAttribute("data-test-script-state"), app?.getAttribute("data-test-connection-state"),
          location.search,
          document.querySelector("{PROGRESS}")?.innerText].join(" ");
}}"""


@dataclass
class Session:
    index: int
    kind: str = "wire"  # "wire" (tests/load/wire.py) or "browser" (headless Chromium)
    ok: bool = False
    error: str = ""
    chart_s: float | None = None  # page opened -> first Plotly chart drawn
    connect_s: float | None = None  # browser: page opened -> websocket up (JS loaded: client)
    run_s: float | None = None  # browser: websocket up -> first script run ended (server)
    change_s: float | None = None  # seed changed -> charts redrawn
    train_s: float | None = None  # Start pressed -> run finished
    curve_hash: str = ""  # of the loss curve's Plotly data
    server_cpu_s: dict = field(default_factory=dict)  # phase -> server CPU seconds (solo run)
    phase: str = "open"  # where it is (or where it failed)
    retries: int = 0  # seed changes that needed a second commit (blur after Enter)
    # behind the balancer (--replicas): tests/load/failover.py
    replica: str = ""  # the replica that first served it (the affinity cookie's value)
    seen: list = field(default_factory=list)  # (sent, answered, X-Served-By) of its requests
    stayed: bool = False  # all of them the same replica
    view: tuple = ("", {})  # (query string, chart digests) of its latest settled view
    affected: bool = False  # its replica was killed under it
    phase_lost: str = ""  # the phase it was in then
    seen_after: list = field(default_factory=list)  # the same, after the reconnect
    view_after: dict = field(default_factory=dict)  # chart digests after the reconnect
    recovered: bool = False  # reconnected, same view, no error box
    recover_s: float | None = None  # connection lost -> same view shown again


@dataclass
class Usage:
    """CPU (100 = one core) and RSS of a process tree, sampled every `period` seconds."""

    period: float = 0.25
    peak_rss_mb: float = 0.0
    peak_cpu_pct: float = 0.0
    cpu_samples: list = field(default_factory=list)
    last: dict = field(default_factory=dict)  # pid -> cpu seconds at the last sample

    def add(self, procs: list, dt: float | None, since: float) -> None:
        """One sample of `procs`; dt: seconds since the last sample (None at the first), taken
        at wall time `since`; a process born after it counts all its CPU time."""
        rss, cpu, seen = 0, 0.0, {}
        for p in procs:
            try:
                t = sum(p.cpu_times()[:2])
                rss += p.memory_info().rss
                born = p.create_time()
            except psutil.Error:  # gone, or unreadable this time: keep its last reading
                if p.pid in self.last:
                    seen[p.pid] = self.last[p.pid]
                continue
            new = dt is not None and born >= since
            cpu += t - self.last.get(p.pid, 0.0 if new else t)
            seen[p.pid] = t
        self.last = seen
        self.peak_rss_mb = max(self.peak_rss_mb, rss / 2**20)
        if dt:
            self.cpu_samples.append(100 * cpu / dt)
            self.peak_cpu_pct = max(self.peak_cpu_pct, self.cpu_samples[-1])


def server_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) the server processes and their children have used so far."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):  # a killed replica counts no more
            total += sum(sum(p.cpu_times()[:2]) for p in tree(psutil.Process(pid)))
    return total


def tree(root: psutil.Process) -> list:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def sample(pids: list[int], usage: dict, stop: threading.Event) -> None:
    """Sample the servers (pids and children), the clients (this process, which runs the wire
    sessions, and its other children: Chromium) and the machine."""
    servers, me = [psutil.Process(pid) for pid in pids], psutil.Process()
    psutil.cpu_percent()
    last_t, last_wall = None, time.time()
    while not stop.wait(usage["server"].period):
        now, wall = time.monotonic(), time.time()
        dt = None if last_t is None else now - last_t
        ours = [p for server in servers for p in tree(server)]
        skip = {p.pid for p in ours}
        usage["server"].add(ours, dt, last_wall)
        usage["client"].add([p for p in tree(me) if p.pid not in skip], dt, last_wall)
        usage["machine"].append(psutil.cpu_percent())
        last_t, last_wall = now, wall


async def settled(page, timeout_ms: float) -> None:
    """A run has finished and the page has not changed for 300 ms (see SETTLED_JS)."""
    await page.wait_for_function(SETTLED_JS, arg=300, timeout=timeout_ms)


async def drawn_charts(page, n: int, timeout_ms: float) -> None:
    js = f"n => ({FIGURES_JS})().filter(f => f.drawn).length >= n"
    await page.wait_for_function(js, arg=n, timeout=timeout_ms)


async def run_session(context, base: str, s: Session, args) -> None:
    """One visitor: open Training, set an own seed, train to the end, check own state."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    seed, wait = SEED_BASE + s.index, args.timeout * 1000
    await asyncio.sleep(max(s.index, 0) * args.ramp / args.sessions)
    page = await context.new_page()
    try:
        t0, cpu0 = time.perf_counter(), server_cpu(args.server_pids)
        await page.goto(f"{base}/training?steps={args.steps}", timeout=wait, wait_until="commit")
        await drawn_charts(page, 1, wait)
        s.chart_s = time.perf_counter() - t0
        await settled(page, wait)
        s.server_cpu_s["open"] = (cpu1 := server_cpu(args.server_pids)) - cpu0
        marks = await page.evaluate("() => window.__lleMarks")
        s.connect_s = marks["connected"] / 1000
        s.run_s = (marks["ran"] - marks["connected"]) / 1000
        cookies = {c["name"]: c["value"] for c in await context.cookies()}
        s.replica = cookies.get("SERVERID", "")

        s.phase = "change seed"
        before = [f["hash"] for f in await page.evaluate(FIGURES_JS)]
        t0 = time.perf_counter()
        box = page.get_by_role("spinbutton", name="Random seed", exact=True)
        await box.fill(str(seed))
        await box.press("Enter")
        changed = f"b => ({FIGURES_JS})().some((f, i) => f.drawn && f.hash !== b[i])"
        try:
            await page.wait_for_function(changed, arg=before, timeout=min(wait, 30_000))
        except PlaywrightTimeout:  # seen under load: the Enter commits no rerun; blur commits
            s.retries += 1
            await box.press("Tab")
            await page.wait_for_function(changed, arg=before, timeout=wait)
        await settled(page, wait)
        s.change_s = time.perf_counter() - t0
        s.server_cpu_s["change"] = (cpu2 := server_cpu(args.server_pids)) - cpu1

        t0, s.phase = time.perf_counter(), "train"
        main = page.get_by_test_id("stMainBlockContainer")  # the header has a "Stop" of its own
        await main.get_by_role("button", name="Start", exact=True).click()
        done = f"() => /step {args.steps} of {args.steps} · done/.test("
        done += f"document.querySelector(\"{PROGRESS}\")?.innerText ?? '')"
        await page.wait_for_function(done, timeout=wait)
        s.train_s = time.perf_counter() - t0
        grown = f"""n => ({FIGURES_JS})().some(f => /loss/i.test(f.title) && f.drawn
            && Math.max(...f.points) >= n)"""
        await page.wait_for_function(grown, arg=args.steps, timeout=wait)
        s.server_cpu_s["train"] = server_cpu(args.server_pids) - cpu2

        s.phase = "check own state"
        shown = await box.input_value()
        assert shown == str(seed), f"seed box shows {shown}, expected {seed}"
        assert f"seed={seed}" in page.url, f"URL {page.url} lacks seed={seed}"
        curves = [f for f in await page.evaluate(FIGURES_JS) if "loss" in f["title"].lower()]
        s.curve_hash = curves[0]["hash"]
        s.ok = True
    except Exception as err:  # a failed session is a result, not a crash of the load test
        state = await page.evaluate(STATE_JS)
        s.error = f"{s.phase}: {type(err).__name__}: {str(err).splitlines()[0][:120]} | {state}"
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=ARTIFACTS / f"loadtest-failed-{s.index:02d}.png")
    finally:
        await page.close()


async def wire_open(w: WireSession, s: Session, args) -> None:
    t0, cpu0 = time.perf_counter(), server_cpu(args.server_pids)
    await w.open("training", f"steps={args.steps}")
    await w.wait(lambda w: w.charts, args.timeout)
    s.chart_s = s.chart_s or w.first_chart_at - t0
    await w.run_done(args.timeout)
    s.server_cpu_s["open"] = server_cpu(args.server_pids) - cpu0
    s.view = (w.query, failover.chart_digests(w))


async def wire_change(w: WireSession, s: Session, args) -> None:
    t0, cpu0, before = time.perf_counter(), server_cpu(args.server_pids), dict(w.charts)
    await w.set_number("Random seed", SEED_BASE + s.index)
    await w.run_done(args.timeout)
    assert w.charts["fit"] != before["fit"], "the seed change did not redraw the fit"
    s.change_s = time.perf_counter() - t0
    s.server_cpu_s["change"] = server_cpu(args.server_pids) - cpu0
    s.view = (w.query, failover.chart_digests(w))


async def wire_train(w: WireSession, s: Session, args) -> None:
    t0, cpu0 = time.perf_counter(), server_cpu(args.server_pids)
    await w.click("Start")
    done = f"step {args.steps} of {args.steps} · done"
    await w.wait(lambda w: w.settled_progress == done, args.timeout)  # the run after the race
    s.train_s = time.perf_counter() - t0
    s.server_cpu_s["train"] = server_cpu(args.server_pids) - cpu0


async def wire_check(w: WireSession, s: Session, args) -> None:
    assert not w.errors, f"the page showed {w.errors[0]}"
    assert f"seed={SEED_BASE + s.index}" in w.query, f"the URL lacks the seed: {w.query!r}"
    steps = array(json.loads(w.charts["curves"])["data"][0]["x"])
    assert steps.max() == args.steps, f"the loss curve ends at step {steps.max():g}"
    s.curve_hash = curve_digest(w.charts["curves"])


WIRE_PHASES = {"open": wire_open, "change seed": wire_change, "train": wire_train}
WIRE_PHASES["check own state"] = wire_check


async def run_wire(base: str, s: Session, args, fail: failover.Failover | None = None) -> None:
    """One visitor as a wire session: the same steps and checks as run_session. Behind the
    balancer (args.balanced) its requests carry the affinity cookie; with `fail`, a lost
    connection reconnects once (failover.recover) and the phase it was in runs again, and a
    finished session stays connected through the kill."""
    await asyncio.sleep(max(s.index, 0) * args.ramp / args.sessions)
    w = None
    try:
        w = await failover.connect(base, f"/training?steps={args.steps}", s.seen)
        s.replica = w.served_by
        for s.phase, step in WIRE_PHASES.items():
            try:
                await step(w, s, args)
            except ConnectionLost:
                if fail is None or s.affected:
                    raise
                w = await failover.recover(base, w, s, args)
                await step(w, s, args)
        if args.balanced and not s.affected:
            await failover.probe(w, s.seen)
        if fail is not None:
            fail.finished_one()
        if fail is not None and not s.affected and await fail.hold(w):
            s.phase = "failover"
            w = await failover.recover(base, w, s, args)
        s.ok = True
    except Exception as err:  # a failed session is a result, not a crash of the load test
        s.error = f"{s.phase}: {type(err).__name__}: {str(err).splitlines()[0][:160]}"
    finally:
        s.stayed = args.balanced and failover.stayed(s.seen, fail)
        if w is not None:
            with contextlib.suppress(Exception):
                await w.__aexit__(None, None, None)


async def new_context(browser):
    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    await context.add_init_script(ACTIVITY_JS)
    await context.add_init_script(MARKS_JS)
    return context


async def warm_up(browser, base: str, args) -> dict[str, Session]:
    """Open / once on every server (warms the imports and caches), then one solo session of
    each kind unless --cold (a wire one on every replica, straight to it: the first one's
    figures are reported)."""
    for server in args.server_bases:
        async with WireSession(server) as w:
            await w.open("")
            await w.run_done(args.timeout)
    solos = {"wire": Session(-1), "browser": Session(-1, "browser")}
    if args.cold:  # otherwise the class arrives at a server whose imports and caches are warm
        return {}
    for server in reversed(args.server_bases):
        solos["wire"] = Session(-1)
        await run_wire(server, solos["wire"], args)
    if browser is not None:
        context = await new_context(browser)
        await run_session(context, base, solos["browser"], args)
        await context.close()
    return {kind: solo for kind, solo in solos.items() if solo.ok or solo.error}


async def burst(browser, base: str, sessions: list[Session], args) -> None:
    """Every session at once (or spread over --ramp seconds); browsers each in their own
    context unless --shared-context (then tabs of one context share the HTTP and code caches)."""
    shared = await new_context(browser) if args.shared_context and browser else None
    fail = None
    wires = sum(s.kind == "wire" for s in sessions)
    if args.cluster is not None and args.failover and wires:
        fail = failover.Failover(args.cluster, after=max(1, wires // 2), timeout=args.timeout * 2)
    jobs = [fail.run()] if fail else []
    for s in sessions:
        if s.kind == "browser":
            jobs.append(run_session(shared or await new_context(browser), base, s, args))
        else:
            jobs.append(run_wire(base, s, args, fail))
    args.fail = fail
    try:
        await asyncio.wait_for(asyncio.gather(*jobs), timeout=args.timeout * 3 + args.ramp)
    except TimeoutError:
        for s in sessions:
            s.error = s.error or ("" if s.ok else "did not finish in time")


async def replay(base: str, sessions: list[Session], args) -> bool | None:
    """Run the first and last successful wire sessions' seeds again, alone: the loss curves
    must come out the same as in the crowd (None when no wire session succeeded)."""
    done = [s for s in sessions if s.ok and s.kind == "wire"]
    if not done:
        return None
    same = True
    for s in {done[0].index: done[0], done[-1].index: done[-1]}.values():
        again = Session(s.index)
        await run_wire(base, again, args)
        same = same and again.ok and again.curve_hash == s.curve_hash
    return same


async def drive(base: str, args) -> list[Session]:
    """The warm-up, the burst of N sessions (the first --browsers of them in Chromium), the
    replay check."""
    sessions = [
        Session(i, "browser" if i < args.browsers else "wire") for i in range(args.sessions)
    ]
    if not args.browsers:
        args.solo = await warm_up(None, base, args)
        await burst(None, base, sessions, args)
    else:
        from playwright.async_api import async_playwright

        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            args.solo = await warm_up(browser, base, args)
            await burst(browser, base, sessions, args)
            await browser.close()
    args.replayed = await replay(base, sessions, args)
    return sessions


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (nearest rank) of values, or None when there are none."""
    if not values:
        return None
    ranked = sorted(values)
    return ranked[min(len(ranked) - 1, max(0, round(q / 100 * len(ranked) + 0.5) - 1))]


def timings(sessions: list[Session]) -> dict:
    """p50 and p95 of each timing over the sessions that succeeded."""
    out = {}
    for name in ("chart_s", "connect_s", "run_s", "change_s", "train_s"):
        values = [getattr(s, name) for s in sessions if s.ok and getattr(s, name) is not None]
        for q in (50, 95):
            v = percentile(values, q)
            out[f"p{q}_{name}"] = None if v is None else round(v, 2)
    return out


def solo_figures(solo: Session) -> dict:
    figures = {
        name: None if getattr(solo, name) is None else round(getattr(solo, name), 2)
        for name in ("chart_s", "change_s", "train_s")
    }
    figures["server_cpu_s"] = {k: round(v, 2) for k, v in solo.server_cpu_s.items()}
    return figures | ({"error": solo.error} if solo.error else {})


def summarize(sessions: list[Session], usage: dict, args, wall_s: float) -> dict:
    ok = [s for s in sessions if s.ok]
    hashes = [s.curve_hash for s in ok]
    report = {
        "replicas": args.replicas,
        "sessions": len(sessions),
        "browser_sessions": sum(s.kind == "browser" for s in sessions),
        "succeeded": len(ok),
        "failed": len(sessions) - len(ok),
        "distinct_results": len(set(hashes)) == len(hashes),
        "same_result_alone": args.replayed,
        "seed_change_retries": sum(s.retries for s in sessions),
        "wall_s": round(wall_s, 1),
        "peak_rss_mb": round(usage["server"].peak_rss_mb),
        "peak_cpu_pct": round(usage["server"].peak_cpu_pct),
        "mean_cpu_pct": round(statistics.fmean(usage["server"].cpu_samples or [0.0])),
        "client_mean_cpu_pct": round(statistics.fmean(usage["client"].cpu_samples or [0.0])),
        "client_peak_rss_mb": round(usage["client"].peak_rss_mb),
        "machine_mean_busy_pct": round(statistics.fmean(usage["machine"] or [0.0])),
        "cpus": os.cpu_count(),
        "load_avg_1m_at_end": round(os.getloadavg()[0], 1),
        "steps": args.steps,
        "torch_threads": args.threads,
        "ramp_s": args.ramp,
        "shared_context": args.shared_context,
        "client_nice": args.client_nice,
    }
    report |= timings(sessions)
    if args.balanced:
        report |= failover.summary(sessions, args.fail, percentile)
    for kind in ("browser", "wire"):
        some = [s for s in sessions if s.kind == kind]
        if some:
            report[kind] = {"sessions": len(some), "succeeded": sum(s.ok for s in some)}
            report[kind] |= {k: v for k, v in timings(some).items() if v is not None}
    report["solo"] = {kind: solo_figures(solo) for kind, solo in args.solo.items()}
    report["errors"] = [f"session {s.index} ({s.kind}): {s.error}" for s in sessions if not s.ok]
    own = report["distinct_results"] and not report["failed"] and args.replayed is not False
    p95 = {kind: report.get(kind, {}).get("p95_chart_s") for kind in ("wire", "browser")}
    report["checks"] = {
        "all sessions succeeded": report["failed"] == TARGETS["failed"],
        **{
            f"p95 time to a chart < 10 s, {kind} sessions ({what})": (p95[kind] or 1e9)
            < TARGETS["p95_chart_s"]
            for kind, what in (
                ("wire", "what the server delivers"),
                ("browser", "page load on this machine, server, drawing"),
            )
            if kind in report
        },
        "peak server RSS < 1.5 GB": report["peak_rss_mb"] < TARGETS["peak_rss_mb"],
        "no session saw another's state": own,
    }
    if args.balanced:
        report["checks"] |= balancer_checks(report, sessions, args)
    return report


def balancer_checks(report: dict, sessions: list[Session], args) -> dict:
    served = report["per_replica"]
    wires = [s for s in sessions if s.kind == "wire"]
    checks = {
        f"every one of the {args.replicas} replicas served sessions": len(served) == args.replicas,
        "every wire session stayed on one replica": all(s.stayed for s in wires),
    }
    if args.fail is not None:
        f = report["failover"]
        on_victim = sum(s.replica == args.fail.victim for s in wires)
        checks["failover: every session of the killed replica lost its connection"] = (
            f["affected"] == on_victim > 0
        )
        checks["failover: every one of them came back with the same view"] = (
            f["recovered"] == f["affected"]
        )
        after = [{name for *_, name in s.seen_after} for s in wires if s.affected]
        checks["failover: each came back on one live replica and stayed there"] = all(
            len(names) == 1 and args.fail.victim not in names for names in after
        )
    return checks


@contextlib.contextmanager
def servers(args, env: dict):
    """One app process on loopback, or (--replicas N > 1) N behind HAProxy; yields the URL the
    sessions use and sets args.server_pids / server_bases (and args.cluster)."""
    if not args.balanced:
        with running_app(ARTIFACTS / "loadtest-server.log", env=env) as (base, proc):
            args.server_pids, args.server_bases = [proc.pid], [base]
            yield base
        return
    from deploy.cluster import Cluster

    with Cluster(args.replicas, logs=ARTIFACTS / "loadtest-cluster", env=env) as cluster:
        args.cluster = cluster
        args.server_pids = [r.proc.pid for r in cluster.replicas]
        args.server_bases = [r.base for r in cluster.replicas]
        yield cluster.base


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.load.loadtest", description=__doc__)
    parser.add_argument("--sessions", type=int, default=20, help="concurrent sessions (1..100)")
    parser.add_argument(
        "--browsers",
        type=int,
        default=4,
        help="how many of the sessions are headless Chromium (the rest are wire sessions); "
        "--browsers N for all, 0 for none (then Chromium is not needed)",
    )
    parser.add_argument("--steps", type=int, default=50, help="training steps a session runs")
    parser.add_argument("--timeout", type=float, default=120, help="seconds allowed per wait")
    parser.add_argument("--threads", type=int, default=1, help="torch threads in the server")
    parser.add_argument("--cold", action="store_true", help="only open / before the sessions")
    parser.add_argument("--ramp", type=float, default=0.0, help="spread arrivals over seconds")
    parser.add_argument(
        "--client-nice",
        type=int,
        default=0,
        help="niceness of the browser side (the server keeps 0): 10 models visitors on their "
        "own machines, the server with the CPU to itself",
    )
    parser.add_argument(
        "--shared-context", action="store_true", help="all sessions as tabs of one context"
    )
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="app processes; 2 or more run behind HAProxy (deploy/cluster.py) with a failover",
    )
    parser.add_argument(
        "--no-failover", dest="failover", action="store_false", help="with --replicas: no kill"
    )
    args = parser.parse_args()
    args.sessions = min(max(args.sessions, 1), 100)
    args.replicas = min(max(args.replicas, 1), 8)
    args.balanced, args.cluster, args.fail = args.replicas > 1, None, None
    args.browsers = min(max(args.browsers, 0), args.sessions)
    reason = browser_missing() if args.browsers else None
    if reason:
        print(f"load test cannot run: {reason}")
        return 2
    usage, stop = {"server": Usage(), "client": Usage(), "machine": []}, threading.Event()
    threads = {"LLE_TORCH_THREADS": str(args.threads), "OMP_NUM_THREADS": str(args.threads)}
    with servers(args, threads) as base:
        os.nice(args.client_nice)  # this process and the Chromium it starts; not the server
        sampler = threading.Thread(target=sample, args=(args.server_pids, usage, stop))
        sampler.daemon = True
        sampler.start()
        t0 = time.perf_counter()
        try:
            sessions = asyncio.run(drive(base, args))
        finally:
            stop.set()
            sampler.join(timeout=5)
        report = summarize(sessions, usage, args, time.perf_counter() - t0)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "loadtest.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({k: v for k, v in report.items() if k != "checks"}, indent=1))
    for check, passed in report["checks"].items():
        print(f"{'PASS' if passed else 'FAIL'}  {check}")
    return 0 if all(report["checks"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
