"""The player's data (explorer.views.player) against the records, surfaces and objectives it was
computed from, and its wire format against the arrays it encodes."""

import json
import math

import numpy as np
import pytest
import torch

from explorer import anatomy as an
from explorer.landscape import project_trajectory
from explorer.losses import get_loss
from explorer.objective import objective
from explorer.plots.surface import scale_values
from explorer.race import Race, race_configs
from explorer.training import TrainConfig, build
from explorer.views import anatomy as va
from explorer.views import player as pv
from explorer.views import player_wire as wire
from explorer.views import sweeps
from explorer.views.landscape import ViewConfig, landscape_view, restart_view

SMALL = dict(points=11, train_steps=30)


@pytest.fixture(scope="module")
def view():
    return landscape_view(ViewConfig(**SMALL))


def loss_at(config: ViewConfig, theta: np.ndarray, params: dict | None = None) -> float:
    """L(θ) of the view's problem, one model evaluation (the reference for the batched grid)."""
    problem = build(config.train_config())
    spec = problem.spec
    obj = objective(problem.dataset, spec, spec.clamp(params or dict(config.loss_params)))
    model = problem.model
    torch.nn.utils.vector_to_parameters(
        torch.as_tensor(theta, dtype=torch.float32), model.parameters()
    )
    with torch.no_grad():
        return float(obj(model))


def test_run_equals_the_records_and_their_projection(view):
    data = pv.landscape_player(view)
    (run,) = data.runs
    records = view.records
    assert run.step.tolist() == [r.step for r in records] == list(range(SMALL["train_steps"] + 1))
    np.testing.assert_array_equal(run.loss, [r.loss for r in records])
    np.testing.assert_array_equal(run.grad_norm, [r.grad_norm for r in records])
    thetas = np.stack([r.theta for r in records])  # "params" axes: α = w, β = b exactly
    np.testing.assert_allclose(run.alpha, thetas[:, 0], atol=1e-12)
    np.testing.assert_allclose(run.beta, thetas[:, 1], atol=1e-12)
    proj = view.panels[0].projection
    np.testing.assert_array_equal(run.height, proj.surface)
    assert data.start == (run.alpha[0], run.beta[0])
    assert data.frames == SMALL["train_steps"] + 1 and data.stride == 1


def test_surface_and_field_are_the_panels(view):
    s = view.panels[0].surface
    data = pv.landscape_player(view)
    np.testing.assert_array_equal(data.surface.values, s.values)
    np.testing.assert_array_equal(data.surface.alpha, s.alpha)
    f = data.surface.field
    for i in (0, 3, len(f.alpha) - 1):
        for j in (0, 5, len(f.beta) - 1):
            gi, gj = (
                int(np.flatnonzero(s.alpha == f.alpha[i])[0]),
                int(np.flatnonzero(s.beta == f.beta[j])[0]),
            )
            assert f.u[i, j] == -s.grad_alpha[gi, gj] and f.v[i, j] == -s.grad_beta[gi, gj]
    assert (data.alpha_range, data.beta_range) == (
        (s.alpha[0], s.alpha[-1]),
        (s.beta[0], s.beta[-1]),
    )
    # the surface is L itself: one grid point against a single model evaluation
    cfg = ViewConfig(**SMALL)
    assert s.values[2, 7] == pytest.approx(loss_at(cfg, s.theta(s.alpha[2], s.beta[7])), rel=1e-5)


def test_log_scale_applies_to_the_surface_and_the_heights(view):
    data = pv.landscape_player(view, log=True)
    shown, to_log = scale_values(view.panels[0].surface.values, True)
    np.testing.assert_array_equal(data.surface.values, shown)
    np.testing.assert_array_equal(data.runs[0].height, to_log(view.panels[0].projection.surface))
    np.testing.assert_array_equal(data.runs[0].loss, [r.loss for r in view.records])  # true loss


