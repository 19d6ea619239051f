"""Training: train a tiny model live; race optimizers or losses from the same initialization.

Session state this page owns (per session: live generators are never cached or shared):
  "train.race"     explorer.race.Race for the current settings: its generators and records so far
  "train.running"  True from Start until the race ends or "Stop training" is pressed
  "last_run"       {"config": TrainConfig, "records": list[StepRecord]} of the main (first) run,
                   written when a run finishes or is stopped; the Landscape page only reads it.
  "train.loop"     a token of the script run drawing the race: an older run still sleeping
                   between redraws sees a newer token and ends instead of training on.
  "train.to_end"   True from a click on "Run to the end" or "Continue" until the run that does
                   it begins (the work runs in the page's body, not in the click's callback)
  "train.cut"      "Stopped at step N of M: why" when a budget ended "Run to the end", else None
Live update: while a race runs, the script run itself loops over explorer.race.live_ticks (the
server pushes each redraw; no browser timer, which piled up ticks on a crowded server). A click
(Stop training, or any widget) ends that script run at its next redraw; the new run carries on
from the race in session state. "Run to the end" spends at most explorer.budget.CLICK_S of CPU
a click (then Continue goes on); every unit of training takes one of the server-wide slots.
"""

import time

import streamlit as st

from app_pages.widgets.common import md_text, sidebar_settings
from app_pages.widgets.player import race_section
from app_pages.widgets.training import settings
from explorer import budget as budgets
from explorer import plots
from explorer.devices import select_device
from explorer.race import REDRAWS, Race, live_ticks
from explorer.views.fit import race_fit
from explorer.views.lab import zero_gradient_warning

RACE, RUNNING, LAST, LOOP = "train.race", "train.running", "last_run", "train.loop"
TO_END, CUT = "train.to_end", "train.cut"
PROGRESS_EVERY = 0.25  # seconds between progress redraws while running to the end


def publish(race: Race) -> None:
    """End the run: hand the main run's config and records to other pages."""
    st.session_state[RUNNING] = False
    st.session_state[LAST] = race.handover()


def start(configs) -> None:
    st.session_state[RACE] = Race(configs)
    st.session_state[RUNNING] = True
    st.session_state[CUT] = None


def stop() -> None:
    publish(st.session_state[RACE])


def to_end(configs) -> None:
    """Finish the running race, or run a fresh one, without redraws in between (see finish)."""
    if not st.session_state.get(RUNNING):
        start(configs)
    st.session_state[TO_END] = True


def carry_on() -> None:
    """Continue: run a race that a budget stopped on towards its end, with a fresh budget."""
    st.session_state[RUNNING] = True
    st.session_state[TO_END] = True
    st.session_state[CUT] = None


def finish(race: Race, area) -> None:
    """Run the race on without live redraws, for at most one click's CPU budget, then rerun.

    The progress bar is redrawn between rounds (every PROGRESS_EVERY s): each redraw is where
    Streamlit ends this script run once "Stop training" is pressed or the session is gone.
    """
    bar = area.progress(race.progress, text=race.progress_text(True))
    shown = time.perf_counter()

    def redraw() -> bool:
        nonlocal shown
        if time.perf_counter() - shown >= PROGRESS_EVERY:
            bar.progress(race.progress, text=race.progress_text(True))
            shown = time.perf_counter()
        return False  # never cancels; a click or a closed tab raises in bar.progress

    cap = budgets.CLICK_WALL_CAP
    click = budgets.Budget(budgets.CLICK_S, cancel=redraw, slots=budgets.HEAVY, wall_cap=cap)
    race.advance(budget=click)
    publish(race)
    st.session_state[CUT] = race.cut_text()
    st.rerun()  # a plain run shows the race, finished or cut, its table and downloads


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
        left.plotly_chart(curves, key=key("curves"))
    run = race.runs[name]
    inputs = race_fit(race, name)  # the run's data and its predictions at the latest step
    fit = plots.fit_plot(**inputs.kwargs(), title=f"Fit of {name} at step {run.records[-1].step}")
    right.plotly_chart(fit, key=key("fit"))
    steps_kept, theta = run.path()
    if race.step > 0:
        st.plotly_chart(plots.param_path(theta, run.labels, steps=steps_kept), key=key("params"))
        race_section(race, tick, running)  # the client-side player of every run
    return curves


def live(race: Race, running: bool, every: float):
    """Draw the race; while it runs, advance and redraw in place until it ends."""
    names = list(race.runs)
    name = names[0]
    if names[1:]:  # run names carry the loss key, a typed formula included: shown as written
        name = st.radio("fit of", names, key="fit_run", horizontal=True, format_func=md_text)
    area = st.empty()
    st.session_state[LOOP] = token = object()  # a later run takes over: this loop then ends
    if not running:
        with area.container():
            return draw(race, False, name, None)
    if st.session_state.pop(TO_END, False):
        finish(race, area)
    for tick in live_ticks(race, every, lambda: st.session_state.get(LOOP) is token):
        if race.done or race.cut == "race":  # finished, or its total budget is spent
            publish(race)
            st.session_state[CUT] = race.cut_text()
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
    st.session_state[CUT] = None
running = st.session_state.get(RUNNING, False)

cols = st.columns([1, 1.5, 1.6, 2, 2.9], vertical_alignment="bottom")
cols[0].button("Start", on_click=start, args=(configs,), type="primary", disabled=running)
cols[1].button("Stop training", on_click=stop, disabled=not running)
spend = f"no live redraws; at most {budgets.CLICK_S:g} s of CPU a click, then Continue goes on"
cols[2].button("Run to the end", on_click=to_end, args=(configs,), help=spend)
every = cols[3].select_slider("redraw every (seconds)", REDRAWS, 0.3, key="every")
fell_back = device.type == "cpu" and choice != "cpu"
(cols[4].info if fell_back else cols[4].caption)(f"Training on **{device}**. {note}")

if (cut := st.session_state.get(CUT)) and not running:  # a budget ended the latest run
    if race.cut in ("budget", "busy"):
        note, go = st.columns([6, 1], vertical_alignment="center")
        note.warning(f"{cut} Press **Continue** to go on.", icon=":material/timer:")
        go.button("Continue", on_click=carry_on, type="primary")
    else:
        smaller = "Start a smaller race: fewer steps, runs or points."
        st.warning(f"{cut} {smaller}", icon=":material/timer:")
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
