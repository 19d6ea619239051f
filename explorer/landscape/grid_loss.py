"""The loss of a grid of model outputs: (g, N[, K]) outputs, one row a grid point, → L (g,).

A loss whose spec says mean_of_elements takes one reduction="none" call over the whole grid and
a mean over the data; any other is its own "mean" reduction under torch.func.vmap. Outputs the
engine made into its own buffers without autograd may take the loss's in-place form instead
(LossSpec.in_place), which allocates nothing a chunk.
"""

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.func import vmap

from explorer.objective import LINKS, Objective

GridLoss = Callable[..., Tensor]  # (outputs, into=None) -> L (g,), written into `into` if it can


def grid_loss(obj: Objective) -> GridLoss:
    """(outputs (g, N[, K]), into=None) → L (g,), the loss's link, target, weights and
    parameters bound; L is written into `into` (g,) when given and of L's dtype."""
    keywords: dict[str, Any] = dict(obj.params)
    if obj.weights is not None:
        keywords["weights"] = obj.weights
    fn, link, target = obj.fn, LINKS[obj.link], obj.target
    if not obj.mean_of_elements:
        return lambda out, into=None: _vmapped(obj.of_output, out)

    def loss(out: Tensor, into: Tensor | None = None) -> Tensor:  # mean("none") is its "mean"
        rows = fn(link(out), target, reduction="none", **keywords)
        if rows.dim() != 2 or rows.shape != out.shape[:2]:
            raise ValueError(
                f"a loss with mean_of_elements=True gave reduction='none' values of shape "
                f"{tuple(rows.shape)} for outputs {tuple(out.shape)}; its 'none' must keep "
                "leading grid dimensions (or its spec must say mean_of_elements=False)"
            )
        if into is not None and into.dtype == rows.dtype:
            return torch.mean(rows, -1, out=into)
        return rows.mean(-1)

    return loss


def grid_loss_over(obj: Objective, loss: GridLoss) -> GridLoss:
    """The loss (`loss`, grid_loss(obj)) for outputs free to overwrite: the loss's in-place
    form where it has one (LossSpec.in_place: no weights, no parameters, no link) and the
    outputs are (g, N) against a target (N,); else `loss` itself. On the 201² line surface the
    functional r² made two (g, N) tensors a chunk, ~25% of the engine's time."""
    in_place = obj.in_place
    if in_place is None or not obj.mean_of_elements:
        return loss
    if obj.weights is not None or obj.params or obj.link != "identity":
        return loss
    target, shape, dtype = obj.target, obj.target.shape, obj.target.dtype

    def over(out: Tensor, into: Tensor | None = None) -> Tensor:
        if out.shape[1:] != shape or out.dim() != 2 or out.dtype != dtype:
            return loss(out, into)
        rows = in_place(out, target)
        return rows.mean(-1) if into is None else torch.mean(rows, -1, out=into)

    return over


def _vmapped(of_output: Callable[[Tensor], Tensor], out: Tensor) -> Tensor:
    """of_output (the loss's "mean") on each grid row of out, by torch.func.vmap."""
    try:
        return vmap(of_output)(out)
    except RuntimeError as err:
        raise ValueError(
            "this loss neither broadcasts over a leading grid dimension (reduction='none') "
            f"nor runs under torch.func.vmap, so it cannot be batched: {err}"
        ) from err
