"""The trajectory player in Chromium: it plays client-side (no script run) at 30+ distinct
steps a second, steps by exactly one, jumps on a scrub, restarts the run where the plane or the
3-D surface is clicked, keeps the 3-D camera through a widget change, and shows no error anywhere."""

import pytest

from tests.browser.player_probe import (
    CAMERA_JS,
    FRAME_COST_JS,
    PLAY_JS,
    PLAYER,
    PRESS_JS,
    READY_JS,
    SLOW_JS,
    UPDATES_JS,
    click_plane,
    open_anatomy,
    start_of,
)
from tests.browser.test_pages_browser import (
    WAIT_MS,
    Widget,
    assert_charts_skipped_off_screen,
    assert_clean,
    operate,
    screenshot,
    settle,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]
STEPS = 300  # the quick run's steps (the player gets STEPS + 1 frames)


def open_player(page, base: str, steps: int = STEPS) -> None:
    """The Landscape page with a quick run of `steps` steps, its player drawn."""
    page.goto(base + "/")
    settle(page)
    page.goto(f"{base}/landscape?train_steps={steps}")
    settle(page)
    page.wait_for_function(READY_JS, arg=steps + 1, timeout=WAIT_MS)
    page.locator(PLAYER).scroll_into_view_if_needed()


def flat(camera: dict) -> list[float]:
    """A camera's eye, center and up as 9 numbers."""
    return [camera[k][c] for k in ("eye", "center", "up") for c in "xyz"]


def step_of(page) -> int:
    return int(page.locator(PLAYER).get_attribute("data-step"))


def test_play_step_scrub(page, app_url):
    open_player(page, app_url)
    assert_clean(page, "on opening the player")
    player = page.locator(PLAYER)
    assert int(player.get_attribute("data-steps")) == STEPS + 1
    assert step_of(page) == 0
    played = page.evaluate(PLAY_JS, 1000)
    # a step a frame in the browser; a server-driven player manages a few a second. The frame
    # rate itself is the benchmark's (python -m bench --only player), not this test's.
    assert played["per_s"] >= 30, played
    assert played["states"] == ["notRunning"], f"a script ran while playing: {played}"
    page.get_by_role("button", name="Pause", exact=True).click()
    paused = step_of(page)
    assert 20 <= paused < STEPS, paused
    page.wait_for_timeout(300)
    assert step_of(page) == paused, "the player moved after Pause"

    forward = page.evaluate(PRESS_JS, "Step forward")
    assert (forward["before"], forward["after"]) == (paused, paused + 1), forward
    back = page.evaluate(PRESS_JS, "Step back")
    assert back["after"] == paused, back
    player.focus()
    page.keyboard.press("ArrowRight")
    assert step_of(page) == paused + 1
    page.keyboard.press("ArrowLeft")
    assert step_of(page) == paused

    scrub = page.get_by_role("slider", name="Step", exact=True)
    scrub.fill("250")  # a range input takes fill(): sets the value and fires input
    assert step_of(page) == 250
    scrub.fill("7")
    assert step_of(page) == 7
    speed = page.get_by_label("Speed", exact=True)
    speed.select_option("10")
    player.focus()
    page.keyboard.press(" ")
    page.wait_for_function(
        f'() => Number(document.querySelector("{PLAYER}").dataset.step) == {STEPS}'
    )
    assert page.get_by_role("button", name="Play", exact=True).count() == 1  # stopped at the end
    assert_clean(page, "after playing, stepping and scrubbing")
    screenshot(page, "20-player")


def test_click_restarts_the_run_there(page, app_url):
    open_player(page, app_url)
    first = start_of(page)
    click_plane(page, 0.15, 0.15)  # upper left: small α, large β
    page.wait_for_function(
        f's => document.querySelector("{PLAYER}").dataset.start !== s',
        arg=",".join(map(str, first)),
        timeout=WAIT_MS,
    )
    upper_left = start_of(page)
    click_plane(page, 0.85, 0.85)  # lower right: large α, small β
    page.wait_for_function(
        f's => document.querySelector("{PLAYER}").dataset.start !== s',
        arg=",".join(map(str, upper_left)),
        timeout=WAIT_MS,
    )
    lower_right = start_of(page)
    assert lower_right[0] > upper_left[0] and lower_right[1] < upper_left[1], (
        upper_left,
        lower_right,
    )
    settle(page)
    assert int(page.locator(PLAYER).get_attribute("data-steps")) == STEPS + 1
    note = page.locator(f"{PLAYER} .lle-note").text_content()
    assert not note.startswith("Starting at"), f"the click's note outlived its run: {note!r}"
    assert_charts_skipped_off_screen(page, "after the clicks' reruns of the player alone")
    assert_clean(page, "after clicks on the plane")


