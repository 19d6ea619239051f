"""Shared by the browser tests and the load test: start the app on loopback, drive Chromium."""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = Path(os.environ.get("LLE_CHROMIUM", "/usr/bin/chromium"))  # Debian's, as in .ci/run
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
CHART = "[data-testid='stPlotlyChart'] .js-plotly-plot"
EXCEPTION = "[data-testid='stException']"
ERROR = "[data-testid='stAlertContentError']"

# Installed before any page script: notes the time of the last change to the page's elements.
# They render in batches after a script run ends, so "idle" needs a quiet spell as well.
ACTIVITY_JS = """(() => {
  window.__lleLastChange = performance.now();
  new MutationObserver(() => { window.__lleLastChange = performance.now(); })
    .observe(document, {subtree: true, childList: true});
})()"""

# True once the app is connected, has finished a script run ("initial" before the first one),
# and its elements have not changed for `quiet` ms.
SETTLED_JS = """(quiet) => {
  const app = document.querySelector("[data-testid='stApp']");
  return !!app && app.getAttribute("data-test-script-state") === "notRunning"
    && app.getAttribute("data-test-connection-state") === "CONNECTED"
    && performance.now() - window.__lleLastChange > quiet;
}"""

# Figures on the page as plain numbers, read from each chart's `data` (what Plotly drew).
# Arrays arrive as lists, typed arrays, or {dtype, bdata, shape} from plotly.py's base64 encoding.
FIGURES_JS = """() => {
  const size = {f8: 8, f4: 4, i4: 4, u4: 4, i2: 2, u2: 2, i1: 1, u1: 1, u1c: 1};
  const count = (a) => {
    if (a == null) return 0;
    if (Array.isArray(a) || ArrayBuffer.isView(a)) return a.length;
    if (a.bdata !== undefined) {
      const bytes = Math.floor(a.bdata.length * 3 / 4) - (a.bdata.match(/=*$/)[0].length);
      return Math.round(bytes / (size[a.dtype] || 8));
    }
    return 0;
  };
  const hash = (s) => { let h = 2166136261; for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i); h = Math.imul(h, 16777619); } return (h >>> 0).toString(16); };
  return [...document.querySelectorAll("__CHART__")].map((el) => {
    const t = el.layout && el.layout.title;
    const title = ((t && (t.text !== undefined ? t.text : t)) || "").toString().replace(/<[^>]*>/g, "");
    const traces = el.data || [];
    return {
      title,
      traces: traces.length,
      types: traces.map((d) => d.type || "scatter"),
      points: traces.map((d) => Math.max(count(d.y), count(d.z), count(d.x))),
      drawn: el.querySelectorAll("svg.main-svg, canvas").length > 0,
      hash: hash(JSON.stringify(traces)),
    };
  });
}""".replace("__CHART__", CHART)


def free_port() -> int:
    """A loopback TCP port that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as err:
        return (
            f"the playwright package is not importable ({err}); pip install -r requirements-dev.txt"
        )
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM}; apt-get install -y chromium"
    return None


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def running_app(log_path: Path, timeout_s: float = 60.0, env: dict | None = None) -> Iterator:
    """`streamlit run app.py` on a free loopback port; yields (base_url, Popen); always stops it."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
    cmd += ["--server.address", "127.0.0.1", "--server.headless", "true"]
    cmd += ["--browser.gatherUsageStats", "false"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while not _healthy(base):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"streamlit did not become healthy on {base}:\n{tail}")
            time.sleep(0.2)
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
