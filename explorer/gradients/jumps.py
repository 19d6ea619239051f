"""Where a function of one variable changes abruptly: jumps of a sampled gradient (kinks) or
value on a grid, each bracket bisected and classified (a true step, a steep but continuous
change, or an unbounded one); and whether a sequence keeps falling (unbounded below).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from explorer.gradients.curves import Curve

KINK_WINDOW = 5  # neighbours on each side that set the local scale of |Δg|
KINK_RATIO = 8.0  # a jump this many times the local scale is a kink, not curvature
BRACKET_TOL = 1e-14  # refinement places a step to this (times max(1, |x|))
ZOOM_SAMPLES = 24  # sub-intervals a bracket is cut into at each refinement stage
MAX_ZOOMS = 30
REFINE_WIDTHS = (1e-6, 1e-9, 1e-12)  # brackets around a located step, across which it is measured
STEP_KEEPS = 0.5  # a true step keeps this share of its size from the widest bracket on
UNBOUNDED_GROWTH = 100.0  # |f| this many times larger at the narrowest bracket: a pole or a cusp


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


def steps_on(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, y: np.ndarray) -> Steps:
    """The abrupt changes of the element-wise f, sampled as y on the grid x (jump_groups of y),
    each bisected and classified by refine_steps."""
    groups = np.array(jump_groups(y), dtype=int).reshape(-1, 2)
    return refine_steps(f, x[groups[:, 0]], x[groups[:, 1]])


def falls_forever(v: np.ndarray) -> bool:
    """True when v keeps decreasing along a ray and its decrements do not die out (or hits −inf)."""
    if np.any(v == -np.inf):
        return True
    if not np.all(np.isfinite(v)):
        return False
    drops = -np.diff(v)
    return bool(np.all(drops > 0) and np.all(drops[1:] >= 0.5 * drops[:-1]))
