"""Training: train a tiny model live; race optimizers or losses from the same initialization.

The race, its controls and its session state live in app_pages.widgets.race_run.
Live update: while a race runs, the script run itself loops over explorer.race.live_ticks (the
server pushes each redraw; no browser timer, which piled up ticks on a crowded server). A click
(Stop training, or any widget) ends that script run at its next redraw; the new run carries on
from the race in session state.
"""

import streamlit as st

from app_pages.widgets import race_run as runs
from app_pages.widgets.anatomy import anatomy_section
from app_pages.widgets.common import md_text, png_config, sidebar_settings
from app_pages.widgets.data import edited_now, fit_chart
from app_pages.widgets.player import race_section
from app_pages.widgets.training import settings
from explorer import plots
from explorer.devices import select_device
from explorer.race import Race, live_ticks
from explorer.views.fit import race_fit
from explorer.views.lab import zero_gradient_warning


def draw(race: Race, running: bool, name: str, tick: int | None):
    """Progress, early stops, loss curves, the fit of run `name`, its parameter path.

    Live redraws (tick: their number) key their charts by tick, as one script run draws many;
    the settled view uses the plain keys. Returns the loss figure (None before step 1).
    """
    key = (lambda k: k) if tick is None else (lambda k: f"{k}.live{tick}")
    st.progress(race.progress, text=race.progress_text(running))
    for label, run in race.runs.items():
        if run.stop:
            st.warning(f"**{md_text(label)}** stopped early: {run.stop}")
        stuck = zero_gradient_warning(run.config, [row[2] for row in run.rows])
        if stuck:  # known from step 0 on: before Start, while it runs and after
            st.warning(f"**{md_text(label)}**: {md_text(stuck)}", icon=":material/block:")
    left, right = st.columns(2)
    curves = None
    if race.step == 0:
        left.info("Press **Start**: loss and gradient-norm curves grow here as the model trains.")
    else:
        curves = plots.training_curves(race.histories(), title="Loss and gradient norm")
        left.plotly_chart(curves, key=key("curves"), config=png_config("training_curves"))
    run = race.runs[name]
    inputs = race_fit(race, name)  # the run's data and its predictions at the latest step
    fit = plots.fit_plot(**inputs.kwargs(), title=f"Fit of {name} at step {run.records[-1].step}")
    fit_chart(right, fit, run, tick is not None, key("fit"))  # a click edits the data (settled)
    steps_kept, theta = run.path()
    if race.step > 0:
        path = plots.param_path(theta, run.labels, steps=steps_kept)
        st.plotly_chart(path, key=key("params"), config=png_config("training_parameter_path"))
        race_section(race, tick, running)  # the client-side player of every run
    return curves


def live(race: Race, running: bool, every: float):
    """Draw the race; while it runs, advance and redraw in place until it ends."""
    names = list(race.runs)
    name = names[0]
    if names[1:]:  # run names carry the loss key, a typed formula included: shown as written
        name = st.radio("fit of", names, key="fit_run", horizontal=True, format_func=md_text)
    area = st.empty()
    st.session_state[runs.LOOP] = token = object()  # a later run takes over: this loop then ends
    if not running:
        with area.container():
            return draw(race, False, name, None)
    if st.session_state.pop(runs.TO_END, False):
        runs.finish(race, area)
    for tick in live_ticks(race, every, lambda: st.session_state.get(runs.LOOP) is token):
        if race.done or race.cut == "race":  # finished, or its total budget is spent
            runs.publish(race)
            st.session_state[runs.CUT] = race.cut_text()
            st.rerun()  # a plain run shows the finished race, its table and downloads
        with area.container():
            draw(race, True, name, tick)
    return None  # a click started a newer run, which draws the race now


st.title("Training")
st.caption(
    "Train a tiny PyTorch model and watch it learn. Every raced run starts from the same data "
    "and the same initial parameters (the sidebar's seed)."
)
choice, seed = sidebar_settings()
configs = settings(choice, seed)
device, note = select_device(choice)
if edited_now():  # a click on the fit changed the data: train on it at once
    runs.start(configs)
race = runs.current_race(configs)
running = st.session_state.get(runs.RUNNING, False)
fell_back = device.type == "cpu" and choice != "cpu"
every = runs.controls(configs, running, f"Training on **{device}**. {note}", fell_back)
runs.cut_notice(race, running)
curves = live(race, running, every)
if not running and race.step > 0:
    runs.history(race, curves)
    anatomy_section(race)  # the parts of one update, read from the optimizer's state
