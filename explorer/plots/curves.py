"""1-D figures: loss and derivative curves, soft vs hard threshold, slices through parameter space."""

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike
from plotly.subplots import make_subplots

from ._common import ZERO_LINE, colour, finish, finite, plot_text
from .surface import LOG_LABEL, scale_values

MAX_FD_MARKERS = 60
OUTWARD_MIN = 0.02  # outward pushes below 2 % of the largest soft gradient are not highlighted


def loss_curves(
    x: ArrayLike,
    curves: Sequence[Mapping],
    *,
    x_label: str = "residual ŷ − y",
    title: str = "Loss and its derivative",
    marks: Sequence[tuple[float, str]] = (),
    y_labels: tuple[str, str] = ("loss L", "dL/dŷ"),
    uirevision: str = "loss_curves",
    height: int = 620,
) -> go.Figure:
    """L (top) and dL/dŷ (bottom) against x; curves = [{name, value, grad_autograd, grad_fd?}].

    Autograd is a solid line; finite differences are open markers on top, same colour per loss.
    marks = [(x, label)] draws dotted vertical lines (e.g. thresholds ±t) on both panels.
    """
    xs = finite(x)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    fd_idx = np.unique(np.linspace(0, xs.size - 1, min(xs.size, MAX_FD_MARKERS)).astype(int))
    for i, c in enumerate(curves):
        name, col = plot_text(c["name"]), colour(i)
        line = dict(color=col, width=2.5)
        fig.add_scatter(
            x=xs, y=finite(c["value"]), name=name, legendgroup=name, line=line, row=1, col=1
        )
        fig.add_scatter(
            x=xs,
            y=finite(c["grad_autograd"]),
            name=f"{name} · autograd",
            legendgroup=name,
            showlegend=False,
            line=line,
            row=2,
            col=1,
        )
        if c.get("grad_fd") is not None:
            fig.add_scatter(
                x=xs[fd_idx],
                y=finite(c["grad_fd"])[fd_idx],
                mode="markers",
                name=f"{name} · finite differences",
                legendgroup=name,
                marker=dict(color=col, symbol="circle-open", size=7, line=dict(width=1.5)),
                row=2,
                col=1,
            )
    fig.add_hline(y=0, line=ZERO_LINE, row=2, col=1)
    _vertical_marks(fig, marks, rows=2)
    fig.update_xaxes(title_text=plot_text(x_label), row=2, col=1)
    fig.update_yaxes(title_text=plot_text(y_labels[0]), row=1, col=1)
    fig.update_yaxes(title_text=plot_text(y_labels[1]), row=2, col=1)
    return finish(fig, title=title, uirevision=uirevision, height=height)


def threshold_comparison(
    x: ArrayLike,
    soft: Mapping,
    hard: Mapping,
    *,
    k: float,
    t: float,
    x_label: str = "residual r = ŷ − y",
    title: str | None = None,
    uirevision: str = "threshold_comparison",
    height: int = 760,
) -> go.Figure:
    """Mask, loss and dL/dŷ of a soft (sigmoid) and a hard threshold; soft/hard = {mask, value, grad}.

    Highlights where the hard gradient is exactly 0 and where the soft one makes gradient
    descent push |r| outward (dL/dŷ · r < 0, at least 2 % of the largest soft gradient).
    """
    r = finite(x)
    fig = make_subplots(
        rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06, row_heights=[0.22, 0.34, 0.44]
    )
    for i, (name, d) in enumerate([(f"soft (k = {k:g})", soft), ("hard", hard)]):
        line = dict(color=colour(i), width=2.5, dash="solid" if i == 0 else "dash")
        for row, key in enumerate(["mask", "value", "grad"], start=1):
            fig.add_scatter(
                x=r,
                y=finite(d[key]),
                name=name,
                legendgroup=name,
                showlegend=row == 1,
                line=line,
                row=row,
                col=1,
            )
    g_soft, g_hard = finite(soft["grad"]), finite(hard["grad"])
    material = np.abs(g_soft) >= OUTWARD_MIN * np.nanmax(np.abs(g_soft), initial=0.0)
    zero, outward = g_hard == 0, (g_soft * r < 0) & material
    band = dict(width=12)
    fig.add_scatter(
        x=r,
        y=np.where(zero, 0.0, np.nan),
        name="hard: dL/dŷ = 0 exactly",
        line=dict(color=colour(1), **band),
        opacity=0.3,
        hoverinfo="skip",
        row=3,
        col=1,
    )
    fig.add_scatter(
        x=r,
        y=np.where(outward, g_soft, np.nan),
        name="soft: descent pushes |r| outward",
        line=dict(color=colour(3), **band),
        opacity=0.3,
        hoverinfo="skip",
        row=3,
        col=1,
    )
    fig.add_hline(y=0, line=ZERO_LINE, row=3, col=1)
    _vertical_marks(fig, [(-t, "−t"), (t, "+t")], rows=3)
    fig.add_annotation(
        text=_threshold_note(r, g_soft, zero, t),
        xref="paper",
        yref="paper",
        x=0.01,
        y=0.01,
        xanchor="left",
        yanchor="bottom",
        align="left",
        showarrow=False,
        bgcolor="rgba(255,255,255,0.85)",
        bordercolor="#BBBBBB",
        font=dict(size=12),
    )
    fig.update_xaxes(title_text=plot_text(x_label), row=3, col=1)
    for row, label in enumerate(["mask", "loss L", "dL/dŷ"], start=1):
        fig.update_yaxes(title_text=label, row=row, col=1)
    title = title or f"Soft vs hard threshold (t = {t:g}, k = {k:g})"
    return finish(fig, title=title, uirevision=uirevision, height=height)


