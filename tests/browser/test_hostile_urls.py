"""Shared links with hostile numbers or markup, opened on a fresh server in Chromium.

A fresh server: the first visit of a session is where Streamlit seeds bound widgets from the
URL (and where ?seed=inf used to turn the whole app into one exception box).
"""

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.browser.conftest import SHOTS
from tests.browser.harness import (
    ACTIVITY_JS,
    ARTIFACTS,
    CHART,
    ERROR,
    EXCEPTION,
    SETTLED_JS,
    running_app,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]
WAIT_MS = 60_000
QUIET_MS = 700


@pytest.fixture(scope="module")
def fresh_url(browser):
    with running_app(ARTIFACTS / "browser-hostile-urls.log") as (base, _proc):
        yield base


@pytest.fixture
def tab(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(30_000)
    context.add_init_script(ACTIVITY_JS)
    page = context.new_page()
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SHOTS / f"FAILED-{request.node.name}.png", full_page=True)
    context.close()


def settle(page) -> None:
    page.wait_for_function(SETTLED_JS, arg=QUIET_MS, timeout=WAIT_MS)


def query(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query, keep_blank_values=True)


def wait_for_query(page, absent: tuple[str, ...] = (), present: dict | None = None) -> None:
    """Wait until the address bar has none of `absent` and each present key=value."""
    js = """([absent, present]) => {
      const q = new URLSearchParams(location.search);
      return absent.every(k => !q.has(k))
        && Object.entries(present).every(([k, v]) => q.get(k) === v);
    }"""
    page.wait_for_function(js, arg=[list(absent), present or {}], timeout=WAIT_MS)


def assert_drawn_clean(page, heading: str) -> None:
    assert page.locator(EXCEPTION).count() == 0, page.locator(EXCEPTION).all_inner_texts()
    assert page.locator(ERROR).all_inner_texts() == []
    assert page.locator("h1").first.inner_text() == heading


def spin(page, label: str):
    return page.get_by_role("spinbutton", name=label, exact=True)


def test_infinite_seed_opens_the_home_page_and_the_seed_works_after(tab, fresh_url):
    tab.goto(fresh_url + "/?seed=inf")
    settle(tab)
    assert_drawn_clean(tab, "Loss Landscape Explorer")
    assert tab.locator("[data-testid='stPageLink']").count() == 5
    assert spin(tab, "Random seed").input_value() == "0"
    wait_for_query(tab, absent=("seed",))
    spin(tab, "Random seed").fill("5")  # bound again: the new value goes into the link
    spin(tab, "Random seed").press("Enter")
    wait_for_query(tab, present={"seed": "5"})
    settle(tab)
    assert_drawn_clean(tab, "Loss Landscape Explorer")


def test_overflowing_training_numbers_open_the_page_with_defaults(tab, fresh_url):
    tab.goto(fresh_url + "/training?" + urlencode({"n": "1e309", "steps": "-inf", "noise": "nan"}))
    settle(tab)
    tab.wait_for_selector(CHART, timeout=WAIT_MS)  # the initial fit is drawn
    settle(tab)
    assert_drawn_clean(tab, "Training")
    assert spin(tab, "points n").input_value() == "200"
    assert spin(tab, "steps").input_value() == "200"
    wait_for_query(tab, absent=("n", "steps", "noise"))
    assert "step 0 of 200" in tab.locator("[data-testid='stProgress']").inner_text()


FORMULA = "mean(r**2*k_a + (r<br>1))"


def test_a_formula_shows_literally_in_captions_and_chart_titles(tab, fresh_url):
    tab.goto(fresh_url + "/gradient_lab?" + urlencode({"loss": "custom", "expr": FORMULA}))
    settle(tab)
    tab.wait_for_selector(f"{CHART} .gtitle", timeout=WAIT_MS)
    settle(tab)
    assert_drawn_clean(tab, "Gradient Lab")
    title = tab.locator(f"{CHART} .gtitle").first
    assert title.text_content() == f"Custom: {FORMULA}: value and gradient against the residual"
    assert title.locator("tspan.line").count() <= 1  # no line break from the typed <br>
    assert tab.locator(f"{CHART} .gtitle b").count() == 0
    tab.goto(fresh_url + "/training?" + urlencode({"loss": "custom", "expr": FORMULA}))
    settle(tab)
    tab.wait_for_selector(CHART, timeout=WAIT_MS)
    settle(tab)
    assert_drawn_clean(tab, "Training")
    captions = tab.locator("[data-testid='stCaptionContainer']").all_inner_texts()
    assert f"Custom: {FORMULA} · custom expression · formula below" in captions
    assert query(tab)["expr"] == [FORMULA]


def test_a_teacher_link_with_hostile_lists_and_a_hidden_overflowing_number(tab, fresh_url):
    hide = "n,<script>alert(1)</script>,**x**," + "y" * 90
    link = {"n": "1e309", "steps": "30", "hide": hide, "lock": "steps,[a](javascript:alert(1))"}
    tab.goto(fresh_url + "/training?" + urlencode(link))
    settle(tab)
    tab.wait_for_selector(CHART, timeout=WAIT_MS)
    settle(tab)
    assert_drawn_clean(tab, "Training")
    assert spin(tab, "points n").count() == 0  # hidden, and at its default: the URL lost 1e309
    wait_for_query(tab, absent=("n",), present={"steps": "30"})
    assert spin(tab, "steps").is_disabled()
    assert "step 0 of 30" in tab.locator("[data-testid='stProgress']").inner_text()
    note = tab.get_by_text("partly ignored").inner_text()
    assert "4 entries that are not control keys" in note and "<script>" not in note
    assert tab.locator("script:has-text('alert(1)')").count() == 0
