"""Seeded synthetic data sets and three classic real ones: float32 tensors plus a little
metadata, sizes bounded. Your own points are in explorer.user_data."""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import torch
from torch import Tensor

from explorer.classic import CLASSIC, classic_arrays
from explorer.losses.spec import Task

N_RANGE = (8, 5000)
NOISE_RANGE = (0.0, 5.0)
OUTLIER_RANGE = (0.0, 0.5)
OUTLIER_SHIFT = 8.0  # regression outliers: y + 8 (far off the line y = 2x − 1)
OUTLIER_WEIGHT = 0.1  # per-sample weight of an outlier (for per_sample_weights losses)


@dataclass(frozen=True)
class DataSpec:
    """What a data set is, before any point is drawn."""

    key: str
    name: str
    task: Task
    in_dim: int
    n_classes: int  # 1 for regression, 2 for binary/segmentation, 3+ for multiclass
    description: str
    size: int | None = None  # a real data set's own number of points: n and noise do not apply


@dataclass(frozen=True)
class Dataset:
    """Drawn points: x (N, d) float32, y (N,) (float reals / float {0,1} / long class ids)."""

    name: str  # the DATASETS key, e.g. "moons"
    task: Task
    x: Tensor
    y: Tensor
    n_classes: int
    weights: Tensor  # (N,) float32: outliers 0.1, rare classes up-weighted, else 1
    outlier: Tensor  # (N,) bool

    @property
    def in_dim(self) -> int:
        return self.x.shape[1]

    def __len__(self) -> int:
        return self.x.shape[0]

    def to(self, device: torch.device | str) -> "Dataset":
        """The same data set with every tensor on `device`."""
        move = {k: getattr(self, k).to(device) for k in ("x", "y", "weights", "outlier")}
        return replace(self, **move)


def _spec(
    key: str,
    name: str,
    task: Task,
    in_dim: int,
    n_classes: int,
    description: str,
    size: int | None = None,
) -> DataSpec:
    return DataSpec(key, name, task, in_dim, n_classes, description, size)


STANDARDIZED = "standardized; n and noise do not apply"


DATASETS: dict[str, DataSpec] = {
    s.key: s
    for s in (
        _spec("line", "Line with outliers", "regression", 1, 1, "y = 2x − 1 + noise, x in [−2, 2]"),
        _spec("sine", "Sine", "regression", 1, 1, "y = sin(x) + noise, x in [−3, 3]"),
        _spec("blobs", "Two blobs", "binary", 2, 2, "two Gaussian clusters at ±(1, 1)"),
        _spec("moons", "Two moons", "binary", 2, 2, "two interleaving half circles"),
        _spec("circles", "Circles", "binary", 2, 2, "a ring of radius 1 around a disk of 0.5"),
        _spec("xor", "XOR", "binary", 2, 2, "label 1 where x₁·x₂ > 0, x uniform in [−1, 1]²"),
        _spec("imbalanced", "Imbalanced 90/10", "binary", 2, 2, "two blobs, 90% class 0"),
        _spec("blobs3", "Three blobs", "multiclass", 2, 3, "three Gaussian clusters"),
        _spec("imbalanced3", "Imbalanced 70/20/10", "multiclass", 2, 3, "three blobs, 70/20/10"),
        _spec("mask", "Disk mask", "segmentation", 2, 2, "grid on [−1, 1]², 1 inside a disk"),
        _spec(
            "iris", "Iris (real)", "multiclass", 2, 3, f"petal length, width; {STANDARDIZED}", 150
        ),
        _spec(
            "cancer",
            "Breast cancer (real)",
            "binary",
            2,
            2,
            f"mean radius, texture; 0 malignant, 1 benign; {STANDARDIZED}",
            569,
        ),
        _spec(
            "diabetes",
            "Diabetes (real)",
            "regression",
            1,
            1,
            f"BMI → progression; {STANDARDIZED}",
            442,
        ),
    )
}