# The last point Plotly hovered on the player's 3-D surface, as [x, y] (recorded from now on).
HOVER_3D_JS = """() => {
  const g = document.querySelector("[data-testid='trajectory-player'] .lle-surface .lle-graph");
  window.__lleHover3d = null;
  if (!g.__lleHoverProbe) {
    g.__lleHoverProbe = true;
    g.on('plotly_hover', (e) => { window.__lleHover3d = [e.points[0].x, e.points[0].y]; });
  }
}"""


def test_a_click_on_the_3d_surface_restarts_the_run_there(page, app_url):
    """A press on the surface starts the run at the point under the cursor, a quick press as
    well as a slow one; a drag turns the camera and starts nothing."""
    open_player(page, app_url, 100)
    box = page.locator(f"{PLAYER} .lle-surface .lle-graph").bounding_box()
    starts = []
    for fx, fy, hold_ms in ((0.5, 0.5, 0), (0.4, 0.6, 150), (0.62, 0.42, 0)):
        settle(page)
        page.evaluate(HOVER_3D_JS)
        x, y = box["x"] + fx * box["width"], box["y"] + fy * box["height"]
        page.mouse.move(x - 6, y)
        page.mouse.move(x, y, steps=3)
        page.wait_for_function("() => window.__lleHover3d !== null", timeout=10_000)
        page.wait_for_timeout(200)  # the hover settles on the point under the cursor
        hovered = page.evaluate("() => window.__lleHover3d")
        before = page.locator(PLAYER).get_attribute("data-start")
        page.mouse.down()
        page.wait_for_timeout(hold_ms)
        page.mouse.up()
        if ",".join(map(str, hovered)) != before:
            page.wait_for_function(
                f's => document.querySelector("{PLAYER}").dataset.start !== s',
                arg=before,
                timeout=WAIT_MS,
            )
        assert start_of(page) == pytest.approx(tuple(hovered), rel=1e-6, abs=1e-6)
        starts.append(start_of(page))
    assert len(set(starts)) == 3, starts  # three points, three runs
    settle(page)
    before = page.locator(PLAYER).get_attribute("data-start")
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 120, y + 40, steps=8)
    page.mouse.up()
    page.wait_for_timeout(1000)
    settle(page)
    assert page.locator(PLAYER).get_attribute("data-start") == before, "a drag started a run"
    assert_clean(page, "after clicks on the 3-D surface")


def test_camera_survives_a_widget_change(page, app_url):
    open_player(page, app_url, 100)
    before = page.evaluate(CAMERA_JS)
    graph = page.locator(f"{PLAYER} .lle-surface .lle-graph")
    box = graph.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 120, y + 40, steps=8)
    page.mouse.up()
    page.wait_for_function(
        f"b => JSON.stringify(({CAMERA_JS})()) !== JSON.stringify(b)", arg=before, timeout=10_000
    )
    page.wait_for_timeout(500)  # the drag's relayout settles
    dragged = page.evaluate(CAMERA_JS)
    updates = page.evaluate(UPDATES_JS)
    operate(page, Widget("switch", "Log scale"))
    page.wait_for_function(f"n => ({UPDATES_JS})() > n", arg=updates, timeout=WAIT_MS)
    settle(page)
    page.wait_for_timeout(500)
    after = page.evaluate(CAMERA_JS)
    assert flat(after) == pytest.approx(flat(dragged), abs=1e-9), (
        "the camera moved on a widget change"
    )
    assert flat(dragged) != pytest.approx(flat(before), abs=1e-3), (
        "the drag did not move the camera"
    )
    assert_clean(page, "after the Log toggle")


# The plane's contour z as a short digest (what Plotly draws now).
Z_JS = """() => {
  const g = document.querySelector("[data-testid='trajectory-player'] .lle-plane .lle-graph");
  const z = g && g.data && g.data[0] && g.data[0].z;
  return z ? JSON.stringify(z).length + ':' + JSON.stringify(z).slice(0, 400) : '';
}"""


def test_sweep_over_k_redraws_the_surface_in_the_browser(page, app_url):
    page.goto(app_url + "/")
    settle(page)
    page.goto(f"{app_url}/landscape?loss=soft_threshold&train_steps=50")
    settle(page)
    page.wait_for_function(READY_JS, arg=51, timeout=WAIT_MS)
    operate(page, Widget("combobox", "Frames over", "k"))
    page.wait_for_function(
        f"() => document.querySelector(\"{PLAYER}\").dataset.steps === '40'", timeout=WAIT_MS
    )
    settle(page)
    player = page.locator(PLAYER)
    player.scroll_into_view_if_needed()
    assert "k = 0.5 (1 / 40)" in player.inner_text()
    first = page.evaluate(Z_JS)
    app = page.get_by_test_id("stApp")
    page.get_by_role("slider", name="k", exact=True).fill("39")
    page.wait_for_function(f"z => ({Z_JS})() !== z", arg=first, timeout=10_000)
    assert app.get_attribute("data-test-script-state") == "notRunning"
    assert "k = 100 (40 / 40)" in player.inner_text()
    assert int(player.get_attribute("data-step")) == 39
    assert_clean(page, "after sweeping k")


