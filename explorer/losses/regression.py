"""Standard regression losses of the residual r = ŷ − y."""

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .spec import (
    REGRESSION,
    LossSpec,
    Param,
    Reduction,
    reduce_loss,
    residual,
    torch_twin,
)


def mse(
    pred: Tensor, target: Tensor, *, reduction: Reduction = "mean", weights: Tensor | None = None
) -> Tensor:
    """Squared error: r²."""
    return reduce_loss(residual(pred, target) ** 2, reduction)


def mae(
    pred: Tensor, target: Tensor, *, reduction: Reduction = "mean", weights: Tensor | None = None
) -> Tensor:
    """Absolute error: |r|."""
    return reduce_loss(residual(pred, target).abs(), reduction)


def squared_in_place(pred: Tensor, target: Tensor, /) -> Tensor:
    """mse's r² per element, written over pred (in place, pred cannot grow: a target that would
    broadcast it larger raises)."""
    return pred.sub_(target).square_()


def absolute_in_place(pred: Tensor, target: Tensor, /) -> Tensor:
    """mae's |r| per element, written over pred (in place, pred cannot grow)."""
    return pred.sub_(target).abs_()


def huber(
    pred: Tensor,
    target: Tensor,
    *,
    reduction: Reduction = "mean",
    weights: Tensor | None = None,
    delta: float = 1.0,
) -> Tensor:
    """Huber: ½r² for |r| ≤ δ, δ(|r| − ½δ) beyond."""
    a = residual(pred, target).abs()
    return reduce_loss(torch.where(a <= delta, 0.5 * a**2, delta * (a - 0.5 * delta)), reduction)


def smooth_l1(
    pred: Tensor,
    target: Tensor,
    *,
    reduction: Reduction = "mean",
    weights: Tensor | None = None,
    beta: float = 1.0,
) -> Tensor:
    """Smooth L1: ½r²/β for |r| < β, |r| − ½β beyond (Huber divided by β)."""
    a = residual(pred, target).abs()
    return reduce_loss(torch.where(a < beta, 0.5 * a**2 / beta, a - 0.5 * beta), reduction)


def log_cosh(
    pred: Tensor, target: Tensor, *, reduction: Reduction = "mean", weights: Tensor | None = None
) -> Tensor:
    """log cosh r, computed stably as |r| + softplus(−2|r|) − log 2."""
    a = residual(pred, target).abs()
    return reduce_loss(a + F.softplus(-2 * a) - math.log(2.0), reduction)


def quantile(
    pred: Tensor,
    target: Tensor,
    *,
    reduction: Reduction = "mean",
    weights: Tensor | None = None,
    tau: float = 0.5,
) -> Tensor:
    """Pinball loss of the τ-quantile: max(τ(y − ŷ), (τ − 1)(y − ŷ)) = max(−τr, (1 − τ)r)."""
    r = residual(pred, target)
    return reduce_loss(torch.maximum(-tau * r, (1 - tau) * r), reduction)


SPECS = (
    LossSpec(
        key="mse",
        name="Mean squared error",
        formula=r"r^2,\quad r = \hat y - y",
        params=(),
        **REGRESSION,
        fn=mse,
        mean_of_elements=True,
        source="standard",
        notes="Gradient 2r grows with the residual, so outliers dominate.",
        reference=torch_twin(F.mse_loss),
        in_place=squared_in_place,
    ),
    LossSpec(
        key="mae",
        name="Mean absolute error (L1)",
        formula=r"|r|",
        params=(),
        **REGRESSION,
        fn=mae,
        mean_of_elements=True,
        source="standard",
        notes="Gradient ±1 whatever the residual: robust to outliers, no slowing down near 0.",
        reference=torch_twin(F.l1_loss),
        in_place=absolute_in_place,
    ),
    LossSpec(
        key="huber",
        name="Huber",
        formula=r"\begin{cases}\tfrac12 r^2 & |r|\le\delta\\ "
        r"\delta(|r|-\tfrac12\delta) & |r|>\delta\end{cases}",
        params=(Param("delta", 1.0, 0.05, 5.0, 0.05, "where the quadratic part turns linear"),),
        **REGRESSION,
        fn=huber,
        mean_of_elements=True,
        source="seed 001 · huber_loss (TensorFlow)",
        notes="Quadratic near zero, linear beyond δ: the gradient is clipped at ±δ.",
        reference=torch_twin(F.huber_loss),
    ),
    LossSpec(
        key="smooth_l1",
        name="Smooth L1",
        formula=r"\begin{cases}\tfrac{r^2}{2\beta} & |r|<\beta\\ "
        r"|r|-\tfrac12\beta & |r|\ge\beta\end{cases}",
        params=(Param("beta", 1.0, 0.05, 5.0, 0.05, "width of the quadratic zone"),),
        **REGRESSION,
        fn=smooth_l1,
        mean_of_elements=True,
        source="standard",
        notes="Huber divided by β: the gradient saturates at ±1 instead of ±δ.",
        reference=torch_twin(F.smooth_l1_loss),
    ),
    LossSpec(
        key="log_cosh",
        name="Log-cosh",
        formula=r"\log\cosh r",
        params=(),
        **REGRESSION,
        fn=log_cosh,
        mean_of_elements=True,
        source="standard",
        notes="Like r²/2 near zero and |r| − log 2 far away; its gradient is tanh r.",
    ),
    LossSpec(
        key="quantile",
        name="Quantile (pinball)",
        formula=r"\max\bigl(\tau(y-\hat y),\,(\tau-1)(y-\hat y)\bigr)",
        params=(Param("tau", 0.5, 0.01, 0.99, 0.01, "the quantile the model is pushed to"),),
        **REGRESSION,
        fn=quantile,
        mean_of_elements=True,
        source="standard",
        notes="Under-prediction costs τ per unit, over-prediction 1 − τ; τ = ½ is half the L1.",
    ),
)
