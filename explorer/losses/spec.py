"""What a catalogue entry is (`Param`, `LossSpec`) and the helpers every loss shares."""

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypedDict, get_args

import torch
from torch import Tensor

EXPRESSION_PREFIX = "expr:"  # a loss id "expr:<formula>" is a typed formula, not a catalogue key

Task = Literal["regression", "binary", "multiclass", "segmentation"]
XAxis = Literal["residual", "margin", "probability", "logit"]  # what a loss curve is plotted over
Link = Literal["identity", "sigmoid"]  # applied to the model output before the loss
Target = Literal["real", "01", "pm1", "class"]  # the target encoding the loss expects
Reduction = Literal["none", "mean", "sum"]

TASKS: tuple[Task, ...] = get_args(Task)
X_AXES: tuple[XAxis, ...] = get_args(XAxis)
LINKS: tuple[Link, ...] = get_args(Link)
TARGETS: tuple[Target, ...] = get_args(Target)
REDUCTIONS: tuple[Reduction, ...] = get_args(Reduction)


class LossKind(TypedDict):
    """The four LossSpec fields that say what a loss is of, shared by a family of losses."""

    task: Task
    x_axis: XAxis
    link: Link
    target: Target


# the fields most regression losses share: a function of the residual r = ŷ − y
REGRESSION: LossKind = {
    "task": "regression",
    "x_axis": "residual",
    "link": "identity",
    "target": "real",
}


class LossFn(Protocol):
    """A catalogue loss: `fn(pred, target, *, reduction="mean", weights=None, **params) -> Tensor`.

    `weights` are per-sample weights (N,), or None; `**params` are the loss's own numeric
    parameters (its LossSpec's `params`), each a keyword-only argument with a default. They differ
    from loss to loss, so the protocol names none: a function with this head and any keyword-only
    parameters with defaults is a LossFn. A caller passing `**params` should pass `weights` by
    name too (or splat a mapping typed `dict[str, Any]`), so the checker knows the splat cannot
    fill `weights`.
    """

    def __call__(
        self,
        pred: Tensor,
        target: Tensor,
        /,
        *,
        reduction: Reduction = "mean",
        weights: Tensor | None = None,
    ) -> Tensor: ...


class InPlaceFn(Protocol):
    """A loss's per-element values written over its predictions: `in_place(pred, target)`
    returns fn(pred, target, reduction="none") (no weights, a loss without parameters),
    computed in pred's own memory, which it overwrites. For a caller whose predictions are a scratch buffer
    of its own (the surface engine's chunk outputs): it allocates nothing a chunk, where the
    functional form makes a new (g, N) tensor for every operation."""

    def __call__(self, pred: Tensor, target: Tensor, /) -> Tensor: ...


@dataclass(frozen=True)
class Param:
    """One numeric loss parameter: its default, range, widget step and a one-line help."""

    name: str
    default: float
    min: float
    max: float
    step: float
    help: str

    def clamp(self, value: Any) -> float:
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
    task: Task
    x_axis: XAxis
    link: Link
    target: Target
    fn: LossFn
    source: str
    notes: str
    # whether fn(reduction="none") gives per-element values whose plain mean is
    # fn(reduction="mean"), with the same weights and parameters, for every input: true of losses
    # averaged element by element (squared error, BCE, hinge, ...), false of a set-level loss
    # (Dice) or a weighted mean Σwℓ/Σw (class-weighted CE). The batched surface relies on it:
    # true takes one "none" call over a leading grid dimension and its mean, false vmaps "mean".
    # Such a loss's "none" must also broadcast over leading dimensions of pred.
    mean_of_elements: bool
    per_sample_weights: bool = False
    reference: LossFn | None = None  # an independent implementation the tests compare fn with
    in_place: InPlaceFn | None = None  # fn's "none" values written over pred, where it has one

    def __post_init__(self) -> None:
        # Literal annotations are not checked at run time
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

    def clamp(self, params: Mapping[str, Any] | None = None) -> dict[str, float]:
        """Every parameter of this loss, from params where valid, clamped; unknown keys dropped."""
        params = params or {}
        return {p.name: p.clamp(params.get(p.name)) for p in self.params}


def reduce_loss(values: Tensor, reduction: Reduction) -> Tensor:
    """Reduce per-element loss values: "none" keeps them, "mean" averages, "sum" adds."""
    if reduction == "none":
        return values
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def check_broadcast(pred: Tensor, other: Tensor, what: str) -> None:
    """Raise unless `other` broadcasts against pred without growing it ((N,1) with (N,) -> N×N)."""
    p, o = pred.shape, other.shape
    if len(o) <= len(p) and all(b in (1, a) for a, b in zip(p[len(p) - len(o) :], o, strict=True)):
        return  # every dim of other is 1 or pred's: the common case, without torch's slow check
    if torch.broadcast_shapes(p, o) != p:  # RuntimeError when they do not broadcast at all
        raise ValueError(
            f"{what} of shape {tuple(other.shape)} would broadcast pred of shape "
            f"{tuple(pred.shape)} into {tuple(torch.broadcast_shapes(pred.shape, other.shape))}; "
            "give pred and target the same shape, e.g. (N,)"
        )


def residual(pred: Tensor, target: Tensor) -> Tensor:
    """r = ŷ − y, after checking the shapes cannot silently broadcast."""
    check_broadcast(pred, target, "target")
    return pred - target


def sample_weights(weights: Tensor | None, like: Tensor) -> Tensor:
    """Per-sample weights in like's dtype and device; None means all ones."""
    if weights is None:
        return torch.ones_like(like)
    check_broadcast(like, weights, "weights")
    return weights.to(like)


def torch_twin(builtin: Callable[..., Tensor]) -> LossFn:
    """Adapt a torch.nn.functional loss to the catalogue signature (the tests' reference)."""

    def twin(
        pred: Tensor,
        target: Tensor,
        *,
        reduction: Reduction = "mean",
        weights: Tensor | None = None,
        **params: float,
    ) -> Tensor:
        return builtin(pred, target, reduction=reduction, **params)

    twin.__name__ = f"torch_{builtin.__name__}"
    return twin
