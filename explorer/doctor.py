"""The gradient doctor: findings about a loss, each with what was seen (numbers), why, and a fix.

`diagnose_loss` sweeps a catalogue or expression loss along its 1-D axis. Python callables and
custom autograd Functions are examined in `explorer.doctor_callable` (re-exported here).
"""

from __future__ import annotations

import numpy as np
import torch

from explorer.doctor_callable import diagnose_callable, diagnose_function
from explorer.findings import Finding, by_severity, finding, fmt
from explorer.gradients import (
    Curve,
    curve_grid,
    falls_forever,
    jump_groups,
    loss_curve,
    pointwise_loss,
)
from explorer.losses import curve_inputs

FLAT_TOL = 1e-9  # |dL/dx| below FLAT_TOL·max(1, typical |dL/dx|) counts as zero
FLAT_LEVELS = ((0.9, "error"), (0.5, "warning"), (0.2, "info"))  # fraction of flat points
FAR = (1.0, 10.0, 100.0, 1000.0)  # multiples of the sweep's end for the unbounded-below probe
NEAR_EDGE = (1e-2, 1e-4, 1e-8, 1e-12)  # distances from 0 and 1 on the probability axis
BISECTIONS = 40  # halvings of a grid interval to place a jump of L (to ~1e-14)


def check_nan_inf(c: Curve) -> list[Finding]:
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


def locate_jumps(spec, params: dict, lo: np.ndarray, hi: np.ndarray, left, right) -> np.ndarray:
    """Bisect each bracket [lo, hi] to where L switches from its left branch to its right one."""
    lo, hi = torch.as_tensor(lo), torch.as_tensor(hi)
    with torch.no_grad():
        for _ in range(BISECTIONS):
            mid = (lo + hi) / 2
            v = pointwise_loss(spec, params, mid).numpy()
            on_left = torch.as_tensor(
                np.abs(v - left(mid.numpy())) <= np.abs(v - right(mid.numpy()))
            )
            lo, hi = torch.where(on_left, mid, lo), torch.where(on_left, hi, mid)
    return np.round(((lo + hi) / 2).numpy(), 9)


def value_jumps(spec, params: dict, c: Curve) -> tuple[np.ndarray, np.ndarray]:
    """(where, by how much) L itself jumps: its one-sided tangent lines compared at the jump."""
    groups = jump_groups(c.value)
    if not groups:
        return np.empty(0), np.empty(0)
    a, b = np.array(groups).T
    x, v, g = c.x, c.value, c.grad_autograd
    left = lambda t: v[a] + g[a] * (t - x[a])
    right = lambda t: v[b] + g[b] * (t - x[b])
    where = locate_jumps(spec, params, x[a], x[b], left, right)
    size = right(where) - left(where)
    big = np.abs(size) > 1e-9 * np.maximum(1.0, np.maximum(np.abs(v[a]), np.abs(v[b])))
    return where[big], size[big]


def gradient_steps(c: Curve, where: np.ndarray) -> np.ndarray:
    """dL/dx just right of each kink minus just left of it."""
    idx = np.clip(np.searchsorted(c.x, where), 1, c.x.size - 2)
    return c.grad_autograd[idx + 1] - c.grad_autograd[idx - 1]


def check_kinks(spec, params: dict, c: Curve) -> list[Finding]:
    out = []
    jumps, sizes = value_jumps(spec, params, c)
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


def check_unbounded(spec, params: dict, c: Curve) -> list[Finding]:
    for ray in probe_points(c):
        with torch.no_grad():
            v = pointwise_loss(spec, params, torch.as_tensor(ray, dtype=torch.float64)).numpy()
        if falls_forever(v):
            seen = f"L = {fmt(v)} at {c.x_axis} = {fmt(ray)}: it keeps falling"
            return [finding("unbounded_below", "error", seen)]
    return []


def check_scalar(spec, params: dict) -> list[Finding]:
    x = curve_grid(spec.x_axis, n=5).requires_grad_(True)
    out = spec.fn(*curve_inputs(spec, x), reduction="mean", **params)
    if out.numel() == 1:
        return []
    try:
        out.backward()
        message = "no error from backward()"
    except RuntimeError as err:
        message = f"backward() raises: {err}"
    seen = f'reduction="mean" returned shape {tuple(out.shape)} for 5 samples; {message}'
    return [finding("non_scalar", "error", seen)]


def check_outward(c: Curve) -> list[Finding]:
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


def check_deterministic(spec, params: dict, c: Curve) -> list[Finding]:
    with torch.no_grad():
        again = pointwise_loss(spec, params, torch.as_tensor(c.x)).numpy()
    if np.allclose(again, c.value, rtol=1e-12, atol=0, equal_nan=True):
        return []
    diff = np.nanmax(np.abs(again - c.value))
    seen = f"two evaluations at the same {c.x_axis} differ by up to {diff:.3g}"
    return [finding("nondeterministic", "error", seen)]


def diagnose_loss(spec, params: dict | None = None, *, n: int = 401) -> list[Finding]:
    """Findings for a catalogue or expression loss from its 1-D sweep, most severe first."""
    params = spec.clamp(params)
    try:
        c = loss_curve(spec, params, n=n)
        noisy = check_deterministic(spec, params, c)
        found = noisy + check_nan_inf(c) + check_scalar(spec, params)
        if not noisy:  # the shape checks read a noisy curve wrongly: leave them out
            found += check_flat(c) + check_kinks(spec, params, c) + check_outward(c)
            found += check_unbounded(spec, params, c)
    except (RuntimeError, ValueError, TypeError, IndexError) as err:
        found = [finding("loss_raised", "error", f"{type(err).__name__}: {err}")]
    return by_severity(found)


__all__ = ["Finding", "diagnose_callable", "diagnose_function", "diagnose_loss", "finding"]
