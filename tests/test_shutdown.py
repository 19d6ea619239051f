"""SIGTERM while a heavy run is under way: the server ends cleanly, with exit code 0.

It used to abort ("terminate called without an active exception", exit -6): Streamlit's
script threads are daemons, and one still inside a torch call when the interpreter finalized
was torn down through C++ frames that cannot unwind. explorer.budget.shut_down, run at exit,
now ends the running work and waits for those threads first.
"""

import asyncio
import contextlib
import signal
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.browser.harness import ARTIFACTS, running_app
from tests.load.wire import WireSession

UNBOUNDED = {"LLE_CLICK_BUDGET_S": "600", "LLE_RACE_BUDGET_S": "600"}  # runs end only by exit
HEAVY = "data=moons&model=mlp&width=64&depth=3&n=3000&steps=5000&batch=1&race_opt=adam"
WAIT_S = 120.0
EXIT_S = 30.0


async def term_mid_run(base: str, proc, label: str) -> tuple[str, int]:
    """Open the heavy setup, press `label`, SIGTERM the server once the run is under way;
    (the progress text then, the server's exit code)."""
    s = WireSession(base)
    await s.__aenter__()
    try:
        await s.open("training", HEAVY)
        await s.run_done(WAIT_S)
        await s.click(label)
        await s.wait(lambda w: w.progress.endswith("· running"), WAIT_S)
        await asyncio.sleep(1.0)
        progress = s.progress
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, EXIT_S)
    finally:
        with contextlib.suppress(Exception):
            await s.__aexit__(None, None, None)
        if s._reader.done() and not s._reader.cancelled():
            s._reader.exception()  # the server closed the socket: expected, not an error
    return progress, code


@pytest.mark.parametrize("label", ["Run to the end", "Start"])
def test_sigterm_during_a_heavy_run_exits_cleanly(label):
    log = ARTIFACTS / f"shutdown-server-{label.split()[0].lower()}.log"
    with running_app(log, env=UNBOUNDED) as (base, proc):
        with ThreadPoolExecutor(1) as pool:  # its own event loop (playwright's sync API holds one)
            progress, code = pool.submit(asyncio.run, term_mid_run(base, proc, label)).result()
    text = log.read_text(errors="replace")
    assert 0 < int(progress.split()[1]) < 5000, progress  # it was mid-run
    assert code == 0, text[-3000:]
    assert "terminate called" not in text and "Traceback" not in text, text[-3000:]
