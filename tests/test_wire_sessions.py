"""Many sessions at once against a real server, through the load test's wire client.

No browser needed: tests/load/wire.py sends the server what the Streamlit frontend sends. These
check what only concurrency shows: a class opening one shared link on a freshly started
server, and live training in several sessions at once, each getting its own result.
"""

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tests.apptest import array
from tests.browser.harness import ARTIFACTS, running_app
from tests.load.loadtest import curve_digest
from tests.load.wire import WireSession

SESSIONS = 6
WAIT_S = 120.0


@pytest.fixture
def fresh_server():
    """A server no page has been opened on yet (a restart just before class)."""
    with running_app(ARTIFACTS / "wire-server.log") as (base, _proc):
        yield base


async def _open_together(base: str, n: int) -> list[WireSession]:
    sessions = [WireSession(base) for _ in range(n)]
    for s in sessions:
        await s.__aenter__()
    await asyncio.gather(*(s.open("training", "steps=30") for s in sessions))
    await asyncio.gather(*(s.run_done(WAIT_S) for s in sessions))
    return sessions


async def _train(s: WireSession, seed: int) -> str:
    await s.set_number("Random seed", seed)
    await s.run_done(WAIT_S)
    await s.click("Start")
    await s.wait(lambda w: w.settled_progress == "step 30 of 30 · done", WAIT_S)
    return s.charts["curves"]


def test_a_class_opening_one_link_on_a_fresh_server_all_get_the_whole_app(fresh_server):
    async def scenario():
        sessions = await _open_together(fresh_server, SESSIONS)
        try:
            shown = [(sorted(s.charts), "Random seed" in s.widgets, s.errors) for s in sessions]
            if shown != [(["fit"], True, [])] * SESSIONS:
                return shown, None, None, None
            curves = await asyncio.gather(*(_train(s, 100 + i) for i, s in enumerate(sessions)))
            again = await _train(sessions[0], 100)  # the same seed alone: the same curve
            return shown, curves, again, [s.errors for s in sessions]
        finally:
            for s in sessions:
                await s.__aexit__(None, None, None)

    with ThreadPoolExecutor(1) as pool:  # its own event loop (playwright's sync API holds one)
        shown, curves, again, errors = pool.submit(asyncio.run, scenario()).result()
    assert shown == [(["fit"], True, [])] * SESSIONS  # sidebar and chart, no error box
    assert errors == [[]] * SESSIONS
    assert len({curve_digest(c) for c in curves}) == SESSIONS  # every seed its own run
    assert curve_digest(again) == curve_digest(curves[0])
    for spec in curves:
        steps = array(json.loads(spec)["data"][0]["x"])
        assert np.array_equal(steps, np.arange(31))  # every step of the run, in order
