"""The fit plot made clickable: one invisible trace on top whose points a click selects, a grid
over the data's range (a click there adds a point) or the data points (a click removes one)."""

from typing import Literal

import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike

CLICK_TRACE = "click target"
GRID = 61  # grid points per axis: a click lands on the nearest (1/60 of the range apart)
REACH = 0.15  # the grid reaches this fraction of the data's range beyond it on each side
Mode = Literal["add", "remove"]


def _span(v: np.ndarray) -> np.ndarray:
    lo, hi = float(v.min()), float(v.max())
    pad = REACH * (hi - lo) or 1.0
    return np.linspace(lo - pad, hi + pad, GRID)


def clickable(fig: go.Figure, x: ArrayLike, y: ArrayLike, *, mode: Mode, task: str) -> go.Figure:
    """fig with the click trace last (its index: len(fig.data) − 1), the only one that hovers or
    takes clicks. x (N,) and y for regression, x (N, 2) otherwise. add: a GRID × GRID grid over
    the points' range; remove: the points, each with its index as customdata."""
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    a, b = (xs.reshape(-1), ys) if task == "regression" else (xs[:, 0], xs[:, 1])
    marker: dict[str, object]
    if mode == "add":
        gx, gy = np.meshgrid(_span(a), _span(b))
        a, b, index = gx.ravel(), gy.ravel(), None
        marker, text = dict(size=10, opacity=0), "add a point at (%{x:.2f}, %{y:.2f})"
    else:
        index = np.arange(len(a))
        marker = dict(size=14, color="rgba(0,0,0,0)", line=dict(color="rgba(0,0,0,0.35)", width=1))
        text = "remove point %{customdata}"
    fig.update_traces(hoverinfo="skip", hovertemplate=None)  # only the click trace takes clicks
    fig.add_scatter(
        x=a, y=b, customdata=index, mode="markers", name=CLICK_TRACE, marker=marker,
        showlegend=False, hovertemplate=f"{text}<extra></extra>",
    )  # fmt: skip
    return fig
