"""What a loss does while it runs: `OpSpy`, a TorchFunctionMode that records every torch call,
notes element-wise calls whose output outgrew all their inputs (broadcasting) and calls that draw
random numbers; and the findings read from it and from a second call (`check_shapes`,
`check_random`), with values compared NaN-equal-NaN whatever type the loss returned.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.overrides import TorchFunctionMode

from explorer.doctor.findings import Finding, finding

RANDOM_OPS = {
    "rand", "randn", "randint", "rand_like", "randn_like", "randint_like", "randperm", "normal",
    "normal_", "uniform_", "bernoulli", "bernoulli_", "multinomial", "random_", "exponential_",
    "poisson", "dropout",
}  # fmt: skip


def shape(t: Tensor) -> tuple[int, ...]:
    return tuple(t.shape)


def op_name(func: Callable[..., Any]) -> str:
    """'mul' for Tensor.__mul__, 'randn' for torch.randn."""
    return getattr(func, "__name__", str(func)).strip("_")


class OpSpy(TorchFunctionMode):
    """Records torch calls that broadcast into a bigger tensor, and calls that draw random numbers."""

    def __init__(self) -> None:
        super().__init__()
        self.grown: list[tuple[str, list[tuple[int, ...]], tuple[int, ...]]] = []
        self.random: list[str] = []

    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Sequence[type],
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = op_name(func)
        if name in RANDOM_OPS:
            self.random.append(name)
        tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, Tensor)]
        if isinstance(out, Tensor) and len(tensors) >= 2 and self._outgrew(out, tensors):
            self.grown.append((name, [shape(t) for t in tensors], shape(out)))
        return out

    @staticmethod
    def _outgrew(out: Tensor, tensors: list[Tensor]) -> bool:
        try:
            joint = torch.broadcast_shapes(*(t.shape for t in tensors))
        except RuntimeError:
            return False
        return joint == out.shape and out.numel() > max(t.numel() for t in tensors)


def check_shapes(
    pred: Tensor, target: Tensor, extra: Mapping[str, Any], spy: OpSpy
) -> list[Finding]:
    """Broadcast where pred and another input, or any recorded torch call, grew a bigger tensor."""
    parts = []
    for name, other in {"target": target, **extra}.items():
        if not isinstance(other, Tensor):
            continue
        try:
            joint = torch.broadcast_shapes(pred.shape, other.shape)
        except RuntimeError:
            continue
        if math.prod(joint) > max(pred.numel(), other.numel()):
            parts.append(
                f"pred {shape(pred)} with {name} {shape(other)} broadcasts to {tuple(joint)}"
            )
    for name, ins, out in spy.grown[:3]:
        ins_text = " and ".join(str(s) for s in ins)
        most = max(math.prod(s) for s in ins)
        parts.append(
            f"`{name}` of {ins_text} gave {out}: {math.prod(out)} elements from inputs of {most}"
        )
    return [finding("broadcast", "error", "; ".join(parts))] if parts else []


def values_of(v: object) -> Tensor | None:
    """v as a detached CPU tensor (a tensor, a number, a numpy value); None when v is not numeric."""
    if isinstance(v, Tensor):
        return v.detach().cpu()
    if v is None:
        return None
    try:
        return torch.as_tensor(np.asarray(v, dtype=np.float64))
    except (TypeError, ValueError):
        return None


def same_values(a: object, b: object) -> bool:
    """a and b hold the same values in the same shape, NaN equal to NaN (None equals only None)."""
    ta, tb = values_of(a), values_of(b)
    if ta is None or tb is None:
        return ta is None and tb is None and type(a) is type(b)
    if ta.shape != tb.shape:
        return False
    if ta.dtype != tb.dtype:
        ta, tb = ta.to(torch.float64), tb.to(torch.float64)
    equal = ta == tb
    if ta.is_floating_point() or ta.is_complex():
        equal |= ta.isnan() & tb.isnan()
    return bool(equal.all())


def check_random(loss: object, again: object, spy: OpSpy) -> list[Finding]:
    """Nondeterministic when a second call with the same inputs (the global RNG moved on in
    between) gives other values; the random ops it recorded say where they come from."""
    if same_values(loss, again):
        return []
    parts = (
        [f"draws random numbers inside ({', '.join(sorted(set(spy.random)))})"]
        if spy.random
        else []
    )
    ta, tb = values_of(loss), values_of(again)
    if ta is not None and tb is not None and ta.numel() == tb.numel() == 1:
        parts.append(f"two calls with the same inputs gave {ta.item():.4g} and {tb.item():.4g}")
    elif ta is not None and tb is not None and ta.shape == tb.shape:
        diff = float(
            (ta.to(torch.float64) - tb.to(torch.float64)).abs().nan_to_num(nan=np.inf).max()
        )
        parts.append(f"two calls with the same inputs gave values that differ by up to {diff:.3g}")
    else:
        parts.append(
            f"two calls with the same inputs gave {describe_value(loss)} and {describe_value(again)}"
        )
    return [finding("nondeterministic", "error", "; ".join(parts))]


def describe_value(v: object) -> str:
    """'a float (0.531)', 'a numpy array of shape (10,)', 'None', 'a tensor of shape (1,)' …"""
    if v is None:
        return "None"
    if isinstance(v, Tensor):
        return f"a tensor of shape {shape(v)}"
    if isinstance(v, np.ndarray):
        return f"a numpy array of shape {v.shape} ({v.dtype})"
    if isinstance(v, bool | np.bool_):
        return f"a bool ({v})"
    if isinstance(v, float | np.floating):
        kind = "" if type(v) is float else f"numpy.{type(v).__name__} "
        return f"a float ({kind}{float(v):.4g})"
    if isinstance(v, int | np.integer):
        return f"an int ({int(v)})"
    return f"a {type(v).__name__}"
