"""Seeded synthetic data sets, three classic real ones, and your own points (`UserData`: a file
or clicks, kept in a session): float32 tensors plus a little metadata, sizes bounded."""

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np
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


YOURS = "yours:"  # the key of your points is "yours:<12 hex digits of their content's SHA-256>"
CLASSES_RANGE = (2, 5)  # classes your classification data may have
YOURS_MIN = 2  # points your data must keep


@dataclass(frozen=True, eq=False)
class UserData:
    """Your points (a file, or a data set edited by clicks): kept in a session, never in a URL.

    Equal, and hashed, by content (`digest`: the task and the numbers), so a config that
    carries them keys a cache by what it trains on. The arrays are read-only copies.
    """

    name: str  # what the page calls it: "your file points.csv", "your data (edited)"
    task: Task  # "regression": x (N, 1), y reals; "binary" / "multiclass": x (N, 2), y class ids
    x: np.ndarray  # (N, d) float64
    y: np.ndarray  # (N,) float64 targets, or int64 class ids 0..K−1
    classes: tuple[str, ...] = ()  # the labels as written (in a file), by class id

    def __post_init__(self):
        x = np.array(self.x, dtype=np.float64, copy=True)
        regression = self.task == "regression"
        y = np.array(self.y, dtype=np.float64 if regression else np.int64, copy=True)
        _check_points(x, y, self.task)
        x.flags.writeable = y.flags.writeable = False
        digest = hashlib.sha256(f"{self.task}|{x.shape}|".encode())  # the numbers, not names
        digest.update(x.tobytes())
        digest.update(y.astype(np.float64).tobytes())
        for name, value in (("x", x), ("y", y), ("digest", digest.hexdigest())):
            object.__setattr__(self, name, value)

    digest: str = ""  # set from the content; any value given is replaced

    def __eq__(self, other) -> bool:
        return isinstance(other, UserData) and other.digest == self.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def __repr__(self) -> str:
        return f"UserData({self.key!r}, {self.name!r}, {len(self)} points)"

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def key(self) -> str:
        return YOURS + self.digest[:12]

    @property
    def n_classes(self) -> int:
        return 1 if self.task == "regression" else int(self.y.max()) + 1

    @property
    def spec(self) -> DataSpec:
        what = "x → y" if self.task == "regression" else f"{self.n_classes} classes"
        return DataSpec(self.key, self.name, self.task, self.x.shape[1], self.n_classes,
                        f"{len(self)} points, {what}", len(self))  # fmt: skip

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) as the fit plot draws them: x (N,) for regression, else (N, 2)."""
        return (self.x[:, 0] if self.task == "regression" else self.x), self.y

    def dataset(self) -> Dataset:
        """The points as a Dataset: every weight 1, no outliers."""
        y = torch.from_numpy(self.y.copy())
        y = y.long() if self.task == "multiclass" else y.float()
        n = len(self)
        x = torch.from_numpy(self.x.copy()).float()
        return Dataset(
            self.key,
            self.task,
            x,
            y,
            self.n_classes,
            torch.ones(n),
            torch.zeros(n, dtype=torch.bool),
        )


def _check_points(x: np.ndarray, y: np.ndarray, task: Task) -> None:
    """ValueError unless x, y are finite points of `task` with a size and classes in range."""
    dim = 1 if task == "regression" else 2
    if task not in ("regression", "binary", "multiclass"):
        raise ValueError(f"your data is regression, binary or multiclass, not {task!r}")
    if x.ndim != 2 or x.shape[1] != dim or y.shape != (x.shape[0],):
        raise ValueError(f"{task} points are x (N, {dim}) and y (N,), got {x.shape}, {y.shape}")
    if not YOURS_MIN <= len(y) <= N_RANGE[1]:
        raise ValueError(f"your data needs {YOURS_MIN} to {N_RANGE[1]} points, not {len(y)}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("your data holds a value that is not a finite number")
    if task == "regression":
        return
    counts = np.bincount(y, minlength=CLASSES_RANGE[0]) if (y >= 0).all() else np.zeros(0)
    k = len(counts)
    wanted = "binary" if k == 2 else "multiclass"
    if not CLASSES_RANGE[0] <= k <= CLASSES_RANGE[1] or (counts == 0).any() or task != wanted:
        raise ValueError(
            f"{task} class ids are 0..K−1 with K in {CLASSES_RANGE[0]}..{CLASSES_RANGE[1]} "
            f"(binary: K = 2), each class present; got counts {counts.tolist()}"
        )


def classification_task(n_classes: int) -> Task:
    """The task of classification data with this many classes."""
    return "binary" if n_classes == 2 else "multiclass"


def data_spec(dataset: "str | DataSpec", user_data: UserData | None = None) -> DataSpec:
    """The spec of a DATASETS key, of `user_data` when dataset is its key, or `dataset` itself."""
    if isinstance(dataset, DataSpec):
        return dataset
    if user_data is not None and dataset == user_data.key:
        return user_data.spec
    if dataset.startswith(YOURS):
        raise ValueError(
            f"data set {dataset!r} is your own points: they stay in the session that has them "
            "(a link does not carry them)"
        )
    if dataset not in DATASETS:
        raise ValueError(f"unknown data set {dataset!r}; allowed: {', '.join(DATASETS)}")
    return DATASETS[dataset]


def as_user_data(dataset: Dataset, name: str = "your data (edited)") -> UserData:
    """A drawn data set's points as your own, to edit (outlier marks and weights are dropped)."""
    x, y = dataset.x.detach().cpu().double().numpy(), dataset.y.detach().cpu().numpy()
    if dataset.task not in ("regression", "binary", "multiclass"):
        raise ValueError(f"{dataset.task} data cannot be edited point by point")
    return UserData(
        name, dataset.task, x, y if dataset.task == "regression" else y.astype(np.int64)
    )


