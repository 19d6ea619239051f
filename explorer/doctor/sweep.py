"""The doctor's sweep: `diagnose_loss` examines a catalogue or formula loss along its 1-D axis
(residual, margin, logit or probability) and names what it finds."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from explorer.doctor.callables import check_scalar
from explorer.doctor.findings import Finding, Severity, by_severity, finding, fmt
from explorer.gradients import (
    Curve,
    bisected_jumps,
    curve_grid,
    falls_forever,
    loss_curve,
    pointwise_loss,
)
from explorer.losses import LossSpec, curve_inputs

FLAT_TOL = 1e-9  # |dL/dx| below FLAT_TOL·max(1, typical |dL/dx|) counts as zero
# fraction of flat points -> severity, checked in this order
FLAT_LEVELS: tuple[tuple[float, Severity], ...] = ((0.9, "error"), (0.5, "warning"), (0.2, "info"))
FAR = (1.0, 10.0, 100.0, 1000.0)  # multiples of the sweep's end for the unbounded-below probe
NEAR_EDGE = (1e-2, 1e-4, 1e-8, 1e-12)  # distances from 0 and 1 on the probability axis
SCALAR_PROBE = 5  # samples the reduction="mean" check runs on


def check_nan_inf(c: Curve) -> list[Finding]:
    """An error where the value or the autograd gradient is NaN or ±inf."""
    bad_v, bad_g = ~np.isfinite(c.value), ~np.isfinite(c.grad_autograd)
    if not (bad_v.any() or bad_g.any()):
        return []
    parts = [
        f"{what} non-finite at {bad.sum()} of {c.x.size} points ({c.x_axis} = {fmt(c.x[bad])})"
        for what, bad in (("L", bad_v), ("dL/dx", bad_g))
        if bad.any()
    ]
    return [finding("nan_inf", "error", "; ".join(parts))]


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


def gradient_steps(c: Curve, where: np.ndarray) -> np.ndarray:
    """dL/dx just right of each kink minus just left of it."""
    idx = np.clip(np.searchsorted(c.x, where), 1, c.x.size - 2)
    return c.grad_autograd[idx + 1] - c.grad_autograd[idx - 1]


def check_kinks(spec: LossSpec, params: Mapping[str, float], c: Curve) -> list[Finding]:
    """A jump finding where L itself jumps, a kink finding where only its gradient does."""
    out = []
    jumps, sizes = bisected_jumps(spec, params, c)
    if jumps.size:
        seen = f"L jumps at {c.x_axis} ≈ {fmt(jumps)} by {fmt(sizes)}"
        out.append(finding("jump", "warning", seen))
    dx = np.abs(np.diff(c.x)).max()
    kinks = [k for k in c.kinks if not np.any(np.abs(jumps - k) <= dx)]
    if kinks:
        seen = f"dL/d{c.x_axis} jumps at {c.x_axis} ≈ {fmt(kinks)} by {fmt(gradient_steps(c, np.array(kinks)))}"
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
    """Not a function of its inputs when a second sweep over the same grid gives other values."""
    with torch.no_grad():
        again = pointwise_loss(spec, params, torch.as_tensor(c.x)).numpy()
    if np.allclose(again, c.value, rtol=1e-12, atol=0, equal_nan=True):
        return []
    diff = np.nanmax(np.abs(again - c.value))
    seen = f"two evaluations at the same {c.x_axis} differ by up to {diff:.3g}"
    return [finding("nondeterministic", "error", seen)]


def diagnose_loss(
    spec: LossSpec, params: Mapping[str, float] | None = None, *, n: int = 401
) -> list[Finding]:
    """Findings for a catalogue or expression loss from its 1-D sweep, most severe first."""
    params = spec.clamp(params)
    try:
        c = loss_curve(spec, params, n=n)
        noisy = check_deterministic(spec, params, c)
        found = noisy + check_nan_inf(c) + check_mean_reduction(spec, params)
        if not noisy:  # the shape checks read a noisy curve wrongly: leave them out
            found += check_flat(c) + check_kinks(spec, params, c) + check_outward(c)
            found += check_unbounded_along_axis(spec, params, c)
    except (RuntimeError, ValueError, TypeError, IndexError) as err:
        found = [finding("loss_raised", "error", f"{type(err).__name__}: {err}")]
    return by_severity(found)
