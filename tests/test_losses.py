"""The loss catalogue against references: torch twins, hand-computed values, finite differences."""

import inspect
import math
import sys
import types

import pytest
import torch

from explorer.losses import (
    LOSSES,
    LossSpec,
    Param,
    curve_inputs,
    encode_target,
    get_loss,
    losses_for,
)

DTYPE = torch.float64
TWIN_RTOL, TWIN_ATOL = 1e-10, 1e-12  # same maths in float64: agreement to rounding
HAND_RTOL, HAND_ATOL = 1e-12, 1e-12  # formula evaluated with the math module
FD_EPS = 1e-6  # central-difference step in float64
FD_RTOL, FD_ATOL = 1e-5, 1e-7  # truncation ~eps²·f''' plus rounding ~1e-16/eps
REDUCED = ("mean", "sum")
REQUIRED = (
    "scaled_mse soft_threshold hard_threshold huber dice hand_grad_weighted_se weighted_ce "
    "sin2_function proxy_round weighted_mse hinge sigmoid_weighted_abs mse mae smooth_l1 "
    "log_cosh quantile bce_logits focal cross_entropy zero_one sigmoid_margin"
).split()
WITH_REFERENCE = [k for k, s in LOSSES.items() if s.reference is not None]


def batch(spec: LossSpec, n: int = 9, seed: int = 0):
    """Random float64 (pred requiring grad, target, per-sample weights) in the spec's encoding."""
    g = torch.Generator().manual_seed(seed)
    if spec.task == "multiclass":
        pred = torch.randn(n, 3, generator=g, dtype=DTYPE)
        target = torch.randint(0, 3, (n,), generator=g)
    elif spec.x_axis == "probability":
        pred = 0.05 + 0.9 * torch.rand(n, generator=g, dtype=DTYPE)
        target = (torch.rand(n, generator=g) > 0.5).to(DTYPE)
    else:
        pred = 2 * torch.randn(n, generator=g, dtype=DTYPE)
        if spec.task == "regression":
            target = torch.randn(n, generator=g, dtype=DTYPE)
        else:
            target = encode_target(spec, (torch.rand(n, generator=g) > 0.5).to(DTYPE))
    weights = 0.5 + torch.rand(n, generator=g, dtype=DTYPE)
    return pred.requires_grad_(), target, weights


def off_default(spec: LossSpec) -> dict[str, float]:
    """Parameters a quarter of the way from the default towards the maximum."""
    return {p.name: p.default + 0.25 * (p.max - p.default) for p in spec.params}


def central_difference(f, x: torch.Tensor, eps: float = FD_EPS) -> torch.Tensor:
    """∂f/∂x of a scalar function f by central differences, one coordinate at a time."""
    x = x.detach()
    grad = torch.zeros_like(x)
    for i in range(x.numel()):
        step = torch.zeros_like(x).view(-1)
        step[i] = eps
        step = step.view_as(x)
        grad.view(-1)[i] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad


