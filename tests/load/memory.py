"""Memory under load: N visitors open a heavy Landscape view at once; the server's RSS.

    python -m tests.load.memory --sessions 8              # glibc settings of explorer/allocator.py
    python -m tests.load.memory --sessions 8 --malloc off # glibc's defaults, for comparison

Starts `streamlit run app.py` on a free loopback port, opens one light Landscape view (every
module imported: the baseline), then N wire sessions (tests/load/wire.py) open the heavy view at
once, each with its own seed, so each computes its own surfaces (the same link would be
computed once and shared). The server computes at most explorer.budget's slot count of heavy
views at once (the CPU count) and turns a view away when no slot comes free in time; such a
session opens the view again, as a visitor reloads. It waits until every session has its
charts, samples the RSS of the server and its children (psutil) every 50 ms throughout, and
prints the baseline, the peak, the RSS once the views are done (sessions still open) and after
the sessions have closed. Exits 1 when the peak misses --limit-mb or a session failed. Not
collected by pytest (no test_ prefix); every wait has a deadline.
"""

import argparse
import asyncio
import itertools
import json
import threading
import time
from dataclasses import dataclass, field

import psutil

from tests.browser.harness import ARTIFACTS, running_app
from tests.load.wire import WireSession

HEAVY = {"data": "moons", "model": "mlp", "hidden": 64, "axes": "hessian", "steps": 101}
LIGHT = "data=line&model=line&axes=params&steps=11&path=none"  # the warm-up view
CHARTS = {"surface_0", "contour_0", "slice"}  # every Landscape view draws these
SEED_BASE = 1000  # session i uses seed SEED_BASE + i
LIMIT_MB = 1200.0
BUSY = "the server is busy"  # explorer.budget's refusal when every heavy-work slot is taken
RETRY_S = 0.5  # a refused session opens the view again after this


def heavy_query(seed: int, *, points: int, hidden: int, axes: str, compare: bool) -> str:
    """The Landscape page's URL query for the heavy view with this seed."""
    keys = HEAVY | {"steps": points, "hidden": hidden, "axes": axes, "seed": seed}
    if compare:
        keys["compare"] = "true"
    return "&".join(f"{k}={v}" for k, v in keys.items())


@dataclass
class RssSampler:
    """Sums the RSS of a process and its children every `period` seconds, in a thread."""

    pid: int
    period: float = 0.05
    peak_mb: float = 0.0
    last_mb: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def now_mb(self) -> float:
        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return self.last_mb
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:  # a child that just ended
                pass
        self.last_mb = total / 2**20
        self.peak_mb = max(self.peak_mb, self.last_mb)
        return self.last_mb

    def reset_peak(self) -> None:
        self.peak_mb = self.now_mb()

    def __enter__(self) -> "RssSampler":
        self.now_mb()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.now_mb()


async def _settle(sampler: RssSampler, seconds: float) -> float:
    await asyncio.sleep(seconds)
    return sampler.now_mb()


async def _view(s: WireSession, query: str, timeout: float) -> int:
    """Open the view; while the server says it is busy (all its heavy-work slots taken), open it
    again, as a visitor reloads; the number of opens."""
    deadline = time.monotonic() + timeout
    for tries in itertools.count(1):
        s.errors.clear()
        await s.open("landscape", query)
        await s.run_done(max(deadline - time.monotonic(), 1.0))
        if not any(BUSY in e for e in s.errors) or time.monotonic() > deadline:
            return tries
        await asyncio.sleep(RETRY_S)
    raise AssertionError("unreachable")


async def _views(base: str, sampler: RssSampler, queries: list[str], timeout: float) -> dict:
    async with WireSession(base) as warm:  # imports every module the page needs
        await warm.open("landscape", LIGHT)
        await warm.run_done(timeout)
        if warm.errors:
            raise RuntimeError(f"the warm-up view failed: {warm.errors}")
    baseline = await _settle(sampler, 1.0)
    sampler.reset_peak()
    sessions = [WireSession(base) for _ in queries]
    start = time.perf_counter()
    try:
        for s in sessions:
            await s.__aenter__()
        tries = await asyncio.gather(*(_view(s, q, timeout) for s, q in zip(sessions, queries)))
        views_s = time.perf_counter() - start
        done = await _settle(sampler, 2.0)
        peak = sampler.peak_mb
        failed = [
            f"session {i}: {s.errors or sorted(CHARTS - set(s.charts))}"
            for i, s in enumerate(sessions)
            if s.errors or not CHARTS <= set(s.charts)
        ]
    finally:
        for s in sessions:
            await s.__aexit__(None, None, None)
    closed = await _settle(sampler, 3.0)
    return {
        "baseline_mb": round(baseline),
        "peak_mb": round(peak),
        "done_mb": round(done),
        "closed_mb": round(closed),
        "views_s": round(views_s, 1),
        "busy_retries": sum(tries) - len(tries),
        "failed": failed,
    }


def measure(
    sessions: int,
    *,
    points: int = 101,
    hidden: int = 64,
    axes: str = "hessian",
    compare: bool = True,
    malloc: str = "on",
    timeout: float = 300.0,
    log_name: str = "memory-server.log",
) -> dict:
    """Start a server, open `sessions` heavy views at once; the RSS figures (MB) and failures."""
    queries = [
        heavy_query(SEED_BASE + i, points=points, hidden=hidden, axes=axes, compare=compare)
        for i in range(sessions)
    ]
    env = {"LLE_MALLOC": malloc}
    with running_app(ARTIFACTS / log_name, env=env) as (base, proc):
        with RssSampler(proc.pid) as sampler:
            report = asyncio.run(_views(base, sampler, queries, timeout))
        cpu = psutil.Process(proc.pid).cpu_times()
    view = f"landscape?{heavy_query(SEED_BASE, points=points, hidden=hidden, axes=axes, compare=compare)}"
    return {
        "sessions": sessions,
        "view": view,
        "malloc": malloc,
        **report,
        "server_cpu_s": round(cpu.user + cpu.system, 1),
    }