def test_wire_format_round_trips_to_float32(view):
    data = pv.landscape_player(view)
    doc = json.loads(wire.to_json(data))
    run = doc["runs"][0]
    for key in ("step", "alpha", "beta", "height", "loss", "grad_norm"):
        np.testing.assert_array_equal(
            wire.decode(run[key]), getattr(data.runs[0], key).astype(np.float32)
        )
    values = wire.decode(doc["surface"]["values"])
    assert values.shape == data.surface.values.shape
    np.testing.assert_array_equal(values, data.surface.values.astype(np.float32))
    np.testing.assert_array_equal(
        wire.decode(doc["surface"]["field"]["u"]), data.surface.field.u.astype(np.float32)
    )
    assert doc["frames"] == data.frames and doc["start"] == list(data.start)
    assert doc["plane"]["labels"] == ["w", "b"] and doc["sweep"] is None and doc["clickable"]
    nan = wire.decode(wire.encode([1.0, math.nan]))
    assert nan[0] == 1 and math.isnan(nan[1])


def test_extras_travel_per_step_and_are_checked(view):
    base = pv.landscape_player(view).runs[0]
    steps = base.step.size
    extras = (
        pv.Extra("update", "vector", np.arange(2 * steps, dtype=float).reshape(steps, 2)),
        pv.Extra("why", "text", tuple(f"step {i}" for i in range(steps))),
        pv.Extra("lr", "series", np.full(steps, 0.05)),
    )
    data = pv.landscape_player(view)
    data = pv.Player(**{**vars(data), "runs": (pv.PlayerRun(**{**vars(base), "extras": extras}),)})
    sent = json.loads(wire.to_json(data))["runs"][0]["extras"]
    assert [e["kind"] for e in sent] == ["vector", "text", "series"]
    np.testing.assert_array_equal(wire.decode(sent[0]["values"]), extras[0].values)
    assert sent[1]["values"][3] == "step 3"
    bad = pv.PlayerRun(**{**vars(base), "extras": (pv.Extra("x", "vector", np.zeros(steps)),)})
    with pytest.raises(ValueError, match="shape"):
        wire.to_json(pv.Player(**{**vars(data), "runs": (bad,)}))


def test_restart_keeps_the_plane_and_starts_at_the_point(view):
    s = view.panels[0].surface
    a, b = float(s.alpha[1]), float(s.beta[-2])
    cfg = ViewConfig(**SMALL, start=(a, b))
    moved = restart_view(cfg, view)
    assert moved.panels[0].surface is s  # the same plane and grid
    first = moved.records[0].theta
    np.testing.assert_allclose(first, s.theta(a, b), atol=1e-6)  # float32 parameters
    data = pv.landscape_player(moved)
    assert data.start == pytest.approx((a, b), abs=1e-6)
    assert data.runs[0].loss[0] == pytest.approx(loss_at(cfg, first), rel=1e-5)
    again = landscape_view(cfg)  # the one-call form gives the same path on the same plane
    np.testing.assert_array_equal(again.panels[0].surface.values, s.values)
    np.testing.assert_array_equal(
        np.stack([r.theta for r in again.records]), np.stack([r.theta for r in moved.records])
    )
    far = restart_view(ViewConfig(**SMALL, start=(1e9, -1e9)), view)  # clamped to the grid
    np.testing.assert_allclose(far.records[0].theta, s.theta(s.alpha[-1], s.beta[0]), atol=1e-5)
    with pytest.raises(ValueError, match="finite"):
        restart_view(ViewConfig(**SMALL, start=(math.nan, 0.0)), view)


