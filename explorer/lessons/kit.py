"""What every source article's lessons share: `Lesson`, `LessonResult`, the seeds' titles and
files, quoting, and the small tools the runs use."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from explorer.doctor.findings import Finding
from explorer.models import Squeeze
from explorer.rng import global_seed

FIGURE_KINDS = ("curve", "history", "bars", "table")

SEED_TITLES = {
    "000": "Does a custom loss function prevent PyTorch backpropagation?",
    "001": "How is custom loss function backpropagation implemented?",
    "002": "How can custom PyTorch loss functions be implemented with calculations outside the computational graph?",
    "003": "How are custom loss gradients calculated?",
}

SEED_FILES = {
    "000": "000_2211061ed57d595e.txt",
    "001": "001_6732c823a21c2f12.txt",
    "002": "002_e66720e285123e68.txt",
    "003": "003_7646bc2b7880b340.txt",
}


@dataclass(frozen=True)
class LessonResult:
    """What really happened when a lesson ran its buggy and its fixed code (computed live)."""

    outcome_buggy: str  # the exception text caught, or the wrong numbers / shapes
    outcome_fixed: str
    findings: list[Finding]  # what the gradient doctor says about the buggy version
    figure_data: dict  # plain lists; "kind" in FIGURE_KINDS picks the page's plot builder


@dataclass(frozen=True)
class Lesson:
    """One pitfall: where it comes from, the buggy and the fixed code, and a live run of both."""

    key: str
    title: str
    summary: str  # the pitfall in one sentence
    seed_id: str  # "000".."003", or "classic"
    seed_code: str  # quoted verbatim from the seed (classic: the buggy code as written here)
    fixed_code: str  # the source of our fix
    run: Callable[[], LessonResult]
    excerpts: tuple[str, ...] = ()  # the seed's text quoted in seed_code, piece by piece

    @property
    def seed_title(self) -> str:
        return SEED_TITLES.get(self.seed_id, "a classic example, not from the seeds")

    @property
    def seed(self) -> str:
        """'seed 003 · How are custom loss gradients calculated?' or 'classic · …'."""
        prefix = "classic" if self.seed_id == "classic" else f"seed {self.seed_id}"
        return f"{prefix} · {self.seed_title}"


def source(*objects) -> str:
    """The source code of our fixed functions / classes, one after another."""
    return "\n\n".join(inspect.getsource(o).rstrip() for o in objects)


def quote(*excerpts: str) -> str:
    """Excerpts of a seed, each copied character for character, joined by a "# …" line."""
    return "\n# …\n".join(piece.rstrip("\n") for piece in excerpts)


def quoted_lesson(
    seed_id: str, key: str, title: str, summary: str, excerpts: tuple[str, ...], fix, run
) -> Lesson:
    """A lesson whose buggy code is quoted from seed `seed_id`; `fix`: one or a tuple of objects
    whose source is shown as our fix."""
    fixes = fix if isinstance(fix, tuple) else (fix,)
    return Lesson(key, title, summary, seed_id, quote(*excerpts), source(*fixes), run, excerpts)


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


def grad_of(t: Tensor) -> Tensor:
    """t.grad after a backward pass; a RuntimeError when the pass left it None."""
    if t.grad is None:
        raise RuntimeError(
            "backward() left .grad None: the tensor is not a leaf that requires grad, "
            "or the loss does not depend on it"
        )
    return t.grad


def grad_text(named: dict[str, Tensor]) -> str:
    """'w.grad = None, b.grad norm 0.31' for each named tensor."""
    return ", ".join(
        f"{n}.grad = None" if p.grad is None else f"{n}.grad norm {p.grad.norm():.3g}"
        for n, p in named.items()
    )


def mlp_net(model: nn.Module) -> nn.Sequential:
    """The layers of an explorer MLP, Squeeze(Sequential(Linear, act, ..., Linear))."""
    net = model.net if isinstance(model, Squeeze) else None
    if not isinstance(net, nn.Sequential):
        raise TypeError(
            f"expected an explorer MLP (Squeeze around an nn.Sequential); got {type(model).__name__}"
        )
    return net


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
