"""Custom losses typed as text, e.g. `mean(sigmoid(k*(t - abs(r))) * r**2)`, made safe to run.

The text is never evaluated: `parse` turns it into a syntax tree with `ast.parse` (no bytecode)
and checks its size, `build` accepts only numbers, the names below, + - * / **, comparisons and
calls of `FUNCTIONS`, and turns each node into a closure over torch ops; `latex` prints the tree.
Anything else raises `ExpressionError` (a ValueError) with the 1-based column of the problem.

Names: `pred` (ŷ), `target` (y), `r` = ŷ − y, constants `pi`, `e`; any other lower-case name
(at most 16 characters, not a function or a Python built-in, not `inf`, `nan` or another name
of a non-finite number in any case; at most 6 of them) is a parameter: a slider with default 1,
range [-100, 100], step 0.1. Comparisons give float masks (1 or 0) and `a < b < c` means
(a < b)·(b < c). Limits: 500 characters, 200 parts, 30 levels of nesting (a chain of + and -,
or of * and /, is one level), numbers up to 1e6, constant exponents up to |p| = 10 (a NaN or
infinite one is refused with its cause, e.g. "`0/0` divides zero by zero"). An exponent that
depends on a parameter or the data (`abs(r)**p`) is allowed and left alone: overflow gives inf,
which the gradient doctor reports, as it reports NaN from log(-1). Valid text never raises when
evaluated.

Reduction rule. A formula without mean/sum is per element, and `reduction` reduces it. A linear
combination of means — `mean(A)`, `mean(A) + k*mean(B)`, `mean(A)/2 + k` — or of sums keeps its
own reduction for "mean" and "sum"; for "none" it gives the per-element values inside (A + k·B),
whose mean (sum) is the formula. Anything else (`r - mean(r)`, `mean(r)**2`, `sum(A) + 1`) mixes
samples and has no per-element values: "none" raises ExpressionError, and a non-scalar value is
reduced by `reduction`. `weights` (N,) multiply the per-element values before reducing.
"""

import ast
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from explorer.losses.spec import (
    EXPRESSION_PREFIX,
    REDUCTIONS,
    REGRESSION,
    LossSpec,
    Param,
    Reduction,
    check_broadcast,
    reduce_loss,
    sample_weights,
)

from .build import CONSTANTS, FUNCTIONS, VARIABLES, Builder, Closure, Env
from .kinds import MIXED, REDUCERS, Kind
from .latex import to_latex
from .parse import ExpressionError, fail, parse

__all__ = [
    "CONSTANTS",
    "FUNCTIONS",
    "VARIABLES",
    "CompiledLoss",
    "ExpressionError",
    "compile_loss",
    "to_latex",
    "to_spec",
]

PARAM_DEFAULT, PARAM_MIN, PARAM_MAX, PARAM_STEP = 1.0, -100.0, 100.0, 0.1


