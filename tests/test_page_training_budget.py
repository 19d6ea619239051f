"""Training page under budgets: "Run to the end" stops at its click's CPU budget and says so,
Continue goes on from there; a race's total budget ends a live run for good."""

import gc
import re

import pytest
import torch

import explorer.budget as budgets
from tests.apptest import figures, open_page, problems

torch.set_num_threads(1)
HEAVY = {"data": "moons", "model": "mlp", "width": "64", "depth": "3", "n": "2000"}
HEAVY |= {"steps": "5000", "batch": "1", "race_opt": ["adam"]}
CUT_NOTE = (
    r"Stopped at step (\d+) of 5000: this run's time budget of 0\.5 s of CPU is spent\. "
    r"Press \*\*Continue\*\* to go on\."
)


def button(at, label):
    return next(b for b in at.button if b.label == label)


def notes(at) -> list[str]:
    return [w.value for w in at.warning if "Stopped at step" in w.value]


def test_run_to_the_end_stops_at_its_budget_and_continue_goes_on(monkeypatch):
    # 0.5 s (and its wall-time cap): 0.2 s was once spent before the first step under CI's load
    monkeypatch.setattr(budgets, "CLICK_S", 0.5)
    at = open_page("training", HEAVY)
    assert problems(at) == [] and notes(at) == []
    assert "Continue" not in [b.label for b in at.button]
    button(at, "Run to the end").click().run()
    assert problems(at) == []
    (note,) = notes(at)
    first = int(re.fullmatch(CUT_NOTE, note)[1])
    assert 0 < first < 5000
    race = at.session_state["train.race"]
    assert race.step == first and race.cut == "budget" and not at.session_state["train.running"]
    assert at.get("progress")[0].proto.text == f"step {first} of 5000 · stopped"
    assert len(at.dataframe[0].value) == 2 * (first + 1)  # both runs, every step so far
    assert {"curves", "fit", "params"} <= set(figures(at))

    button(at, "Continue").click().run()
    assert problems(at) == []
    assert at.session_state["train.race"] is race  # the same race, carried on
    (note,) = notes(at)
    second = int(re.fullmatch(CUT_NOTE, note)[1])
    assert first < second < 5000 and race.step == second
    assert len(at.dataframe[0].value) == 2 * (second + 1)
    steps = at.dataframe[0].value.query("run == 'sgd · bce_logits'")["step"].tolist()
    assert steps == list(range(second + 1))  # no step lost or repeated across the cut


def test_a_small_race_runs_to_the_end_within_one_click(monkeypatch):
    monkeypatch.setattr(budgets, "CLICK_S", 5.0)
    at = open_page("training", {"steps": "50"})
    button(at, "Run to the end").click().run()
    assert problems(at) == [] and notes(at) == []
    assert at.get("progress")[0].proto.text == "step 50 of 50 · done"
    assert "Continue" not in [b.label for b in at.button]


def test_a_live_run_ends_for_good_when_the_race_total_is_spent(monkeypatch):
    monkeypatch.setattr(budgets, "RACE_S", 0.5)
    at = open_page("training", {**HEAVY, "every": "0.2"})
    gc.collect()  # in the full suite a collection of its large heap, in the run's thread, once
    button(at, "Start").click().run()  # took a 0.3 s budget before the first step
    assert problems(at) == [] and not at.session_state["train.running"]
    (note,) = notes(at)
    match = re.fullmatch(
        r"Stopped at step (\d+) of 5000: this race's total budget of 0\.5 s of CPU is spent\. "
        r"Start a smaller race: fewer steps, runs or points\.",
        note,
    )
    assert match and 0 < int(match[1]) < 5000
    race = at.session_state["train.race"]
    assert race.cut == "race" and race.spent_s == pytest.approx(0.5, abs=0.3)
    assert "Continue" not in [b.label for b in at.button]
    assert at.session_state["last_run"]["config"].steps == 5000
