"""What one Landscape view shows, as frozen dataclasses: a panel a loss (its surface, the path's
projection, how honest the picture is), the 1-D slice, and the whole view.

Built from the engine's own results by `make_panel` and `make_slice`; every value is a plain
number, string, array or engine dataclass, so a view pickles (st.cache_data stores it).
"""

from dataclasses import dataclass

import numpy as np

from explorer.landscape import (
    Projection,
    Surface,
    interpolation_slice,
    line_slice,
    project_trajectory,
)
from explorer.training import StepRecord

SHORT_LABELS = {
    "random": ("random 1", "random 2"),
    "pca": ("PC1", "PC2"),
    "hessian": ("eigvec 1", "eigvec 2"),
}
SLICE_POINTS = 101
SLICES = {  # the 1-D slice's title and marked points, by kind
    "interpolation": (
        "Loss on the straight line from the first step to the last",
        ((0.0, "start"), (1.0, "end")),
    ),
    "axis": ("Loss along the first axis through the centre", ((0.0, "centre"),)),
}
FLAT_NOTE = 0.5  # a contour plot is captioned when more of its grid than this has −∇L = 0
HONESTY_TITLES = {  # Honesty field → its column title in the page's table, in order
    "loss": "loss",
    "steps": "steps",
    "dropped": "max distance dropped by the projection",
    "gap": "max |true loss − surface at projection|",
    "explained": "PCA explained variance (PC1 + PC2)",
    "eigenvalues": "Hessian λ₁, λ₂",
}


@dataclass(frozen=True)
class Honesty:
    """How far one loss's picture can be trusted; None where the view has no such figure."""

    loss: str  # the loss's display name
    steps: int | None = None  # steps of the projected path (None without a path)
    dropped: float | None = None  # the largest distance of a step from the plane
    gap: float | None = None  # the largest |true loss − surface at the projected point|
    explained: float | None = None  # PCA axes: share of the path's variance in the plane
    eigenvalues: tuple[float, ...] | None = None  # Hessian axes: λ₁, λ₂

    def row(self) -> dict[str, object]:
        """The figures this view has as one table row (column title → value)."""
        show = lambda v: ", ".join(f"{e:.4g}" for e in v) if isinstance(v, tuple) else v
        values = {f: getattr(self, f) for f in HONESTY_TITLES}
        return {HONESTY_TITLES[f]: show(v) for f, v in values.items() if v is not None}


@dataclass(frozen=True)
class Panel:
    """One loss drawn on the view's plane: `index` is its place (0: the main loss)."""

    name: str  # the loss's display name
    key: str  # the loss's key (names its arrays in the downloads)
    index: int
    surface: Surface
    projection: Projection | None  # the path on the plane; None without a path
    honesty: Honesty
    flat: float  # share of grid points where −∇L is exactly zero
    short: tuple[str, str]  # axis titles short enough for a small 3-D scene

    @property
    def flat_note(self) -> str | None:
        """A caption for a mostly flat gradient field, else None."""
        if self.flat <= FLAT_NOTE:
            return None
        return f"−∇L is exactly 0 at {self.flat:.0%} of the grid: descent gets no signal there."


@dataclass(frozen=True)
class SliceView:
    """Each loss along one line in parameter space: values[name][i] at t[i]."""

    t: np.ndarray
    values: dict[str, np.ndarray]  # loss name → its values along t
    label: str  # what t measures
    kind: str  # "interpolation" (first step to last) or "axis" (the first axis, no path)
    title: str
    marks: tuple[tuple[float, str], ...]  # (t, label) of the points marked on the line


@dataclass(frozen=True)
class LandscapeView:
    """Everything the Landscape page draws."""

    panels: tuple[Panel, ...]  # the main loss, then the compared one
    records: tuple[StepRecord, ...]  # the finite steps of the path drawn (none without a path)
    slice: SliceView
    device: str  # the device the run and surfaces used
    device_note: str  # what select_device said about it
    fell_back: bool  # the chosen device was not available
    stop: str | None  # why the run stopped early, else None
    anatomy: tuple = ()  # the quick run's updates on panel 0's plane (views.anatomy extras)


def make_panel(index: int, spec, model, obj, surface: Surface, records) -> Panel:
    """One loss's panel: its surface, the path projected onto it and the honesty figures."""
    if surface.grad_alpha is None or surface.grad_beta is None:
        raise ValueError("a panel needs a surface evaluated with gradients (grad=True)")
    proj = project_trajectory(model, obj, surface, records) if records else None
    steps: int | None = None
    dropped: float | None = None
    gap: float | None = None
    if proj is not None:
        steps, dropped = len(proj.step), float(np.max(proj.dropped))
        gap = float(np.nanmax(np.abs(proj.loss - proj.surface)))
    explained = None if surface.explained is None else float(sum(surface.explained))
    eigenvalues = (
        None if surface.eigenvalues is None else tuple(float(v) for v in surface.eigenvalues)
    )
    honesty = Honesty(
        spec.name,
        steps=steps,
        dropped=dropped,
        gap=gap,
        explained=explained,
        eigenvalues=eigenvalues,
    )
    flat = (surface.grad_alpha == 0) & (surface.grad_beta == 0)
    return Panel(
        name=spec.name,
        key=spec.key,
        index=index,
        surface=surface,
        projection=proj,
        honesty=honesty,
        flat=float(flat.mean()),
        short=SHORT_LABELS.get(surface.kind, surface.labels),
    )


def make_slice(model, losses, records, surface: Surface) -> SliceView:
    """Each (spec, objective) from the first to the last step of the path, or along the
    surface's first axis through its centre without a path."""
    if len(records) >= 2:
        a, b = records[0].theta, records[-1].theta
        cut = lambda obj: interpolation_slice(model, obj, a, b, points=SLICE_POINTS)
        kind = "interpolation"
    else:
        t = surface.alpha - surface.origin[0]
        d1, label = surface.directions[0], f"{surface.labels[0]} (offset from the centre)"
        cut = lambda obj: line_slice(model, obj, surface.centre, d1, t, label=label)
        kind = "axis"
    cuts = {spec.name: cut(obj) for spec, obj in losses}
    first = next(iter(cuts.values()))
    title, marks = SLICES[kind]
    values = {name: c.values for name, c in cuts.items()}
    return SliceView(first.t, values, first.label, kind, title, marks)
