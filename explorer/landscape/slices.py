"""1-D slices of the loss: along any line, between two parameter vectors, along a random
filter-normalized direction; each with dL/dt by autograd through the batched evaluation."""

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from torch import nn

from explorer.landscape.batched import plane_losses
from explorer.landscape.directions import filter_normalized_directions
from explorer.landscape.surface import _centre, check_points, check_span
from explorer.objective import Objective


@dataclass(frozen=True)
class Slice1D:
    """values[i] = L(start + t[i]·direction); grad[i] = dL/dt there."""

    t: np.ndarray
    values: np.ndarray
    grad: np.ndarray
    start: np.ndarray  # (P,)
    direction: np.ndarray  # (P,)
    label: str


def line_slice(
    model: nn.Module,
    obj: Objective,
    start: ArrayLike,
    direction: ArrayLike,
    t: ArrayLike,
    *,
    label: str = "t",
    **engine: Any,
) -> Slice1D:
    """L(start + t·direction) and dL/dt at each t (batched, autograd).

    engine: chunk, budget_mib, device, as for plane_losses.
    """
    at = np.asarray(start, dtype=np.float64)
    along = np.asarray(direction, dtype=np.float64)
    ts = np.asarray(t, dtype=np.float64)
    values, grads = plane_losses(model, obj, at, along[None], ts[:, None], grad=True, **engine)
    assert grads is not None  # grad=True
    return Slice1D(
        t=ts,
        values=values.double().cpu().numpy(),
        grad=grads[:, 0].double().cpu().numpy(),
        start=at,
        direction=along,
        label=label,
    )


def interpolation_slice(
    model: nn.Module,
    obj: Objective,
    theta_a: ArrayLike,
    theta_b: ArrayLike,
    *,
    points: int = 101,
    margin: float = 0.25,
    **engine: Any,
) -> Slice1D:
    """The line θ(t) = θ_a + t·(θ_b − θ_a) for t in [−margin, 1 + margin] (t=0: θ_a, t=1: θ_b)."""
    check_points(points)
    if not (np.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin must be a finite number ≥ 0, got {margin!r}")
    a = np.asarray(theta_a, dtype=np.float64)
    t = np.linspace(-margin, 1 + margin, points)
    label = "interpolation t (0: start, 1: end)"
    return line_slice(model, obj, a, np.asarray(theta_b) - a, t, label=label, **engine)


def random_line(
    model: nn.Module,
    obj: Objective,
    *,
    points: int = 101,
    span: float = 1.0,
    seed: int = 0,
    keep_bias: bool = False,
    centre: ArrayLike | None = None,
    **engine: Any,
) -> Slice1D:
    """L(centre + t·d) for t in [−span, span] along one filter-normalized random direction d."""
    points, span = check_points(points), check_span(span)
    at = _centre(model, centre)
    d = filter_normalized_directions(model, at, n=1, seed=seed, keep_bias=keep_bias)[0]
    if not bool(d.norm() > 0):
        raise ValueError("the random direction is zero: every parameter is a bias; keep_bias=True")
    t = np.linspace(-span, span, points)
    return line_slice(model, obj, at, d.numpy(), t, label="random direction", **engine)