def test_sweep_frames_are_the_loss_at_each_parameter_value():
    cfg = ViewConfig(**SMALL, loss="soft_threshold")
    base = landscape_view(cfg)
    sweep = sweeps.landscape_sweep(cfg, base, "k", frames=6)
    assert sweep.values[0] == 0.5 and sweep.values[-1] == pytest.approx(100)
    assert np.allclose(np.diff(np.log(sweep.values)), np.log(200) / 5)  # geometric: 0.5 … 100
    s = base.panels[0].surface
    assert sweep.surfaces.shape == (6, *s.values.shape)
    assert sweep.u.shape == sweep.v.shape == (6, 11, 11)  # an 11-point grid: 11 arrows an axis
    for f in (0, 5):
        k = float(sweep.values[f])
        ref = loss_at(cfg, s.theta(s.alpha[4], s.beta[6]), {"k": k, "t": 1.0})
        assert sweep.surfaces[f, 4, 6] == pytest.approx(ref, rel=1e-5)
    i, j = 2, 8  # −∇L by central differences along α at frame 5
    h, k = 1e-3, float(sweep.values[5])
    up = loss_at(cfg, s.theta(s.alpha[i] + h, s.beta[j]), {"k": k, "t": 1.0})
    down = loss_at(cfg, s.theta(s.alpha[i] - h, s.beta[j]), {"k": k, "t": 1.0})
    assert sweep.u[5, i, j] == pytest.approx(-(up - down) / (2 * h), rel=2e-2, abs=1e-3)
    with pytest.raises(ValueError, match="no parameter"):
        sweeps.landscape_sweep(cfg, base, "gamma")


def test_sweep_values_spacing():
    assert sweeps.sweep_values(0.0, 5.0, 6).tolist() == [0, 1, 2, 3, 4, 5]
    geo = sweeps.sweep_values(0.5, 100.0, 3)
    assert geo[1] == pytest.approx(math.sqrt(50))


def test_history_player_reads_a_race():
    base = TrainConfig(steps=12, lr=0.1)
    race = Race(race_configs(base, optimizers=["adam"]))
    race.advance()
    histories = {}
    for name, run in race.runs.items():
        steps, theta = run.path()
        histories[name] = (
            steps,
            [r.loss for r in run.records],
            [r.grad_norm for r in run.records],
            theta,
        )
    data = pv.history_player(histories, ("w", "b"))
    assert [r.name for r in data.runs] == list(race.runs)
    for r, run in zip(data.runs, race.runs.values(), strict=True):
        np.testing.assert_array_equal(r.alpha, [rec.theta[0] for rec in run.records])
        np.testing.assert_array_equal(r.loss, [rec.loss for rec in run.records])
    assert data.surface is None and data.frames == 13
    lo, hi = data.alpha_range
    assert lo < min(r.alpha.min() for r in data.runs) and hi > max(r.alpha.max() for r in data.runs)


def test_long_runs_get_a_stride_that_plays_in_about_ten_seconds(view):
    data = pv.landscape_player(view)
    long = pv.Player(
        **{**vars(data), "runs": (pv.PlayerRun(**{**vars(data.runs[0]), "step": np.arange(5001)}),)}
    )
    assert long.frames == 5001 and long.stride == 10  # 5001 / (60 × 10 s) = 8.3 -> 10


def test_clicks_are_parsed_strictly():
    assert wire.Click.parse({"alpha": 1, "beta": "2.5", "source": "surface"}) == wire.Click(
        1.0, 2.5, "surface"
    )
    for bad in (None, [], {"alpha": 1}, {"alpha": "x", "beta": 1}, {"alpha": math.inf, "beta": 0}):
        assert wire.Click.parse(bad) is None


def test_projection_matches_the_engine_on_another_loss():
    cfg = ViewConfig(**SMALL, loss="huber")
    v = landscape_view(cfg)
    problem = build(cfg.train_config())
    ref = project_trajectory(problem.model, problem.objective, v.panels[0].surface, v.records)
    data = pv.landscape_player(v)
    np.testing.assert_allclose(data.runs[0].height, ref.surface, rtol=1e-6)
    assert get_loss("huber").name in data.title


def _anatomy_extras(view, config: ViewConfig, **kw):
    panel = view.panels[0]
    return va.run_extras(
        config.train_config(),
        view.records,
        va.along_directions(panel.surface.directions),
        steps=panel.projection.step,
        theta0=view.records[0].theta,
        **kw,
    )


