"""Budgets for heavy work: the CPU seconds one unit may spend, a cancel check, a process-wide
limit on how many units run at once, and a shutdown that ends them all.

A unit of heavy work (one click's "Run to the end", one live redraw's training, one Landscape
view) runs inside `with Budget(...) as budget:` and asks `budget.over()` (or `checkpoint()`,
which raises `Cut`) between its rounds or chunks. A unit ends early, with `budget.cut` saying
why, when:

- "budget": its CPU seconds (on `clock`, the calling thread's CPU time by default) are spent,
  or `wall_cap` times them in wall time, for work the clock does not see;
- "cancelled": its `cancel()` returned True, or the check its thread installed with `watch`
  did (a page installs one saying whether its session is still connected). A `cancel` may also
  raise (Streamlit raises StopException or RerunException in any st.* call once a session is
  gone or a newer run is asked for); the exception then ends the unit at once;
- "busy": it waited `wait_s` for one of the `Slots` (at most that many units at once across
  all sessions) and none came free;
- "shutdown": the process is exiting (`shut_down`, run at exit): every running unit ends at
  its next check, and the exit waits for the threads that ran them, so that none is still
  inside torch when the interpreter goes away.

Settings (seconds; read once, at import): LLE_CLICK_BUDGET_S (one click, default 5),
LLE_RACE_BUDGET_S (one race in all, 120), LLE_VIEW_BUDGET_S (one Landscape view, 30);
LLE_HEAVY_SLOTS (units at once, default and at most the CPU count).
"""

import atexit
import collections
import functools
import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar, cast

Clock = Callable[[], float]
Cancel = Callable[[], bool]
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    """A positive number of seconds from the environment, else default."""
    try:
        value = float(environ.get(name, default))
    except ValueError:
        return default
    return value if math.isfinite(value) and value > 0 else default


CLICK_S = _seconds(os.environ, "LLE_CLICK_BUDGET_S", 5.0)  # CPU s one click may spend
RACE_S = _seconds(os.environ, "LLE_RACE_BUDGET_S", 120.0)  # CPU s one race may spend in all
VIEW_S = _seconds(os.environ, "LLE_VIEW_BUDGET_S", 30.0)  # CPU s one Landscape view may spend
WALL_CAP = 10.0  # a unit also ends after WALL_CAP x its budget in wall time
CLICK_WALL_CAP = 3.0  # a click's unit (its own slot, so near its own core): a tighter cap
WAIT_S = 10.0  # the longest wait for a free slot
DRAIN_S = 5.0  # at exit, the longest wait for running units' threads to end
FINAL = frozenset({"cancelled", "shutdown"})  # cuts after which the work must not go on

SHUTDOWN = threading.Event()  # set once the process is exiting


class Cut(ValueError):
    """Heavy work ended before its end; `reason` is one of the reasons in this module's doc.

    A ValueError, so a page that shows explorer's clear messages about settings shows this one.
    """

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def slot_count(environ: Mapping[str, str] = os.environ) -> int:
    """Units of heavy work at once: LLE_HEAVY_SLOTS, clamped to 1..CPU count (the default)."""
    cores = os.cpu_count() or 1
    raw = environ.get("LLE_HEAVY_SLOTS", "").strip()
    return max(1, min(int(raw), cores)) if raw.isdigit() else cores


