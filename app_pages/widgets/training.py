"""Widgets of the Training page (not a page): its settings, URL-bound, turned into TrainConfigs.

Bound widgets take plain keys as options (names go in captions and help), so the URL reads
`?data=moons&model=mlp&loss=hinge&opt=adam&lr=0.01`.
"""

import streamlit as st

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
from explorer.data import DATASETS, N_RANGE, NOISE_RANGE, OUTLIER_RANGE
from explorer.losses import EXPRESSION_PREFIX, LossSpec
from explorer.models import ACTIVATIONS, MODELS, STRAIGHT_THROUGH, models_for
from explorer.optimizers import OPTIMIZERS
from explorer.race import race_configs
from explorer.training import LR_RANGE, STEPS_RANGE, TrainConfig, losses_for_data

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
    key = st.selectbox("data set", list(DATASETS), key="data", bind=URL, help=_names(DATASETS))
    spec = DATASETS[key]
    st.caption(f"{spec.name} · {spec.task}: {spec.description}")
    n = url_number_input("points n", *N_RANGE, 200, step=50, key="n")
    noise = url_slider("noise", *NOISE_RANGE, 0.1, 0.05, key="noise")
    frac = url_slider(
        "outlier fraction",
        *OUTLIER_RANGE,
        0.0,
        0.01,
        key="outliers",
        help="regression: shifted far off the curve; classification: flipped labels",
    )
    return dict(dataset=key, n=n, noise=noise, outlier_frac=frac)


def model_widgets(dataset: str) -> dict:
    st.markdown("**Model**")
    options = models_for(DATASETS[dataset].in_dim)
    key = st.selectbox("model", options, key="model", bind=URL, help=_names(MODELS))
    st.caption(MODELS[key].description)
    mlp = key == "mlp"
    width = url_select_slider("hidden width", WIDTHS, 16, key="width", disabled=not mlp)
    depth = url_slider("hidden layers", 1, MAX_DEPTH, 1, key="depth", disabled=not mlp)
    act = st.selectbox("activation", ACTIVATIONS, key="act", bind=URL, disabled=not mlp)
    through = st.selectbox(
        "straight-through (step backward)",
        STRAIGHT_THROUGH,
        key="through",
        bind=URL,
        disabled=not (mlp and act == "step"),
        help="off: the step's true gradient, zero everywhere; identity / clipped: pass it on",
    )
    return dict(model=key, hidden=(width,) * depth, activation=act, straight_through=through)


def loss_widgets(dataset: str) -> tuple[LossSpec, dict]:
    st.markdown("**Loss**")
    regression = DATASETS[dataset].task == "regression"
    spec = pick_loss(losses_for_data(dataset), custom=regression)
    if spec is None:
        st.stop()  # the formula's error is on the page; nothing can train on it
    st.caption(f"{md_text(spec.name)} · _{md_text(spec.source)}_ · formula below")
    prefix = CUSTOM if spec.key.startswith(EXPRESSION_PREFIX) else spec.key
    params = loss_param_sliders(spec, prefix=prefix, defaults=FORMULA_DEFAULTS)
    return spec, dict(loss=spec.key, loss_params=params)


def optimizer_widgets() -> dict:
    st.markdown("**Optimizer**")
    opt = st.selectbox("optimizer", OPTIMIZERS, key="opt", bind=URL)
    lr = url_select_slider("learning rate", LR_CHOICES, 0.05, key="lr")
    steps = url_number_input("steps", *STEPS_RANGE, 200, step=50, key="steps")
    batch = url_number_input("batch size (0 = full batch)", 0, N_RANGE[1], 0, step=8, key="batch")
    return dict(optimizer=opt, lr=lr, steps=steps, batch_size=batch or None)


def settings(device: str, seed: int) -> dict[str, TrainConfig]:
    """Every settings widget; the race's configs {run name: TrainConfig}, the main run first."""
    cols = st.columns(4)
    with cols[0]:
        data = data_widgets()
    with cols[1]:
        model = model_widgets(data["dataset"])
    with cols[2]:
        spec, loss = loss_widgets(data["dataset"])
    with cols[3]:
        opt = optimizer_widgets()
    base = TrainConfig(**data, **model, **loss, **opt, seed=seed, device=device)
    formula, left, right = st.columns([2, 1, 1])
    formula.latex(spec.formula)
    optimizers = left.multiselect(
        "race these optimizers",
        OPTIMIZERS,
        key="race_opt",
        bind=URL,
        max_selections=MAX_RACERS,
        help="each runs from the same initial parameters as the main run",
    )
    losses = right.multiselect(
        "race these losses",
        losses_for_data(data["dataset"]),
        key="race_loss",
        bind=URL,
        max_selections=MAX_RACERS,
        help="raced losses use their default parameters",
    )
    return race_configs(base, optimizers, losses)