def with_point(data: UserData, point: Sequence[float], label: int = 0) -> UserData:
    """data plus one point: (x, y) for regression, (x₁, x₂) of class `label` otherwise (a new
    class id K adds a class, up to CLASSES_RANGE[1])."""
    p = np.asarray(point, dtype=np.float64)
    if data.task == "regression":
        x, y = np.vstack([data.x, p[:1][None]]), np.append(data.y, p[1])
        return replace(data, name="your data (edited)", x=x, y=y)
    if not 0 <= int(label) <= min(data.n_classes, CLASSES_RANGE[1] - 1):
        raise ValueError(f"class {label} is not 0..{min(data.n_classes, CLASSES_RANGE[1] - 1)}")
    y = np.append(data.y, int(label))
    task = classification_task(int(y.max()) + 1)
    classes = data.classes if int(label) < data.n_classes else ()  # a new class has no label
    return replace(
        data,
        classes=classes,
        name="your data (edited)",
        task=task,
        x=np.vstack([data.x, p[None, :2]]),
        y=y,
    )


def without_point(data: UserData, index: int) -> UserData:
    """data less its point `index` (the classes left renumbered 0..K−1); ValueError when fewer
    than YOURS_MIN points or one class only would be left."""
    if not 0 <= int(index) < len(data):
        raise ValueError(f"there is no point {index}; the data has {len(data)}")
    keep = np.arange(len(data)) != int(index)
    y = data.y[keep]
    if data.task != "regression" and len(np.unique(y)) < len(np.unique(data.y)):
        classes = np.unique(y)
        if len(classes) < CLASSES_RANGE[0]:
            raise ValueError(
                f"that is the last point of class {data.y[index]}: a classifier needs two classes"
            )
        y = np.searchsorted(classes, y)  # the classes left, numbered 0..K−1 again
        data = replace(data, classes=())  # the labels as written no longer match the ids
    task = data.task if data.task == "regression" else classification_task(int(y.max()) + 1)
    return replace(data, name="your data (edited)", task=task, x=data.x[keep], y=y)
