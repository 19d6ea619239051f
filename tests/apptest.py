"""AppTest helpers: open a page of the app (optionally with URL settings) and read its figures."""

import base64
import json
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120  # seconds per run; the machine is small and shared


def open_page(page: str | None, query: dict | None = None) -> AppTest:
    """A fresh session opened at pages/<page>.py (None: home) with the given URL query."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params.update(
        {k: v if isinstance(v, list) else str(v) for k, v in (query or {}).items()}
    )
    if page is not None:
        at.switch_page(f"app_pages/{page}.py")  # before the first run: like opening the page's URL
    return at.run()


def figures(at: AppTest) -> dict[str, dict]:
    """Every Plotly chart on the page, as {element key or index: figure dict}."""
    out = {}
    for i, el in enumerate(at.get("plotly_chart")):
        out[el.proto.id.rsplit("-", 1)[-1] if el.proto.id else str(i)] = json.loads(el.proto.spec)
    return out


def problems(at: AppTest) -> list[str]:
    """Exceptions and "Unexpected error" boxes: what a page must never show."""
    found = [e.value for e in at.exception]
    found += [e.value for e in at.error if str(e.value).startswith("Unexpected error")]
    return found


def array(value) -> np.ndarray:
    """A figure field as a float array: Plotly 7 sends numpy data as {dtype, bdata (base64), shape}."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        dims = [int(s) for s in str(shape).split(",")] if shape else [flat.size]
        return flat.astype(float).reshape(dims)
    return np.array([np.nan if v is None else v for v in np.ravel(value)], dtype=float)


def trace(fig: dict, name: str) -> dict:
    """The first trace of a figure with this name."""
    return next(t for t in fig["data"] if t.get("name") == name)
