"""Widgets the pages share: URL-bound widget state, the sidebar's settings, loss parameter sliders."""

import streamlit as st

from explorer.urlstate import Setting

SIDEBAR = (
    Setting("device", "auto", options=("auto", "cpu", "cuda", "mps")),
    Setting("seed", 0, 0, 9999),
)


def bind(*settings: Setting) -> None:
    """Seed each setting's widget state from the URL, once per session, parsed and clamped."""
    for s in settings:
        if s.key not in st.session_state:
            st.session_state[s.key] = s.parse(st.query_params.get_all(s.key) or None)


def publish(*settings: Setting) -> None:
    """Write the current value of each setting to the URL, so a link reproduces the view."""
    for s in settings:
        if s.key in st.session_state:
            value = s.encode(st.session_state[s.key])
            if st.query_params.get(s.key) != value:
                st.query_params[s.key] = value


def sidebar_settings() -> tuple[str, int]:
    """The device choice and seed from the shared sidebar (owned by app.py, read by every page)."""
    return st.session_state.get("device", "auto"), int(st.session_state.get("seed", 0))


def loss_param_sliders(spec, prefix: str) -> dict[str, float]:
    """One slider a parameter of a loss spec, keyed `prefix.param`, bound to the URL."""
    settings = [Setting(f"{prefix}.{p.name}", float(p.default), p.min, p.max) for p in spec.params]
    bind(*settings)
    for p, s in zip(spec.params, settings, strict=True):
        st.slider(p.name, float(p.min), float(p.max), step=float(p.step), key=s.key, help=p.help)
    publish(*settings)
    return {
        p.name: float(st.session_state[s.key]) for p, s in zip(spec.params, settings, strict=True)
    }
