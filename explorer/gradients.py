"""1-D loss curves with their gradient by autograd and by central differences; where the gradient
jumps (kinks) and where the loss itself jumps; gradcheck of custom autograd Functions.

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

from explorer.losses import LossSpec, curve_inputs

FD_STEP = 1e-6  # central-difference step in float64
DEFAULT_RANGES = {
    "residual": (-3.0, 3.0),
    "margin": (-3.0, 3.0),
    "logit": (-6.0, 6.0),
    "probability": (0.0, 1.0),  # open: the end points themselves are left out
}
KINK_WINDOW = 5  # neighbours on each side that set the local scale of |Δg|
KINK_RATIO = 8.0  # a jump this many times the local scale is a kink, not curvature
BISECTIONS = 40  # halvings of a grid interval to place a jump of L (to ~1e-14)


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


def numerical_jacobian(f: Callable[[Tensor], Tensor], x: Tensor, h: float = FD_STEP) -> Tensor:
    """J[i, j] = ∂f(x)_i/∂x_j by central differences, one input element at a time."""
    x = x.detach().to(torch.float64)
    flat = x.reshape(-1)
    cols = []
    with torch.no_grad():
        for j in range(flat.numel()):
            step = torch.zeros_like(flat)
            step[j] = h
            hi, lo = f((flat + step).view_as(x)), f((flat - step).view_as(x))
            cols.append(((hi - lo) / (2 * h)).reshape(-1))
    return torch.stack(cols, dim=1)


def jump_groups(g: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) grid index around each isolated jump in g: |Δg| far above its neighbours'.

    Adjacent jumps (a corner that falls on a grid point) form one group.
    """
    jump = np.abs(np.diff(g))
    if jump.size < 3 or not np.all(np.isfinite(jump)):
        return []
    atol = 1e-6 * max(1.0, float(np.max(np.abs(g))))
    padded = np.pad(jump, KINK_WINDOW, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * KINK_WINDOW + 1)
    flagged = np.flatnonzero(jump > KINK_RATIO * np.median(windows, axis=1) + atol)
    groups = np.split(flagged, np.flatnonzero(np.diff(flagged) > 1) + 1) if flagged.size else []
    return [(int(grp[0]), int(grp[-1]) + 1) for grp in groups]


def find_kinks(x: np.ndarray, g: np.ndarray, value: np.ndarray | None = None) -> np.ndarray:
    """x where g jumps. Given L too, a corner sits where the tangents of L from both sides meet
    (exact for piecewise-linear L); otherwise, or where L itself jumps, midway between grid points."""
    out = []
    for a, b in jump_groups(g):
        mid = (x[a] + x[b]) / 2
        if value is not None and g[a] != g[b]:
            meet = (value[b] - value[a] + g[a] * x[a] - g[b] * x[b]) / (g[a] - g[b])
            mid = float(meet) if x[a] <= meet <= x[b] else mid  # outside: L itself jumps
        out.append(mid)
    return np.array(out)


def jump_midpoints(c: Curve) -> np.ndarray:
    """x midway across each grid interval where L jumps: |ΔL| far above what its slope explains.

    Needs the curve only; `bisected_jumps` places the jumps exactly (and sizes them) from the loss."""
    dv, dx = np.abs(np.diff(c.value)), np.diff(c.x)
    slope = np.maximum(np.abs(c.grad_autograd[:-1]), np.abs(c.grad_autograd[1:]))
    jump = dv > 10 * slope * dx + 1e-9
    return (c.x[:-1][jump] + c.x[1:][jump]) / 2


