"""Loss landscapes: surfaces over 2-D slices of parameter space with their gradient fields,
1-D slices, and training trajectories projected honestly onto a surface's plane.

A slice point is θ(a, b) = centre + (a − a₀)·d₁ + (b − b₀)·d₂, where (a₀, b₀) are the centre's
own coordinates: the parameter values for "params" axes, 0 for direction axes. Every grid is
evaluated batched (explorer.batched), never one model evaluation per point.
"""

import math
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import torch
from torch import nn

from explorer.batched import DEFAULT_BUDGET_MIB, Objective, losses_at, plane_losses
from explorer.directions import (
    filter_normalized_directions,
    hessian_eigenpairs,
    param_axes,
    pca_directions,
)
from explorer.models import flat_params

AXES = ("params", "random", "pca", "hessian")
STEPS_RANGE = (5, 401)
AUTO_MARGIN = 1.25  # span fitted to a trajectory: this times its largest |coordinate|
PARALLEL_COS = 0.99  # two axes closer to parallel than this do not span a plane


@dataclass(frozen=True)
class SurfaceConfig:
    """Which 2-D slice to evaluate, and how finely."""

    axes: str = "random"  # "params" | "random" | "pca" | "hessian"
    steps: int = 41  # grid points per axis, in STEPS_RANGE
    span: float | None = None  # grid half-width; None: 1, or fitted to the trajectory
    names: tuple[str, str] | None = None  # "params": two theta entries; None: the model's two
    seed: int = 0  # "random" directions (and the Lanczos start vector)
    keep_bias: bool = False  # "random": normalize bias / 1-D parameters instead of zeroing them

    def validate(self) -> "SurfaceConfig":
        """This config, or ValueError naming the allowed values."""
        if self.axes not in AXES:
            raise ValueError(f"unknown axes {self.axes!r}; allowed: {', '.join(AXES)}")
        check_steps(self.steps)
        if self.span is not None:
            check_span(self.span)
        return self


def check_steps(steps) -> int:
    """steps as an int, or ValueError naming the allowed range."""
    lo, hi = STEPS_RANGE
    if isinstance(steps, bool) or not isinstance(steps, Integral) or not lo <= steps <= hi:
        raise ValueError(f"steps must be an integer in [{lo}, {hi}], got {steps!r}")
    return int(steps)


def check_span(span) -> float:
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
    kind: str  # one of AXES
    explained: tuple[float, float] | None = None  # "pca": fraction of the path each axis holds
    eigenvalues: tuple[float, float] | None = None  # "hessian": λ₁, λ₂

    def theta(self, a: float, b: float) -> np.ndarray:
        """The parameter vector at coordinates (a, b)."""
        (a0, b0), (d1, d2) = self.origin, self.directions
        return self.centre + (a - a0) * d1 + (b - b0) * d2


@dataclass(frozen=True)
class Slice1D:
    """values[i] = L(start + t[i]·direction); grad[i] = dL/dt there."""

    t: np.ndarray
    values: np.ndarray
    grad: np.ndarray
    start: np.ndarray  # (P,)
    direction: np.ndarray  # (P,)
    label: str


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


def _centre(model: nn.Module, centre) -> np.ndarray:
    """The centre as flat float64 theta: the model's parameters by default; checked."""
    centre = flat_params(model) if centre is None else np.asarray(centre, dtype=np.float64)
    size = sum(p.numel() for p in model.parameters())
    if centre.shape != (size,) or not np.isfinite(centre).all():
        raise ValueError(f"centre must be {size} finite numbers (flat theta), got {centre.shape}")
    return centre


def trajectory_thetas(trajectory, size: int) -> tuple[np.ndarray, np.ndarray]:
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


def _axes(model, obj, centre, config, thetas):
    """(directions (2, P), origin, labels, extras) for config.axes."""
    if config.axes == "params":
        dirs, names = param_axes(model, config.names)
        origin = tuple(float(centre[int(i)]) for i in dirs.argmax(dim=1))
        return dirs.numpy(), origin, names, {}
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
        dirs, frac = pca_directions(thetas, centre)
        labels = tuple(f"PC{i + 1} ({100 * f:.1f}% of the path)" for i, f in enumerate(frac))
        return dirs.numpy(), (0.0, 0.0), labels, {"explained": tuple(frac.tolist())}
    vals, dirs = hessian_eigenpairs(model, obj, centre, k=2, seed=config.seed)
    labels = tuple(f"Hessian eigenvector {i + 1} (λ = {v:.4g})" for i, v in enumerate(vals))
    return dirs.numpy(), (0.0, 0.0), labels, {"eigenvalues": tuple(vals.tolist())}


