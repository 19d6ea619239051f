"""Widgets of the Landscape page (not a page): its settings, URL-bound, turned into a ViewConfig.

Bound widgets take plain keys as options (names go in help texts and captions), so the URL
reads `?data=moons&model=mlp&loss=hinge&axes=pca&path=quick`.
"""

import streamlit as st

from app_pages.widgets.common import (
    CUSTOM,
    FORMULA_DEFAULTS,
    URL,
    loss_param_sliders,
    pick_loss,
    url_number_input,
    url_slider,
)
from app_pages.widgets.data import choose_data
from app_pages.widgets.optimizer import optimizer_param_widgets, schedule_widgets
from app_pages.widgets.teacher import control
from explorer.losses import EXPRESSION_PREFIX, LOSSES
from explorer.models import ACTIVATIONS, MODELS, models_for
from explorer.optimizers import OPTIMIZERS
from explorer.training import losses_for_data
from explorer.views import landscape as views


def choose(label: str, keys: list, table: dict, key: str, index: int = 0) -> str:
    """A URL-bound selectbox of plain keys; its help names each key."""
    names = "  \n".join(f"`{k}`: {table[k].name}" for k in keys)
    return control(st.selectbox, label, keys, index, key=key, bind=URL, help=names)


def settings(device: str, seed: int) -> tuple[views.ViewConfig, dict]:
    """The four columns of settings; (the view's config, {"log": bool, "cones": bool})."""
    problem, loss_col, axes_col, path_col = st.columns(4, gap="medium")
    with problem:
        about, user = choose_data("Data set")  # a built-in set, your file or your edited points
        data = about.key
        model = choose("Model", models_for(about.in_dim), MODELS, "model")
        hidden, act = 16, "tanh"
        if model == "mlp":
            hidden = url_slider("Hidden width", 2, 64, 16, key="hidden")
            act = control(st.selectbox, "Activation", ACTIVATIONS, key="act", bind=URL)
    with loss_col:
        fits = losses_for_data(about)  # only the losses that can train on this data set
        spec = pick_loss(fits, custom=about.task == "regression")
        if spec is None:
            st.stop()  # the formula's error is on the page
        loss = spec.key
        st.latex(spec.formula)
        prefix = CUSTOM if loss.startswith(EXPRESSION_PREFIX) else loss
        params = loss_param_sliders(spec, prefix, FORMULA_DEFAULTS)
        loss2, params2 = None, {}
        others = [k for k in fits if k != loss]
        if others and control(st.toggle, "Compare with a second loss", key="compare", bind=URL):
            loss2 = choose("Second loss", others, LOSSES, "loss2", views.partner(loss, others))
            st.latex(LOSSES[loss2].formula)
            params2 = loss_param_sliders(LOSSES[loss2], loss2)
    with axes_col:
        kinds = views.axes_for(about, model)  # only the axes that span a plane for this model
        names = [views.AXIS_NAMES[k] for k in kinds]
        axes = control(st.radio, "Axes", kinds, key="axes", bind=URL, captions=names)
        fit = control(st.toggle, "Fit the span to the trajectory", True, key="fit", bind=URL)
        span = url_slider("Span (half-width)", 0.1, 10.0, 1.0, key="span", disabled=fit)
        points = url_slider("Resolution (points per axis)", 5, 101, 31, 2, key="steps")
        log = control(st.toggle, "Log scale", key="log", bind=URL)
        cones = control(st.toggle, "Gradient cones (3-D)", True, key="cones", bind=URL)
    with path_col:
        paths = views.TRAJECTORIES
        source = control(
            st.radio, "Trajectory", paths, key="path", bind=URL, captions=list(paths.values())
        )
        off = not (source == "quick" or (source == "none" and axes == "pca"))  # PCA needs a path
        opt = control(st.selectbox, "Optimizer", OPTIMIZERS, key="opt", bind=URL, disabled=off)
        lr = url_number_input("Learning rate", 1e-4, 5.0, 0.05, format="%g", key="lr", disabled=off)
        n_steps = url_slider("Training steps", 5, 500, 100, 5, key="train_steps", disabled=off)
        opt_params = optimizer_param_widgets(opt, "ls_opt_", disabled=off)
        schedule, schedule_params = schedule_widgets("ls_sched", disabled=off)

    cfg = views.ViewConfig(
        dataset=data, model=model, hidden=(hidden,), activation=act, loss=loss,
        loss_params=tuple(params.items()), compare=loss2, compare_params=tuple(params2.items()),
        axes=axes, span=None if fit else span, points=points, trajectory=source, optimizer=opt,
        lr=lr, train_steps=n_steps, seed=seed, device=device, user_data=user,
        optimizer_params=tuple(opt_params.items()), schedule=schedule,
        schedule_params=tuple(schedule_params.items()),
    )  # fmt: skip
    return cfg, {"log": log, "cones": cones, "spec": spec}  # spec: the loss, resolved once
