"""Widgets of the Training page (not a page): its settings, URL-bound, turned into TrainConfigs.

Bound widgets take plain keys as options (names go in captions and help), so the URL reads
`?data=moons&model=mlp&loss=hinge&opt=adam&lr=0.01`.
"""

import streamlit as st

from app_pages.widgets import tuning
from app_pages.widgets.common import (
    CUSTOM,
    FORMULA_DEFAULTS,
    URL,
    loss_param_sliders,
    md_text,
    pick_loss,
    url_number_input,
    url_select_slider,
    url_slider,
)
from app_pages.widgets.data import choose_data
from app_pages.widgets.optimizer import optimizer_param_widgets, schedule_widgets
from app_pages.widgets.teacher import control
from explorer.data import N_RANGE, NOISE_RANGE, OUTLIER_RANGE, DataSpec
from explorer.losses import EXPRESSION_PREFIX, LossSpec
from explorer.models import ACTIVATIONS, MODELS, STRAIGHT_THROUGH, models_for
from explorer.optimizers import OPTIMIZERS
from explorer.race import race_configs
from explorer.training import LR_RANGE, STEPS_RANGE, TrainConfig, losses_for_data
from explorer.user_data import data_spec

LR_CHOICES = tuple(
    v
    for e in range(-4, 2)
    for m in (1, 2, 5)
    if LR_RANGE[0] <= (v := float(f"{m}e{e}")) <= LR_RANGE[1]
)
WIDTHS = (2, 4, 8, 16, 32, 64)  # MLP widths offered (kept small: every step's θ is recorded)
MAX_DEPTH = 3
MAX_RACERS = 4  # extra runs a race may add


def _names(table) -> str:
    """Help text listing each key's name: "line: Line with outliers · ..."."""
    return "  \n".join(f"**{k}**: {v.name}" for k, v in table.items())


def data_widgets() -> dict:
    st.markdown("**Data**")
    spec, user = choose_data()  # a built-in set, your file or your edited points
    fixed = dict(disabled=spec.size is not None, help="real data and your data keep their points")
    n = url_number_input("points n", *N_RANGE, 200, step=50, key="n", **fixed)
    noise = url_slider("noise", *NOISE_RANGE, 0.1, 0.05, key="noise", **fixed)
    frac = url_slider(
        "outlier fraction",
        *OUTLIER_RANGE,
        0.0,
        0.01,
        key="outliers",
        help="regression: shifted far off the curve; classification: flipped labels",
        disabled=user is not None,
    )
    return dict(dataset=spec.key, n=n, noise=noise, outlier_frac=frac, user_data=user)


def model_widgets(dataset: DataSpec) -> dict:
    st.markdown("**Model**")
    options = models_for(dataset.in_dim)
    key = control(st.selectbox, "model", options, key="model", bind=URL, help=_names(MODELS))
    st.caption(MODELS[key].description)
    mlp = key == "mlp"
    width = url_select_slider("hidden width", WIDTHS, 16, key="width", disabled=not mlp)
    depth = url_slider("hidden layers", 1, MAX_DEPTH, 1, key="depth", disabled=not mlp)
    act = control(st.selectbox, "activation", ACTIVATIONS, key="act", bind=URL, disabled=not mlp)
    through = control(
        st.selectbox,
        "straight-through (step backward)",
        STRAIGHT_THROUGH,
        key="through",
        bind=URL,
        disabled=not (mlp and act == "step"),
        help="off: the step's true gradient, zero everywhere; identity / clipped: pass it on",
    )
    return dict(model=key, hidden=(width,) * depth, activation=act, straight_through=through)


def loss_widgets(dataset: DataSpec) -> tuple[LossSpec, dict]:
    st.markdown("**Loss**")
    regression = dataset.task == "regression"
    spec = pick_loss(losses_for_data(dataset), custom=regression)
    if spec is None:
        st.stop()  # the formula's error is on the page; nothing can train on it
    st.caption(f"{md_text(spec.name)} · _{md_text(spec.source)}_ · formula below")
    prefix = CUSTOM if spec.key.startswith(EXPRESSION_PREFIX) else spec.key
    params = loss_param_sliders(spec, prefix=prefix, defaults=FORMULA_DEFAULTS)
    return spec, dict(loss=spec.key, loss_params=params)


def optimizer_widgets() -> dict:
    st.markdown("**Optimizer**")
    opt = control(st.selectbox, "optimizer", OPTIMIZERS, key="opt", bind=URL)
    lr = url_select_slider("learning rate", LR_CHOICES, 0.05, key="lr")
    steps = url_number_input("steps", *STEPS_RANGE, 200, step=50, key="steps")
    batch = url_number_input("batch size (0 = full batch)", 0, N_RANGE[1], 0, step=8, key="batch")
    params = optimizer_param_widgets(opt)
    schedule, schedule_params = schedule_widgets()
    return dict(
        optimizer=opt, optimizer_params=params, lr=lr, schedule=schedule,
        schedule_params=schedule_params, steps=steps, batch_size=batch or None,
    )  # fmt: skip


def settings(device: str, seed: int) -> dict[str, TrainConfig]:
    """Every settings widget; the race's configs {run name: TrainConfig}, the main run first."""
    cols = st.columns(4)
    with cols[0]:
        data = data_widgets()
    about = data_spec(data["dataset"], data["user_data"])
    with cols[1]:
        model = model_widgets(about)
    with cols[2]:
        spec, loss = loss_widgets(about)
    with cols[3]:
        opt = optimizer_widgets()
    base = TrainConfig(**data, **model, **loss, **opt, seed=seed, device=device)
    formula, left, right = st.columns([2, 1, 1])
    formula.latex(spec.formula)
    optimizers = control(
        left.multiselect,
        "race these optimizers",
        OPTIMIZERS,
        key="race_opt",
        bind=URL,
        max_selections=MAX_RACERS,
        help="each runs from the same initial parameters as the main run, with its own default parameters",
    )
    tune = control(left.checkbox, "Tune learning rates", key=tuning.KEY, bind=URL, help=tuning.HELP)
    losses = control(
        right.multiselect,
        "race these losses",
        losses_for_data(about),
        key="race_loss",
        bind=URL,
        max_selections=MAX_RACERS,
        help="raced losses use their default parameters",
    )
    configs = race_configs(base, optimizers, losses)
    return tuning.tuned_race(configs) if tune else configs
