"""A real browser behind HAProxy (deploy/cluster.py) when its app process dies.

The wire sessions of tests/test_deploy_cluster.py reconnect the way the Streamlit frontend does;
this checks the frontend itself: headless Chromium opens a Training view with its settings in
the URL, the process that serves it (the affinity cookie says which) is killed, and the page
reconnects through the balancer by itself, to the other process, and shows the same charts with
the same data, the same URL and no error box. Needs Chromium and haproxy (skipped without them
here; in CI they are required).
"""

import time

import pytest

from deploy.cluster import Cluster, haproxy_binary
from tests.browser.harness import (
    ACTIVITY_JS,
    ARTIFACTS,
    CHART,
    ERROR,
    EXCEPTION,
    FIGURES_JS,
    SETTLED_JS,
)
from tests.test_deploy_cluster import REQUIRED

VIEW = "/training?steps=20&seed=1234&loss=huber"
WAIT_MS = 60_000
CONNECTED = """() => document.querySelector("[data-testid='stApp']")
  ?.getAttribute("data-test-connection-state") === 'CONNECTED'"""


@pytest.fixture
def chromium(browser):
    """The session's Chromium (tests/browser/conftest.py), once haproxy is here too."""
    if haproxy_binary() is None:
        (pytest.fail if REQUIRED else pytest.skip)("haproxy is not installed")
    return browser


def shown(page) -> tuple[list, str, int]:
    """(the charts' titles and data hashes, the URL's query, error boxes) once settled with
    its charts drawn (a cold process can leave the page quiet before its first run starts)."""
    page.wait_for_selector(CHART, timeout=WAIT_MS)
    page.wait_for_function(SETTLED_JS, arg=500, timeout=WAIT_MS)
    figures = [(f["title"], f["hash"], f["drawn"]) for f in page.evaluate(FIGURES_JS)]
    errors = page.locator(EXCEPTION).count() + page.locator(ERROR).count()
    return figures, page.url.split("?", 1)[1], errors


def replica(context) -> str:
    """The affinity cookie's value: the process HAProxy sends this browser to."""
    return {c["name"]: c["value"] for c in context.cookies()}.get("SERVERID", "")


def test_the_page_reconnects_to_another_replica_and_shows_the_same_view(chromium):
    with Cluster(2, logs=ARTIFACTS / "deploy-browser-cluster", timeout_s=60) as cluster:
        context = chromium.new_context(viewport={"width": 1400, "height": 900})
        context.add_init_script(ACTIVITY_JS)
        page = context.new_page()
        page.goto(cluster.base + VIEW, timeout=WAIT_MS)
        before = shown(page)
        served = replica(context)
        cluster.kill(served)
        deadline = time.monotonic() + WAIT_MS / 1000
        while replica(context) == served and time.monotonic() < deadline:  # it reconnects
            page.wait_for_timeout(100)
        page.wait_for_function(CONNECTED, timeout=WAIT_MS)
        after = shown(page)
        now = replica(context)
        page.screenshot(path=ARTIFACTS / "deploy-browser-after-failover.png")
        context.close()
    assert before[0] and all(drawn for *_, drawn in before[0]) and before[2] == 0
    assert "seed=1234" in before[1] and "loss=huber" in before[1]
    assert {served, now} == {"r0", "r1"}  # the cookie now names the live process
    assert after == before  # same charts, same data, same URL, no error box
