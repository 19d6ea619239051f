"""Probes of the trajectory player in a page, shared by its browser tests and `python -m bench
--only player`: each runs in the page and returns plain numbers."""

PLAYER = "[data-testid='trajectory-player']"

# True once the player has its data and Plotly has drawn its plane (and its 3-D scene, if any).
READY_JS = """(steps) => {
  const p = document.querySelector("[data-testid='trajectory-player']");
  if (!p || Number(p.dataset.steps) < steps || !window.Plotly) return false;
  const graphs = [...p.querySelectorAll('.lle-graph')].filter((g) => g.offsetParent !== null);
  return graphs.length > 0 && graphs.every((g) => g._fullLayout && g.querySelector('svg.main-svg'));
}"""

# Observe the player for `ms` after pressing Play: distinct data-step values, animation frames,
# the script states seen (sampled every frame) and the longest gap between frames.
PLAY_JS = """async (ms) => {
  const p = document.querySelector("[data-testid='trajectory-player']");
  const app = document.querySelector("[data-testid='stApp']");
  const seen = new Set([p.dataset.step]);
  const states = new Set();
  let frames = 0, worst = 0, last = performance.now();
  const observer = new MutationObserver(() => seen.add(p.dataset.step));
  observer.observe(p, {attributes: true, attributeFilter: ['data-step']});
  [...p.querySelectorAll('button')].find((b) => b.getAttribute('aria-label') === 'Play').click();
  const t0 = performance.now();
  await new Promise((done) => {
    const tick = (now) => {
      frames++;
      worst = Math.max(worst, now - last);
      last = now;
      states.add(app.getAttribute('data-test-script-state'));
      if (now - t0 < ms) requestAnimationFrame(tick); else done();
    };
    requestAnimationFrame(tick);
  });
  observer.disconnect();
  const seconds = (performance.now() - t0) / 1000;
  return {distinct: seen.size - 1, per_s: (seen.size - 1) / seconds, fps: frames / seconds,
          worst_frame_ms: worst, states: [...states], step: Number(p.dataset.step)};
}"""

# Milliseconds from a press of the named button to the player's next drawn frame.
PRESS_JS = """async (name) => {
  const p = document.querySelector("[data-testid='trajectory-player']");
  const button = [...p.querySelectorAll('button')].find((b) => b.getAttribute('aria-label') === name);
  const before = p.dataset.step;
  const t0 = performance.now();
  button.click();
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  return {ms: performance.now() - t0, before: Number(before), after: Number(p.dataset.step)};
}"""

# The camera the 3-D scene is drawn with (eye, center, up), or null. Plotly writes a dragged
# camera into layout.scene.camera; its scene object reports the one in use.
CAMERA_JS = """() => {
  const g = document.querySelector("[data-testid='trajectory-player'] .lle-surface .lle-graph");
  const scene = g && g._fullLayout && g._fullLayout.scene && g._fullLayout.scene._scene;
  const cam = scene && scene.getCamera ? scene.getCamera() : g && g.layout.scene && g.layout.scene.camera;
  return cam ? JSON.parse(JSON.stringify({eye: cam.eye, center: cam.center, up: cam.up})) : null;
}"""

# Where to click on the plane: (x, y) in page pixels at fractions (fx, fy) of its plot area.
PLANE_POINT_JS = """([fx, fy]) => {
  const g = document.querySelector("[data-testid='trajectory-player'] .lle-plane .lle-graph");
  const xa = g._fullLayout.xaxis, ya = g._fullLayout.yaxis, box = g.getBoundingClientRect();
  return [box.left + xa._offset + fx * xa._length, box.top + ya._offset + fy * ya._length];
}"""

# Bytes of the JSON the player was given (its data, as the component received it).
PAYLOAD_JS = """() => {
  const p = document.querySelector("[data-testid='trajectory-player']");
  return p && p.__lleBytes || 0;
}"""


def click_plane(page, fx: float, fy: float) -> None:
    """Click the player's plane at fractions of its plot area (0, 0 = upper left)."""
    x, y = page.evaluate(PLANE_POINT_JS, [fx, fy])
    page.mouse.click(x, y)


def start_of(page) -> tuple[float, float]:
    """The player's data-start as (α, β)."""
    raw = page.locator(PLAYER).get_attribute("data-start") or ""
    a, b = raw.split(",")
    return float(a), float(b)


# How many times the player has been given new data.
UPDATES_JS = """() => {
  const p = document.querySelector("[data-testid='trajectory-player']");
  return p && p.__lleUpdates || 0;
}"""


# Slow motion: press "Slow motion", then "Step forward" `presses` times; after each press (and
# before the first) the part shown, its text, the anatomy arrows drawn and the step.
SLOW_JS = """async (presses) => {
  const p = document.querySelector("[data-testid='trajectory-player']");
  const press = (name) => [...p.querySelectorAll('button')]
    .find((b) => b.getAttribute('aria-label') === name).click();
  const frame = () => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  const read = () => ({part: Number(p.dataset.part), arrows: Number(p.dataset.arrows),
    step: Number(p.dataset.step), text: p.querySelector('.lle-part').textContent});
  press('Slow motion');
  await frame();
  const seen = [read()];
  for (let i = 0; i < presses; i++) {
    press('Step forward');
    await frame();
    seen.push(read());
  }
  return seen;
}"""


def open_anatomy(page, base: str, query: str = "opt=adam&train_steps=100") -> None:
    """The Landscape page with a quick run whose updates carry their anatomy, its player drawn."""
    page.goto(base + "/")
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']")
    page.goto(f"{base}/landscape?{query}")
    page.wait_for_function(READY_JS, arg=2, timeout=120_000)
    page.wait_for_function(
        "() => !document.querySelector(\"[data-testid='trajectory-player'] .lle-slow\").disabled",
        timeout=120_000,
    )
    page.locator(PLAYER).scroll_into_view_if_needed()


# What the player's drawing of a frame costs (ms: mean and worst over the frames since the last
# call, which starts the count again): the part of a frame that is the player's own.
FRAME_COST_JS = """() => {
  const p = document.querySelector("[data-testid='trajectory-player']");
  const c = p.__lleFrameCost || {frames: 0, ms: 0, worst: 0};
  p.__lleFrameCost = {frames: 0, ms: 0, worst: 0};
  return {frames: c.frames, mean_ms: c.frames ? c.ms / c.frames : 0, worst_ms: c.worst};
}"""
