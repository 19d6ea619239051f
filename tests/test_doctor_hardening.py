"""The gradient doctor on cases it was not built around, against closed forms and torch.

Exact points (NaN/inf where a grid passes by), jumps confirmed by refinement (a steep continuous
loss is no jump), Python callables that return NaN or no tensor at all, gradients that are zero at
one point only, and losses that seed their own random numbers.
"""

import dataclasses
import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from explorer.doctor import diagnose_callable, diagnose_loss
from explorer.expression import to_spec
from explorer.gradients.curves import (
    bisected_jumps,
    curve_grid,
    gradient_steps,
    loss_curve,
    loss_steps,
)
from explorer.gradients.jumps import jump_groups, refine_steps
from explorer.losses import LOSSES, reduce_loss
from explorer.models import make_model


def codes(found):
    return {f.code for f in found}


def seen_of(found, code):
    (f,) = [f for f in found if f.code == code]
    return f.seen


def numbers(text):
    """The numbers of a finding's list ('-0.7, 0.7'), in order."""
    return [float(t) for t in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", text)]


def exact_points(found, axis):
    """Every point the nan_inf finding names as non-finite exactly there."""
    text = seen_of(found, "nan_inf")
    return sorted(
        {v for m in re.findall(rf"exactly at {axis} = ([^;]+)", text) for v in numbers(m)}
    )


# ------------------------------------------------------------------ 10: exact points


def with_fn(key, fn):
    """A catalogue entry (its axis, parameters) with another loss function."""
    return dataclasses.replace(LOSSES[key], key=f"test_{key}", fn=fn)


def sqrt_distance_to_delta(pred, target, *, reduction="mean", weights=None, delta=1.0):
    return reduce_loss(torch.sqrt(torch.abs((pred - target).abs() - delta)), reduction)


def sqrt_distance_to_margin(pred, target, *, reduction="mean", weights=None, margin=0.5):
    return reduce_loss(torch.sqrt(torch.abs(pred * target - margin)), reduction)


def neg_log_probability(pred, target, *, reduction="mean", weights=None, smooth=1.0):
    return reduce_loss(-torch.log(pred), reduction)


def sqrt_bernoulli_variance(pred, target, *, reduction="mean", weights=None, smooth=1.0):
    return reduce_loss(torch.sqrt(pred * (1 - pred)), reduction)


# (spec, params, axis, the closed-form points where L or dL/dx is not finite)
SINGULAR = {
    "sqrt|r|": (to_spec("sqrt(abs(r))"), {}, "residual", [0.0]),
    "|r|^0.5": (to_spec("abs(r)**0.5"), {}, "residual", [0.0]),
    "1/r": (to_spec("1/r"), {}, "residual", [0.0]),
    "log|r|": (to_spec("log(abs(r))"), {}, "residual", [0.0]),
    "r/|r|": (to_spec("r/abs(r)"), {}, "residual", [0.0]),
    "1/(r - t)": (to_spec("1/(r - t)"), {"t": 1.3}, "residual", [1.3]),
    "sqrt(t - |r|)": (to_spec("sqrt(t - abs(r))"), {"t": 2.5}, "residual", [-2.5, 2.5]),
    "log|r - 0.25|": (to_spec("log(abs(r - 0.25))"), {}, "residual", [0.25]),
    "huber-like delta": (with_fn("huber", sqrt_distance_to_delta), {"delta": 0.6}, "residual", [-0.6, 0.6]),
    "margin": (with_fn("hinge", sqrt_distance_to_margin), {"margin": 0.8}, "margin", [0.8]),
    "-log p": (with_fn("dice", neg_log_probability), {}, "probability", [0.0]),
    "sqrt p(1-p)": (with_fn("dice", sqrt_bernoulli_variance), {}, "probability", [0.0, 1.0]),
}  # fmt: skip


@pytest.mark.parametrize("name", list(SINGULAR))
def test_nan_inf_exactly_at_the_points_where_things_happen(name):
    spec, params, axis, where = SINGULAR[name]
    found = diagnose_loss(spec, params)
    assert "nan_inf" in codes(found), [(f.code, f.seen) for f in found]
    assert exact_points(found, axis) == pytest.approx(where, abs=1e-12)
    assert "kink" not in codes(found) or name not in ("sqrt|r|", "|r|^0.5")


def test_the_grid_passes_zero_by_a_rounding_error():
    # why the points are evaluated apart from the grid: linspace(-3, 3, 401) misses 0
    x = curve_grid("residual").numpy()
    assert 0.0 not in x and np.min(np.abs(x)) < 1e-12
    assert np.all(np.isfinite(loss_curve(to_spec("sqrt(abs(r))")).grad_autograd))


@pytest.mark.parametrize(
    "text", ["abs(r)**1.5", "sqrt(abs(r) + 1)", "r**2 * log(1 + abs(r))", "1/(1 + r**2)"]
)
def test_finite_at_every_point_gets_no_nan_inf(text):
    # d/dr |r|^1.5 = 1.5 |r|^0.5 sign(r) and the others are finite at 0, ±1 and every constant
    assert "nan_inf" not in codes(diagnose_loss(to_spec(text)))


@pytest.mark.parametrize("key", list(LOSSES))
def test_no_catalogue_loss_is_non_finite_at_its_own_thresholds(key):
    assert "nan_inf" not in codes(diagnose_loss(LOSSES[key]))


# ------------------------------------------------------------------ 12: jumps, confirmed

STEEP = {
    "r² + 0.1 tanh(100 r)": (to_spec("r**2 + 0.1*tanh(100*r)"), {}),
    "softplus(50 r)/50": (to_spec("softplus(50*r)/50"), {}),
    "sigmoid(100 r)": (to_spec("sigmoid(100*r)"), {}),
    "tanh(1000 r)": (to_spec("tanh(1000*r)"), {}),
    "r² + sigmoid(200 (r − 0.3))/2": (to_spec("r**2 + 0.5*sigmoid(200*(r - 0.3))"), {}),
    "sigmoid margin, k = 100": (LOSSES["sigmoid_margin"], {"k": 100.0}),
    "soft threshold, k = 100": (LOSSES["soft_threshold"], {"k": 100.0, "t": 1.0}),
}


@pytest.mark.parametrize("name", list(STEEP))
def test_a_steep_continuous_loss_is_no_jump_and_no_kink(name):
    spec, params = STEEP[name]
    found = diagnose_loss(spec, params)
    assert not codes(found) & {"jump", "kink", "nan_inf"}, [(f.code, f.seen) for f in found]


@pytest.mark.parametrize("name", [n for n in STEEP if not n.startswith("softplus")])
def test_steep_losses_outrun_the_grid(name):
    # the case the refinement is for: on the grid, one step of L dwarfs its neighbours', and
    # only the narrower brackets show that the gap shrinks with the width
    spec, params = STEEP[name]
    c = loss_curve(spec, spec.clamp(params))
    assert jump_groups(c.value)
    steps = loss_steps(spec, spec.clamp(params), c)
    assert set(steps.kind) == {"steep"} and np.all(np.abs(steps.size) < 1e-5)


@pytest.mark.parametrize("t", [0.35, 1.7, 2.3])
def test_hard_threshold_jumps_at_plus_minus_t_by_t_squared(t):
    spec = LOSSES["hard_threshold"]
    params = spec.clamp({"t": t})
    where, size = bisected_jumps(spec, params, loss_curve(spec, params))
    # [|r| < t]·r²: up by t² at −t, down by t² at +t
    np.testing.assert_allclose(where, [-t, t], atol=1e-9)
    np.testing.assert_allclose(size, [t * t, -t * t], rtol=1e-6)
    assert "jump" in codes(diagnose_loss(spec, params))


@pytest.mark.parametrize("s", [0.5, 3.0, 7.5])
def test_scaled_mse_jumps_at_plus_minus_one_by_s_minus_one(s):
    spec = LOSSES["scaled_mse"]
    params = spec.clamp({"scale_factor": s})
    where, size = bisected_jumps(spec, params, loss_curve(spec, params))
    np.testing.assert_allclose(where, [-1.0, 1.0], atol=1e-9)
    np.testing.assert_allclose(size, [1 - s, s - 1], rtol=1e-6)


@pytest.mark.parametrize(
    ("text", "where", "size"),
    [
        ("round(r)", [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5], [1.0] * 6),
        ("r**2 + (r > 0.3)", [0.3], [1.0]),
        ("(abs(r) > 1.25)", [-1.25, 1.25], [-1.0, 1.0]),
        ("0.1*tanh(100*r) + 2*(r > 1.2)", [1.2], [2.0]),  # the steep part beside it is none
    ],
)
def test_true_jumps_are_found_at_the_right_place(text, where, size):
    spec = to_spec(text)
    params = spec.clamp({})
    found_at, found_size = bisected_jumps(spec, params, loss_curve(spec, params))
    np.testing.assert_allclose(found_at, where, atol=1e-9)
    np.testing.assert_allclose(found_size, size, rtol=1e-6)
    assert numbers(seen_of(diagnose_loss(spec), "jump"))[: min(5, len(where))] == pytest.approx(
        where[:5], abs=1e-12
    )


def test_zero_one_jumps_down_by_one_at_margin_zero():
    spec = LOSSES["zero_one"]
    where, size = bisected_jumps(spec, {}, loss_curve(spec))
    np.testing.assert_allclose(where, [0.0], atol=1e-9)
    np.testing.assert_allclose(size, [-1.0], rtol=1e-6)


@pytest.mark.parametrize("margin", [0.25, 1.1])
def test_true_kinks_stay_where_the_closed_form_puts_them(margin):
    # hinge max(0, 1 + margin − m): dL/dm steps from −1 to 0 at m = 1 + margin
    spec = LOSSES["hinge"]
    params = spec.clamp({"margin": margin})
    where, size = gradient_steps(spec, params, loss_curve(spec, params)).of("step")
    np.testing.assert_allclose(where, [1 + margin], atol=1e-9)
    np.testing.assert_allclose(size, [1.0], rtol=1e-6)
    mae = to_spec("abs(r - 0.3137)")
    where, size = gradient_steps(mae, {}, loss_curve(mae)).of("step")
    np.testing.assert_allclose(where, [0.3137], atol=1e-9)
    np.testing.assert_allclose(size, [2.0], rtol=1e-6)


@pytest.mark.parametrize(
    ("f", "at", "kind"),
    [
        (lambda x: x + (x > 0.3137), 0.3137, "step"),
        (lambda x: np.where(x < -0.5, 2.0, -1.0) + np.sin(x), -0.5, "step"),
        (lambda x: np.tanh(1e4 * (x - 0.2)), 0.2, "steep"),
        (lambda x: 1 / (x - 0.2), 0.2, "unbounded"),
        (lambda x: np.log(np.abs(x + 0.4)), -0.4, "unbounded"),
    ],
)
def test_refinement_classifies_closed_forms(f, at, kind):
    steps = refine_steps(f, [at - 0.0123], [at + 0.0071])
    assert list(steps.kind) == [kind]
    assert abs(steps.where[0] - at) < 1e-6


# ------------------------------------------------------------------ 11: callables, NaN, non-tensors


def regression(n=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    model = nn.Linear(1, 1)
    with torch.no_grad():
        model.weight.copy_(torch.randn(1, 1, generator=g))
        model.bias.copy_(torch.randn(1, generator=g))
    x, y = torch.randn(n, 1, generator=g), torch.randn(n, 1, generator=g)
    return model, x, y


NAN_LOSSES = {
    "log of negatives": lambda p, t: torch.log(-((p - t) ** 2) - 1).mean(),
    "sqrt of negatives": lambda p, t: torch.sqrt(-((p - t) ** 2) - 1).mean(),
    "0/0": lambda p, t: ((p - t) * 0 / ((p - t) * 0)).mean(),
    "inf": lambda p, t: ((p - t) ** 2).mean() / torch.zeros(()),
}


@pytest.mark.parametrize("name", list(NAN_LOSSES))
def test_a_nan_loss_is_nan_inf_not_nondeterministic(name):
    model, x, y = regression()
    value = NAN_LOSSES[name](model(x), y)
    assert not math.isfinite(value.item())  # the reference: torch's own value
    found = diagnose_callable(NAN_LOSSES[name], model(x), y, model=model)
    assert "nan_inf" in codes(found) and "nondeterministic" not in codes(found)


def sqrt_abs_distance_to_detached(p, t):
    # value 0 everywhere; d/dp sqrt(|p − c|) at p = c is ∞·0: NaN
    return torch.sqrt((p - p.detach()).abs()).mean() + F.mse_loss(p, t)


def test_nan_gradient_with_a_finite_value():
    model, x, y = regression()
    pred = model(x)
    assert math.isfinite(sqrt_abs_distance_to_detached(pred, y).item())
    found = diagnose_callable(sqrt_abs_distance_to_detached, pred, y, model=model)
    assert "nan_inf" in codes(found)
    assert "weight (1, 1)" in seen_of(found, "nan_inf")


def test_nan_gradient_of_one_entry_of_pred():
    target = torch.tensor([0.0, 1.0, 2.0, 3.0])
    pred = torch.tensor([0.5, 1.0, 2.5, 2.0], requires_grad=True)  # one residual exactly 0
    loss = lambda p, t: (p - t).abs().pow(0.5).sum()
    (g,) = torch.autograd.grad(loss(pred, target), pred)
    assert torch.isnan(g).sum() == 1  # the reference: |r|^0.5 has no derivative at r = 0
    found = diagnose_callable(loss, pred, target)
    assert "at 1 of 4 entries" in seen_of(found, "nan_inf")
    # the same with a pred that nothing learns through: dL/dpred is checked on a copy
    assert "nan_inf" in codes(diagnose_callable(loss, pred.detach(), target))


RETURNS = {
    ".item()": (lambda p, t: F.mse_loss(p, t).item(), "returns a float"),
    "numpy scalar": (lambda p, t: np.float64(F.mse_loss(p, t).item()), "returns a float"),
    "numpy float32": (lambda p, t: F.mse_loss(p, t).detach().numpy(), "numpy array of shape ()"),
    "numpy array": (lambda p, t: ((p - t) ** 2).detach().numpy(), "numpy array of shape (9, 1)"),
    "int": (lambda p, t: int(F.mse_loss(p, t).item() > 0), "returns an int"),
    "None": (lambda p, t: None, "returns None"),
}


@pytest.mark.parametrize("name", list(RETURNS))
def test_a_loss_that_returns_no_tensor_is_reported_not_raised(name):
    loss, what = RETURNS[name]
    model, x, y = regression()
    found = diagnose_callable(loss, model(x), y, model=model)
    assert "no_gradient" in codes(found)
    assert what in seen_of(found, "no_gradient")
    assert "nondeterministic" not in codes(found)
    assert ("non_scalar" in codes(found)) == (name == "numpy array")
    assert all(p.grad is None for p in model.parameters())


def test_a_nan_float_return_is_also_nan_inf():
    model, x, y = regression()
    found = diagnose_callable(lambda p, t: float("nan"), model(x), y, model=model)
    assert {"no_gradient", "nan_inf"} <= codes(found) and "nondeterministic" not in codes(found)


def test_a_tensor_cut_from_the_graph_gets_no_gradient():
    model, x, y = regression()
    loss = lambda p, t: torch.tensor(F.mse_loss(p, t).item())
    assert codes(diagnose_callable(loss, model(x), y, model=model)) == {"no_gradient"}


# ------------------------------------------------------------------ 13: zero here, not everywhere


def targets_with_the_median_on_pred(pred, seed):
    """Targets whose residuals pred − y have median exactly 0: one target equals its prediction
    (n odd), the others lie as many above as below."""
    g = torch.Generator().manual_seed(seed)
    n = pred.shape[0]
    half = (n - 1) // 2
    signs = torch.tensor([1.0] * half + [-1.0] * half + [0.0])[torch.randperm(n, generator=g)]
    offsets = torch.rand(n, generator=g) + 0.1
    return pred.detach() + (signs * offsets).view_as(pred)


@pytest.mark.parametrize(
    ("n", "seed", "reduction"), [(5, 0, "mean"), (11, 1, "mean"), (17, 2, "mean"), (21, 2, "sum")]
)
def test_mae_with_its_bias_at_the_median_is_not_dead(n, seed, reduction):
    model, x, _ = regression(n, seed)
    pred = model(x)
    y = targets_with_the_median_on_pred(pred, seed)
    mae = lambda p, t: F.l1_loss(p, t, reduction=reduction)
    (g_bias,) = torch.autograd.grad(mae(pred, y), model.bias, retain_graph=True)
    assert g_bias.item() == 0.0  # the reference: mean(sign(r)) with one r = 0, the rest balanced
    before = [p.detach().clone() for p in model.parameters()]
    found = diagnose_callable(mae, pred, y, model=model)
    assert "zero_gradient" not in codes(found), [(f.code, f.seen) for f in found]
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("loss", [F.l1_loss, F.mse_loss, F.smooth_l1_loss])
def test_a_perfect_fit_is_a_minimum_not_a_dead_parameter(loss):
    target = torch.linspace(-1, 1, 7)
    pred = target.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(loss(pred, target), pred)
    assert not g.any()  # zero at this point: the reference
    assert "zero_gradient" not in codes(diagnose_callable(loss, pred, target))


class Masked(nn.Module):
    """A linear model whose output is multiplied by a hard mask that is 0 for every input."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(1, 1)

    def forward(self, x):
        out = self.lin(x)
        return out * (out.detach().abs() > 1e6).to(out.dtype)


def test_truly_dead_parameters_are_still_found():
    model, x, y = regression()
    hard_mask = lambda p, t: (((p - t) ** 2) * ((p - t).abs() > 100).to(p.dtype)).mean()
    rounded = lambda p, t: ((torch.round(p) - t) ** 2).mean()
    for loss in (hard_mask, rounded):
        assert "zero_gradient" in codes(diagnose_callable(loss, model(x), y, model=model))
    masked = Masked()
    assert "zero_gradient" in codes(diagnose_callable(F.mse_loss, masked(x), y, model=masked))
    detached = lambda p, t: F.mse_loss(p.detach(), t)
    assert "no_gradient" in codes(diagnose_callable(detached, model(x), y, model=model))
    g = torch.Generator().manual_seed(1)
    step = make_model("mlp", in_dim=2, out_dim=1, activation="step")
    inputs, targets = torch.randn(32, 2, generator=g), torch.randn(32, generator=g)
    seen = seen_of(
        diagnose_callable(F.mse_loss, step(inputs), targets, model=step), "zero_gradient"
    )
    assert "net.0.weight (16, 2), net.0.bias (16,)" in seen


# ------------------------------------------------------------------ 14: seeded random numbers


def own_generator(p, t):
    g = torch.Generator().manual_seed(0)
    return ((p - t) ** 2 * (1 + 0.1 * torch.randn(p.shape, generator=g))).mean()


def own_generator_uniform(p, t):
    g = torch.Generator().manual_seed(123)
    return ((p - t).abs() * torch.rand(p.shape, generator=g)).sum()


def reseeds_global(p, t):
    torch.manual_seed(0)
    return ((p - t) ** 2 * (1 + 0.1 * torch.randn_like(p))).mean()


def reseeds_global_dropout(p, t):
    torch.manual_seed(7)
    return F.dropout((p - t) ** 2, 0.5).mean()


def unseeded_randn(p, t):
    return ((p - t) ** 2 * (1 + 0.1 * torch.randn_like(p))).mean()


def unseeded_dropout(p, t):
    return F.dropout((p - t) ** 2, 0.5).mean()


def unseeded_rand(p, t):
    return ((p - t) ** 2).mean() + 1e-3 * torch.rand(())


@pytest.mark.parametrize(
    ("loss", "random"),
    [
        (own_generator, False),
        (own_generator_uniform, False),
        (reseeds_global, False),
        (reseeds_global_dropout, False),
        (unseeded_randn, True),
        (unseeded_dropout, True),
        (unseeded_rand, True),
    ],
)
def test_nondeterministic_means_two_calls_differ(loss, random):
    model, x, y = regression(n=16)
    pred = model(x)
    a, b = loss(pred, y).item(), loss(pred, y).item()
    assert (a != b) == random  # the reference: two plain calls
    state = torch.random.get_rng_state()
    found = diagnose_callable(loss, pred, y, model=model)
    assert ("nondeterministic" in codes(found)) == random
    assert torch.equal(state, torch.random.get_rng_state())


def seeded_residual_noise(pred, target, *, reduction="mean", weights=None):
    g = torch.Generator().manual_seed(0)
    r = pred - target
    return reduce_loss(
        r**2 * (1 + 0.1 * torch.rand(r.shape, generator=g, dtype=r.dtype)), reduction
    )


def test_the_sweep_accepts_a_loss_that_seeds_its_own_generator():
    spec = dataclasses.replace(LOSSES["mse"], key="test_seeded", fn=seeded_residual_noise)
    state = torch.random.get_rng_state()
    assert "nondeterministic" not in codes(diagnose_loss(spec))
    assert torch.equal(state, torch.random.get_rng_state())