def test_loss_shapes_plays_the_steepness(page, app_url):
    page.goto(app_url + "/")
    settle(page)
    page.goto(f"{app_url}/loss_shapes")
    settle(page)
    page.wait_for_function(READY_JS, arg=40, timeout=WAIT_MS)
    player = page.locator(PLAYER)
    player.scroll_into_view_if_needed()
    played = page.evaluate(PLAY_JS, 1000)  # 40 frames in 4 s at 1×: about 10 a second
    assert 5 <= played["distinct"] <= 20 and played["states"] == ["notRunning"], played
    assert_clean(page, "after playing k on Loss Shapes")


def test_training_grows_live_in_the_same_player(page, app_url):
    """Each live redraw mounts a new instance; the player (its DOM) moves into it, growing."""
    page.goto(app_url + "/")
    settle(page)
    # an MLP's 5000 steps outlast the first redraws (the line's can end before the player is
    # first seen, leaving nothing to grow)
    page.goto(f"{app_url}/training?data=moons&model=mlp&width=32&steps=5000")
    settle(page)
    main = page.get_by_test_id("stMainBlockContainer")
    main.get_by_role("button", name="Start", exact=True).click()
    page.wait_for_selector(PLAYER, timeout=WAIT_MS)
    mark = f"""() => {{ const p = document.querySelector("{PLAYER}");
        if (!p) return false; p.__testMark = 1; return Number(p.dataset.steps); }}"""
    first = page.wait_for_function(mark, timeout=WAIT_MS).json_value()  # marks it, its steps
    grown = page.wait_for_function(  # between two redraws the player may be out of the page
        f"""n => {{ const p = document.querySelector("{PLAYER}");
            return p && Number(p.dataset.steps) > n + 1 && [
                document.querySelectorAll("{PLAYER}").length, p.__testMark,
                Number(p.dataset.steps), Number(p.dataset.step)]; }}""",
        arg=first,
        timeout=WAIT_MS,
    ).json_value()
    count, marked, steps, step = grown
    assert (count, marked) == (1, 1), "a live redraw rebuilt the player instead of moving it"
    assert step == steps - 1, "a live player follows the newest step"
    halt = main.get_by_role("button", name="Stop training", exact=True)
    if halt.is_enabled():
        halt.click()
    settle(page)
    total = int(page.locator(PLAYER).get_attribute("data-steps"))
    assert total > steps and page.locator(PLAYER).evaluate("p => p.__testMark") == 1
    page.get_by_role("button", name="Step back", exact=True).click()
    assert int(page.locator(PLAYER).get_attribute("data-step")) == total - 2
    assert_clean(page, "after a live run in the player")


def test_slow_motion_steps_through_the_parts_of_one_update(page, app_url):
    """Adam's update, part by part: each part its own sentence, the arrows adding up as the
    parts that make them come in; past the last part, the next update; playing stays fast."""
    open_anatomy(page, app_url, "opt=adam&train_steps=100")
    assert_clean(page, "on opening a player with the anatomy")
    player = page.locator(PLAYER)
    page.get_by_role("slider", name="Step", exact=True).fill("5")
    assert "Next update: So θ moves by Δθ" in player.inner_text()
    assert int(player.get_attribute("data-arrows")) == 3  # gradient's, momentum's shares, Δθ
    parts = ["Gradient ∇L", "First moment m", "Second moment v", "Bias corrections"]
    parts += ["Step size", "Update Δθ"]
    seen = page.evaluate(SLOW_JS, len(parts))
    assert [s["part"] for s in seen] == [1, 2, 3, 4, 5, 6, 1], seen
    assert [s["step"] for s in seen] == [5] * 6 + [6], seen
    for s, label in zip(seen, parts, strict=False):
        assert s["text"].startswith(f"Part {s['part']} of 6 · {label}: "), s
    assert len({s["text"] for s in seen}) == 7, "every part has its own sentence"
    assert "t = 6" in seen[3]["text"]  # step 6 leaves point 5: Adam's own counter
    assert [s["arrows"] for s in seen] == [1, 2, 2, 2, 2, 3, 1], seen
    screenshot(page, "21-player-slow-motion")
    page.get_by_role("button", name="Step back", exact=True).click()
    assert int(player.get_attribute("data-part")) == 6 and step_of(page) == 5
    page.get_by_role("button", name="Slow motion", exact=True).click()
    assert player.get_attribute("data-part") == "0"
    page.get_by_role("slider", name="Step", exact=True).fill("0")
    page.evaluate(FRAME_COST_JS)
    played = page.evaluate(PLAY_JS, 1000)  # arrows and texts every frame: still smooth
    cost = page.evaluate(FRAME_COST_JS)
    assert played["per_s"] >= 20 and played["states"] == ["notRunning"], played
    # the player's own drawing is a small part of a 60 fps frame (16.7 ms), however loaded
    # the machine (python -m bench --only player measures the frame rate itself)
    assert cost["frames"] >= 20 and cost["mean_ms"] < 4, cost
    assert_clean(page, "after slow motion")
