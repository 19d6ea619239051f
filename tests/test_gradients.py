"""1-D curves against float64 central differences; kinks; the gradcheck table."""

import numpy as np
import pytest
import torch

from explorer.functions import FUNCTIONS
from explorer.gradients.curves import bisected_jumps, central_difference, curve_grid, loss_curve
from explorer.gradients.gradcheck import check_backward, gradcheck_table, numerical_jacobian
from explorer.gradients.jumps import falls_forever, find_kinks, jump_groups, jump_midpoints
from explorer.losses import LOSSES

FD_TOL = 1e-6  # autograd vs central differences (h = 1e-6, float64) on smooth losses
SMOOTH = [
    "mse", "huber", "smooth_l1", "log_cosh", "soft_threshold", "weighted_mse",
    "hand_grad_weighted_se", "sin2_function", "bce_logits", "focal", "sigmoid_margin",
    "dice", "cross_entropy", "weighted_ce",
]  # fmt: skip
HARD = [
    "mae",
    "quantile",
    "scaled_mse",
    "hard_threshold",
    "proxy_round",
    "sigmoid_weighted_abs",
    "hinge",
    "zero_one",
]


def test_central_difference_of_sin_is_cos():
    x = torch.linspace(-3, 3, 101, dtype=torch.float64)
    assert torch.allclose(central_difference(torch.sin, x), torch.cos(x), atol=1e-9)


def test_numerical_jacobian_of_a_linear_map_is_the_matrix():
    a = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    jac = numerical_jacobian(lambda v: a @ v, torch.zeros(3, dtype=torch.float64))
    assert torch.allclose(jac, a, atol=1e-9)


def test_grid_per_axis():
    assert curve_grid("residual")[0] == -3 and curve_grid("residual")[-1] == 3
    p = curve_grid("probability", n=50)
    assert p.numel() == 50 and p.min() > 0 and p.max() < 1
    with pytest.raises(ValueError, match="residual"):
        curve_grid("angle")


@pytest.mark.parametrize("key", SMOOTH)
def test_autograd_matches_finite_differences_for_smooth_losses(key):
    c = loss_curve(LOSSES[key], n=201)
    assert c.x.dtype == np.float64 and c.fd_step == 1e-6
    np.testing.assert_allclose(c.grad_autograd, c.grad_fd, atol=FD_TOL, rtol=FD_TOL)
    assert c.kinks.size == 0


@pytest.mark.parametrize("key", HARD)
def test_hard_losses_differ_only_next_to_kinks_or_jumps(key):
    c = loss_curve(LOSSES[key])
    corners = [c.x[[a, b]] for a, b in jump_groups(c.grad_autograd) + jump_groups(c.value)]
    assert corners, "a hard loss must show a kink or a jump"
    bad = np.flatnonzero(np.abs(c.grad_autograd - c.grad_fd) > FD_TOL)
    dx = c.x[1] - c.x[0]
    for i in bad:
        assert any(lo - dx <= c.x[i] <= hi + dx for lo, hi in corners), c.x[i]


def test_mae_kink_at_zero_and_hinge_kink_at_one_plus_margin():
    assert np.allclose(loss_curve(LOSSES["mae"]).kinks, [0.0], atol=1e-9)
    c = loss_curve(LOSSES["hinge"], {"margin": 0.25})
    assert np.allclose(c.kinks, [1.25], atol=1e-9)


def test_find_kinks_locates_a_corner_off_the_grid_and_ignores_curvature():
    x = np.linspace(-2, 2, 101)
    v, g = np.abs(x - 0.3137), np.sign(x - 0.3137)
    assert np.allclose(find_kinks(x, g, v), [0.3137], atol=1e-12)
    assert find_kinks(x, np.cos(5 * x), np.sin(5 * x) / 5).size == 0


def test_jumps_of_the_loss_bisected_exactly_and_midway_on_the_grid():
    spec = LOSSES["hard_threshold"]
    params = spec.clamp({"t": 1.0})
    c = loss_curve(spec, params)
    where, size = bisected_jumps(spec, params, c)
    assert np.allclose(where, [-1.0, 1.0], atol=1e-9)
    assert list(np.sign(size)) == [1.0, -1.0] and np.all(np.abs(size) > 0.5)
    assert np.allclose(jump_midpoints(c), where, atol=c.x[1] - c.x[0])
    mae = loss_curve(LOSSES["mae"])  # a kink, not a jump
    assert bisected_jumps(LOSSES["mae"], {}, mae)[0].size == 0 and jump_midpoints(mae).size == 0


def test_params_are_clamped_into_range():
    c = loss_curve(LOSSES["huber"], {"delta": 1e9, "bogus": 3}, n=11)
    assert np.all(np.isfinite(c.value))


def test_falls_forever():
    assert falls_forever(np.array([0.0, -1, -10, -100]))
    assert falls_forever(np.array([0.0, -np.inf, -np.inf, -np.inf]))
    assert not falls_forever(np.array([1.0, 0.1, 0.01, 0.001]))  # bounded: drops die out
    assert not falls_forever(np.array([1.0, 0.0, 1.0, 10.0]))


def test_gradcheck_table_fails_the_seed_matrix_power_only():
    rows = {r["function"]: r for r in gradcheck_table()}
    assert set(FUNCTIONS) <= set(rows)
    seed = rows["MatrixPowerSeed"]
    assert seed["passed"] is False and seed["max_abs_error"] > 1e-2
    for name, ex in FUNCTIONS.items():
        if name != "MatrixPowerSeed":
            assert ex.correct and rows[name]["passed"] and rows[name]["max_abs_error"] < 1e-6, name
    assert rows["StepFunction (off)"]["passed"]
    assert not rows["StepFunction (identity)"]["passed"]


class TripleSin(torch.autograd.Function):
    """sin x with a backward off by a factor 3 (a test double that must fail)."""

    @staticmethod
    def forward(x):
        return torch.sin(x)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * g * torch.cos(x)


def test_check_backward_measures_the_error_of_a_wrong_backward():
    x = torch.tensor([0.0, 1.0, 2.0])
    passed, err = check_backward(TripleSin.apply, (x,))
    assert not passed
    assert err == pytest.approx(2.0, abs=1e-6)  # |3cos 0 − cos 0|


def test_every_catalogue_loss_is_classified_smooth_or_hard():
    assert set(SMOOTH) | set(HARD) == set(LOSSES)


def test_every_function_in_explorer_functions_is_in_the_table():
    import inspect

    from explorer import functions

    defined = {
        name
        for name, obj in vars(functions).items()
        if inspect.isclass(obj)
        and issubclass(obj, torch.autograd.Function)
        and obj.__module__ == functions.__name__
        and not name.startswith("_")  # a shared base (the matrix powers' forward)
    }
    assert defined and defined <= {row["function"] for row in gradcheck_table()}


def test_a_formula_that_mixes_samples_has_no_per_residual_curve():
    from explorer.expression import ExpressionError
    from explorer.gradients.shift import mixes_samples
    from explorer.losses import get_loss

    mixed, plain = get_loss("expr:r - mean(r)"), get_loss("expr:mean(r**2)")
    assert mixes_samples(mixed) and not mixes_samples(plain) and not mixes_samples(LOSSES["mse"])
    with pytest.raises(ExpressionError, match="no per-element values: this formula mixes samples"):
        loss_curve(mixed)
