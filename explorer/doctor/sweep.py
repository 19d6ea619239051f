"""The doctor's sweep: `diagnose_loss` examines a catalogue or formula loss along its 1-D axis
(residual, margin, logit or probability) and names what it finds.

Besides the grid, the loss is evaluated exactly where things happen (0, its thresholds, the edges
of the probability axis), and every abrupt change the grid shows is refined before it is named: a
jump or kink must keep its size across brackets 1e-6 to 1e-12 wide, a pole grows there, and a
steep but continuous loss is neither."""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import Tensor

from explorer.doctor.callables import check_scalar
from explorer.doctor.findings import Finding, Severity, by_severity, finding, fmt
from explorer.gradients.curves import (
    Curve,
    autograd_curve,
    curve_grid,
    gradient_steps,
    loss_curve,
    loss_steps,
    pointwise_loss,
)
from explorer.gradients.jumps import Steps, falls_forever
from explorer.losses import LossSpec, curve_inputs
from explorer.rng import GLOBAL_RNG

FLAT_TOL = 1e-9  # |dL/dx| below FLAT_TOL·max(1, typical |dL/dx|) counts as zero
# fraction of flat points -> severity, checked in this order
FLAT_LEVELS: tuple[tuple[float, Severity], ...] = ((0.9, "error"), (0.5, "warning"), (0.2, "info"))
FAR = (1.0, 10.0, 100.0, 1000.0)  # multiples of the sweep's end for the unbounded-below probe
NEAR_EDGE = (1e-2, 1e-4, 1e-8, 1e-12)  # distances from 0 and 1 on the probability axis
SCALAR_PROBE = 5  # samples the reduction="mean" check runs on
SPECIAL_REACH = 3.0  # special points up to this many times the sweep's farther end are evaluated


def formula_numbers(spec: LossSpec) -> list[float]:
    """The numbers written in a typed formula (its thresholds among them); none for a catalogue loss."""
    tree = getattr(spec.fn, "tree", None)
    if not isinstance(tree, ast.AST):
        return []
    constants = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)]
    return [float(v) for v in constants if isinstance(v, int | float) and not isinstance(v, bool)]


def special_points(spec: LossSpec, params: Mapping[str, float]) -> np.ndarray:
    """Where things happen on the axis, to be evaluated exactly (a grid passes them by a rounding
    error): 0 and ±1, ± every parameter (t, delta, margin …) and every number of a formula, as
    far out as SPECIAL_REACH times the sweep; on the probability axis its edges 0 and 1 and the
    numbers (and 1 − them) that lie in [0, 1]."""
    numbers = [float(v) for v in params.values()] + formula_numbers(spec)
    if spec.x_axis == "probability":
        inside = [v for v in numbers if 0.0 <= v <= 1.0]
        return np.unique([0.0, 1.0, *inside, *(1.0 - v for v in inside)])
    reach = SPECIAL_REACH * float(curve_grid(spec.x_axis).abs().max())
    points = [0.0, 1.0, -1.0, *numbers, *(-v for v in numbers)]
    return np.unique([p for p in points if math.isfinite(p) and abs(p) <= reach])


def exact_point_parts(spec: LossSpec, params: Mapping[str, float], axis: str) -> list[str]:
    """What is not finite exactly at the special points: L, or its autograd gradient."""
    x = special_points(spec, params)
    value, grad = (t.numpy() for t in autograd_curve(spec, params, torch.as_tensor(x)))
    parts = []
    for what, v in (("L", value), (f"dL/d{axis}", grad)):
        bad = ~np.isfinite(v)
        if bad.any():
            parts.append(f"{what} = {fmt(v[bad])} exactly at {axis} = {fmt(x[bad])}")
    return parts


def unbounded_parts(values: Steps, grads: Steps, axis: str) -> list[str]:
    """Where L or dL/dx grows without bound between grid points (a pole, a cusp, a log)."""
    return [
        f"{what} grows without bound towards {axis} ≈ {fmt(steps.of('unbounded')[0])}"
        for what, steps in (("|L|", values), (f"|dL/d{axis}|", grads))
        if steps.of("unbounded")[0].size
    ]