def _bisect_branch_switch(
    spec: LossSpec,
    params: Mapping[str, float],
    lo: np.ndarray,
    hi: np.ndarray,
    left: Callable[[np.ndarray], np.ndarray],
    right: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """Bisect each bracket [lo, hi] to where L switches from its left branch to its right one."""
    with torch.no_grad():
        for _ in range(BISECTIONS):
            mid = (lo + hi) / 2
            v = pointwise_loss(spec, params, torch.as_tensor(mid)).numpy()
            on_left = np.abs(v - left(mid)) <= np.abs(v - right(mid))
            lo, hi = np.where(on_left, mid, lo), np.where(on_left, hi, mid)
    return np.round((lo + hi) / 2, 9)


def bisected_jumps(
    spec: LossSpec, params: Mapping[str, float], c: Curve
) -> tuple[np.ndarray, np.ndarray]:
    """(where, by how much) L itself jumps on the curve c of spec: each jump bisected to ~1e-14
    between its grid points, sized by L's one-sided tangent lines compared at the jump."""
    groups = jump_groups(c.value)
    if not groups:
        return np.empty(0), np.empty(0)
    a, b = np.array(groups).T
    x, v, g = c.x, c.value, c.grad_autograd
    left = lambda t: v[a] + g[a] * (t - x[a])
    right = lambda t: v[b] + g[b] * (t - x[b])
    where = _bisect_branch_switch(spec, params, x[a], x[b], left, right)
    size = right(where) - left(where)
    big = np.abs(size) > 1e-9 * np.maximum(1.0, np.maximum(np.abs(v[a]), np.abs(v[b])))
    return where[big], size[big]


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
    value, grad = autograd_curve(spec, params, grid)
    fd = central_difference(lambda t: pointwise_loss(spec, params, t), grid)
    xs, g = grid.numpy(), grad.numpy()
    v = value.numpy()
    return Curve(xs, v, g, fd.numpy(), FD_STEP, spec.x_axis, find_kinks(xs, g, v))


def falls_forever(v: np.ndarray) -> bool:
    """True when v keeps decreasing along a ray and its decrements do not die out (or hits −inf)."""
    if np.any(v == -np.inf):
        return True
    if not np.all(np.isfinite(v)):
        return False
    drops = -np.diff(v)
    return bool(np.all(drops > 0) and np.all(drops[1:] >= 0.5 * drops[:-1]))


def _with_input(
    fn_apply: Callable[..., Tensor], args: tuple[Any, ...], j: int
) -> Callable[[Tensor], Tensor]:
    """x ↦ the flattened output of fn_apply(*args) with args[j] replaced by x."""

    def f(x: Tensor) -> Tensor:
        out = fn_apply(*args[:j], x, *args[j + 1 :])
        return out.reshape(-1)

    return f


def jacobian_error(fn_apply: Callable[..., Tensor], args: tuple[Any, ...]) -> float:
    """max |analytic − numerical| over the Jacobian of every floating input (float64)."""
    worst = 0.0
    for j, a in enumerate(args):
        if isinstance(a, Tensor) and a.is_floating_point():
            f = _with_input(fn_apply, args, j)
            analytic = torch.autograd.functional.jacobian(f, a.detach()).reshape(-1, a.numel())
            worst = max(worst, float((analytic - numerical_jacobian(f, a)).abs().max()))
    return worst


def check_backward(fn_apply: Callable[..., Tensor], args: tuple[Any, ...]) -> tuple[bool, float]:
    """(gradcheck passes, max Jacobian error) for a Function's apply on float64 copies of args."""
    args = tuple(
        a.detach().to(torch.float64).requires_grad_(True)
        if isinstance(a, Tensor) and a.is_floating_point()
        else a
        for a in args
    )
    passed = torch.autograd.gradcheck(fn_apply, args, eps=FD_STEP, atol=1e-5, raise_exception=False)
    return bool(passed), jacobian_error(fn_apply, args)


def _step_rows() -> list[dict[str, Any]]:
    """The step activation of explorer.models: zero backward (true) and straight-through (by design)."""
    from explorer.models import StepFunction

    x = torch.tensor([-1.5, -0.7, -0.2, 0.3, 0.8, 1.6], dtype=torch.float64)
    notes = {
        "off": "true gradient of a step: 0 wherever it exists (no signal passes)",
        "identity": "fails by design: straight-through passes the gradient as if the step were y = x",
    }
    return [
        row(f"StepFunction ({mode})", StepFunction.apply, (x, mode), notes[mode]) for mode in notes
    ]


def row(
    name: str, fn_apply: Callable[..., Tensor], args: tuple[Any, ...], note: str
) -> dict[str, Any]:
    """One gradcheck table row."""
    passed, err = check_backward(fn_apply, args)
    return {"function": name, "passed": passed, "max_abs_error": err, "note": note}


def gradcheck_table() -> list[dict[str, Any]]:
    """gradcheck of every custom autograd Function in explorer.functions and the model's step."""
    from explorer.functions import FUNCTIONS

    rows = [
        row(name, ex.function.apply, ex.make_inputs(0, torch.float64), ex.description)
        for name, ex in FUNCTIONS.items()
    ]
    return rows + _step_rows()


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
