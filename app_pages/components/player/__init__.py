"""The trajectory player: play, step, scrub and click on the landscape, in the browser.

One Streamlit custom component (components v2: no iframe; a keyed instance keeps its DOM when
its data changes). It receives `explorer.views.player_wire.to_dict` (the contract is documented
there) as one JSON string, draws it with Plotly and canvases, plays it with no script run, and
reports a click on the plane as the trigger value "start" ({"alpha", "beta", "source"}).

Plotly's JavaScript is the copy inside the installed plotly package: a components-v1
declaration with `path=` serves that package's `package_data/` folder at
`/component/<name>/`, and player.js loads `plotly.min.js` from there once per browser tab (no
CDN, no copy in the repository, no build step). The player's own JS and CSS are inline strings
read from the files beside this one.

Why a component and not Plotly's own animation frames (the spike, on a 300-step quick run of
the line model; `python -m bench --only player` measures it again; headless Chromium with
software WebGL on the 2-core development machine, shared with other work, so ±50 %):

| route                                            | frames / s | payload  | first draw |
|--------------------------------------------------|------------|----------|------------|
| st.plotly_chart, 301 Plotly frames (redraw=True) | 5–12       | 1.38 MB  | 0.5–0.9 s  |
| component, Plotly.restyle of the moving traces   | 1.6        | 84 kB    | 2.4 s      |
| component, canvases over static Plotly (chosen)  | 58–60      | 19 kB    | 1.1 s      |

Plotly frames redraw the whole figure each frame (a contour needs redraw=True), carry a copy of
the path in every frame, and cannot step, change speed, take a click or grow while a run trains.
Restyling Plotly traces each frame recalculates the figure (80 ms a frame for the 2-D contour,
180 ms for the 3-D scene in software WebGL). So Plotly draws only what stays put (the contour,
the surface, the curves) and canvases laid over the plots draw what moves; a frame costs well
under a millisecond whatever the run's length. A 3-D point is projected with Plotly's own camera
matrices (those its 3-D annotations use), so it follows every drag. The price: the overlay
reads two internals of Plotly (an axis's `_offset`, the 3-D scene's `cameraParams`), pinned by
the browser tests. A sweep over a loss parameter must change the surfaces themselves: there
Plotly restyles them at the rate they redraw (the arrows, on a canvas, follow every frame).

Other figures (same bench): Step forward 28 ms to the next drawn frame (two animation frames);
a click on the plane to the new path drawn 145–282 ms for the default 100-step run (medians of
three bench runs 171–260 ms), 224–406 ms for a 300-step one (medians 230–290). That is a rerun of
the player's fragment alone: the click reaches the server in ~35 ms, the new run from the
clicked point takes 55–150 ms (training and reading its anatomy), and the browser needs ~25 ms
to hand the new data to the player. A Chromium trace showed the rest, Chromium re-layering the page's
other charts in every frame (25 ms each): app_pages/page.css skips them off screen. The page's
Log toggle and Resolution change, for comparison, 1.2–5 s until a chart changed.

The Training page mounts a new instance on every live redraw (one script run draws many, and a
widget key may be used once a run); the JS keeps one player per `id` and moves its DOM into the
new mount, so camera, zoom and the current step survive.
"""

import json
from collections.abc import Callable
from pathlib import Path

import plotly
import streamlit as st
import streamlit.components.v1 as components_v1
from streamlit import config

from explorer.views.player import Player
from explorer.views.player_wire import Click, to_dict

HERE = Path(__file__).resolve().parent
PLOTLY_DIR = Path(plotly.__file__).resolve().parent / "package_data"
PLOTLY_FILE = "plotly.min.js"

_mount = st.components.v2.component(
    "lle_trajectory_player",
    js=(HERE / "player.js").read_text(encoding="utf-8"),
    css=(HERE / "player.css").read_text(encoding="utf-8"),
    isolate_styles=False,  # Plotly styles its hover labels and mode bar through document CSS
)


def plotly_src() -> str:
    """The URL of plotly.min.js from the installed plotly package (registered on each call: a
    declaration binds to the runtime of the script run that makes it)."""
    served = components_v1.declare_component("plotly_js", path=str(PLOTLY_DIR))
    base = str(config.get_option("server.baseUrlPath") or "").strip("/")
    prefix = f"/{base}" if base else ""
    return f"{prefix}/component/{served.name}/{PLOTLY_FILE}"


def payload(data: Player) -> str:
    """The one JSON string the component receives: the player's data and where Plotly is."""
    return json.dumps({**to_dict(data), "plotly": plotly_src()}, separators=(",", ":"))


def player(
    data: Player, *, key: str, on_click: Callable[[Click], None] | None = None
) -> Click | None:
    """Mount the player; on_click(click) runs before the rerun a click on the plane causes.
    Returns the click that caused this run, if any."""

    def clicked() -> None:
        state = st.session_state.get(key) or {}
        click = Click.parse(state.get("start"))
        if click is not None and on_click is not None:
            on_click(click)

    result = _mount(key=key, data=payload(data), on_start_change=clicked)
    return Click.parse(getattr(result, "start", None))
