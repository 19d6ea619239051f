"""What a catalogue entry is (`Param`, `LossSpec`) and the helpers every loss shares."""

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

TASKS = ("regression", "binary", "multiclass", "segmentation")
X_AXES = ("residual", "margin", "probability", "logit")
LINKS = ("identity", "sigmoid")
TARGETS = ("real", "01", "pm1", "class")
REDUCTIONS = ("none", "mean", "sum")

# the fields most regression losses share: a function of the residual r = ŷ − y
REGRESSION = {"task": "regression", "x_axis": "residual", "link": "identity", "target": "real"}


@dataclass(frozen=True)
class Param:
    """One numeric loss parameter: its default, range, widget step and a one-line help."""

    name: str
    default: float
    min: float
    max: float
    step: float
    help: str

    def clamp(self, value) -> float:
        """value as a float inside [min, max]; missing, non-numeric or NaN -> default."""
        try:
            v = float(value)
        except (TypeError, ValueError):
            return self.default
        return self.default if math.isnan(v) else min(max(v, self.min), self.max)


@dataclass(frozen=True)
class LossSpec:
    """A catalogue entry: the loss function and everything a page needs to show it."""

    key: str
    name: str
    formula: str  # LaTeX, no $ delimiters
    params: tuple[Param, ...]
    task: str
    x_axis: str
    link: str
    target: str
    fn: Callable
    source: str
    notes: str
    per_sample_weights: bool = False
    reference: Callable | None = None

    def __post_init__(self):
        for field, allowed in (
            ("task", TASKS),
            ("x_axis", X_AXES),
            ("link", LINKS),
            ("target", TARGETS),
        ):
            if getattr(self, field) not in allowed:
                raise ValueError(f"{self.key}: {field} must be one of {allowed}")

    def defaults(self) -> dict[str, float]:
        """Parameter name -> default value."""
        return {p.name: p.default for p in self.params}

    def clamp(self, params: Mapping | None = None) -> dict[str, float]:
        """Every parameter of this loss, from params where valid, clamped; unknown keys dropped."""
        params = params or {}
        return {p.name: p.clamp(params.get(p.name)) for p in self.params}


def reduce_loss(values: torch.Tensor, reduction: str) -> torch.Tensor:
    """Reduce per-element loss values: "none" keeps them, "mean" averages, "sum" adds."""
    if reduction == "none":
        return values
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def check_broadcast(pred: torch.Tensor, other: torch.Tensor, what: str) -> None:
    """Raise unless `other` broadcasts against pred without growing it ((N,1) with (N,) -> N×N)."""
    if torch.broadcast_shapes(pred.shape, other.shape) != pred.shape:
        raise ValueError(
            f"{what} of shape {tuple(other.shape)} would broadcast pred of shape "
            f"{tuple(pred.shape)} into {tuple(torch.broadcast_shapes(pred.shape, other.shape))}; "
            "give pred and target the same shape, e.g. (N,)"
        )


def residual(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """r = ŷ − y, after checking the shapes cannot silently broadcast."""
    check_broadcast(pred, target, "target")
    return pred - target


def sample_weights(weights: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    """Per-sample weights in like's dtype and device; None means all ones."""
    if weights is None:
        return torch.ones_like(like)
    check_broadcast(like, weights, "weights")
    return weights.to(like)


def torch_twin(builtin: Callable) -> Callable:
    """Adapt a torch.nn.functional loss to the catalogue signature (the tests' reference)."""

    def twin(pred, target, *, reduction="mean", weights=None, **params):
        return builtin(pred, target, reduction=reduction, **params)

    twin.__name__ = f"torch_{builtin.__name__}"
    return twin
