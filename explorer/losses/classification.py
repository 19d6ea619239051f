"""Classification and segmentation losses: of logits, margins m = y·ŷ, or probabilities."""

import torch
import torch.nn.functional as F
from torch import Tensor

from .spec import LossKind, LossSpec, Param, Reduction, check_broadcast, reduce_loss, torch_twin

BINARY_01: LossKind = {"task": "binary", "x_axis": "margin", "link": "identity", "target": "01"}
BINARY_PM1: LossKind = {**BINARY_01, "target": "pm1"}
MULTICLASS: LossKind = {
    "task": "multiclass",
    "x_axis": "logit",
    "link": "identity",
    "target": "class",
}


def _margin(pred: Tensor, target: Tensor) -> Tensor:
    check_broadcast(pred, target, "target")
    return target * pred


def bce_logits(
    pred: Tensor, target: Tensor, *, reduction: Reduction = "mean", weights: Tensor | None = None
) -> Tensor:
    """Binary cross-entropy on logits: log(1 + e^ŷ) − yŷ = log(1 + e^(−m)) for y ∈ {0, 1}."""
    check_broadcast(pred, target, "target")
    return reduce_loss(F.softplus(pred) - pred * target, reduction)


def focal(
    pred: Tensor,
    target: Tensor,
    *,
    reduction: Reduction = "mean",
    weights: Tensor | None = None,
    gamma: float = 2.0,
    alpha: float = 0.25,
) -> Tensor:
    """Focal loss on logits: −α_t (1 − p_t)^γ log p_t, with (1 − p_t)^γ = exp(γ log σ(−m))."""
    check_broadcast(pred, target, "target")
    nll = F.softplus(pred) - pred * target  # −log p_t
    modulation = torch.exp(gamma * F.logsigmoid(-(2 * target - 1) * pred))
    alpha_t = alpha * target + (1 - alpha) * (1 - target)
    return reduce_loss(alpha_t * modulation * nll, reduction)


def hinge(
    pred: Tensor,
    target: Tensor,
    *,
    reduction: Reduction = "mean",
    weights: Tensor | None = None,
    margin: float = 0.5,
) -> Tensor:
    """Hinge with an extra margin: max(0, 1 − yŷ + margin), y ∈ {−1, +1}."""
    return reduce_loss(F.relu(1 + margin - _margin(pred, target)), reduction)


def zero_one(
    pred: Tensor, target: Tensor, *, reduction: Reduction = "mean", weights: Tensor | None = None
) -> Tensor:
    """0-1 loss: step(−yŷ) = ½(1 − sign(yŷ)); ½ on the boundary; autograd gives exact zeros."""
    return reduce_loss(0.5 * (1 - torch.sign(_margin(pred, target))), reduction)


def sigmoid_margin(
    pred: Tensor,
    target: Tensor,
    *,
    reduction: Reduction = "mean",
    weights: Tensor | None = None,
    k: float = 5.0,
) -> Tensor:
    """Sigmoid of the negative margin: σ(−k·yŷ), which tends to the 0-1 loss as k grows."""
    return reduce_loss(torch.sigmoid(-k * _margin(pred, target)), reduction)


def dice(
    pred: Tensor,
    target: Tensor,
    *,
    reduction: Reduction = "mean",
    weights: Tensor | None = None,
    smooth: float = 1.0,
) -> Tensor:
    """Soft Dice of probabilities: 1 − (2Σpy + s)/(Σp + Σy + s).

    "mean" is that set-level Dice, "sum" is it times the number of elements (so sum = N·mean),
    "none" the per-element Dice 1 − (2pᵢyᵢ + s)/(pᵢ + yᵢ + s).
    """
    check_broadcast(pred, target, "target")
    if reduction == "none":
        return 1 - (2 * pred * target + smooth) / (pred + target + smooth)
    overlap = 2 * (pred * target).sum() + smooth
    total = pred.sum() + target.expand_as(pred).sum() + smooth
    return reduce_loss((1 - overlap / total).expand_as(pred), reduction)


def _class_nll(
    pred: Tensor, target: Tensor, class_weights: Tensor | None, reduction: Reduction
) -> Tensor:
    """−w_y log softmax(ŷ)_y; "mean" divides by Σ w_y as torch's cross_entropy does.

    Logits may carry leading dimensions the class ids lack ((G, N, K) with (N,)): the ids are
    shared along them, as a grid of parameter vectors needs.
    """
    batch = pred.shape[:-1]
    shared = target.ndim > 0 and batch[-target.ndim :] == target.shape
    if pred.ndim < 1 or not (target.shape == batch or shared):
        raise ValueError(
            f"cross-entropy needs logits (N, K) and class ids (N,), got "
            f"{tuple(pred.shape)} and {tuple(target.shape)}"
        )
    target = target.expand(batch)
    logp = F.log_softmax(pred, dim=-1).gather(-1, target.unsqueeze(-1)).squeeze(-1)
    w = torch.ones_like(logp) if class_weights is None else class_weights[target]
    if reduction == "mean":
        return -(w * logp).sum() / w.sum()
    return reduce_loss(-w * logp, reduction)


def cross_entropy(
    pred: Tensor, target: Tensor, *, reduction: Reduction = "mean", weights: Tensor | None = None
) -> Tensor:
    """Cross-entropy of logits (N, K) and class ids (N,): −log softmax(ŷ)_y."""
    return _class_nll(pred, target, None, reduction)


def _class_weights(pred: Tensor, w0: float, w1: float, w2: float) -> Tensor:
    if pred.shape[-1] != 3:
        raise ValueError(
            f"weighted_ce has one weight per class for 3 classes, got {pred.shape[-1]}"
        )
    return pred.new_tensor([w0, w1, w2])