@dataclass(frozen=True)
class CompiledLoss:
    """A checked formula: `fn(pred, target, *, reduction="mean", weights=None, **params)`.

    `params`: the parameter names it uses (a missing one is 1.0, unknown ones are ignored);
    `kind`: "elem" (no mean/sum), "mean" or "sum" (its own reduction) or "mixed"; `tree`: the
    checked syntax tree; `mixing`: for a mixed formula, how its first mixing part mixes samples
    (e.g. "`mean(r)**2` raises a mean to a power"), else "".
    """

    text: str
    params: tuple[str, ...]
    kind: Kind
    tree: ast.expr = field(repr=False, compare=False)
    root: Closure = field(repr=False, compare=False)
    mixing: str = field(default="", compare=False)

    def __reduce__(
        self,
    ) -> tuple[
        Callable[[str], "CompiledLoss"], tuple[str]
    ]:  # closures do not pickle: rebuild from the text (st.cache_data pickles)
        return compile_loss, (self.text,)

    @property
    def elementwise(self) -> bool:
        """Whether reduction="none" gives one value per element (False when it mixes samples)."""
        return self.kind != MIXED

    @property
    def mean_of_elements(self) -> bool:
        """Whether the mean of the reduction="none" values is the "mean" reduction: per element
        or a linear combination of means; not a sum (its "mean" is the sum) nor a mixed one."""
        return self.kind == "elem" or self.kind == "mean"

    def __call__(
        self,
        pred: Tensor,
        target: Tensor,
        *,
        reduction: Reduction = "mean",
        weights: Tensor | None = None,
        **params: float | Tensor,
    ) -> Tensor:
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
        env = self._env(pred, target, params)
        if not self.elementwise:
            if reduction == "none" or weights is not None:
                what = "per-element values" if weights is None else "per-sample weights"
                fail(
                    f"no {what}: this formula mixes samples ({self.mixing}); only a formula "
                    "whose means/sums are outermost has them, e.g. mean(A) + k*mean(B)",
                    None,
                )
            value = self.root(env)
            return value if value.dim() == 0 else reduce_loss(value, reduction)
        values = torch.broadcast_to(self.root(env), env.values["pred"].shape)
        if weights is not None:
            values = values * sample_weights(weights, values)
        if reduction != "none" and (self.kind == "mean" or self.kind == "sum"):
            reduction = self.kind  # a mean (sum) of per-element terms keeps its own reduction
        return reduce_loss(values, reduction)

    def _env(self, pred: Tensor, target: Tensor, params: Mapping[str, object]) -> Env:
        pred, target = torch.as_tensor(pred), torch.as_tensor(target)
        dtype = pred.dtype if pred.is_floating_point() else torch.get_default_dtype()
        pred, target = pred.to(dtype), target.to(dtype)
        if target.shape != pred.shape:  # the check is slow; equal shapes need none
            check_broadcast(pred, target, "target")
        values = {"pred": pred, "target": target, "r": pred - target}
        for name in self.params:
            values[name] = _parameter(name, params.get(name, PARAM_DEFAULT), dtype, pred.device)
        return Env(values, dtype, pred.device, per_element=self.elementwise)


def _parameter(name: str, value: Any, dtype: torch.dtype, device: torch.device) -> Tensor:
    """value (a number or a 0-d tensor; anything else is an ExpressionError) as a 0-d tensor."""
    if isinstance(value, torch.Tensor):
        if value.dim() != 0:
            fail(f"parameter `{name}` must be one number, got shape {tuple(value.shape)}", None)
        return value.to(dtype=dtype, device=device)
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        fail(f"parameter `{name}` must be a number, got {type(value).__name__}", None)
    if not math.isfinite(number):
        fail(f"parameter `{name}` must be a finite number, got {number}", None)
    return torch.tensor(number, dtype=dtype, device=device)


def compile_loss(text: str) -> CompiledLoss:
    """Check `text` and build it into a torch callable; ExpressionError if it is not allowed."""
    body, flat, cut = parse(text)
    builder = Builder(flat, cut)
    root, kind = builder.build(body)
    kind = kind if kind in (*REDUCERS, MIXED) else "elem"
    return CompiledLoss(text, tuple(builder.params), kind, body, root, builder.mixing)


def to_spec(text: str) -> LossSpec:
    """A catalogue entry for a custom formula: regression, plotted against the residual."""
    loss = compile_loss(text)
    params = tuple(
        Param(n, PARAM_DEFAULT, PARAM_MIN, PARAM_MAX, PARAM_STEP, f"parameter `{n}` of the formula")
        for n in loss.params
    )
    notes = "Typed by you: parsed into a checked syntax tree and run as torch ops, never eval'd."
    if not loss.elementwise:
        notes += f" It mixes samples ({loss.mixing}): it has no loss of one residual alone."
    return LossSpec(
        key=EXPRESSION_PREFIX + text,
        name=f"Custom: {text.strip()}",
        formula=to_latex(loss.tree),
        params=params,
        **REGRESSION,
        fn=loss,
        mean_of_elements=loss.mean_of_elements,
        source="custom expression",
        notes=notes,
    )
