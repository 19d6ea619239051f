"""Loss landscapes: surfaces over 2-D slices of parameter space with their gradient fields,
1-D slices, and training trajectories projected honestly onto a surface's plane.

A slice point is θ(a, b) = centre + (a − a₀)·d₁ + (b − b₀)·d₂, where (a₀, b₀) are the centre's
own coordinates: the parameter values for "params" axes, 0 for direction axes. Every grid is
evaluated batched (explorer.landscape.batched), never one model evaluation per point.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass
from numbers import Integral
from typing import Any, Literal, get_args

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn
from torch.types import Device

from explorer.landscape.batched import DEFAULT_BUDGET_MIB, grid_losses, losses_at, plane_losses
from explorer.landscape.directions import (
    filter_normalized_directions,
    hessian_eigenpairs,
    param_axes,
    pca_directions,
)
from explorer.models import flat_params
from explorer.objective import Objective

# what spans a surface's plane: two named parameters, filter-normalized random directions,
# the principal components of a trajectory, or the Hessian's top eigenvectors
AxisKind = Literal["params", "random", "pca", "hessian"]
AXES: tuple[AxisKind, ...] = get_args(AxisKind)
# "pca" axes: principal components of the mean-centred path (Li et al. 2018, sklearn's PCA), or
# of the path about the surface's centre, uncentred (the SVD of θ_t − centre)
PcaKind = Literal["centred", "uncentred"]
PCA_KINDS: tuple[PcaKind, ...] = get_args(PcaKind)
POINTS_RANGE = (5, 401)  # grid points per axis (not optimizer steps)
AUTO_MARGIN = 1.25  # span fitted to a trajectory: this times its largest |coordinate|
PARALLEL_COS = 0.99  # two axes closer to parallel than this do not span a plane


@dataclass(frozen=True)
class SurfaceConfig:
    """Which 2-D slice to evaluate, and how finely."""

    axes: AxisKind = "random"
    points: int = 41  # grid points per axis, in POINTS_RANGE
    span: float | None = None  # grid half-width; None: 1, or fitted to the trajectory
    names: tuple[str, str] | None = None  # "params": two theta entries; None: the model's two
    seed: int = 0  # "random" directions (and the Lanczos start vector)
    keep_bias: bool = False  # "random": normalize bias / 1-D parameters instead of zeroing them
    pca: PcaKind = "centred"  # "pca": directions of the centred path, or uncentred about the centre

    def validate(self) -> "SurfaceConfig":
        """This config, or ValueError naming the allowed values."""
        if self.axes not in AXES:
            raise ValueError(f"unknown axes {self.axes!r}; allowed: {', '.join(AXES)}")
        if self.pca not in PCA_KINDS:
            raise ValueError(f"unknown pca {self.pca!r}; allowed: {', '.join(PCA_KINDS)}")
        check_points(self.points)
        if self.span is not None:
            check_span(self.span)
        return self


def check_points(points: object) -> int:
    """Grid points per axis as an int, or ValueError naming the allowed range."""
    lo, hi = POINTS_RANGE
    if isinstance(points, bool) or not isinstance(points, Integral) or not lo <= int(points) <= hi:
        raise ValueError(f"points must be an integer in [{lo}, {hi}], got {points!r}")
    return int(points)


def check_span(span: Any) -> float:
    """span as a float, or ValueError unless it is finite and > 0."""
    try:
        value = float(span)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"span must be a finite number > 0, got {span!r}")
    return value


@dataclass(frozen=True)
class Surface:
    """values[i, j] = L(θ(alpha[i], beta[j])); grad_alpha/grad_beta = ∂L/∂a, ∂L/∂b there."""

    alpha: np.ndarray  # (S,)
    beta: np.ndarray  # (S,)
    values: np.ndarray  # (S, S)
    grad_alpha: np.ndarray | None  # (S, S), None when evaluated without gradients
    grad_beta: np.ndarray | None
    centre: np.ndarray  # (P,) theta at the centre
    directions: np.ndarray  # (2, P): d₁, d₂
    origin: tuple[float, float]  # (a₀, b₀): the centre's coordinates
    labels: tuple[str, str]
    kind: AxisKind
    # "pca": each axis's explained variance ratio (centred), or share of Σ‖θ_t − centre‖² (uncentred)
    explained: tuple[float, float] | None = None
    eigenvalues: tuple[float, float] | None = None  # "hessian": λ₁, λ₂

    def theta(self, a: float, b: float) -> np.ndarray:
        """The parameter vector at coordinates (a, b)."""
        (a0, b0), (d1, d2) = self.origin, self.directions
        return self.centre + (a - a0) * d1 + (b - b0) * d2


@dataclass(frozen=True)
class Projection:
    """A trajectory on a surface's plane: the TRUE loss at each step beside the surface value at
    its projection, and how far the projection moved it (0 when the step lies in the plane)."""

    step: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    loss: np.ndarray  # L(θ_t), the step's own loss on the full data
    surface: np.ndarray  # L at the projected point θ(alpha_t, beta_t)
    dropped: np.ndarray  # ‖θ_t − θ(alpha_t, beta_t)‖


def _centre(model: nn.Module, centre: ArrayLike | None) -> np.ndarray:
    """The centre as flat float64 theta: the model's parameters by default; checked."""
    if centre is None:
        at = flat_params(model)
        if not np.isfinite(at).all():
            raise ValueError("the model's parameters are not all finite; centre must be finite")
        return at
    at, size = np.asarray(centre, dtype=np.float64), sum(p.numel() for p in model.parameters())
    if at.shape != (size,) or not np.isfinite(at).all():
        raise ValueError(f"centre must be {size} finite numbers (flat theta), got {at.shape}")
    return at


