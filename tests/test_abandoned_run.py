"""A visitor who starts a heavy run and closes the tab: the server's CPU use ends within seconds.

Against a real server, through the load test's wire client. The click's and the race's CPU
budgets are set far above the run's length, so only the closed session can end the work.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

from tests.browser.harness import ARTIFACTS, running_app
from tests.load.wire import WireSession

UNBOUNDED = {"LLE_CLICK_BUDGET_S": "600", "LLE_RACE_BUDGET_S": "600"}
HEAVY = "data=moons&model=mlp&width=64&depth=3&n=3000&steps=5000&batch=1&race_opt=adam"
WAIT_S = 120.0
SAMPLE_S = 0.5
WITHIN_S = 5.0  # the server must be idle this soon after the socket closes
IDLE = 0.15  # server CPU (in cores) that counts as idle


def cpu_s(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


async def cpu_rate(proc: psutil.Process, seconds: float) -> float:
    """The server's CPU use (cores) over the next `seconds`."""
    before = cpu_s(proc)
    await asyncio.sleep(seconds)
    return (cpu_s(proc) - before) / seconds


async def abandon(base: str, proc: psutil.Process, label: str) -> tuple[str, float, list[float]]:
    """Open the heavy setup, press `label`, close the socket mid-run; (the progress text then,
    CPU use while it ran, CPU use in each SAMPLE_S after the close)."""
    s = WireSession(base)
    await s.__aenter__()
    await s.open("training", HEAVY)
    await s.run_done(WAIT_S)
    assert s.errors == [] and s.progress == "step 0 of 5000 · ready"
    await s.click(label)
    await s.wait(lambda w: w.progress.endswith("· running"), WAIT_S)
    busy = await cpu_rate(proc, 1.5)
    progress = s.progress
    await s.__aexit__(None, None, None)  # the tab is closed
    after = [await cpu_rate(proc, SAMPLE_S) for _ in range(int(WITHIN_S / SAMPLE_S) + 4)]
    return progress, busy, after


@pytest.fixture(scope="module")
def server():
    with running_app(ARTIFACTS / "abandoned-run-server.log", env=UNBOUNDED) as (base, proc):
        yield base, psutil.Process(proc.pid)


@pytest.mark.parametrize("label", ["Run to the end", "Start"])
def test_an_abandoned_heavy_run_stops_using_the_cpu(server, label):
    base, proc = server
    with ThreadPoolExecutor(1) as pool:  # its own event loop (playwright's sync API holds one)
        progress, busy, after = pool.submit(asyncio.run, abandon(base, proc, label)).result()
    step = int(progress.split()[1])
    assert 0 < step < 5000 and progress.endswith("· running"), progress  # under way
    assert busy > 0.1, f"the run did not use the CPU while it ran: {busy:.2f} cores"
    settled = after[int(WITHIN_S / SAMPLE_S) :]  # from WITHIN_S after the close on
    assert max(settled) < IDLE, f"CPU after the close, every {SAMPLE_S} s: {after}"
