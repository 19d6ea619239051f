"""Capacity on paper: the server's CPU seconds per visitor action, and what a class needs.

    python -m tests.load.capacity                  # figures to stdout and artifacts/capacity.json
    python -m tests.load.capacity --repeat 7 --rates open=0.5,change=4,train=1,surface=0.5

Starts `streamlit run app.py` on a free loopback port, warms it (every page once), then, one
visitor at a time (a wire session, tests/load/wire.py), measures the CPU time (user + system,
psutil) the server and its children spend on each action, from the message sent until the run
it causes has finished:

- load:    a browser's first visit: index.html and every file it references (JavaScript, CSS,
           fonts; the chunks loaded later, Plotly's among them, are not counted); once a
           visitor, as the browser caches them (immutable);
- open:    a fresh visitor opens Training (steps=50) with a seed of its own;
- change:  the sidebar's seed is changed (a widget change: one rerun);
- train:   Start, 50 steps of live training to the end;
- surface: a fresh visitor opens the Landscape page's default view with a seed of its own.

Each action is repeated --repeat times with new seeds (the pages' shared cache of plain
results would otherwise serve a repeat for free); the median is used. Then, for a class of S
students each doing `rate` actions a minute during the lesson:

    cpu_per_student_min = sum(rate[a] * cpu[a])          (CPU seconds per student-minute)
    cores     = S * cpu_per_student_min / 60 / utilization
    processes = ceil(cores)          (one process uses about one core: the GIL)
    memory    = processes * rss_per_process

`utilization` (default 0.5) leaves headroom for bursts; a whole class opening one link at once,
first visits all, costs S * (cpu[load] + cpu[open]) CPU seconds, which `processes` processes
serve in S * (cpu[load] + cpu[open]) / processes seconds. Not collected by pytest (no test_ prefix); every wait has a deadline.
"""

import argparse
import asyncio
import json
import math
import re
import statistics
import time
import urllib.request

import psutil

from tests.browser.harness import ARTIFACTS, running_app
from tests.load.loadtest import server_cpu
from tests.load.wire import WireSession

# actions per student per minute in a lesson: the page loaded once in 45 minutes, a new page or
# link every 2 minutes, a widget change every 15 s, a training run a minute, a new surface every
# 2 minutes
RATES = {"load": 1 / 45, "open": 0.5, "change": 4.0, "train": 1.0, "surface": 0.5}
CLASSES = (30, 300, 3000)
STEPS = 50
WAIT_S = 120.0
SEED_BASE = 3000


async def measured(pid: int, action, w: WireSession) -> float:
    """CPU seconds the server spends on `action(w)` (which waits for its run to finish)."""
    cpu0 = server_cpu([pid])
    await action(w)
    return server_cpu([pid]) - cpu0


def static_files(base: str) -> None:
    """What a browser fetches on its first visit before the app starts: index.html, then the
    files it references."""
    with urllib.request.urlopen(base + "/training", timeout=30) as r:
        html = r.read().decode()
    for path in sorted(set(re.findall(r'(?:src|href)="\./(static/[^"]+)"', html))):
        with urllib.request.urlopen(f"{base}/{path}", timeout=30) as r:
            r.read()


async def one_round(base: str, pid: int, seed: int) -> dict[str, float]:
    """Each action once, with `seed`; CPU seconds by action."""
    cpu0 = server_cpu([pid])
    await asyncio.to_thread(static_files, base)
    out = {"load": server_cpu([pid]) - cpu0}
    async with WireSession(base) as w:

        async def open_training(w):
            await w.open("training", f"steps={STEPS}&seed={seed}")
            await w.run_done(WAIT_S)

        async def change(w):
            await w.set_number("Random seed", seed + 1)
            await w.run_done(WAIT_S)

        async def train(w):
            await w.click("Start")
            done = f"step {STEPS} of {STEPS} · done"
            await w.wait(lambda w: w.settled_progress == done, WAIT_S)

        out["open"] = await measured(pid, open_training, w)
        out["change"] = await measured(pid, change, w)
        out["train"] = await measured(pid, train, w)
        assert not w.errors, w.errors
    async with WireSession(base) as w:

        async def surface(w):
            await w.open("landscape", f"seed={seed}")
            await w.run_done(WAIT_S)

        out["surface"] = await measured(pid, surface, w)
        assert not w.errors and w.charts, (w.errors, sorted(w.charts))
    return out


