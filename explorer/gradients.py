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
BRACKET_TOL = 1e-14  # refinement places a step to this (times max(1, |x|))
ZOOM_SAMPLES = 24  # sub-intervals a bracket is cut into at each refinement stage
MAX_ZOOMS = 30
REFINE_WIDTHS = (1e-6, 1e-9, 1e-12)  # brackets around a located step, across which it is measured
STEP_KEEPS = 0.5  # a true step keeps this share of its size from the widest bracket on
UNBOUNDED_GROWTH = 100.0  # |f| this many times larger at the narrowest bracket: a pole or a cusp


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


@dataclass(frozen=True)
class Steps:
    """Abrupt changes of a function f of x, each bisected from its grid bracket and then measured
    across brackets of the widths REFINE_WIDTHS centred on it.

    kind: "step" where the gap f(x + w/2) − f(x − w/2) keeps its size as w shrinks (a true jump),
    "steep" where it shrinks with w (continuous, only faster than the grid step), "unbounded"
    where |f| or the gap grows as w shrinks, or f is not finite (a pole, a cusp, log |x|)."""

    where: np.ndarray  # rounded to 9 digits
    size: np.ndarray  # the gap across the middle width (1e-9)
    kind: np.ndarray  # "step", "steep" or "unbounded"

    def of(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """(where, size) of the changes of this kind."""
        keep = self.kind == kind
        return self.where[keep], self.size[keep]


def refine_steps(f: Callable[[np.ndarray], np.ndarray], lo: Any, hi: Any) -> Steps:
    """Zoom each bracket [lo, hi] of the element-wise f in on its largest change, to ~BRACKET_TOL,
    then classify it by how its gap and |f| change from 1e-6 to 1e-12 wide.

    Each stage samples ZOOM_SAMPLES sub-intervals and keeps the one where |Δf| is largest with a
    neighbour on each side, so a pole between samples (1/x², log |x|) stays inside the bracket."""
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    if lo.size == 0:
        return Steps(np.empty(0), np.empty(0), np.empty(0, dtype=str))
    tol = BRACKET_TOL * np.maximum(1.0, np.maximum(np.abs(lo), np.abs(hi)))
    t, rows = np.linspace(0.0, 1.0, ZOOM_SAMPLES + 1), np.arange(lo.size)
    for _ in range(MAX_ZOOMS):
        wide = hi - lo > tol
        if not wide.any():
            break
        x = lo[:, None] + (hi - lo)[:, None] * t
        v = f(x.reshape(-1)).reshape(x.shape)
        change = np.nan_to_num(np.abs(np.diff(v, axis=1)), nan=np.inf)
        start = np.clip(np.argmax(change, axis=1) - 1, 0, ZOOM_SAMPLES - 3)
        lo, hi = np.where(wide, x[rows, start], lo), np.where(wide, x[rows, start + 3], hi)
    where = (lo + hi) / 2
    half = np.array(REFINE_WIDTHS)[:, None] / 2
    k = len(REFINE_WIDTHS)
    probe = f(np.concatenate([where - half, where + half, where[None]]).reshape(-1))
    probe = probe.reshape(2 * k + 1, -1)
    before, after = probe[:k], probe[k : 2 * k]
    gap, reach = np.abs(after - before), np.maximum(np.abs(before), np.abs(after))
    with np.errstate(invalid="ignore"):
        seen = gap[-1] > 1e-9 * np.maximum(1.0, reach[0])  # above rounding noise
        keeps = (gap[-1] >= STEP_KEEPS * gap[0]) & seen
        grows = (gap[-1] > gap[0] / STEP_KEEPS) & seen  # a gap that widens: log-like, no step
        unbounded = ~np.all(np.isfinite(probe), axis=0) | (reach[-1] > UNBOUNDED_GROWTH * reach[0])
    unbounded |= grows
    step = keeps & ~unbounded
    kind = np.where(unbounded, "unbounded", np.where(step, "step", "steep"))
    return Steps(np.round(where, 9), (after - before)[1], kind)


def loss_steps(spec: LossSpec, params: Mapping[str, float], c: Curve) -> Steps:
    """Where L changes abruptly between grid points of c (jump_groups of L), refined."""
    groups = np.array(jump_groups(c.value), dtype=int).reshape(-1, 2)

    def f(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return pointwise_loss(spec, params, torch.as_tensor(x)).numpy()

    return refine_steps(f, c.x[groups[:, 0]], c.x[groups[:, 1]])


def gradient_steps(spec: LossSpec, params: Mapping[str, float], c: Curve) -> Steps:
    """Where dL/dx (autograd) changes abruptly between grid points of c: kinks, refined."""
    groups = np.array(jump_groups(c.grad_autograd), dtype=int).reshape(-1, 2)

    def f(x: np.ndarray) -> np.ndarray:
        return autograd_curve(spec, params, torch.as_tensor(x))[1].numpy()

    return refine_steps(f, c.x[groups[:, 0]], c.x[groups[:, 1]])


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
    value, grad = autograd_curve(spec, params, grid)
    fd = central_difference(lambda t: pointwise_loss(spec, params, t), grid)
    xs, g = grid.numpy(), grad.numpy()
    v = value.numpy()
    return Curve(xs, v, g, fd.numpy(), FD_STEP, spec.x_axis, find_kinks(xs, g, v))


# ---------------------------------------------------------------- formulas that mix samples
# A formula such as mean(r)**2 or r - mean(r) has no loss of one residual alone, so it has no
# curve L(x). What it has is the loss of a batch: its 1-D view is L(r + s), the loss of a fixed
# sample of residuals r all shifted together by s (pred = r + s, target = 0), with dL/ds.

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
    spec: LossSpec,
    params: Mapping[str, float] | None = None,
    x: Any = None,
    *,
    lo: float | None = None,
    hi: float | None = None,
    n: int = 401,
) -> Curve:
    """L(r + s) and dL/ds (autograd, and central differences in float64) against the shift s
    (x_axis SHIFT_AXIS) of all residuals of SHIFT_SAMPLE together."""
    params = spec.clamp(params)
    if x is None:
        start = SHIFT_RANGE[0] if lo is None else float(lo)
        end = SHIFT_RANGE[1] if hi is None else float(hi)
        grid = torch.linspace(start, end, int(n), dtype=torch.float64)
    else:
        grid = torch.as_tensor(x, dtype=torch.float64)
    value, grad = shift_autograd(spec, params, grid)
    fd = central_difference(lambda t: shifted_loss(spec, params, t), grid)
    xs, g, v = grid.numpy(), grad.numpy(), value.numpy()
    return Curve(xs, v, g, fd.numpy(), FD_STEP, SHIFT_AXIS, find_kinks(xs, g, v))


def shift_steps(spec: LossSpec, params: Mapping[str, float], c: Curve) -> tuple[Steps, Steps]:
    """Where L(r + s) and where dL/ds change abruptly between grid points of the shift curve c,
    refined (as loss_steps and gradient_steps do on an element-wise curve)."""

    def value(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return shifted_loss(spec, params, torch.as_tensor(x)).numpy()

    def slope(x: np.ndarray) -> np.ndarray:
        return shift_autograd(spec, params, torch.as_tensor(x))[1].numpy()

    out = []
    for f, y in ((value, c.value), (slope, c.grad_autograd)):
        groups = np.array(jump_groups(y), dtype=int).reshape(-1, 2)
        out.append(refine_steps(f, c.x[groups[:, 0]], c.x[groups[:, 1]]))
    return out[0], out[1]


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
