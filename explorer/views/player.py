"""The player's data: what the client-side trajectory player draws, computed here, sent once.

The player (app_pages/components/player/) only draws this and reports clicks; every number it
shows comes from here. The wire format (`to_json`, field by field, and `Click`) is in
explorer.views.player_wire."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from explorer.landscape import Projection, Surface
from explorer.plots.surface import LOG_LABEL, scale_values
from explorer.training import StepRecord
from explorer.views.extras import Extra
from explorer.views.panels import LandscapeView

FIELD_POINTS = 15  # arrows per axis of the −∇L field
FPS = 60  # frames a second at 1× (the component's base rate)
PLAY_S = 10.0  # a long run's default stride plays it in about this many seconds at 1×
STRIDES = (1, 2, 5, 10, 20, 50, 100)  # steps per frame the component offers


@dataclass(frozen=True)
class PlayerRun:
    """One run on the plane, a value per kept step."""

    name: str
    step: np.ndarray  # (T,) optimizer steps
    alpha: np.ndarray  # (T,) projected coordinates on the plane
    beta: np.ndarray
    height: np.ndarray  # (T,) the drawn surface under each point (NaN without a surface)
    loss: np.ndarray  # (T,) the true loss
    grad_norm: np.ndarray  # (T,)
    extras: tuple[Extra, ...] = ()


@dataclass(frozen=True)
class Field:
    """The descent direction −∇L on a K×K subgrid: u[i, j], v[i, j] at (alpha[i], beta[j])."""

    alpha: np.ndarray
    beta: np.ndarray
    u: np.ndarray
    v: np.ndarray


@dataclass(frozen=True)
class PlayerSurface:
    """The plane's surface as drawn: values[i, j] at (alpha[i], beta[j])."""

    alpha: np.ndarray
    beta: np.ndarray
    values: np.ndarray
    field: Field
    z_label: str


@dataclass(frozen=True)
class Curves:
    """1-D curves over a parameter: value[f], grad[f] on x at the sweep's f-th value."""

    x: np.ndarray
    value: np.ndarray  # (F, N)
    grad: np.ndarray  # (F, N)
    x_label: str
    fixed_name: str = ""  # a static reference curve (the hard step), or none
    fixed_value: np.ndarray | None = None
    fixed_grad: np.ndarray | None = None


@dataclass(frozen=True)
class Sweep:
    """Frames over a loss parameter: its values and, per value, surfaces or 1-D curves."""

    param: str
    values: np.ndarray  # (F,)
    surfaces: np.ndarray | None = None  # (F, S, S), as drawn
    u: np.ndarray | None = None  # (F, K, K) −∂L/∂α on the field's grid
    v: np.ndarray | None = None
    curves: Curves | None = None


@dataclass(frozen=True)
class Player:
    """Everything one player draws."""

    id: str
    revision: str
    labels: tuple[str, str]
    alpha_range: tuple[float, float]
    beta_range: tuple[float, float]
    surface: PlayerSurface | None
    runs: tuple[PlayerRun, ...]
    sweep: Sweep | None = None
    log_loss: bool = False
    log_grad: bool = False
    clickable: bool = False
    title: str = ""
    hint: str = ""
    log: bool = False  # the surface values are log-scaled
    live: bool = False  # the runs are still training (the player follows the newest step)

    @property
    def frames(self) -> int:
        """How many frames the scrubber has."""
        if self.sweep is not None:
            return int(self.sweep.values.size)
        return max((r.step.size for r in self.runs), default=0)

    @property
    def stride(self) -> int:
        """The default steps per frame: 1, or the smallest that plays in about PLAY_S at 1×."""
        wanted = self.frames / (FPS * PLAY_S)
        return next((s for s in STRIDES if s >= wanted), STRIDES[-1])

    @property
    def start(self) -> tuple[float, float] | None:
        """The first point of the main path, in plane coordinates."""
        if not self.runs or not self.runs[0].alpha.size:
            return None
        return float(self.runs[0].alpha[0]), float(self.runs[0].beta[0])


def field_of(surface: Surface, points: int = FIELD_POINTS) -> Field:
    """−∇L of a surface at about points × points of its grid points (first and last kept)."""
    if surface.grad_alpha is None or surface.grad_beta is None:
        raise ValueError("the player needs a surface evaluated with gradients (grad=True)")
    ia, ib = _subsample(surface.alpha.size, points), _subsample(surface.beta.size, points)
    sub = np.ix_(ia, ib)
    return Field(
        alpha=surface.alpha[ia],
        beta=surface.beta[ib],
        u=-surface.grad_alpha[sub],
        v=-surface.grad_beta[sub],
    )


def _subsample(n: int, k: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, max(2, min(n, k))).round().astype(int))


