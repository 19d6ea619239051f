"""Lessons from seeds 002 and 003 and the two classics (the 0-1 loss, the step activation).

Each `run_*` executes the buggy code and our fix live (small tensors, fixed seed) and reports
what happened, what the doctor finds, and the numbers for one picture.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from explorer import seed_bugs as sb
from explorer.doctor import diagnose_callable, diagnose_loss
from explorer.findings import fmt
from explorer.lesson_kit import (
    LessonResult,
    bars,
    caught,
    descend,
    grad_text,
    history,
    seeded,
    shape,
    table,
)
from explorer.losses import LOSSES
from explorer.models import load_flat_params, make_model
from explorer.train import TrainConfig, build, train

SEED_WEIGHTS = [1, 2, 1, 1, 3, 1, 1, 2, 1, 1]  # seed 003's example weights
CLASS_WEIGHTS = [0.1, 0.9, 0.5]  # seed 002's example class weights


def least_squares(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> list[float]:
    """[slope, intercept] minimizing Σ wᵢ(a·xᵢ + b − yᵢ)² (closed form)."""
    design = torch.cat([x, torch.ones_like(x)], dim=1) * w.sqrt().view(-1, 1)
    return torch.linalg.lstsq(design, y * w.sqrt().view(-1, 1)).solution.view(-1).tolist()


def trained_line(loss_fn, x, y, steps: int = 300) -> list[float]:
    """[slope, intercept] of the seed's nn.Linear(1, 1) after SGD on loss_fn."""
    torch.manual_seed(1)
    model = nn.Linear(1, 1)
    descend(list(model.parameters()), lambda: loss_fn(model(x), y), steps=steps, lr=0.1)
    return [model.weight.item(), model.bias.item()]


@seeded
def run_weighted_mse_broadcast() -> LessonResult:
    x, y = torch.randn(10, 1), torch.randn(10, 1)
    model = nn.Linear(1, 1)
    buggy_loss, fixed_loss = sb.WeightedMSE(SEED_WEIGHTS), sb.WeightedMSEFixed(SEED_WEIGHTS)
    pred = model(x)
    inner = buggy_loss.weights * (pred - y) ** 2
    w = torch.tensor(SEED_WEIGHTS, dtype=torch.float32)
    mse = F.mse_loss(pred, y)
    buggy = (
        f"self.weights {shape(buggy_loss.weights)} * (y_pred - y_true)**2 {shape(pred)} has shape "
        f"{shape(inner)}: {inner.numel()} terms for 10 samples. loss = {buggy_loss(pred, y).item():.4f} "
        f"= mean(w) × MSE = {w.mean().item():.3g} × {mse.item():.4f}: every weight multiplies every "
        "residual, so the weights only rescale the plain MSE."
    )
    fits = {
        "seed's WeightedMSE, trained": trained_line(buggy_loss, x, y),
        "fixed, trained": trained_line(fixed_loss, x, y),
        "ordinary least squares": least_squares(x, y, torch.ones(10)),
        "weighted least squares": least_squares(x, y, w),
    }
    fixed = (
        f"weights viewed as (10, 1): loss = {fixed_loss(pred, y).item():.4f}. Trained, it fits "
        f"slope, intercept = {fmt(fits['fixed, trained'])}, the weighted least-squares answer "
        f"({fmt(fits['weighted least squares'])}); the seed's loss trains to ordinary least squares "
        f"({fmt(fits['ordinary least squares'])}), ignoring the weights."
    )
    findings = diagnose_callable(buggy_loss, pred, y, model=model)
    return LessonResult(buggy, fixed, findings, bars(["slope", "intercept"], "value", fits))


@seeded
def run_weighted_ce_per_sample() -> LessonResult:
    inputs, targets = torch.randn(10, 3), torch.randint(0, 3, (10,))
    _, error = caught(lambda: sb.WeightedCrossEntropyLoss(CLASS_WEIGHTS)(inputs, targets))
    buggy = f"criterion(inputs, targets) raises {error}"
    fixed_value = float(sb.WeightedCrossEntropyLossFixed(CLASS_WEIGHTS)(inputs, targets))
    per_sample = F.cross_entropy(inputs, targets, reduction="none")
    w = torch.tensor(CLASS_WEIGHTS)[targets]
    fixed = (
        f"weight= gets the 3 class weights: loss = {fixed_value:.4f}, the same as weighting each "
        f"sample by its class, Σ w_yᵢ·CEᵢ / Σ w_yᵢ = {float((w * per_sample).sum() / w.sum()):.4f}."
    )
    leaf = inputs.clone().requires_grad_(True)
    findings = diagnose_callable(sb.WeightedCrossEntropyLoss(CLASS_WEIGHTS), leaf, targets)
    rows = [
        [i, int(c), float(wi), float(ce)]
        for i, (c, wi, ce) in enumerate(zip(targets, w, per_sample, strict=True))
    ]
    figure = table(["sample", "class", "weight of its class", "cross-entropy"], rows)
    return LessonResult(buggy, fixed, findings, figure)


@seeded
def run_proxy_non_scalar() -> LessonResult:
    inputs, targets = torch.randn(10, requires_grad=True), torch.randn(10)
    loss = sb.ProxyLoss()(inputs, targets)
    _, error = caught(loss.backward)
    buggy = f"loss has shape {shape(loss)} (a scalar L1 plus a per-element penalty); loss.backward() raises {error}"
    fixed_loss = sb.ProxyLossFixed()(inputs, targets)
    fixed_loss.backward()
    fixed = f"penalty reduced with .mean(): loss = {fixed_loss.item():.4f}, shape (); backward runs, inputs.grad norm {inputs.grad.norm():.3g}."
    findings = diagnose_callable(sb.ProxyLoss(), inputs, targets)
    labels = [f"element {i}" for i in range(10)]
    return LessonResult(
        buggy, fixed, findings, bars(labels, "loss", {"the seed's 'loss' (a vector)": loss})
    )


