"""The picture of a lesson: its figure data (curve, history or bars) as one figure."""

from collections.abc import Mapping

import plotly.graph_objects as go

from ._common import ZERO_LINE, colour, finish, finite, plot_text


def lesson_figure(data: Mapping, *, title: str, uirevision: str = "lesson") -> go.Figure | None:
    """Lines over x or steps, or grouped bars, one colour a series; None for a table."""
    kind = data["kind"]
    if kind == "table":
        return None
    if kind not in ("curve", "history", "bars"):
        raise ValueError(
            f"unknown lesson figure kind {kind!r}; allowed: curve, history, bars, table"
        )
    fig = go.Figure()
    for i, (series, values) in enumerate(data["series"].items()):
        name = plot_text(series)
        if kind == "bars":
            fig.add_bar(x=list(data["labels"]), y=finite(values), name=name, marker_color=colour(i))
        else:
            x = data["x"] if kind == "curve" else data["step"][: len(values)]
            fig.add_scatter(
                x=finite(x),
                y=finite(values),
                name=name,
                mode="lines",
                line=dict(color=colour(i), width=2.5),
            )
    if kind != "bars":
        fig.add_hline(y=0, line=ZERO_LINE)
    x_title = {"curve": data.get("x_label", "x"), "history": "optimizer step", "bars": ""}[kind]
    fig.update_xaxes(title_text=plot_text(x_title))
    fig.update_yaxes(title_text=plot_text(data.get("y_label", "value")))
    return finish(fig, title=title, uirevision=uirevision, height=440, barmode="group")
