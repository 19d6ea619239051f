"""Loss Landscape Explorer: entry point: navigation, the shared sidebar, and the home page."""

from pathlib import Path

import streamlit as st
from streamlit import runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from app_pages.widgets import teacher
from app_pages.widgets.common import URL, md_text, url_number_input
from app_pages.widgets.tour import tour_bar, tour_list
from explorer import allocator, budget, devices
from explorer.devices import DEVICES

PAGE_CSS = Path(__file__).resolve().parent / "app_pages" / "page.css"  # rules for every page
allocator.configure()  # glibc malloc settings, before any large allocation (once a process)

PAGES = {
    "Loss Shapes": (
        "app_pages/loss_shapes.py",
        ":material/show_chart:",
        "each loss and its gradient, soft vs hard threshold",
    ),
    "Landscape": (
        "app_pages/landscape.py",
        ":material/landscape:",
        "3-D loss surfaces, gradient arrows, trajectories",
    ),
    "Training": (
        "app_pages/training.py",
        ":material/model_training:",
        "train a tiny model live; race optimizers and losses",
    ),
    "Gradient Lab": (
        "app_pages/gradient_lab.py",
        ":material/science:",
        "type your own loss; gradcheck; the gradient doctor",
    ),
    "Lessons": (
        "app_pages/lessons.py",
        ":material/school:",
        "the bugs in the source articles, run live and fixed",
    ),
}


def home() -> None:
    st.title("Loss Landscape Explorer")
    st.markdown(
        "See what a loss function does to gradients and to training. Pick a loss and its "
        "parameters, look at its value and gradient, train a tiny PyTorch model live, and walk "
        "its loss surface. Why does a hard threshold give no gradient while its sigmoid "
        "approximation does? Every page answers with numbers computed as you watch."
    )
    for title, page in NAV.items():
        st.page_link(page, label=f"**{title}**: {PAGES[title][2]}", icon=PAGES[title][1])
    st.subheader("Guided tours")
    st.caption("Step by step through one question; each step opens a page with its settings.")
    tour_list()


def session_gone():
    """A check for heavy work in this script run: True once its session is disconnected (a
    closed tab) or the server is stopping. Streamlit would end the run at its next st.* call;
    work between such calls asks this (explorer.budget.watch) between its rounds and chunks."""
    ctx = get_script_run_ctx()
    if ctx is None or not runtime.exists():
        return None
    server, session = runtime.get_instance(), ctx.session_id
    if not server.is_active_session(session):  # not a connected session (e.g. under AppTest)
        return None
    stopping = (runtime.RuntimeState.STOPPING, runtime.RuntimeState.STOPPED)
    return lambda: server.state in stopping or not server.is_active_session(session)


devices.configure_threads()
budget.watch(session_gone())
NAV = {title: st.Page(path, title=title, icon=icon) for title, (path, icon, _) in PAGES.items()}
st.set_page_config(
    page_title="Loss Landscape Explorer", page_icon=":material/landscape:", layout="wide"
)
st.html(PAGE_CSS)  # a style sheet alone: Streamlit adds it to its event container (no space)
page = st.navigation(
    [st.Page(home, title="Home", icon=":material/home:", default=True), *NAV.values()]
)

teacher.begin()  # hide= / lock= of a teacher link apply to every control drawn from here on
tour_bar(page.url_path)
with st.sidebar:
    device_help = "auto: cuda, then mps, then cpu"
    teacher.control(st.selectbox, "Device", DEVICES, key="device", bind=URL, help=device_help)
    url_number_input("Random seed", 0, 9999, 0, key="seed", help="same seed, same run")
    device, note = devices.select_device(st.session_state["device"])
    st.caption(f"Running on **{device}**. {note}")
    st.caption(f"Available here: {', '.join(devices.available_devices())}")
    teacher.share_button(page.url_path)

try:
    page.run()
except ValueError as err:  # explorer's clear messages about bad settings
    st.error(f"That combination does not work: {md_text(err)}")
except Exception as err:  # never a traceback in the page; the message says what broke
    st.error(
        f"Unexpected error ({type(err).__name__}): {md_text(err)}. Try other settings or reload."
    )
teacher.end()  # after a page that ran to its end (st.stop ends the run before)
