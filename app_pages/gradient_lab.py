"""Gradient Lab: type a loss (parsed, never eval'd), see its gradient, its diagnosis and its graph."""

import pandas as pd
import streamlit as st

from app_pages.widgets.common import (
    FORMULA_DEFAULTS,
    loss_param_sliders,
    loss_query,
    pick_loss,
    png_config,
    show_findings,
)
from app_pages.widgets.memo import memo
from explorer import plots
from explorer.export.pytorch import torch_code
from explorer.gradients.gradcheck import gradcheck_table
from explorer.losses import LOSSES, LossSpec
from explorer.views.lab import diagnosis, graph_config, lab_curve, loss_graph, skipped_checks


@memo(max_entries=128, show_spinner=False)
def studied(loss: str, params: tuple, _spec: LossSpec):
    """The curve, the doctor's findings and the graph of the loss `loss` (its spec: _spec)."""
    curve = lab_curve(_spec, dict(params))
    return curve, diagnosis(_spec, dict(params)), loss_graph(_spec, dict(params))


st.title("Gradient Lab")
st.caption("Type a loss or pick one; the doctor says whether it will train, and why not.")
spec = pick_loss(list(LOSSES), custom=True, default="custom")
if spec is None:
    st.stop()
loss = spec.key
left, right = st.columns([1, 2])
with left:
    st.latex(spec.formula)
    params = loss_param_sliders(spec, prefix="lab", defaults=FORMULA_DEFAULTS)
    st.caption(spec.notes)
view, findings, graph = studied(loss, tuple(params.items()), spec)
right.plotly_chart(
    plots.loss_curves(
        view.curve.x,
        [{"name": spec.name, **vars(view.curve)}],
        uirevision="lab",
        title=view.title,
        x_label=view.x_label,
        y_labels=view.y_labels,
    ),
    key="lab_curve",
    config=png_config("gradient_lab_curve"),
)
if view.mixed:
    right.info(view.caption, icon=":material/stacked_line_chart:")
query = loss_query(loss, params, graph_config(spec).dataset)
train_link, land_link = st.columns(2)
train_link.page_link(
    "app_pages/training.py",
    label="Train a model with this loss",
    icon=":material/model_training:",
    query_params=query,
)
land_link.page_link(
    "app_pages/landscape.py",
    label="See its loss landscape",
    icon=":material/landscape:",
    query_params=query,
)
st.subheader("Gradient doctor")
show_findings(findings)
if view.mixed:
    st.caption(
        "This formula mixes samples, so the doctor read it along the shift s of the curve above; "
        "its flat check looks at the gradient with respect to every residual of the sample."
    )
for check, why in skipped_checks(spec).items():
    st.caption(f"Skipped: {check.lower()}, because {why}.")

st.subheader("Loss as PyTorch code")
code = torch_code(spec, params)
st.caption(code.note)
if code.code:
    st.code(code.code, language="python")
    st.download_button(
        "Loss as PyTorch code", code.code, code.filename, "text/x-python", key="torch_code",
        on_click="ignore",
    )  # fmt: skip

st.subheader("Autograd graph on a tiny model")
st.caption(
    f"Loss {graph.value:.4g} on 8 points; green leaves are parameters, red dashed ones got no path."
)
picture, table = st.columns([3, 1])
picture.graphviz_chart(graph.dot)
norms = pd.DataFrame({"parameter": list(graph.norms), "‖grad‖": list(graph.norms.values())})
table.dataframe(norms, hide_index=True)

st.subheader("gradcheck of the hand-written backwards")
st.dataframe(pd.DataFrame(gradcheck_table()), hide_index=True)
