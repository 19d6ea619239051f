"""THE loss of the parameters, L(θ): one definition for training, surfaces and Hessians.

L(θ) = fn(link(f_θ(x)), target, reduction="mean", weights=weights, **params), built once from
a Dataset and a LossSpec by `objective()`; the training loop, the batched surface evaluator and
the Hessian's double backward all call it.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor, nn

from explorer.data import Dataset
from explorer.losses import LossSpec, encode_target
from explorer.losses.spec import InPlaceFn, Link, LossFn, Reduction

LINKS: dict[Link, Callable[[Tensor], Tensor]] = {"identity": lambda t: t, "sigmoid": torch.sigmoid}


@dataclass(frozen=True)
class Objective:
    """L(θ) = fn(link(f_θ(x)), target, reduction="mean", weights=weights, **params)."""

    x: Tensor  # (N, d)
    target: Tensor  # (N,) in the encoding fn expects
    fn: LossFn  # fn(pred, target, *, reduction, weights=None, **params)
    link: Link = "identity"  # applied to the model output first
    weights: Tensor | None = None  # (N,) per-sample weights, passed only when not None
    params: dict[str, float] = field(default_factory=dict)
    # the LossSpec's mean_of_elements: mean(fn(..., reduction="none")) is fn(..., "mean"), so a
    # grid of outputs takes one "none" call and a mean over the data; False (the safe default for
    # a hand-built Objective) vmaps the "mean" reduction instead
    mean_of_elements: bool = False
    # the LossSpec's in_place: fn's "none" values written over a scratch buffer of predictions
    # (fn's own form: an Objective given another fn must be given its in_place, or None)
    in_place: InPlaceFn | None = None

    def __post_init__(self) -> None:
        if self.link not in LINKS:
            raise ValueError(f"link must be one of {tuple(LINKS)}, got {self.link!r}")

    def of_output(self, out: Tensor, reduction: Reduction = "mean") -> Tensor:
        """The loss of model output `out` (before the link)."""
        keywords: dict[str, Any] = dict(self.params)  # the loss's parameters, and its weights
        if self.weights is not None:
            keywords["weights"] = self.weights
        return self.fn(LINKS[self.link](out), self.target, reduction=reduction, **keywords)

    def __call__(self, model: nn.Module, index: Tensor | None = None) -> Tensor:
        """The scalar loss of `model` as it is (a plain forward: the reference); with `index`,
        the mean loss on those points only (a mini-batch)."""
        if index is None:
            return self.of_output(model(self.x))
        return self.subset(index).of_output(model(self.x[index]))

    def subset(self, index: Tensor) -> "Objective":
        """The objective on the points `index` (targets and weights sliced alike)."""
        weights = None if self.weights is None else self.weights[index]
        return replace(self, x=self.x[index], target=self.target[index], weights=weights)

    def to(self, device: torch.device | str, dtype: torch.dtype) -> "Objective":
        """Data on `device`; floating tensors in `dtype` (class ids stay integers)."""
        cast = lambda t: t.to(device, dtype if t.is_floating_point() else None)
        weights = None if self.weights is None else cast(self.weights)
        return replace(self, x=cast(self.x), target=cast(self.target), weights=weights)


def objective(data: Dataset, spec: LossSpec, params: Mapping[str, Any] | None = None) -> Objective:
    """The objective of a Dataset and a LossSpec: targets encoded, weights if the spec uses them."""
    return Objective(
        x=data.x,
        target=encode_target(spec, data.y),
        fn=spec.fn,
        link=spec.link,
        weights=data.weights if spec.per_sample_weights else None,
        params=spec.clamp(params),
        mean_of_elements=spec.mean_of_elements,
        in_place=spec.in_place,
    )