def measure_threads(
    threads: int,
    *,
    points: int = 101,
    hidden: int = 64,
    axes: str = "hessian",
    compare: bool = True,
    malloc: str = "on",
) -> dict:
    """The same views computed in `threads` threads of this process at once, with no limit on
    heavy work at once (as on a server with that many cores), the app's malloc settings applied
    first unless malloc is "off": the RSS figures (MB) of this process and failures."""
    from explorer import allocator, devices
    from explorer import budget as budgets
    from explorer.training import losses_for_data
    from explorer.views import landscape as views

    applied = allocator.configure({allocator.ENV: malloc})
    devices.configure_threads()  # as app.py: LLE_TORCH_THREADS, default 1
    fits = losses_for_data(HEAVY["data"])  # the page's default loss, and its compared partner
    loss, others = fits[0], fits[1:]
    cfgs = [
        views.ViewConfig(
            dataset=HEAVY["data"],
            model=HEAVY["model"],
            hidden=(hidden,),
            axes=axes,
            points=points,
            loss=loss,
            seed=SEED_BASE + i,
            compare=others[views.partner(loss, others)] if compare else None,
        )  # fmt: skip
        for i in range(threads)
    ]
    failed: list[str] = []

    def view(cfg) -> None:
        try:
            with budgets.Budget(budgets.VIEW_S, wall_cap=60.0):  # no slots: all at once
                views.landscape_view(cfg)
        except Exception as err:
            failed.append(f"seed {cfg.seed}: {type(err).__name__}: {err}")

    me = psutil.Process()
    with RssSampler(me.pid) as sampler:
        baseline = sampler.now_mb()
        cpu, start = me.cpu_times(), time.perf_counter()
        workers = [threading.Thread(target=view, args=(c,)) for c in cfgs]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        views_s = time.perf_counter() - start
        done, end = sampler.now_mb(), me.cpu_times()
    return {
        "threads": threads,
        "view": f"landscape?{heavy_query(SEED_BASE, points=points, hidden=hidden, axes=axes, compare=compare)}",
        "malloc": f"{malloc} {applied or ''}".strip(),
        "baseline_mb": round(baseline),
        "peak_mb": round(sampler.peak_mb),
        "done_mb": round(done),
        "views_s": round(views_s, 1),
        "cpu_user_s": round(end.user - cpu.user, 1),
        "cpu_system_s": round(end.system - cpu.system, 1),
        "failed": failed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.load.memory", description=__doc__)
    parser.add_argument("--sessions", type=int, default=8, help="heavy views opened at once")
    parser.add_argument("--points", type=int, default=101, help="grid points per axis (5..101)")
    parser.add_argument("--hidden", type=int, default=64, help="MLP hidden width (2..64)")
    parser.add_argument("--axes", default="hessian", help="params, random, pca or hessian")
    parser.add_argument("--no-compare", action="store_true", help="one loss, not two")
    parser.add_argument(
        "--malloc",
        choices=["on", "off"],
        default="on",
        help="off: the server keeps glibc's malloc defaults (LLE_MALLOC=off)",
    )
    parser.add_argument(
        "--threads",
        action="store_true",
        help="no server: compute the views in threads of this process, all at once",
    )
    parser.add_argument("--limit-mb", type=float, default=LIMIT_MB, help="peak RSS allowed")
    parser.add_argument("--timeout", type=float, default=300, help="seconds allowed per wait")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    args = parser.parse_args()
    view = dict(points=args.points, hidden=args.hidden, axes=args.axes, malloc=args.malloc)
    view["compare"] = not args.no_compare
    n = min(max(args.sessions, 1), 64)
    if args.threads:
        report = measure_threads(n, **view)
    else:
        report = measure(n, timeout=args.timeout, **view)
    ok = not report["failed"] and report["peak_mb"] < args.limit_mb
    report["limit_mb"] = args.limit_mb
    report["ok"] = ok
    if args.json:
        print(json.dumps(report))
    elif args.threads:
        print(f"{n} views at once in threads of one process, as /{report['view']} (seed per view)")
        print(f"malloc settings: {report['malloc']}")
        print(f"  RSS, before                    {report['baseline_mb']:>6} MB")
        print(f"  RSS, peak                      {report['peak_mb']:>6} MB")
        print(f"  RSS, views done                {report['done_mb']:>6} MB")
        print(f"  all views done after           {report['views_s']:>6} s")
        print(f"  CPU user / system     {report['cpu_user_s']:>6} / {report['cpu_system_s']} s")
        for line in report["failed"]:
            print(f"  FAILED {line}")
        print(f"peak < {args.limit_mb:.0f} MB: {'yes' if ok else 'NO'}")
    else:
        print(f"{report['sessions']} sessions at once on /{report['view']} (seed per session)")
        print(f"malloc settings: {report['malloc']}")
        for label, key in [
            ("server RSS, warmed up", "baseline_mb"),
            ("server RSS, peak", "peak_mb"),
            ("server RSS, views done", "done_mb"),
            ("server RSS, sessions closed", "closed_mb"),
        ]:
            print(f"  {label:<30} {report[key]:>6} MB")
        print(f"  all views done after           {report['views_s']:>6} s")
        print(f"  opened again (server busy)     {report['busy_retries']:>6}")
        print(f"  server CPU, whole run          {report['server_cpu_s']:>6} s")
        for line in report["failed"]:
            print(f"  FAILED {line}")
        print(f"peak < {args.limit_mb:.0f} MB: {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
