"""Training figures: loss and gradient-norm curves, the fit, the parameter path."""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from numpy.typing import ArrayLike
from plotly.subplots import make_subplots

from ._common import PALETTE, colour, finish, finite, grid, plot_text

TASKS = ("regression", "binary", "multiclass", "segmentation")
POINT_EDGE = dict(color="white", width=0.8)


def training_curves(
    history: Any,
    *,
    runs: Sequence[str] | None = None,
    title: str = "Training",
    uirevision: str = "training_curves",
    height: int = 560,
) -> go.Figure:
    """Loss (top) and gradient norm (bottom) against step, one colour per run.

    history: a DataFrame with columns step, loss, grad_norm (and run), or a list / {run: df} of
    them. runs picks and orders the runs (colours follow that order). Each y axis is log unless
    it holds values <= 0 (a loss below zero, an exactly-zero gradient): then linear, and says so.
    """
    df = _history_frame(history)
    names = list(dict.fromkeys(df["run"])) if runs is None else [str(r) for r in runs]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    for i, name in enumerate(names):
        d = df[df["run"] == name].sort_values("step")
        for row, col in ((1, "loss"), (2, "grad_norm")):
            fig.add_scatter(
                x=finite(d["step"]),
                y=finite(d[col]),
                mode="lines",
                name=plot_text(name),
                legendgroup=name,
                showlegend=row == 1,
                line=dict(color=colour(i), width=2),
                row=row,
                col=1,
            )
    shown = df[df["run"].isin(names)]
    for row, col, label in ((1, "loss", "loss L"), (2, "grad_norm", "gradient norm ‖∇θL‖")):
        v = finite(shown[col])
        log = bool(np.all(v[np.isfinite(v)] > 0))
        text = f"{label} (log)" if log else f"{label} (linear: values ≤ 0)"
        fig.update_yaxes(type="log" if log else "linear", title_text=text, row=row, col=1)
    fig.update_xaxes(title_text="step", row=2, col=1)
    return finish(fig, title=title, uirevision=uirevision, height=height)


def _history_frame(history: Any) -> pd.DataFrame:
    """One DataFrame with a string run column from a DataFrame, a list or a {run: df} mapping."""
    if isinstance(history, pd.DataFrame):
        parts = [history]
    elif isinstance(history, Mapping):
        parts = [pd.DataFrame(df).assign(run=str(k)) for k, df in history.items()]
    else:
        parts = [pd.DataFrame(df) for df in history]
    parts = [p if "run" in p else p.assign(run=f"run {i}") for i, p in enumerate(parts)]
    df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    missing = {"step", "loss", "grad_norm"} - set(df.columns)
    if missing:
        raise ValueError(f"history lacks columns {sorted(missing)}; needs step, loss, grad_norm")
    return df.assign(run=df["run"].astype(str))


