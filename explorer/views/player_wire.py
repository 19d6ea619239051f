"""The player's wire format: a Player (explorer.views.player) as the JSON the component reads,
and the clicks it sends back.

The player (app_pages/components/player/) only draws this and reports clicks; every number it
shows comes from here. `to_json` is the wire format, documented field by field below, so another
page (or a later feature) can feed it without touching the component.

Contract (`to_json`; arrays are {"f4": base64 of little-endian float32, "shape": [...]}):

- `id`: a stable name of the player on its page; `revision`: camera and zoom are kept while it
  stays the same (it names the plane: a new plane starts with a fresh view).
- `plane`: `labels` (α, β axis titles), `alpha_range`, `beta_range` (the 2-D view's extent).
- `surface` (or null): `alpha` (S,), `beta` (S,), `values` (S, S) with values[i, j] at
  (alpha[i], beta[j]), as drawn (log-scaled when `log`), `z_label`; `field`: the descent
  direction −∇L on a coarser K×K grid: `alpha` (K,), `beta` (K,), `u` = −∂L/∂α and
  `v` = −∂L/∂β (K, K), indexed like `values`.
- `runs`: one a raced run, the main one first: `name`, `step` (T,) the optimizer steps,
  `alpha`, `beta` (T,) the path projected on the plane, `height` (T,) the surface under each
  point (as drawn), `loss` (T,) the true loss, `grad_norm` (T,) ‖∇L‖, and `extras`: a list of
  per-step annotations {`name`, `kind`, `values`} where kind "vector" is (T, 2) in plane units,
  drawn as an arrow from the run's current point (optional `color`; `tail`: the name of the
  vector at whose tip it starts; `part`: the slow-motion part, 1-based, from which it shows);
  "text" is T strings shown under the controls; "series" is (T,) numbers drawn on the chart
  beside the loss; "parts" is T lists of P strings, the parts of the update leaving each point
  ("" where none was sent), with `labels` (P,): slow motion steps through them one at a time
  (explorer.views.anatomy makes them). New kinds of narration add extras; the component draws
  any extras it is given.
- `sweep` (or null): frames over a loss parameter instead of steps: `param`, `values` (F,),
  and per frame `surfaces` (F, S, S) and `u`, `v` (F, K, K) on the grids above, and/or 1-D
  `curves`: `x` (N,), `value` (F, N), `grad` (F, N), with `fixed` (a static reference curve:
  `name`, `value`, `grad`) and `x_label`.
- `chart`: `log_loss`, `log_grad` (whether each chart axis is logarithmic).
- `clickable`: whether a click on the plane reports a start point; `title`; `hint`.
- `live`: the runs are still training: the player follows their newest step.
- `frames`: how many frames the scrubber has (steps of the longest run, or sweep values);
  `stride`: the default steps per frame (long runs play in about ten seconds at 1×).
"""

import base64
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from explorer.views.player import Extra, Player


def encode(a: ArrayLike) -> dict:
    """An array as {"f4": base64 of little-endian float32, "shape": [...]} (NaN kept)."""
    arr = np.asarray(a, dtype="<f4")
    return {"f4": base64.b64encode(arr.tobytes()).decode("ascii"), "shape": list(arr.shape)}


def decode(doc: Mapping) -> np.ndarray:
    """encode's inverse (float32)."""
    raw = base64.b64decode(doc["f4"])
    return np.frombuffer(raw, dtype="<f4").reshape(doc["shape"])


def _extra(e: Extra, steps: int) -> dict:
    if e.kind == "parts":
        rows = [[str(t) for t in row] for row in e.values]
        if len(rows) != steps or any(len(r) != len(e.labels) for r in rows):
            raise ValueError(f"extra {e.name!r}: want {steps} rows of {len(e.labels)} parts")
        return {"name": e.name, "kind": "parts", "labels": list(e.labels), "values": rows}
    if e.kind == "text":
        texts = [str(t) for t in e.values]
        if len(texts) != steps:
            raise ValueError(f"extra {e.name!r}: {len(texts)} texts for {steps} steps")
        return {"name": e.name, "kind": "text", "values": texts}
    values = np.asarray(e.values, dtype=np.float64)
    want = (steps, 2) if e.kind == "vector" else (steps,)
    if values.shape != want:
        raise ValueError(f"extra {e.name!r} of kind {e.kind}: shape {values.shape}, want {want}")
    style = {"color": e.color, "tail": e.tail, "part": e.part} if e.kind == "vector" else {}
    return {"name": e.name, "kind": e.kind, "values": encode(values), **style}


def to_dict(p: Player) -> dict:
    """The player as plain JSON-ready values (the contract in this module's docstring)."""
    surface = None
    if p.surface is not None:
        s, f = p.surface, p.surface.field
        surface = {
            "alpha": encode(s.alpha),
            "beta": encode(s.beta),
            "values": encode(s.values),
            "z_label": s.z_label,
            "field": {k: encode(getattr(f, k)) for k in ("alpha", "beta", "u", "v")},
        }
    runs = []
    for r in p.runs:
        arrays = {k: encode(getattr(r, k)) for k in ("step", "alpha", "beta", "height", "loss")}
        extras = [_extra(e, r.step.size) for e in r.extras]
        runs.append({"name": r.name, **arrays, "grad_norm": encode(r.grad_norm), "extras": extras})
    sweep = None
    if p.sweep is not None:
        w = p.sweep
        sweep = {"param": w.param, "values": encode(w.values)}
        for k in ("surfaces", "u", "v"):
            if getattr(w, k) is not None:
                sweep[k] = encode(getattr(w, k))
        if w.curves is not None:
            c = w.curves
            sweep["curves"] = {
                "x": encode(c.x),
                "value": encode(c.value),
                "grad": encode(c.grad),
                "x_label": c.x_label,
                "fixed": None
                if c.fixed_value is None or c.fixed_grad is None
                else {
                    "name": c.fixed_name,
                    "value": encode(c.fixed_value),
                    "grad": encode(c.fixed_grad),
                },
            }
    start = p.start
    return {
        "id": p.id,
        "revision": p.revision,
        "title": p.title,
        "hint": p.hint,
        "plane": {
            "labels": list(p.labels),
            "alpha_range": [_num(v) for v in p.alpha_range],
            "beta_range": [_num(v) for v in p.beta_range],
        },
        "surface": surface,
        "runs": runs,
        "sweep": sweep,
        "chart": {"log_loss": p.log_loss, "log_grad": p.log_grad},
        "clickable": p.clickable,
        "log": p.log,
        "live": p.live,
        "frames": p.frames,
        "stride": p.stride,
        "start": None if start is None else list(start),
    }


def _num(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def to_json(p: Player) -> str:
    """The player's data as one JSON string (what the component receives)."""
    return json.dumps(to_dict(p), separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True)
class Click:
    """A point of the plane the user clicked: where the next run starts."""

    alpha: float
    beta: float
    source: str = field(default="contour")

    @classmethod
    def parse(cls, value) -> "Click | None":
        """A click from the component's report ({"alpha", "beta", "source"}), None if malformed
        or not finite."""
        if not isinstance(value, Mapping):
            return None
        try:
            a, b = float(value["alpha"]), float(value["beta"])
        except (KeyError, TypeError, ValueError):
            return None
        if not (math.isfinite(a) and math.isfinite(b)):
            return None
        return cls(a, b, str(value.get("source", "contour"))[:16])
