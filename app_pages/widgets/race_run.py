"""Training's run controls (not a page): the race in session state, Start / Stop / Run to the end
/ Continue, the budget's notice, and the settled run's history with its downloads.

Session state this module owns (per session: live generators are never cached or shared):
  "train.race"     explorer.race.Race for the current settings: its generators and records so far
  "train.running"  True from Start until the race ends or "Stop training" is pressed
  "last_run"       {"config": TrainConfig, "records": list[StepRecord]} of the main (first) run,
                   written when a run finishes or is stopped; the Landscape page only reads it.
  "train.loop"     a token of the script run drawing the race: an older run still sleeping
                   between redraws sees a newer token and ends instead of training on.
  "train.to_end"   True from a click on "Run to the end" or "Continue" until the run that does
                   it begins (the work runs in the page's body, not in the click's callback)
  "train.cut"      "Stopped at step N of M: why" when a budget ended "Run to the end", else None
"Run to the end" spends at most explorer.budget.CLICK_S of CPU a click (then Continue goes on);
every unit of training takes one of the server-wide slots.
"""

import time

import streamlit as st

from explorer import budget as budgets
from explorer import plots
from explorer.race import REDRAWS, Race

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


def current_race(configs) -> Race:
    """The session's race for `configs`; new settings give a fresh race, shown at step 0."""
    race = st.session_state.get(RACE)
    if race is None or race.configs != configs:
        race = st.session_state[RACE] = Race(configs)
        race.advance(max_rounds=1)  # step 0, the initial fit; a loss that cannot train says so
        st.session_state[RUNNING] = False
        st.session_state[CUT] = None
    return race


def controls(configs, running: bool, device_text: str, fell_back: bool) -> float:
    """Start / Stop training / Run to the end, the redraw pace and the device; returns the pace."""
    cols = st.columns([1, 1.5, 1.6, 2, 2.9], vertical_alignment="bottom")
    cols[0].button("Start", on_click=start, args=(configs,), type="primary", disabled=running)
    cols[1].button("Stop training", on_click=stop, disabled=not running)
    spend = f"no live redraws; at most {budgets.CLICK_S:g} s of CPU a click, then Continue goes on"
    cols[2].button("Run to the end", on_click=to_end, args=(configs,), help=spend)
    every = cols[3].select_slider("redraw every (seconds)", REDRAWS, 0.3, key="every")
    (cols[4].info if fell_back else cols[4].caption)(device_text)
    return every


def cut_notice(race: Race, running: bool) -> None:
    """Why the latest run stopped short of its end, with Continue where a click's budget cut it."""
    cut = st.session_state.get(CUT)
    if not cut or running:
        return
    if race.cut in ("budget", "busy"):
        note, go = st.columns([6, 1], vertical_alignment="center")
        note.warning(f"{cut} Press **Continue** to go on.", icon=":material/timer:")
        go.button("Continue", on_click=carry_on, type="primary")
    else:
        smaller = "Start a smaller race: fewer steps, runs or points."
        st.warning(f"{cut} {smaller}", icon=":material/timer:")


def history(race: Race, curves) -> None:
    """The settled race's history table and its downloads."""
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
