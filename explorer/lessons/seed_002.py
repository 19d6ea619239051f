"""Seed 002, "How can custom PyTorch loss functions be implemented with calculations outside
the computational graph?": per-sample class weights, features outside the graph, a vector loss.

The article's code and text quoted verbatim, its code as real Python beside our fixes, the live
runs of both, and the lessons.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from explorer.doctor import diagnose_callable
from explorer.lessons.kit import (
    LessonResult,
    bars,
    caught,
    descend,
    grad_of,
    grad_text,
    history,
    mlp_net,
    quoted_lesson,
    seeded,
    shape,
    table,
)
from explorer.models import make_model

SEED_ID = "002"

_WEIGHTED_CE = """\
class WeightedCrossEntropyLoss(torch.nn.Module):
    def __init__(self, weights):
        super(WeightedCrossEntropyLoss, self).__init__()
        self.weights = torch.tensor(weights, dtype=torch.float32) # Weights are pre-computed

    def forward(self, inputs, targets):
        with torch.no_grad():
            weighted_targets = self.weights[targets] # Weights are accessed outside the graph
        loss = F.cross_entropy(inputs, targets, weight=weighted_targets) # But integrated into the loss
        return loss
"""

_WEIGHTED_CE_USAGE = """\
weights = [0.1, 0.9, 0.5] # Example class weights
criterion = WeightedCrossEntropyLoss(weights)
inputs = torch.randn(10, 3)
targets = torch.randint(0, 3, (10,))
loss = criterion(inputs, targets)
"""

_DETACH_TEXT = """\
However, if a calculation uses tensors that are detached from this graph – for instance, via `.detach()` – the subsequent gradient calculations for those tensors become unavailable.
"""

_PRECOMPUTED_TEXT = """\
attempts to incorporate pre-computed statistics outside the graph resulted in vanishing gradients and non-convergent training.
"""

_PROXY_INIT = """\
class ProxyLoss(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.l1_loss = torch.nn.L1Loss() # Smooth approximation for non-differentiable parts
"""

_PROXY_FORWARD = """\
      loss = self.l1_loss(input, target) + 0.5 * torch.abs(input - external_result) #penalty to encourage similarity

      return loss
"""

_PROXY_USAGE = """\
loss = proxy_loss(inputs, targets)
loss.backward() #Gradients propagated, though approximate
"""

CLASS_WEIGHTS = [0.1, 0.9, 0.5]  # the article's example class weights


class WeightedCrossEntropyLoss(nn.Module):
    """Seed 002: per-sample weights self.weights[targets] passed as the per-class `weight=`."""

    def __init__(self, weights):
        super().__init__()
        self.weights = torch.tensor(weights, dtype=torch.float32)

    def forward(self, inputs, targets):
        with torch.no_grad():
            weighted_targets = self.weights[targets]
        return F.cross_entropy(inputs, targets, weight=weighted_targets)


class WeightedCrossEntropyLossFixed(nn.Module):
    """One weight per class, as `weight=` expects (the same as weighting each sample by its class)."""

    def __init__(self, weights):
        super().__init__()
        self.register_buffer("weights", torch.as_tensor(weights, dtype=torch.float32))

    def forward(self, inputs, targets):
        return F.cross_entropy(inputs, targets, weight=self.weights.to(inputs.dtype))


class ProxyLoss(nn.Module):
    """Seed 002: an L1 scalar plus an unreduced penalty: the sum is a vector."""

    def __init__(self):
        super().__init__()
        self.l1_loss = nn.L1Loss()

    def forward(self, input, target):
        external_result = self.non_differentiable_func(input)
        return self.l1_loss(input, target) + 0.5 * torch.abs(input - external_result)

    def non_differentiable_func(self, x):
        return torch.round(x)


class ProxyLossFixed(ProxyLoss):
    """The penalty reduced to a scalar with .mean()."""

    def forward(self, input, target):
        external_result = self.non_differentiable_func(input)
        return self.l1_loss(input, target) + 0.5 * torch.abs(input - external_result).mean()


def no_grad_features_forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Seed 002's pitfall in a model: features computed outside the graph (torch.no_grad)."""
    *body, head = mlp_net(model)  # an explorer MLP: Squeeze(Sequential(Linear, act, Linear))
    with torch.no_grad():
        h = nn.Sequential(*body)(x)
    return head(h).squeeze(-1)


def features_forward_fixed(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The same forward with the features inside the graph."""
    *body, head = mlp_net(model)
    return head(nn.Sequential(*body)(x)).squeeze(-1)


@seeded
def run_weighted_ce_per_sample() -> LessonResult:
    inputs, targets = torch.randn(10, 3), torch.randint(0, 3, (10,))
    _, error = caught(lambda: WeightedCrossEntropyLoss(CLASS_WEIGHTS)(inputs, targets))
    buggy = f"criterion(inputs, targets) raises {error}"
    fixed_value = float(WeightedCrossEntropyLossFixed(CLASS_WEIGHTS)(inputs, targets))
    per_sample = F.cross_entropy(inputs, targets, reduction="none")
    w = torch.tensor(CLASS_WEIGHTS)[targets]
    fixed = (
        f"weight= gets the 3 class weights: loss = {fixed_value:.4f}, the same as weighting each "
        f"sample by its class, Σ w_yᵢ·CEᵢ / Σ w_yᵢ = {float((w * per_sample).sum() / w.sum()):.4f}."
    )
    leaf = inputs.clone().requires_grad_(True)
    findings = diagnose_callable(WeightedCrossEntropyLoss(CLASS_WEIGHTS), leaf, targets)
    rows = [
        [i, int(c), float(wi), float(ce)]
        for i, (c, wi, ce) in enumerate(zip(targets, w, per_sample, strict=True))
    ]
    figure = table(["sample", "class", "weight of its class", "cross-entropy"], rows)
    return LessonResult(buggy, fixed, findings, figure)


def regression_data(n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(n, 2)
    return x, torch.sin(2 * x[:, 0]) * torch.cos(x[:, 1])


def fit_mlp(forward, x, y, steps: int = 150) -> tuple[nn.Module, list[float]]:
    """A fresh seeded MLP trained with Adam through `forward(model, x)`; (model, loss history)."""
    model = make_model("mlp", in_dim=2, out_dim=1, seed=0)
    hist = descend(
        list(model.parameters()),
        lambda: F.mse_loss(forward(model, x), y),
        steps=steps,
        lr=0.02,
        adam=True,
    )
    return model, hist


@seeded
def run_detach_no_grad() -> LessonResult:
    x, y = regression_data()
    grads = {}
    for name, forward in (("buggy", no_grad_features_forward), ("fixed", features_forward_fixed)):
        model = make_model("mlp", in_dim=2, out_dim=1, seed=0)
        F.mse_loss(forward(model, x), y).backward()
        grads[name] = grad_text(dict(model.named_parameters()))
    (_, buggy_h), (_, fixed_h) = (
        fit_mlp(no_grad_features_forward, x, y),
        fit_mlp(features_forward_fixed, x, y),
    )
    buggy = (
        f"features computed under torch.no_grad(): after loss.backward(), {grads['buggy']}. "
        f"Only the last layer learns: 150 Adam steps take the loss from {buggy_h[0]:.3g} to {buggy_h[-1]:.3g}."
    )
    fixed = f"features inside the graph: {grads['fixed']}; the loss goes from {fixed_h[0]:.3g} to {fixed_h[-1]:.3g}."
    model = make_model("mlp", in_dim=2, out_dim=1, seed=0)
    findings = diagnose_callable(F.mse_loss, no_grad_features_forward(model, x), y, model=model)
    figure = history(
        "MSE",
        {
            "features under no_grad (seed's pitfall)": buggy_h,
            "features in the graph (fixed)": fixed_h,
        },
    )
    return LessonResult(buggy, fixed, findings, figure)


@seeded
def run_proxy_non_scalar() -> LessonResult:
    inputs, targets = torch.randn(10, requires_grad=True), torch.randn(10)
    loss = ProxyLoss()(inputs, targets)
    _, error = caught(loss.backward)
    buggy = f"loss has shape {shape(loss)} (a scalar L1 plus a per-element penalty); loss.backward() raises {error}"
    fixed_loss = ProxyLossFixed()(inputs, targets)
    fixed_loss.backward()
    fixed = f"penalty reduced with .mean(): loss = {fixed_loss.item():.4f}, shape (); backward runs, inputs.grad norm {grad_of(inputs).norm():.3g}."
    findings = diagnose_callable(ProxyLoss(), inputs, targets)
    labels = [f"element {i}" for i in range(10)]
    return LessonResult(
        buggy, fixed, findings, bars(labels, "loss", {"the seed's 'loss' (a vector)": loss})
    )


WEIGHTED_CE_PER_SAMPLE = quoted_lesson(
    SEED_ID,
    "weighted_ce_per_sample",
    "Per-sample weights passed as cross-entropy's per-class weight",
    "F.cross_entropy(weight=...) wants one weight per class; ten per-sample weights raise.",
    (_WEIGHTED_CE, _WEIGHTED_CE_USAGE),
    WeightedCrossEntropyLossFixed,
    run_weighted_ce_per_sample,
)
DETACH_NO_GRAD = quoted_lesson(
    SEED_ID,
    "detach_no_grad",
    ".detach() and no_grad cut the graph",
    "Whatever is computed outside the graph gets no gradient: those parameters never learn.",
    (_DETACH_TEXT, _PRECOMPUTED_TEXT),
    features_forward_fixed,
    run_detach_no_grad,
)
PROXY_NON_SCALAR = quoted_lesson(
    SEED_ID,
    "proxy_non_scalar",
    "A loss that is a vector",
    "A scalar L1 plus an unreduced penalty is a vector: loss.backward() raises.",
    (_PROXY_INIT, _PROXY_FORWARD, _PROXY_USAGE),
    ProxyLossFixed,
    run_proxy_non_scalar,
)
