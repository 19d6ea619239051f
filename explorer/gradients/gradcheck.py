"""gradcheck of custom autograd Functions: torch's gradcheck beside the largest gap between the
analytic Jacobian and central differences (float64), one table row a Function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from explorer.gradients.curves import FD_STEP


def numerical_jacobian(f: Callable[[Tensor], Tensor], x: Tensor, h: float = FD_STEP) -> Tensor:
    """J[i, j] = ∂f(x)_i/∂x_j by central differences, one input element at a time."""
    x = x.detach().to(torch.float64)
    flat = x.reshape(-1)
    cols = []
    with torch.no_grad():
        for j in range(flat.numel()):
            step = torch.zeros_like(flat)
            step[j] = h
            hi, lo = f((flat + step).view_as(x)), f((flat - step).view_as(x))
            cols.append(((hi - lo) / (2 * h)).reshape(-1))
    return torch.stack(cols, dim=1)


def _with_input(
    fn_apply: Callable[..., Tensor], args: tuple[Any, ...], j: int
) -> Callable[[Tensor], Tensor]:
    """x ↦ the flattened output of fn_apply(*args) with args[j] replaced by x."""

    def f(x: Tensor) -> Tensor:
        out = fn_apply(*args[:j], x, *args[j + 1 :])
        return out.reshape(-1)

    return f


def jacobian_error(fn_apply: Callable[..., Tensor], args: tuple[Any, ...]) -> float:
    """max |analytic − numerical| over the Jacobian of every floating input (float64)."""
    worst = 0.0
    for j, a in enumerate(args):
        if isinstance(a, Tensor) and a.is_floating_point():
            f = _with_input(fn_apply, args, j)
            analytic = torch.autograd.functional.jacobian(f, a.detach()).reshape(-1, a.numel())
            worst = max(worst, float((analytic - numerical_jacobian(f, a)).abs().max()))
    return worst


def check_backward(fn_apply: Callable[..., Tensor], args: tuple[Any, ...]) -> tuple[bool, float]:
    """(gradcheck passes, max Jacobian error) for a Function's apply on float64 copies of args."""
    args = tuple(
        a.detach().to(torch.float64).requires_grad_(True)
        if isinstance(a, Tensor) and a.is_floating_point()
        else a
        for a in args
    )
    passed = torch.autograd.gradcheck(fn_apply, args, eps=FD_STEP, atol=1e-5, raise_exception=False)
    return bool(passed), jacobian_error(fn_apply, args)


def _step_rows() -> list[dict[str, Any]]:
    """The step activation of explorer.models: zero backward (true) and straight-through (by design)."""
    from explorer.models import StepFunction

    x = torch.tensor([-1.5, -0.7, -0.2, 0.3, 0.8, 1.6], dtype=torch.float64)
    notes = {
        "off": "true gradient of a step: 0 wherever it exists (no signal passes)",
        "identity": "fails by design: straight-through passes the gradient as if the step were y = x",
    }
    return [
        row(f"StepFunction ({mode})", StepFunction.apply, (x, mode), notes[mode]) for mode in notes
    ]


def row(
    name: str, fn_apply: Callable[..., Tensor], args: tuple[Any, ...], note: str
) -> dict[str, Any]:
    """One gradcheck table row."""
    passed, err = check_backward(fn_apply, args)
    return {"function": name, "passed": passed, "max_abs_error": err, "note": note}


def gradcheck_table() -> list[dict[str, Any]]:
    """gradcheck of every custom autograd Function in explorer.functions and the model's step."""
    from explorer.functions import FUNCTIONS

    rows = [
        row(name, ex.function.apply, ex.make_inputs(0, torch.float64), ex.description)
        for name, ex in FUNCTIONS.items()
    ]
    return rows + _step_rows()
