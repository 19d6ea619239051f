"""Budget section: what one heavy click costs the server, against a real app server.

Starts `streamlit run app.py` on a loopback port (tests/browser/harness.py) and drives it with
the load test's wire client (tests/load/wire.py), on the hardening issue's heavy Training URL:
moons, MLP 64×3, n = 5000, 5000 steps, batch 1, 4 raced optimizers and 4 raced losses.

Rows:
- "Run to the end" under the click budget (LLE_CLICK_BUDGET_S, default 5 s of CPU): the
  click's script run in wall seconds and in server CPU seconds, and the step it stopped at.
- A tab closed mid-run, with the click and race budgets set far above the run's length (so
  only the closed session can end the work): seconds from the close until the server's CPU use
  falls below IDLE_CORES (sampled every SAMPLE_S), and its CPU use while the run ran.

The figure before budgets existed (the same click held a core for 278 s in one script run) is
not rerun here: it would take minutes; `LLE_CLICK_BUDGET_S=600 python -m bench --only budget`
shows a long click's cost instead.
"""

import asyncio
import os
import time

import psutil

from tests.browser.harness import ARTIFACTS, running_app
from tests.load.wire import WireSession

RACE = "race_opt=sgd&race_opt=momentum&race_opt=adam&race_opt=rmsprop"
RACE += "&race_loss=focal&race_loss=hinge&race_loss=sigmoid_margin&race_loss=dice"
HEAVY = f"data=moons&model=mlp&width=64&depth=3&n=5000&steps=5000&batch=1&{RACE}"
QUICK = f"data=moons&model=mlp&width=64&depth=3&n=1000&steps=2000&batch=1&{RACE}"
UNBOUNDED = {"LLE_CLICK_BUDGET_S": "600", "LLE_RACE_BUDGET_S": "600"}
WAIT_S = 300.0  # the longest wait for one script run
SAMPLE_S = 0.25
IDLE_CORES = 0.15  # server CPU use (cores) that counts as idle
IDLE_WITHIN_S = 30.0  # the longest the idle measurement waits


def cpu_s(proc: psutil.Process) -> float:
    """CPU seconds (user + system) the process has used so far."""
    times = proc.cpu_times()
    return times.user + times.system


async def _ready(base: str, query: str) -> WireSession:
    """A session on the Training page with `query`, its first run finished without errors."""
    s = WireSession(base)
    await s.__aenter__()
    await s.open("training", query)
    await s.run_done(WAIT_S)
    if s.errors:
        raise RuntimeError(f"the heavy Training URL shows errors: {s.errors}")
    return s


async def budgeted_click(base: str, proc: psutil.Process, query: str) -> dict:
    """Press "Run to the end" and wait for that script run to end."""
    s = await _ready(base, query)
    try:
        cpu0, t0 = cpu_s(proc), time.perf_counter()
        await s.click("Run to the end")
        await s.run_done(WAIT_S)
        wall, cpu = time.perf_counter() - t0, cpu_s(proc) - cpu0
    finally:
        await s.__aexit__(None, None, None)
    return {
        "measure": '"Run to the end": one script run',
        "value": f"{wall:.1f} s wall, {cpu:.1f} s server CPU",
        "note": f"{s.settled_progress}; click budget {os.environ.get('LLE_CLICK_BUDGET_S', '5')} s",
    }


async def closed_tab(base: str, proc: psutil.Process, query: str) -> dict:
    """Start "Run to the end" with budgets far above it, close the socket once it runs, and
    time how long the server keeps computing."""
    s = await _ready(base, query)
    await s.click("Run to the end")
    await s.wait(lambda w: w.progress.endswith("· running"), WAIT_S)
    cpu0, t0 = cpu_s(proc), time.perf_counter()
    await asyncio.sleep(1.0)
    busy = (cpu_s(proc) - cpu0) / (time.perf_counter() - t0)
    progress = s.progress
    await s.__aexit__(None, None, None)  # the tab is closed
    closed = time.perf_counter()
    idle_after = None
    while time.perf_counter() - closed < IDLE_WITHIN_S:
        before = cpu_s(proc)
        await asyncio.sleep(SAMPLE_S)
        if (cpu_s(proc) - before) / SAMPLE_S < IDLE_CORES:
            idle_after = time.perf_counter() - closed  # the end of the first idle sample
            break
    value = f"not idle in {IDLE_WITHIN_S:g} s" if idle_after is None else f"{idle_after:.2f} s"
    return {
        "measure": "tab closed mid-run: server idle within",
        "value": value,
        "note": f"{busy:.2f} cores while running ({progress}); idle: < {IDLE_CORES} cores "
        f"over {SAMPLE_S} s; budgets 600 s",
    }


def run(quick: bool = False) -> list[dict]:
    """Two rows: a budgeted heavy click, and how soon an abandoned one stops."""
    query = QUICK if quick else HEAVY
    rows = []
    with running_app(ARTIFACTS / "bench-budget-server.log") as (base, popen):
        rows.append(asyncio.run(budgeted_click(base, psutil.Process(popen.pid), query)))
    with running_app(ARTIFACTS / "bench-budget-unbounded.log", env=UNBOUNDED) as (base, popen):
        rows.append(asyncio.run(closed_tab(base, psutil.Process(popen.pid), query)))
    return rows
