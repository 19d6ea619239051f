"""Seed 000's ThresholdedLoss, a sigmoid cut-off of the outliers: two lessons.

The article's code and text quoted verbatim, its loss as real Python beside the hard cut-off it
warns about and our fix, the live runs, and the lessons.
"""

from __future__ import annotations

import torch
from torch import nn

from explorer.doctor import diagnose_loss
from explorer.doctor.findings import fmt
from explorer.gradients.curves import loss_curve
from explorer.lessons.kit import LessonResult, curve, grad_of, history, quoted_lesson, seeded
from explorer.losses import LOSSES

SEED_ID = "000"

_HARD_THRESHOLD_TEXT = """\
A naive implementation involving a hard threshold might use `if` statements, which are incompatible with Autograd. This is because conditional branches can introduce discontinuities, which may not be easily differentiable.
"""

_THRESHOLDED_LOSS = """\
class ThresholdedLoss(nn.Module):
    def __init__(self, threshold):
      super().__init__()
      self.threshold = threshold

    def forward(self, prediction, target):
      absolute_diff = torch.abs(prediction - target)
      # Use a differentiable approximation of the step function
      cut_off_mask = torch.sigmoid(20*(self.threshold - absolute_diff))
      return torch.mean(cut_off_mask * (prediction - target)**2)
"""

_SOFT_THRESHOLD_TEXT = """\
Note that the gradient behavior becomes more like the hard threshold with an increase in the multiplier of 20 within the sigmoid.
"""


class ThresholdedLoss(nn.Module):
    """Seed 000: sigmoid(20·(t − |r|))·r², a soft cut-off of the outliers."""

    def __init__(self, threshold):
        super().__init__()
        self.threshold = threshold

    def forward(self, prediction, target):
        absolute_diff = torch.abs(prediction - target)
        cut_off_mask = torch.sigmoid(20 * (self.threshold - absolute_diff))
        return torch.mean(cut_off_mask * (prediction - target) ** 2)


class HardThresholdedLoss(nn.Module):
    """The hard cut-off the seed warns about: (|r| < t)·r² — its mask passes no gradient."""

    def __init__(self, threshold):
        super().__init__()
        self.threshold = threshold

    def forward(self, prediction, target):
        mask = (torch.abs(prediction - target) < self.threshold).float()
        return torch.mean(mask * (prediction - target) ** 2)


class WelschLoss(nn.Module):
    """Outliers discounted without an outward push: t²·(1 − exp(−r²/t²)), dL/dr = 2r·exp(−r²/t²)."""

    def __init__(self, threshold):
        super().__init__()
        self.threshold = threshold

    def forward(self, prediction, target):
        t2 = self.threshold**2
        return torch.mean(t2 * (1 - torch.exp(-((prediction - target) ** 2) / t2)))


@seeded
def run_hard_threshold() -> LessonResult:
    r = torch.tensor([-1.2, -1.05, -0.5, 0.5, 1.05, 1.2])
    grads = {}
    for name, loss in (("hard", HardThresholdedLoss(1.0)), ("soft", ThresholdedLoss(1.0))):
        pred = r.clone().requires_grad_(True)
        loss(pred, torch.zeros_like(r)).backward()
        grads[name] = grad_of(pred)
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
    (g,) = torch.autograd.grad(ThresholdedLoss(1.0)(at_t, torch.zeros(1)), at_t)
    seed_path, welsch_path = walk_residual(ThresholdedLoss(1.0)), walk_residual(WelschLoss(1.0))
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


HARD_THRESHOLD = quoted_lesson(
    SEED_ID,
    "hard_threshold",
    "A hard threshold passes no gradient",
    "(|r| < t).float() is a constant to autograd: zero gradient almost everywhere; a sigmoid mask is not.",
    (_HARD_THRESHOLD_TEXT, _THRESHOLDED_LOSS),
    ThresholdedLoss,
    run_hard_threshold,
)
SOFT_THRESHOLD_OUTWARD = quoted_lesson(
    SEED_ID,
    "soft_threshold_outward",
    "The soft threshold pushes residuals outwards",
    "Near |r| = t, d/dr sigmoid(k(t − |r|))·r² ≈ (−k·t²/4 + t)·sign(r): for k = 20 descent moves r away from 0.",
    (_THRESHOLDED_LOSS, _SOFT_THRESHOLD_TEXT),
    WelschLoss,
    run_soft_threshold_outward,
)
