"""The trajectory player in headless Chromium, beside the page's round trips and Plotly frames.

Starts the app on a loopback port and opens Landscape with a 300-step quick run of the line
model. Rows: frames a second while playing (and distinct steps shown a second), ms for a Step,
ms from a click on the plane to the new path drawn, bytes of the player's data, the player's
first draw; then the same page's Log toggle and Resolution change as round trips (ms until a
Plotly chart's data changed, and until the player had its new data); last, the alternative the
player replaced, the same path as 301 Plotly animation frames in one figure (its frame rate,
payload and first draw). Needs Chromium and playwright (as the browser tests do).
The anatomy rows (no browser): what reading every step's parts from the optimizer costs, beside
the same run trained without it, and the bytes its arrows and sentences add to the player.
"""

import json
import time
from pathlib import Path

import plotly

from explorer import plots
from explorer.anatomy import run_anatomy
from explorer.training import train
from explorer.views import anatomy as va
from explorer.views import landscape as views
from explorer.views import player as pv
from explorer.views import player_wire as wire
from tests.browser.harness import (
    ACTIVITY_JS,
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    FIGURES_JS,
    SETTLED_JS,
    browser_missing,
    running_app,
)
from tests.browser.player_probe import (
    FRAME_COST_JS,
    PLAY_JS,
    PLAYER,
    PRESS_JS,
    READY_JS,
    UPDATES_JS,
    click_plane,
)
from tests.browser.test_pages_browser import Widget, operate

STEPS = 300
WAIT_MS = 120_000

# Milliseconds from the next click anywhere to the player's data-start changing and the frame
# after it drawn; armed before the click, read afterwards.
ARM_CLICK_JS = """() => {
  const p = document.querySelector("[data-testid='trajectory-player']");
  window.__lleClick = {start: p.dataset.start};
  document.addEventListener('mousedown', () => { window.__lleClick.t0 = performance.now(); },
                            {once: true, capture: true});
  new MutationObserver((_, obs) => {
    if (p.dataset.start === window.__lleClick.start) return;
    obs.disconnect();
    requestAnimationFrame(() => { window.__lleClick.ms = performance.now() - window.__lleClick.t0; });
  }).observe(p, {attributes: true, attributeFilter: ['data-start']});
}"""

# Plotly's own animation of the same figure: play every frame as fast as it redraws.
FRAMES_JS = """async (fig) => {
  const gd = document.getElementById('fig');
  const t0 = performance.now();
  await Plotly.newPlot(gd, fig.data, fig.layout);
  await Plotly.addFrames(gd, fig.frames);
  const first = performance.now() - t0;
  let frames = 0;
  gd.on('plotly_animatingframe', () => frames++);
  const start = performance.now();
  await Plotly.animate(gd, null, {frame: {duration: 16, redraw: true}, transition: {duration: 0}});
  return {first_draw_ms: first, fps: frames / ((performance.now() - start) / 1000)};
}"""


def _settle(page) -> None:
    page.wait_for_function(SETTLED_JS, arg=500, timeout=WAIT_MS)


def _round_trip(page, widget: Widget) -> dict:
    """ms from changing a widget to a Plotly chart's data changing, and to the player's update."""
    charts = [f["hash"] for f in page.evaluate(FIGURES_JS)]
    updates = page.evaluate(UPDATES_JS)
    t0 = time.perf_counter()
    operate(page, widget)
    js = f"before => ({FIGURES_JS})().some((f, i) => f.drawn && f.hash !== before[i])"
    page.wait_for_function(js, arg=charts, timeout=WAIT_MS, polling=16)
    chart_ms = (time.perf_counter() - t0) * 1e3
    page.wait_for_function(f"n => ({UPDATES_JS})() > n", arg=updates, timeout=WAIT_MS, polling=16)
    player_ms = (time.perf_counter() - t0) * 1e3
    _settle(page)
    return {"chart_changed_ms": chart_ms, "player_updated_ms": player_ms}


def _clicks(page) -> list[float]:
    """ms from three clicks on the plane to their new paths drawn."""
    out = []
    for fx, fy in ((0.2, 0.2), (0.8, 0.8), (0.3, 0.7)):
        _settle(page)
        page.evaluate(ARM_CLICK_JS)
        click_plane(page, fx, fy)
        page.wait_for_function("() => window.__lleClick.ms !== undefined", timeout=WAIT_MS)
        out.append(page.evaluate("() => window.__lleClick.ms"))
    _settle(page)
    return out


