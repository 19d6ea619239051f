"""The (α, β) phase diagram of heavy-ball momentum: the convergence rate as a heat map, the
divergence boundary, the marked optima, and a layer of clickable points."""

from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike

from ._common import END, START, finish, finite, plot_text

DIVERGED = "#D9D9D9"  # rate ≥ 1: no convergence
PICK_POINTS = 41  # clickable points an axis
MARK_SYMBOLS = ("diamond", "star-open", "circle-x", "square")  # drawn in this order
MARK_COLOURS = (START, "#FF7F0E", END, "#9467BD")
MARK_SIZES = (15, 24, 15, 15)
PICK_NAME = "click to set α, β"  # the clickable layer's trace name (the page reads its points)


def phase_figure(
    alpha: ArrayLike,
    beta: ArrayLike,
    rate: ArrayLike,
    *,
    boundary: tuple[ArrayLike, ArrayLike],
    marks: Mapping[str, tuple[float, float]] = {},
    title: str = "Heavy-ball momentum: convergence rate over (α, β)",
    uirevision: str = "phase",
    height: int = 560,
) -> go.Figure:
    """rate[i, j] at (alpha[j], beta[i]) coloured 0 … 1 (grey where ≥ 1); boundary (α, β) as a
    line; marks {label: (α, β)} as symbols; a transparent scatter of PICK_POINTS² points on top,
    named PICK_NAME, so that a click anywhere selects a point (its x, y are α, β)."""
    a, b, r = finite(alpha), finite(beta), finite(rate)
    converges = np.where(r < 1, r, np.nan)
    fig = go.Figure()
    fig.add_heatmap(
        x=a, y=b, z=np.where(r >= 1, 1.0, np.nan), colorscale=[[0, DIVERGED], [1, DIVERGED]],
        showscale=False, hoverinfo="skip", name="no convergence (rate ≥ 1)",
    )  # fmt: skip
    fig.add_heatmap(
        x=a, y=b, z=converges, zmin=0, zmax=1, colorscale="Viridis", name="rate",
        colorbar=dict(title=dict(text="rate ρ<br>(error × a step)"), len=0.8),
        hoverinfo="skip",
    )  # fmt: skip
    ba, bb = finite(boundary[0]), finite(boundary[1])
    keep = ba <= a.max()
    fig.add_scatter(
        x=ba[keep], y=bb[keep], mode="lines", name="divergence boundary (rate = 1)",
        line=dict(color="#222222", width=2.5, dash="dash"),
        hovertemplate="boundary: α %{x:.4g}, β %{y:.3f}<extra></extra>",
    )  # fmt: skip
    for i, (label, (x, y)) in enumerate(marks.items()):
        fig.add_scatter(
            x=[x], y=[y], mode="markers", name=plot_text(label),
            marker=dict(
                symbol=MARK_SYMBOLS[i % 4], size=MARK_SIZES[i % 4], color=MARK_COLOURS[i % 4],
                line=dict(color=MARK_COLOURS[i % 4] if i % 4 == 1 else "#222222", width=2.5 if i % 4 == 1 else 1.5),
            ),
            hovertemplate=f"{plot_text(label)}: α %{{x:.4g}}, β %{{y:.3f}}<extra></extra>",
        )  # fmt: skip
    # the clickable layer: hover events must reach it (a click is a hovered point's), so it
    # carries the hover text, the rate of the nearest grid cell
    ia = np.linspace(0, a.size - 1, PICK_POINTS).round().astype(int)
    ib = np.linspace(0, b.size - 1, PICK_POINTS).round().astype(int)
    jb, ja = np.meshgrid(ib, ia, indexing="ij")
    fig.add_scatter(
        x=a[ja].ravel(), y=b[jb].ravel(), customdata=r[jb, ja].ravel(), mode="markers",
        name=PICK_NAME, showlegend=False, marker=dict(size=10, color="rgba(0,0,0,0)"),
        hovertemplate="α %{x:.4g}, β %{y:.3f}<br>rate %{customdata:.4f} (≥ 1: no convergence)"
        "<br>click: run heavy ball here<extra></extra>",
    )  # fmt: skip
    pad = 0.03 * float(b[-1] - b[0])
    fig.update_xaxes(title_text="step size α (learning rate)", range=[0, float(a[-1])])
    fig.update_yaxes(title_text="momentum β", range=[float(b[0]) - pad, float(b[-1]) + pad])
    return finish(fig, title=title, uirevision=uirevision, height=height, clickmode="event+select")
