"""Loss Shapes: each loss and its derivative against the residual, margin or probability."""

import streamlit as st

from app_pages.widgets.common import URL, loss_param_sliders, png_config, url_slider
from app_pages.widgets.memo import memo
from app_pages.widgets.player import pair_section
from app_pages.widgets.teacher import control
from explorer import plots
from explorer.gradients.curves import curve_table, loss_curve
from explorer.losses import LOSSES, get_loss
from explorer.views.thresholds import PAIRS, soft_vs_hard

AXIS_LABELS = {
    "residual": "residual r = ŷ − y",
    "margin": "margin m = y·ŷ",
    "probability": "predicted probability p (target y = 1)",
    "logit": "logit of the true class (others 0, 3 classes)",
}
PAIR_NAMES = {"threshold": "threshold mask on |r|", "margin": "0-1 loss vs sigmoid(−k·yŷ)"}


@memo(max_entries=256, show_spinner=False)
def curve(key: str, params: tuple):
    return loss_curve(get_loss(key), dict(params))


st.title("Loss Shapes")
st.caption("L and dL/dŷ for each loss: solid lines are autograd, open circles finite differences.")
keys = control(
    st.multiselect,
    "Losses",
    list(LOSSES),
    ["mse", "huber", "soft_threshold"],
    key="losses",
    bind=URL,
    max_selections=6,
    help="catalogue keys; each loss gets its own panel with formula and parameters below",
)
if not keys:
    st.info("Pick one or more losses above.")
params, cols = {}, st.columns(min(len(keys), 3) or 1)
for i, key in enumerate(keys):
    spec = LOSSES[key]
    with cols[i % len(cols)], st.container(border=True):
        st.markdown(f"**{spec.name}** · _{spec.source}_")
        st.latex(spec.formula)
        params[key] = loss_param_sliders(spec, prefix=key)
        st.caption(spec.notes)

for axis in dict.fromkeys(LOSSES[k].x_axis for k in keys):
    group = {
        LOSSES[k].name: curve(k, tuple(params[k].items())) for k in keys if LOSSES[k].x_axis == axis
    }
    data = [{"name": name, **vars(c)} for name, c in group.items()]
    fig = plots.loss_curves(
        data[0]["x"],
        data,
        x_label=AXIS_LABELS[axis],
        uirevision=axis,
        title=f"Loss and derivative against the {axis}",
    )
    st.plotly_chart(fig, key=f"curves_{axis}", config=png_config(f"loss_shapes_{axis}"))
    st.dataframe(curve_table(group), hide_index=True)

st.header("A hard step vs its sigmoid")
left, right = st.columns([1, 3])
with left:
    pair = control(
        st.radio, "Pair", list(PAIRS), key="pair", bind=URL, captions=list(PAIR_NAMES.values())
    )
    k = url_slider("steepness k", 0.5, 100.0, 20.0, 0.5, key="k")
    t = url_slider("threshold t", 0.1, 5.0, 1.0, 0.05, key="t", disabled=pair != "threshold")
view = soft_vs_hard(pair, k=k, t=t)
for metric in view.metrics:
    left.metric(metric.label, metric.value)
if pair == "threshold":
    fig = plots.threshold_comparison(view.x, vars(view.soft), vars(view.hard), k=view.k, t=view.t)
else:
    fig = plots.loss_curves(
        view.x,
        [vars(line) for line in view.curves],
        x_label=AXIS_LABELS["margin"],
        marks=[(0.0, "m = 0")],
        uirevision="margin",
        title="The 0-1 loss passes no gradient anywhere; its sigmoid does",
    )
right.plotly_chart(fig, key="soft_vs_hard", config=png_config("loss_shapes_soft_vs_hard"))
pair_section(pair, view.t)  # every k at once, played in the browser
if view.outward:
    st.warning(view.outward)
