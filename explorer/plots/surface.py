"""Loss-surface figures: 3-D surface with cones and trajectory, 2-D contour with gradient arrows.

Grids follow one convention: values[i, j] is the loss at (alpha[i], beta[j]).
"""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike

from ._common import (
    END,
    START,
    SURFACE_SCALE,
    colour,
    finish,
    finite,
    grid,
    log_eps,
    log_values,
    plot_text,
    trajectory,
    trajectory_hover,
)

ARROW_MODES = ("linear", "unit")
LOG_LABEL = "log₁₀(L − L_min + ε)"
PATH = colour(1)


def surface_3d(
    alpha: ArrayLike,
    beta: ArrayLike,
    values: ArrayLike,
    *,
    log_scale: bool = False,
    grad: tuple[ArrayLike, ArrayLike] | None = None,
    trajectory: Any = None,
    axis_labels: Sequence[str] = ("α", "β"),
    z_label: str = "loss L",
    title: str = "Loss surface",
    uirevision: str = "surface_3d",
    cones: int = 10,
    height: int = 650,
) -> go.Figure:
    """go.Surface with floor contours, optional cones along −∇L (grad = (ga, gb)) and a trajectory.

    The trajectory's z is its TRUE loss (hover also shows the surface value at the projection).
    log_scale plots log10(L − min L + ε) for surface and trajectory alike.
    """
    a, b, z = grid(alpha, beta, values)
    zt, zmap = scale_values(z, log_scale)
    zlabel = LOG_LABEL if log_scale else plot_text(z_label)
    axis_labels = [plot_text(label) for label in axis_labels]
    fig = go.Figure(
        go.Surface(
            x=a,
            y=b,
            z=zt,
            name="surface",
            opacity=0.85 if trajectory is not None else 1.0,  # keep the path visible through it
            colorscale=SURFACE_SCALE,
            colorbar=dict(title=dict(text=zlabel, side="right"), len=0.75),
            contours=dict(z=_floor_levels(zt)),
            customdata=z,
            hovertemplate=f"{axis_labels[0]} %{{x:.3g}}<br>{axis_labels[1]} %{{y:.3g}}"
            "<br>L %{customdata:.4g}<extra>surface</extra>",
        )
    )
    if grad is not None:
        fig.add_trace(_cones(a, b, zt, grad, cones))
    zs = [zt]
    if trajectory is not None:
        tr = _trajectory_z(trajectory, zmap)
        zs.append(tr["z"])
        for trace in _path_traces(tr, three_d=True):
            fig.add_trace(trace)
    lo, top = float(np.nanmin([np.nanmin(v) for v in zs])), float(np.nanmax(zt))
    # Path points above the surface stay in view, up to one more surface height: a diverging
    # run would otherwise flatten the surface to a line.
    reach = float(np.nanmax([np.nanmax(v) if np.isfinite(v).any() else -np.inf for v in zs]))
    hi = min(max(top, reach), top + ((top - lo) or 1.0))
    span = (hi - lo) or 1.0
    scene = dict(
        xaxis_title=axis_labels[0],
        yaxis_title=axis_labels[1],
        zaxis=dict(title=zlabel, range=[lo - 0.25 * span, hi + 0.05 * span]),
        camera=dict(eye=dict(x=1.35, y=-1.35, z=0.85)),
        aspectmode="manual",
        aspectratio=dict(x=1, y=1, z=0.7),
    )
    return finish(fig, title=title, uirevision=uirevision, height=height, scene=scene)


