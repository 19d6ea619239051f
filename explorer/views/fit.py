"""What a model predicts over its data set's input range: the inputs of `plots.fit_plot`."""

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from explorer.data import Dataset
from explorer.models import load_flat_params
from explorer.race import Race

GRID_RANGE = (2, 200)  # grid points per axis
MARGIN = 0.1  # the grid reaches this fraction of the data's range beyond it on each side


def _axis(values: torch.Tensor, points: int) -> torch.Tensor:
    """`points` evenly spaced values over [min, max] of values, widened by MARGIN of the range."""
    lo, hi = float(values.min()), float(values.max())
    pad = MARGIN * (hi - lo) or 1.0
    return torch.linspace(lo - pad, hi + pad, points, dtype=torch.float64)


@dataclass(frozen=True)
class LineGrid:
    """A regression model's curve: y[i] = ŷ(x[i])."""

    x: np.ndarray  # (points,)
    y: np.ndarray  # (points,)


@dataclass(frozen=True)
class RegionGrid:
    """A classifier over a 2-D input grid: zz[i, j] at (xx[i], yy[j]).

    binary / segmentation: zz (points, points) = σ(f) = P(class 1) (every binary loss here reads
    the raw output as a logit or a signed score: boundary at 0); multiclass: zz (points, points,
    K) = softmax of the logits.
    """

    xx: np.ndarray  # (points,)
    yy: np.ndarray  # (points,)
    zz: np.ndarray


@dataclass(frozen=True)
class FitInputs:
    """The data and the model's predictions over it: what plots.fit_plot draws."""

    x: np.ndarray  # (N,) for regression, else (N, 2)
    y: np.ndarray  # (N,) targets
    task: str
    outlier: np.ndarray  # (N,) bool
    grid: LineGrid | RegionGrid

    def kwargs(self) -> dict:
        """The keyword arguments of plots.fit_plot (its predict_grid is a mapping)."""
        return dict(
            x=self.x, y=self.y, task=self.task, outlier=self.outlier, predict_grid=vars(self.grid)
        )


def predict_grid(model: nn.Module, dataset: Dataset, points: int = 60) -> LineGrid | RegionGrid:
    """Predictions on a grid over the data's inputs: a LineGrid for regression (1-D x), else a
    RegionGrid (2-D x), with points points per axis (clamped into GRID_RANGE)."""
    points = int(min(max(points, GRID_RANGE[0]), GRID_RANGE[1]))
    x = dataset.x.detach().cpu()
    param = next(model.parameters())
    if dataset.task == "regression":
        grid = _axis(x[:, 0], points)
        with torch.no_grad():
            pred = model(grid[:, None].to(param))
        return LineGrid(grid.numpy(), pred.reshape(-1).cpu().double().numpy())
    if dataset.in_dim != 2:
        raise ValueError(
            f"decision regions need 2-D inputs; {dataset.name!r} is {dataset.in_dim}-D"
        )
    a, b = _axis(x[:, 0], points), _axis(x[:, 1], points)
    with torch.no_grad():
        out = model(torch.cartesian_prod(a, b).to(param)).cpu().double()
    probs = torch.softmax(out, -1) if out.dim() == 2 else torch.sigmoid(out)
    return RegionGrid(a.numpy(), b.numpy(), probs.reshape(points, points, -1).squeeze(-1).numpy())


def fit_inputs(model: nn.Module, dataset: Dataset, theta=None, points: int = 60) -> FitInputs:
    """The data, its outliers and predict_grid at theta (loaded into the model first)."""
    if theta is not None:
        load_flat_params(model, theta)
    x = dataset.x.cpu().double().numpy()
    return FitInputs(
        x=x[:, 0] if dataset.task == "regression" else x,
        y=dataset.y.cpu().double().numpy(),
        task=dataset.task,
        outlier=dataset.outlier.cpu().numpy(),
        grid=predict_grid(model, dataset, points),
    )


def race_fit(race: Race, name: str, points: int = 60) -> FitInputs:
    """The fit of run `name` of a race at its latest parameters (loaded into the run's own
    copy of the model, kept for pictures)."""
    run = race.runs[name]
    theta = run.records[-1].theta if run.records else None
    return fit_inputs(run.model, run.dataset, theta, points)