def fit_plot(
    x: ArrayLike,
    y: ArrayLike,
    *,
    task: str,
    predict_grid: Mapping | None = None,
    outlier: ArrayLike | None = None,
    title: str | None = None,
    axis_labels: Sequence[str] = ("x₁", "x₂"),
    uirevision: str = "fit_plot",
    height: int = 520,
) -> go.Figure:
    """The data and the model's fit.

    regression: points (x, y), outliers (boolean mask) highlighted, predict_grid {"x", "y"} drawn
    as the fitted curve. binary / segmentation: x (N, 2) coloured by class, predict_grid
    {"xx", "yy", "zz"} with zz = P(class 1) as a probability contour plus the 0.5 boundary.
    multiclass: zz holds class ids, or (…, K) probabilities (argmax taken), shown as regions.
    zz[i, j] is at (xx[i], yy[j]); 2-D meshgrids (either indexing) also work.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if task == "regression":
        fig = _regression(x, y, predict_grid, outlier, axis_labels)
    else:
        fig = _classification(x, y, task, predict_grid, outlier, axis_labels)
    title = title or ("Fit" if task == "regression" else "Decision boundary")
    return finish(fig, title=title, uirevision=uirevision, height=height)


def _regression(
    x: ArrayLike,
    y: ArrayLike,
    predict_grid: Mapping | None,
    outlier: ArrayLike | None,
    axis_labels: Sequence[str],
) -> go.Figure:
    xs, ys = finite(x).reshape(-1), finite(y).reshape(-1)
    out = np.zeros(xs.size, bool) if outlier is None else np.asarray(outlier, bool).reshape(-1)
    fig = go.Figure()
    fig.add_scatter(
        x=xs[~out], y=ys[~out], mode="markers", name="data", marker=dict(color=colour(0), size=7)
    )
    if out.any():
        marker = dict(color=colour(3), size=10, symbol="x", line=dict(width=1))
        fig.add_scatter(x=xs[out], y=ys[out], mode="markers", name="outliers", marker=marker)
    if predict_grid is not None:
        order = np.argsort(finite(predict_grid["x"]).reshape(-1))
        fig.add_scatter(
            x=finite(predict_grid["x"]).reshape(-1)[order],
            y=finite(predict_grid["y"]).reshape(-1)[order],
            mode="lines",
            name="model ŷ(x)",
            line=dict(color=colour(1), width=3),
        )
    fig.update_xaxes(title_text="input x")
    fig.update_yaxes(title_text="target y / prediction ŷ")
    return fig


def _classification(
    x: ArrayLike,
    y: ArrayLike,
    task: str,
    predict_grid: Mapping | None,
    outlier: ArrayLike | None,
    axis_labels: Sequence[str],
) -> go.Figure:
    xs, ys = finite(x).reshape(len(np.asarray(y)), -1), finite(y).reshape(-1)
    if xs.shape[1] != 2:
        raise ValueError(f"classification plots need 2-D inputs x of shape (N, 2), got {xs.shape}")
    fig = go.Figure()
    if predict_grid is not None:
        for trace in _regions(predict_grid, task):
            fig.add_trace(trace)
    for c in np.unique(ys[np.isfinite(ys)]).astype(int):
        m = ys == c
        marker = dict(color=colour(c), size=8, line=POINT_EDGE)
        fig.add_scatter(x=xs[m, 0], y=xs[m, 1], mode="markers", name=f"class {c}", marker=marker)
    if outlier is not None and np.asarray(outlier, bool).any():
        m = np.asarray(outlier, bool).reshape(-1)
        marker = dict(color="black", size=12, symbol="circle-open", line=dict(width=2))
        fig.add_scatter(x=xs[m, 0], y=xs[m, 1], mode="markers", name="outliers", marker=marker)
    fig.update_xaxes(title_text=plot_text(axis_labels[0]))
    fig.update_yaxes(title_text=plot_text(axis_labels[1]))
    return fig


def _regions(predict_grid: Mapping, task: str) -> list:
    """Probability contour + 0.5 boundary (binary), or class regions (multiclass)."""
    zz = finite(predict_grid["zz"])
    if zz.ndim == 3:
        zz = np.where(np.isfinite(zz).all(-1), np.argmax(np.nan_to_num(zz), axis=-1), np.nan)
    a, b, z = grid(predict_grid["xx"], predict_grid["yy"], zz)
    if task == "multiclass":
        k = int(np.nanmax(z)) + 1 if np.isfinite(z).any() else 1
        scale = [[p, colour(i)] for i in range(k) for p in (i / k, (i + 1) / k)]
        heat = go.Heatmap(
            x=a, y=b, z=z, zmin=-0.5, zmax=k - 0.5, colorscale=scale, opacity=0.3, showscale=False
        )
        heat.update(name="predicted class", hovertemplate="predicted class %{z}<extra></extra>")
        return [heat]
    scale = [[0, PALETTE[0]], [0.5, "#FFFFFF"], [1, PALETTE[1]]]
    prob = go.Contour(
        x=a,
        y=b,
        z=z,
        zmin=0,
        zmax=1,
        colorscale=scale,
        opacity=0.55,
        contours=dict(start=0, end=1, size=0.1),
        line=dict(width=0),
        colorbar=dict(title=dict(text="P(class 1)", side="right")),
        name="P(class 1)",
        hovertemplate="P(class 1) = %{z:.3f}<extra></extra>",
    )
    edge = go.Contour(
        x=a,
        y=b,
        z=z,
        contours=dict(start=0.5, end=0.5, size=1, coloring="lines"),
        colorscale=[[0, "black"], [1, "black"]],
        line=dict(width=3),
        showscale=False,
        showlegend=True,
        name="decision boundary (P = 0.5)",
        hoverinfo="skip",
    )
    return [prob, edge]


def param_path(
    theta_history: ArrayLike,
    names: Sequence[str],
    *,
    steps: ArrayLike | None = None,
    max_lines: int = 10,
    title: str = "Parameters during training",
    uirevision: str = "param_path",
    height: int = 420,
) -> go.Figure:
    """Each parameter against step (theta_history: (T, P)); beyond max_lines, ‖θ‖ and ‖θ − θ₀‖."""
    theta = finite(theta_history)
    theta = theta.reshape(len(theta), -1) if theta.size else np.zeros((0, len(names)))
    if theta.shape[1] != len(names):
        raise ValueError(f"{len(names)} names for {theta.shape[1]} parameters")
    s = np.arange(len(theta)) if steps is None else finite(steps)
    if theta.shape[1] <= max_lines:
        series = {plot_text(n): theta[:, i] for i, n in enumerate(names)}
        y_label = "parameter value"
    else:
        series = {"‖θ‖": np.linalg.norm(theta, axis=1)}
        series["‖θ − θ₀‖"] = np.linalg.norm(theta - theta[:1], axis=1)
        y_label = f"norm over {theta.shape[1]} parameters"
    fig = go.Figure()
    for i, (name, v) in enumerate(series.items()):
        fig.add_scatter(x=s, y=v, mode="lines", name=name, line=dict(color=colour(i), width=2))
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text=y_label)
    return finish(fig, title=title, uirevision=uirevision, height=height)
