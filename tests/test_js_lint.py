"""ESLint over the client-side components (app_pages/components/**/*.js, eslint.config.mjs).

ESLint comes from npm (`npm ci` in the repository root; .ci/run does it). Without
node_modules/.bin/eslint the tests are skipped with the reason here, and fail in CI (CI set or
LLE_REQUIRE_NODE=1).
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ESLINT = ROOT / "node_modules" / ".bin" / "eslint"
REQUIRED = bool(os.environ.get("CI")) or os.environ.get("LLE_REQUIRE_NODE") == "1"


def eslint(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the project's own ESLint (never one npx would download) from the repository root."""
    npx = shutil.which("npx")
    missing = None
    if npx is None:
        missing = "npx (Node.js and npm) is not installed"
    elif not ESLINT.exists():
        missing = f"{ESLINT.relative_to(ROOT)} is missing (run `npm ci` in the repository root)"
    if missing:
        if REQUIRED:
            pytest.fail(f"JS lint required (CI / LLE_REQUIRE_NODE=1) but {missing}", pytrace=False)
        pytest.skip(f"JS lint skipped: {missing}")
    return subprocess.run(
        [npx, "--no-install", "eslint", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_components_pass_eslint():
    result = eslint("--max-warnings", "0", "app_pages/components")
    assert result.returncode == 0, f"eslint found problems:\n{result.stdout}\n{result.stderr}"


def test_eslint_rejects_an_unused_variable():
    """The lint can fail: the same config accepts clean code and rejects an unused variable."""
    name = ("--stdin", "--stdin-filename", "app_pages/components/x.js")
    clean = eslint(*name, stdin="export default function (c) {\n  return c.data;\n}\n")
    assert clean.returncode == 0, f"{clean.stdout}\n{clean.stderr}"
    bad = eslint(*name, stdin="export default function (c) {\n  const unused = 1;\n}\n")
    assert bad.returncode == 1, f"{bad.stdout}\n{bad.stderr}"
    assert "'unused' is assigned a value but never used" in bad.stdout
    assert "no-unused-vars" in bad.stdout
