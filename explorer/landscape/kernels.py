"""Elementwise kernels for the batched forward, picked by measurement on the machine that runs:
tanh as torch.tanh or as 2σ(2t) − 1 (`FastTanh`), whichever `tanh_kernel` timed faster here
(the formula ~5x faster on some CPUs, torch.tanh ~2x on AVX-512); and the round-robin timer
(`timings`, `fastest`) that the kernel and chunk-size calibrations share.
"""

import functools
import math
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import torch
from torch import Tensor


class FastTanh(torch.autograd.Function):
    """tanh t = 2σ(2t) − 1, backward g·(1 − y²): on CPU torch's sigmoid is ~5x faster than its
    tanh, and this saves one tensor for backward (|error| < 3e-7 in float32, ~1e-16 in float64)."""

    @staticmethod
    def forward(t: Tensor) -> Tensor:
        return torch.sigmoid(t * 2).mul_(2).sub_(1)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Tensor], output: Tensor) -> None:
        ctx.save_for_backward(output)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (y,) = ctx.saved_tensors
        return torch.addcmul(grad, grad * y, y, value=-1)


# the tanh kernels the batched forward chooses from, by name; TANH_KERNELS[tanh_kernel(...)],
# and the form each takes on a fresh matmul output, which it may overwrite (TANH_IN_PLACE)
TANH_KERNELS: dict[str, Callable[[Tensor], Tensor]] = {
    "torch.tanh": torch.tanh,
    "2σ(2t)−1": FastTanh.apply,
}
TANH_IN_PLACE: dict[str, Callable[[Tensor], Tensor]] = {
    "torch.tanh": torch.tanh_,
    "2σ(2t)−1": FastTanh.apply,
}
CALIBRATION_ELEMS = 1 << 16  # elements a kernel is timed on, best of CALIBRATION_ROUNDS
CALIBRATION_ROUNDS = 7
K = TypeVar("K")
_TANH_CHOICE: dict[tuple[str, torch.dtype, int], str] = {}  # (device type, dtype, threads) -> name


def tanh_kernel(device: torch.device, dtype: torch.dtype) -> str:
    """The name of the tanh kernel for (device, dtype): torch.tanh off the CPU; on the CPU the
    faster of TANH_IN_PLACE (as the chain runs them), timed once a process (and thread count) at
    first use, since which wins depends on the CPU (the sigmoid formula ~5x faster on some,
    torch.tanh ~2x on AVX-512)."""
    if device.type != "cpu":
        return "torch.tanh"
    key = (device.type, dtype, torch.get_num_threads())
    if key not in _TANH_CHOICE:
        gen = torch.Generator().manual_seed(0)
        t = torch.randn(CALIBRATION_ELEMS, generator=gen, dtype=dtype) * 2
        runs = {name: functools.partial(kernel, t) for name, kernel in TANH_IN_PLACE.items()}
        _TANH_CHOICE.setdefault(key, fastest(runs))
    return _TANH_CHOICE[key]


def timings(
    runs: Mapping[K, Callable[[], object]], rounds: int = CALIBRATION_ROUNDS
) -> dict[K, float]:
    """The best time (s) of `rounds` of each run, the runs timed round-robin (so load from
    elsewhere hits them alike), without gradients."""
    best = dict.fromkeys(runs, math.inf)
    with torch.no_grad():
        for _ in range(rounds):
            for key, run in runs.items():
                start = time.perf_counter()
                run()
                best[key] = min(best[key], time.perf_counter() - start)
    return best


def fastest(runs: Mapping[K, Callable[[], object]], rounds: int = CALIBRATION_ROUNDS) -> K:
    """The key of the run with the best time (`timings`)."""
    best = timings(runs, rounds)
    return min(best, key=best.__getitem__)
