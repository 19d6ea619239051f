"""Custom `torch.autograd.Function`s from the seeds: hand-written backwards, right and wrong.

All use the `setup_context` style with `generate_vmap_rule = True`, so `torch.func.vmap` works.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
from torch import Tensor
from torch.linalg import matrix_power

Array = TypeVar("Array", np.ndarray, Tensor)


class Sin2(torch.autograd.Function):
    """y = 2·sin x, backward 2·cos x (seed 002 · MyCustomFunction)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x: Tensor) -> Tensor:
        return 2 * torch.sin(x)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Tensor], output: Tensor) -> None:
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return grad_output * 2 * torch.cos(x)


def _check_power(a: Tensor, n: object) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"the exponent n must be an int >= 1, got {n!r}")
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"A must be a square matrix (..., m, m), got shape {tuple(a.shape)}")


class _MatrixPower(torch.autograd.Function):
    """Aⁿ forward for the two backwards below (a base, not a Function to call: no backward)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(a: Tensor, n: int) -> Tensor:
        _check_power(a, n)
        return matrix_power(a, n)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Tensor, int], output: Tensor) -> None:
        ctx.save_for_backward(inputs[0])
        ctx.n = inputs[1]


class MatrixPowerSeed(_MatrixPower):
    """Aⁿ with seed 000's backward G ⊙ n·Aⁿ⁻¹ — WRONG on purpose: an element-wise scalar rule.

    The true gradient of a matrix power is a sum of products (see `MatrixPowerExact`);
    gradcheck catches the difference for every n, even n = 1 (G ⊙ I instead of G).
    """

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor, None]:
        (a,) = ctx.saved_tensors
        return grad_output * (ctx.n * matrix_power(a, ctx.n - 1)), None


class MatrixPowerExact(_MatrixPower):
    """Aⁿ with the true gradient Σₖ₌₀ⁿ⁻¹ (Aᵀ)ᵏ G (Aᵀ)ⁿ⁻¹⁻ᵏ (differentiate A·A·…·A factor by factor)."""

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor, None]:
        (a,) = ctx.saved_tensors
        n = ctx.n
        eye = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device).expand_as(a)
        powers = [eye]  # (Aᵀ)^0 … (Aᵀ)^(n-1)
        for _ in range(n - 1):
            powers.append(powers[-1] @ a.mT)
        grad = sum(powers[k] @ grad_output @ powers[n - 1 - k] for k in range(n))
        return grad, None


def seed_weighted_se_gradient(y_true: Array, y_pred: Array, w: Array) -> Array:
    """Seed 001's hand-written gradient of Σ w(y − ŷ)² in ŷ: −2w(y − ŷ) (numpy arrays or tensors)."""
    return -2 * w * (y_true - y_pred)


class HandGradWeightedSE(torch.autograd.Function):
    """Per-element w·(y − ŷ)² whose backward is seed 001's hand-written gradient −2w(y − ŷ).

    The seed's numpy formula runs here on tensors (same expression), so it works on any device
    and under vmap. apply(pred, target, weights).
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(pred: Tensor, target: Tensor, weights: Tensor) -> Tensor:
        return weights * (target - pred) ** 2

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Tensor, Tensor, Tensor], output: Tensor) -> None:
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        pred, target, weights = ctx.saved_tensors
        d_pred = grad_output * seed_weighted_se_gradient(target, pred, weights)
        return d_pred, -d_pred, grad_output * (target - pred) ** 2


@dataclass(frozen=True)
class FunctionExample:
    """A Function with inputs to try it on, for the gradcheck table."""

    function: type[torch.autograd.Function]
    make_inputs: Callable[..., tuple]  # (seed=0, dtype=torch.float64) -> args of function.apply
    description: str
    correct: bool  # whether its backward is the true gradient (gradcheck should pass)


def _vector_inputs(seed: int = 0, dtype: torch.dtype = torch.float64) -> tuple:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(6, generator=g, dtype=dtype, requires_grad=True),)


def _matrix_inputs(seed: int = 0, dtype: torch.dtype = torch.float64, n: int = 3) -> tuple:
    g = torch.Generator().manual_seed(seed)
    return (0.5 * torch.randn(3, 3, generator=g, dtype=dtype), n)


def _weighted_se_inputs(seed: int = 0, dtype: torch.dtype = torch.float64) -> tuple:
    g = torch.Generator().manual_seed(seed)
    pred, target = torch.randn(2, 5, generator=g, dtype=dtype)
    weights = 0.5 + torch.rand(5, generator=g, dtype=dtype)
    return tuple(t.clone().requires_grad_() for t in (pred, target, weights))


def _requiring_grad(builder: Callable[..., tuple]) -> Callable[..., tuple]:
    def make(seed: int = 0, dtype: torch.dtype = torch.float64) -> tuple:
        return tuple(
            a.clone().requires_grad_() if isinstance(a, torch.Tensor) else a
            for a in builder(seed, dtype)
        )

    return make


FUNCTIONS: dict[str, FunctionExample] = {
    "Sin2": FunctionExample(Sin2, _vector_inputs, "2·sin x with backward 2·cos x", True),
    "MatrixPowerSeed": FunctionExample(
        MatrixPowerSeed,
        _requiring_grad(_matrix_inputs),
        "A³ with the seed's element-wise backward G ⊙ n·Aⁿ⁻¹ (wrong)",
        False,
    ),
    "MatrixPowerExact": FunctionExample(
        MatrixPowerExact,
        _requiring_grad(_matrix_inputs),
        "A³ with the true backward Σ (Aᵀ)ᵏ G (Aᵀ)ⁿ⁻¹⁻ᵏ",
        True,
    ),
    "HandGradWeightedSE": FunctionExample(
        HandGradWeightedSE,
        _weighted_se_inputs,
        "w·(y − ŷ)² with the seed's hand-written gradient −2w(y − ŷ)",
        True,
    ),
}