def check_nan_inf(
    c: Curve, *, exact: list[str] | None = None, unbounded: list[str] | None = None
) -> list[Finding]:
    """An error where the value or the autograd gradient is NaN or ±inf: on the grid, exactly at
    the special points (`exact`), or in the limit towards a point between grid points (`unbounded`)."""
    bad_v, bad_g = ~np.isfinite(c.value), ~np.isfinite(c.grad_autograd)
    parts = [
        f"{what} non-finite at {bad.sum()} of {c.x.size} points ({c.x_axis} = {fmt(c.x[bad])})"
        for what, bad in (("L", bad_v), ("dL/dx", bad_g))
        if bad.any()
    ]
    parts += (exact or []) + (unbounded or [])
    return [finding("nan_inf", "error", "; ".join(parts))] if parts else []


def tiny_gradient(g: np.ndarray) -> float:
    """|dL/dx| below this is zero in practice: FLAT_TOL times the 90th percentile of |g| (at least 1),
    so one singular point (1/r at r ≈ 0) does not make everything else look flat."""
    finite = np.abs(g[np.isfinite(g)])
    return FLAT_TOL * max(1.0, float(np.percentile(finite, 90)) if finite.size else 0.0)


def check_flat(c: Curve) -> list[Finding]:
    """Flat, graded by the fraction of the sweep where the gradient is zero in practice."""
    ok = np.isfinite(c.grad_autograd)
    g, x = np.abs(c.grad_autograd[ok]), c.x[ok]
    if g.size == 0:
        return []
    tiny = tiny_gradient(g)
    flat = g < tiny
    frac = float(flat.mean())
    level = next((sev for limit, sev in FLAT_LEVELS if frac >= limit), None)
    if level is None:
        return []
    span = f"[{x[~flat].min():.3g}, {x[~flat].max():.3g}]" if not flat.all() else ""
    where = f"only for {c.x_axis} in {span}" if span else "nowhere"
    seen = (
        f"|dL/d{c.x_axis}| < {tiny:.2g} (zero in practice) at {flat.sum()} of {g.size} points "
        f"({frac:.0%}) of the sweep [{c.x[0]:.3g}, {c.x[-1]:.3g}]; nonzero {where}"
    )
    return [finding("flat", level, seen)]


def check_kinks(c: Curve, values: Steps, grads: Steps) -> list[Finding]:
    """A jump finding where L itself jumps, a kink finding where only its gradient does.

    values, grads: the abrupt changes of L and of dL/dx, refined (`loss_steps`, `gradient_steps`):
    only those that keep their size as the bracket shrinks count; a steep but continuous L or
    dL/dx is neither."""
    out = []
    jumps, sizes = values.of("step")
    if jumps.size:
        seen = f"L jumps at {c.x_axis} ≈ {fmt(jumps)} by {fmt(sizes)}"
        out.append(finding("jump", "warning", seen))
    dx = np.abs(np.diff(c.x)).max()
    elsewhere = np.concatenate([jumps, values.of("unbounded")[0]])
    kinks, steps = grads.of("step")
    keep = np.array([not np.any(np.abs(elsewhere - k) <= dx) for k in kinks], dtype=bool)
    if keep.any():
        seen = f"dL/d{c.x_axis} jumps at {c.x_axis} ≈ {fmt(kinks[keep])} by {fmt(steps[keep])}"
        out.append(finding("kink", "info", seen))
    return out


def probe_points(c: Curve) -> list[np.ndarray]:
    """Rays of points running towards each end of the axis (far out, or to the edges 0 and 1)."""
    if c.x_axis == "probability":
        edge = np.array(NEAR_EDGE)
        return [edge, 1.0 - edge]
    lo, hi = min(c.x[0], -1.0), max(c.x[-1], 1.0)
    return [lo * np.array(FAR), hi * np.array(FAR)]


def check_unbounded_along_axis(
    spec: LossSpec, params: Mapping[str, float], c: Curve
) -> list[Finding]:
    """Unbounded below when L keeps falling along a ray towards either end of the axis."""
    for ray in probe_points(c):
        with torch.no_grad():
            v = pointwise_loss(spec, params, torch.as_tensor(ray, dtype=torch.float64)).numpy()
        if falls_forever(v):
            seen = f"L = {fmt(v)} at {c.x_axis} = {fmt(ray)}: it keeps falling"
            return [finding("unbounded_below", "error", seen)]
    return []


