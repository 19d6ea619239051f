"""The anatomy of one step of the Training page's main run (a section, not a page): a step
number (URL key "anat_step"), the parts as a table and one sentence each, all from
explorer.anatomy, which replays the run and reads the optimizer's own state."""

import streamlit as st

from app_pages.widgets.common import md_text, url_number_input
from app_pages.widgets.memo import memo
from explorer import anatomy as an
from explorer.race import Race


@memo(max_entries=32, show_spinner="Replaying the run to that step…")
def _step(config_key: str, step: int, _config, _records) -> an.Anatomy | None:
    """The anatomy of `step` of the run of _config (config_key: its repr, the memo's key)."""
    return an.run_anatomy(_config, [step], records=_records).get(step)


def anatomy_section(race: Race) -> None:
    """The main run's step chosen by number: its parts, read from the optimizer's state."""
    name, run = next(iter(race.runs.items()))
    last = int(run.rows[-1][0]) if run.rows else 0
    if last < 1:
        return
    st.subheader("The anatomy of a step")
    step = url_number_input(
        f"Step of {name} to explain",
        1,
        last,
        1,
        key="anat_step",
        step=1,
        help="Step k takes θ from step k − 1 to step k. The run is replayed to it and the "
        "optimizer's own state is read before and after its update.",
    )
    try:
        found = _step(repr(run.config), int(step), run.config, tuple(run.records))
    except ValueError as err:
        st.error(md_text(err))
        return
    if found is None:
        st.info(f"The run made no update {int(step)}.")
        return
    st.caption(md_text(an.summary(found)))
    st.dataframe(an.parts_table(found), hide_index=True)
    st.markdown("\n".join(f"- **{md_text(p.label)}.** {md_text(p.sentence)}" for p in found.parts))
