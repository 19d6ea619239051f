"""`python -m bench`: performance figures, each section side by side with its alternatives.

A section is a module here with `run(quick: bool) -> list[dict]` (one dict a table row).
"""

import importlib
import time

SECTIONS = ("training", "surface", "pages", "player", "tuning", "budget")


def best_ms(fn, repeat: int = 3) -> float:
    """Best wall time of `repeat` calls of fn, in milliseconds."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, (time.perf_counter() - t0) * 1e3)
    return best


def run_sections(names=SECTIONS, quick: bool = False) -> dict[str, list[dict]]:
    """Run the named sections; a section whose module is missing is reported, not skipped silently."""
    out = {}
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        out[name] = module.run(quick=quick)
    return out


def format_table(rows: list[dict]) -> str:
    """Plain-text table of rows (dicts with the same keys); floats to 1 decimal place."""
    if not rows:
        return "(no rows)"
    cols = list(rows[0])
    cell = lambda v: f"{v:.1f}" if isinstance(v, float) else str(v)
    widths = {c: max(len(c), *(len(cell(r.get(c, ""))) for r in rows)) for c in cols}
    lines = ["  ".join(c.rjust(widths[c]) for c in cols)]
    lines += ["  ".join(cell(r.get(c, "")).rjust(widths[c]) for c in cols) for r in rows]
    return "\n".join(lines)
