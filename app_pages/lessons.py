"""Lessons: each pitfall of the source articles, its code run live beside the fix."""

import pandas as pd
import streamlit as st

from app_pages.widgets.common import URL, png_config, show_findings
from app_pages.widgets.memo import memo
from app_pages.widgets.teacher import control
from explorer import plots
from explorer.lessons import LESSONS, get_lesson, run_lesson


@memo(max_entries=32, show_spinner="Running the buggy and the fixed code…")
def result(key: str):
    return run_lesson(key)


st.title("Lessons")
st.caption(
    "Code from four articles on custom PyTorch losses, run live: what really happens, what the "
    "gradient doctor says, and the fix. Numbers below are computed as the page loads."
)
key = control(
    st.selectbox,
    "Lesson",
    [lesson.key for lesson in LESSONS],
    key="lesson",
    bind=URL,
    help="; ".join(f"{lesson.key}: {lesson.title}" for lesson in LESSONS),
)
lesson, res = get_lesson(key), result(key)
st.header(lesson.title)
st.markdown(f"_{lesson.seed}_ — {lesson.summary}")

buggy, fixed = st.columns(2)
with buggy:
    st.subheader("As written")
    st.code(lesson.seed_code, language="python")
    st.error(res.outcome_buggy, icon=":material/bug_report:")
with fixed:
    st.subheader("Fixed")
    st.code(lesson.fixed_code, language="python")
    st.success(res.outcome_fixed, icon=":material/check_circle:")

st.subheader("The gradient doctor on the code as written")
show_findings(res.findings)

fig = plots.lesson_figure(res.figure_data, title=lesson.title, uirevision=key)
if fig is None:
    data = res.figure_data
    st.dataframe(pd.DataFrame(data["rows"], columns=data["columns"]), hide_index=True)
else:
    st.plotly_chart(fig, key="lesson_figure", config=png_config(f"lesson_{key}"))
for name in ("dot_buggy", "dot_fixed"):
    if name in res.figure_data:
        st.caption("Autograd graph, " + ("as written" if name == "dot_buggy" else "fixed"))
        st.graphviz_chart(res.figure_data[name])
