"""Sweeps for the player: frames over a loss parameter instead of training steps.

On Landscape, the main loss's surface and −∇L field on the view's plane at each value of one of
its parameters; on Loss Shapes, a soft-vs-hard pair's curves as the steepness k sharpens the
sigmoid into the step. The player (explorer.views.player) plays them like steps."""

from dataclasses import replace

import numpy as np
from numpy.typing import ArrayLike

from explorer.losses import get_loss
from explorer.objective import objective
from explorer.plots.surface import scale_values
from explorer.training import build
from explorer.views.landscape import ViewConfig, same_plane
from explorer.views.panels import LandscapeView
from explorer.views.player import FIELD_POINTS, Curves, Player, Sweep, field_of
from explorer.views.thresholds import PAIRS, soft_vs_hard

SWEEP_FRAMES = 40  # frames of a parameter sweep
SWEEP_BUDGET = 1_500_000  # numbers a sweep may send (about 8 MB of JSON at most)


def sweep_values(lo: float, hi: float, frames: int = SWEEP_FRAMES) -> np.ndarray:
    """frames values from lo to hi: geometric when lo > 0 and hi/lo ≥ 20, else linear."""
    if lo > 0 and hi / lo >= 20:
        return np.geomspace(lo, hi, frames)
    return np.linspace(lo, hi, frames)


def landscape_sweep(
    config: ViewConfig, view: LandscapeView, param: str, frames: int = SWEEP_FRAMES, log=False
) -> Sweep:
    """The main loss on the view's plane for `frames` values of one of its parameters, from the
    parameter's min to its max, each with its −∇L field (the other parameters as configured)."""
    spec = get_loss(config.loss)
    names = [p.name for p in spec.params]
    if param not in names:
        raise ValueError(f"{spec.key} has no parameter {param!r}; it has: {', '.join(names)}")
    surface = view.panels[0].surface
    count = surface.values.size + 2 * FIELD_POINTS**2
    frames = max(2, min(frames, SWEEP_BUDGET // count))
    p = next(p for p in spec.params if p.name == param)
    values = sweep_values(p.min, p.max, frames)
    problem = build(replace(config, start=None).train_config(validate=False), spec)
    base = dict(config.loss_params)
    shown, us, vs = [], [], []
    for value in values:
        params = spec.clamp({**base, param: float(value)})
        obj = objective(problem.dataset, spec, params)
        s = same_plane(problem.model, obj, surface)
        f = field_of(s)
        shown.append(scale_values(s.values, log)[0])
        us.append(f.u)
        vs.append(f.v)
    return Sweep(param, values, np.stack(shown), np.stack(us), np.stack(vs))


def curve_sweep(curves: Curves, param: str, values: ArrayLike) -> Sweep:
    """A sweep of 1-D curves (one value and gradient row per parameter value)."""
    values = np.asarray(values, dtype=np.float64)
    if (
        curves.value.shape != (values.size, curves.x.size)
        or curves.grad.shape != curves.value.shape
    ):
        raise ValueError("curves need one row of value and gradient per parameter value")
    return Sweep(param, values, curves=curves)


def pair_player(pair: str, *, t: float = 1.0, frames: int = SWEEP_FRAMES, n: int = 401) -> Player:
    """A sweep of a soft-vs-hard pair's steepness k over its whole range: the soft loss and its
    derivative at each k, the hard one drawn fixed (explorer.views.thresholds computes both)."""
    soft = get_loss(PAIRS[pair][0]) if pair in PAIRS else None
    if soft is None:
        raise ValueError(f"unknown pair {pair!r}; allowed: {', '.join(PAIRS)}")
    k = next(p for p in soft.params if p.name == "k")
    values = sweep_values(k.min, k.max, frames)
    views = [soft_vs_hard(pair, k=float(v), t=t, n=n) for v in values]
    first = views[0]
    hard = first.curves[1]
    curves = Curves(
        x=first.x,
        value=np.stack([v.curves[0].value for v in views]),
        grad=np.stack([v.curves[0].grad_autograd for v in views]),
        x_label="residual r = ŷ − y" if pair == "threshold" else "margin m = y·ŷ",
        fixed_name=hard.name,
        fixed_value=hard.value,
        fixed_grad=hard.grad_autograd,
    )
    return Player(
        id=f"pair-{pair}",
        revision=f"pair|{pair}|{first.t:g}",
        labels=("", ""),
        alpha_range=(float(first.x[0]), float(first.x[-1])),
        beta_range=(0.0, 1.0),
        surface=None,
        runs=(),
        sweep=curve_sweep(curves, "k", np.array([v.k for v in views])),
        title=f"{soft.name} as k goes from {values[0]:g} to {values[-1]:g}, beside "
        f"{get_loss(PAIRS[pair][1]).name}",
        hint="Play or scrub: the sigmoid sharpens into the step, and its gradient into a spike.",
    )
