"""Time each page under AppTest: first render in a fresh session, then one main-widget change.

Run by `python -m bench --only pages` (in a subprocess, so explorer imports no
Streamlit); prints one JSON list of rows.
"""

import json
import sys
import time

from tests.apptest import open_page, problems

# page → (widget kind, key, new value): the change each page is timed on
CHANGES = {
    None: ("number_input", "seed", 7),
    "loss_shapes": ("slider", "k", 60.0),
    "landscape": ("slider", "steps", 41),
    "training": ("selectbox", "opt", "adam"),
    "gradient_lab": ("text_input", "expr", "mean(abs(r)**3)"),
    "lessons": ("selectbox", "lesson", "hard_threshold"),
}


def time_page(page: str | None) -> dict:
    t0 = time.perf_counter()
    at = open_page(page)
    first = time.perf_counter() - t0
    kind, key, value = CHANGES[page]
    widget = getattr(at, kind)(key=key)
    t0 = time.perf_counter()
    widget.set_value(value).run()
    change = time.perf_counter() - t0
    return {
        "page": page or "home",
        "first_render_ms": first * 1e3,
        "change_ms": change * 1e3,
        "changed": f"{key} → {value}",
        "problems": len(problems(at)),
    }


if __name__ == "__main__":
    open_page(None)  # warm the imports once, as a running server has them
    print(json.dumps([time_page(p) for p in CHANGES]))
    sys.exit(0)
