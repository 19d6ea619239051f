"""A visitor's clear_cache message does not empty the results other visitors share.

Streamlit's frontend sends BackMsg.clear_cache from its menu (hidden by toolbarMode "viewer",
but any WebSocket client can send it), and the server then clears st.cache_data for every
session. The pages keep their results in app_pages/widgets/memo.py instead, out of its reach.
The server runs with LLE_MEMO_LOG=1, so its log has one line for each value the memo computed.
"""

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from streamlit.proto.BackMsg_pb2 import BackMsg

from app_pages.widgets.memo import memo
from tests.browser.harness import ARTIFACTS, running_app
from tests.load.wire import WireSession

VIEW = "data=line&model=line&axes=params&steps=11&path=quick&train_steps=20&seed=7"
COMPUTED = "landscape.compute: computed"  # memo.py's log line for the Landscape view
CHARTS = {"surface_0", "contour_0", "slice"}
WAIT_S = 120.0


class Visitor(WireSession):
    async def clear_cache(self) -> None:
        """Send what the frontend's "Clear cache" menu item sends."""
        msg = BackMsg()
        msg.clear_cache = True
        await self._ws.send(msg.SerializeToString())


async def _open(s: WireSession) -> tuple[set, list]:
    s.charts.clear()
    await s.open("landscape", VIEW)
    await s.run_done(WAIT_S)
    return set(s.charts), list(s.errors)


def test_clear_cache_from_one_visitor_leaves_the_shared_results(tmp_path):
    log = ARTIFACTS / "clear-cache-server.log"

    def computed() -> int:
        return log.read_text(errors="replace").count(COMPUTED)

    async def scenario() -> list:
        seen = []
        async with Visitor(base) as first, Visitor(base) as second:
            seen.append((*await _open(first), computed()))
            await first.clear_cache()
            # messages of one session are handled in order: this run comes after the clear
            seen.append((*await _open(first), computed()))
            seen.append((*await _open(second), computed()))
        return seen

    with running_app(log, env={"LLE_MEMO_LOG": "1"}) as (base, _proc):
        with ThreadPoolExecutor(1) as pool:  # its own event loop
            seen = pool.submit(asyncio.run, scenario()).result()
        text = log.read_text(errors="replace")
    opened, again, other = seen
    assert opened[:2] == (opened[0], []) and CHARTS <= opened[0], text[-2000:]
    assert opened[2] == 1  # the first visitor's open computed the view, once
    assert again[1:] == ([], 1)  # after its clear_cache: the same view, not computed again
    assert CHARTS <= again[0]
    assert other[1:] == ([], 1)  # another visitor: served from the memo as well
    assert CHARTS <= other[0]


# --- the memo itself, in this process ------------------------------------------------------
def _counted(max_entries: int = 8, fresh: bool = True):
    """A memoized function that records each computation; fresh: its memo emptied first (every
    call defines the same function again, which gets the same memo)."""
    calls = []

    @memo(max_entries=max_entries, show_spinner=False)
    def square(x, scale=1, _note=None):
        calls.append((x, scale))
        if x == "boom":
            raise ValueError("boom")
        return [x * x * scale]

    if fresh:
        square.clear()
    return square, calls


def test_memo_keys_on_the_arguments_but_not_underscored_ones():
    square, calls = _counted()
    assert square(3, _note="a") == [9]
    assert square(3, _note="b") == [9]  # _note is not part of the key
    assert square(3, scale=1) == [9]  # a default given explicitly: the same key
    assert square(3, 2) == [18]
    assert calls == [(3, 1), (3, 2)]


def test_memo_tells_1_from_1_0_and_true():
    square, calls = _counted()
    assert [square(1), square(1.0), square(True)] == [[1], [1.0], [True * True]]
    assert [type(x) for x, _ in calls] == [int, float, bool]


def test_memo_gives_each_caller_its_own_copy():
    square, calls = _counted()
    square(4).append("changed by one caller")
    assert square(4) == [16]
    assert len(calls) == 1


def test_memo_drops_the_least_recently_used_entry():
    square, calls = _counted(max_entries=2)
    square(1), square(2), square(1), square(3)  # 2 is the least recently used: dropped
    square(1), square(3)  # still there
    square(2)  # computed again
    assert calls == [(1, 1), (2, 1), (3, 1), (2, 1)]
    assert len(square) == 2


def test_memo_does_not_cache_an_exception():
    square, calls = _counted()
    for _ in range(2):
        with pytest.raises(ValueError, match="boom"):
            square("boom")
    assert calls == [("boom", 1), ("boom", 1)]


def test_memo_rejects_an_unhashable_argument():
    square, _ = _counted()
    with pytest.raises(TypeError, match="hashable"):
        square([1, 2], scale={"a": 1})


def test_concurrent_callers_of_one_key_compute_it_once():
    calls = []
    started = threading.Event()

    @memo(max_entries=4, show_spinner=False)
    def slow(x):
        calls.append(x)
        started.set()
        time.sleep(0.3)
        return x + 1

    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(slow, 1)
        started.wait(5)
        rest = [pool.submit(slow, 1) for _ in range(3)]
        results = [f.result() for f in [first, *rest]]
    assert results == [2, 2, 2, 2]
    assert calls == [1]


def test_a_page_defining_its_function_again_keeps_the_entries():
    # a page script runs anew on every rerun: the same function, defined again, same memo
    first, calls = _counted()
    first(5)
    again, calls_again = _counted(fresh=False)
    assert again is first
    assert again(5) == [25]
    assert calls == [(5, 1)] and calls_again == []
    again(6)
    assert calls_again == [(6, 1)]  # the new definition is the one called