def plane_run(
    name: str,
    projection: Projection,
    records: Sequence[StepRecord],
    to_height=None,
    extras: tuple[Extra, ...] = (),
) -> PlayerRun:
    """A run from its projection on a plane and the records it was projected from.

    to_height maps surface values to drawn heights (the log scale), identity by default.
    """
    by_step = {r.step: r for r in records}
    steps = projection.step.astype(np.int64)
    missing = [int(s) for s in steps if int(s) not in by_step]
    if missing:
        raise ValueError(f"the projection has steps the records lack: {missing[:5]}")
    kept = [by_step[int(s)] for s in steps]
    height = projection.surface if to_height is None else to_height(projection.surface)
    return PlayerRun(
        name=name,
        step=steps,
        alpha=np.asarray(projection.alpha, dtype=np.float64),
        beta=np.asarray(projection.beta, dtype=np.float64),
        height=np.asarray(height, dtype=np.float64),
        loss=np.array([r.loss for r in kept], dtype=np.float64),
        grad_norm=np.array([r.grad_norm for r in kept], dtype=np.float64),
        extras=extras,
    )


def landscape_player(
    view: LandscapeView,
    *,
    log: bool = False,
    clickable: bool = True,
    name: str = "quick run",
    extras: tuple[Extra, ...] = (),
) -> Player:
    """The player of a Landscape view: panel 0's surface, its −∇L field and the path on it
    (with extras, e.g. explorer.views.anatomy's, on that path)."""
    panel = view.panels[0]
    s = panel.surface
    values, to_height = scale_values(s.values, log)
    runs: tuple[PlayerRun, ...] = ()
    if panel.projection is not None and view.records:
        runs = (plane_run(name, panel.projection, view.records, to_height, extras),)
    return Player(
        id="landscape",
        revision=f"{s.kind}|{s.labels[0]}|{s.labels[1]}",
        labels=s.labels,
        alpha_range=(float(s.alpha[0]), float(s.alpha[-1])),
        beta_range=(float(s.beta[0]), float(s.beta[-1])),
        surface=PlayerSurface(
            s.alpha, s.beta, values, field_of(s), LOG_LABEL if log else f"{panel.name} L"
        ),
        runs=runs,
        log_loss=_positive(r.loss for r in runs),
        log_grad=_positive(r.grad_norm for r in runs),
        clickable=clickable,
        title=f"{panel.name}: the path step by step",
        hint="Click the contour (or the surface) to start the run there.",
        log=log,
    )


def _positive(arrays) -> bool:
    """True when every finite value of every array is > 0 (a log axis can show them all)."""
    seen = False
    for a in arrays:
        a = np.asarray(a, dtype=np.float64)
        a = a[np.isfinite(a)]
        if a.size and (a <= 0).any():
            return False
        seen = seen or bool(a.size)
    return seen


def history_player(
    histories: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    labels: tuple[str, str],
    *,
    id: str = "training",
    title: str = "",
    live: bool = False,
    axes: tuple[int, int] = (0, 1),
    extras: Mapping[str, tuple[Extra, ...]] | None = None,
) -> Player:
    """A player without a surface: each run's (steps, loss, grad_norm, theta (T, ≥2)), its
    plane two of the parameters (`axes`, named by labels) exactly; extras: by run name."""
    i, j = axes
    runs = []
    for name, (steps, loss, grad, theta) in histories.items():
        theta = np.asarray(theta, dtype=np.float64).reshape(len(steps), -1)
        if theta.shape[1] < 2:
            raise ValueError("a plane needs at least two parameters")
        if not (0 <= i < theta.shape[1] and 0 <= j < theta.shape[1] and i != j):
            raise ValueError(f"axes {axes} are not two of the {theta.shape[1]} parameters")
        runs.append(
            PlayerRun(
                name=name,
                step=np.asarray(steps, dtype=np.int64),
                alpha=theta[:, i],
                beta=theta[:, j],
                height=np.full(len(steps), np.nan),
                loss=np.asarray(loss, dtype=np.float64),
                grad_norm=np.asarray(grad, dtype=np.float64),
                extras=(extras or {}).get(name, ()),
            )
        )
    a = np.concatenate([r.alpha for r in runs] or [np.zeros(1)])
    b = np.concatenate([r.beta for r in runs] or [np.zeros(1)])
    return Player(
        id=id,
        revision=f"params|{labels[0]}|{labels[1]}",
        labels=labels,
        alpha_range=_padded(a),
        beta_range=_padded(b),
        surface=None,
        runs=tuple(runs),
        log_loss=_positive(r.loss for r in runs),
        log_grad=_positive(r.grad_norm for r in runs),
        title=title,
        hint="Play, step or scrub through the runs; each point is its first two parameters.",
        live=live,
    )


def _padded(a: np.ndarray, margin: float = 0.1) -> tuple[float, float]:
    a = a[np.isfinite(a)]
    if not a.size:
        return (-1.0, 1.0)
    lo, hi = float(a.min()), float(a.max())
    pad = (hi - lo) * margin or max(abs(lo) * margin, 0.5)
    return (lo - pad, hi + pad)
