"""What a model predicts over its data set's input range: the inputs of `plots.fit_plot`."""

import numpy as np
import torch
from torch import nn

from explorer.data import Dataset
from explorer.models import load_flat_params

GRID_RANGE = (2, 200)  # grid points per axis
MARGIN = 0.1  # the grid reaches this fraction of the data's range beyond it on each side


def _axis(values: torch.Tensor, steps: int) -> torch.Tensor:
    """steps evenly spaced points over [min, max] of values, widened by MARGIN of the range."""
    lo, hi = float(values.min()), float(values.max())
    pad = MARGIN * (hi - lo) or 1.0
    return torch.linspace(lo - pad, hi + pad, steps, dtype=torch.float64)


def predict_grid(model: nn.Module, dataset: Dataset, steps: int = 60) -> dict[str, np.ndarray]:
    """Predictions on a grid over the data's inputs.

    regression (1-D x): {"x": (steps,), "y": ŷ(x)}. binary / segmentation (2-D x):
    {"xx", "yy": (steps,), "zz": (steps, steps)} with zz[i, j] = σ(f(xx[i], yy[j])) = P(class 1)
    (every binary loss here reads the raw output as a logit or a signed score: boundary at 0).
    multiclass: zz (steps, steps, K) = softmax of the logits.
    """
    steps = int(min(max(steps, GRID_RANGE[0]), GRID_RANGE[1]))
    x = dataset.x.detach().cpu()
    param = next(model.parameters())
    if dataset.task == "regression":
        grid = _axis(x[:, 0], steps)
        with torch.no_grad():
            pred = model(grid[:, None].to(param))
        return {"x": grid.numpy(), "y": pred.reshape(-1).cpu().double().numpy()}
    if dataset.in_dim != 2:
        raise ValueError(
            f"decision regions need 2-D inputs; {dataset.name!r} is {dataset.in_dim}-D"
        )
    a, b = _axis(x[:, 0], steps), _axis(x[:, 1], steps)
    points = torch.cartesian_prod(a, b)
    with torch.no_grad():
        out = model(points.to(param)).cpu().double()
    probs = torch.softmax(out, -1) if out.dim() == 2 else torch.sigmoid(out)
    return {
        "xx": a.numpy(),
        "yy": b.numpy(),
        "zz": probs.reshape(steps, steps, -1).squeeze(-1).numpy(),
    }


def fit_inputs(model: nn.Module, dataset: Dataset, theta=None, steps: int = 60) -> dict:
    """Keyword arguments for plots.fit_plot: the data, outliers and predict_grid at theta."""
    if theta is not None:
        load_flat_params(model, theta)
    x = dataset.x.cpu().double().numpy()
    return {
        "x": x[:, 0] if dataset.task == "regression" else x,
        "y": dataset.y.cpu().double().numpy(),
        "task": dataset.task,
        "outlier": dataset.outlier.cpu().numpy(),
        "predict_grid": predict_grid(model, dataset, steps),
    }