# Tasks whose losses can train on a data set of each task (dice also trains on binary labels).
_TRAINS_ON: dict[Task, tuple[Task, ...]] = {
    "regression": ("regression",),
    "binary": ("binary",),
    "multiclass": ("multiclass",),
    "segmentation": ("segmentation", "binary"),
}


def trains_on(loss_task: Task, data_task: Task) -> bool:
    """Whether a loss of loss_task can train on data of data_task."""
    if loss_task not in _TRAINS_ON:
        raise ValueError(f"unknown task {loss_task!r}; allowed: {', '.join(_TRAINS_ON)}")
    return data_task in _TRAINS_ON[loss_task]


def datasets_for(task: Task) -> list[str]:
    """Keys of the data sets a loss of `task` can train on (segmentation: mask + binary sets)."""
    return [k for k, s in DATASETS.items() if trains_on(task, s.task)]


def clamp_number(value: Any, lo: float, hi: float, default: float) -> float:
    """float(value) clamped into [lo, hi]; NaN becomes default."""
    value = float(value)
    return default if math.isnan(value) else min(max(value, lo), hi)


Draw = Callable[[int, torch.Generator, float], tuple[Tensor, Tensor]]  # (n, gen, noise) -> x, y


def _line(n: int, gen: torch.Generator, noise: float) -> tuple[Tensor, Tensor]:
    x = torch.rand(n, 1, generator=gen, dtype=torch.float64) * 4 - 2
    return x, 2 * x[:, 0] - 1 + noise * torch.randn(n, generator=gen, dtype=torch.float64)


def _sine(n: int, gen: torch.Generator, noise: float) -> tuple[Tensor, Tensor]:
    x = torch.rand(n, 1, generator=gen, dtype=torch.float64) * 6 - 3
    return x, torch.sin(x[:, 0]) + noise * torch.randn(n, generator=gen, dtype=torch.float64)


def _moons(n: int, gen: torch.Generator, noise: float) -> tuple[Tensor, Tensor]:
    n0 = n // 2
    angle = torch.rand(n, generator=gen, dtype=torch.float64) * math.pi
    upper = torch.stack([torch.cos(angle[:n0]), torch.sin(angle[:n0])], 1)
    lower = torch.stack([1 - torch.cos(angle[n0:]), 0.5 - torch.sin(angle[n0:])], 1)
    x = torch.cat([upper, lower]) + noise * torch.randn(n, 2, generator=gen, dtype=torch.float64)
    return x, torch.cat([torch.zeros(n0), torch.ones(n - n0)])


def _circles(n: int, gen: torch.Generator, noise: float) -> tuple[Tensor, Tensor]:
    n0 = n // 2
    angle = torch.rand(n, generator=gen, dtype=torch.float64) * 2 * math.pi
    radius = torch.cat([torch.ones(n0), torch.full((n - n0,), 0.5)]).double()
    x = radius[:, None] * torch.stack([torch.cos(angle), torch.sin(angle)], 1)
    x = x + noise * torch.randn(n, 2, generator=gen, dtype=torch.float64)
    return x, torch.cat([torch.zeros(n0), torch.ones(n - n0)])


def _xor(n: int, gen: torch.Generator, noise: float) -> tuple[Tensor, Tensor]:
    x = torch.rand(n, 2, generator=gen, dtype=torch.float64) * 2 - 1
    y = (x[:, 0] * x[:, 1] > 0).double()
    return x + noise * torch.randn(n, 2, generator=gen, dtype=torch.float64), y


def _mask(n: int, gen: torch.Generator, noise: float) -> tuple[Tensor, Tensor]:
    """A side × side grid (side = ⌊√n⌋, at least 3); label 1 where the jittered point is in the disk."""
    side = max(3, math.isqrt(n))
    ticks = torch.linspace(-1, 1, side, dtype=torch.float64)
    x = torch.cartesian_prod(ticks, ticks)
    jitter = noise * torch.randn(x.shape, generator=gen, dtype=torch.float64)
    return x, ((x + jitter).norm(dim=1) < 0.6).double()


