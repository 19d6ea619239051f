"""Every page in headless Chromium: it runs clean, its charts draw, its main widget redraws them.

The table PAGES says, for each page, how many Plotly charts it must draw and which widget to
change; adjust it there when a page changes. Screenshots go to artifacts/screenshots/.
"""

import re
from dataclasses import dataclass

import pytest

from tests.browser.conftest import SHOTS
from tests.browser.harness import ARTIFACTS, ERROR, EXCEPTION, FIGURES_JS, SETTLED_JS, running_app

pytestmark = [pytest.mark.browser, pytest.mark.timeout(150)]
WAIT_MS = 60_000  # a first render imports torch and may compile caches on a cold, busy server
QUIET_MS = 500  # elements render after the run ends, in batches a few hundred ms apart


@dataclass(frozen=True)
class Widget:
    """A widget found by its ARIA role and accessible name (its label); value: what to set."""

    role: str  # combobox | slider | spinbutton | textbox | checkbox | switch | radio | button
    name: str
    value: str | None = None  # option text, text to type, key to press ("ArrowRight*3")


@dataclass(frozen=True)
class Case:
    path: str  # URL path of the page ("" = home)
    charts: int  # Plotly charts that must be drawn after the first run
    changes: tuple[Widget, ...] = ()  # changing each, in turn, must change some chart's data
    train: tuple[str, str] | None = None  # (Start, Stop) button labels: the loss curve must grow
    curve: str = "loss"  # regex matched against chart titles to find the curve that grows
    query: str = ""  # URL query the page opens with (settings travel in the URL)


PAGES = [
    Case("", 0),
    Case(
        "loss_shapes",
        2,
        (Widget("combobox", "Losses", "mae"), Widget("slider", "steepness k", "ArrowRight*4")),
    ),
    Case(
        "landscape",
        4,
        (
            Widget("slider", "Resolution (points per axis)", "ArrowRight"),
            Widget("switch", "Log scale"),
        ),
    ),
    Case(
        "training",
        1,
        (Widget("slider", "noise", "ArrowRight*2"),),
        train=("Start", "Stop training"),
        query="steps=5000",  # long enough that Stop stops it midway
    ),
    Case(
        "gradient_lab",
        1,
        (Widget("textbox", "Formula", "mean(abs(r)**3)"), Widget("combobox", "Loss", "huber")),
    ),
    Case("lessons", 1, (Widget("combobox", "Lesson", "hard_threshold"),)),
]


def settle(page) -> None:
    """Wait until a script run has finished and the page has stopped changing.

    Callers first wait for the effect they caused (a chart's data changed): a run that has just
    been asked for still reads "notRunning" until it starts."""
    page.wait_for_function(SETTLED_JS, arg=QUIET_MS, timeout=WAIT_MS)


def figures(page) -> list[dict]:
    return page.evaluate(FIGURES_JS)


def wait_for_charts(page, n: int) -> list[dict]:
    """Wait for n drawn Plotly charts (an svg or WebGL canvas inside each) or an error box."""
    failed = f"(document.querySelector(`{EXCEPTION}`) || [...document.querySelectorAll(`{ERROR}`)]"
    failed += '.some(e => e.innerText.startsWith("Unexpected")))'
    js = f"n => {failed} || ({FIGURES_JS})().filter(f => f.drawn).length >= n"
    page.wait_for_function(js, arg=n, timeout=WAIT_MS)
    return figures(page)


def assert_clean(page, when: str) -> None:
    """No exception box, and no st.error saying an unexpected error happened."""
    boxes = page.locator(EXCEPTION).all_inner_texts()
    assert not boxes, f"exception box {when}: {boxes[0][:500]}"
    unexpected = [t for t in page.locator(ERROR).all_inner_texts() if t.startswith("Unexpected")]
    assert not unexpected, f"error box {when}: {unexpected[0][:500]}"


