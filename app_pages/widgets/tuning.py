"""Training's "Tune learning rates" (not a page): every raced run's rate tuned on a log grid
before the race, the loss-against-rate chart, the chosen rates and the criterion.

The grid is one batched run a problem (explorer.tuning), kept in the app memo and bounded by
a Landscape view's CPU budget (explorer.budget.VIEW_S); if the budget ends it, the race keeps
the rates the widgets set, and says so.

Session state this section owns:
  "tune.failed"  {"settings": repr of the configs, "why": the message} of a tuning that could not
                 run: those settings race untuned, without trying again at every rerun (a later
                 success would swap the race's configs and throw away a race under way), until
                 "Try tuning again" is pressed or the settings change.
"""

import streamlit as st

from app_pages.widgets.common import md_text
from app_pages.widgets.memo import memo
from explorer import budget as budgets
from explorer import plots
from explorer.training import TrainConfig
from explorer.tuning import Tuning, lr_grid, tune, tuned_configs

KEY = "tune"  # the checkbox's key (and URL key)
FAILED = "tune.failed"
HELP = (
    "Before the race, try each run on a log grid of learning rates from the same start and "
    "race each at its own best rate (the learning-rate slider is then not used)."
)


@memo(max_entries=16, show_spinner="Tuning learning rates…")
def _tuning(fingerprint: str, rates: tuple[float, ...], _configs: dict) -> Tuning:
    """The tuning of the configs that `fingerprint` (their repr) stands for."""
    unit = budgets.Budget(  # a view's budget: computed once, then every rerun reads it
        budgets.VIEW_S, slots=budgets.HEAVY, what="the tuning's", hint="tune fewer steps or runs"
    )
    with unit:
        return tune(_configs, rates)


def tuned_race(configs: dict[str, TrainConfig]) -> dict[str, TrainConfig]:
    """The race's configs at each run's tuned rate, with the tuning drawn in an expander; the
    configs unchanged (and the reason shown) when the tuning cannot run."""
    rates = lr_grid()
    with st.expander("Learning-rate tuning", expanded=True, icon=":material/tune:"):
        settings = repr(configs)
        failed = st.session_state.get(FAILED)
        if failed is None or failed["settings"] != settings:
            try:
                tuning = _tuning(settings, rates, configs)
            except ValueError as err:  # a budget's Cut is a ValueError too
                failed = st.session_state[FAILED] = {"settings": settings, "why": str(err)}
        if failed is not None and failed["settings"] == settings:
            st.warning(
                f"No tuning: {md_text(failed['why'])}. The race uses the learning rate set above."
            )
            st.button("Try tuning again", on_click=st.session_state.pop, args=(FAILED,))
            return configs
        left, right = st.columns([3, 2])
        scores = dict(zip(tuning.names, tuning.scores, strict=True))
        best = dict(zip(tuning.names, tuning.best, strict=True))
        fig = plots.tuning_curves(rates, scores, best, title="Tuning: loss against learning rate")
        left.plotly_chart(fig, key="tuning")
        right.markdown(f"**Criterion:** {md_text(tuning.criterion)}.")
        right.caption(
            f"{len(rates)} rates from {rates[0]:g} to {rates[-1]:g} (log grid), every run from "
            "the same initial parameters and mini-batches; the grid trains as one batch."
        )
        right.dataframe(tuning.rows(), hide_index=True, key="tuning_table")
        edge = [n for n, b in best.items() if b in (rates[0], rates[-1])]
        if edge:
            right.info(f"Best rate at the grid's edge for: {md_text(', '.join(edge))}.")
    return tuned_configs(configs, tuning)
