"""Settings that travel in a page's URL: parse untrusted query values into clamped, typed settings."""

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    """One URL-shareable setting: a number in [lo, hi], a choice from options, a flag, or a list."""

    key: str
    default: Any
    lo: float | None = None
    hi: float | None = None
    options: tuple[str, ...] | None = None

    def parse(self, raw: str | list[str] | None) -> Any:
        """The setting's value from a raw query value; anything bad or missing gives the default."""
        if raw is None:
            return self.default
        if isinstance(self.default, list):
            items = raw if isinstance(raw, list) else str(raw).split(",")
            allowed = [s for s in items if self.options is None or s in self.options]
            return list(dict.fromkeys(allowed))[:8] or list(self.default)
        text = (raw[-1] if isinstance(raw, list) and raw else str(raw)).strip()[:200]
        if isinstance(self.default, bool):
            return text.lower() in ("1", "true", "yes", "on")
        if isinstance(self.default, (int, float)):
            return self.clamp(_number(text, self.default))
        if self.options is not None and text not in self.options:
            return self.default
        return text

    def clamp(self, value: float) -> float | int:
        """value forced into [lo, hi] and to the default's type; NaN gives the default."""
        if not math.isfinite(value):
            value = float(self.default)
        if self.lo is not None:
            value = max(self.lo, value)
        if self.hi is not None:
            value = min(self.hi, value)
        return int(round(value)) if isinstance(self.default, int) else float(value)

    def encode(self, value: Any) -> str:
        """The query-string form of a value."""
        if isinstance(value, (list, tuple)):
            return ",".join(map(str, value))
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, float):
            return f"{value:.6g}"
        return str(value)


def _number(text: str, default: float) -> float:
    try:
        return float(text)
    except ValueError:
        return float(default)
