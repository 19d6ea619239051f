"""Regression losses taken from the seed articles (bugs fixed; the bugs live in the tests)."""

import torch
from torch import Tensor

from ..functions import HandGradWeightedSE, Sin2
from .spec import (
    REGRESSION,
    LossSpec,
    Param,
    Reduction,
    check_broadcast,
    reduce_loss,
    residual,
    sample_weights,
)


def scaled_mse(
    pred: Tensor,
    target: Tensor,
    *,
    reduction: Reduction = "mean",
    weights: Tensor | None = None,
    scale_factor: float = 2.0,
) -> Tensor:
    """Scaled MSE: r², multiplied by s where |r| > 1."""
    r = residual(pred, target)
    return reduce_loss(torch.where(r.abs() > 1, scale_factor * r**2, r**2), reduction)


def soft_threshold(
    pred: Tensor,
    target: Tensor,
    *,
    reduction: Reduction = "mean",
    weights: Tensor | None = None,
    k: float = 20.0,
    t: float = 1.0,
) -> Tensor:
    """Sigmoid-masked squared error: sigmoid(k(t − |r|))·r²."""
    r = residual(pred, target)
    return reduce_loss(torch.sigmoid(k * (t - r.abs())) * r**2, reduction)


def hard_threshold(
    pred: Tensor,
    target: Tensor,
    *,
    reduction: Reduction = "mean",
    weights: Tensor | None = None,
    t: float = 1.0,
) -> Tensor:
    """Hard-masked squared error: [|r| < t]·r² (the mask itself carries no gradient)."""
    r = residual(pred, target)
    return reduce_loss((r.abs() < t).to(r.dtype) * r**2, reduction)


def weighted_mse(
    pred: Tensor, target: Tensor, *, reduction: Reduction = "mean", weights: Tensor | None = None
) -> Tensor:
    """Per-sample weighted squared error: wᵢ·rᵢ², weights (N,) against residuals (N,)."""
    r = residual(pred, target)
    return reduce_loss(sample_weights(weights, r) * r**2, reduction)


def hand_grad_weighted_se(
    pred: Tensor, target: Tensor, *, reduction: Reduction = "mean", weights: Tensor | None = None
) -> Tensor:
    """wᵢ·(yᵢ − ŷᵢ)² through `HandGradWeightedSE`, whose backward is hand-written: −2w(y − ŷ)."""
    check_broadcast(pred, target, "target")
    w = sample_weights(weights, pred)
    return reduce_loss(HandGradWeightedSE.apply(pred, target.to(pred), w), reduction)


def sin2_function(
    pred: Tensor, target: Tensor, *, reduction: Reduction = "mean", weights: Tensor | None = None
) -> Tensor:
    """Sin2(r/2)² = 4 sin²(r/2) = 2(1 − cos r), through the `Sin2` autograd.Function."""
    r = residual(pred, target)
    return reduce_loss(Sin2.apply(0.5 * r) ** 2, reduction)


def proxy_round(
    pred: Tensor, target: Tensor, *, reduction: Reduction = "mean", weights: Tensor | None = None
) -> Tensor:
    """Seed 002 ProxyLoss, fixed: |r| + ½|ŷ − round ŷ| per element, so the mean is a scalar."""
    r = residual(pred, target)
    return reduce_loss(r.abs() + 0.5 * (pred - torch.round(pred)).abs(), reduction)


def sigmoid_weighted_abs(
    pred: Tensor, target: Tensor, *, reduction: Reduction = "mean", weights: Tensor | None = None
) -> Tensor:
    """Absolute error weighted by its own sigmoid: sigmoid(|r|)·|r|."""
    a = residual(pred, target).abs()
    return reduce_loss(torch.sigmoid(a) * a, reduction)


_T = Param("t", 1.0, 0.1, 5.0, 0.05, "threshold on |r|")

