"""Your data (not a page): the data set choice Training and Landscape share — the built-in sets,
your file (a CSV upload, its columns chosen by name, a preview) and your data edited by clicks on
Training's fit (a click adds a point of the chosen class, or removes the point clicked).

Session state this module owns (your points never go into the URL: `data=upload` or
`data=edited` there says only which of them the page shows):
  "data.file"     UserData of the last good upload, kept for the session (both pages read it)
  "data.edited"   UserData: the points as the last click on the fit left them
  "data.retrain"  True from a click on the fit until the Training page starts the new race
  "data.problem"  why the last click changed nothing (the last point of a class…), shown once
"""

import hashlib
from functools import partial

import streamlit as st

from app_pages.widgets.common import URL, md_text
from app_pages.widgets.teacher import control
from explorer import plots
from explorer.data import DATASETS, DataSpec
from explorer.plots.draw import clickable
from explorer.upload import (
    ROLES,
    Columns,
    Table,
    UploadError,
    guess_columns,
    read_table,
    to_user_data,
)
from explorer.user_data import CLASSES_RANGE, UserData, as_user_data, with_point, without_point

UPLOAD, EDITED = "upload", "edited"
OPTIONS = {UPLOAD: "your file (CSV upload)", EDITED: "your data (edited on Training's fit)"}
FILE, EDITS, RETRAIN, PROBLEM = "data.file", "data.edited", "data.retrain", "data.problem"
UPLOADER, MODE, CLASS = "data.upload", "draw.mode", "draw.class"
MODES = {"add": "add points", "remove": "remove points"}
NOT_IN_LINK = "Your data stays in this session: a link to this page does not carry it."


def _names() -> str:
    rows = [f"**{k}**: {v.name}" for k, v in DATASETS.items()]
    return "  \n".join(rows + [f"**{k}**: {v}" for k, v in OPTIONS.items()])


def choose_data(label: str = "data set") -> tuple[DataSpec, UserData | None]:
    """The data set picker: (the chosen data's spec, your points or None for a built-in set).

    Your file or edited data without points yet: the page says what to do and stops."""
    options = [*DATASETS, *OPTIONS]
    key = control(st.selectbox, label, options, key="data", bind=URL, help=_names())
    if key in DATASETS:
        spec = DATASETS[key]
        st.caption(f"{spec.name} · {spec.task}: {spec.description}")
        return spec, None
    user = your_file() if key == UPLOAD else st.session_state.get(EDITS)
    if user is None:
        st.info("No edited data yet: on Training, choose **add points** above the fit, then click.")
        st.caption(NOT_IN_LINK)
        st.stop()
    if key == EDITED:
        st.caption(
            f"**{md_text(user.name)}** · {user.task}: {user.spec.description}. {NOT_IN_LINK}"
        )
    return user.spec, user


def _forget_cleared() -> None:
    """The uploader's file was removed: forget the session's file too."""
    if st.session_state.get(UPLOADER) is None:
        st.session_state.pop(FILE, None)


def _columns(table: Table, tag: str) -> Columns:
    """Which columns are which, chosen by name (defaults guessed from the names)."""
    guess = guess_columns(table)
    tasks = list(ROLES)
    task = st.radio(
        "the file holds",
        tasks,
        tasks.index(guess.task),
        key=f"data.task.{tag}",
        format_func=lambda t: f"{t} ({', '.join(ROLES[t])})",
    )
    names = guess.names if task == guess.task else table.columns
    cols = list(table.columns)
    picks = [
        st.selectbox(
            f"column {role}", cols, cols.index(names[i % len(names)]), key=f"data.{role}.{tag}"
        )
        for i, role in enumerate(ROLES[task])
    ]
    return Columns(task, tuple(picks))


def _refused(err: UploadError) -> None:
    """The file's problems, one a line, and stop: nothing trains on a bad file."""
    lines = "\n".join(f"- {md_text(p)}" for p in err.problems[:8])
    more = len(err.problems) - 8
    tail = f"\n- … and {more} more" if more > 0 else ""
    st.error(f"This file cannot be used:\n{lines}{tail}", icon=":material/error:")
    st.stop()