def contour_arrows(
    alpha: ArrayLike,
    beta: ArrayLike,
    values: ArrayLike,
    ga: ArrayLike,
    gb: ArrayLike,
    *,
    log_scale: bool = False,
    trajectory: Any = None,
    axis_labels: Sequence[str] = ("α", "β"),
    z_label: str = "loss L",
    title: str = "Loss contours and −∇L",
    uirevision: str = "contour_arrows",
    arrows: int = 15,
    arrow_mode: str = "linear",
    height: int = 560,
) -> go.Figure:
    """go.Contour with arrows along −∇L on a ~arrows×arrows subgrid, and an optional trajectory.

    arrow_mode "linear": length ∝ |∇L|, the longest 0.8 grid cells; "unit": all 0.8 cells long.
    """
    a, b, z = grid(alpha, beta, values)
    _, _, gaT = grid(alpha, beta, ga)
    _, _, gbT = grid(alpha, beta, gb)
    zt, zmap = scale_values(z, log_scale)
    fig = go.Figure(contour_trace(a, b, zt, z, log_scale, axis_labels, z_label))
    ia, ib = subsample(a.size, arrows), subsample(b.size, arrows)
    X, Y = np.meshgrid(a[ia], b[ib])
    U, V = -gaT[np.ix_(ib, ia)], -gbT[np.ix_(ib, ia)]
    cell = (_step(a[ia]), _step(b[ib]))
    xs, ys = arrow_segments(X.ravel(), Y.ravel(), U.ravel(), V.ravel(), cell=cell, mode=arrow_mode)
    label = "−∇L (length ∝ |∇L|)" if arrow_mode == "linear" else "−∇L (direction only)"
    for col, width, legend in (("rgba(0,0,0,0.55)", 3.2, True), ("white", 1.5, False)):
        line = dict(color=col, width=width)  # white arrows on a dark halo read on any colour
        fig.add_scatter(
            x=xs,
            y=ys,
            mode="lines",
            name=label,
            legendgroup="arrows",
            showlegend=legend,
            line=line,
            hoverinfo="skip",
        )
    if trajectory is not None:
        for trace in _path_traces(_trajectory_z(trajectory, zmap), three_d=False):
            fig.add_trace(trace)
    fig.update_xaxes(title_text=plot_text(axis_labels[0]), range=[a[0], a[-1]])
    fig.update_yaxes(title_text=plot_text(axis_labels[1]), range=[b[0], b[-1]])
    return finish(fig, title=title, uirevision=uirevision, height=height)


