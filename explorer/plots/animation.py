"""A trajectory animated over a loss contour with Plotly frames (plays in the browser, no reruns)."""

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike

from ._common import END, START, finish, grid, plot_text
from ._common import trajectory as read_trajectory
from .surface import PATH, contour_trace, scale_values


def trajectory_animation(
    alpha: ArrayLike,
    beta: ArrayLike,
    values: ArrayLike,
    trajectory: Any,
    *,
    log_scale: bool = False,
    axis_labels: Sequence[str] = ("α", "β"),
    z_label: str = "loss L",
    title: str = "Training trajectory over the loss contours",
    uirevision: str = "trajectory_animation",
    frame_ms: int = 80,
    max_frames: int = 200,
    height: int = 600,
) -> go.Figure:
    """Contour of values with the trajectory drawn step by step: play/pause buttons and a slider.

    One frame per step; a longer trajectory is shown at max_frames evenly spaced steps (the last
    step always included). Frames only update the path traces, so they stay small.
    """
    a, b, z = grid(alpha, beta, values)
    zt, _ = scale_values(z, log_scale)
    tr = read_trajectory(trajectory)
    n = tr["alpha"].size
    if n == 0:
        raise ValueError("trajectory is empty: it needs at least one step")
    shown = np.unique(np.linspace(0, n - 1, min(n, max_frames)).round().astype(int))
    fig = go.Figure(contour_trace(a, b, zt, z, log_scale, axis_labels, z_label))
    fig.add_scatter(
        x=tr["alpha"],
        y=tr["beta"],
        mode="lines",
        name="whole path",
        line=dict(color="rgba(255,255,255,0.6)", width=1.5, dash="dot"),
        hoverinfo="skip",
        showlegend=False,
    )
    fig.add_scatter(
        x=tr["alpha"][[0]],
        y=tr["beta"][[0]],
        mode="markers",
        name="start",
        marker=dict(color=START, size=13, symbol="diamond", line=dict(color="black", width=1.5)),
    )
    path, head = _frame_traces(tr, 0)
    fig.add_trace(path)
    fig.add_trace(head)
    moving = [3, 4]  # indices of the path and head traces updated by every frame
    fig.frames = [
        go.Frame(data=list(_frame_traces(tr, i)), traces=moving, name=str(i)) for i in shown
    ]
    label = f"step ({len(shown)} frames)"
    fig.update_xaxes(title_text=plot_text(axis_labels[0]), range=[a[0], a[-1]])
    fig.update_yaxes(title_text=plot_text(axis_labels[1]), range=[b[0], b[-1]])
    return finish(
        fig,
        title=title,
        uirevision=uirevision,
        height=height,
        updatemenus=[_buttons(frame_ms)],
        sliders=[_slider(tr, shown, label)],
        bottom=175,
    )


def _frame_traces(tr: dict, i: int) -> tuple[go.Scatter, go.Scatter]:
    """The path up to step i and a marker at step i (whose hover gives the step and true loss)."""
    step, loss = tr["step"][i], tr["loss"][i]
    path = go.Scatter(
        x=tr["alpha"][: i + 1],
        y=tr["beta"][: i + 1],
        mode="lines",
        name="trajectory",
        line=dict(color=PATH, width=2.5),
        hoverinfo="skip",
    )
    head = go.Scatter(
        x=tr["alpha"][[i]],
        y=tr["beta"][[i]],
        mode="markers",
        name="current step",
        marker=dict(color=END, size=12, line=dict(color="black", width=1.5)),
        hovertemplate=f"step {step:.0f}<br>true loss {loss:.4g}<extra></extra>",
    )
    return path, head


def _buttons(frame_ms: int) -> dict:
    play = {"frame": {"duration": frame_ms, "redraw": True}, "fromcurrent": True}
    play["transition"] = {"duration": 0}
    pause = {"frame": {"duration": 0, "redraw": True}, "mode": "immediate"}
    return dict(
        type="buttons",
        direction="left",
        x=0.0,
        y=-0.12,
        xanchor="left",
        yanchor="top",
        pad=dict(r=10, t=10),
        showactive=False,
        buttons=[
            dict(label="▶ Play", method="animate", args=[None, play]),
            dict(label="❚❚ Pause", method="animate", args=[[None], pause]),
        ],
    )


def _slider(tr: dict, shown: np.ndarray, label: str) -> dict:
    go_to = {"mode": "immediate", "frame": {"duration": 0, "redraw": True}}
    go_to["transition"] = {"duration": 0}
    steps = [
        dict(method="animate", label=f"{tr['step'][i]:.0f}", args=[[str(i)], go_to]) for i in shown
    ]
    return dict(  # its own row under the buttons (pad in pixels): no overlap at any width
        active=0,
        x=0.0,
        y=-0.12,
        len=1.0,
        xanchor="left",
        yanchor="top",
        pad=dict(t=52),
        currentvalue=dict(prefix=label + ": ", font=dict(size=12), xanchor="right"),
        steps=steps,
    )