def _threshold_note(x: np.ndarray, g_soft: np.ndarray, zero: np.ndarray, t: float) -> str:
    at_t = np.interp(t, x, np.nan_to_num(g_soft)) if x.min() <= t <= x.max() else np.nan
    push = "outward" if at_t < 0 else "inward"
    return (
        f"hard: dL/dŷ is exactly 0 on {zero.mean():.0%} of this range<br>"
        f"soft: dL/dŷ at r = +t is {at_t:.3g} — descent pushes r {push}"
    )


def slice_1d(
    t: ArrayLike,
    values: ArrayLike | Mapping[str, ArrayLike],
    *,
    title: str = "Loss along a line in parameter space",
    x_label: str = "t  (θ = θ₀ + t·(θ₁ − θ₀))",
    y_label: str = "loss L",
    endpoints: Sequence[tuple] = ((0.0, "θ₀ (t = 0)"), (1.0, "θ₁ (t = 1)")),
    uirevision: str = "slice_1d",
    height: int = 420,
    log_scale: bool = False,
) -> go.Figure:
    """values (array, or {name: array}) against t, with the endpoints marked.

    endpoints = [(t, label)] or [(t, label, true_value)]; without a value it is read off the
    first curve. Endpoints outside the range of t are skipped. log_scale plots
    log10(L − L_min + ε) with one L_min and ε for every curve and mark, as the surfaces do.
    """
    ts = finite(t)
    series = values if isinstance(values, Mapping) else {y_label: values}
    _, scale = scale_values(np.concatenate([finite(v).ravel() for v in series.values()]), log_scale)
    y_label = LOG_LABEL if log_scale else y_label
    fig = go.Figure()
    for i, (name, v) in enumerate(series.items()):
        line = dict(color=colour(i), width=2.5)
        fig.add_scatter(x=ts, y=scale(v), name=plot_text(name), line=line)
    first = finite(next(iter(series.values())))
    for e in endpoints:
        te, label = float(e[0]), plot_text(e[1])
        if not np.nanmin(ts) <= te <= np.nanmax(ts):
            continue
        ve = float(e[2]) if len(e) > 2 else float(np.interp(te, ts, first))
        ve = float(scale(np.array([ve]))[0])
        fig.add_scatter(
            x=[te],
            y=[ve],
            mode="markers+text",
            text=[label],
            textposition="top center",
            name=label,
            marker=dict(color="black", size=11, symbol="diamond"),
        )
    fig.update_xaxes(title_text=plot_text(x_label))
    fig.update_yaxes(title_text=plot_text(y_label))
    return finish(fig, title=title, uirevision=uirevision, height=height)


def _vertical_marks(fig: go.Figure, marks: Iterable[tuple[float, str]], *, rows: int) -> None:
    """Dotted vertical lines at each (x, label) on every row; the label only on the top row."""
    for xm, label in marks:
        for row in range(1, rows + 1):
            text = dict(annotation_text=plot_text(label), annotation_position="top")
            text = text if row == 1 else {}
            line = dict(color="#888888", width=1, dash="dot")
            fig.add_vline(x=float(xm), line=line, row=row, col=1, **text)
