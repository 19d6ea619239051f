"""1-D loss curves: L(x) with dL/dx by autograd and by central differences, where x is the
residual, margin, logit or probability; and their table of autograd-vs-difference gaps.

The finite-difference reference is always taken in float64 with step `FD_STEP`:
    g_fd(x) = (L(x + h) − L(x − h)) / 2h,  error O(h²·L''') + O(eps/h) ≈ 1e-10 for smooth L.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from explorer.gradients.jumps import Steps, find_kinks, jump_midpoints, steps_on
from explorer.losses import LossSpec, curve_inputs

FD_STEP = 1e-6  # central-difference step in float64
DEFAULT_RANGES = {
    "residual": (-3.0, 3.0),
    "margin": (-3.0, 3.0),
    "logit": (-6.0, 6.0),
    "probability": (0.0, 1.0),  # open: the end points themselves are left out
}


@dataclass(frozen=True)
class Curve:
    """L(x) and dL/dx on a 1-D grid; x is the residual, margin, logit or probability."""

    x: np.ndarray
    value: np.ndarray
    grad_autograd: np.ndarray
    grad_fd: np.ndarray
    fd_step: float
    x_axis: str
    kinks: np.ndarray  # x where dL/dx jumps


def curve_grid(
    x_axis: str, lo: float | None = None, hi: float | None = None, n: int = 401
) -> Tensor:
    """n float64 points from lo to hi (defaults by axis); the probability axis is open at 0 and 1."""
    if x_axis not in DEFAULT_RANGES:
        raise ValueError(f"unknown x_axis {x_axis!r}; allowed: {', '.join(DEFAULT_RANGES)}")
    d_lo, d_hi = DEFAULT_RANGES[x_axis]
    start, end, n = d_lo if lo is None else float(lo), d_hi if hi is None else float(hi), int(n)
    if x_axis == "probability":
        start, end = max(start, 0.0), min(end, 1.0)
        return torch.linspace(start, end, n + 2, dtype=torch.float64)[1:-1]
    return torch.linspace(start, end, n, dtype=torch.float64)


def pointwise_loss(spec: LossSpec, params: Mapping[str, float], x: Tensor) -> Tensor:
    """L at every point of x: the loss of (pred, target) = curve_inputs(spec, x), unreduced."""
    pred, target = curve_inputs(spec, x)
    return spec.fn(pred, target, reduction="none", weights=None, **params)


def autograd_curve(spec: LossSpec, params: Mapping[str, float], x: Tensor) -> tuple[Tensor, Tensor]:
    """(L(x), dL/dx by autograd); the gradient is 0 where L does not depend on x."""
    x = x.detach().clone().requires_grad_(True)
    value = pointwise_loss(spec, params, x)
    if not value.requires_grad:
        return value.detach(), torch.zeros_like(x)
    (grad,) = torch.autograd.grad(value.sum(), x, allow_unused=True)
    return value.detach(), torch.zeros_like(x) if grad is None else grad


def central_difference(f: Callable[[Tensor], Tensor], x: Tensor, h: float = FD_STEP) -> Tensor:
    """(f(x + h) − f(x − h)) / 2h for an element-wise f; pass float64 x for a reference."""
    with torch.no_grad():
        return (f(x + h) - f(x - h)) / (2 * h)


def curve_of(
    grid: Tensor,
    with_grad: Callable[[Tensor], tuple[Tensor, Tensor]],
    value: Callable[[Tensor], Tensor],
    x_axis: str,
) -> Curve:
    """The Curve on a float64 grid: with_grad(x) gives (L, dL/dx by autograd), value(x) gives L
    for the central differences; kinks found from both."""
    v, g = (t.numpy() for t in with_grad(grid))
    fd = central_difference(value, grid).numpy()
    xs = grid.numpy()
    return Curve(xs, v, g, fd, FD_STEP, x_axis, find_kinks(xs, g, v))


def loss_steps(spec: LossSpec, params: Mapping[str, float], c: Curve) -> Steps:
    """Where L changes abruptly between grid points of c (jump_groups of L), refined."""

    def f(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return pointwise_loss(spec, params, torch.as_tensor(x)).numpy()

    return steps_on(f, c.x, c.value)


def gradient_steps(spec: LossSpec, params: Mapping[str, float], c: Curve) -> Steps:
    """Where dL/dx (autograd) changes abruptly between grid points of c: kinks, refined."""

    def f(x: np.ndarray) -> np.ndarray:
        return autograd_curve(spec, params, torch.as_tensor(x))[1].numpy()

    return steps_on(f, c.x, c.grad_autograd)


def bisected_jumps(
    spec: LossSpec, params: Mapping[str, float], c: Curve
) -> tuple[np.ndarray, np.ndarray]:
    """(where, by how much) L itself jumps on the curve c of spec: each candidate bisected to
    ~1e-14 between its grid points and kept only where its size does not shrink with the bracket
    (a steep but continuous L is no jump)."""
    return loss_steps(spec, params, c).of("step")


def loss_curve(
    spec: LossSpec,
    params: Mapping[str, float] | None = None,
    x: Any = None,
    *,
    lo: float | None = None,
    hi: float | None = None,
    n: int = 401,
) -> Curve:
    """The 1-D curve of a catalogue (or expression) loss: value, autograd and finite-difference gradient."""
    params = spec.clamp(params)
    grid = (
        curve_grid(spec.x_axis, lo, hi, n) if x is None else torch.as_tensor(x, dtype=torch.float64)
    )
    return curve_of(
        grid,
        lambda t: autograd_curve(spec, params, t),
        lambda t: pointwise_loss(spec, params, t),
        spec.x_axis,
    )


def curve_table(curves: dict[str, Curve]) -> list[dict[str, Any]]:
    """Per named curve: the largest autograd vs finite-difference gap away from kinks and jumps
    (where a derivative does not exist), and where the kinks and jumps are."""
    rows = []
    for name, c in curves.items():
        jumps, away = jump_midpoints(c), np.isfinite(c.grad_fd)
        for k in (*c.kinks, *jumps):
            away &= np.abs(c.x - k) > 2 * np.diff(c.x).max()
        gap = np.abs(c.grad_autograd - c.grad_fd)[away]
        rows.append(
            {
                "loss": name,
                "max |autograd − finite diff.| (smooth part)": float(gap.max())
                if gap.size
                else float("nan"),
                "kinks at": ", ".join(f"{k:.2f}" for k in c.kinks[:6]) or "none",
                "jumps at": ", ".join(f"{k:.2f}" for k in jumps[:6]) or "none",
            }
        )
    return rows
