"""Per-step annotations of a run that the player draws beside its path (the anatomy of each
update, or any later narration): plain values, so explorer.views.landscape can carry them."""

from dataclasses import dataclass
from typing import Literal

import numpy as np

ExtraKind = Literal["vector", "text", "series", "parts"]


@dataclass(frozen=True)
class Extra:
    """A per-step annotation of a run: kind "vector" (T, 2), "text" (T,), "series" (T,) or
    "parts" (T rows of P strings, with P labels)."""

    name: str
    kind: ExtraKind
    values: np.ndarray | tuple[str, ...] | tuple[tuple[str, ...], ...]
    color: str = ""  # a vector's colour ("" : the component's default)
    tail: str = ""  # a vector drawn from the tip of this other vector ("" : from the point)
    part: int = 0  # a vector shown in slow motion from this part on (1-based; 0: always)
    labels: tuple[str, ...] = ()  # the parts' names (kind "parts")
