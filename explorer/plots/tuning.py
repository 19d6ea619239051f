"""The learning-rate tuning chart: each run's criterion against the rate, best rates marked."""

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike

from ._common import colour, finish, finite, plot_text


def tuning_curves(
    rates: Sequence[float],
    scores: Mapping[str, ArrayLike],
    best: Mapping[str, float | None],
    *,
    title: str = "Tuning: loss against learning rate",
    y_label: str = "mean loss over the last 10% of steps",
    uirevision: str = "tuning",
    height: int = 460,
) -> go.Figure:
    """scores {run: criterion a rate, NaN where the run diverged} against rates (log x), one
    colour a run; its best rate a star, diverged rates an × along the top of the chart."""
    x = finite(rates)
    values = {name: finite(v) for name, v in scores.items()}
    seen = np.concatenate([v[np.isfinite(v)] for v in values.values()] or [np.zeros(0)])
    log = bool(seen.size and np.all(seen > 0))
    top = float(seen.max()) * (3.0 if log else 1.1) if seen.size else 1.0
    fig = go.Figure()
    for i, (name, v) in enumerate(values.items()):
        label, col = plot_text(name), colour(i)
        fig.add_scatter(
            x=x, y=v, mode="lines+markers", name=label, legendgroup=label,
            line=dict(color=col, width=2), marker=dict(size=7),
            hovertemplate=f"{label}<br>lr %{{x:.3g}}<br>criterion %{{y:.4g}}<extra></extra>",
        )  # fmt: skip
        out = ~np.isfinite(v)
        if out.any():
            fig.add_scatter(
                x=x[out], y=np.full(int(out.sum()), top), mode="markers", legendgroup=label,
                name=f"{label}: diverged", showlegend=False,
                marker=dict(symbol="x", size=10, color=col),
                hovertemplate=f"{label}<br>lr %{{x:.3g}}: diverged (out)<extra></extra>",
            )  # fmt: skip
        chosen = best.get(name)
        if chosen is not None:
            y = v[int(np.argmin(np.abs(x - chosen)))]
            fig.add_scatter(
                x=[chosen], y=[y], mode="markers", legendgroup=label, name=f"{label}: tuned",
                showlegend=False,
                marker=dict(symbol="star", size=18, color=col, line=dict(color="#222", width=1)),
                hovertemplate=f"{label}: tuned lr %{{x:.3g}}<extra></extra>",
            )  # fmt: skip
    fig.update_xaxes(type="log", title_text="learning rate (log)")
    y_text = f"{y_label} (log)" if log else f"{y_label} (linear: values ≤ 0)"
    fig.update_yaxes(type="log" if log else "linear", title_text=y_text)
    return finish(fig, title=title, uirevision=uirevision, height=height)