def test_anatomy_arrows_are_the_optimizers_shares_on_the_plane():
    config = ViewConfig(**{**SMALL, "optimizer": "momentum"})
    view = landscape_view(config)
    extras = _anatomy_extras(view, config)
    data = pv.landscape_player(view, extras=extras)
    run = data.runs[0]
    by = {e.name: e for e in run.extras}
    assert list(by) == ["anatomy", va.NAMES["gradient"], va.NAMES["momentum"], va.UPDATE]
    # the reference: torch.optim.SGD(momentum=0.9) stepped by hand on the same problem
    problem = build(config.train_config())
    opt = torch.optim.SGD(problem.model.parameters(), lr=config.lr, momentum=0.9)
    params = list(problem.model.parameters())
    for i in range(SMALL["train_steps"]):
        opt.zero_grad()
        problem.objective(problem.model).backward()
        grad = torch.cat([p.grad.reshape(-1) for p in params]).double().numpy()
        prev = opt.state[params[0]].get("momentum_buffer")
        carried = (
            np.zeros(2)
            if prev is None
            else -config.lr
            * 0.9
            * np.array([float(opt.state[p]["momentum_buffer"]) for p in params])
        )
        opt.step()
        # "params" axes: plane coordinates are (w, b) themselves
        np.testing.assert_allclose(by[va.NAMES["gradient"]].values[i], -config.lr * grad, rtol=1e-6)
        np.testing.assert_allclose(
            by[va.NAMES["momentum"]].values[i], carried, rtol=1e-6, atol=1e-9
        )
        moved = [run.alpha[i + 1] - run.alpha[i], run.beta[i + 1] - run.beta[i]]
        np.testing.assert_allclose(by[va.UPDATE].values[i], moved, rtol=1e-9, atol=1e-12)
    assert np.isnan(by[va.UPDATE].values[-1]).all()  # the last point: no update leaves it
    parts = by["anatomy"]
    assert parts.labels == ("Gradient ∇L", "Momentum", "Step size", "Update Δθ")
    assert parts.values[-1] == ("",) * 4 and all(all(row) for row in parts.values[:-1])
    assert "starts as the gradient" in parts.values[0][1]
    sent = json.loads(wire.to_json(data))["runs"][0]["extras"]
    assert sent[0] == {
        "name": "anatomy",
        "kind": "parts",
        "labels": list(parts.labels),
        "values": [list(r) for r in parts.values],
    }
    tails = [(e["name"], e["tail"], e["part"], e["color"]) for e in sent[1:]]
    assert tails == [
        (va.NAMES["gradient"], "", 1, va.COLORS["gradient"]),
        (va.NAMES["momentum"], va.NAMES["gradient"], 2, va.COLORS["momentum"]),
        (va.UPDATE, "", 4, va.UPDATE_COLOR),
    ]


def _same_extras(got, want) -> None:
    assert [(e.name, e.kind, e.labels, e.tail, e.part) for e in got] == [
        (e.name, e.kind, e.labels, e.tail, e.part) for e in want
    ]
    for g, w in zip(got, want, strict=True):
        if g.kind == "parts":
            assert g.values == w.values
        else:
            np.testing.assert_array_equal(g.values, w.values)


@pytest.mark.parametrize(
    "fields",
    [
        {"optimizer": "adam", "axes": "random", "dataset": "moons", "model": "mlp"}
        | {"hidden": (4,), "loss": "bce_logits"},
        {"optimizer": "rmsprop", "loss": "expr:abs(r)**1.5 + 0.1*r**2"},  # a typed formula
        {"optimizer": "momentum", "train_steps": 450},  # thinned: every 3rd update
    ],
)
def test_the_views_anatomy_is_read_while_it_trains_and_equals_a_replay(fields):
    """The quick run's anatomy is captured during the run itself (a click trains once); the
    reference is the replay of the same run read step by step (checked against its records)."""
    config = ViewConfig(**{**SMALL, **fields})
    view = landscape_view(config)
    assert view.anatomy and view.anatomy[0].name == "anatomy"
    _same_extras(view.anatomy, _anatomy_extras(view, config))
    moved = restart_view(ViewConfig(**{**SMALL, **fields, "start": (0.4, -0.6)}), view)
    assert moved.records[0].theta.tolist() != view.records[0].theta.tolist()
    _same_extras(moved.anatomy, _anatomy_extras(moved, config))
    sent = va.explained(moved.panels[0].projection.step).size
    parts = moved.anatomy[0].values
    assert sum(1 for row in parts if all(row)) == sent


