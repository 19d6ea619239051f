"""Widgets the pages share: the sidebar's settings and loss parameter sliders.

View-defining widgets use Streamlit's `bind="query-params"`: their values live in the URL
(invalid or out-of-range values there are ignored), so a link reproduces the view.
"""

import streamlit as st

from explorer.losses import EXPRESSION_PREFIX, LossSpec, get_loss

URL = "query-params"


def sidebar_settings() -> tuple[str, int]:
    """The device choice and seed from the shared sidebar (drawn by app.py, read by every page)."""
    return st.session_state.get("device", "auto"), int(st.session_state.get("seed", 0))


def loss_param_sliders(spec, prefix: str, defaults: dict | None = None) -> dict[str, float]:
    """One URL-bound slider a parameter of a loss spec, keyed `prefix.param`; returns the values.

    `defaults` overrides a parameter's starting value (clamped into its range).
    """
    start = spec.clamp({**spec.defaults(), **(defaults or {})})
    return {
        p.name: st.slider(
            p.name,
            float(p.min),
            float(p.max),
            start[p.name],
            step=float(p.step),
            key=f"{prefix}.{p.name}",
            help=p.help,
            bind=URL,
        )
        for p in spec.params
    }


SEVERITY_ICONS = {
    "error": ":material/error:",
    "warning": ":material/warning:",
    "info": ":material/info:",
}


def show_findings(findings) -> None:
    """The gradient doctor's findings, errors first: what was seen, why it matters, how to fix it."""
    if not findings:
        st.success("No findings: the gradient looks healthy.", icon=":material/check_circle:")
    for f in findings:
        with st.expander(
            f"{f.severity.upper()}: {f.title}",
            icon=SEVERITY_ICONS[f.severity],
            expanded=f.severity == "error",
        ):
            st.markdown(f"**Seen:** {f.seen}\n\n**Why it matters:** {f.why}\n\n**Fix:** {f.fix}")


CUSTOM = "custom"
DEFAULT_FORMULA = "mean(sigmoid(k*(t - abs(r))) * r**2)"  # the seed's soft threshold
FORMULA_DEFAULTS = {"k": 20.0, "t": 1.0}  # slider starts for the default formula's parameters


def pick_loss(keys: list[str], *, custom: bool, default: str | None = None) -> LossSpec | None:
    """A URL-bound loss choice from `keys` (+ a typed formula if `custom`); its spec, or None.

    A typed formula is resolved here, once; one that does not parse shows its error (with a
    caret under the column) and gives None.
    """
    options = [*keys, CUSTOM] if custom else list(keys)
    choice = st.selectbox(
        "Loss",
        options,
        options.index(default) if default in options else 0,
        key="loss",
        bind=URL,
        help="catalogue keys; `custom` lets you type one",
    )
    if choice != CUSTOM:
        return get_loss(choice)  # a catalogue key: a look-up, nothing parsed
    text = st.text_input(
        "Formula (names: pred, target, r = pred − target, your parameters)",
        DEFAULT_FORMULA,
        key="expr",
        bind=URL,
        max_chars=500,
        help="functions: abs sqrt exp log log1p sigmoid tanh relu softplus clamp "
        "minimum maximum where round sign mean sum; no other names run",
    )
    try:
        return get_loss(EXPRESSION_PREFIX + text)
    except ValueError as err:  # ExpressionError: a message a student can act on
        st.error(f"This formula can't be used: {err}", icon=":material/edit_off:")
        col = getattr(err, "col", None)
        if col:
            st.code(f"{text}\n{' ' * (col - 1)}^", language=None)
        return None


def loss_query(loss: str, params: dict, dataset: str) -> dict[str, str]:
    """The URL query that opens Training or Landscape on this loss, its parameters and data set."""
    custom = loss.startswith(EXPRESSION_PREFIX)
    prefix = CUSTOM if custom else loss
    query = {"data": dataset, "loss": CUSTOM if custom else loss}
    if custom:
        query["expr"] = loss.removeprefix(EXPRESSION_PREFIX)
    return query | {f"{prefix}.{name}": f"{value:g}" for name, value in params.items()}
