"""The trajectory player's sections (not pages): Landscape's player over panel 0's plane, in a
fragment, so a click on the plane or a change of its frames reruns this section only; Loss
Shapes' sweep of a soft-vs-hard pair's steepness; Training's race, step by step, growing live.

Session state this section owns:
  "landscape.start"  {"fields": the view's config fields, "at": (α, β)}: where the last click
                     started the quick run; it holds only while the view's settings stay.
  "player_across", "player_up"  the Training player's two parameters (their widgets' keys).
"""

from dataclasses import replace

import streamlit as st

from app_pages.components.player import player
from app_pages.widgets.common import md_text
from app_pages.widgets.memo import memo
from explorer.views import anatomy as va
from explorer.views import landscape as views
from explorer.views import player as pv
from explorer.views import player_wire as wire
from explorer.views import sweeps

START = "landscape.start"
STEPS = "training steps"
PLANE_KEYS = ("player_across", "player_up")  # the Training player's two parameters


@memo(max_entries=32, show_spinner=False)
def restarted(fields: tuple, run_key: str, start: tuple, _base: views.LandscapeView):
    """The view of fields with its quick run started at `start` on _base's plane."""
    config = replace(views.ViewConfig(**dict(fields)), start=start)
    return views.restart_view(config, _base)


@memo(max_entries=16, show_spinner="Computing the surfaces of the sweep…")
def swept(fields: tuple, run_key: str, param: str, log: bool, _view: views.LandscapeView):
    """The main loss on the view's plane over the range of its parameter `param`."""
    return sweeps.landscape_sweep(views.ViewConfig(**dict(fields)), _view, param, log=log)


@memo(max_entries=16, show_spinner=False)
def _run_anatomy(config_key: str, kept: int, axes: tuple[int, int], _run):
    """(the race run's anatomy extras on the plane of parameters `axes`, or (), why not);
    kept: how many records it has (a race a budget cut grows on Continue)."""
    try:
        return va.run_extras(_run.config, _run.records, va.along_axes(*axes)), ""
    except ValueError as err:
        return (), f"No anatomy of the steps: {err}"


def _start(fields: tuple) -> tuple[float, float] | None:
    saved = st.session_state.get(START)
    return saved["at"] if saved and saved["fields"] == fields else None


def landscape_section(fields: tuple, run_key: str, view: views.LandscapeView, log: bool) -> None:
    """The player of the view built from `fields` (the page's cached view is `view`)."""
    st.subheader("Player")  # outside the fragment: a click's rerun sends the browser less to draw
    _landscape_player(fields, run_key, view, log)


@st.fragment
def _landscape_player(fields: tuple, run_key: str, view: views.LandscapeView, log: bool) -> None:
    options = [STEPS, *(name for name, _ in dict(fields)["loss_params"])]  # the loss's parameters
    left, right = st.columns([1, 3], vertical_alignment="bottom")
    frames = left.selectbox(
        "Frames over",
        options,
        key="player_frames",
        help="the training steps of the path, or a loss parameter from its smallest value to "
        "its largest (the surface and its −∇L arrows at each value)",
    )
    start = _start(fields)
    if start is not None:  # the button first: the browser draws it while the run trains
        right.button(
            "Start from the initial parameters", on_click=st.session_state.pop, args=(START,)
        )
        view = restarted(fields, run_key, start, view)
    extras = view.anatomy if frames == STEPS else ()  # read while its quick run trained
    data = pv.landscape_player(view, log=log, extras=extras)
    if frames != STEPS:
        sweep = swept(fields, run_key, frames, log, view)
        data = replace(
            data,
            sweep=sweep,
            clickable=False,
            title=f"{data.title.split(':')[0]}: the surface as {frames} goes from "
            f"{sweep.values[0]:g} to {sweep.values[-1]:g}",
            hint="Scrub or play: each frame is the surface and its −∇L at one value.",
        )

    def clicked(click: wire.Click) -> None:
        st.session_state[START] = {"fields": fields, "at": (click.alpha, click.beta)}

    player(data, key="landscape.player", on_click=clicked)


@memo(max_entries=16, show_spinner=False)
def _pair(pair: str, t: float) -> pv.Player:
    return sweeps.pair_player(pair, t=t)


def pair_section(pair: str, t: float) -> None:
    """The soft member of a pair at every steepness k, played in the browser."""
    player(_pair(pair, t), key=f"shapes.player.{pair}")


def _plane_axes(labels: list[str], settled: bool) -> tuple[int, int]:
    """The two parameters the Training player's plane shows: chosen when the model has more
    than two (widgets in the settled view only: a live redraw reuses the choice)."""
    n = len(labels)
    a, b = (st.session_state.get(k, d) for k, d in zip(PLANE_KEYS, (0, 1), strict=True))
    if n > 2 and settled:
        left, right = st.columns(2)
        pick = dict(options=range(n), format_func=labels.__getitem__)
        a = left.selectbox("Player's plane: across", index=0, key=PLANE_KEYS[0], **pick)
        b = right.selectbox("Player's plane: up", index=1, key=PLANE_KEYS[1], **pick)
    a, b = (int(v) if isinstance(v, int) and 0 <= v < n else d for v, d in ((a, 0), (b, 1)))
    return (a, b) if a != b else (a, (a + 1) % n)


def race_section(race, tick: int | None, running: bool) -> None:
    """A race's runs in the player: loss, ‖∇L‖ and two parameters (chosen for bigger models),
    every kept step; once settled, the main run's updates part by part (its anatomy).

    Live redraws mount a new instance each tick (a key is used once a script run); the
    component moves the same player into it, so zoom, camera and step survive."""
    histories = {}
    for name, run in race.runs.items():
        steps, theta = run.path()
        if steps.size:
            loss = [r.loss for r in run.records]
            histories[name] = (steps, loss, [r.grad_norm for r in run.records], theta)
    first = next(iter(race.runs.values()))
    if not histories or len(first.labels) < 2:
        return
    axes = _plane_axes(first.labels, tick is None)
    labels = (first.labels[axes[0]], first.labels[axes[1]])
    title = f"The race step by step: {labels[0]} and {labels[1]} of each run"
    extras: dict = {}
    if not running:  # settled: the main run's updates, part by part
        name, run = next(iter(race.runs.items()))
        found, why = _run_anatomy(repr(run.config), len(run.records), axes, run)
        extras[name] = found
        if why:
            st.caption(md_text(why))
    data = pv.history_player(histories, labels, title=title, live=running, axes=axes, extras=extras)
    player(data, key="training.player" if tick is None else f"training.player.live{tick}")
