"""Each page's first AppTest render and one widget change (targets: < 2 s and < 1 s).

AppTest needs Streamlit, which explorer never imports: the timing runs in a subprocess
(`python -m bench.page_timings`) from the repository root.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository root: bench/ is one level below


def run(quick: bool = False) -> list[dict]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.page_timings"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])
