"""The anatomy of a run's steps (explorer.anatomy) as the player's extras: at each kept point,
the update that leaves it, as arrows on the plane (the gradient's, momentum's and weight
decay's shares of Δθ, tip to tail, and Δθ itself) and its parts' sentences for slow motion.

The parts travel for at most ANATOMY_POINTS points of a path, evenly spaced over its kept
steps like the path itself (a sentence is about 100 characters: 200 points of 7 parts are about
140 kB); arrows and sentences are NaN and "" at the others.
"""

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from explorer.anatomy import PARTS, SHARES, Anatomy, Capture, run_anatomy
from explorer.training import StepRecord, TrainConfig
from explorer.views.extras import Extra

ANATOMY_POINTS = 200
COLORS = {"gradient": "#d62728", "momentum": "#1f77b4", "weight_decay": "#9467bd"}
UPDATE_COLOR = "#111111"
NAMES = {"gradient": "gradient's share", "momentum": "momentum's share"}
NAMES["weight_decay"] = "weight decay's share"
UPDATE = "update Δθ"
ToPlane = Callable[[np.ndarray], np.ndarray]  # (N, P) moves in θ -> (N, 2) on the plane


def explained(steps: Sequence[int] | np.ndarray, points: int = ANATOMY_POINTS) -> np.ndarray:
    """Indices of the kept points whose next update is sent: every one but the last, thinned
    evenly to at most `points`."""
    n = max(0, len(steps) - 1)
    stride = max(1, math.ceil(n / max(points, 1)))
    return np.arange(0, n, stride)


def capture(steps: int, points: int = ANATOMY_POINTS) -> Capture:
    """An on_step for a run of `steps` steps that reads, while it trains, the updates a path
    running to the end sends (a run cut short keeps those it reached)."""
    return Capture({int(i) + 1 for i in explained(range(steps + 1), points)})


def along_directions(directions: np.ndarray) -> ToPlane:
    """Plane coordinates of moves in θ on a plane spanned by (2, P) directions (least squares,
    as the path is projected)."""
    dirs = np.asarray(directions, dtype=np.float64)
    return lambda moves: np.linalg.lstsq(dirs.T, np.asarray(moves).T, rcond=None)[0].T


def along_axes(i: int, j: int) -> ToPlane:
    """Plane coordinates of moves on the plane of parameters i and j: their two entries."""
    return lambda moves: np.asarray(moves)[:, [i, j]]


def anatomy_extras(
    steps: Sequence[int] | np.ndarray, found: Mapping[int, Anatomy], to_plane: ToPlane
) -> tuple[Extra, ...]:
    """The extras of a path with kept `steps`: at point i, the anatomy of step steps[i] + 1 if
    found has it (its arrows projected by to_plane), else nothing."""
    steps = np.asarray(steps, dtype=np.int64)
    at = [found.get(int(s) + 1) for s in steps]
    present = [a for a in at if a is not None]
    if not present:
        return ()
    keys = [k for k in PARTS if any(a.part(k) is not None for a in present)]
    labels = tuple(next(a.part(k).label for a in present if a.part(k)) for k in keys)  # type: ignore[union-attr]
    rows = tuple(
        tuple("" if a is None or a.part(k) is None else a.part(k).sentence for k in keys)  # type: ignore[union-attr]
        for a in at
    )
    extras = [Extra("anatomy", "parts", rows, labels=labels)]
    size = present[0].delta.size
    tail = ""
    for key in [k for k in SHARES if k in keys]:
        moves = np.full((len(steps), size), np.nan)
        for i, a in enumerate(at):
            part = None if a is None else a.part(key)
            if part is not None and part.share is not None:
                moves[i] = part.share
        extras.append(_vector(NAMES[key], moves, to_plane, COLORS[key], tail, keys.index(key)))
        tail = NAMES[key]
    moves = np.full((len(steps), size), np.nan)
    for i, a in enumerate(at):
        if a is not None:
            moves[i] = a.delta
    extras.append(_vector(UPDATE, moves, to_plane, UPDATE_COLOR, "", keys.index("update")))
    return tuple(extras)


def panel_extras(panel, found: Mapping[int, Anatomy]) -> tuple[Extra, ...]:
    """The extras of the anatomy `found` on a Landscape panel's plane (its projected path's
    steps, its surface's directions); (): no path or nothing found."""
    if not found or panel.projection is None:
        return ()
    to_plane = along_directions(panel.surface.directions)
    return anatomy_extras(panel.projection.step, found, to_plane)


def _vector(name, moves, to_plane: ToPlane, color: str, tail: str, index: int) -> Extra:
    rows = np.isfinite(moves).all(axis=1)
    plane = np.full((len(moves), 2), np.nan)
    if rows.any():
        plane[rows] = to_plane(moves[rows])
    return Extra(name, "vector", plane, color=color, tail=tail, part=index + 1)


def run_extras(
    config: TrainConfig,
    records: Sequence[StepRecord],
    to_plane: ToPlane,
    *,
    steps: Sequence[int] | np.ndarray | None = None,
    theta0: np.ndarray | None = None,
) -> tuple[Extra, ...]:
    """The anatomy extras of a run (its config, its kept records) on a plane: the run is
    replayed (from theta0 if given) and checked against the records. steps: the path's kept
    steps (default: the records')."""
    kept = np.asarray([r.step for r in records] if steps is None else steps, dtype=np.int64)
    wanted = [int(kept[i]) + 1 for i in explained(kept)]
    last = config.validate().steps
    found = run_anatomy(config, [k for k in wanted if k <= last], theta0, records)
    return anatomy_extras(kept, found, to_plane)
