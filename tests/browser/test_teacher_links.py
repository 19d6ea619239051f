"""Teacher links and guided tours in Chromium: a link's hidden controls are absent from the page
(their values still in the link and in use), locked ones are disabled; the Share dialog builds
such a link from its boxes; a tour started on the home page walks its pages with Next and Back.
"""

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from app_pages.widgets.tour import step_link
from explorer.tours import TOURS
from tests.browser.conftest import SHOTS
from tests.browser.harness import ERROR, EXCEPTION, SETTLED_JS

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
WAIT_MS = 90_000
QUIET_MS = 800
LABEL = "[data-testid='stWidgetLabel']"


def settle(page) -> None:
    page.wait_for_function(SETTLED_JS, arg=QUIET_MS, timeout=WAIT_MS)


def query(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def labels(page) -> list[str]:
    return [t.strip() for t in page.locator(LABEL).all_inner_texts()]


def assert_clean(page) -> None:
    assert page.locator(EXCEPTION).count() == 0, page.locator(EXCEPTION).all_inner_texts()
    assert page.locator(ERROR).all_inner_texts() == []


def at_step(page, text: str, heading: str) -> None:
    """Wait until the tour bar says `text` on the page titled `heading` (a switch is a rerun)."""
    page.locator(".st-key-tour_bar").filter(has_text=text).wait_for(timeout=WAIT_MS)
    page.locator("h1").filter(has_text=heading).first.wait_for(timeout=WAIT_MS)
    settle(page)


def slider(page, label: str):
    box = page.locator("[data-testid='stSlider']").filter(has=page.get_by_text(label, exact=True))
    return box.get_by_role("slider").first


def press(page, name: str) -> None:
    page.get_by_role("button", name=name, exact=True).click()
    settle(page)


def test_a_teacher_link_hides_and_locks_controls(page, app_url):
    link = {"data": "moons", "model": "mlp", "width": "4", "steps": "20"}
    link |= {"hide": "model,width,seed", "lock": "steps,data"}
    page.goto(f"{app_url}/training?{urlencode(link)}")
    settle(page)
    assert_clean(page)
    shown = labels(page)
    for hidden in ("model", "hidden width", "Random seed"):
        assert hidden not in shown
    assert {"hidden layers", "activation", "steps", "data set", "noise"} <= set(shown)
    steps = page.get_by_role("spinbutton", name="steps", exact=True)
    assert steps.is_disabled() and steps.input_value() == "20"
    assert "step 0 of 20" in page.locator("[data-testid='stProgress']").inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "teacher-link-training.png")
    press(page, "Run to the end")
    assert_clean(page)
    title = page.get_by_text("The race step by step").first.inner_text()
    assert "net.0.weight[0]" in title  # the hidden mlp is what trained
    assert query(page)["model"] == ["mlp"] and query(page)["width"] == ["4"]  # kept in the link


def test_the_share_dialog_builds_a_link_that_hides_what_was_ticked(page, app_url):
    page.goto(f"{app_url}/loss_shapes?k=40")
    settle(page)
    press(page, "Share this view")
    dialog = page.locator("[role='dialog']")
    for box in ("hide k", "lock t"):
        dialog.locator("label").filter(has=page.get_by_role("checkbox", name=box)).click()
        settle(page)
    link = dialog.locator("[data-testid='stCode']").inner_text().strip()
    assert query_of(link) == {"k": ["40"], "hide": ["k"], "lock": ["t"]}
    page.screenshot(path=SHOTS / "share-dialog.png")
    page.goto(link)
    settle(page)
    assert_clean(page)
    assert "steepness k" not in labels(page)
    assert slider(page, "threshold t").is_disabled()


def query_of(link: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(link).query)


def test_a_tour_walks_its_pages_with_next_and_back(page, app_url):
    tour = TOURS["threshold"]
    page.goto(app_url)
    settle(page)
    page.get_by_role("button", name="Start the tour").nth(list(TOURS).index("threshold")).click()
    settle(page)
    at_step(page, "step 1 of 6", "Loss Shapes")
    assert query(page)["losses"] == ["hard_threshold", "soft_threshold"]
    for _ in range(3):
        press(page, "Next")
    at_step(page, "step 4 of 6", "Gradient Lab")
    assert_clean(page)
    assert query(page)["loss"] == ["hard_threshold"]
    assert page.get_by_text("Gradient zero almost everywhere").count() >= 1
    press(page, "Next")
    at_step(page, "step 5 of 6", "Training")
    assert query(page)["act"] == ["step"]
    page.screenshot(path=SHOTS / "tour-threshold-step5.png")
    press(page, "Back")
    at_step(page, "step 4 of 6", "Gradient Lab")
    assert query(page) == {"tour": ["threshold"], "step": ["4"], "loss": ["hard_threshold"]}
    page.goto(f"{app_url}/{step_link(tour, 1)}")  # a step's own link
    at_step(page, "step 2 of 6", "Loss Shapes")
    assert float(slider(page, "steepness k").input_value()) == 80