def weighted_ce(
    pred: Tensor,
    target: Tensor,
    *,
    reduction: Reduction = "mean",
    weights: Tensor | None = None,
    w0: float = 1.0,
    w1: float = 1.0,
    w2: float = 1.0,
) -> Tensor:
    """Class-weighted cross-entropy: −w_y log softmax(ŷ)_y; mean = Σ w_y ℓ / Σ w_y."""
    return _class_nll(pred, target, _class_weights(pred, w0, w1, w2), reduction)


def _weighted_ce_twin(
    pred: Tensor,
    target: Tensor,
    *,
    reduction: Reduction = "mean",
    weights: Tensor | None = None,
    w0: float = 1.0,
    w1: float = 1.0,
    w2: float = 1.0,
) -> Tensor:
    weight = _class_weights(pred, w0, w1, w2)
    return F.cross_entropy(pred, target, weight=weight, reduction=reduction)


def _hinge_twin(
    pred: Tensor,
    target: Tensor,
    *,
    reduction: Reduction = "mean",
    weights: Tensor | None = None,
    margin: float = 0.5,
) -> Tensor:
    zero = torch.zeros_like(pred)
    return F.margin_ranking_loss(pred, zero, target, margin=1 + margin, reduction=reduction)


def _class_weight_param(c: int) -> Param:
    return Param(f"w{c}", 1.0, 0.05, 10.0, 0.05, f"weight of class {c}")


SPECS = (
    LossSpec(
        key="bce_logits",
        name="Binary cross-entropy (logits)",
        formula=r"\log(1+e^{\hat y}) - y\hat y = \log(1+e^{-m})",
        params=(),
        **BINARY_01,
        fn=bce_logits,
        mean_of_elements=True,
        source="standard",
        notes="Never exactly zero: even well-classified points keep a small gradient.",
        reference=torch_twin(F.binary_cross_entropy_with_logits),
    ),
    LossSpec(
        key="focal",
        name="Focal loss",
        formula=r"-\alpha_t\,(1-p_t)^{\gamma}\,\log p_t",
        params=(
            Param("gamma", 2.0, 0.0, 5.0, 0.1, "focusing: how much easy examples are damped"),
            Param("alpha", 0.25, 0.0, 1.0, 0.05, "weight of the positive class"),
        ),
        **BINARY_01,
        fn=focal,
        mean_of_elements=True,
        source="standard",
        notes="Cross-entropy damped by (1 − p_t)^γ: confident correct points barely count.",
    ),
    LossSpec(
        key="hinge",
        name="Hinge with margin",
        formula=r"\max(0,\;1 - y\hat y + \text{margin})",
        params=(Param("margin", 0.5, 0.0, 3.0, 0.05, "extra margin beyond 1"),),
        **BINARY_PM1,
        fn=hinge,
        mean_of_elements=True,
        source="seed 003 · HingeLossMargin",
        notes="Exactly zero (and zero gradient) once y·ŷ ≥ 1 + margin; slope −1 below.",
        reference=_hinge_twin,
    ),
    LossSpec(
        key="zero_one",
        name="0-1 loss",
        formula=r"\operatorname{step}(-y\hat y)",
        params=(),
        **BINARY_PM1,
        fn=zero_one,
        mean_of_elements=True,
        source="classic",
        notes="Counts mistakes. Its gradient is zero wherever it exists: training cannot move.",
    ),
    LossSpec(
        key="sigmoid_margin",
        name="Sigmoid margin",
        formula=r"\sigma(-k\,y\hat y)",
        params=(Param("k", 5.0, 0.1, 100.0, 0.1, "steepness; large k approaches the 0-1 loss"),),
        **BINARY_PM1,
        fn=sigmoid_margin,
        mean_of_elements=True,
        source="classic",
        notes="A smooth 0-1 loss: it passes a gradient, concentrated near the boundary as k grows.",
    ),
    LossSpec(
        key="dice",
        name="Soft Dice",
        formula=r"1-\frac{2\sum p\,y + s}{\sum p + \sum y + s}",
        params=(Param("smooth", 1.0, 1e-6, 10.0, 0.1, "smoothing s (the seed uses 1e-6)"),),
        task="segmentation",
        x_axis="probability",
        link="sigmoid",
        target="01",
        fn=dice,
        mean_of_elements=False,  # one Dice of the whole set, not a mean of per-element Dice
        source="seed 001 · DiceLoss",
        notes="Takes probabilities (sigmoid of the output). One number for the whole mask; "
        "the curve shows the per-element Dice.",
    ),
    LossSpec(
        key="cross_entropy",
        name="Cross-entropy",
        formula=r"-\log\operatorname{softmax}(\hat y)_y",
        params=(),
        **MULTICLASS,
        fn=cross_entropy,
        mean_of_elements=True,
        source="standard",
        notes="The curve moves the true class's logit with the other logits at 0.",
        reference=torch_twin(F.cross_entropy),
    ),
    LossSpec(
        key="weighted_ce",
        name="Class-weighted cross-entropy",
        formula=r"-w_y\log\operatorname{softmax}(\hat y)_y",
        params=tuple(_class_weight_param(c) for c in range(3)),
        **MULTICLASS,
        fn=weighted_ce,
        mean_of_elements=False,  # Σ w_y ℓ / Σ w_y, not the plain mean of w_y ℓ
        source="seed 002 · WeightedCrossEntropyLoss (fixed)",
        notes="One weight per class, passed as weight= of length C. The seed passed per-sample "
        "weights there, which raises.",
        reference=_weighted_ce_twin,
    ),
)