def check_mean_reduction(spec: LossSpec, params: Mapping[str, float]) -> list[Finding]:
    """Non-scalar when reduction="mean" of a few samples returns more than one number."""
    x = curve_grid(spec.x_axis, n=SCALAR_PROBE).requires_grad_(True)
    out = spec.fn(*curve_inputs(spec, x), reduction="mean", weights=None, **params)
    what = f'reduction="mean" returned shape {tuple(out.shape)} for {SCALAR_PROBE} samples'
    return check_scalar(out, what)


def check_outward(c: Curve) -> list[Finding]:
    """Outward push where a descent step on the residual axis makes |r| larger."""
    if c.x_axis != "residual":
        return []
    g, x = c.grad_autograd, c.x
    ok = np.isfinite(g) & (np.abs(g) > tiny_gradient(g))
    out = ok & (np.sign(g) * np.sign(x) < 0)
    if not out.any():
        return []
    worst = np.argmax(np.where(out, np.abs(g), -1.0))
    seen = (
        f"sign(dL/dr) = −sign(r) at {out.sum()} of {x.size} points, for |r| in "
        f"[{np.abs(x[out]).min():.3g}, {np.abs(x[out]).max():.3g}]; strongest dL/dr = "
        f"{g[worst]:.3g} at r = {x[worst]:.3g}"
    )
    return [finding("outward_push", "warning", seen)]


def check_deterministic(spec: LossSpec, params: Mapping[str, float], c: Curve) -> list[Finding]:
    """Not a function of its inputs when a second sweep over the same grid, with the global RNG
    moved on in between, gives other values (NaN equal to NaN)."""
    return check_repeats(lambda x: pointwise_loss(spec, params, x), c, c.x_axis)


def check_repeats(evaluate: Callable[[Tensor], Tensor], c: Curve, axis: str) -> list[Finding]:
    """Nondeterministic when evaluate, run again on the grid of c with the global RNG moved on
    in between, differs from c's values (NaN equal to NaN); `axis` names the grid's variable."""
    torch.rand(16)  # a loss that seeds its own generator repeats; one that draws unseeded does not
    with torch.no_grad():
        again = evaluate(torch.as_tensor(c.x)).numpy()
    if np.allclose(again, c.value, rtol=1e-12, atol=0, equal_nan=True):
        return []
    diff = np.nanmax(np.abs(again - c.value))
    seen = f"two evaluations at the same {axis} differ by up to {diff:.3g}"
    return [finding("nondeterministic", "error", seen)]


def diagnose_loss(
    spec: LossSpec, params: Mapping[str, float] | None = None, *, n: int = 401
) -> list[Finding]:
    """Findings for a catalogue or expression loss from its 1-D sweep, most severe first.

    Random draws inside the loss leave the global RNG as it was."""
    params = spec.clamp(params)
    with GLOBAL_RNG, torch.random.fork_rng(devices=[]):
        try:
            found = _diagnose_loss(spec, params, n)
        except (RuntimeError, ValueError, TypeError, IndexError) as err:
            found = [finding("loss_raised", "error", f"{type(err).__name__}: {err}")]
    return by_severity(found)


def _diagnose_loss(spec: LossSpec, params: Mapping[str, float], n: int) -> list[Finding]:
    c = loss_curve(spec, params, n=n)
    noisy = check_deterministic(spec, params, c)
    exact = exact_point_parts(spec, params, c.x_axis)
    if noisy:  # the shape checks read a noisy curve wrongly: leave them out
        return noisy + check_nan_inf(c, exact=exact) + check_mean_reduction(spec, params)
    values, grads = loss_steps(spec, params, c), gradient_steps(spec, params, c)
    unbounded = unbounded_parts(values, grads, c.x_axis)
    found = check_nan_inf(c, exact=exact, unbounded=unbounded) + check_mean_reduction(spec, params)
    found += check_flat(c) + check_kinks(c, values, grads) + check_outward(c)
    return found + check_unbounded_along_axis(spec, params, c)
