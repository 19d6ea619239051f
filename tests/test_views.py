"""explorer.views.landscape against the engine's own functions called directly on the same problem."""

import collections
import json
import pickle
import sys

import numpy as np
import pytest
import torch

import explorer.expression
import explorer.losses
from explorer.landscape import (
    SurfaceConfig,
    interpolation_slice,
    loss_surface,
    project_trajectory,
)
from explorer.losses import LOSSES
from explorer.objective import objective
from explorer.training import build, losses_for_data, train
from explorer.views import landscape as views
from explorer.views.landscape import ViewConfig, landscape_view

TIGHT = dict(rtol=1e-6, atol=1e-7)  # the same float32 computation, maybe chunked differently
SMALL = dict(points=9, train_steps=20)


def engine(cfg: ViewConfig, loss=None, params=()):
    """(model, objective, records) built the way the engine's own tests would."""
    tc = cfg.train_config(loss, params)
    problem = build(tc)
    data, model, spec = problem.dataset, problem.model, problem.spec
    return model, objective(data, spec, tc.loss_params), list(train(cfg.train_config()))


def test_view_equals_surface_projection_and_slice_from_the_engine():
    cfg = ViewConfig(**SMALL)
    view = landscape_view(cfg)
    model, obj, records = engine(cfg)
    want = loss_surface(
        model, obj, SurfaceConfig("params", 9), trajectory=records, centre=records[-1].theta
    )
    got = view.panels[0].surface
    for field in ("alpha", "beta", "values", "grad_alpha", "grad_beta", "centre"):
        np.testing.assert_allclose(getattr(got, field), getattr(want, field), **TIGHT)
    proj, mine = project_trajectory(model, obj, want, records), view.panels[0].projection
    np.testing.assert_allclose(mine.loss, proj.loss, **TIGHT)
    np.testing.assert_allclose(mine.loss, [r.loss for r in records], rtol=1e-5)  # TRUE loss
    np.testing.assert_allclose(mine.alpha, proj.alpha, **TIGHT)
    cut = interpolation_slice(model, obj, records[0].theta, records[-1].theta, points=101)
    np.testing.assert_allclose(view.slice.values["Mean squared error"], cut.values, **TIGHT)
    assert view.panels[0].honesty.dropped < 1e-12


def test_second_loss_is_drawn_on_the_same_plane_and_grid():
    cfg = ViewConfig(
        dataset="sine", model="mlp", hidden=(4,), axes="random", loss="soft_threshold",
        compare="hard_threshold", compare_params=(("t", 0.3),), **SMALL,
    )  # fmt: skip
    first, second = (p.surface for p in landscape_view(cfg).panels)
    np.testing.assert_array_equal(first.directions, second.directions)
    np.testing.assert_array_equal(first.alpha, second.alpha)
    model, obj, records = engine(cfg, "hard_threshold", (("t", 0.3),))
    assert first.alpha[-1] >= views.RANDOM_SPAN  # a random plane is at least the weights' scale
    config = SurfaceConfig("random", 9, span=float(first.alpha[-1]), seed=0)
    want = loss_surface(model, obj, config, centre=records[-1].theta)
    np.testing.assert_allclose(second.values, want.values, **TIGHT)
    np.testing.assert_allclose(second.grad_alpha, want.grad_alpha, **TIGHT)
    assert not np.allclose(first.values, second.values)


def test_same_plane_reproduces_a_hessian_surface():
    cfg = ViewConfig(dataset="moons", model="logistic", loss="bce_logits", axes="hessian", **SMALL)
    model, obj, records = engine(cfg)
    surface = loss_surface(model, obj, SurfaceConfig("hessian", 7), centre=records[-1].theta)
    again = views.same_plane(model, obj, surface)
    np.testing.assert_allclose(again.values, surface.values, **TIGHT)
    np.testing.assert_allclose(again.grad_beta, surface.grad_beta, **TIGHT)


def test_pca_axes_run_a_path_even_without_one():
    view = landscape_view(ViewConfig(axes="pca", trajectory="none", **SMALL))
    surface = view.panels[0].surface
    assert len(view.records) == 21 and surface.kind == "pca"
    assert 0.99 < sum(surface.explained) <= 1 + 1e-9  # two components span the line's 2-D space


def test_no_path_slices_along_the_first_axis():
    view = landscape_view(ViewConfig(trajectory="none", **SMALL))
    surface, cut = view.panels[0].surface, view.slice
    assert view.panels[0].projection is None and cut.kind == "axis"
    middle = len(surface.beta) // 2  # the centre row of the grid lies on axis 1
    np.testing.assert_allclose(
        np.interp(surface.alpha - surface.origin[0], cut.t, cut.values[LOSSES["mse"].name]),
        surface.values[:, middle],
        rtol=1e-3,
    )


def test_last_run_is_followed_only_when_it_matches():
    run_cfg = ViewConfig(n=64, noise=0.3, seed=3, train_steps=15).train_config()
    run = {"config": run_cfg, "records": list(train(run_cfg))}
    cfg, records = views.follow_run(ViewConfig(trajectory="last", points=7), run)
    assert (cfg.n, cfg.noise, cfg.seed) == (64, 0.3, 3) and len(records) == 16
    view = landscape_view(cfg, records)
    np.testing.assert_allclose(view.panels[0].projection.loss, [r.loss for r in records], rtol=1e-5)
    with pytest.raises(ValueError, match="data set 'line'"):
        views.follow_run(ViewConfig(dataset="moons", model="mlp"), run)
    with pytest.raises(ValueError, match="no Training run"):
        views.follow_run(ViewConfig(), None)
    assert views.run_fingerprint(records) != views.run_fingerprint(records[:-1])


