"""Seed 000's SpectralNormalizationFunction and the CustomLoss built on it: four lessons.

The article's code quoted verbatim, the same code as real Python beside our fixes, the live runs
of both, and the lessons.
"""

from __future__ import annotations

import torch
from torch import nn

from explorer.doctor import diagnose_callable, diagnose_function
from explorer.doctor.findings import fmt
from explorer.doctor.functions import backward_calls
from explorer.functions import MatrixPowerExact, MatrixPowerSeed
from explorer.gradients.gradcheck import check_backward
from explorer.graph import autograd_dot
from explorer.lessons.kit import (
    LessonResult,
    bars,
    descend,
    grad_of,
    history,
    quoted_lesson,
    seeded,
    table,
)

SEED_ID = "000"

_SPECTRAL_FUNCTION = """\
class SpectralNormalizationFunction(autograd.Function):

    @staticmethod
    def forward(ctx, matrix, exponent):
        powered_matrix = matrix_power(matrix, exponent)
        ctx.save_for_backward(matrix)
        ctx.exponent = exponent
        return powered_matrix

    @staticmethod
    def backward(ctx, grad_output):
        matrix, = ctx.saved_tensors
        exponent = ctx.exponent
        # Gradient calculation for matrix power using approximation. Note: Requires further complex computation.
        # This part below is simplified, in real cases, it will require analytical solution
        grad_matrix = grad_output * (exponent * matrix_power(matrix, exponent-1))
        return grad_matrix, None
"""

_CUSTOM_LOSS = """\
class CustomLoss(nn.Module):
  def __init__(self):
    super().__init__()

  def forward(self, prediction, target):
      matrix = torch.randn(3,3)
      exponent = 2
      powered_matrix = SpectralNormalizationFunction.apply(matrix,exponent)
      loss_val =  torch.mean((prediction - target) * powered_matrix[0,0])
      return loss_val
"""

# seed 000 names its Function SpectralNormalizationFunction; its forward/backward are MatrixPowerSeed's
SpectralNormalizationFunction = MatrixPowerSeed


class CustomLoss(nn.Module):
    """Seed 000: a fresh random matrix each call, powered by the wrong-backward Function; linear in ŷ."""

    def forward(self, prediction, target):
        matrix = torch.randn(3, 3)
        exponent = 2
        powered_matrix = SpectralNormalizationFunction.apply(matrix, exponent)
        return torch.mean((prediction - target) * powered_matrix[0, 0])


class FixedMatrixCustomLoss(nn.Module):
    """Seed 000's CustomLoss with its matrix drawn once: deterministic, but still linear in ŷ."""

    def __init__(self, matrix):
        super().__init__()
        self.register_buffer("matrix", matrix)

    def forward(self, prediction, target):
        powered_matrix = SpectralNormalizationFunction.apply(self.matrix, 2)
        return torch.mean((prediction - target) * powered_matrix[0, 0])


class CustomLossFixed(nn.Module):
    """The matrix drawn once (a buffer), the exact backward, and a squared residual: a minimum at ŷ = y."""

    def __init__(self, matrix):
        super().__init__()
        self.register_buffer("matrix", matrix)

    def forward(self, prediction, target):
        powered_matrix = MatrixPowerExact.apply(self.matrix, 2)
        return torch.mean(((prediction - target) * powered_matrix[0, 0]) ** 2)


def learnable_matrix_power(matrix: torch.Tensor, exponent: int = 2) -> torch.Tensor:
    """The matrix requires grad, so autograd does call the hand-written (here: exact) backward."""
    matrix = matrix.detach().requires_grad_(True)
    return MatrixPowerExact.apply(matrix, exponent)


def regression_batch() -> tuple[nn.Linear, torch.Tensor, torch.Tensor]:
    """The seed's example: nn.Linear(10, 1), five inputs, five targets."""
    return nn.Linear(10, 1), torch.randn(5, 10), torch.randn(5, 1)


def grad_of_power(apply, a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """d⟨A², G⟩/dA through `apply` (true value: G·Aᵀ + Aᵀ·G)."""
    x = a.detach().clone().requires_grad_(True)
    (apply(x, 2) * g).sum().backward()
    return grad_of(x)


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
    buggy_h, fixed_h = fit(FixedMatrixCustomLoss(matrix)), fit(CustomLossFixed(matrix))
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
    findings = diagnose_callable(FixedMatrixCustomLoss(matrix), model(x), y, model=model)
    figure = history(
        "loss", {"CustomLoss (seed, matrix fixed)": buggy_h, "squared (fixed)": fixed_h}
    )
    return LessonResult(buggy, fixed, findings, figure)


@seeded
def run_backward_never_called() -> LessonResult:
    model, x, y = regression_batch()
    loss = CustomLoss()(model(x), y)
    loss.backward()
    matrix = torch.randn(3, 3)
    calls, out = backward_calls(MatrixPowerSeed, (matrix, 2))
    buggy = (
        f"loss.backward() runs without error (model.weight.grad norm {grad_of(model.weight).norm():.3g}), "
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
            type(learnable_matrix_power(matrix).grad_fn).__name__,
            exact_calls,
        ],
    ]
    figure = table(["version", "matrix.requires_grad", "powered.grad_fn", "backward calls"], rows)
    params = {**dict(model.named_parameters()), "matrix": matrix}
    figure["dot_buggy"] = autograd_dot(CustomLoss()(model(x), y), params=params)
    figure["dot_fixed"] = autograd_dot(learnable_matrix_power(matrix).sum())
    return LessonResult(buggy, fixed, findings, figure)


@seeded
def run_random_inside_loss() -> LessonResult:
    model, x, y = regression_batch()
    pred = model(x).detach()
    buggy_loss, fixed_loss = CustomLoss(), CustomLossFixed(torch.randn(3, 3))
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
    findings = diagnose_callable(CustomLoss(), model(x), y, model=model)
    labels = [f"call {i + 1}" for i in range(8)]
    figure = bars(
        labels, "loss", {"CustomLoss (seed)": buggy_v, "matrix drawn once (fixed)": fixed_v}
    )
    return LessonResult(buggy, fixed, findings, figure)


MATRIX_POWER_BACKWARD = quoted_lesson(
    SEED_ID,
    "matrix_power_backward",
    "A hand-written backward that is not the gradient",
    "The matrix power's backward G ⊙ n·Aⁿ⁻¹ is an element-wise rule; gradcheck shows it is wrong.",
    (_SPECTRAL_FUNCTION,),
    MatrixPowerExact,
    run_matrix_power_backward,
)
CUSTOM_LOSS_UNBOUNDED = quoted_lesson(
    SEED_ID,
    "custom_loss_unbounded",
    "A loss linear in the prediction has no minimum",
    "mean((ŷ − y)·c) keeps falling as ŷ moves: training runs off to −∞.",
    (_CUSTOM_LOSS,),
    CustomLossFixed,
    run_custom_loss_unbounded,
)
BACKWARD_NEVER_CALLED = quoted_lesson(
    SEED_ID,
    "backward_never_called",
    "A backward that never runs cannot be wrong — or tested",
    "Nothing upstream of the Function requires grad, so autograd never calls its backward.",
    (_CUSTOM_LOSS,),
    learnable_matrix_power,
    run_backward_never_called,
)
RANDOM_INSIDE_LOSS = quoted_lesson(
    SEED_ID,
    "random_inside_loss",
    "A random tensor drawn inside the loss",
    "torch.randn inside forward makes the loss a different function on every call.",
    (_CUSTOM_LOSS,),
    CustomLossFixed,
    run_random_inside_loss,
)
