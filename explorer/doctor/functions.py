"""The gradient doctor for custom autograd Functions: gradcheck against float64 central
differences, and whether the Function's backward runs at all when the graph is backpropagated."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from explorer.doctor.findings import Finding, by_severity, finding
from explorer.doctor.spy import shape
from explorer.gradients.gradcheck import check_backward


def backward_calls(
    fn_cls: type[torch.autograd.Function], inputs: Sequence[Any]
) -> tuple[int, Tensor]:
    """How often fn_cls.backward runs when we backpropagate from its output; and the output."""
    calls = []

    class Spy(fn_cls):  # type: ignore[valid-type, misc]  # a base known only at run time
        @staticmethod
        def backward(ctx: Any, *grads: Any) -> Any:
            calls.append(1)
            return fn_cls.backward(ctx, *grads)

    out = Spy.apply(*inputs)
    leaves = [a for a in inputs if isinstance(a, Tensor) and a.requires_grad]
    if out.requires_grad and leaves:
        torch.autograd.grad(out.sum(), leaves, allow_unused=True)
    return len(calls), out


def describe(a: object) -> str:
    if isinstance(a, Tensor):
        return f"tensor {shape(a)} requires_grad={a.requires_grad}"
    return f"{type(a).__name__} {a!r}"


def diagnose_function(
    fn_cls: type[torch.autograd.Function], example_inputs: Sequence[Any]
) -> list[Finding]:
    """Findings for a custom autograd Function: gradcheck, and whether its backward ever runs."""
    found = []
    passed, err = check_backward(fn_cls.apply, tuple(example_inputs))
    if not passed:
        seen = (
            f"max |analytic − numerical| Jacobian entry = {err:.3g} (float64, central differences)"
        )
        found.append(finding("gradcheck_failed", "error", seen))
    calls, out = backward_calls(fn_cls, tuple(example_inputs))
    if calls == 0:
        seen = (
            f"inputs: {'; '.join(describe(a) for a in example_inputs)} → output "
            f"requires_grad={out.requires_grad}, grad_fn={type(out.grad_fn).__name__ if out.grad_fn else None}; "
            "backward ran 0 times"
        )
        found.append(finding("backward_never_called", "warning", seen))
    return by_severity(found)
