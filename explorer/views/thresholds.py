"""Hard steps and their sigmoid approximations, side by side: masks, losses and gradients."""

from dataclasses import dataclass

import numpy as np
import torch

from explorer.gradients.curves import loss_curve
from explorer.losses import get_loss

PAIRS = {
    "threshold": ("soft_threshold", "hard_threshold"),  # sigmoid(k(t − |r|))·r² vs [|r| < t]·r²
    "margin": ("sigmoid_margin", "zero_one"),  # sigmoid(−k·yŷ) vs step(−yŷ)
}
NEAR = 0.25  # |x − edge| below this counts as "near the step"


@dataclass(frozen=True)
class Side:
    """One member of a pair on the grid: its mask, loss value and dL/dx (plots read these)."""

    mask: np.ndarray
    value: np.ndarray
    grad: np.ndarray


@dataclass(frozen=True)
class Line:
    """One curve of plots.loss_curves: a legend name, the loss and its autograd derivative."""

    name: str
    value: np.ndarray
    grad_autograd: np.ndarray


@dataclass(frozen=True)
class Summary:
    """How much gradient each side passes near the step; the last two for "threshold" only."""

    soft_max_grad_near_step: float
    hard_max_grad_near_step: float
    hard_zero_fraction: float  # share of grid points where the hard gradient is exactly 0
    soft_zero_fraction: float
    soft_grad_at_t_closed_form: float | None = None  # −k·t²/4 + t: dL/dr at r = t
    outward_fraction_near_t: float | None = None  # share near ±t where descent pushes |r| out


@dataclass(frozen=True)
class Metric:
    """A figure the page quotes: its label and formatted value."""

    label: str
    value: str


@dataclass(frozen=True)
class SoftVsHard:
    """A pair's soft and hard member on one grid x, with the figures the page quotes."""

    pair: str  # a key of PAIRS
    x: np.ndarray
    k: float  # the steepness used (clamped)
    t: float  # the threshold used (0 for "margin")
    edges: tuple[float, ...]  # where the hard step jumps
    soft: Side
    hard: Side
    curves: tuple[Line, Line]  # soft then hard, for plots.loss_curves
    summary: Summary
    metrics: tuple[Metric, ...]
    outward: str  # a warning when descent pushes residuals outward, else ""


def soft_vs_hard(pair: str, *, k: float, t: float = 1.0, n: int = 801) -> SoftVsHard:
    """Mask, value and dL/dx of the soft and hard member of a pair on one grid, plus figures."""
    if pair not in PAIRS:
        raise ValueError(f"unknown pair {pair!r}; allowed: {', '.join(PAIRS)}")
    soft_spec, hard_spec = (get_loss(key) for key in PAIRS[pair])
    soft_params = soft_spec.clamp({"k": k, "t": t})
    k, t = soft_params["k"], soft_params.get("t", 0.0)
    lo, hi = (-3 * t, 3 * t) if pair == "threshold" else (-3.0, 3.0)
    soft = loss_curve(soft_spec, soft_params, lo=lo, hi=hi, n=n)
    hard = loss_curve(hard_spec, hard_spec.clamp({"t": t}), x=soft.x)
    x = torch.as_tensor(soft.x)
    if pair == "threshold":
        masks = torch.sigmoid(k * (t - x.abs())), (x.abs() < t).double()
    else:
        masks = torch.sigmoid(-k * x), (x < 0).double()
    soft_side, hard_side = (
        Side(m.numpy(), c.value, c.grad_autograd) for m, c in zip(masks, (soft, hard), strict=True)
    )
    edges: tuple[float, ...] = (-t, t) if pair == "threshold" else (0.0,)
    summary = _summary(pair, soft.x, soft_side, hard_side, edges, k, t)
    metrics, outward = _metrics(summary, k, t)
    curves = (
        Line(f"{soft_spec.key} (k = {k:g})", soft.value, soft.grad_autograd),
        Line(hard_spec.key, hard.value, hard.grad_autograd),
    )
    return SoftVsHard(
        pair, soft.x, k, t, edges, soft_side, hard_side, curves, summary, metrics, outward
    )


def _summary(
    pair: str,
    x: np.ndarray,
    soft: Side,
    hard: Side,
    edges: tuple[float, ...],
    k: float,
    t: float,
) -> Summary:
    """How much gradient each side passes near the step (and, for the threshold, at r = t)."""
    offsets = [np.abs(np.abs(x) - e) if pair == "threshold" else np.abs(x - e) for e in edges]
    near = np.min(offsets, axis=0) < NEAR
    figures = {}
    if pair == "threshold":
        figures["soft_grad_at_t_closed_form"] = -k * t**2 / 4 + t  # d/dr at r = t, sign(r) = +1
        figures["outward_fraction_near_t"] = float(np.mean((soft.grad * x < 0)[near]))
    return Summary(
        soft_max_grad_near_step=float(np.max(np.abs(soft.grad[near]))),
        hard_max_grad_near_step=float(np.max(np.abs(hard.grad[near]))),
        hard_zero_fraction=float(np.mean(hard.grad == 0.0)),
        soft_zero_fraction=float(np.mean(soft.grad == 0.0)),
        **figures,
    )


def _metrics(s: Summary, k: float, t: float) -> tuple[tuple[Metric, ...], str]:
    """The figures a page quotes and a warning when descent pushes outward (else "")."""
    metrics = [
        Metric("max |soft gradient| near the step", f"{s.soft_max_grad_near_step:.3g}"),
        Metric("max |hard gradient| near the step", f"{s.hard_max_grad_near_step:.3g}"),
        Metric("hard: points with exactly zero gradient", f"{s.hard_zero_fraction:.0%}"),
    ]
    closed = s.soft_grad_at_t_closed_form
    if closed is None:
        return tuple(metrics), ""
    metrics.append(Metric("soft dL/dr at r = t (= −k·t²/4 + t)", f"{closed:.3g}"))
    if closed >= 0:
        return tuple(metrics), ""
    return tuple(metrics), (
        f"With k = {k:g} and t = {t:g} the soft threshold's gradient at |r| = t "
        f"is {closed:.3g}·sign(r): a descent step pushes residuals near the threshold outwards, "
        "so points just inside it are pushed out rather than fitted."
    )
