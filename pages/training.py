"""Training: train a tiny model live; race optimizers or losses from the same initialization.

Session state this page owns (per session: live generators are never cached or shared):
  "train.race"     explorer.race.Race for the current settings: its generators and records so far
  "train.running"  True from Start until the race ends or Stop is pressed
  "last_run"       {"config": TrainConfig, "records": list[StepRecord]} of the main (first) run,
                   written when a run finishes or is stopped; the Landscape page only reads it.
Live update: the charts sit in a fragment that reruns every `redraw` seconds while a race runs;
each tick trains for about half that time, then redraws only the fragment.
"""

import streamlit as st

from explorer import plots
from explorer.race import Race
from explorer.train import select_device
from pages.train_widgets import settings
from pages.widgets import sidebar_settings

RACE, RUNNING, LAST = "train.race", "train.running", "last_run"
REDRAWS = (0.2, 0.3, 0.5, 1.0, 2.0)  # seconds between live redraws
WORK = 0.5  # share of each redraw interval spent training


def publish(race: Race) -> None:
    """End the run: hand the main run's config and records to other pages."""
    st.session_state[RUNNING] = False
    main = next(iter(race.runs.values()))
    st.session_state[LAST] = {"config": main.config, "records": list(main.records)}


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


def live(every: float):
    """Advance the race by one chunk (while running) and draw progress and charts."""
    race, running = st.session_state[RACE], st.session_state.get(RUNNING, False)
    if running:
        race.advance(budget_s=WORK * every)
    if running and race.done:
        publish(race)
        st.rerun()  # a full rerun stops the timer and shows the table and downloads
    steps = max(cfg.steps for cfg in race.configs.values())
    state = "running" if running else "done" if race.done else "stopped" if race.step else "ready"
    st.progress(race.progress, text=f"step {race.step} of {steps} · {state}")
    for name, run in race.runs.items():
        if run.stop:
            st.warning(f"**{name}** stopped early: {run.stop}")
    left, right = st.columns(2)
    curves = None
    if race.step == 0:
        left.info("Press **Start**: loss and gradient-norm curves grow here as the model trains.")
    else:
        curves = plots.training_curves(race.histories(), title="Loss and gradient norm")
        left.plotly_chart(curves, key="curves")
    names = list(race.runs)
    name = right.radio("fit of", names, key="fit_run", horizontal=True) if names[1:] else names[0]
    run = race.runs[name]
    fit = plots.fit_plot(**race.fit(name), title=f"Fit of {name} at step {run.records[-1].step}")
    right.plotly_chart(fit, key="fit")
    steps_kept, theta = run.path()
    if race.step > 0:
        st.plotly_chart(plots.param_path(theta, run.labels, steps=steps_kept), key="params")
    return curves


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

cols = st.columns([1, 1, 1.6, 2, 3.4], vertical_alignment="bottom")
cols[0].button("Start", on_click=start, args=(configs,), type="primary", disabled=running)
cols[1].button("Stop", on_click=stop, disabled=not running)
cols[2].button("Run to the end", on_click=to_end, args=(configs,), help="no live redraws")
every = cols[3].select_slider("redraw every (seconds)", REDRAWS, 0.3, key="every")
fell_back = device.type == "cpu" and choice != "cpu"
(cols[4].info if fell_back else cols[4].caption)(f"Training on **{device}**. {note}")

curves = st.fragment(live, run_every=every if running else None)(every)

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