class Slots:
    """At most `size` units of heavy work at once across the threads (sessions) of a process.

    A thread that already holds a slot takes none again (nested units share it).
    """

    def __init__(self, size: int):
        if size < 1:
            raise ValueError(f"slots need a size of at least 1, got {size}")
        self.size = size
        self._cond = threading.Condition()
        self._queue: collections.deque[object] = collections.deque()  # waiters, first come first
        self._mine = threading.local()
        self.inside = 0  # units holding a slot now
        self.peak = 0  # the most that ever held one at once

    def acquire(self, wait_s: float, stop: Callable[[], str | None]) -> bool:
        """Take a slot within wait_s seconds; False if this thread holds one already.

        Waiters are served first come, first served (a polling semaphore let a thread that had
        just released a slot take it again, and a crowded server starved some sessions). While
        waiting, stop() is asked every 50 ms: a reason it returns raises Cut; so does the end
        of the wait ("busy").
        """
        if getattr(self._mine, "held", 0):
            self._mine.held += 1
            return False
        deadline = time.monotonic() + wait_s
        ticket = object()
        with self._cond:
            self._queue.append(ticket)
        try:
            while not self._take(ticket, deadline):
                if reason := stop():
                    raise Cut(reason, explain(reason))
                if time.monotonic() >= deadline:
                    raise Cut("busy", explain("busy", slots=self))
        except BaseException:
            with self._cond:
                if ticket in self._queue:
                    self._queue.remove(ticket)
                self._cond.notify_all()
            raise
        self._mine.held = 1
        return True

    def _take(self, ticket: object, deadline: float) -> bool:
        """Take a slot if `ticket` is first in line and one is free; else wait up to 50 ms."""
        with self._cond:
            if self._queue[0] is ticket and self.inside < self.size:
                self._queue.popleft()
                self.inside += 1
                self.peak = max(self.peak, self.inside)
                self._cond.notify_all()
                return True
            self._cond.wait(min(0.05, max(0.0, deadline - time.monotonic())))
            return False

    def release(self) -> None:
        self._mine.held -= 1
        if self._mine.held:
            return
        with self._cond:
            self.inside -= 1
            self._cond.notify_all()


HEAVY = Slots(slot_count())  # the server-wide limit the app's heavy work shares

_local = threading.local()  # per thread: .watch (a cancel check), .stack (units running)
_threads: "weakref.WeakSet[threading.Thread]" = weakref.WeakSet()  # threads that ran units
_threads_lock = threading.Lock()


def watch(cancel: Cancel | None) -> None:
    """Install `cancel` as this thread's check: every unit it runs from now on asks it too.

    A page calls this at the start of each script run with "is my session gone?". The thread
    is also remembered, so that the exit waits for it (see shut_down).
    """
    _local.watch = cancel
    with _threads_lock:
        _threads.add(threading.current_thread())


def explain(
    reason: str,
    *,
    cpu_s: float | None = None,
    what: str = "this run's",
    slots: Slots | None = None,
) -> str:
    """Why a unit was cut, as a clause: "this run's time budget of 5 s of CPU is spent"."""
    if reason == "budget":
        return f"{what} time budget of {cpu_s or 0:g} s of CPU is spent"
    if reason == "busy":
        size = (slots or HEAVY).size
        return f"the server is busy: all {size} of its slots for heavy work are taken"
    if reason == "cancelled":
        return "it was cancelled (its page was closed or left)"
    if reason == "shutdown":
        return "the server is shutting down"
    return reason


