"""The loss catalogue: one registry `LOSSES` of `LossSpec`s that every page reads.

Each loss is a function `fn(pred, target, *, reduction="mean", weights=None, **params)` with its
spec beside it: `regression` (standard, of the residual), `seeded` (from the seed articles),
`classification` (logits, margins, probabilities); `spec` holds the shared pieces.
"""

import importlib

import torch

from .classification import SPECS as _CLASSIFICATION
from .regression import SPECS as _REGRESSION
from .seeded import SPECS as _SEEDED
from .spec import (
    EXPRESSION_PREFIX,
    REDUCTIONS,
    TASKS,
    Link,
    LossFn,
    LossKind,
    LossSpec,
    Param,
    Reduction,
    Target,
    Task,
    XAxis,
    reduce_loss,
)

__all__ = [
    "EXPRESSION_PREFIX",
    "LOSSES",
    "REDUCTIONS",
    "TASKS",
    "Link",
    "LossFn",
    "LossKind",
    "LossSpec",
    "Param",
    "Reduction",
    "Target",
    "Task",
    "XAxis",
    "curve_inputs",
    "encode_target",
    "get_loss",
    "losses_for",
    "reduce_loss",
]

LOSSES: dict[str, LossSpec] = {s.key: s for s in (*_REGRESSION, *_SEEDED, *_CLASSIFICATION)}

CURVE_CLASSES = 3  # multiclass curves move the true class's logit among this many


def get_loss(key: str) -> LossSpec:
    """The spec for a catalogue key, or for a custom formula written as "expr:<text>"."""
    if isinstance(key, str) and key.startswith(EXPRESSION_PREFIX):
        return _expression_spec(key[len(EXPRESSION_PREFIX) :])
    if key not in LOSSES:
        raise ValueError(
            f"unknown loss {key!r}; allowed: {', '.join(LOSSES)}, or '{EXPRESSION_PREFIX}<formula>'"
        )
    return LOSSES[key]


def _expression_spec(text: str) -> LossSpec:
    try:
        expression = importlib.import_module("explorer.expression")
    except ModuleNotFoundError as err:
        if err.name != "explorer.expression":
            raise
        raise ImportError(
            "custom expression losses need explorer.expression (to_spec), which is missing"
        ) from err
    return expression.to_spec(text)


def losses_for(task: Task) -> list[str]:
    """Catalogue keys whose spec is for this task."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    return [key for key, spec in LOSSES.items() if spec.task == task]


def encode_target(spec: LossSpec, y: torch.Tensor) -> torch.Tensor:
    """Data-set targets (reals, {0,1} floats, class ids) in the encoding spec.fn expects."""
    if spec.target == "class":
        return y.long()
    y = y if y.is_floating_point() else y.to(torch.get_default_dtype())
    if spec.target == "real":
        return y
    positive = y > 0
    if spec.target == "01":
        return positive.to(y.dtype)
    return torch.where(positive, 1.0, -1.0).to(y.dtype)  # pm1


def curve_inputs(spec: LossSpec, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(pred, target) so that spec.fn(pred, target, reduction="none") is L at each x of a 1-D grid.

    residual: ŷ = x, y = 0. margin: ŷ = x, y = +1 (so m = x). probability: p = x, y = 1.
    logit: the true class's logit is x, the others 0. In every case d value/dx = dL/dŷ.
    """
    if spec.x_axis == "logit":
        zeros = torch.zeros_like(x)
        pred = torch.stack([x] + [zeros] * (CURVE_CLASSES - 1), dim=-1)
        return pred, torch.zeros(x.shape, dtype=torch.long, device=x.device)
    if spec.x_axis == "residual":
        return x, torch.zeros_like(x)
    return x, torch.ones_like(x)