def _check_plane(dirs: torch.Tensor, what: str) -> None:
    norms = dirs.norm(dim=1)
    if not bool((norms > 0).all()) or abs(float(dirs[0] @ dirs[1] / norms.prod())) > PARALLEL_COS:
        raise ValueError(
            f"{what} directions do not span a plane for this model (its filters have one entry "
            "each, or all its parameters are biases); use keep_bias=True or axes 'params'"
        )


def _coords(thetas: np.ndarray, centre: np.ndarray, dirs: np.ndarray):
    """Least-squares coordinates (T, 2) of θ_t − centre on the rows of dirs, and residual norms."""
    diffs = thetas - centre
    coef = np.linalg.lstsq(dirs.T, diffs.T, rcond=None)[0].T
    return coef, np.linalg.norm(diffs - coef @ dirs, axis=1)


def loss_surface(
    model: nn.Module,
    obj: Objective,
    config: SurfaceConfig | None = None,
    *,
    trajectory=None,
    centre=None,
    grad: bool = True,
    chunk: int | None = None,
    budget_mib: float = DEFAULT_BUDGET_MIB,
    device=None,
) -> Surface:
    """The loss on a config.steps² grid around centre (default: the model's parameters).

    Grid: a₀ ± span by b₀ ± span. span=None fits the trajectory's projection when one is given.
    """
    config = (config or SurfaceConfig()).validate()
    centre = _centre(model, centre)
    thetas = None if trajectory is None else trajectory_thetas(trajectory, centre.size)[1]
    dirs, origin, labels, extras = _axes(model, obj, centre, config, thetas)
    span = config.span
    if span is None:
        span = 1.0 if thetas is None else _fit_span(thetas, centre, dirs)
    offsets = np.linspace(-span, span, config.steps)
    grid = torch.cartesian_prod(torch.as_tensor(offsets), torch.as_tensor(offsets))
    values, grads = plane_losses(
        model, obj, centre, dirs, grid, grad=grad, chunk=chunk, budget_mib=budget_mib, device=device
    )
    shape = (config.steps, config.steps)
    grads = None if grads is None else grads.double().cpu().numpy().reshape(*shape, 2)
    return Surface(
        alpha=origin[0] + offsets,
        beta=origin[1] + offsets,
        values=values.double().cpu().numpy().reshape(shape),
        grad_alpha=None if grads is None else grads[..., 0],
        grad_beta=None if grads is None else grads[..., 1],
        centre=centre,
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
    model: nn.Module, obj: Objective, surface: Surface, trajectory, **engine
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


def line_slice(
    model: nn.Module, obj: Objective, start, direction, t, *, label: str = "t", **engine
) -> Slice1D:
    """L(start + t·direction) and dL/dt at each t (batched, autograd)."""
    start = np.asarray(start, dtype=np.float64)
    direction = np.asarray(direction, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    values, grads = plane_losses(
        model, obj, start, direction[None], t[:, None], grad=True, **engine
    )
    return Slice1D(
        t=t,
        values=values.double().cpu().numpy(),
        grad=grads[:, 0].double().cpu().numpy(),
        start=start,
        direction=direction,
        label=label,
    )


def interpolation_slice(
    model: nn.Module, obj: Objective, theta_a, theta_b, *, steps=101, margin=0.25, **engine
) -> Slice1D:
    """The line θ(t) = θ_a + t·(θ_b − θ_a) for t in [−margin, 1 + margin] (t=0: θ_a, t=1: θ_b)."""
    check_steps(steps)
    if not (np.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin must be a finite number ≥ 0, got {margin!r}")
    theta_a = np.asarray(theta_a, dtype=np.float64)
    t = np.linspace(-margin, 1 + margin, steps)
    label = "interpolation t (0: start, 1: end)"
    return line_slice(model, obj, theta_a, np.asarray(theta_b) - theta_a, t, label=label, **engine)


def random_line(
    model: nn.Module,
    obj: Objective,
    *,
    steps=101,
    span=1.0,
    seed=0,
    keep_bias=False,
    centre=None,
    **engine,
) -> Slice1D:
    """L(centre + t·d) for t in [−span, span] along one filter-normalized random direction d."""
    steps, span = check_steps(steps), check_span(span)
    centre = _centre(model, centre)
    d = filter_normalized_directions(model, centre, n=1, seed=seed, keep_bias=keep_bias)[0]
    if not bool(d.norm() > 0):
        raise ValueError("the random direction is zero: every parameter is a bias; keep_bias=True")
    t = np.linspace(-span, span, steps)
    return line_slice(model, obj, centre, d.numpy(), t, label="random direction", **engine)
