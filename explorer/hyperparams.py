"""A named hyper-parameter with its default, range and kind, and the validation of a mapping of
them: the shared base of explorer.optimizers and explorer.schedules."""

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["float", "int", "bool", "pair"]


@dataclass(frozen=True)
class ParamSpec:
    """One keyword of a torch constructor: its default, range and what widgets call it.

    kind "pair" is a tuple of two floats (Adam's `betas`), each in [low, high]."""

    name: str  # the torch keyword ("momentum", "betas", "step_size", ...)
    label: str  # what a widget shows ("momentum β")
    kind: Kind
    default: Any  # float, int, bool, or a tuple of two floats
    low: float = 0.0
    high: float = 1.0
    short: str = ""  # URL / label abbreviation ("wd" for weight_decay); "" = name
    help: str = ""

    @property
    def key(self) -> str:
        return self.short or self.name

    def check(self, value: Any, owner: str) -> Any:
        """value clamped to the range; ValueError (naming owner and key) for a wrong type or a
        non-finite number."""
        if self.kind == "bool":
            if not isinstance(value, bool) and type(value).__name__ != "bool_":
                raise ValueError(f"{owner}: {self.name} must be True or False, got {value!r}")
            return bool(value)
        if self.kind == "pair":
            if isinstance(value, str | bytes) or not hasattr(value, "__len__") or len(value) != 2:
                raise ValueError(f"{owner}: {self.name} must be two numbers, got {value!r}")
            first, second = value
            return (self._number(first, owner), self._number(second, owner))
        number = self._number(value, owner)
        return int(round(number)) if self.kind == "int" else number

    def _number(self, value: object, owner: str) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"{owner}: {self.name} must be a number, got {value!r}")
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{owner}: {self.name} must be finite, got {value!r}")
        return min(max(number, self.low), self.high)


def check_params(
    specs: Mapping[str, ParamSpec], params: Mapping[str, object] | None, owner: str
) -> dict[str, Any]:
    """A copy of params with each value checked by its spec and the missing ones at their
    defaults; ValueError naming an unknown key and the allowed ones."""
    params = dict(params or {})
    unknown = [k for k in params if k not in specs]
    if unknown:
        allowed = ", ".join(specs) or "none"
        raise ValueError(f"{owner} takes no parameter {unknown[0]!r}; allowed: {allowed}")
    return {
        k: spec.check(params[k], owner) if k in params else spec.default
        for k, spec in specs.items()
    }


def changed(specs: Mapping[str, ParamSpec], params: Mapping[str, object]) -> dict[str, Any]:
    """The entries of params that differ from their spec's default."""
    return {k: v for k, v in params.items() if k in specs and v != specs[k].default}


def short_text(specs: Mapping[str, ParamSpec], params: Mapping[str, object]) -> str:
    """ "β1=0.5, wd=0.1": the changed entries, abbreviated (for run labels); a pair shows the
    parts that changed, by the parts of its label ("β1, β2")."""
    parts = []
    for k, v in changed(specs, params).items():
        spec = specs[k]
        if spec.kind == "pair":
            names = [n.strip() for n in spec.label.split(",")]
            parts += [
                f"{n}={x:g}" for n, x, d in zip(names, v, spec.default, strict=True) if x != d
            ]
        elif spec.kind == "bool":
            parts.append(f"{spec.key}={'on' if v else 'off'}")
        else:
            parts.append(f"{spec.key}={v:g}")
    return ", ".join(parts)