class Budget:
    """One unit of heavy work's limits; use as `with Budget(5.0) as b:` and ask b.over()."""

    def __init__(
        self,
        cpu_s: float | None = None,
        *,
        cancel: Cancel | None = None,
        clock: Clock = time.thread_time,
        wall_cap: float = WALL_CAP,
        slots: Slots | None = None,
        wait_s: float = WAIT_S,
        what: str = "this run's",
        hint: str = "",
    ):
        self.cpu_s, self.cancel, self.clock, self.wall_cap = cpu_s, cancel, clock, wall_cap
        self.slots, self.wait_s, self.what, self.hint = slots, wait_s, what, hint
        self.cut: str | None = None  # why the unit ended early, once it has
        self.used_s = 0.0  # CPU seconds on `clock` at the latest check
        self._start = self._wall = 0.0
        self._in_slot = False
        self._watch: Cancel | None = None

    def __enter__(self) -> "Budget":
        self.cut, self.used_s = None, 0.0
        self._watch = getattr(_local, "watch", None)
        if reason := self._stopped():
            self.raise_cut(reason)
        if self.slots is not None:
            try:
                self.slots.acquire(self.wait_s, self._stopped)
            except Cut as cut:
                self.cut = cut.reason
                raise
            self._in_slot = True
        self._start, self._wall = self.clock(), time.perf_counter()
        stack = _local.__dict__.setdefault("stack", [])
        stack.append(self)
        return self

    def __exit__(self, *exc) -> None:
        _local.stack.remove(self)
        if self._in_slot and self.slots is not None:
            self.slots.release()
        self._in_slot = False

    @property
    def running(self) -> bool:
        """Whether this unit runs now in the calling thread (inside its `with`)."""
        return self in getattr(_local, "stack", ())

    def spent(self) -> float:
        """CPU seconds on `clock` since the unit began."""
        return self.clock() - self._start

    def _stopped(self) -> str | None:
        """ "shutdown" or "cancelled" if the work must end now, else None."""
        if SHUTDOWN.is_set():
            return "shutdown"
        if (self.cancel is not None and self.cancel()) or (self._watch and self._watch()):
            return "cancelled"
        return None

    def over(self) -> str | None:
        """Why the unit must end now (and remember it in `cut`), or None to go on.

        Reads `clock` once.
        """
        reason = self._stopped()
        if reason is None:
            self.used_s = self.spent()
            wall = time.perf_counter() - self._wall
            if self.cpu_s is not None and (
                self.used_s >= self.cpu_s or wall >= self.wall_cap * self.cpu_s
            ):
                reason = "budget"
        if reason is not None:
            self.cut = reason
        return reason

    def why(self, reason: str | None = None) -> str:
        """The clause explaining `reason` (default: this unit's cut)."""
        reason = reason or self.cut or ""
        return explain(reason, cpu_s=self.cpu_s, what=self.what, slots=self.slots)

    def raise_cut(self, reason: str) -> None:
        self.cut = reason
        hint = f"; {self.hint}" if self.hint and reason in ("budget", "busy") else ""
        raise Cut(reason, f"computing stopped: {self.why(reason)}{hint}")

    def check(self) -> None:
        """Raise Cut if the unit must end now."""
        if reason := self.over():
            self.raise_cut(reason)


def current() -> Budget | None:
    """The innermost unit running in this thread, or None."""
    stack = getattr(_local, "stack", None)
    return stack[-1] if stack else None


def checkpoint() -> None:
    """Between two chunks of work: raise Cut if this thread's unit (if any) must end, or if
    the process is exiting."""
    unit = current()
    if unit is not None:
        unit.check()
    elif SHUTDOWN.is_set():
        raise Cut("shutdown", f"computing stopped: {explain('shutdown')}")


def each(items: Iterable[T]) -> Iterator[T]:
    """items, with a checkpoint before each one is taken (a generator's work happens then)."""
    iterator = iter(items)
    while True:
        checkpoint()
        try:
            item = next(iterator)
        except StopIteration:
            return
        yield item


def unit(make: Callable[[], Budget]) -> Callable[[F], F]:
    """Decorator: run the function as one unit of heavy work under make()'s budget, unless its
    thread runs one already (a caller's own `with Budget(...)`, or a nested call): then in that."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def run(*args, **kwargs):
            if current() is not None:
                return fn(*args, **kwargs)
            with make():
                return fn(*args, **kwargs)

        return cast(F, run)

    return wrap


def nap(seconds: float) -> None:
    """Sleep, waking at once when the process starts exiting."""
    SHUTDOWN.wait(seconds)


def shut_down(wait_s: float = DRAIN_S) -> list[str]:
    """End all heavy work: set SHUTDOWN, then wait (at most wait_s in all) for every thread
    that ran a unit; the names of those still running after that.

    Registered to run at exit. Streamlit's script threads are daemons: without this wait, one
    still inside a torch call when the interpreter finalizes is torn down through C++ frames
    that cannot unwind, and the process aborts ("terminate called without an active exception").
    """
    SHUTDOWN.set()
    deadline = time.monotonic() + wait_s
    me = threading.current_thread()
    with _threads_lock:
        threads = [t for t in _threads if t is not me]
    for thread in threads:
        if thread.is_alive():
            thread.join(max(0.0, deadline - time.monotonic()))
    return [t.name for t in threads if t.is_alive()]


atexit.register(shut_down)
