"""explorer.budget: CPU budgets on the given clock, cancel checks, the server-wide slots, exit."""

import threading
import time
from dataclasses import replace

import pytest
import torch

import explorer.budget as budgets
from explorer.budget import Budget, Cut, Slots, checkpoint, slot_count
from explorer.landscape.batched import BatchedLoss, losses_at, plane_losses
from explorer.race import Race, live_ticks, race_configs
from explorer.training import TrainConfig, build, train
from explorer.views.landscape import ViewConfig, landscape_view

BASE = TrainConfig(dataset="line", loss="mse", optimizer="sgd", lr=0.05, steps=30, device="cpu")


class Ticks:
    """A clock that reads 0, 1, 2, ... and counts its reads."""

    def __init__(self):
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return float(self.reads - 1)


class After:
    """A cancel check that answers True from its n-th call on, counting calls."""

    def __init__(self, n: int):
        self.n, self.calls = n, 0

    def __call__(self) -> bool:
        self.calls += 1
        return self.calls >= self.n


@pytest.fixture(autouse=True)
def clean_thread():
    """No watch left behind in the test thread, no shutdown left set."""
    yield
    budgets.watch(None)
    budgets.SHUTDOWN.clear()


def test_the_budget_is_spent_on_the_given_clock_and_says_so():
    clock = Ticks()
    with Budget(3.0, clock=clock) as budget:  # entering reads 0
        seen = [budget.over() for _ in range(4)]  # reads 1, 2, 3, 4
    assert seen == [None, None, "budget", "budget"]
    assert budget.cut == "budget" and budget.used_s == 4.0
    assert budget.why() == "this run's time budget of 3 s of CPU is spent"


def test_the_wall_cap_ends_work_the_clock_never_sees():
    with Budget(0.01, clock=lambda: 0.0, wall_cap=2.0) as budget:
        start = time.perf_counter()
        while not budget.over():
            pass
    assert budget.cut == "budget" and 0.02 <= time.perf_counter() - start < 5.0


def test_check_raises_a_cut_that_is_a_value_error_with_the_hint():
    with pytest.raises(ValueError, match="computing stopped: this view's time budget of 2 s"):
        with Budget(2.0, clock=Ticks(), what="this view's", hint="use fewer points") as budget:
            for _ in range(5):
                budget.check()
    with pytest.raises(Cut, match="; use fewer points$") as err:
        with Budget(1.0, clock=Ticks(), hint="use fewer points") as budget:
            budget.check()
    assert err.value.reason == "budget"


def test_a_race_is_cut_by_its_budget_on_the_given_clock():
    race = Race(race_configs(BASE, ["adam"]))
    assert race.advance(budget=Budget(3.0, clock=Ticks()))  # rounds end at 1, 2, 3
    assert race.step == 2 and race.cut == "budget"
    assert (
        race.cut_text() == "Stopped at step 2 of 30: this run's time budget of 3 s of CPU is spent."
    )
    assert not race.advance() and race.cut is None and race.cut_text() is None


def test_cancel_stops_a_race_within_one_round():
    race, cancel = Race(race_configs(BASE, ["adam"])), After(4)
    race.advance(budget=Budget(cancel=cancel))  # asked on entry, then after each round
    assert cancel.calls == 4 and race.step == 2 and race.cut == "cancelled"
    assert all(len(run.rows) == 3 for run in race.runs.values())


def test_a_cancel_that_raises_leaves_every_run_intact():
    """Streamlit's StopException comes out of the page's redraw, between two rounds."""

    class Gone(BaseException):
        pass

    def redraw():
        if race.step >= 5:
            raise Gone

    configs = race_configs(BASE, ["adam"])
    race = Race(configs)
    with pytest.raises(Gone):
        race.advance(budget=Budget(cancel=redraw))
    assert race.step == 5 and race.spent_s > 0
    race.advance()
    for name, cfg in configs.items():
        assert [r.loss for r in race.runs[name].records] == [r.loss for r in train(cfg)]


def test_a_race_stops_for_good_once_its_total_is_spent():
    race = Race(race_configs(BASE, ["adam"]), total_s=3.0)
    clock = Ticks()
    assert race.advance(budget=Budget(clock=clock))  # no per-call budget: the race's total
    assert race.step == 2 and race.cut == "race" and race.spent_s == 4.0  # 3 rounds, 4 reads
    assert race.cut_text() == (
        "Stopped at step 2 of 30: this race's total budget of 3 s of CPU is spent."
    )
    race.advance(max_rounds=5)
    assert race.step == 2 and race.cut == "race"


def test_cancel_stops_a_surface_within_one_chunk(monkeypatch):
    problem = build(BASE)
    calls = []
    original = BatchedLoss.__call__
    monkeypatch.setattr(
        BatchedLoss, "__call__", lambda f, t: calls.append(len(t)) or original(f, t)
    )
    grid = torch.cartesian_prod(torch.linspace(-1, 1, 10), torch.linspace(-1, 1, 10))
    centre, dirs = torch.zeros(2), torch.eye(2)
    cancel = After(4)  # entry, then chunks 1, 2, 3: cut before the third chunk
    with pytest.raises(Cut, match="cancelled"), Budget(cancel=cancel):
        plane_losses(problem.model, problem.objective, centre, dirs, grid, grad=True, chunk=7)
    assert calls == [7, 7]
    values, _ = plane_losses(problem.model, problem.objective, centre, dirs, grid, chunk=7)
    assert values.shape == (100,)  # outside a unit: no checks, the whole grid
    calls.clear()
    with pytest.raises(Cut), Budget(cancel=After(2)):
        losses_at(problem.model, problem.objective, grid, chunk=10)
    assert calls == []