def arrow_segments(
    x: ArrayLike,
    y: ArrayLike,
    u: ArrayLike,
    v: ArrayLike,
    *,
    cell: tuple[float, float],
    length: float = 0.8,
    mode: str = "linear",
    head: float = 0.35,
    angle: float = 25.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Arrow shafts and heads from (x, y) along (u, v) as one polyline with NaN separators.

    Lengths are measured in grid cells (cell = (dx, dy)); each arrow is 7 points: tail, tip,
    NaN, head-left, tip, head-right, NaN. Zero or non-finite vectors are skipped.
    """
    if mode not in ARROW_MODES:
        raise ValueError(f"arrow mode must be one of {ARROW_MODES}, got {mode!r}")
    xs, ys, us, vs = (finite(q).ravel() for q in (x, y, u, v))
    d = np.column_stack([us / cell[0], vs / cell[1]])  # in cell units
    n = np.hypot(d[:, 0], d[:, 1])
    keep = np.isfinite(n) & (n > 0) & np.isfinite(xs) & np.isfinite(ys)
    xs, ys, d, n = xs[keep], ys[keep], d[keep], n[keep]
    scale = length / (n.max() if n.size else 1.0) if mode == "linear" else length / n
    tip = d * np.broadcast_to(scale, n.shape)[:, None]
    e, h = d / n[:, None], head * np.hypot(tip[:, 0], tip[:, 1])[:, None]
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    left = tip - h * np.column_stack([c * e[:, 0] - s * e[:, 1], s * e[:, 0] + c * e[:, 1]])
    right = tip - h * np.column_stack([c * e[:, 0] + s * e[:, 1], -s * e[:, 0] + c * e[:, 1]])
    gap = np.full_like(tip, np.nan)
    pts = np.stack([np.zeros_like(tip), tip, gap, left, tip, right, gap], axis=1)
    pts = pts * np.asarray(cell, dtype=np.float64) + np.column_stack([xs, ys])[:, None, :]
    return pts[..., 0].ravel(), pts[..., 1].ravel()


def contour_trace(
    a: np.ndarray,
    b: np.ndarray,
    zt: np.ndarray,
    z: np.ndarray,
    log_scale: bool,
    axis_labels: Sequence[str],
    z_label: str,
) -> go.Contour:
    """The filled contour of zt (values shown in hover as the raw L = z).

    axis_labels and z_label are shown as given (escaped here for Plotly; see plot_text).
    """
    x_label, y_label = (plot_text(label) for label in axis_labels[:2])
    return go.Contour(
        x=a,
        y=b,
        z=zt,
        name="loss",
        colorscale=SURFACE_SCALE,
        ncontours=20,
        line=dict(width=0.5, color="rgba(255,255,255,0.4)"),
        colorbar=dict(
            title=dict(text=LOG_LABEL if log_scale else plot_text(z_label), side="right")
        ),
        customdata=z,
        hovertemplate=f"{x_label} %{{x:.3g}}<br>{y_label} %{{y:.3g}}"
        "<br>L %{customdata:.4g}<extra></extra>",
        showlegend=False,
    )


def subsample(n: int, k: int) -> np.ndarray:
    """About k evenly spaced indices into range(n), first and last included."""
    return np.unique(np.linspace(0, n - 1, max(2, min(n, k))).round().astype(int))


def _step(a: np.ndarray) -> float:
    return float(abs(a[-1] - a[0]) / max(a.size - 1, 1)) or 1.0


def scale_values(
    z: np.ndarray, log_scale: bool
) -> tuple[np.ndarray, Callable[[ArrayLike], np.ndarray]]:
    """(plotted z, map applied to any other loss value, e.g. a trajectory's)."""
    if not log_scale:
        return z, finite
    eps, floor = log_eps(z), float(np.nanmin(z)) if np.isfinite(z).any() else 0.0
    return log_values(z, eps, floor), lambda v: log_values(v, eps, floor)


def _floor_levels(zt: np.ndarray) -> dict:
    lo, hi = (float(np.nanmin(zt)), float(np.nanmax(zt))) if np.isfinite(zt).any() else (0, 1)
    size = (hi - lo) / 15 or 1.0
    return dict(show=True, project=dict(z=True), usecolormap=True, start=lo, end=hi, size=size)


def _cones(
    a: np.ndarray, b: np.ndarray, zt: np.ndarray, grad: tuple[ArrayLike, ArrayLike], k: int
) -> go.Cone:
    """Cones at a ~k×k subgrid, lying on the surface, pointing along −∇L = (−ga, −gb, 0)."""
    _, _, gaT = grid(a, b, grad[0])
    _, _, gbT = grid(a, b, grad[1])
    ia, ib = subsample(a.size, k), subsample(b.size, k)
    X, Y = np.meshgrid(a[ia], b[ib])
    sub = np.ix_(ib, ia)
    U, V, Z = -gaT[sub], -gbT[sub], zt[sub]
    ok = np.isfinite(U) & np.isfinite(V) & np.isfinite(Z)
    return go.Cone(
        x=X[ok],
        y=Y[ok],
        z=Z[ok],
        u=U[ok],
        v=V[ok],
        w=np.zeros(ok.sum()),
        name="−∇L",
        anchor="tail",
        sizemode="scaled",
        sizeref=0.35,
        colorscale=[[0, "#222222"], [1, "#222222"]],
        showscale=False,
        showlegend=True,
        hovertemplate="−∇L = (%{u:.3g}, %{v:.3g})<extra>cone</extra>",
    )


def _trajectory_z(traj: Any, zmap: Callable[[ArrayLike], np.ndarray]) -> dict:
    tr = trajectory(traj)
    tr["z"] = zmap(tr["loss"])
    return tr


def _path_traces(tr: dict, *, three_d: bool) -> list:
    """The trajectory as line+markers with step hover, plus start and end markers."""
    custom, hover = trajectory_hover(tr)
    Scatter = go.Scatter3d if three_d else go.Scatter
    z = dict(z=tr["z"]) if three_d else {}
    size = 3 if three_d else 5
    out = [
        Scatter(
            x=tr["alpha"],
            y=tr["beta"],
            **z,
            mode="lines+markers",
            name="trajectory (true loss)" if three_d else "trajectory",
            line=dict(color=PATH, width=4 if three_d else 2.5),
            marker=dict(color=PATH, size=size),
            customdata=custom,
            hovertemplate=hover,
        )
    ]
    for name, i, col in (("start", 0, START), ("end", -1, END)):
        zi = dict(z=tr["z"][[i]]) if three_d else {}
        out.append(
            Scatter(
                x=tr["alpha"][[i]],
                y=tr["beta"][[i]],
                **zi,
                mode="markers",
                name=name,
                marker=dict(color=col, size=8 if three_d else 13, symbol="diamond", line=_edge()),
                customdata=custom[[i]],
                hovertemplate=hover,
            )
        )
    return out


def _edge() -> dict:
    return dict(color="black", width=1.5)
