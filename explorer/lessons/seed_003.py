"""Seed 003, "How are custom loss gradients calculated?": its WeightedMSE broadcasts.

The article's code quoted verbatim, the same code as real Python beside our fix, the live run of
both, and the lesson.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from explorer.doctor import diagnose_callable
from explorer.doctor.findings import fmt
from explorer.lessons.kit import LessonResult, bars, descend, quoted_lesson, seeded, shape

SEED_ID = "003"

_WEIGHTED_MSE = """\
class WeightedMSE(nn.Module):
    def __init__(self, weights):
        super(WeightedMSE, self).__init__()
        self.weights = torch.tensor(weights, requires_grad=False) # ensure weights are not updated

    def forward(self, y_pred, y_true):
        loss = torch.mean(self.weights * (y_pred - y_true)**2)
        return loss

# Sample data and model
X = torch.randn(10, 1)
y = torch.randn(10, 1)
model = nn.Linear(1, 1)
"""

SEED_WEIGHTS = [1, 2, 1, 1, 3, 1, 1, 2, 1, 1]  # the article's example weights


class WeightedMSE(nn.Module):
    """Seed 003: weights (N,) times residuals (N, 1) broadcast to (N, N)."""

    def __init__(self, weights):
        super().__init__()
        self.weights = torch.tensor(weights, requires_grad=False)

    def forward(self, y_pred, y_true):
        return torch.mean(self.weights * (y_pred - y_true) ** 2)


class WeightedMSEFixed(nn.Module):
    """Weights reshaped to the residuals' shape: Σ wᵢ rᵢ² / Σ wᵢ, one term per sample."""

    def __init__(self, weights):
        super().__init__()
        self.register_buffer("weights", torch.as_tensor(weights, dtype=torch.float32))

    def forward(self, y_pred, y_true):
        w = self.weights.to(y_pred.dtype).view(y_pred.shape)  # (N,) -> (N, 1): no broadcast
        return (w * (y_pred - y_true) ** 2).sum() / w.sum()


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
    buggy_loss, fixed_loss = WeightedMSE(SEED_WEIGHTS), WeightedMSEFixed(SEED_WEIGHTS)
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


WEIGHTED_MSE_BROADCAST = quoted_lesson(
    SEED_ID,
    "weighted_mse_broadcast",
    "Weights (N,) times residuals (N, 1) make an N×N matrix",
    "Broadcasting silently pairs every weight with every residual; the mean is wrong and the weights are averaged away.",
    (_WEIGHTED_MSE,),
    WeightedMSEFixed,
    run_weighted_mse_broadcast,
)