def test_slots_bound_how_many_run_at_once():
    slots, inside, most, lock = Slots(3), [0], [0], threading.Lock()
    start = threading.Barrier(8)

    def work():
        start.wait()
        with Budget(slots=slots, wait_s=30.0):
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time.sleep(0.05)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert most[0] == 3 and slots.peak == 3 and slots.inside == 0


def test_a_thread_holding_a_slot_nests_units_without_a_second_one():
    slots = Slots(1)
    with Budget(slots=slots), Budget(slots=slots, wait_s=0.0):
        assert slots.inside == 1
    assert slots.inside == 0


def test_no_free_slot_within_the_wait_is_a_busy_cut():
    slots, holding, release = Slots(1), threading.Event(), threading.Event()

    def hold():
        with Budget(slots=slots):
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(10)
    try:
        race = Race(race_configs(BASE))
        start = time.perf_counter()
        assert race.advance(budget=Budget(slots=slots, wait_s=0.2))
        assert 0.2 <= time.perf_counter() - start < 5.0
        assert race.cut == "busy" and race.step == 0 and not race.runs["sgd · mse"].rows
        assert "all 1 of its slots for heavy work are taken" in race.cut_text()
    finally:
        release.set()
        holder.join(10)
    assert not race.advance(budget=Budget(slots=slots, wait_s=0.2)) and race.done


def test_a_cancel_ends_the_wait_for_a_slot():
    slots = Slots(1)
    with Budget(slots=slots):
        outcome = {}

        def wait():
            try:
                with Budget(slots=slots, wait_s=30.0, cancel=After(3)):
                    outcome["ran"] = True
            except Cut as cut:
                outcome["cut"] = cut.reason

        blocked = threading.Thread(target=wait)
        start = time.perf_counter()
        blocked.start()
        blocked.join(10)
    assert outcome == {"cut": "cancelled"} and time.perf_counter() - start < 5.0


def test_slot_count_is_at_most_the_cores(monkeypatch):
    monkeypatch.setattr(budgets.os, "cpu_count", lambda: 4)
    assert slot_count({}) == 4
    assert slot_count({"LLE_HEAVY_SLOTS": "2"}) == 2
    assert slot_count({"LLE_HEAVY_SLOTS": "99"}) == 4
    assert slot_count({"LLE_HEAVY_SLOTS": "0"}) == 1
    assert slot_count({"LLE_HEAVY_SLOTS": "lots"}) == 4


def test_seconds_settings_fall_back_on_bad_values():
    assert budgets._seconds({"X": "2.5"}, "X", 5.0) == 2.5
    for bad in ("0", "-1", "nan", "inf", "soon"):
        assert budgets._seconds({"X": bad}, "X", 5.0) == 5.0


def test_the_thread_watch_cancels_every_unit_it_runs():
    race = Race(race_configs(BASE))
    budgets.watch(lambda: True)  # the session is gone
    ticks = list(live_ticks(race, 0.01, sleep=lambda s: None))
    assert ticks == [0] and race.cut == "cancelled" and race.step == 0
    budgets.watch(None)
    assert race.advance(max_rounds=2) and race.step == 1


def test_a_shutdown_ends_every_unit_and_waits_for_their_threads():
    steps, started = [], threading.Event()

    def session():
        budgets.watch(None)  # as each script run does: the exit waits for this thread
        race = Race(race_configs(replace(BASE, steps=5000)))
        started.set()
        while race.advance(budget_s=0.01):
            if race.cut == "shutdown":
                break
        steps.append(race.step)

    thread = threading.Thread(target=session, daemon=True)
    thread.start()
    started.wait(10)
    time.sleep(0.1)
    assert budgets.shut_down(wait_s=10.0) == [] and not thread.is_alive()
    assert 0 < steps[0] < 5000
    with pytest.raises(Cut, match="shutting down"):
        checkpoint()  # no unit running: the exit still stops work between chunks
    race = Race(race_configs(BASE))
    race.advance()
    assert race.step == 0 and race.cut == "shutdown"


def test_a_landscape_view_is_one_unit_cut_with_its_hint(monkeypatch):
    config = ViewConfig(dataset="moons", model="mlp", loss="hinge", axes="random", points=41)
    monkeypatch.setattr(budgets, "VIEW_S", 1e-4)
    with pytest.raises(Cut, match="this view's time budget of 0.0001 s of CPU is spent; choose"):
        landscape_view(config)
    assert budgets.HEAVY.inside == 0  # the slot is back
    cancel = After(10)
    with pytest.raises(Cut, match="cancelled"), Budget(cancel=cancel):  # the caller's own unit
        landscape_view(config)
    assert cancel.calls == 10
    monkeypatch.setattr(budgets, "VIEW_S", 60.0)
    view = landscape_view(config)
    assert view.panels[0].surface.values.shape == (41, 41)