def test_a_view_without_a_quick_run_has_no_anatomy():
    config = ViewConfig(**SMALL, trajectory="none")
    assert landscape_view(config).anatomy == ()


def test_anatomy_is_thinned_like_a_long_path_and_checked_against_it(view):
    assert va.explained(range(301)).tolist() == list(range(0, 300, 2))
    assert va.explained(range(31)).tolist() == list(range(30))
    assert va.explained([0]).size == 0
    config = ViewConfig(**SMALL)
    few = va.explained(range(31), points=10).tolist()
    assert few == list(range(0, 30, 3))
    other = landscape_view(ViewConfig(**{**SMALL, "seed": 1}))  # another run's records
    with pytest.raises(ValueError, match="not the run"):
        _anatomy_extras(other, config)


def test_history_player_takes_any_two_parameters_and_extras():
    config = TrainConfig(dataset="moons", model="mlp", loss="bce_logits", hidden=(4,), steps=5)
    race = Race({"main": config})
    race.advance()
    run = race.runs["main"]
    steps, theta = run.path()
    hist = {
        "main": (steps, [r.loss for r in run.records], [r.grad_norm for r in run.records], theta)
    }
    extras = va.run_extras(run.config, run.records, va.along_axes(3, 7))
    data = pv.history_player(
        hist, (run.labels[3], run.labels[7]), axes=(3, 7), extras={"main": extras}
    )
    np.testing.assert_array_equal(data.runs[0].alpha, theta[:, 3])
    np.testing.assert_array_equal(data.runs[0].beta, theta[:, 7])
    update = next(e for e in data.runs[0].extras if e.name == va.UPDATE)
    np.testing.assert_allclose(update.values[:-1, 0], np.diff(theta[:, 3]), rtol=1e-12)
    np.testing.assert_allclose(update.values[:-1, 1], np.diff(theta[:, 7]), rtol=1e-12)
    with pytest.raises(ValueError, match="axes"):
        pv.history_player(hist, ("a", "b"), axes=(3, 3))


def _player_doc(at) -> dict:
    """The Training player's data, as the page sent it to the component."""
    (element,) = at.get("bidi_component")
    return json.loads(json.loads(element.proto.json))  # the component's data is one JSON string


def test_training_player_sends_the_main_runs_anatomy_on_the_chosen_plane():
    from tests.apptest import open_page, problems

    at = open_page("training", {"data": "moons", "model": "mlp", "width": "4", "steps": "8"})
    next(b for b in at.button if b.label == "Run to the end").click().run()
    assert problems(at) == []
    run = at.session_state["train.race"].runs[next(iter(at.session_state["train.race"].runs))]
    doc = _player_doc(at)
    assert doc["plane"]["labels"] == run.labels[:2]
    across = next(s for s in at.selectbox if s.key == "player_across")
    up = next(s for s in at.selectbox if s.key == "player_up")
    across.set_value(5)
    up.set_value(9).run()
    assert problems(at) == []
    doc = _player_doc(at)
    assert doc["plane"]["labels"] == [run.labels[5], run.labels[9]]
    sent = doc["runs"][0]
    theta = np.stack([r.theta for r in run.records])
    np.testing.assert_allclose(wire.decode(sent["alpha"]), theta[:, 5], rtol=1e-6)
    extras = {e["name"]: e for e in sent["extras"]}
    parts = extras["anatomy"]
    assert parts["labels"][0] == "Gradient ∇L" and parts["labels"][-1] == "Update Δθ"
    found = an.run_anatomy(run.config, [3])[3]  # the reference: explorer's own replay
    assert parts["values"][2] == [p.sentence for p in found.parts]
    update = wire.decode(extras[va.UPDATE]["values"])
    np.testing.assert_allclose(update[:-1, 0], np.diff(theta[:, 5]), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(update[:-1, 1], np.diff(theta[:, 9]), rtol=1e-5, atol=1e-7)