async def measure(base: str, pid: int, repeat: int) -> dict[str, list[float]]:
    for page in ("", "training", "landscape", "gradient_lab", "loss_shapes"):  # warm
        async with WireSession(base) as w:
            await w.open(page, f"seed={SEED_BASE - 1}")
            await w.run_done(WAIT_S)
    rounds = [await one_round(base, pid, SEED_BASE + 10 * i) for i in range(repeat)]
    return {a: [r[a] for r in rounds] for a in rounds[0]}


def plan(cpu: dict[str, float], rates: dict[str, float], rss_gb: float, utilization: float):
    """Processes, cores and memory for each class size in CLASSES."""
    per_student_min = sum(rates[a] * cpu[a] for a in rates)
    rows = []
    for students in CLASSES:
        cores = students * per_student_min / 60 / utilization
        processes = max(1, math.ceil(cores))
        rows.append(
            {
                "students": students,
                "cpu_s_per_min": round(students * per_student_min, 1),
                "cores": round(cores, 2),
                "processes": processes,
                "memory_gb": round(processes * rss_gb, 1),
                "burst_open_s": round(students * (cpu["load"] + cpu["open"]) / processes, 1),
            }
        )
    return per_student_min, rows


def table(rows: list[dict]) -> str:
    head = "| students | CPU s / min | cores | processes (1 core each) | memory | all open one link at once |"
    lines = [head, "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['students']:,} | {r['cpu_s_per_min']:g} | {r['cores']:g} | {r['processes']} "
            f"| {r['memory_gb']:g} GB | {r['burst_open_s']:g} s |"
        )
    return "\n".join(lines)


def parse_rates(text: str) -> dict[str, float]:
    rates = dict(RATES)
    for part in filter(None, text.split(",")):
        name, _, value = part.partition("=")
        if name not in RATES:
            raise SystemExit(f"unknown action {name!r}; one of {', '.join(RATES)}")
        rates[name] = float(value)
        if not (math.isfinite(rates[name]) and 0 <= rates[name] <= 60):
            raise SystemExit(f"rate {part!r}: 0..60 actions a minute")
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.load.capacity", description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="rounds of the four actions")
    parser.add_argument("--rates", default="", help="actions per student per minute, a=r,...")
    parser.add_argument("--utilization", type=float, default=0.5, help="target CPU use, 0..1")
    parser.add_argument(
        "--rss-gb", type=float, default=0.6, help="memory per process (the load tests' peak)"
    )
    args = parser.parse_args()
    rates = parse_rates(args.rates)
    utilization = min(max(args.utilization, 0.05), 1.0)
    env = {"LLE_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    with running_app(ARTIFACTS / "capacity-server.log", env=env) as (base, proc):
        samples = asyncio.run(measure(base, proc.pid, min(max(args.repeat, 1), 20)))
        rss_mb = psutil.Process(proc.pid).memory_info().rss / 2**20
    cpu = {a: statistics.median(v) for a, v in samples.items()}
    per_student_min, rows = plan(cpu, rates, args.rss_gb, utilization)
    report = {
        "cpu_s_per_action": {a: round(v, 3) for a, v in cpu.items()},
        "cpu_s_samples": {a: [round(x, 3) for x in v] for a, v in samples.items()},
        "rates_per_student_min": rates,
        "cpu_s_per_student_min": round(per_student_min, 3),
        "utilization": utilization,
        "rss_gb_per_process": args.rss_gb,
        "server_rss_mb_after": round(rss_mb),
        "classes": rows,
        "cpus": psutil.cpu_count(),
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "capacity.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({k: v for k, v in report.items() if k != "classes"}, indent=1))
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
