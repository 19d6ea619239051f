"""The gradient doctor for any Python loss callable (and model).

The loss runs once under `OpSpy` (explorer.doctor.spy), which records element-wise calls whose
output outgrew all their inputs (broadcasting) and calls that draw random numbers.
Whether the loss is a function of its inputs is decided by a second call (with the global RNG
moved on in between): a loss that seeds its own generator repeats itself, one that draws from the
global generator unseeded does not. A loss may return anything; a value that is not a tensor (a
float from .item(), a numpy value, None) is reported as the cut graph it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from explorer.doctor.findings import Finding, Severity, by_severity, finding, fmt
from explorer.doctor.spy import OpSpy, check_random, check_shapes, describe_value, shape, values_of
from explorer.gradients.jumps import falls_forever
from explorer.rng import GLOBAL_RNG

LINE_STEPS = (0.0, 1.0, 10.0, 100.0, 1000.0)  # step lengths (per element) of the line search
CLASS_WEIGHT_ERROR = "weight tensor should be defined either for all"  # F.cross_entropy's message
PERTURB_SCALES = (1e-3, 1e-2, 1e-1)  # seeded random moves of pred, times its root mean square
PERTURB_SEED = 0
LOSS_ERRORS = (RuntimeError, ValueError, TypeError, IndexError)  # what a faulty loss raises


LossFn = Callable[..., Tensor]  # loss_fn(pred, target, **loss_kwargs)


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


def check_returned_value(loss: object) -> list[Finding]:
    """For a loss that returns no tensor: no gradient (the graph is cut), and NaN / shape problems
    of the value it did return."""
    if loss is None:
        seen = (
            "the loss returns None, not a tensor (a missing `return`?): there is nothing to "
            "call backward() on, so no gradient reaches the parameters"
        )
    else:
        seen = (
            f"the loss returns {describe_value(loss)}, not a tensor: .item() / numpy cut the "
            "graph, so no gradient reaches the parameters"
        )
    found = [finding("no_gradient", "error", seen)]
    values = values_of(loss)
    if values is None:
        return found
    found += check_finite(values, {})
    if values.numel() != 1:
        what = f"the loss returns {describe_value(loss)}"
        found.append(finding("non_scalar", "error", f"{what}; backward() needs one number"))
    return found


def check_finite(value: Tensor, grads: Mapping[str, Tensor | None]) -> list[Finding]:
    """NaN or inf in the loss value or in the gradient of any tensor that should learn."""
    parts = []
    v = value.detach()
    bad = ~torch.isfinite(v)
    if bad.any():
        where = "" if v.numel() == 1 else f" at {int(bad.sum())} of {v.numel()} elements"
        parts.append(f"the loss is {fmt(v[bad].to(torch.float64).cpu().numpy())}{where}")
    for name, g in grads.items():
        if g is None:
            continue
        bad = ~torch.isfinite(g)
        if bad.any():
            values = fmt(g[bad].to(torch.float64).cpu().numpy(), 2)
            parts.append(
                f"the gradient of {name} {shape(g)} is {values} at {int(bad.sum())} of "
                f"{g.numel()} entries"
            )
    return [finding("nan_inf", "error", "; ".join(parts))] if parts else []


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


def gradients(scalar: Tensor, params: Mapping[str, Tensor]) -> dict[str, Tensor | None]:
    """d scalar / d each tensor of params (None where the graph does not reach it); the graph is kept."""
    if not params or not scalar.requires_grad:
        return dict.fromkeys(params)
    grads = torch.autograd.grad(scalar, list(params.values()), allow_unused=True, retain_graph=True)
    return dict(zip(params, grads, strict=True))


def pred_gradient(
    loss_fn: LossFn, pred: Tensor, target: Tensor, extra: Mapping[str, Any]
) -> dict[str, Tensor | None]:
    """{"pred": dL/dpred} on a detached copy of pred (for a pred that nothing learns through)."""
    if not pred.is_floating_point():
        return {}
    p0 = pred.detach().clone().requires_grad_(True)
    value = fixed_rng_call(loss_fn, p0, target, **extra)
    if not isinstance(value, Tensor) or not value.requires_grad:
        return {}
    (g,) = torch.autograd.grad(value.sum(), p0, allow_unused=True)
    return {"pred": g}


def revived(
    loss_fn: LossFn,
    pred: Tensor,
    target: Tensor,
    extra: Mapping[str, Any],
    params: Mapping[str, Tensor],
) -> set[str]:
    """Names in params whose gradient is nonzero once pred is moved by small seeded random
    perturbations (pred + δ inside the graph, |δ| ~ PERTURB_SCALES × rms(pred)): a gradient that is
    zero at this point only (MAE with a bias at the median, a perfect fit) rather than everywhere.
    pred and the parameters are left as they are."""
    if not pred.is_floating_point():
        return set()
    base = pred.detach()
    rms = float(base.to(torch.float64).pow(2).mean().sqrt()) if base.numel() else 0.0
    scale = rms if math.isfinite(rms) and rms > 0 else 1.0
    g = torch.Generator().manual_seed(PERTURB_SEED)
    alive: set[str] = set()
    for s in PERTURB_SCALES:
        noise = torch.randn(base.shape, generator=g, dtype=torch.float64) * (s * scale)
        todo = [n for n in params if n not in alive]
        try:
            value = fixed_rng_call(
                loss_fn, pred + noise.to(device=base.device, dtype=base.dtype), target, **extra
            )
            if not isinstance(value, Tensor) or not value.requires_grad:
                continue
            grads = gradients(value.sum(), {n: params[n] for n in todo})
        except LOSS_ERRORS:
            continue
        alive |= {n for n, gr in grads.items() if gr is not None and bool(gr.any())}
        if len(alive) == len(params):
            break
    return alive


def check_param_grads(
    grads: Mapping[str, Tensor | None],
    params: Mapping[str, Tensor],
    alive_nearby: Callable[[Mapping[str, Tensor]], set[str]] | None = None,
) -> list[Finding]:
    """No gradient (grad None) or zero gradient (all zeros, also at the nearby points that
    `alive_nearby` tries) for the tensors that should learn."""
    if not params:
        return []
    none = [n for n in params if grads.get(n) is None]
    zero = [n for n in params if (g := grads.get(n)) is not None and not bool(g.any())]
    if zero and alive_nearby is not None:
        alive = alive_nearby({n: params[n] for n in zero})
        zero = [n for n in zero if n not in alive]
    out, total = [], len(params)
    names = lambda ns: ", ".join(f"{n} {shape(params[n])}" for n in ns)
    if none:
        seen = f"grad is None for {len(none)} of {total} parameter tensors: {names(none)}"
        out.append(finding("no_gradient", "error", seen))
    if zero:
        severity: Severity = "error" if len(zero) + len(none) == total else "warning"
        seen = f"grad is all zeros for {len(zero)} of {total} parameter tensors: {names(zero)}"
        if alive_nearby is not None:
            seen += f", also with pred moved by {len(PERTURB_SCALES)} small random perturbations"
        out.append(finding("zero_gradient", severity, seen))
    return out


def check_unbounded_along_gradient(
    loss_fn: LossFn, pred: Tensor, target: Tensor, extra: Mapping[str, Any]
) -> list[Finding]:
    """Line search along −∇pred L with growing steps: a loss that keeps falling is unbounded below."""
    if not pred.is_floating_point():
        return []
    p0 = pred.detach().clone().requires_grad_(True)
    out = fixed_rng_call(loss_fn, p0, target, **extra)
    if not isinstance(out, Tensor) or not out.requires_grad:
        return []
    value = out.sum()
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
    with GLOBAL_RNG, torch.random.fork_rng(devices=[]):  # random draws inside leave no trace
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
        torch.rand(16)  # move the global RNG on: only a loss that seeds its own draws repeats
        with torch.no_grad():
            again = loss_fn(pred, target, **loss_kwargs)
    except LOSS_ERRORS as err:
        return by_severity([raised(err), *check_shapes(pred, target, loss_kwargs, spy)])
    found = check_shapes(pred, target, loss_kwargs, spy) + check_random(loss, again, spy)
    if not isinstance(loss, Tensor):
        return by_severity(found + check_returned_value(loss))
    found += check_scalar(loss)
    params = learnable(pred, model)
    try:
        grads = gradients(loss.sum(), params)
        checked = grads if params else pred_gradient(loss_fn, pred, target, loss_kwargs)
    except LOSS_ERRORS as err:
        text = f"backward raised {type(err).__name__}: {err}"
        return by_severity([*found, finding("loss_raised", "error", text)])
    found += check_finite(loss, checked)

    def alive_nearby(zero: Mapping[str, Tensor]) -> set[str]:
        return revived(loss_fn, pred, target, loss_kwargs, zero)

    found += check_param_grads(grads, params, alive_nearby)
    found += check_unbounded_along_gradient(loss_fn, pred, target, loss_kwargs)
    return by_severity(found)
