"""Soft vs hard: the sigmoid passes a gradient that sharpens with k; the step passes none."""

import numpy as np
import pytest
import torch

from explorer.views.thresholds import soft_vs_hard

TOL = 1e-9


@pytest.mark.parametrize("pair", ["threshold", "margin"])
def test_soft_gradient_near_the_step_grows_with_k(pair):
    peaks = [soft_vs_hard(pair, k=k, t=1.0).summary.soft_max_grad_near_step for k in (2, 8, 32)]
    assert peaks[0] < peaks[1] < peaks[2]


def test_zero_one_passes_no_gradient_anywhere_and_sigmoid_margin_passes_some_everywhere():
    v = soft_vs_hard("margin", k=5.0)
    assert v.summary.hard_zero_fraction == 1.0
    assert v.summary.soft_zero_fraction == 0.0
    np.testing.assert_allclose(v.soft.mask, v.soft.value, atol=TOL)  # σ(−k m) is the loss
    assert v.summary.soft_grad_at_t_closed_form is None and v.outward == ""
    assert [m.label for m in v.metrics][-1] == "hard: points with exactly zero gradient"


def test_hard_threshold_gradient_is_that_of_r_squared_inside_and_zero_outside():
    v = soft_vs_hard("threshold", k=20.0, t=1.5)
    x, g = v.x, v.hard.grad
    inside = np.abs(x) < 1.5
    np.testing.assert_allclose(g[inside], 2 * x[inside], atol=TOL)
    assert np.all(g[~inside] == 0.0)
    assert v.summary.hard_zero_fraction == pytest.approx(np.mean(~inside))


def test_soft_masks_match_their_formulas():
    v = soft_vs_hard("threshold", k=7.0, t=0.8)
    x = torch.as_tensor(v.x)
    np.testing.assert_allclose(v.soft.mask, torch.sigmoid(7.0 * (0.8 - x.abs())), atol=TOL)
    np.testing.assert_allclose(v.soft.value, v.soft.mask * v.x**2, atol=TOL)
    np.testing.assert_array_equal(v.curves[0].grad_autograd, v.soft.grad)
    assert v.edges == (-0.8, 0.8) and v.curves[1].name == "hard_threshold"


def test_soft_threshold_pushes_outward_at_k20_as_the_closed_form_says():
    v = soft_vs_hard("threshold", k=20.0, t=1.0)
    x, g = v.x, v.soft.grad
    i = np.argmin(np.abs(x - 1.0))  # the grid point nearest r = t
    slope = np.max(np.abs(np.diff(g) / np.diff(x)))
    closed = v.summary.soft_grad_at_t_closed_form
    assert closed == pytest.approx(-20 / 4 + 1)
    assert abs(g[i] - closed) <= slope * abs(x[i] - 1.0) + 1e-6
    assert v.summary.outward_fraction_near_t > 0.5
    assert "pushes residuals near the threshold outwards" in v.outward
    assert v.metrics[-1].label.startswith("soft dL/dr at r = t") and v.metrics[-1].value == "-4"


def test_parameters_are_clamped_and_unknown_pair_refused():
    assert soft_vs_hard("threshold", k=1e9, t=-5).k <= 1e3
    with pytest.raises(ValueError, match="allowed: threshold, margin"):
        soft_vs_hard("nope", k=1.0)
