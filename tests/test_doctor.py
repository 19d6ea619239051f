"""The gradient doctor: every finding appears for its seed case, and none for a clean MSE."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from explorer.doctor import diagnose_callable, diagnose_function, diagnose_loss
from explorer.doctor.findings import SEVERITIES, TEXTS
from explorer.functions import MatrixPowerSeed, Sin2
from explorer.lessons import seed_000, seed_002, seed_003
from explorer.losses import LOSSES, reduce_loss
from explorer.models import make_model

MSE = LOSSES["mse"]


def custom_spec(fn):
    """The MSE entry with another function of the residual (a test double)."""
    return dataclasses.replace(MSE, key="test", fn=fn)


def linear_in_pred(pred, target, *, reduction="mean", weights=None):
    return reduce_loss(pred - target, reduction)


def log_residual(pred, target, *, reduction="mean", weights=None):
    return reduce_loss(torch.log(pred - target), reduction)


def never_reduced(pred, target, *, reduction="mean", weights=None):
    return (pred - target) ** 2


def noisy(pred, target, *, reduction="mean", weights=None):
    return reduce_loss((pred - target) ** 2 * (1 + 0.1 * torch.randn_like(pred)), reduction)


def regression(n=10, shape=(10, 1)):
    g = torch.Generator().manual_seed(0)
    model = nn.Linear(1, 1)
    x, y = torch.randn(n, 1, generator=g), torch.randn(shape, generator=g)
    return model, model(x), y


def mlp_case(**options):
    g = torch.Generator().manual_seed(1)
    model = make_model("mlp", in_dim=2, out_dim=1, **options)
    return model, torch.randn(32, 2, generator=g), torch.randn(32, generator=g)


def wmse_seed():
    model, pred, y = regression()
    return diagnose_callable(
        seed_003.WeightedMSE([1, 2, 1, 1, 3, 1, 1, 2, 1, 1]), pred, y, model=model
    )


def wce_seed():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(10, 3, generator=g, requires_grad=True)
    targets = torch.randint(0, 3, (10,), generator=g)
    return diagnose_callable(seed_002.WeightedCrossEntropyLoss([0.1, 0.9, 0.5]), logits, targets)


def custom_loss_seed(loss):
    g = torch.Generator().manual_seed(0)
    model = nn.Linear(10, 1)
    pred = model(torch.randn(5, 10, generator=g))
    return diagnose_callable(loss, pred, torch.randn(5, 1, generator=g), model=model)


def proxy_seed():
    g = torch.Generator().manual_seed(0)
    inputs = torch.randn(10, generator=g, requires_grad=True)
    return diagnose_callable(seed_002.ProxyLoss(), inputs, torch.randn(10, generator=g))


def no_grad_seed():
    model, x, y = mlp_case()
    return diagnose_callable(
        F.mse_loss, seed_002.no_grad_features_forward(model, x), y, model=model
    )


def step_seed():
    model, x, y = mlp_case(activation="step")
    return diagnose_callable(F.mse_loss, model(x), y, model=model)


# finding code -> (how to produce it on its seed case, a piece of what it must have seen)
CASES = {
    "flat": (lambda: diagnose_loss(LOSSES["hard_threshold"]), "(67%)"),
    "jump": (lambda: diagnose_loss(LOSSES["zero_one"]), "margin ≈ 0"),
    "kink": (lambda: diagnose_loss(LOSSES["mae"]), "residual ≈ 0 by 2"),
    "nan_inf": (lambda: diagnose_loss(custom_spec(log_residual)), "L non-finite at 200 of 401"),
    "unbounded_below": (lambda: diagnose_loss(custom_spec(linear_in_pred)), "-3e+03"),
    "non_scalar": (lambda: diagnose_loss(custom_spec(never_reduced)), "shape (5,)"),
    "outward_push": (lambda: diagnose_loss(LOSSES["soft_threshold"]), "−sign(r)"),
    "nondeterministic": (lambda: diagnose_loss(custom_spec(noisy)), "differ by up to"),
    "broadcast": (wmse_seed, "gave (10, 10)"),
    "class_weights": (wce_seed, "weight tensor should be defined either for all 3 classes"),
    "no_gradient": (no_grad_seed, "net.0.weight (16, 2), net.0.bias (16,)"),
    "zero_gradient": (step_seed, "net.0.weight (16, 2), net.0.bias (16,)"),
    "gradcheck_failed": (
        lambda: diagnose_function(MatrixPowerSeed, (torch.randn(3, 3), 2)),
        "Jacobian entry",
    ),
    "backward_never_called": (
        lambda: diagnose_function(MatrixPowerSeed, (torch.randn(3, 3), 2)),
        "backward ran 0 times",
    ),
    "loss_raised": (
        lambda: diagnose_callable(MSE.fn, *regression(shape=(10,))[1:]),
        "would broadcast pred of shape (10, 1) into (10, 10)",
    ),
}


def test_every_finding_code_has_a_seed_case():
    assert set(CASES) == set(TEXTS)


@pytest.mark.parametrize("code", list(CASES))
def test_finding_is_produced_for_its_seed_case(code):
    produce, seen = CASES[code]
    found = {f.code: f for f in produce()}
    assert code in found, sorted(found)
    f = found[code]
    assert seen in f.seen, f.seen
    assert f.severity in SEVERITIES and f.title and f.why and f.fix


def test_clean_mse_gets_no_finding_from_any_entry_point():
    model, pred, y = regression()
    assert diagnose_loss(MSE) == []
    assert diagnose_callable(F.mse_loss, pred, y, model=model) == []
    assert diagnose_callable(MSE.fn, pred.squeeze(-1), y.squeeze(-1), model=model) == []
    x = torch.randn(5, dtype=torch.float64, requires_grad=True)
    assert diagnose_function(Sin2, (x,)) == []


def test_seed_callable_findings():
    codes = {f.code for f in custom_loss_seed(seed_000.CustomLoss())}
    assert {"nondeterministic", "unbounded_below"} <= codes
    fixed_matrix = seed_000.FixedMatrixCustomLoss(torch.randn(3, 3))
    assert [f.code for f in custom_loss_seed(fixed_matrix)] == ["unbounded_below"]
    (proxy,) = proxy_seed()
    assert "the loss has shape (10,)" in proxy.seen
    assert "grad can be implicitly created only for scalar outputs" in proxy.seen


@pytest.mark.parametrize(
    "case",
    ["wmse", "wce", "custom", "proxy", "no_grad", "step"],
)
def test_the_fixed_versions_are_clean(case):
    model, pred, y = regression()
    g = torch.Generator().manual_seed(0)
    logits, classes = (
        torch.randn(10, 3, generator=g, requires_grad=True),
        torch.randint(0, 3, (10,)),
    )
    m, x, t = mlp_case(activation="step", straight_through=True)
    found = {
        "wmse": lambda: diagnose_callable(
            seed_003.WeightedMSEFixed([1, 2] * 5), pred, y, model=model
        ),
        "wce": lambda: diagnose_callable(
            seed_002.WeightedCrossEntropyLossFixed([0.1, 0.9, 0.5]), logits, classes
        ),
        "custom": lambda: custom_loss_seed(seed_000.CustomLossFixed(torch.randn(3, 3))),
        "proxy": lambda: diagnose_callable(seed_002.ProxyLossFixed(), logits[:, 0], y[:, 0]),
        "no_grad": lambda: diagnose_callable(
            F.mse_loss, seed_002.features_forward_fixed(m, x), t, model=m
        ),
        "step": lambda: diagnose_callable(F.mse_loss, m(x), t, model=m),
    }[case]()
    assert found == []


def test_flat_severity_follows_the_fraction():
    (hard,) = [f for f in diagnose_loss(LOSSES["hard_threshold"]) if f.code == "flat"]
    (zero_one,) = [f for f in diagnose_loss(LOSSES["zero_one"]) if f.code == "flat"]
    assert hard.severity == "warning" and zero_one.severity == "error"
    assert "(100%)" in zero_one.seen and "nowhere" in zero_one.seen


def test_outward_push_depends_on_steepness():
    spec = LOSSES["soft_threshold"]
    assert "outward_push" in {f.code for f in diagnose_loss(spec, {"k": 20, "t": 1})}
    assert "outward_push" not in {f.code for f in diagnose_loss(spec, {"k": 1, "t": 3})}


def test_findings_come_most_severe_first():
    found = diagnose_loss(LOSSES["zero_one"])
    ranks = [SEVERITIES.index(f.severity) for f in found]
    assert ranks == sorted(ranks) and len(found) >= 2


def test_mixed_expression_is_reported_not_raised():
    from explorer.expression import to_spec

    (f,) = diagnose_loss(to_spec("r - mean(r)"))
    assert f.code == "loss_raised" and "mixes samples" in f.seen


def test_the_doctor_leaves_gradients_and_the_global_rng_alone():
    model, pred, y = regression()
    state = torch.random.get_rng_state()
    diagnose_callable(seed_000.CustomLoss(), pred, y, model=model)
    assert torch.equal(state, torch.random.get_rng_state())
    assert all(p.grad is None for p in model.parameters())
