"""The landscape engine: loss surfaces over 2-D planes of parameter space with their gradient
fields, 1-D slices, honest trajectory projections, and the directions that span them.

`batched` evaluates L(θ) for many θ at once (on the elementwise `kernels` timed fastest here), `directions` makes the axes (named parameters,
filter-normalized random, PCA of a path, Hessian eigenvectors), `surface` the grids and
projections, `slices` the 1-D cuts.
"""

from explorer.landscape.batched import BatchedLoss, losses_at, plane_losses
from explorer.landscape.directions import (
    filter_normalized_directions,
    hessian_eigenpairs,
    param_axes,
    pca_directions,
)
from explorer.landscape.slices import Slice1D, interpolation_slice, line_slice, random_line
from explorer.landscape.surface import (
    AXES,
    POINTS_RANGE,
    AxisKind,
    Projection,
    Surface,
    SurfaceConfig,
    check_points,
    check_span,
    loss_surface,
    project_trajectory,
    trajectory_thetas,
)

__all__ = [
    "AXES",
    "POINTS_RANGE",
    "AxisKind",
    "BatchedLoss",
    "Projection",
    "Slice1D",
    "Surface",
    "SurfaceConfig",
    "check_span",
    "check_points",
    "filter_normalized_directions",
    "hessian_eigenpairs",
    "interpolation_slice",
    "line_slice",
    "losses_at",
    "loss_surface",
    "param_axes",
    "pca_directions",
    "plane_losses",
    "project_trajectory",
    "random_line",
    "trajectory_thetas",
]