def _player_rows(page, base: str) -> list[dict]:
    page.goto(base + "/")
    _settle(page)
    t0 = time.perf_counter()
    page.goto(f"{base}/landscape?train_steps={STEPS}")
    page.wait_for_function(READY_JS, arg=STEPS + 1, timeout=WAIT_MS, polling=16)
    open_ms = (time.perf_counter() - t0) * 1e3
    _settle(page)
    page.locator(PLAYER).scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    info = page.locator(PLAYER).evaluate("p => ({bytes: p.__lleBytes, draw: p.__lleDrawMs})")
    page.evaluate(FRAME_COST_JS)
    played = page.evaluate(PLAY_JS, 2000)
    cost = page.evaluate(FRAME_COST_JS)
    page.get_by_role("button", name="Pause", exact=True).click()
    steps = [page.evaluate(PRESS_JS, "Step forward")["ms"] for _ in range(10)]
    clicks = _clicks(page)
    rows = [
        {
            "what": "player: frames a second while playing (1×)",
            "value": played["fps"],
            "note": f"{played['per_s']:.0f} distinct steps/s; script state {played['states']}; "
            f"longest frame {played['worst_frame_ms']:.0f} ms",
        },
        {
            "what": "player: its drawing of a frame (path, anatomy arrows, texts), ms",
            "value": cost["mean_ms"],
            "note": f"mean of {cost['frames']} frames, worst {cost['worst_ms']:.1f} ms",
        },
        {
            "what": "player: Step forward, ms to the next frame",
            "value": sorted(steps)[len(steps) // 2],
            "note": "median of 10 (two animation frames)",
        },
        {
            "what": "player: click to new path drawn, 300-step run, ms",
            "value": sorted(clicks)[1],
            "note": "median of 3: " + ", ".join(f"{c:.0f}" for c in clicks),
        },
        {
            "what": "player: data sent, bytes",
            "value": info["bytes"],
            "note": f"{STEPS}-step run, 31×31 grid, with its anatomy (every 2nd update)",
        },
        {
            "what": "player: redraw of its figures, ms",
            "value": info["draw"],
            "note": f"page open to player drawn {open_ms:.0f} ms (cold server)",
        },
    ]
    page.goto(f"{base}/landscape?train_steps=100")  # the page's default run length
    page.wait_for_function(READY_JS, arg=101, timeout=WAIT_MS, polling=16)
    _settle(page)
    page.locator(PLAYER).scroll_into_view_if_needed()
    short = _clicks(page)
    rows.append(
        {
            "what": "player: click to new path drawn, 100-step run, ms",
            "value": sorted(short)[1],
            "note": "median of 3: " + ", ".join(f"{c:.0f}" for c in short),
        }
    )
    for label, widget in (
        ("Log toggle", Widget("switch", "Log scale")),
        ("Resolution +2", Widget("slider", "Resolution (points per axis)", "ArrowRight")),
    ):
        trip = _round_trip(page, widget)
        rows.append(
            {
                "what": f"page: {label}, ms until a chart changed",
                "value": trip["chart_changed_ms"],
                "note": f"the player had its new data after {trip['player_updated_ms']:.0f} ms",
            }
        )
    return rows


def _frames_row(browser) -> list[dict]:
    """The same path as Plotly animation frames in one figure (what st.plotly_chart can do)."""
    view = views.landscape_view(views.ViewConfig(train_steps=STEPS))
    s, path = view.panels[0].surface, view.panels[0].projection
    fig = plots.trajectory_animation(
        s.alpha, s.beta, s.values, path, max_frames=STEPS + 1, frame_ms=16
    )
    doc = fig.to_json()
    page = browser.new_page(viewport={"width": 900, "height": 800})
    script = str(Path(plotly.__file__).parent / "package_data" / "plotly.min.js")  # the player's
    page.route(
        "http://bench.invalid/plotly.min.js",
        lambda r: r.fulfill(path=script, content_type="text/javascript"),
    )
    page.route(
        "http://bench.invalid/",
        lambda r: r.fulfill(
            body="<div id=fig></div><script src='/plotly.min.js'></script>",
            content_type="text/html",
        ),
    )
    page.goto("http://bench.invalid/")
    page.wait_for_function("() => window.Plotly")
    out = page.evaluate(FRAMES_JS, json.loads(doc))
    page.close()
    return [
        {
            "what": "Plotly frames: frames a second while playing",
            "value": out["fps"],
            "note": f"{STEPS + 1} frames, redraw=True (a contour needs it)",
        },
        {
            "what": "Plotly frames: figure JSON, bytes",
            "value": len(doc),
            "note": "the path in every frame",
        },
        {
            "what": "Plotly frames: first draw, ms",
            "value": out["first_draw_ms"],
            "note": "newPlot + addFrames",
        },
    ]


def _best_ms(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def _anatomy_rows() -> list[dict]:
    """Reading every step's parts from the optimizer, beside the bare run; their bytes."""
    config = views.ViewConfig(train_steps=STEPS, optimizer="adam")
    cfg = config.train_config()
    bare = _best_ms(lambda: list(train(cfg)))
    read = _best_ms(lambda: run_anatomy(cfg, range(1, STEPS + 1)))
    view = views.landscape_view(config)
    panel = view.panels[0]
    extras = va.run_extras(
        cfg,
        view.records,
        va.along_directions(panel.surface.directions),
        steps=panel.projection.step,
    )
    without = len(wire.to_json(pv.landscape_player(view)))
    with_parts = len(wire.to_json(pv.landscape_player(view, extras=extras)))
    return [
        {
            "what": "anatomy: cost per step, ms",
            "value": (read - bare) / STEPS,
            "note": f"Adam, line model: {STEPS} steps trained {bare:.0f} ms; replayed reading "
            f"every step's state and parts {read:.0f} ms (best of 3)",
        },
        {
            "what": "anatomy: bytes it adds to the player",
            "value": with_parts - without,
            "note": f"Adam, {STEPS}-step run: {without} bytes without, {with_parts} with "
            f"({va.explained(panel.projection.step).size} updates sent)",
        },
    ]


def run(quick: bool = False) -> list[dict]:
    """Rows: what, value, note (ms, frames a second or bytes, as the row says)."""
    reason = browser_missing()
    if reason:
        return [{"what": "player", "value": "skipped", "note": reason}, *_anatomy_rows()]
    from playwright.sync_api import sync_playwright

    with (
        running_app(ARTIFACTS / "bench-player-server.log") as (base, _proc),
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.set_default_timeout(WAIT_MS)
        context.add_init_script(ACTIVITY_JS)
        rows = _player_rows(context.new_page(), base)
        rows += _frames_row(browser)
        browser.close()
    return rows + _anatomy_rows()
