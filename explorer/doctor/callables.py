"""The gradient doctor for any Python loss callable (and model), and for custom autograd Functions.

The loss runs once under `OpSpy`, a TorchFunctionMode that records every torch call: element-wise
calls whose output outgrew all their inputs (broadcasting) and calls that draw random numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from explorer.doctor.findings import Finding, Severity, by_severity, finding, fmt
from explorer.gradients import check_backward, falls_forever

RANDOM_OPS = {
    "rand", "randn", "randint", "rand_like", "randn_like", "randint_like", "randperm", "normal",
    "normal_", "uniform_", "bernoulli", "bernoulli_", "multinomial", "random_", "exponential_",
    "poisson", "dropout",
}  # fmt: skip
LINE_STEPS = (0.0, 1.0, 10.0, 100.0, 1000.0)  # step lengths (per element) of the line search
CLASS_WEIGHT_ERROR = "weight tensor should be defined either for all"  # F.cross_entropy's message


LossFn = Callable[..., Tensor]  # loss_fn(pred, target, **loss_kwargs)


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


def fixed_rng_call(loss_fn: LossFn, *args: Any, **kwargs: Any) -> Tensor:
    """loss_fn(*args) with the global RNG reseeded, so random draws inside repeat exactly."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return loss_fn(*args, **kwargs)


def raised(err: Exception) -> Finding:
    """The exception the loss raised; F.cross_entropy's per-class weight error by its own code."""
    text = f"{type(err).__name__}: {err}"
    if CLASS_WEIGHT_ERROR in str(err):
        return finding("class_weights", "error", f"F.cross_entropy raised {text}")
    return finding("loss_raised", "error", text)


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


def check_random(loss: Tensor, again: Tensor | None, spy: OpSpy) -> list[Finding]:
    """Nondeterministic when the loss draws random numbers, or a second call gives another value."""
    differs = again is not None and not torch.equal(loss.detach(), again.detach())
    if not (differs or spy.random):
        return []
    parts = (
        [f"draws random numbers inside ({', '.join(sorted(set(spy.random)))})"]
        if spy.random
        else []
    )
    if again is not None and differs:
        a, b = loss.detach().reshape(-1)[0].item(), again.detach().reshape(-1)[0].item()
        parts.append(f"two calls with the same inputs gave {a:.4g} and {b:.4g}")
    return [finding("nondeterministic", "error", "; ".join(parts))]


def check_scalar(loss: Tensor, what: str | None = None) -> list[Finding]:
    """Non-scalar when loss has more than one element, with what `loss.backward()` says about it.

    what: how the loss was obtained (default "the loss has shape ...")."""
    if loss.numel() == 1:
        return []
    try:
        loss.backward()
        message = "backward() did not raise"
    except RuntimeError as err:
        message = f"loss.backward() raises RuntimeError: {err}"
    what = what or f"the loss has shape {shape(loss)}"
    return [finding("non_scalar", "error", f"{what}; {message}")]


def learnable(pred: Tensor, model: nn.Module | None) -> dict[str, Tensor]:
    """What should get a gradient: the model's parameters, else pred itself when it requires grad."""
    if model is not None:
        return {n: p for n, p in model.named_parameters() if p.requires_grad}
    return {"pred": pred} if pred.requires_grad else {}


def check_param_grads(scalar: Tensor, params: Mapping[str, Tensor]) -> list[Finding]:
    """No gradient (grad None) or zero gradient (all zeros) for the tensors that should learn."""
    if not params:
        return []
    grads: Sequence[Tensor | None] = [None] * len(params)
    if scalar.requires_grad:
        grads = torch.autograd.grad(
            scalar, list(params.values()), allow_unused=True, retain_graph=True
        )
    items = list(zip(params.items(), grads, strict=True))
    none = [f"{n} {shape(p)}" for (n, p), g in items if g is None]
    zero = [f"{n} {shape(p)}" for (n, p), g in items if g is not None and not bool(g.any())]
    out, total = [], len(params)
    if none:
        seen = f"grad is None for {len(none)} of {total} parameter tensors: {', '.join(none)}"
        out.append(finding("no_gradient", "error", seen))
    if zero:
        severity: Severity = "error" if len(zero) + len(none) == total else "warning"
        seen = f"grad is all zeros for {len(zero)} of {total} parameter tensors: {', '.join(zero)}"
        out.append(finding("zero_gradient", severity, seen))
    return out


def check_unbounded_along_gradient(
    loss_fn: LossFn, pred: Tensor, target: Tensor, extra: Mapping[str, Any]
) -> list[Finding]:
    """Line search along −∇pred L with growing steps: a loss that keeps falling is unbounded below."""
    if not pred.is_floating_point():
        return []
    p0 = pred.detach().clone().requires_grad_(True)
    value = fixed_rng_call(loss_fn, p0, target, **extra).sum()
    if not value.requires_grad:
        return []
    (g,) = torch.autograd.grad(value, p0, allow_unused=True)
    if g is None or not torch.isfinite(g).all() or not g.any():
        return []
    d = -g / g.norm() * math.sqrt(g.numel())  # about one unit per element
    with torch.no_grad():
        v = [float(fixed_rng_call(loss_fn, p0 + s * d, target, **extra).sum()) for s in LINE_STEPS]
    if not falls_forever(np.array(v)):
        return []
    seen = f"along −∇L from the prediction, steps {fmt(LINE_STEPS)} give L = {fmt(v)}: it keeps falling"
    return [finding("unbounded_below", "error", seen)]


def diagnose_callable(
    loss_fn: LossFn,
    pred: Tensor,
    target: Tensor,
    model: nn.Module | None = None,
    **loss_kwargs: Any,
) -> list[Finding]:
    """Findings for `loss_fn(pred, target, **loss_kwargs)`; pred may come from `model` (its grads are checked)."""
    with torch.random.fork_rng(devices=[]):  # random draws inside loss_fn leave no trace outside
        return _diagnose_callable(loss_fn, pred, target, model, loss_kwargs)


def _diagnose_callable(
    loss_fn: LossFn,
    pred: Tensor,
    target: Tensor,
    model: nn.Module | None,
    loss_kwargs: Mapping[str, Any],
) -> list[Finding]:
    spy = OpSpy()
    try:
        with spy:
            loss = loss_fn(pred, target, **loss_kwargs)
    except (RuntimeError, ValueError, TypeError, IndexError) as err:
        return by_severity([raised(err), *check_shapes(pred, target, loss_kwargs, spy)])
    with torch.no_grad():
        again = loss_fn(pred, target, **loss_kwargs)
    found = check_shapes(pred, target, loss_kwargs, spy) + check_random(loss, again, spy)
    found += check_scalar(loss)
    found += check_param_grads(loss.sum(), learnable(pred, model))
    found += check_unbounded_along_gradient(loss_fn, pred, target, loss_kwargs)
    return by_severity(found)


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
