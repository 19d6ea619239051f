"""Training's "Tune learning rates" and Landscape's momentum phase diagram, through AppTest."""

import json

import numpy as np
import pytest
import torch

from explorer.phase import momentum_optimum
from explorer.race import race_configs
from explorer.training import TrainConfig, build
from explorer.tuning import lr_grid, tune
from tests.apptest import array, figures, open_page, problems, trace

torch.set_num_threads(1)
RACE = {"race_opt": ["adam", "momentum"], "steps": "100"}


def chart(at, key: str):
    return next(el for el in at.get("plotly_chart") if el.proto.id.endswith(f"-{key}"))


def click(at, key: str, x: float, y: float):
    """What the browser sends on a click on a point of a chart with on_select: its selection
    as the chart widget's JSON value, with the other widgets' states, then a script run."""
    states = at._tree.get_widget_states()
    state = states.widgets.add()
    state.id = chart(at, key).proto.id
    point = {"x": x, "y": y, "curve_number": 0, "point_number": 0, "point_index": 0}
    selection = {"points": [point], "point_indices": [0], "box": [], "lasso": []}
    state.string_value = json.dumps({"selection": selection})
    return at._run(states)


def test_a_tuned_race_runs_each_optimizer_at_its_tuned_rate_and_shows_why():
    at = open_page("training", {**RACE, "tune": "true"})
    assert problems(at) == []
    fig = figures(at)["tuning"]
    assert fig["layout"]["xaxis"]["type"] == "log"
    assert "learning rate" in fig["layout"]["xaxis"]["title"]["text"]
    configs = at.session_state["train.race"].configs
    base = TrainConfig(steps=100, seed=0, device="auto")
    want = tune(race_configs(base, ["adam", "momentum"]), lr_grid())
    for name in configs:  # the race runs what an independent tuning picks, and the chart says so
        assert configs[name].lr == want.best_rate(name), name
        x, y = array(trace(fig, name)["x"]), array(trace(fig, name)["y"])
        assert np.allclose(x, want.rates)
        assert np.allclose(y, want.scores[want.names.index(name)], equal_nan=True)
    table = at.dataframe[0].value
    assert list(table["run"]) == list(configs)
    assert list(table["tuned learning rate"]) == [configs[n].lr for n in configs]
    assert any("last 10" in m.value and "Criterion" in m.value for m in at.markdown)


def test_without_tuning_the_race_keeps_the_slider_rate():
    at = open_page("training", {**RACE, "lr": "0.02"})
    assert problems(at) == [] and "tuning" not in figures(at)
    assert {c.lr for c in at.session_state["train.race"].configs.values()} == {0.02}
    at.checkbox(key="tune").check().run()
    assert problems(at) == [] and "tuning" in figures(at)
    assert len({c.lr for c in at.session_state["train.race"].configs.values()}) > 1


@pytest.fixture(scope="module")
def landscape():
    return open_page("landscape")


def test_line_mse_landscape_shows_the_exact_phase_diagram(landscape):
    at = landscape
    assert problems(at) == []
    fig = figures(at)["phase"]
    assert "exact" in fig["layout"]["title"]["text"]
    assert fig["layout"]["xaxis"]["title"]["text"].startswith("step size α")
    assert fig["layout"]["yaxis"]["title"]["text"] == "momentum β"
    names = [t.get("name", "") for t in fig["data"]]
    best = next(t for t in fig["data"] if t.get("name", "").startswith("best momentum"))
    assert "divergence boundary (rate = 1)" in names
    assert any(n.startswith("best GD") for n in names)
    # the marked optimum is Distill's, from the exact Hessian of this line's MSE
    problem = build(TrainConfig(device="cpu"))
    xs = problem.dataset.x.double().numpy()[:, 0]
    lam = np.linalg.eigvalsh(2 / len(xs) * np.array([[xs @ xs, xs.sum()], [xs.sum(), len(xs)]]))
    a_star, b_star, _ = momentum_optimum(lam[0], lam[-1])
    assert array(best["x"])[0] == pytest.approx(a_star, rel=1e-6)
    assert array(best["y"])[0] == pytest.approx(b_star, rel=1e-6)


def test_clicking_the_plane_sets_alpha_and_beta(landscape):
    at = click(landscape, "phase", 0.31234, 0.4567)
    assert problems(at) == []
    assert at.session_state["lr"] == 0.3123 and at.session_state["ls_opt_momentum"] == 0.457
    assert at.session_state["opt"] == "momentum"
    assert at.number_input(key="lr").value == 0.3123
    assert at.selectbox(key="opt").value == "momentum" and at.radio(key="path").value == "quick"
    marks = [t.get("name", "") for t in figures(at)["phase"]["data"]]
    assert "this run: α = 0.312, β = 0.457" in marks
    at = click(at, "phase", 99.0, -3.0)  # outside the widgets' ranges: clamped
    assert at.session_state["lr"] == 5.0 and at.session_state["ls_opt_momentum"] == 0.0


def test_other_models_get_a_local_diagram_or_a_reason():
    at = open_page("landscape", {"data": "moons", "model": "mlp", "hidden": "4", "steps": "5"})
    assert problems(at) == []
    assert "local" in figures(at)["phase"]["layout"]["title"]["text"]
    assert any("Local: the Hessian" in c.value for c in at.caption)


def test_a_tuning_the_budget_cuts_races_untuned_until_asked_again(monkeypatch):
    from explorer import budget as budgets

    settings = {**RACE, "steps": "60", "lr": "0.02", "tune": "true"}
    monkeypatch.setattr(budgets, "VIEW_S", 1e-9)  # no CPU at all for the grid
    at = open_page("training", settings)
    assert problems(at) == [] and "tuning" not in figures(at)
    assert any("No tuning" in w.value for w in at.warning)
    race = at.session_state["train.race"]
    assert {c.lr for c in race.configs.values()} == {0.02}
    monkeypatch.setattr(budgets, "VIEW_S", 30.0)
    at.run()  # any rerun (a click on Run to the end, a redraw) keeps the untuned race it has
    assert at.session_state["train.race"] is race and "tuning" not in figures(at)
    next(b for b in at.button if b.label == "Try tuning again").click().run()
    assert problems(at) == [] and "tuning" in figures(at)
    base = TrainConfig(steps=60, seed=0, device="auto", lr=0.02)
    want = tune(race_configs(base, ["adam", "momentum"]), lr_grid())
    configs = at.session_state["train.race"].configs
    assert [c.lr for c in configs.values()] == [want.best_rate(n) for n in configs]