def screenshot(page, name: str) -> None:
    """A full-page PNG: the viewport grows to the main area's height (it scrolls on its own)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    height = page.evaluate(
        "() => document.querySelector(\"[data-testid='stMain']\")?.scrollHeight ?? 0"
    )
    page.set_viewport_size({"width": size["width"], "height": min(max(height, 900), 8000)})
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)
    page.set_viewport_size(size)


def operate(page, w: Widget) -> None:
    """Change one widget the way a user would; `w.name` is the start of its label."""
    target = page.get_by_role(w.role, name=re.compile("^" + re.escape(w.name))).first
    if w.role == "combobox":
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        fresh = "[role='option']:not([aria-selected='true']):not(:text-is('Select all'))"
        option = page.get_by_role("option", name=w.value, exact=True) if w.value else None
        option = option or page.locator(fresh).first
        for _ in range(3):  # a rerun that lands just after the click closes the list: reopen it
            target.click()
            try:
                option.wait_for(state="visible", timeout=10_000)
                break
            except PlaywrightTimeout:
                page.keyboard.press("Escape")
        option.click()
        page.keyboard.press("Escape")  # a multiselect's list stays open after a pick
    elif w.role == "slider":  # a slider's accessible name is its value, then its label
        box = page.locator("[data-testid='stSlider']").filter(has=page.get_by_text(w.name))
        key, _, times = (w.value or "ArrowRight").partition("*")
        box.get_by_role("slider").first.focus()
        for _ in range(int(times or 1)):
            page.keyboard.press(key)
    elif w.role in ("spinbutton", "textbox"):
        target.fill(w.value or "")
        target.press("Enter")
    elif w.role in ("checkbox", "switch"):  # the input is hidden; its label takes the click
        page.locator("[data-testid='stCheckbox'] label").filter(has_text=w.name).first.click()
    else:  # radio (by option label), button
        target.click()


def open_page(page, base: str, case: Case) -> list[dict]:
    """Open / first (a fresh server's first run), then the page; wait for its charts."""
    page.goto(base + "/")
    settle(page)
    if case.path:
        page.goto(f"{base}/{case.path}" + (f"?{case.query}" if case.query else ""))
        settle(page)
    return wait_for_charts(page, case.charts)


def curve_points(page, title: str) -> int:
    hits = [f for f in figures(page) if re.search(title, f["title"], re.IGNORECASE)]
    return max((max(f["points"], default=0) for f in hits), default=0)


def test_home_links_every_page(page, app_url):
    open_page(page, app_url, PAGES[0])
    assert_clean(page, "on the home page")
    hrefs = page.eval_on_selector_all(
        "[data-testid='stSidebarNav'] a", "els => els.map(e => e.getAttribute('href'))"
    )
    paths = {h.rstrip("/").rsplit("/", 1)[-1] if h.rstrip("/") != app_url else "" for h in hrefs}
    assert paths == {c.path for c in PAGES}, "the table PAGES must cover every page in the sidebar"
    assert page.locator("[data-testid='stPageLink']").count() == len(PAGES) - 1
    screenshot(page, "00-home")


# How each Plotly chart of the page is skipped off screen (app_pages/page.css, on every page).
CHART_VISIBILITY_JS = """() => [...document.querySelectorAll("[data-testid='stPlotlyChart']")]
  .map((e) => getComputedStyle(e).contentVisibility)"""


def assert_charts_skipped_off_screen(page, when: str) -> None:
    found = page.evaluate(CHART_VISIBILITY_JS)
    assert found and set(found) == {"auto"}, f"{when}: content-visibility {found}"


@pytest.mark.parametrize("case", [c for c in PAGES if c.path], ids=lambda c: c.path)
def test_page(page, app_url, case):
    shown = open_page(page, app_url, case)
    assert_clean(page, f"on opening /{case.path}")
    assert_charts_skipped_off_screen(page, f"on opening /{case.path}")
    assert sum(f["drawn"] for f in shown) >= case.charts, shown
    assert all(f["drawn"] for f in shown), f"a chart did not draw: {shown}"
    name = f"{[c.path for c in PAGES].index(case.path):02d}-{case.path}"
    screenshot(page, name)
    for widget in case.changes:
        before = [f["hash"] for f in figures(page)]
        operate(page, widget)
        js = f"before => ({FIGURES_JS})().some((f, i) => f.drawn && f.hash !== before[i])"
        page.wait_for_function(js, arg=before, timeout=WAIT_MS)
        settle(page)
        assert_clean(page, f"after changing {widget.name!r}")
    if case.train:
        start, stop = case.train
        before = curve_points(page, case.curve)
        main = page.get_by_test_id("stMainBlockContainer")  # the header has its own "Stop"
        main.get_by_role("button", name=start, exact=True).click()
        js = f"""([re, n]) => ({FIGURES_JS})()
            .filter(f => new RegExp(re, "i").test(f.title))
            .some(f => Math.max(0, ...f.points) > n + 1)"""
        page.wait_for_function(js, arg=[case.curve, before], timeout=WAIT_MS)
        halt = main.get_by_role("button", name=stop, exact=True)
        assert halt.is_enabled(), "the run ended before Stop could stop it: train longer"
        halt.click()
        halt.and_(page.locator(":disabled")).wait_for(timeout=WAIT_MS)  # the Stop run drew
        settle(page)
        grown = curve_points(page, case.curve)
        page.wait_for_timeout(1000)  # a stopped run adds no points in the next second
        assert curve_points(page, case.curve) == grown, "the curve grew after Stop"
        assert "stopped" in page.locator("[data-testid='stProgress']").inner_text()
        settle(page)
        assert curve_points(page, case.curve) > before + 1
        assert_clean(page, "after a training run")
    if case.changes or case.train:
        assert_charts_skipped_off_screen(page, f"after the changes on /{case.path}")
        screenshot(page, f"{name}-after")


def test_deep_link_on_a_fresh_server(page):
    """A shared link may be the first request a restarted server sees: it gets the whole app.

    (The page scripts live in app_pages/, not pages/: a folder named pages/ would put Streamlit
    into its legacy multipage mode, which runs such a link without app.py.)"""
    with running_app(ARTIFACTS / "browser-deeplink-server.log") as (base, _proc):
        page.goto(f"{base}/lessons")
        settle(page)
        nav = page.locator("[data-testid='stSidebarNav'] a").all_inner_texts()
        assert page.get_by_role("spinbutton", name="Random seed").count() == 1, nav
        assert len(nav) == len(PAGES), nav
        assert page.get_by_role("heading", name="Lessons").count() == 1


HOSTILE = [  # (page, query, widget role, widget label, largest value the page may show)
    ("training", "steps=1000000000&n=99999999&lr=1e308", "spinbutton", "steps", 5000),
    ("landscape", "steps=100001&train_steps=99999&span=1e300", "slider", "Resolution", 101),
    ("gradient_lab", "loss=custom&expr=" + "r*" * 3000 + "r", None, None, None),
]


@pytest.mark.parametrize(
    ("path", "query", "role", "label", "most"), HOSTILE, ids=lambda v: str(v)[:12]
)
def test_crafted_url_is_bounded(page, app_url, path, query, role, label, most):
    """A link with absurd settings opens clean, with the values clamped: no unbounded work."""
    shown = open_page(page, app_url, Case(path, 0, query=query))
    settle(page)
    assert_clean(page, f"on /{path}?{query[:60]}")
    assert all(f["drawn"] for f in shown), shown
    if role == "spinbutton":
        value = page.get_by_role(role, name=label, exact=True).input_value()
    elif role == "slider":
        box = page.locator("[data-testid='stSlider']").filter(has=page.get_by_text(label))
        value = box.get_by_role("slider").first.input_value()
    else:
        return
    assert float(value) <= most, f"{label} shows {value}"
