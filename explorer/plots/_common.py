"""Shared pieces of the figure builders: palette, layout, array cleaning, grids, trajectories."""

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from numpy.typing import ArrayLike

# A fixed qualitative palette (Plotly's D3): series i always gets PALETTE[i % 10].
PALETTE = (
    "#1F77B4",
    "#FF7F0E",
    "#2CA02C",
    "#D62728",
    "#9467BD",
    "#8C564B",
    "#E377C2",
    "#7F7F7F",
    "#BCBD22",
    "#17BECF",
)
TEMPLATE = "plotly_white"
SURFACE_SCALE = "Viridis"
ZERO_LINE = dict(color="#555555", width=1)
START, END = "#2CA02C", "#D62728"


# Plotly renders its strings as pseudo-HTML (<br>, <b>, <a>, &entities;), fills %{...} in hover
# templates and hands $...$ to MathJax: outside text shows literally with these as entities.
_PLOT_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "$": "&#36;", "%": "&#37;"}
_PLOT_SPECIAL = re.compile("[&<>$%]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def plot_text(text: object) -> str:
    """text for a Plotly title, trace name, axis label or annotation: shown as typed.

    & < > $ % become HTML entities (which Plotly decodes back for display) and line breaks and
    other control characters become spaces, so "r<br>1" stays one line reading "r<br>1".
    """
    flat = _CONTROL.sub(" ", str(text))
    return _PLOT_SPECIAL.sub(lambda m: _PLOT_ENTITIES[m.group()], flat)


def colour(i: int) -> str:
    """The palette colour of series number i."""
    return PALETTE[i % len(PALETTE)]


def finite(a: ArrayLike) -> np.ndarray:
    """a as a float64 array with every NaN / ±inf turned into NaN (Plotly draws a gap there)."""
    out = np.array(a, dtype=np.float64)
    out[~np.isfinite(out)] = np.nan
    return out


def finish(
    fig: go.Figure, *, title: str, uirevision: str, height: int, bottom: int = 60, **layout: Any
) -> go.Figure:
    """Apply the house layout: title (shown as given, see plot_text), template, margins, height,
    legend on top, uirevision."""
    fig.update_layout(
        title=dict(
            text=plot_text(title), x=0.01, xanchor="left", y=0.985, yanchor="top", yref="container"
        ),
        template=TEMPLATE,
        height=height,
        margin=dict(l=70, r=30, t=110, b=bottom),
        legend=dict(orientation="h", yanchor="bottom", y=1.01, x=0.0, xanchor="left"),
        hovermode="closest",
        uirevision=uirevision,
        **layout,
    )
    return fig


def log_values(
    values: ArrayLike, eps: float | None = None, floor: float | None = None
) -> np.ndarray:
    """log10(v − floor + eps); floor = min(v), eps = 1e-4·(max − min) (or 1e-12) by default."""
    v = finite(values)
    if floor is None:
        floor = np.nanmin(v) if np.isfinite(v).any() else 0.0
    if eps is None:
        eps = log_eps(values)
    return np.log10(np.maximum(v - floor, 0.0) + eps)


def log_eps(values: ArrayLike) -> float:
    """The default ε of log_values: 1e-4 of the value range, at least 1e-12."""
    v = finite(values)
    span = float(np.nanmax(v) - np.nanmin(v)) if np.isfinite(v).any() else 0.0
    return max(1e-4 * span, 1e-12)


def grid(
    a: ArrayLike, b: ArrayLike, values: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, z) for Plotly from axes a, b and values[i, j] = f(a[i], b[j]); z is values.T.

    a and b may also be 2-D meshgrids (either indexing); the orientation is read from them.
    """
    x, y, v = finite(a), finite(b), finite(values)
    if x.ndim == 2:
        ij = x.shape[0] > 1 and np.nanstd(x[:, 0]) > np.nanstd(x[0, :])
        x, y = (x[:, 0], y[0, :]) if ij else (x[0, :], y[:, 0])
        v = v if ij else v.T
    if v.shape != (x.size, y.size):
        raise ValueError(
            f"values must have shape (len(alpha), len(beta)) = ({x.size}, {y.size}) with "
            f"values[i, j] at (alpha[i], beta[j]); got {v.shape}"
        )
    return x, y, v.T


def trajectory(traj: Any) -> dict[str, np.ndarray]:
    """Read a trajectory (mapping, DataFrame or object) into arrays alpha, beta, loss, step, ...

    Required: alpha, beta, loss (the TRUE loss at each step). Optional: step, surface (surface
    value at the projected point), dropped (distance the projection dropped).
    """
    aliases = {
        "alpha": ("alpha", "a"),
        "beta": ("beta", "b"),
        "loss": ("loss", "true_loss"),
        "step": ("step", "steps"),
        "surface": ("surface", "surface_loss", "surface_value"),
        "dropped": ("dropped", "distance", "off_plane"),
    }
    out: dict[str, np.ndarray] = {}
    for key, names in aliases.items():
        for name in names:
            got = _field(traj, name)
            if got is not None:
                out[key] = finite(got).ravel()
                break
    missing = {"alpha", "beta", "loss"} - out.keys()
    if missing:
        raise ValueError(f"trajectory lacks {sorted(missing)}; it needs alpha, beta and loss")
    n = out["alpha"].size
    out.setdefault("step", np.arange(n, dtype=np.float64))
    out.setdefault("surface", np.full(n, np.nan))
    out.setdefault("dropped", np.full(n, np.nan))
    return out


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping) or hasattr(obj, "columns"):
        return obj[name] if name in obj else None
    return getattr(obj, name, None)


def trajectory_hover(tr: dict[str, np.ndarray]) -> tuple[np.ndarray, str]:
    """customdata and hovertemplate showing step, true loss, surface value and dropped distance."""
    data = np.column_stack([tr["step"], tr["loss"], tr["surface"], tr["dropped"]])
    template = (
        "step %{customdata[0]:.0f}<br>true loss %{customdata[1]:.4g}"
        "<br>surface at projection %{customdata[2]:.4g}"
        "<br>dropped by projection %{customdata[3]:.3g}<extra></extra>"
    )
    return data, template


def to_html(fig: go.Figure, *, self_contained: bool = False) -> str:
    """The figure as a standalone HTML page; plotly.js from the CDN, or inlined if self_contained."""
    js = True if self_contained else "cdn"
    return pio.to_html(fig, include_plotlyjs=js, full_html=True, auto_play=False)
