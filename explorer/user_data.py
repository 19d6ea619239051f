"""Your own points (`UserData`: a CSV file or a data set edited by clicks, kept in a session)
and the DataSpec of any data set, built-in or yours."""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from explorer.data import DATASETS, N_RANGE, Dataset, DataSpec
from explorer.losses.spec import Task

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