@pytest.mark.parametrize("dataset", ["line", "moons", "blobs3", "mask"])
def test_losses_for_data_are_exactly_those_that_train_on_it(dataset):
    fits = losses_for_data(dataset)
    for key in LOSSES:
        model = "line" if dataset == "line" else "logistic"
        config = ViewConfig(dataset=dataset, model=model, loss=key)
        if key in fits:
            config.train_config()
        else:
            with pytest.raises(ValueError, match="needs"):
                config.train_config()


@pytest.mark.parametrize(
    "dataset,model", [("line", "line"), ("line", "mlp"), ("moons", "logistic")]
)
def test_axes_for_lists_the_axes_the_engine_accepts(dataset, model):
    loss = losses_for_data(dataset)[0]
    kinds = views.axes_for(dataset, model)
    for axes in ("params", "random"):
        cfg = ViewConfig(dataset, model, (3,), loss=loss, axes=axes, trajectory="none", points=5)
        if axes in kinds:
            landscape_view(cfg)
        else:
            with pytest.raises(ValueError, match="plane|parameter entries"):
                landscape_view(cfg)


def test_downloads_round_trip():
    panels = landscape_view(ViewConfig(compare="mae", **SMALL)).panels
    arrays = np.load(__import__("io").BytesIO(views.surface_npz(panels)))
    for p in panels:
        np.testing.assert_array_equal(arrays[f"{p.key}.values"], p.surface.values)
    doc = json.loads(views.surface_json(panels))
    np.testing.assert_allclose(doc["mae.values"], panels[1].surface.values)
    assert doc["mse.labels"] == ["w", "b"] and doc["mse.kind"] == "params"


def test_bad_requests_raise_value_errors_naming_what_is_allowed():
    with pytest.raises(ValueError, match="quick, last, none"):
        landscape_view(ViewConfig(trajectory="sideways"))
    with pytest.raises(ValueError, match="points must be"):
        landscape_view(ViewConfig(points=1000))
    with pytest.raises(ValueError, match="needs binary data"):
        landscape_view(ViewConfig(compare="hinge"))


def test_a_diverging_run_is_cut_at_its_last_finite_step():
    view = landscape_view(ViewConfig(lr=5.0, train_steps=50, points=5))
    assert view.stop.startswith("diverged")
    assert all(np.isfinite(r.theta).all() for r in view.records)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_an_unavailable_device_falls_back_to_cpu_with_a_note():
    view = landscape_view(ViewConfig(device="cuda", **SMALL))
    assert view.fell_back and "not available" in view.device_note
    assert view.device == "cpu"


def test_hessian_axes_of_a_piecewise_linear_loss_are_labelled_with_zero_curvature():
    # mae on the line model: the Hessian is 0 almost everywhere, so both eigenvalues are 0
    surface = landscape_view(ViewConfig(loss="mae", axes="hessian", **SMALL)).panels[0].surface
    assert surface.eigenvalues == (0.0, 0.0)
    assert all("λ = 0" in label for label in surface.labels)


def counted(calls: collections.Counter, name: str, fn):
    """fn, counting its calls by (name, first argument) in calls."""

    def wrapper(arg, *args, **kwargs):
        calls[name, arg] += 1
        return fn(arg, *args, **kwargs)

    return wrapper


@pytest.mark.parametrize("compare", ["mae", "expr:mean(abs(r))"])
def test_one_view_resolves_each_loss_once(monkeypatch, compare):
    """A typed formula is parsed once a view, however many steps (validation, building, the
    quick run, objectives, the compared loss) need it: the spec travels, the text does not."""
    calls = collections.Counter()
    real = {"get_loss": explorer.losses.get_loss, "parse": explorer.expression.parse}
    for module in [m for name, m in sys.modules.items() if name.startswith("explorer")]:
        for name, fn in real.items():
            if getattr(module, name, None) is fn:  # patched wherever it is looked up
                monkeypatch.setattr(module, name, counted(calls, name, fn))
    formula = "mean(k*abs(r)**3)"
    cfg = ViewConfig(loss=f"expr:{formula}", loss_params=(("k", 2.0),), compare=compare, **SMALL)
    view = landscape_view(cfg)
    assert [p.key for p in view.panels] == [cfg.loss, compare]
    want = {("get_loss", cfg.loss): 1, ("get_loss", compare): 1, ("parse", formula): 1}
    if compare.startswith("expr:"):
        want["parse", compare.removeprefix("expr:")] = 1
    assert calls == want


def test_a_view_is_typed_frozen_and_pickles():
    view = landscape_view(ViewConfig(compare="mae", **SMALL))
    assert isinstance(view, views.LandscapeView) and [p.index for p in view.panels] == [0, 1]
    with pytest.raises(AttributeError):
        view.stop = "changed"
    again = pickle.loads(pickle.dumps(view))  # what st.cache_data stores
    np.testing.assert_array_equal(again.panels[1].surface.values, view.panels[1].surface.values)
    assert again.slice.marks == ((0.0, "start"), (1.0, "end"))
    row = view.panels[0].honesty.row()
    assert list(row)[:2] == ["loss", "steps"] and row["steps"] == SMALL["train_steps"] + 1
