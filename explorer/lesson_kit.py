"""What a lesson's run returns (`LessonResult`) and the small tools the runs share."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from explorer.findings import Finding
from explorer.rng import global_seed

FIGURE_KINDS = ("curve", "history", "bars", "table")


@dataclass(frozen=True)
class LessonResult:
    """What really happened when a lesson ran its buggy and its fixed code (computed live)."""

    outcome_buggy: str  # the exception text caught, or the wrong numbers / shapes
    outcome_fixed: str
    findings: list[Finding]  # what the gradient doctor says about the buggy version
    figure_data: dict  # plain lists; "kind" in FIGURE_KINDS picks the page's plot builder


def seeded(run: Callable[[], LessonResult]) -> Callable[[], LessonResult]:
    """Run with the global RNG seeded to 0, held by this thread, and restored afterwards: same
    numbers every time, whatever other sessions do meanwhile (the articles' code draws from the
    global generator and calls torch.manual_seed itself)."""

    @functools.wraps(run)
    def wrapper() -> LessonResult:
        with global_seed(0):
            return run()

    return wrapper


def caught(thunk: Callable[[], object]) -> tuple[object, str | None]:
    """(value, None), or (None, "RuntimeError: <the real message>") when thunk raises."""
    try:
        return thunk(), None
    except (RuntimeError, ValueError, TypeError, IndexError) as err:
        return None, f"{type(err).__name__}: {err}"


def descend(
    params: list[Tensor], loss_of: Callable[[], Tensor], *, steps: int, lr: float, adam=False
) -> list[float]:
    """Loss before each of `steps` optimizer steps, and after the last (steps + 1 values)."""
    opt = (torch.optim.Adam if adam else torch.optim.SGD)(params, lr=lr)
    history = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_of()
        history.append(float(loss.detach()))
        loss.backward()
        opt.step()
    history.append(float(loss_of().detach()))
    return history


def grad_text(named: dict[str, Tensor]) -> str:
    """'w.grad = None, b.grad norm 0.31' for each named tensor."""
    return ", ".join(
        f"{n}.grad = None" if p.grad is None else f"{n}.grad norm {p.grad.norm():.3g}"
        for n, p in named.items()
    )


def shape(t: Tensor) -> tuple:
    return tuple(t.shape)


def as_list(values) -> list:
    """Plain Python numbers from a tensor, array or list."""
    if isinstance(values, Tensor):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=np.float64).tolist()


def curve(x, x_label: str, series: dict) -> dict:
    """Lines over a shared x (a 1-D loss or gradient curve)."""
    return {"kind": "curve", "x": as_list(x), "x_label": x_label, "series": _series(series)}


def history(y_label: str, series: dict) -> dict:
    """Lines over optimizer steps 0, 1, 2, …"""
    steps = list(range(max(len(v) for v in series.values())))
    return {"kind": "history", "step": steps, "y_label": y_label, "series": _series(series)}


def bars(labels: list[str], y_label: str, series: dict) -> dict:
    """Grouped bars: one group per label, one bar per series."""
    return {"kind": "bars", "labels": list(labels), "y_label": y_label, "series": _series(series)}


def table(columns: list[str], rows: list[list]) -> dict:
    return {"kind": "table", "columns": list(columns), "rows": [list(r) for r in rows]}


def _series(series: dict) -> dict[str, list]:
    return {str(name): as_list(v) for name, v in series.items()}