def trajectory_thetas(trajectory: Iterable[Any], size: int) -> tuple[np.ndarray, np.ndarray]:
    """(steps (T,), thetas (T, size)) from StepRecords (anything with .theta) or flat vectors.

    Steps with non-finite parameters (a diverged run's end) are left out; `steps` says which stay.
    """
    items = list(trajectory)
    rows = [np.asarray(getattr(r, "theta", r), dtype=np.float64).ravel() for r in items]
    if not rows or any(r.shape != (size,) for r in rows):
        raise ValueError(f"a trajectory is ≥ 1 flat theta of {size} numbers (or StepRecords)")
    steps = np.asarray([getattr(r, "step", i) for i, r in enumerate(items)], dtype=np.float64)
    thetas = np.stack(rows)
    finite = np.isfinite(thetas).all(axis=1)
    if not finite.any():
        raise ValueError("every step of the trajectory has non-finite parameters")
    return steps[finite], thetas[finite]


def _axes(
    model: nn.Module,
    obj: Objective,
    centre: np.ndarray,
    config: SurfaceConfig,
    thetas: np.ndarray | None,
) -> tuple[np.ndarray, tuple[float, float], tuple[str, str], dict[str, Any]]:
    """(directions (2, P), origin, labels, extras) for config.axes."""
    if config.axes == "params":
        unit, names = param_axes(model, config.names)
        first, second = (float(v) for v in unit.numpy() @ centre)  # the centre's two entries
        return unit.numpy(), (first, second), names, {}
    if config.axes == "random":
        dirs = filter_normalized_directions(
            model, centre, seed=config.seed, keep_bias=config.keep_bias
        )
        _check_plane(dirs, "random (filter-normalized)")
        labels = ("random direction 1 (filter-normalized)", "random direction 2")
        return dirs.numpy(), (0.0, 0.0), labels, {}
    if config.axes == "pca":
        if thetas is None:
            raise ValueError("axes 'pca' needs a trajectory (StepRecords or flat thetas)")
        centred = config.pca == "centred"
        dirs, frac = pca_directions(thetas, centre, centred=centred)
        of = "of the path's variance" if centred else "of Σ‖θ − centre‖², uncentred"
        labels = _pair(f"PC{i + 1} ({100 * f:.1f}% {of})" for i, f in enumerate(frac))
        return dirs.numpy(), (0.0, 0.0), labels, {"explained": tuple(frac.tolist())}
    vals, dirs = hessian_eigenpairs(model, obj, centre, k=2, seed=config.seed)
    labels = _pair(f"Hessian eigenvector {i + 1} (λ = {v:.4g})" for i, v in enumerate(vals))
    return dirs.numpy(), (0.0, 0.0), labels, {"eigenvalues": tuple(vals.tolist())}


