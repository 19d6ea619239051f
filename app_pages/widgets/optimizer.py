"""Widgets of an optimizer's own hyper-parameters and of a learning-rate schedule, URL-bound,
built from explorer's registries (OPTIMIZER_PARAMS, SCHEDULE_PARAMS); shared by the Training
page (URL keys opt_momentum, opt_beta1, …, sched, sched_every, …) and the Landscape page
(prefixed ls_).

When the optimizer changes, its parameters start at its own defaults (momentum's β is 0.9,
plain SGD's 0): the widgets are shared by key, so their values are reset on the change.

Session state this module owns: "<prefix>for", the optimizer the widgets were last drawn for.
"""

import math

import streamlit as st

from app_pages.widgets.common import URL, url_number_input
from app_pages.widgets.teacher import control
from explorer.hyperparams import ParamSpec
from explorer.optimizers import OPTIMIZER_PARAMS
from explorer.schedules import SCHEDULE_PARAMS, SCHEDULES

SCHEDULE_NAMES = {
    "constant": "constant α",
    "step": "step: α·γ every k steps",
    "cosine": "cosine down to the final rate",
    "warmup_cosine": "linear warm-up, then cosine",
}


def _keys(spec: ParamSpec, prefix: str) -> list[str]:
    """The URL keys of a parameter: one, or two for a pair (betas → beta1, beta2)."""
    if spec.kind == "pair":
        return [f"{prefix}{spec.key.rstrip('s')}{i}" for i in (1, 2)]
    return [prefix + spec.key]


def _reset_on_change(name: str, prefix: str) -> None:
    """Put the widgets of optimizer `name` at its defaults when the optimizer just changed."""
    mark = f"{prefix}for"
    if st.session_state.get(mark, name) != name:
        for spec in OPTIMIZER_PARAMS[name].values():
            defaults = spec.default if spec.kind == "pair" else (spec.default,)
            for key, value in zip(_keys(spec, prefix), defaults, strict=True):
                st.session_state[key] = value
    st.session_state[mark] = name


def _widget(spec: ParamSpec, key: str, default, label: str, disabled: bool):
    if spec.kind == "bool":
        return control(
            st.checkbox, label, default, key=key, bind=URL, help=spec.help, disabled=disabled
        )
    step = 1 if spec.kind == "int" else 10 ** round(math.log10(spec.high)) / 100
    if spec.kind == "float" and 0 < spec.default < step / 100:
        step = spec.default  # ε: steps of its own size, not of its range's
    low, high = (int(spec.low), int(spec.high)) if spec.kind == "int" else (spec.low, spec.high)
    return url_number_input(
        label, low, high, default, key=key, step=step, format="%d" if spec.kind == "int" else "%g",
        help=spec.help or None, disabled=disabled,
    )  # fmt: skip


def _param_widgets(specs: dict[str, ParamSpec], prefix: str, disabled: bool) -> dict:
    out: dict = {}
    for name, spec in specs.items():
        keys = _keys(spec, prefix)
        if spec.kind == "pair":
            labels = [p.strip() for p in spec.label.split(",")]
            values = []
            for column, key, default, label in zip(
                st.columns(2), keys, spec.default, labels, strict=True
            ):
                with column:  # side by side: β1 | β2
                    values.append(_widget(spec, key, default, label, disabled))
            out[name] = tuple(values)
        else:
            out[name] = _widget(spec, keys[0], spec.default, spec.label, disabled)
    return out


def optimizer_param_widgets(name: str, prefix: str = "opt_", disabled: bool = False) -> dict:
    """The widgets of optimizer `name`'s parameters in an expander; {torch keyword: value}."""
    _reset_on_change(name, prefix)
    specs = OPTIMIZER_PARAMS[name]
    shared = any(k in st.query_params for spec in specs.values() for k in _keys(spec, prefix))
    with st.expander(f"{name} parameters", expanded=shared):  # open when a link sets them
        params = _param_widgets(specs, prefix, disabled)
        if (
            "nesterov" in specs
            and params["nesterov"]
            and (params["momentum"] == 0 or params["dampening"] != 0)
        ):
            st.caption("Nesterov needs momentum β > 0 and dampening 0: it is off.")
            params["nesterov"] = False
    return params


def schedule_widgets(prefix: str = "sched", disabled: bool = False) -> tuple[str, dict]:
    """A schedule's selectbox and its parameters; (schedule name, {keyword: value})."""
    names = "  \n".join(f"**{k}**: {v}" for k, v in SCHEDULE_NAMES.items())
    name = control(
        st.selectbox, "learning-rate schedule", SCHEDULES, key=prefix, bind=URL, help=names,
        disabled=disabled,
    )  # fmt: skip
    return name, _param_widgets(SCHEDULE_PARAMS[name], f"{prefix}_", disabled)
