"""Landscape: a loss surface over a 2-D slice of parameter space, its −∇L field and a trajectory."""

from dataclasses import replace

import streamlit as st

from explorer import plots, views
from explorer.data import DATASETS
from explorer.losses import LOSSES, get_loss
from explorer.models import ACTIVATIONS, MODELS, models_for
from explorer.train import OPTIMIZERS
from pages.widgets import (
    CUSTOM,
    FORMULA_DEFAULTS,
    URL,
    follow_app_navigation,
    loss_param_sliders,
    loss_picker,
    sidebar_settings,
)

follow_app_navigation()


@st.cache_data(max_entries=32, show_spinner="Computing the surface…")
def compute(fields: tuple, run_key: str, _records=None) -> dict:
    """The view for plain config values; run_key stands for the (unhashed) last-run records."""
    return views.landscape_view(views.ViewConfig(**dict(fields)), _records)


def choose(label: str, keys: list, table: dict, key: str, index: int = 0) -> str:
    """A URL-bound selectbox of plain keys; its help names each key."""
    names = "  \n".join(f"`{k}`: {table[k].name}" for k in keys)
    return st.selectbox(label, keys, index, key=key, bind=URL, help=names)


st.title("Landscape")
st.caption("The loss around the path's last step, its descent direction −∇L, and the path itself.")
device, seed = sidebar_settings()
problem, loss_col, axes_col, path_col = st.columns(4, gap="medium")
with problem:
    data = choose("Data set", list(DATASETS), DATASETS, "data")
    st.caption(DATASETS[data].description)
    model = choose("Model", models_for(DATASETS[data].in_dim), MODELS, "model")
    hidden, act = 16, "tanh"
    if model == "mlp":
        hidden = st.slider("Hidden width", 2, 64, 16, key="hidden", bind=URL)
        act = st.selectbox("Activation", ACTIVATIONS, key="act", bind=URL)
with loss_col:
    fits = views.losses_for_data(data)  # only the losses that can train on this data set
    loss = loss_picker(fits, custom=DATASETS[data].task == "regression")
    if loss is None:
        st.stop()  # the formula's error is on the page
    spec = get_loss(loss)
    st.latex(spec.formula)
    prefix = CUSTOM if loss.startswith("expr:") else loss
    params = loss_param_sliders(spec, prefix, FORMULA_DEFAULTS)
    loss2, params2 = None, {}
    others = [k for k in fits if k != loss]
    if others and st.toggle("Compare with a second loss", key="compare", bind=URL):
        loss2 = choose("Second loss", others, LOSSES, "loss2", views.partner(loss, others))
        st.latex(LOSSES[loss2].formula)
        params2 = loss_param_sliders(LOSSES[loss2], loss2)
with axes_col:
    kinds = views.axes_for(data, model)  # only the axes that span a plane for this model
    names = [views.AXIS_NAMES[k] for k in kinds]
    axes = st.radio("Axes", kinds, key="axes", bind=URL, captions=names)
    fit = st.toggle("Fit the span to the trajectory", True, key="fit", bind=URL)
    span = st.slider("Span (half-width)", 0.1, 10.0, 1.0, key="span", bind=URL, disabled=fit)
    steps = st.slider("Resolution (points per axis)", 5, 101, 31, 2, key="steps", bind=URL)
    log = st.toggle("Log scale", key="log", bind=URL)
    cones = st.toggle("Gradient cones (3-D)", True, key="cones", bind=URL)
with path_col:
    paths = views.TRAJECTORIES
    source = st.radio("Trajectory", paths, key="path", bind=URL, captions=list(paths.values()))
    off = not (source == "quick" or (source == "none" and axes == "pca"))  # PCA needs a path
    opt = st.selectbox("Optimizer", OPTIMIZERS, key="opt", bind=URL, disabled=off)
    lr = st.number_input(
        "Learning rate", 1e-4, 5.0, 0.05, format="%g", key="lr", bind=URL, disabled=off
    )
    n_steps = st.slider("Training steps", 5, 500, 100, 5, key="train_steps", bind=URL, disabled=off)

