"""Lessons from seed 000: the matrix-power Function, its CustomLoss, and the thresholded losses.

Each `run_*` executes the seed's code and our fix live (small tensors, fixed seed) and reports
what happened, what the doctor finds, and the numbers for one picture.
"""

from __future__ import annotations

import torch
from torch import nn

from explorer import seed_bugs as sb
from explorer.doctor import diagnose_callable, diagnose_function, diagnose_loss
from explorer.doctor_callable import backward_calls
from explorer.findings import fmt
from explorer.functions import MatrixPowerExact, MatrixPowerSeed
from explorer.gradients import check_backward, loss_curve
from explorer.graph import autograd_dot
from explorer.lesson_kit import LessonResult, bars, curve, descend, history, seeded, table
from explorer.losses import LOSSES


def regression_batch() -> tuple[nn.Linear, torch.Tensor, torch.Tensor]:
    """The seed's example: nn.Linear(10, 1), five inputs, five targets."""
    return nn.Linear(10, 1), torch.randn(5, 10), torch.randn(5, 1)


def grad_of_power(apply, a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """d⟨A², G⟩/dA through `apply` (true value: G·Aᵀ + Aᵀ·G)."""
    x = a.detach().clone().requires_grad_(True)
    (apply(x, 2) * g).sum().backward()
    return x.grad


@seeded
def run_matrix_power_backward() -> LessonResult:
    a, g = 0.5 * torch.randn(3, 3, dtype=torch.float64), torch.randn(3, 3, dtype=torch.float64)
    seed_ok, seed_err = check_backward(MatrixPowerSeed.apply, (a, 2))
    exact_ok, exact_err = check_backward(MatrixPowerExact.apply, (a, 2))
    truth = grad_of_power(torch.linalg.matrix_power, a, g)
    seed_off = (grad_of_power(MatrixPowerSeed.apply, a, g) - truth).abs().max()
    exact_off = (grad_of_power(MatrixPowerExact.apply, a, g) - truth).abs().max()
    buggy = (
        f"gradcheck(SpectralNormalizationFunction.apply, (A, 2)) → {seed_ok}: max |analytic − "
        f"numerical| = {seed_err:.3g}. Its d⟨A², G⟩/dA is off by up to {seed_off:.3g}: "
        "the backward G ⊙ 2A treats A² as element-wise, but the true gradient is G·Aᵀ + Aᵀ·G."
    )
    fixed = (
        f"MatrixPowerExact: gradcheck → {exact_ok}, max error {exact_err:.2g}; "
        f"its gradient matches autograd's own matrix_power to {exact_off:.2g}."
    )
    findings = diagnose_function(MatrixPowerSeed, (a.clone().requires_grad_(True), 2))
    rows = [
        ["SpectralNormalizationFunction (seed)", seed_ok, seed_err],
        ["MatrixPowerExact (fixed)", exact_ok, exact_err],
    ]
    return LessonResult(buggy, fixed, findings, table(["Function", "gradcheck", "max error"], rows))


def fit(loss_fn, steps: int = 200) -> list[float]:
    """The seed's training loop (Adam, lr 0.01) on the seed's data; the loss history."""
    torch.manual_seed(1)
    model, x, y = regression_batch()
    return descend(
        list(model.parameters()), lambda: loss_fn(model(x), y), steps=steps, lr=0.01, adam=True
    )


@seeded
def run_custom_loss_unbounded() -> LessonResult:
    matrix = torch.randn(3, 3)
    c = float(torch.linalg.matrix_power(matrix, 2)[0, 0])
    buggy_h, fixed_h = fit(sb.FixedMatrixCustomLoss(matrix)), fit(sb.CustomLossFixed(matrix))
    buggy = (
        f"With the matrix held fixed, L = c·mean(ŷ − y), c = (A²)₀₀ = {c:.3g}: linear in ŷ. "
        f"The seed's loop (Adam, lr 0.01): loss {buggy_h[0]:.3g} → {buggy_h[100]:.3g} (step 100) → "
        f"{buggy_h[-1]:.3g} (step 200), still falling by {buggy_h[-2] - buggy_h[-1]:.3g} a step: "
        "no minimum, it runs to −∞."
    )
    fixed = (
        f"Squared residual: loss {fixed_h[0]:.3g} → {fixed_h[-1]:.3g}, settling at its minimum ≥ 0."
    )
    torch.manual_seed(1)
    model, x, y = regression_batch()
    findings = diagnose_callable(sb.FixedMatrixCustomLoss(matrix), model(x), y, model=model)
    figure = history(
        "loss", {"CustomLoss (seed, matrix fixed)": buggy_h, "squared (fixed)": fixed_h}
    )
    return LessonResult(buggy, fixed, findings, figure)


@seeded
def run_backward_never_called() -> LessonResult:
    model, x, y = regression_batch()
    loss = sb.CustomLoss()(model(x), y)
    loss.backward()
    matrix = torch.randn(3, 3)
    calls, out = backward_calls(MatrixPowerSeed, (matrix, 2))
    buggy = (
        f"loss.backward() runs without error (model.weight.grad norm {model.weight.grad.norm():.3g}), "
        f"but torch.randn(3,3) has requires_grad=False, so powered_matrix.grad_fn = {out.grad_fn} "
        f"and SpectralNormalizationFunction.backward ran {calls} times: its wrong formula is never used."
    )
    live = matrix.clone().requires_grad_(True)
    seed_calls, _ = backward_calls(MatrixPowerSeed, (live, 2))
    exact_calls, _ = backward_calls(MatrixPowerExact, (live, 2))
    seed_ok, seed_err = check_backward(MatrixPowerSeed.apply, (matrix, 2))
    fixed = (
        f"With requires_grad=True the backward runs ({seed_calls} call per backward pass) and "
        f"gradcheck exposes the seed's formula (passed={seed_ok}, max error {seed_err:.3g}); "
        f"MatrixPowerExact runs too ({exact_calls} call) and passes."
    )
    findings = diagnose_function(MatrixPowerSeed, (matrix, 2))
    rows = [
        ["seed: matrix constant", False, str(out.grad_fn), calls],
        [
            "fixed: matrix requires grad",
            True,
            type(sb.learnable_matrix_power(matrix).grad_fn).__name__,
            exact_calls,
        ],
    ]
    figure = table(["version", "matrix.requires_grad", "powered.grad_fn", "backward calls"], rows)
    params = {**dict(model.named_parameters()), "matrix": matrix}
    figure["dot_buggy"] = autograd_dot(sb.CustomLoss()(model(x), y), params=params)
    figure["dot_fixed"] = autograd_dot(sb.learnable_matrix_power(matrix).sum())
    return LessonResult(buggy, fixed, findings, figure)


@seeded
def run_random_inside_loss() -> LessonResult:
    model, x, y = regression_batch()
    pred = model(x).detach()
    buggy_loss, fixed_loss = sb.CustomLoss(), sb.CustomLossFixed(torch.randn(3, 3))
    with torch.no_grad():
        buggy_v = [float(buggy_loss(pred, y)) for _ in range(8)]
        fixed_v = [float(fixed_loss(pred, y)) for _ in range(8)]
    flips = (
        " — even its sign flips, so the gradient's direction is a coin toss"
        if min(buggy_v) < 0 < max(buggy_v)
        else ""
    )
    buggy = f"8 calls with the same prediction and target give {fmt(buggy_v, 8)}{flips}."
    fixed = f"Matrix drawn once in __init__ (a buffer): 8 calls give {fmt(fixed_v, 8)}."
    findings = diagnose_callable(sb.CustomLoss(), model(x), y, model=model)
    labels = [f"call {i + 1}" for i in range(8)]
    figure = bars(
        labels, "loss", {"CustomLoss (seed)": buggy_v, "matrix drawn once (fixed)": fixed_v}
    )
    return LessonResult(buggy, fixed, findings, figure)


@seeded
def run_hard_threshold() -> LessonResult:
    r = torch.tensor([-1.2, -1.05, -0.5, 0.5, 1.05, 1.2])
    grads = {}
    for name, loss in (("hard", sb.HardThresholdedLoss(1.0)), ("soft", sb.ThresholdedLoss(1.0))):
        pred = r.clone().requires_grad_(True)
        loss(pred, torch.zeros_like(r)).backward()
        grads[name] = pred.grad
    buggy = (
        f"residuals {fmt(r, 6)} with t = 1: dL/dŷ = {fmt(grads['hard'], 6)}. The mask "
        "(|r| < t).float() has no grad_fn: the four points at or beyond the threshold get exactly 0."
    )
    curves = {k: loss_curve(LOSSES["soft_threshold"], {"k": k, "t": 1.0}) for k in (5, 20, 50)}
    peak = {
        k: float(abs(c.grad_autograd[abs(abs(c.x) - 1) < 0.3]).max()) for k, c in curves.items()
    }
    fixed = (
        f"sigmoid(20·(t − |r|)) mask (the seed's ThresholdedLoss): dL/dŷ = {fmt(grads['soft'], 6)}: "
        "every point gets a gradient (beyond t it points outwards: see the next lesson). Near the "
        "threshold it grows with k: max |dL/dr| for 0.7 < |r| < 1.3 is "
        + ", ".join(f"{v:.3g} (k = {k})" for k, v in peak.items())
    )
    hard = loss_curve(LOSSES["hard_threshold"], {"t": 1.0})
    soft = {f"sigmoid mask, k = {k}": c.grad_autograd for k, c in curves.items()}
    series = {"hard mask": hard.grad_autograd, **soft}
    figure = curve(hard.x, "residual r = ŷ − y", series)
    figure["y_label"] = "dL/dr"
    return LessonResult(buggy, fixed, diagnose_loss(LOSSES["hard_threshold"], {"t": 1.0}), figure)


def walk_residual(
    loss: nn.Module, r0: float = 1.05, lr: float = 0.01, steps: int = 40
) -> list[float]:
    """Plain gradient descent on one prediction ŷ with target 0: the residual after each step."""
    pred = torch.tensor([r0], requires_grad=True)
    path = [r0]
    for _ in range(steps):
        (g,) = torch.autograd.grad(loss(pred, torch.zeros(1)), pred)
        with torch.no_grad():
            pred -= lr * g
        path.append(pred.item())
    return path


@seeded
def run_soft_threshold_outward() -> LessonResult:
    at_t = torch.tensor([1.0], requires_grad=True)
    (g,) = torch.autograd.grad(sb.ThresholdedLoss(1.0)(at_t, torch.zeros(1)), at_t)
    seed_path, welsch_path = (
        walk_residual(sb.ThresholdedLoss(1.0)),
        walk_residual(sb.WelschLoss(1.0)),
    )
    buggy = (
        f"At r = t = 1, dL/dr = {float(g):.3g} (closed form −k·t²/4 + t = {-20 / 4 + 1:g}): negative "
        f"for a positive residual. 40 gradient steps (lr 0.01) from r = 1.05 move it to "
        f"r = {seed_path[-1]:.3g}: away from the target."
    )
    fixed = (
        "Welsch loss t²·(1 − exp(−r²/t²)) also discounts outliers, but dL/dr = 2r·exp(−r²/t²) "
        f"never changes sign: the same 40 steps bring r from 1.05 to {welsch_path[-1]:.3g}."
    )
    findings = diagnose_loss(LOSSES["soft_threshold"], {"k": 20.0, "t": 1.0})
    figure = history(
        "residual r", {"ThresholdedLoss (seed)": seed_path, "Welsch (fixed)": welsch_path}
    )
    return LessonResult(buggy, fixed, findings, figure)