def _pair(labels: Iterable[str]) -> tuple[str, str]:
    """The two axis labels (of exactly two)."""
    first, second = labels
    return first, second


def _check_plane(dirs: torch.Tensor, what: str) -> None:
    norms = dirs.norm(dim=1)
    if not bool((norms > 0).all()) or abs(float(dirs[0] @ dirs[1] / norms.prod())) > PARALLEL_COS:
        raise ValueError(
            f"{what} directions do not span a plane for this model (its filters have one entry "
            "each, or all its parameters are biases); use keep_bias=True or axes 'params'"
        )


def _coords(
    thetas: np.ndarray, centre: np.ndarray, dirs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares coordinates (T, 2) of θ_t − centre on the rows of dirs, and residual norms."""
    diffs = thetas - centre
    coef = np.linalg.lstsq(dirs.T, diffs.T, rcond=None)[0].T
    return coef, np.linalg.norm(diffs - coef @ dirs, axis=1)


def loss_surface(
    model: nn.Module,
    obj: Objective,
    config: SurfaceConfig | None = None,
    *,
    trajectory: Iterable[Any] | None = None,
    centre: ArrayLike | None = None,
    grad: bool = True,
    chunk: int | None = None,
    budget_mib: float = DEFAULT_BUDGET_MIB,
    device: Device = None,
) -> Surface:
    """The loss on a config.points² grid around centre (default: the model's parameters).

    Grid: a₀ ± span by b₀ ± span. span=None fits the trajectory's projection when one is given.
    """
    config = (config or SurfaceConfig()).validate()
    at = _centre(model, centre)
    thetas = None if trajectory is None else trajectory_thetas(trajectory, at.size)[1]
    dirs, origin, labels, extras = _axes(model, obj, at, config, thetas)
    span = config.span
    if span is None:
        span = 1.0 if thetas is None else _fit_span(thetas, at, dirs)
    offsets = np.linspace(-span, span, config.points)
    values, on_grid = grid_losses(
        model,
        obj,
        at,
        dirs,
        offsets,
        offsets,
        grad=grad,
        chunk=chunk,
        budget_mib=budget_mib,
        device=device,
    )
    shape = (config.points, config.points)
    grads = None if on_grid is None else on_grid.double().cpu().numpy().reshape(*shape, 2)
    return Surface(
        alpha=origin[0] + offsets,
        beta=origin[1] + offsets,
        values=values.double().cpu().numpy().reshape(shape),
        grad_alpha=None if grads is None else grads[..., 0],
        grad_beta=None if grads is None else grads[..., 1],
        centre=at,
        directions=dirs,
        origin=origin,
        labels=labels,
        kind=config.axes,
        **extras,
    )


def _fit_span(thetas: np.ndarray, centre: np.ndarray, dirs: np.ndarray) -> float:
    coef, _ = _coords(thetas, centre, dirs)
    return AUTO_MARGIN * float(np.abs(coef).max()) or 1.0


def project_trajectory(
    model: nn.Module, obj: Objective, surface: Surface, trajectory: Iterable[Any], **engine: Any
) -> Projection:
    """Each step's θ_t projected (least squares) onto the surface's plane, with L(θ_t), the
    surface value at the projection, and the distance dropped. engine: chunk, budget_mib, device."""
    steps, thetas = trajectory_thetas(trajectory, surface.centre.size)
    coef, dropped = _coords(thetas, surface.centre, surface.directions)
    true = losses_at(model, obj, thetas, **engine)
    on_plane, _ = plane_losses(model, obj, surface.centre, surface.directions, coef, **engine)
    return Projection(
        step=steps,
        alpha=surface.origin[0] + coef[:, 0],
        beta=surface.origin[1] + coef[:, 1],
        loss=true.double().cpu().numpy(),
        surface=on_plane.double().cpu().numpy(),
        dropped=dropped,
    )