SPECS = (
    LossSpec(
        key="scaled_mse",
        name="Scaled MSE",
        formula=r"r^2\cdot\begin{cases}s & |r|>1\\ 1 & |r|\le 1\end{cases}",
        params=(Param("scale_factor", 2.0, 0.1, 10.0, 0.1, "multiplier for |r| > 1"),),
        **REGRESSION,
        fn=scaled_mse,
        mean_of_elements=True,
        source="seed 000 · ScaledMSELoss",
        notes="The loss jumps at |r| = 1 (for s ≠ 1); its gradient jumps from 2r to 2sr there.",
    ),
    LossSpec(
        key="soft_threshold",
        name="Soft threshold (sigmoid mask)",
        formula=r"\sigma\bigl(k(t-|r|)\bigr)\,r^2",
        params=(Param("k", 20.0, 0.5, 100.0, 0.5, "steepness of the sigmoid mask"), _T),
        **REGRESSION,
        fn=soft_threshold,
        mean_of_elements=True,
        source="seed 000 · ThresholdedLoss",
        notes="At |r| = t the gradient is (t − k t²/4)·sign r: for k = 20, t = 1 it is −4·sign r, "
        "so gradient descent pushes residuals near the threshold outwards.",
    ),
    LossSpec(
        key="hard_threshold",
        name="Hard threshold (0/1 mask)",
        formula=r"[\,|r|<t\,]\;r^2",
        params=(_T,),
        **REGRESSION,
        fn=hard_threshold,
        mean_of_elements=True,
        source="seed 000 · hard cut-off",
        notes="The mask has zero gradient wherever it exists: inside, the gradient is 2r; "
        "outside, zero — nothing tells the model where the threshold is.",
    ),
    LossSpec(
        key="weighted_mse",
        name="Weighted MSE (per sample)",
        formula=r"w_i\,r_i^2",
        params=(),
        **REGRESSION,
        fn=weighted_mse,
        mean_of_elements=True,
        source="seed 003 · WeightedMSE (fixed)",
        notes="Weights (N,) against residuals (N,). The seed's residuals were (N,1): "
        "broadcasting built an N×N matrix.",
        per_sample_weights=True,
    ),
    LossSpec(
        key="hand_grad_weighted_se",
        name="Weighted squared error, hand-written gradient",
        formula=r"w_i\,(y_i-\hat y_i)^2,\quad \partial/\partial\hat y_i = -2w_i(y_i-\hat y_i)",
        params=(),
        **REGRESSION,
        fn=hand_grad_weighted_se,
        mean_of_elements=True,
        source="seed 001 · custom_loss_gradient",
        notes="Same values as weighted MSE, but autograd calls the seed's hand-written "
        "gradient inside a torch.autograd.Function.",
        per_sample_weights=True,
        reference=weighted_mse,
    ),
    LossSpec(
        key="sin2_function",
        name="Sin2 Function loss",
        formula=r"\bigl(2\sin\tfrac r2\bigr)^2 = 2(1-\cos r)",
        params=(),
        **REGRESSION,
        fn=sin2_function,
        mean_of_elements=True,
        source="seed 002 · MyCustomFunction",
        notes="Built on the Sin2 autograd.Function: like r² near 0, bounded by 4, and periodic — "
        "a residual of 2π costs nothing.",
    ),
    LossSpec(
        key="proxy_round",
        name="Round proxy (fixed ProxyLoss)",
        formula=r"|r| + \tfrac12\,|\hat y-\operatorname{round}\hat y|",
        params=(),
        **REGRESSION,
        fn=proxy_round,
        mean_of_elements=True,
        source="seed 002 · ProxyLoss (fixed)",
        notes="The seed added a scalar L1 to a per-element penalty, so backward() raised; here "
        "the penalty is averaged. round() has zero gradient; the penalty still pulls ŷ to integers.",
    ),
    LossSpec(
        key="sigmoid_weighted_abs",
        name="Sigmoid-weighted absolute error",
        formula=r"\sigma(|r|)\,|r|",
        params=(),
        **REGRESSION,
        fn=sigmoid_weighted_abs,
        mean_of_elements=True,
        source="seed 003 · CustomLoss",
        notes="Between ½|r| near 0 and |r| far away; the gradient jumps by 1 across r = 0.",
    ),
)
