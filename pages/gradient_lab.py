"""Gradient Lab: type a loss (parsed, never eval'd), see its gradient, its diagnosis and its graph."""

import pandas as pd
import streamlit as st

from explorer import plots
from explorer.gradients import gradcheck_table, loss_curve
from explorer.lab import diagnosis, graph_config, loss_graph
from explorer.losses import LOSSES, get_loss
from pages.widgets import (
    FORMULA_DEFAULTS,
    follow_app_navigation,
    loss_param_sliders,
    loss_picker,
    loss_query,
    show_findings,
)

follow_app_navigation()


@st.cache_data(max_entries=128, show_spinner=False)
def studied(loss: str, params: tuple):
    curve = loss_curve(get_loss(loss), dict(params))
    return curve, diagnosis(loss, dict(params)), loss_graph(loss, dict(params))


st.title("Gradient Lab")
st.caption("Type a loss or pick one; the doctor says whether it will train, and why not.")
loss = loss_picker(list(LOSSES), custom=True, default="custom")
if loss is None:
    st.stop()
spec = get_loss(loss)
left, right = st.columns([1, 2])
with left:
    st.latex(spec.formula)
    params = loss_param_sliders(spec, prefix="lab", defaults=FORMULA_DEFAULTS)
    st.caption(spec.notes)
curve, findings, (dot, value, norms) = studied(loss, tuple(params.items()))
right.plotly_chart(
    plots.loss_curves(
        curve.x,
        [{"name": spec.name, **vars(curve)}],
        uirevision="lab",
        title=f"{spec.name}: value and gradient against the {spec.x_axis}",
    ),
    key="lab_curve",
)
query = loss_query(loss, params, graph_config(loss).dataset)
train_link, land_link = st.columns(2)
train_link.page_link(
    "pages/training.py",
    label="Train a model with this loss",
    icon=":material/model_training:",
    query_params=query,
)
land_link.page_link(
    "pages/landscape.py",
    label="See its loss landscape",
    icon=":material/landscape:",
    query_params=query,
)
st.subheader("Gradient doctor")
show_findings(findings)

st.subheader("Autograd graph on a tiny model")
st.caption(
    f"Loss {value:.4g} on 8 points; green leaves are parameters, red dashed ones got no path."
)
graph, grads = st.columns([3, 1])
graph.graphviz_chart(dot)
grads.dataframe(
    pd.DataFrame({"parameter": list(norms), "‖grad‖": list(norms.values())}), hide_index=True
)

st.subheader("gradcheck of the hand-written backwards")
st.dataframe(pd.DataFrame(gradcheck_table()), hide_index=True)
