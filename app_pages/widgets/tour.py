"""The tour bar (not a page): on top of the page a guided tour's step drives, its text, what to
look at, Back / Next and the step's own link.

A step is opened by its link, `<page>?tour=<key>&step=<k>&<its settings>`: a tour step is a
teacher link like any other. Back and Next open the next step's link in this session: the
controls lose the values of the step before (each starts from the new link, or its default), so
a step shown by Next is the step its link shows.
"""

from urllib.parse import urlencode

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from app_pages.widgets import teacher
from explorer.tours import TOURS, Step, Tour

TOUR, STEP = "tour", "step"


def page_path(page: str) -> str:
    return f"app_pages/{page}.py"


def step_query(tour: Tour, index: int) -> dict[str, str | list[str]]:
    """The query of step `index` (0-based) of the tour: tour=, step= (1-based), its settings."""
    return {TOUR: tour.key, STEP: str(index + 1), **tour.steps[index].query()}


def step_link(tour: Tour, index: int) -> str:
    """The step's link, relative to the app's address: `training?tour=…&step=…&…`."""
    return f"{tour.steps[index].page}?{urlencode(step_query(tour, index), doseq=True)}"


def current() -> tuple[Tour, int] | None:
    """The tour and 0-based step the URL asks for; a caption (and None) for a bad one."""
    names, steps = st.query_params.get_all(TOUR), st.query_params.get_all(STEP)
    if not names:
        return None
    tour = TOURS.get(names[-1])
    if tour is None:
        st.caption("This link names a tour the app does not have; the page opens as usual.")
        return None
    raw = steps[-1] if steps else "1"
    n = len(tour.steps)
    index = int(raw) - 1 if raw.isdecimal() and len(raw) <= 3 else -1
    if not 0 <= index < n:
        st.caption(f"This tour has steps 1 to {n}; showing step 1.")
        index = 0
    return tour, index


def _release_url_bindings() -> None:
    """Let st.switch_page set the URL keys that controls of this page are bound to.

    Streamlit refuses to set a bound key, and on a page change drops keys bound on the page
    left; the controls drawn here are unbound first (they bind again when drawn)."""
    ctx = get_script_run_ctx()
    if ctx is None:
        return
    with ctx.session_state.query_params() as qp:
        for key in set(st.query_params) | set(st.session_state.get(teacher.CONTROLS, {})):
            binding = qp.get_binding_for_param(key)
            if binding is not None:
                qp.unbind_widget(binding.widget_id)


def go(tour: Tour, index: int) -> None:
    """Open step `index` of the tour as its link opens it."""
    drawn = {
        **st.session_state.get(teacher.CONTROLS, {}),
        **st.session_state.get(teacher.DRAWN, {}),
    }
    _release_url_bindings()
    for key in drawn:  # every control starts again from the step's URL or its default
        st.session_state.pop(key, None)
    step = tour.steps[index]
    st.switch_page(page_path(step.page), query_params=step_query(tour, index))


def _step_card(tour: Tour, index: int, step: Step, here: bool, root: str) -> None:
    n = len(tour.steps)
    st.markdown(f"**Tour: {tour.title}** · step {index + 1} of {n}")
    st.markdown(step.text)
    st.markdown(f":material/visibility: **Look at:** {step.look}")
    back, forward, jump, link = st.columns([1, 1, 2, 3], vertical_alignment="center")
    if back.button("Back", key="tour.back", icon=":material/arrow_back:", disabled=index == 0):
        go(tour, index - 1)
    last = index == n - 1
    if forward.button("Next", key="tour.next", icon=":material/arrow_forward:", disabled=last):
        go(tour, index + 1)
    if not here and jump.button(
        "Open this step", key="tour.here", icon=":material/open_in_browser:"
    ):
        go(tour, index)
    with link.popover("Link to this step", icon=":material/link:"):
        st.code(root + step_link(tour, index), language=None, wrap_lines=True)


def tour_bar(page_url: str) -> None:
    """The bar of the tour step in the URL, if any (page_url: the page being shown)."""
    found = current()
    if found is None:
        return
    tour, index = found
    step = tour.steps[index]
    with st.container(border=True, key="tour_bar"):
        _step_card(tour, index, step, step.page == page_url, teacher.app_root(page_url))


def tour_list() -> None:
    """Every tour: its title, summary and a button that opens its first step (home page)."""
    for tour in TOURS.values():
        with st.container(border=True):
            st.markdown(f"**{tour.title}** · {len(tour.steps)} steps")
            st.caption(tour.summary)
            if st.button("Start the tour", key=f"tour.start.{tour.key}", icon=":material/tour:"):
                go(tour, 0)
