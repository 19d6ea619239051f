"""Widgets the pages share: the sidebar's settings and loss parameter sliders.

View-defining widgets use Streamlit's `bind="query-params"`: their values live in the URL
(invalid or out-of-range values there are ignored), so a link reproduces the view.
"""

import streamlit as st

URL = "query-params"
DEVICES = ("auto", "cpu", "cuda", "mps")


def sidebar_settings() -> tuple[str, int]:
    """The device choice and seed from the shared sidebar (drawn by app.py, read by every page)."""
    return st.session_state.get("device", "auto"), int(st.session_state.get("seed", 0))


def loss_param_sliders(spec, prefix: str) -> dict[str, float]:
    """One URL-bound slider a parameter of a loss spec, keyed `prefix.param`; returns the values."""
    return {
        p.name: st.slider(
            p.name,
            float(p.min),
            float(p.max),
            float(p.default),
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
