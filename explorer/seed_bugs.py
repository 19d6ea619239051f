"""The seed articles' buggy code as real Python (for the lessons to run), each beside our fix.

The buggy classes keep the seeds' names and logic; the fixes end in `Fixed`. Nothing here is
used by the catalogue: `explorer.losses` has the correct versions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from explorer.functions import MatrixPowerExact, MatrixPowerSeed

# seed 000 names its Function SpectralNormalizationFunction; its forward/backward are MatrixPowerSeed's
SpectralNormalizationFunction = MatrixPowerSeed


class WeightedMSE(nn.Module):
    """Seed 003: weights (N,) times residuals (N, 1) broadcast to (N, N)."""

    def __init__(self, weights):
        super().__init__()
        self.weights = torch.tensor(weights, requires_grad=False)

    def forward(self, y_pred, y_true):
        return torch.mean(self.weights * (y_pred - y_true) ** 2)


class WeightedMSEFixed(nn.Module):
    """Weights reshaped to the residuals' shape: Σ wᵢ rᵢ² / Σ wᵢ, one term per sample."""

    def __init__(self, weights):
        super().__init__()
        self.register_buffer("weights", torch.as_tensor(weights, dtype=torch.float32))

    def forward(self, y_pred, y_true):
        w = self.weights.to(y_pred.dtype).view(y_pred.shape)  # (N,) -> (N, 1): no broadcast
        return (w * (y_pred - y_true) ** 2).sum() / w.sum()


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


class CustomLoss(nn.Module):
    """Seed 000: a fresh random matrix each call, powered by the wrong-backward Function; linear in ŷ."""

    def forward(self, prediction, target):
        matrix = torch.randn(3, 3)
        exponent = 2
        powered_matrix = SpectralNormalizationFunction.apply(matrix, exponent)
        return torch.mean((prediction - target) * powered_matrix[0, 0])


class FixedMatrixCustomLoss(nn.Module):
    """Seed 000's CustomLoss with its matrix drawn once: deterministic, but still linear in ŷ."""

    def __init__(self, matrix):
        super().__init__()
        self.register_buffer("matrix", matrix)

    def forward(self, prediction, target):
        powered_matrix = SpectralNormalizationFunction.apply(self.matrix, 2)
        return torch.mean((prediction - target) * powered_matrix[0, 0])


class CustomLossFixed(nn.Module):
    """The matrix drawn once (a buffer), the exact backward, and a squared residual: a minimum at ŷ = y."""

    def __init__(self, matrix):
        super().__init__()
        self.register_buffer("matrix", matrix)

    def forward(self, prediction, target):
        powered_matrix = MatrixPowerExact.apply(self.matrix, 2)
        return torch.mean(((prediction - target) * powered_matrix[0, 0]) ** 2)


def learnable_matrix_power(matrix: torch.Tensor, exponent: int = 2) -> torch.Tensor:
    """The matrix requires grad, so autograd does call the hand-written (here: exact) backward."""
    matrix = matrix.detach().requires_grad_(True)
    return MatrixPowerExact.apply(matrix, exponent)


class ThresholdedLoss(nn.Module):
    """Seed 000: sigmoid(20·(t − |r|))·r², a soft cut-off of the outliers."""

    def __init__(self, threshold):
        super().__init__()
        self.threshold = threshold

    def forward(self, prediction, target):
        absolute_diff = torch.abs(prediction - target)
        cut_off_mask = torch.sigmoid(20 * (self.threshold - absolute_diff))
        return torch.mean(cut_off_mask * (prediction - target) ** 2)


class HardThresholdedLoss(nn.Module):
    """The hard cut-off the seed warns about: (|r| < t)·r² — its mask passes no gradient."""

    def __init__(self, threshold):
        super().__init__()
        self.threshold = threshold

    def forward(self, prediction, target):
        mask = (torch.abs(prediction - target) < self.threshold).float()
        return torch.mean(mask * (prediction - target) ** 2)


class WelschLoss(nn.Module):
    """Outliers discounted without an outward push: t²·(1 − exp(−r²/t²)), dL/dr = 2r·exp(−r²/t²)."""

    def __init__(self, threshold):
        super().__init__()
        self.threshold = threshold

    def forward(self, prediction, target):
        t2 = self.threshold**2
        return torch.mean(t2 * (1 - torch.exp(-((prediction - target) ** 2) / t2)))


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
    *body, head = model.net  # an explorer MLP: Squeeze(Sequential(Linear, act, Linear))
    with torch.no_grad():
        h = nn.Sequential(*body)(x)
    return head(h).squeeze(-1)


def features_forward_fixed(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The same forward with the features inside the graph."""
    *body, head = model.net
    return head(nn.Sequential(*body)(x)).squeeze(-1)


def hard_step(x: torch.Tensor) -> torch.Tensor:
    """The classic step activation H(x) = [x > 0]: its derivative is 0 wherever it exists."""
    return (x > 0).to(x.dtype)
