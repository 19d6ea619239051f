"""Seed 000, "Does a custom loss function prevent PyTorch backpropagation?": six lessons.

`custom_loss` holds the article's SpectralNormalizationFunction and CustomLoss (four lessons),
`thresholded_loss` its ThresholdedLoss (two); each module quotes the article, runs its code
beside our fix and defines its lessons.
"""

from explorer.lessons.seed_000.custom_loss import (
    BACKWARD_NEVER_CALLED,
    CUSTOM_LOSS_UNBOUNDED,
    MATRIX_POWER_BACKWARD,
    RANDOM_INSIDE_LOSS,
    CustomLoss,
    CustomLossFixed,
    FixedMatrixCustomLoss,
    SpectralNormalizationFunction,
    learnable_matrix_power,
)
from explorer.lessons.seed_000.thresholded_loss import (
    HARD_THRESHOLD,
    SOFT_THRESHOLD_OUTWARD,
    HardThresholdedLoss,
    ThresholdedLoss,
    WelschLoss,
)

SEED_ID = "000"

__all__ = [
    "BACKWARD_NEVER_CALLED",
    "CUSTOM_LOSS_UNBOUNDED",
    "HARD_THRESHOLD",
    "MATRIX_POWER_BACKWARD",
    "RANDOM_INSIDE_LOSS",
    "SEED_ID",
    "SOFT_THRESHOLD_OUTWARD",
    "CustomLoss",
    "CustomLossFixed",
    "FixedMatrixCustomLoss",
    "HardThresholdedLoss",
    "SpectralNormalizationFunction",
    "ThresholdedLoss",
    "WelschLoss",
    "learnable_matrix_power",
]
