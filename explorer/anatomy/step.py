"""What one step is made of: its parts and the record of a step, and how sentences write numbers."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

PARTS = {
    "gradient": "Gradient ∇L",
    "weight_decay": "Weight decay",
    "momentum": "Momentum",
    "second_moment": "Second moment",
    "bias": "Bias corrections",
    "step_size": "Step size",
    "update": "Update Δθ",
}
SHARES = ("gradient", "momentum", "weight_decay")  # the shares of Δθ, in the order drawn
NAMED = 4  # a sentence names every entry of a vector up to this size, else its norm and largest


@dataclass(frozen=True)
class Part:
    """One part of a step: its numbers (per parameter, or a few scalars) and a sentence naming them."""

    key: str  # a key of PARTS
    label: str
    values: np.ndarray
    sentence: str
    share: np.ndarray | None = None  # this term's share of Δθ (P,), drawn as its arrow


@dataclass(frozen=True)
class Anatomy:
    """Step `step` of a run, as the optimizer made it."""

    step: int
    optimizer: str  # torch's class name
    hyper: Mapping[str, Any]  # the param group's settings (torch's keys), lr included
    names: tuple[str, ...]  # the parameters' labels, in theta order
    theta_before: np.ndarray  # (P,) float64
    theta_after: np.ndarray
    gradient: np.ndarray  # ∇L at theta_before (the mini-batch's, with mini-batches)
    state_before: Mapping[str, np.ndarray]  # torch's state names -> (P,) (or (1,) for `step`)
    state_after: Mapping[str, np.ndarray]
    parts: tuple[Part, ...] = field(default=())

    @property
    def delta(self) -> np.ndarray:
        """Δθ torch applied: θ after the step minus θ before it."""
        return self.theta_after - self.theta_before

    @property
    def shares_sum(self) -> np.ndarray:
        """What the parts add up to: the sum of the shares of Δθ."""
        return sum((p.share for p in self.parts if p.share is not None), np.zeros_like(self.delta))

    def part(self, key: str) -> Part | None:
        """The part `key` (see PARTS), or None when this optimizer has none."""
        return next((p for p in self.parts if p.key == key), None)


def number(x: float) -> str:
    """A number as the sentences write it (4 significant digits)."""
    return f"{x:.4g}"


def vector_text(a: Anatomy, v: np.ndarray) -> str:
    """Every entry when there are few, else the norm and the largest entry by name."""
    v = np.asarray(v, dtype=np.float64)
    if v.size <= NAMED:
        return "(" + ", ".join(number(x) for x in v) + ")"
    i = int(np.nanargmax(np.abs(v))) if np.isfinite(v).any() else 0
    return f"‖·‖ {number(float(np.linalg.norm(v)))}, largest {a.names[i]} = {number(float(v[i]))}"