def autograd_of(value: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    (grad,) = torch.autograd.grad(value, x)
    return grad


def test_catalogue_holds_every_required_key():
    assert set(REQUIRED) <= set(LOSSES)
    assert all(key == spec.key for key, spec in LOSSES.items())


@pytest.mark.parametrize("key", list(LOSSES))
def test_spec_matches_its_function_signature(key):
    spec = LOSSES[key]
    sig = inspect.signature(spec.fn).parameters
    assert sig["reduction"].default == "mean" and sig["weights"].default is None
    keyword = {n: p.default for n, p in sig.items() if p.kind is p.KEYWORD_ONLY}
    assert set(keyword) - {"reduction", "weights"} == {p.name for p in spec.params}
    for p in spec.params:
        assert keyword[p.name] == p.default
        assert p.min <= p.default <= p.max and p.step > 0 and p.help
    assert spec.formula and "$" not in spec.formula and spec.name and spec.notes and spec.source


@pytest.mark.parametrize("reduction", ("none", *REDUCED))
@pytest.mark.parametrize("key", WITH_REFERENCE)
def test_equals_its_torch_twin_in_value_and_gradient(key, reduction):
    spec = LOSSES[key]
    pred, target, weights = batch(spec, seed=1)
    params = off_default(spec)
    ours = spec.fn(pred, target, reduction=reduction, weights=weights, **params)
    theirs = spec.reference(pred, target, reduction=reduction, weights=weights, **params)
    torch.testing.assert_close(ours, theirs, rtol=TWIN_RTOL, atol=TWIN_ATOL)
    probe = torch.randn(ours.shape, generator=torch.Generator().manual_seed(2), dtype=DTYPE)
    grads = [autograd_of((v * probe).sum(), pred) for v in (ours, theirs)]
    torch.testing.assert_close(*grads, rtol=TWIN_RTOL, atol=TWIN_ATOL)


@pytest.mark.parametrize("reduction", REDUCED)
@pytest.mark.parametrize("key", list(LOSSES))
def test_gradient_matches_central_differences(key, reduction):
    spec = LOSSES[key]
    pred, target, weights = batch(spec, seed=3)
    params = off_default(spec)

    def loss(p):
        return spec.fn(p, target, reduction=reduction, weights=weights, **params)

    expected = central_difference(loss, pred)
    torch.testing.assert_close(autograd_of(loss(pred), pred), expected, rtol=FD_RTOL, atol=FD_ATOL)


def sigmoid(z):
    return 1 / (1 + math.exp(-z))


R = [1.5, -1.0, 0.25, -3.0]  # residuals of the regression case
Y = [0.5, -0.5, 1.0, 0.0]
W = [1.0, 2.0, 0.5, 0.1]
LOGIT = [2.0, -1.0, 0.5, -3.0]  # binary case: labels 1, 1, 0, 0 -> margins 2, -1, -0.5, 3
M = [2.0, -1.0, -0.5, 3.0]


def focal_by_hand(m, positive, gamma=2.0, alpha=0.25):
    p_t = sigmoid(m)
    return -(alpha if positive else 1 - alpha) * (1 - p_t) ** gamma * math.log(p_t)


HAND = {  # key: (params, per-element values worked out with the math module)
    "mse": ({}, [2.25, 1.0, 0.0625, 9.0]),
    "mae": ({}, [1.5, 1.0, 0.25, 3.0]),
    "huber": ({"delta": 1.0}, [1.0, 0.5, 0.03125, 2.5]),
    "smooth_l1": ({"beta": 2.0}, [0.5625, 0.25, 0.015625, 2.0]),
    "log_cosh": ({}, [math.log(math.cosh(r)) for r in R]),
    "quantile": ({"tau": 0.25}, [1.125, 0.25, 0.1875, 0.75]),
    "scaled_mse": ({"scale_factor": 2.0}, [4.5, 1.0, 0.0625, 18.0]),
    "soft_threshold": ({"k": 20.0, "t": 1.0}, [sigmoid(20 * (1 - abs(r))) * r * r for r in R]),
    "hard_threshold": ({"t": 1.0}, [0.0, 0.0, 0.0625, 0.0]),
    "weighted_mse": ({}, [2.25, 2.0, 0.03125, 0.9]),
    "hand_grad_weighted_se": ({}, [2.25, 2.0, 0.03125, 0.9]),
    "sin2_function": ({}, [2 * (1 - math.cos(r)) for r in R]),
    "proxy_round": ({}, [1.5, 1.25, 0.375, 3.0]),  # ŷ = 2, −1.5, 1.25, −3
    "sigmoid_weighted_abs": ({}, [sigmoid(abs(r)) * abs(r) for r in R]),
    "bce_logits": ({}, [math.log1p(math.exp(-m)) for m in M]),
    "focal": ({}, [focal_by_hand(m, i < 2) for i, m in enumerate(M)]),
    "hinge": ({"margin": 0.5}, [0.0, 2.5, 2.0, 0.0]),
    "zero_one": ({}, [0.0, 1.0, 1.0, 0.0]),
    "sigmoid_margin": ({"k": 5.0}, [sigmoid(-5 * m) for m in M]),
}
PROBS, MASK = [0.9, 0.2, 0.6, 0.1], [1.0, 0.0, 1.0, 0.0]
LOGITS3, CLASSES, CLASS_W = (
    [[2.0, 0.0, -1.0], [0.5, 0.5, 0.5], [-1.0, 3.0, 0.0]],
    [0, 2, 1],
    [1, 2, 3],
)
CE_BY_HAND = [math.log(sum(math.exp(z) for z in row)) - row[c] for row, c in zip(LOGITS3, CLASSES)]


def hand_case(spec: LossSpec):
    if spec.task == "regression":
        pred = [r + y for r, y in zip(R, Y)]
        return torch.tensor(pred, dtype=DTYPE), torch.tensor(Y, dtype=DTYPE)
    labels = torch.tensor([1.0, 1.0, 0.0, 0.0], dtype=DTYPE)
    return torch.tensor(LOGIT, dtype=DTYPE), encode_target(spec, labels)


@pytest.mark.parametrize("key", list(HAND))
def test_value_equals_a_hand_computed_case(key):
    spec = LOSSES[key]
    params, expected = HAND[key]
    pred, target = hand_case(spec)
    weights = torch.tensor(W, dtype=DTYPE)
    values = spec.fn(pred, target, reduction="none", weights=weights, **params)
    expected = torch.tensor(expected, dtype=DTYPE)
    torch.testing.assert_close(values, expected, rtol=HAND_RTOL, atol=HAND_ATOL)
    mean = spec.fn(pred, target, weights=weights, **params)
    torch.testing.assert_close(mean, expected.mean(), rtol=HAND_RTOL, atol=HAND_ATOL)


def test_dice_by_hand_per_element_and_for_the_set():
    p, y = torch.tensor(PROBS, dtype=DTYPE), torch.tensor(MASK, dtype=DTYPE)
    per_element = [1 - (2 * a * b + 1) / (a + b + 1) for a, b in zip(PROBS, MASK)]
    fn = LOSSES["dice"].fn
    torch.testing.assert_close(fn(p, y, reduction="none"), torch.tensor(per_element, dtype=DTYPE))
    # overlap 2·(0.9 + 0.6) + 1 = 4, total 1.8 + 2 + 1 = 4.8
    torch.testing.assert_close(fn(p, y), torch.tensor(1 - 4 / 4.8, dtype=DTYPE))
    torch.testing.assert_close(
        fn(p, y, reduction="sum"), torch.tensor(4 * (1 - 4 / 4.8), dtype=DTYPE)
    )


def test_cross_entropies_by_hand():
    logits, classes = torch.tensor(LOGITS3, dtype=DTYPE), torch.tensor(CLASSES)
    ce = torch.tensor(CE_BY_HAND, dtype=DTYPE)
    torch.testing.assert_close(LOSSES["cross_entropy"].fn(logits, classes, reduction="none"), ce)
    params = {f"w{c}": float(w) for c, w in enumerate(CLASS_W)}
    w_y = torch.tensor([CLASS_W[c] for c in CLASSES], dtype=DTYPE)
    weighted = LOSSES["weighted_ce"].fn(logits, classes, **params)
    torch.testing.assert_close(weighted, (w_y * ce).sum() / w_y.sum())


@pytest.mark.parametrize("key", list(LOSSES))
def test_reductions_agree_and_bad_reduction_is_refused(key):
    spec = LOSSES[key]
    pred, target, weights = batch(spec, seed=4)
    values = {r: spec.fn(pred, target, reduction=r, weights=weights) for r in ("none", *REDUCED)}
    assert values["none"].shape == target.shape and values["mean"].shape == ()
    if spec.mean_of_elements:  # not the set-level Dice, nor torch's weighted mean
        torch.testing.assert_close(values["mean"], values["none"].mean())
    if key != "dice":
        torch.testing.assert_close(values["sum"], values["none"].sum())
    with pytest.raises(ValueError, match="none.*mean.*sum"):
        spec.fn(pred, target, reduction="avg")


def random_params(spec: LossSpec, gen: torch.Generator) -> dict[str, float]:
    """Each parameter drawn uniformly in its range (so class weights differ from each other)."""
    draw = lambda p: p.min + (p.max - p.min) * float(torch.rand((), generator=gen, dtype=DTYPE))
    return {p.name: draw(p) for p in spec.params}


@pytest.mark.parametrize("key", list(LOSSES))
def test_mean_of_elements_says_whether_the_mean_is_the_mean_of_the_elements(key):
    """The flag the batched surface trusts, checked on random inputs, weights and parameters:
    true exactly when mean(fn(reduction="none")) is fn(reduction="mean") every time."""
    spec = LOSSES[key]
    gen = torch.Generator().manual_seed(11)
    agree = []
    for seed in range(6):
        pred, target, weights = batch(spec, n=12, seed=20 + seed)
        params = random_params(spec, gen)
        none = spec.fn(pred, target, reduction="none", weights=weights, **params)
        mean = spec.fn(pred, target, reduction="mean", weights=weights, **params)
        agree.append(bool(torch.allclose(none.mean(), mean, rtol=1e-12, atol=1e-14)))
    assert agree == [spec.mean_of_elements] * len(agree)


@pytest.mark.parametrize("key", [k for k, s in LOSSES.items() if s.mean_of_elements])
def test_none_keeps_a_leading_grid_dimension_when_the_mean_is_of_the_elements(key):
    """What the batched surface does with such a loss: one "none" call on (G, N[, K]) outputs
    against (N,) targets and weights, a mean over N; it must be each row's own mean loss."""
    spec = LOSSES[key]
    gen = torch.Generator().manual_seed(5)
    grid = torch.stack([batch(spec, n=10, seed=s)[0].detach() for s in range(4)])
    _, target, weights = batch(spec, n=10, seed=0)
    params = random_params(spec, gen)
    rows = spec.fn(grid, target, reduction="none", weights=weights, **params)
    assert rows.shape == grid.shape[:2]
    each = torch.stack([spec.fn(g, target, weights=weights, **params) for g in grid])
    torch.testing.assert_close(rows.mean(-1), each, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("key", list(LOSSES))
def test_float32_in_float32_out(key):
    spec = LOSSES[key]
    pred, target, weights = batch(spec, seed=5)
    target = target if spec.target == "class" else target.float()
    value = spec.fn(pred.detach().float(), target, weights=weights.float())
    assert value.dtype == torch.float32 and torch.isfinite(value)


@pytest.mark.parametrize("key", ["weighted_mse", "hand_grad_weighted_se"])
def test_per_sample_weights_are_used_and_default_to_ones(key):
    spec = LOSSES[key]
    pred, target, weights = batch(spec, seed=6)
    assert spec.per_sample_weights
    torch.testing.assert_close(spec.fn(pred, target), LOSSES["mse"].fn(pred, target))
    expected = (weights * (pred - target) ** 2).mean()
    torch.testing.assert_close(spec.fn(pred, target, weights=weights), expected)


CURVE_X = torch.linspace(-2.95, 2.95, 60, dtype=DTYPE) + 0.0137  # ≥ 0.036 from every kink
CURVE_P = torch.linspace(0.05, 0.95, 19, dtype=DTYPE)


@pytest.mark.parametrize("key", list(LOSSES))
def test_curve_inputs_give_per_x_values_whose_derivative_is_dl_dpred(key):
    spec = LOSSES[key]
    x = (CURVE_P if spec.x_axis == "probability" else CURVE_X).clone().requires_grad_()
    params = spec.defaults()

    def curve(xs):
        return spec.fn(*curve_inputs(spec, xs), reduction="none", **params)

    pred, target = curve_inputs(spec, x)
    if pred is not x:
        pred.retain_grad()
    values = spec.fn(pred, target, reduction="none", **params)
    assert values.shape == x.shape
    values.sum().backward()
    finite = (curve(x.detach() + FD_EPS) - curve(x.detach() - FD_EPS)) / (2 * FD_EPS)
    torch.testing.assert_close(x.grad, finite, rtol=FD_RTOL, atol=FD_ATOL)
    if pred is not x:  # logit axis: x is the true class's logit
        torch.testing.assert_close(pred.grad[:, 0], x.grad)


def test_clamp_fills_defaults_clamps_and_drops_unknown_keys():
    spec = LOSSES["soft_threshold"]
    k, t = spec.params
    assert spec.clamp({}) == spec.defaults() == {"k": 20.0, "t": 1.0}
    assert spec.clamp({"k": 1e9, "t": -5, "colour": "red"}) == {"k": k.max, "t": t.min}
    assert spec.clamp({"k": float("nan"), "t": "2.5"}) == {"k": 20.0, "t": 2.5}
    assert spec.clamp({"k": "steep", "t": None}) == spec.defaults()
    assert LOSSES["mse"].clamp({"delta": 3}) == {}


def test_param_clamp_and_spec_validation():
    p = Param("a", 1.0, 0.0, 2.0, 0.1, "help")
    assert (p.clamp(3), p.clamp(-1), p.clamp(0.5), p.clamp(float("inf"))) == (2.0, 0.0, 0.5, 2.0)
    spec = LOSSES["mse"]
    fields = {f: getattr(spec, f) for f in spec.__dataclass_fields__}
    with pytest.raises(ValueError, match="regression"):
        LossSpec(**{**fields, "task": "ranking"})


def test_get_loss_returns_specs_and_names_the_allowed_keys():
    assert get_loss("huber") is LOSSES["huber"]
    with pytest.raises(ValueError, match="allowed: .*mse.*soft_threshold.*zero_one"):
        get_loss("msee")


def test_expression_keys_go_to_explorer_expression(monkeypatch):
    fake = types.ModuleType("explorer.expression")
    fake.to_spec = lambda text: ("spec of", text)
    monkeypatch.setitem(sys.modules, "explorer.expression", fake)
    assert get_loss("expr:abs(r)**3") == ("spec of", "abs(r)**3")
    monkeypatch.setitem(sys.modules, "explorer.expression", None)
    with pytest.raises(ImportError, match="explorer.expression"):
        get_loss("expr:r**2")


def test_encode_target_for_every_encoding():
    labels = torch.tensor([0.0, 1.0, 1.0, 0.0])
    assert encode_target(LOSSES["hinge"], labels).tolist() == [-1.0, 1.0, 1.0, -1.0]
    assert encode_target(LOSSES["bce_logits"], labels).tolist() == labels.tolist()
    assert encode_target(LOSSES["bce_logits"], torch.tensor([-1.0, 1.0])).tolist() == [0.0, 1.0]
    classes = encode_target(LOSSES["cross_entropy"], torch.tensor([0, 2, 1]))
    assert classes.dtype == torch.long and classes.tolist() == [0, 2, 1]
    reals = torch.tensor([0.3, -1.2], dtype=DTYPE)
    assert encode_target(LOSSES["mse"], reals) is reals
    assert encode_target(LOSSES["hinge"], labels.to(DTYPE)).dtype == DTYPE


def test_losses_for_each_task():
    assert {"mse", "soft_threshold"} <= set(losses_for("regression"))
    assert set(losses_for("multiclass")) == {"cross_entropy", "weighted_ce"}
    assert losses_for("segmentation") == ["dice"]
    assert all(LOSSES[k].task == "binary" for k in losses_for("binary"))
    with pytest.raises(ValueError, match="regression"):
        losses_for("ranking")


def test_curve_axes_mean_what_they_say():
    x = CURVE_X
    cases = {  # key: closed form of L along its x axis, default parameters
        "mse": x**2,  # residual
        "hinge": torch.relu(1.5 - x),  # margin, with margin 0.5
        "bce_logits": torch.log1p(torch.exp(-x)),  # margin: label 1, logit x
        "cross_entropy": torch.log(torch.exp(x) + 2) - x,  # true logit x among (x, 0, 0)
    }
    for key, expected in cases.items():
        spec = LOSSES[key]
        torch.testing.assert_close(spec.fn(*curve_inputs(spec, x), reduction="none"), expected)
    p = CURVE_P
    dice = LOSSES["dice"]
    torch.testing.assert_close(
        dice.fn(*curve_inputs(dice, p), reduction="none"), 1 - (2 * p + 1) / (p + 2)
    )
