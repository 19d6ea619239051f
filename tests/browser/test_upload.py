"""Your data in headless Chromium: a real upload through the file input trains and draws (and
stays out of the URL), a bad file shows its message, and clicks on the fit add and remove points,
which changes the data set and the fit. Screenshots go to artifacts/screenshots/."""

import re

import pytest

from tests.browser.harness import ERROR, SETTLED_JS
from tests.browser.test_pages_browser import assert_clean, screenshot, settle, wait_for_charts
from tests.test_upload import csv_of

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]
WAIT_MS = 90_000

# The fit chart (title "Fit of …"): points per class trace, a digest of its regions, and the
# page position of a data point (trace "class c", point i) or of data coordinates (x, y).
FIT_JS = """([what, a, b]) => {
  const title = (el) => ((el.layout.title && el.layout.title.text) || "").replace(/<[^>]*>/g, "");
  const gd = [...document.querySelectorAll("[data-testid='stPlotlyChart'] .js-plotly-plot")]
    .find(el => title(el).startsWith("Fit of"));
  if (!gd || !gd._fullData) return null;
  const data = gd._fullData, xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  const r = gd.getBoundingClientRect();
  const at = (x, y) => [r.left + xa._offset + xa.l2p(x), r.top + ya._offset + ya.l2p(y)];
  if (what === "show") { gd.scrollIntoView({block: "center"}); return true; }
  if (what === "xy") return at(a, b);
  const cls = data.filter(t => (t.name || "").startsWith("class"));
  if (what === "point") { const t = cls[a]; return [t.x[b], t.y[b], ...at(t.x[b], t.y[b])]; }
  const z = data.filter(t => t.type === "contour" || t.type === "heatmap")
    .map(t => Array.from(t.z, row => Array.from(row).map(v => v.toFixed(4)).join()).join());
  const hit = data.find(t => t.name === "click target");
  const mode = !hit ? "off" : hit.customdata ? "remove" : "add";
  return {title: title(gd), mode, points: cls.map(t => t.x.length), regions: z.join("|")};
}"""


def fit(page) -> dict:
    return page.evaluate(FIT_JS, ["state", 0, 0])


def wait_fit(page, test: str):
    """Wait until the fit's state passes `test` (a JS expression over s), then settle."""
    page.wait_for_function(
        f"() => {{ const s = ({FIT_JS})(['state', 0, 0]); return !!s && ({test}); }}",
        timeout=WAIT_MS,
    )
    settle(page)
    return fit(page)


def click_at(page, where: list) -> list:
    """Scroll the fit into view, then click where FIT_JS places `where`; returns its answer."""
    page.evaluate(FIT_JS, ["show", 0, 0])
    found = page.evaluate(FIT_JS, where)
    px, py = found[-2:]
    page.mouse.move(px, py)
    page.mouse.click(px, py)
    return found


def open_training(page, base: str, query: str) -> None:
    page.goto(f"{base}/training?{query}")
    page.wait_for_function(SETTLED_JS, arg=800, timeout=WAIT_MS)


def test_a_real_upload_previews_trains_draws_and_stays_out_of_the_url(page, app_url, tmp_path):
    good = tmp_path / "blobs.csv"
    good.write_bytes(csv_of("blobs", n=40, seed=0))
    open_training(page, app_url, "data=upload&model=logistic&steps=30")
    page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(good)
    wait_for_charts(page, 2)  # the preview's scatter and the fit
    state = wait_fit(page, "s.points.reduce((a, b) => a + b, 0) === 40")
    assert_clean(page, "after the upload")
    assert page.get_by_text("Preview: 40 points · binary").is_visible()
    assert page.get_by_text("a link to this page does not carry it").first.is_visible()
    screenshot(page, "upload-preview")
    page.get_by_role("button", name="Run to the end").click()
    page.get_by_text("step 30 of 30 · done").wait_for(timeout=WAIT_MS)
    trained = wait_fit(page, "s.title.includes('step 30')")
    assert trained["regions"] != state["regions"]  # the model learned on the file's points
    query = page.url.split("?", 1)[1]
    assert "data=upload" in query and "yours" not in query
    assert not re.search(r"\d\.\d{3}", query)  # none of the file's numbers
    assert_clean(page, "after training")


def test_a_binary_file_shows_its_message(page, app_url, tmp_path):
    bad = tmp_path / "picture.csv"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    open_training(page, app_url, "data=upload")
    page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(bad)
    page.locator(ERROR).first.wait_for(timeout=WAIT_MS)
    text = page.locator(ERROR).first.inner_text()
    assert "This file cannot be used" in text and "this is not a CSV file" in text
    assert_clean(page, "after a bad upload")


def test_clicks_on_the_fit_add_and_remove_points_and_the_model_retrains(page, app_url):
    open_training(page, app_url, "data=blobs&n=30&model=logistic&steps=40")
    before = wait_fit(page, "s.points.length === 2")
    assert before["points"] == [15, 15]
    page.get_by_text("add points", exact=True).click()
    wait_fit(page, "s.mode === 'add'")  # the click grid is drawn
    group = page.locator("[data-testid='stButtonGroup']").filter(has_text="class of added")
    group.get_by_text("1", exact=True).click()  # class of added points: 1
    settle(page)
    click_at(page, ["xy", 2.0, -2.5])
    added = wait_fit(page, "s.points[1] === 16 && s.title.includes('step 40')")
    assert added["points"] == [15, 16] and added["regions"] != before["regions"]
    assert "data=edited" in page.url
    assert page.get_by_text("step 40 of 40 · done").is_visible()  # a new race ran on them
    screenshot(page, "upload-drawn-added")
    page.get_by_text("remove points", exact=True).click()
    wait_fit(page, "s.mode === 'remove'")  # the clickable points are drawn
    click_at(page, ["point", 0, 3])  # class 0's fourth point
    removed = wait_fit(page, "s.points[0] === 14 && s.title.includes('step 40')")
    assert removed["points"] == [14, 16] and removed["regions"] != added["regions"]
    assert_clean(page, "after the edits")
    screenshot(page, "upload-drawn-removed")