def regression_data(n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(n, 2)
    return x, torch.sin(2 * x[:, 0]) * torch.cos(x[:, 1])


def fit_mlp(forward, x, y, steps: int = 150) -> tuple[nn.Module, list[float]]:
    """A fresh seeded MLP trained with Adam through `forward(model, x)`; (model, loss history)."""
    model = make_model("mlp", in_dim=2, out_dim=1, seed=0)
    hist = descend(
        list(model.parameters()),
        lambda: F.mse_loss(forward(model, x), y),
        steps=steps,
        lr=0.02,
        adam=True,
    )
    return model, hist


@seeded
def run_detach_no_grad() -> LessonResult:
    x, y = regression_data()
    grads = {}
    for name, forward in (
        ("buggy", sb.no_grad_features_forward),
        ("fixed", sb.features_forward_fixed),
    ):
        model = make_model("mlp", in_dim=2, out_dim=1, seed=0)
        F.mse_loss(forward(model, x), y).backward()
        grads[name] = grad_text(dict(model.named_parameters()))
    (_, buggy_h), (_, fixed_h) = (
        fit_mlp(sb.no_grad_features_forward, x, y),
        fit_mlp(sb.features_forward_fixed, x, y),
    )
    buggy = (
        f"features computed under torch.no_grad(): after loss.backward(), {grads['buggy']}. "
        f"Only the last layer learns: 150 Adam steps take the loss from {buggy_h[0]:.3g} to {buggy_h[-1]:.3g}."
    )
    fixed = f"features inside the graph: {grads['fixed']}; the loss goes from {fixed_h[0]:.3g} to {fixed_h[-1]:.3g}."
    model = make_model("mlp", in_dim=2, out_dim=1, seed=0)
    findings = diagnose_callable(F.mse_loss, sb.no_grad_features_forward(model, x), y, model=model)
    figure = history(
        "MSE",
        {
            "features under no_grad (seed's pitfall)": buggy_h,
            "features in the graph (fixed)": fixed_h,
        },
    )
    return LessonResult(buggy, fixed, findings, figure)


def run_config(**options) -> tuple[list, TrainConfig]:
    """All records of one training run on the CPU (explorer.train), and its config."""
    config = TrainConfig(device="cpu", **options)
    return list(train(config)), config


def zero_one_errors(config: TrainConfig, records: list) -> list[float]:
    """Fraction misclassified by the config's model at each record's parameters."""
    data, model, _, _ = build(config)
    truth = data.y > 0
    with torch.no_grad():
        return [
            float(((load_flat_params(model, r.theta)(data.x) > 0) != truth).float().mean())
            for r in records
        ]


@seeded
def run_zero_one_vs_sigmoid() -> LessonResult:
    common = {
        "dataset": "moons",
        "model": "logistic",
        "optimizer": "sgd",
        "lr": 0.5,
        "steps": 60,
        "seed": 3,
    }
    hard, hard_cfg = run_config(loss="zero_one", **common)
    soft, soft_cfg = run_config(loss="sigmoid_margin", loss_params={"k": 5.0}, **common)
    soft_errors = zero_one_errors(soft_cfg, soft)
    buggy = (
        f"Training on the 0-1 loss: gradient norm {fmt([r.grad_norm for r in hard[:3]])} …; the "
        f"parameters never move, the error stays {hard[0].loss:.3g} → {hard[-1].loss:.3g}."
    )
    fixed = (
        f"sigmoid(−k·y·ŷ) with k = 5: gradient norm {soft[0].grad_norm:.3g} at the start; the 0-1 "
        f"error goes {soft_errors[0]:.3g} → {soft_errors[-1]:.3g}."
    )
    findings = diagnose_loss(LOSSES["zero_one"])
    data, model, spec, _ = build(hard_cfg)
    target = torch.where(data.y > 0, 1.0, -1.0)
    findings += diagnose_callable(spec.fn, model(data.x), target, model=model)
    series = {
        "trained on the 0-1 loss": [r.loss for r in hard],
        "trained on sigmoid(−k·y·ŷ)": soft_errors,
    }
    figure = history("0-1 error", series)
    return LessonResult(buggy, fixed, findings, figure)


@seeded
def run_step_activation() -> LessonResult:
    common = {"dataset": "moons", "model": "mlp", "activation": "step", "loss": "bce_logits"}
    common |= {"optimizer": "adam", "lr": 0.05, "steps": 100, "seed": 0}
    step, step_cfg = run_config(**common)
    ste, _ = run_config(straight_through="clipped", **common)
    data, model, spec, _ = build(step_cfg)
    pred = model(data.x)
    spec.fn(pred, data.y).backward()
    buggy = (
        f"H(x) = [x > 0] has derivative 0: after backward, {grad_text(dict(model.net[0].named_parameters(prefix='net.0')))}. "
        f"Only the output layer learns: loss {step[0].loss:.3g} → {step[-1].loss:.3g} in 100 Adam steps."
    )
    fixed = (
        "straight-through estimator (clipped: the backward passes g where |x| ≤ 1, as if H(x) were "
        f"x there): the first layer learns too; loss {ste[0].loss:.3g} → {ste[-1].loss:.3g}."
    )
    data, model, spec, _ = build(step_cfg)
    findings = diagnose_callable(spec.fn, model(data.x), data.y, model=model)
    figure = history(
        "BCE loss",
        {
            "step activation": [r.loss for r in step],
            "straight-through (clipped)": [r.loss for r in ste],
        },
    )
    return LessonResult(buggy, fixed, findings, figure)
