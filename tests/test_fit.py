"""explorer.views.fit: grid predictions against the models' closed forms, orientation, ranges."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from explorer import plots
from explorer.data import make_dataset
from explorer.models import flat_params, make_model
from explorer.race import Race
from explorer.training import TrainConfig
from explorer.views.fit import MARGIN, LineGrid, RegionGrid, fit_inputs, predict_grid, race_fit

TOL = dict(rtol=1e-6, atol=1e-6)  # float32 model outputs against float64 closed forms


def _logistic(out_dim: int, seed: int = 3):
    return make_model("logistic", in_dim=2, out_dim=out_dim, seed=seed)


def test_regression_grid_is_the_line_over_the_data_range():
    data = make_dataset("line", n=50, seed=1)
    model = make_model("line", in_dim=1, out_dim=1, seed=2)
    got = predict_grid(model, data, points=25)
    w, b = model.w.item(), model.b.item()
    np.testing.assert_allclose(got.y, w * got.x + b, **TOL)
    lo, hi = data.x.min().item(), data.x.max().item()
    pad = MARGIN * (hi - lo)
    assert isinstance(got, LineGrid) and got.x.shape == (25,)
    np.testing.assert_allclose([got.x[0], got.x[-1]], [lo - pad, hi + pad], **TOL)


def test_binary_grid_is_sigmoid_of_the_logit_with_zz_ij_at_xx_i_yy_j():
    data = make_dataset("moons", n=60, seed=0)
    model = _logistic(1)
    got = predict_grid(model, data, points=7)
    lin = model.net
    w, b = lin.weight.detach().double().numpy()[0], lin.bias.item()
    xx, yy = np.meshgrid(got.xx, got.yy, indexing="ij")
    expected = 1 / (1 + np.exp(-(w[0] * xx + w[1] * yy + b)))
    assert isinstance(got, RegionGrid) and got.zz.shape == (7, 7)
    np.testing.assert_allclose(got.zz, expected, **TOL)


def test_multiclass_grid_holds_softmax_probabilities():
    data = make_dataset("blobs3", n=60, seed=0)
    model = _logistic(3)
    got = predict_grid(model, data, points=5)
    points = torch.cartesian_prod(torch.as_tensor(got.xx), torch.as_tensor(got.yy))
    with torch.no_grad():
        expected = torch.softmax(model(points.float()).double(), -1).reshape(5, 5, 3)
    assert got.zz.shape == (5, 5, 3)
    np.testing.assert_allclose(got.zz, expected.numpy(), **TOL)
    np.testing.assert_allclose(got.zz.sum(-1), 1.0, **TOL)


def test_points_are_clamped_and_only_2d_inputs_get_regions():
    data = make_dataset("moons", n=40)
    assert predict_grid(_logistic(1), data, points=10_000).zz.shape == (200, 200)
    assert predict_grid(_logistic(1), data, points=0).zz.shape == (2, 2)
    wide = make_dataset("moons", n=40)
    wide = type(wide)(**{**vars(wide), "x": torch.zeros(40, 3), "task": "binary"})
    with pytest.raises(ValueError, match="2-D"):
        predict_grid(make_model("logistic", in_dim=3, out_dim=1), wide)


def test_fit_inputs_load_theta_first():
    data = make_dataset("line", n=30)
    model = make_model("line", in_dim=1, out_dim=1, seed=0)
    theta = np.array([2.0, -1.0])  # w, b of the data's true line
    got = fit_inputs(model, data, theta, points=11)
    np.testing.assert_allclose(flat_params(model), theta)
    np.testing.assert_allclose(got.grid.y, 2 * got.grid.x - 1, **TOL)
    assert got.task == "regression" and got.x.shape == (30,)
    assert got.outlier.dtype == bool
    kwargs = got.kwargs()  # what plots.fit_plot takes
    assert set(kwargs) == {"x", "y", "task", "outlier", "predict_grid"}
    assert set(kwargs["predict_grid"]) == {"x", "y"}
    assert "data" in {t.name for t in plots.fit_plot(**kwargs).data}


def test_race_fit_draws_the_latest_parameters_of_a_run():
    base = TrainConfig(dataset="moons", model="logistic", loss="bce_logits", steps=20)
    race = Race({"a": base, "b": replace(base, lr=0.5)})
    race.advance()
    for name, run in race.runs.items():
        fit = race_fit(race, name, points=9)
        (w1, w2), b = run.model.net.weight.detach().double().numpy()[0], run.model.net.bias.item()
        np.testing.assert_allclose(np.r_[w1, w2, b], run.records[-1].theta, **TOL)
        xx, yy = np.meshgrid(fit.grid.xx, fit.grid.yy, indexing="ij")
        np.testing.assert_allclose(fit.grid.zz, 1 / (1 + np.exp(-(w1 * xx + w2 * yy + b))), **TOL)
        assert fit.task == "binary" and fit.x.shape == (len(run.dataset), 2)
    assert not np.allclose(race_fit(race, "a").grid.zz, race_fit(race, "b").grid.zz)