_TWO = ((-1.0, -1.0), (1.0, 1.0))
_TRIANGLE = ((0.0, 1.2), (-1.04, -0.6), (1.04, -0.6))
# Blob-type sets: class fractions and centres; class weight = largest fraction / own fraction.
_BLOBS: dict[str, tuple[tuple[float, ...], tuple[tuple[float, float], ...]]] = {
    "blobs": ((0.5, 0.5), _TWO),
    "imbalanced": ((0.9, 0.1), _TWO),
    "blobs3": ((1 / 3, 1 / 3, 1 / 3), _TRIANGLE),
    "imbalanced3": ((0.7, 0.2, 0.1), _TRIANGLE),
}


def _blobs(
    fractions: Sequence[float],
    centers: Sequence[tuple[float, float]],
    n: int,
    gen: torch.Generator,
    noise: float,
) -> tuple[Tensor, Tensor]:
    """Gaussian clusters of std 0.5 + noise, with these class fractions around these centres."""
    counts = [max(1, round(n * f)) for f in fractions[1:]]
    counts = [n - sum(counts), *counts]
    spread = 0.5 + noise
    f64 = torch.float64
    xs = [
        torch.tensor(c, dtype=f64) + spread * torch.randn(m, 2, generator=gen, dtype=f64)
        for m, c in zip(counts, centers, strict=True)
    ]
    return torch.cat(xs), torch.cat([torch.full((m,), k) for k, m in enumerate(counts)])


def _classic(key: str, n: int, gen: torch.Generator, noise: float) -> tuple[Tensor, Tensor]:
    """A real data set, all of it (n and noise do not apply)."""
    x, y = classic_arrays(key)
    return torch.from_numpy(x), torch.from_numpy(y)


_DRAW: dict[str, Draw] = {
    "line": _line,
    "sine": _sine,
    "moons": _moons,
    "circles": _circles,
    "xor": _xor,
    "mask": _mask,
    **{key: partial(_blobs, *args) for key, args in _BLOBS.items()},
    **{key: partial(_classic, key) for key in CLASSIC},
}


def _class_weights(key: str, y: Tensor) -> Tensor:
    """Per-sample weights: 1 for the most common class, rarer classes up-weighted by design."""
    if key not in _BLOBS:
        return torch.ones(len(y), dtype=torch.float64)
    fractions = torch.tensor(_BLOBS[key][0], dtype=torch.float64)
    return (fractions.max() / fractions)[y]


def _add_outliers(
    spec: DataSpec, y: Tensor, gen: torch.Generator, frac: float
) -> tuple[Tensor, Tensor]:
    """Shift (regression) or flip (classification) a fraction of labels; return y, mask."""
    n = y.shape[0]
    mask = torch.zeros(n, dtype=torch.bool)
    mask[torch.randperm(n, generator=gen)[: round(frac * n)]] = True
    if spec.task == "regression":
        return y + OUTLIER_SHIFT * mask, mask
    return torch.where(mask, (y + 1) % spec.n_classes, y), mask


def make_dataset(
    key: str, *, n: int = 200, seed: int = 0, noise: float = 0.1, outlier_frac: float = 0.0
) -> Dataset:
    """Draw data set `key` with a seeded generator; n, noise, outlier_frac clamped into range."""
    if key not in DATASETS:
        raise ValueError(f"unknown data set {key!r}; allowed: {', '.join(DATASETS)}")
    spec = DATASETS[key]
    n = int(clamp_number(n, *N_RANGE, 200))
    noise = clamp_number(noise, *NOISE_RANGE, 0.1)
    frac = clamp_number(outlier_frac, *OUTLIER_RANGE, 0.0)
    gen = torch.Generator().manual_seed(int(seed))
    x, y = _DRAW[key](n, gen, noise)
    y = y if spec.task == "regression" else y.long()
    weights = _class_weights(key, y)
    y, outlier = _add_outliers(spec, y, gen, frac)
    weights = torch.where(outlier, OUTLIER_WEIGHT, weights)
    y = y if spec.task == "multiclass" else y.float()
    return Dataset(key, spec.task, x.float(), y, spec.n_classes, weights.float(), outlier)
