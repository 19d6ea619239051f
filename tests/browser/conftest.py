"""Fixtures for the browser tests: the app on a free loopback port, headless Chromium, a page.

Without Chromium or playwright the tests are skipped with the reason; with LLE_REQUIRE_BROWSER=1
(set by .ci/run) they fail instead, so CI never passes without having driven a browser.
"""

import os
import re

import pytest

from tests.browser.harness import (
    ACTIVITY_JS,
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    browser_missing,
    running_app,
)

SHOTS = ARTIFACTS / "screenshots"


def _unavailable(reason: str) -> None:
    if os.environ.get("LLE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests required (LLE_REQUIRE_BROWSER=1) but {reason}", pytrace=False)
    pytest.skip(f"browser tests skipped: {reason}")


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by playwright, shared by every test."""
    reason = browser_missing()
    if reason:
        _unavailable(reason)
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as pw:
        try:
            chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        except Error as err:
            _unavailable(f"Chromium at {CHROMIUM} did not start: {err}")
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def app_url(browser):
    """Base URL of `streamlit run app.py` started for this session, stopped afterwards."""
    with running_app(ARTIFACTS / "browser-server.log") as (base, _proc):
        yield base


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(browser, request):
    """A fresh browser context and page; on failure its last state is saved as a screenshot."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(30_000)
    context.add_init_script(ACTIVITY_JS)
    tab = context.new_page()
    yield tab
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        SHOTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        tab.screenshot(path=SHOTS / f"FAILED-{name}.png", full_page=True)
    context.close()
