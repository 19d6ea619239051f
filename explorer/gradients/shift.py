"""The 1-D view of a formula that mixes samples (mean(r)**2, r - mean(r)): it has no loss of one
residual alone, so no curve L(x). What it has is the loss of a batch: L(r + s), the loss of a
fixed sample of residuals r all shifted together by s (pred = r + s, target = 0), with dL/ds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from explorer.gradients.curves import Curve, curve_of
from explorer.gradients.jumps import Steps, steps_on
from explorer.losses import LossSpec

SHIFT_AXIS = "s"
SHIFT_SAMPLE = (-1.5, -0.9, -0.4, -0.1, 0.2, 0.5, 0.8, 1.4)  # residuals of mean 0, not symmetric
SHIFT_RANGE = (-3.0, 3.0)


def mixes_samples(spec: LossSpec) -> bool:
    """Whether spec's loss has no per-element values (a typed formula that mixes samples)."""
    return getattr(spec.fn, "elementwise", True) is False


def sample_losses(spec: LossSpec, params: Mapping[str, float], rows: Tensor) -> Tensor:
    """The loss (reduction "mean") of each row of residuals: rows (B, N) -> (B,), pred = row,
    target = 0. Needs a residual loss."""
    if spec.x_axis != "residual":
        raise ValueError(f"a sample of residuals needs a residual loss; {spec.key!r} is not")

    def loss(pred: Tensor) -> Tensor:
        return spec.fn(pred, torch.zeros_like(pred), reduction="mean", weights=None, **params)

    try:
        return torch.func.vmap(loss)(rows)
    except RuntimeError:  # an op without a batching rule: one row at a time
        return torch.stack([loss(row) for row in rows])


def _shifted_rows(s: Tensor) -> Tensor:
    """SHIFT_SAMPLE shifted by each s: (len(s), len(SHIFT_SAMPLE)), float64."""
    s = torch.as_tensor(s, dtype=torch.float64).reshape(-1, 1)
    return torch.tensor(SHIFT_SAMPLE, dtype=s.dtype, device=s.device) + s


def shifted_loss(spec: LossSpec, params: Mapping[str, float], s: Tensor) -> Tensor:
    """L(r + s) at every s: the loss of SHIFT_SAMPLE shifted by s (shape of s, float64)."""
    s = torch.as_tensor(s, dtype=torch.float64)
    return sample_losses(spec, params, _shifted_rows(s)).reshape(s.shape)


def residual_gradients(
    spec: LossSpec, params: Mapping[str, float], s: Tensor
) -> tuple[Tensor, Tensor]:
    """(L(r + s), ∂L/∂rᵢ at r + s) by autograd for every s of a 1-D s: shapes (n,) and
    (n, len(SHIFT_SAMPLE)); the gradient is 0 where L does not depend on the residuals."""
    rows = _shifted_rows(torch.as_tensor(s).detach()).requires_grad_(True)
    value = sample_losses(spec, params, rows)
    if not value.requires_grad:
        return value.detach(), torch.zeros_like(rows)
    (grad,) = torch.autograd.grad(value.sum(), rows, allow_unused=True)
    return value.detach(), torch.zeros_like(rows) if grad is None else grad


def shift_autograd(spec: LossSpec, params: Mapping[str, float], s: Tensor) -> tuple[Tensor, Tensor]:
    """(L(r + s), dL/ds by autograd) at every s of a 1-D s: dL/ds = Σᵢ ∂L/∂rᵢ."""
    value, grads = residual_gradients(spec, params, s)
    return value, grads.sum(-1)


def shift_curve(
    spec: LossSpec, params: Mapping[str, float] | None = None, x: Any = None, *, n: int = 401
) -> Curve:
    """L(r + s) and dL/ds (autograd, and central differences in float64) against the shift s
    (x_axis SHIFT_AXIS) of all residuals of SHIFT_SAMPLE together: at x, else n points of
    SHIFT_RANGE."""
    params = spec.clamp(params)
    grid = torch.as_tensor(x if x is not None else np.linspace(*SHIFT_RANGE, int(n)))
    grid = grid.to(torch.float64)
    return curve_of(
        grid,
        lambda t: shift_autograd(spec, params, t),
        lambda t: shifted_loss(spec, params, t),
        SHIFT_AXIS,
    )


def shift_steps(spec: LossSpec, params: Mapping[str, float], c: Curve) -> tuple[Steps, Steps]:
    """Where L(r + s) and where dL/ds change abruptly between grid points of the shift curve c,
    refined (as loss_steps and gradient_steps do on an element-wise curve)."""

    def value(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return shifted_loss(spec, params, torch.as_tensor(x)).numpy()

    def slope(x: np.ndarray) -> np.ndarray:
        return shift_autograd(spec, params, torch.as_tensor(x))[1].numpy()

    return steps_on(value, c.x, c.value), steps_on(slope, c.x, c.grad_autograd)
