"""Training: train a tiny model live; race optimizers or losses from the same initialization.

Session state this page owns (per session: live generators are never cached or shared):
  "train.race"     explorer.race.Race for the current settings: its generators and records so far
  "train.running"  True from Start until the race ends or "Stop training" is pressed
  "last_run"       {"config": TrainConfig, "records": list[StepRecord]} of the main (first) run,
                   written when a run finishes or is stopped; the Landscape page only reads it.
  "train.loop"     a token of the script run drawing the race: an older run still sleeping
                   between redraws sees a newer token and ends instead of training on.
Live update: while a race runs, the script run itself loops over explorer.race.live_ticks (the
server pushes each redraw; no browser timer, which piled up ticks on a crowded server). A click
(Stop training, or any widget) ends that script run at its next redraw; the new run carries on
from the race in session state.
"""

import streamlit as st

from app_pages.widgets.common import sidebar_settings
from app_pages.widgets.training import settings
from explorer import plots
from explorer.devices import select_device
from explorer.race import REDRAWS, Race, live_ticks
from explorer.views.fit import race_fit

RACE, RUNNING, LAST, LOOP = "train.race", "train.running", "last_run", "train.loop"


def publish(race: Race) -> None:
    """End the run: hand the main run's config and records to other pages."""
    st.session_state[RUNNING] = False
    st.session_state[LAST] = race.handover()


def start(configs) -> None:
    st.session_state[RACE] = Race(configs)
    st.session_state[RUNNING] = True


def stop() -> None:
    publish(st.session_state[RACE])


def to_end(configs) -> None:
    """Finish the running race, or run a fresh one, without redraws in between."""
    if not st.session_state.get(RUNNING):
        start(configs)
    st.session_state[RACE].advance()
    publish(st.session_state[RACE])


def draw(race: Race, running: bool, name: str, tick: int | None):
    """Progress, early stops, loss curves, the fit of run `name`, its parameter path.

    Live redraws (tick: their number) key their charts by tick, as one script run draws many;
    the settled view uses the plain keys. Returns the loss figure (None before step 1).
    """
    key = (lambda k: k) if tick is None else (lambda k: f"{k}.live{tick}")
    st.progress(race.progress, text=race.progress_text(running))
    for label, run in race.runs.items():
        if run.stop:
            st.warning(f"**{label}** stopped early: {run.stop}")
    left, right = st.columns(2)
    curves = None
    if race.step == 0:
        left.info("Press **Start**: loss and gradient-norm curves grow here as the model trains.")
    else:
        curves = plots.training_curves(race.histories(), title="Loss and gradient norm")
        left.plotly_chart(curves, key=key("curves"))
    run = race.runs[name]
    inputs = race_fit(race, name)  # the run's data and its predictions at the latest step
    fit = plots.fit_plot(**inputs.kwargs(), title=f"Fit of {name} at step {run.records[-1].step}")
    right.plotly_chart(fit, key=key("fit"))
    steps_kept, theta = run.path()
    if race.step > 0:
        st.plotly_chart(plots.param_path(theta, run.labels, steps=steps_kept), key=key("params"))
    return curves


def live(race: Race, running: bool, every: float):
    """Draw the race; while it runs, advance and redraw in place until it ends."""
    names = list(race.runs)
    name = st.radio("fit of", names, key="fit_run", horizontal=True) if names[1:] else names[0]
    area = st.empty()
    st.session_state[LOOP] = token = object()  # a later run takes over: this loop then ends
    if not running:
        with area.container():
            return draw(race, False, name, None)
    for tick in live_ticks(race, every, lambda: st.session_state.get(LOOP) is token):
        if race.done:
            publish(race)
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
race = st.session_state.get(RACE)
if race is None or race.configs != configs:  # new settings: a fresh race, shown at step 0
    race = st.session_state[RACE] = Race(configs)
    race.advance(max_rounds=1)  # step 0, the initial fit; a loss that cannot train says so here
    st.session_state[RUNNING] = False
running = st.session_state.get(RUNNING, False)

cols = st.columns([1, 1.5, 1.6, 2, 2.9], vertical_alignment="bottom")
cols[0].button("Start", on_click=start, args=(configs,), type="primary", disabled=running)
cols[1].button("Stop training", on_click=stop, disabled=not running)
cols[2].button("Run to the end", on_click=to_end, args=(configs,), help="no live redraws")
every = cols[3].select_slider("redraw every (seconds)", REDRAWS, 0.3, key="every")
fell_back = device.type == "cpu" and choice != "cpu"
(cols[4].info if fell_back else cols[4].caption)(f"Training on **{device}**. {note}")

curves = live(race, running, every)

if not running and race.step > 0:
    st.subheader("History")
    table = race.history_table()
    if any(run.stride > 1 for run in race.runs.values()):
        st.caption("Many parameters: the table keeps loss and gradient norm; θ is thinned.")
    st.dataframe(table, hide_index=True, height=280)
    left, right = st.columns(2)
    left.download_button(
        "History as CSV",
        table.to_csv(index=False),
        "training_history.csv",
        "text/csv",
        on_click="ignore",
        icon=":material/download:",
    )
    right.download_button(
        "Loss figure as HTML",
        plots.to_html(curves),
        "training_curves.html",
        "text/html",
        on_click="ignore",
        icon=":material/download:",
    )