def your_file() -> UserData | None:
    """The uploader, its columns and preview: the points of the file, or the session's last one."""
    file = st.file_uploader(
        "CSV file", type=["csv", "txt"], key=UPLOADER, on_change=_forget_cleared,
        help="regression: columns x, y; classification: x1, x2 and an integer label (2 to 5 "
        "classes); a header line names the columns; at most 1 MB and 5000 rows",
    )  # fmt: skip
    st.caption(NOT_IN_LINK)
    if file is None:
        user = st.session_state.get(FILE)
        if user is None:
            st.info("Choose a CSV file to train on it (or pick a built-in data set).")
            st.stop()
        st.caption(f"Using **{md_text(user.name)}** ({len(user)} points) from this session.")
        return user
    raw = file.getvalue()
    try:
        table = read_table(raw)
        columns = _columns(table, hashlib.sha256(raw).hexdigest()[:8])
        user = to_user_data(table, columns, name=f"your file {file.name}")
    except UploadError as err:
        _refused(err)
    st.session_state[FILE] = user
    _preview(table, user)
    return user


def _preview(table: Table, user: UserData) -> None:
    if table.kept_note:
        st.warning(table.kept_note, icon=":material/content_cut:")
    labels = ", ".join(user.classes)
    if user.classes and user.classes != tuple(str(i) for i in range(len(user.classes))):
        st.caption(f"labels {md_text(labels)} are classes 0…{len(user.classes) - 1}")
    with st.expander(f"Preview: {len(user)} points · {user.task}", expanded=True):
        st.dataframe(table.preview(), height=230)
        x, y = user.points()
        fig = plots.fit_plot(x, y, task=user.task, title="your file", height=300)
        st.plotly_chart(fig, key="data.preview")


def edited_now() -> bool:
    """True once after a click on the fit changed the data: the page starts a new race."""
    return bool(st.session_state.pop(RETRAIN, False))


def _editable(run) -> UserData | None:
    """The points shown on the fit, as your data to edit (None: a segmentation mask)."""
    if run.config.user_data is not None:
        return run.config.user_data
    try:
        return as_user_data(run.dataset)
    except ValueError:
        return None


def _clicked(chart: str, base: UserData, mode: str, trace: int) -> None:
    """A click on the fit (a callback, before the script runs): the edited points, or why not."""
    state = st.session_state.get(chart)
    points = [p for p in (state.selection.points if state else []) if p["curve_number"] == trace]
    if not points:
        return
    p = points[0]
    try:
        if mode == "add":
            data = with_point(base, (p["x"], p["y"]), int(st.session_state.get(CLASS) or 0))
        else:
            index = p.get("customdata", p.get("point_index"))  # the click trace's: the point's
            data = without_point(base, int(index[0] if isinstance(index, list) else index))
    except ValueError as err:
        st.session_state[PROBLEM] = str(err)
        return
    st.session_state[EDITS] = data
    st.session_state["data"] = EDITED
    st.session_state[RETRAIN] = True


def fit_chart(col, fig, run, live: bool, key: str) -> None:
    """The fit of `run` in col; settled, with the edit controls: a click adds or removes a point."""
    base = None if live else _editable(run)
    if base is None:
        if live:
            col.caption("Stop the run to add or remove points by clicking on the fit.")
        col.plotly_chart(fig, key=key)
        return
    left, right = col.columns([3, 2], vertical_alignment="bottom")
    mode = left.segmented_control(
        "a click on the fit", list(MODES), key=MODE, format_func=MODES.get
    )
    if base.task != "regression":
        classes = list(range(min(base.n_classes + 1, CLASSES_RANGE[1])))
        right.segmented_control("class of added points", classes, key=CLASS, default=0)
    if (problem := st.session_state.pop(PROBLEM, None)) is not None:
        col.warning(md_text(problem))
    if mode is None:
        col.plotly_chart(fig, key=key)
        return
    x, y = base.points()
    fig = clickable(fig, x, y, mode=mode, task=base.task)
    chart = f"fit.{mode}.{base.digest[:12]}"  # a fresh chart after each edit: no stale selection
    select = partial(_clicked, chart, base, mode, len(fig.data) - 1)
    col.plotly_chart(fig, key=chart, on_select=select, selection_mode="points")