cfg = views.ViewConfig(
    dataset=data, model=model, hidden=(hidden,), activation=act, loss=loss,
    loss_params=tuple(params.items()), compare=loss2, compare_params=tuple(params2.items()),
    axes=axes, span=None if fit else span, steps=steps, trajectory=source, optimizer=opt,
    lr=lr, train_steps=n_steps, seed=seed, device=device,
)  # fmt: skip
records, run_key = None, ""
if source == "last":  # the Training page owns "last_run"; this page only reads it
    try:
        cfg, records = views.follow_run(cfg, st.session_state.get("last_run"))
        run_key = views.run_fingerprint(records)
    except ValueError as err:
        st.warning(f"The last Training run cannot be overlaid: {err}. Showing a quick run.")
        cfg = replace(cfg, trajectory="quick")
try:
    view = compute(tuple(vars(cfg).items()), run_key, records)
except ValueError as err:
    st.error(f"This view cannot be drawn: {err}")
    st.stop()
if view["fell_back"]:
    st.info(view["device_note"])
if view["stop"]:
    st.warning(f"The run {view['stop']}; the path is drawn up to its last finite step.")

panels, figs = view["panels"], {}
for i, p in enumerate(panels):
    s, path = p["surface"], p["projection"]
    grad, common = (s.grad_alpha, s.grad_beta), dict(trajectory=path, log_scale=log, height=560)
    figs[f"surface_{i}"] = plots.surface_3d(
        s.alpha, s.beta, s.values, grad=grad if cones else None, axis_labels=p["short"],
        title=f"{p['name']}: loss surface", uirevision=f"surface_{i}", **common,
    )  # fmt: skip
    figs[f"contour_{i}"] = plots.contour_arrows(
        s.alpha, s.beta, s.values, *grad, axis_labels=s.labels,
        title=f"{p['name']}: contours and −∇L", uirevision=f"contour_{i}_{axes}", **common,
    )  # fmt: skip
grid = [["surface_0", "surface_1"], ["contour_0", "contour_1"]]
for row in grid if loss2 else [["surface_0", "contour_0"]]:
    for col, key in zip(st.columns(len(row)), row, strict=True):
        col.plotly_chart(figs[key], key=key)
        if key.startswith("contour") and (flat := panels[int(key[-1])]["flat"]) > 0.5:
            col.caption(
                f"−∇L is exactly 0 at {flat:.0%} of the grid: descent gets no signal there."
            )
if (path := panels[0]["projection"]) is not None:
    with st.expander("Animated path over the contours"):
        s = panels[0]["surface"]
        args = (s.alpha, s.beta, s.values, path)
        fig = plots.trajectory_animation(*args, log_scale=log, axis_labels=s.labels, max_frames=40)
        st.plotly_chart(fig, key="animation")
cut = view["slice"]
fig = plots.slice_1d(
    cut["t"], cut["values"], title=cut["title"], x_label=cut["label"], endpoints=cut["marks"]
)
st.plotly_chart(fig, key="slice")

st.subheader("How honest is the picture?")
st.caption(
    "Each step is projected onto the plane: 'dropped' is how far it lies off the plane; the gap "
    "between its true loss and the surface at the projected point is what the picture hides."
)
st.dataframe([p["honesty"] for p in panels], hide_index=True)
name = f"landscape_{data}_{model}_{loss}_{axes}"
files = {"npz": views.surface_npz(panels), "json": views.surface_json(panels)}
files["html"] = plots.to_html(figs["surface_0"])
for col, (ext, blob) in zip(st.columns(3), files.items(), strict=True):
    what = "3-D figure" if ext == "html" else "Surface"
    col.download_button(
        f"{what} ({ext.upper()})", blob, f"{name}.{ext}", key=ext, on_click="ignore"
    )
