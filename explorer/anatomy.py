"""The anatomy of one optimizer step, read from the optimizer's own state.

A run is replayed (explorer.training.train: the same config gives the same data, initial
parameters and batch order) and, at each wanted step, torch's optimizer state is read right
before and right after `optimizer.step()`: its tensors by torch's own names (momentum_buffer,
exp_avg, exp_avg_sq, max_exp_avg_sq, square_avg, grad_avg, sum, step) and the param group's
settings (lr, betas, eps, weight_decay, ...). Every part below is made of those numbers.

Step k is the k-th call of optimizer.step(): it takes θ_{k−1} (record k−1) to θ_k (record k)
with the gradient at θ_{k−1}; torch's `step` counter reads k after it. Its parts, in the order
the update is made (`Anatomy.parts`; keys in PARTS):
  gradient       ∇L at θ_{k−1} (p.grad)
  weight_decay   the decay's share of Δθ (L2 through the gradient, or decoupled: lr·wd·θ)
  momentum       the momentum buffer / first moment after the step (momentum_buffer, exp_avg)
  second_moment  the running mean of g² (exp_avg_sq or max_exp_avg_sq, square_avg, sum)
  bias           Adam's bias corrections 1 − β1^t and 1 − β2^t
  step_size      each parameter's step size: the factor that multiplies the (first) moment
  update         Δθ = θ_k − θ_{k−1}, as torch applied it
The shares (gradient's, momentum's, weight decay's) are the parts of Δθ each term contributes;
they add up to Δθ (to rounding: float32 runs round each step to float32).
"""

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from explorer import budget as budgets
from explorer.models import theta_labels
from explorer.training import Problem, StepRecord, TrainConfig, build, train

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
REPLAY_HINT = "choose fewer steps or a smaller model"


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


# Reading the optimizer


def _flat_state(optimizer: torch.optim.Optimizer, params: Sequence[nn.Parameter]) -> dict:
    """optimizer.state over params, flattened in theta order: {torch's key: float64 (P,)};
    scalars (`step`) as (1,). A key some parameters lack is left out."""
    states = [optimizer.state.get(p, {}) for p in params]
    out = {}
    for key in states[0] if states else ():
        values = [s.get(key) for s in states]
        if not all(isinstance(v, torch.Tensor) for v in values):
            continue  # None (SGD without momentum) or not every parameter has it
        if all(v.numel() == p.numel() for v, p in zip(values, params, strict=True)):
            out[key] = _host(torch.cat([v.detach().reshape(-1) for v in values]))
        elif all(v.numel() == 1 for v in values):
            out[key] = np.array([float(values[0])])
    return out


def _flat(tensors: Iterable[torch.Tensor | None], params: Sequence[nn.Parameter]) -> np.ndarray:
    parts = [
        torch.zeros(p.numel(), dtype=p.dtype, device=p.device)
        if t is None
        else t.detach().reshape(-1)
        for t, p in zip(tensors, params, strict=True)
    ]
    return _host(torch.cat(parts))


def _host(flat: torch.Tensor) -> np.ndarray:
    """A float64 numpy copy (a new array: torch's tensors change in place)."""
    return flat.cpu().numpy().astype(np.float64)


def _read_before(step: int, optimizer: torch.optim.Optimizer, params: list[nn.Parameter]) -> dict:
    """What step `step` starts from: θ, the gradient, the group's settings, the state."""
    group = {k: v for k, v in optimizer.param_groups[0].items() if k != "params"}
    return {
        "step": step,
        "optimizer": type(optimizer).__name__,
        "hyper": {k: float(v) if isinstance(v, torch.Tensor) else v for k, v in group.items()},
        "theta_before": _flat(params, params),
        "gradient": _flat([p.grad for p in params], params),
        "state_before": _flat_state(optimizer, params),
    }


def _read_after(before: dict, optimizer, params: list[nn.Parameter], names) -> Anatomy:
    """The anatomy of the step that began at `before`, read once optimizer.step() returned."""
    found = Anatomy(
        **before,
        names=tuple(names),
        theta_after=_flat(params, params),
        state_after=_flat_state(optimizer, params),
    )
    return _with_parts(found)


def take_step(optimizer: torch.optim.Optimizer, model: nn.Module, step: int) -> Anatomy:
    """Call optimizer.step() once (gradients in place) and return that step's anatomy: for a
    hand-written loop over `model`, whose parameters make up the optimizer's first group."""
    params = list(model.parameters())
    before = _read_before(step, optimizer, params)
    optimizer.step()
    return _read_after(before, optimizer, params, theta_labels(model))


@dataclass
class _Capture:
    """on_step for explorer.training.train: reads the wanted steps before and after step()."""

    wanted: set[int]
    names: tuple[str, ...]
    found: dict[int, Anatomy] = field(default_factory=dict)
    _hooked: bool = False
    _before: dict | None = None

    def __call__(self, record_step: int, optimizer: torch.optim.Optimizer, model: nn.Module):
        if record_step + 1 not in self.wanted:
            return
        params = list(model.parameters())
        if not self._hooked:  # this optimizer's own hook: other runs are not seen
            optimizer.register_step_post_hook(lambda opt, args, kwargs: self._after(opt, params))
            self._hooked = True
        self._before = _read_before(record_step + 1, optimizer, params)

    def _after(self, optimizer: torch.optim.Optimizer, params: list[nn.Parameter]) -> None:
        before, self._before = self._before, None
        if before is not None:
            self.found[before["step"]] = _read_after(before, optimizer, params, self.names)


def _replay_budget() -> budgets.Budget:
    return budgets.Budget(
        budgets.CLICK_S, slots=budgets.HEAVY, what="this replay's", hint=REPLAY_HINT
    )


@budgets.unit(_replay_budget)  # or the caller's own budget; Cut (a ValueError) when spent
def replay(
    problem: Problem, steps: Iterable[int], records: Sequence[StepRecord] | None = None
) -> dict[int, Anatomy]:
    """{k: the anatomy of step k} for each wanted k the run reaches (1 ≤ k ≤ its steps).

    Trains problem's model in place (build a fresh one per replay). records: the run being
    explained; ValueError if the replay's parameters differ from them (not the same run).
    """
    cfg = problem.config
    wanted = {check_step(k, cfg.steps) for k in steps}
    capture = _Capture(wanted, tuple(theta_labels(problem.model)))
    last = max(wanted, default=0)
    by_step = {r.step: r for r in records or ()}
    for record in budgets.each(train(problem, on_step=capture)):
        seen = by_step.get(record.step)
        if seen is not None and not np.array_equal(seen.theta, record.theta):
            raise ValueError(
                f"the replay is not the run: its parameters differ at step {record.step}"
            )
        if record.step >= last:
            break
    return capture.found


def run_anatomy(
    config: TrainConfig,
    steps: Iterable[int],
    theta0: np.ndarray | None = None,
    records: Sequence[StepRecord] | None = None,
) -> dict[int, Anatomy]:
    """replay of the run of `config` (started at flat theta0 if given, as a Landscape click does)."""
    problem = build(config)
    if theta0 is not None:
        params = list(problem.model.parameters())
        flat = torch.as_tensor(np.asarray(theta0, dtype=np.float64), dtype=params[0].dtype)
        torch.nn.utils.vector_to_parameters(flat.to(params[0].device), params)
    return replay(problem, steps, records)


def check_step(step: object, steps: int) -> int:
    """step as an int in 1..steps; ValueError otherwise."""
    if isinstance(step, bool) or not isinstance(step, int | float | np.integer | np.floating):
        raise ValueError(f"a step is a whole number, got {step!r}")
    value = float(step)
    if not math.isfinite(value) or value != int(value) or not 1 <= value <= steps:
        raise ValueError(f"a step is a whole number from 1 to {steps}, got {step!r}")
    return int(value)


# The parts of each optimizer, from what was read


def _with_parts(a: Anatomy) -> Anatomy:
    reader = _READERS.get(a.optimizer)
    if reader is None:
        raise ValueError(f"no anatomy for optimizer {a.optimizer}")
    return replace(a, parts=tuple(reader(a)))


def _gradient(a: Anatomy) -> np.ndarray:
    """The gradient the optimizer used (negated for maximize, as torch does)."""
    return -a.gradient if a.hyper.get("maximize") else a.gradient


def _sgd(a: Anatomy) -> list[Part]:
    h, g, theta = a.hyper, _gradient(a), a.theta_before
    lr, mu, damp, wd = (float(h[k]) for k in ("lr", "momentum", "dampening", "weight_decay"))
    prev, buf = a.state_before.get("momentum_buffer"), a.state_after.get("momentum_buffer")
    carry = np.zeros_like(g)
    scale = 1.0
    if mu and buf is not None:
        if h.get("nesterov"):
            carry = -lr * mu * buf  # torch steps along d + μ·buf
        elif prev is not None:
            carry, scale = -lr * mu * prev, 1.0 - damp
    parts = [_gradient_part(a, g, -lr * scale * g)]
    parts += _decay_part(a, wd, -lr * scale * wd * theta, coupled=True)
    if mu and buf is not None:
        how = (
            "starts as the gradient"
            if prev is None
            else f"is {mu:g}·(the last buffer {_vec(a, prev)}) + {1 - damp:g}·(this gradient)"
        )
        parts.append(
            Part(
                "momentum",
                PARTS["momentum"],
                buf,
                f"The momentum buffer (momentum_buffer) {how}: {_vec(a, buf)}; carried over, it "
                f"moves θ by {_vec(a, carry)}.",
                carry,
            )
        )
    parts.append(_step_size_part(a, np.full_like(g, lr), f"lr = {lr:g} for every parameter"))
    return parts + [_update_part(a)]


def _adam(a: Anatomy) -> list[Part]:
    h, g, theta = a.hyper, _gradient(a), a.theta_before
    lr, eps, wd = float(h["lr"]), float(h["eps"]), float(h["weight_decay"])
    b1, b2 = (float(b) for b in h["betas"])
    decoupled = bool(h.get("decoupled_weight_decay", a.optimizer == "AdamW"))
    t = float(a.state_after["step"][0])
    m, m_prev = a.state_after["exp_avg"], a.state_before.get("exp_avg", np.zeros_like(g))
    amsgrad = bool(h.get("amsgrad")) and "max_exp_avg_sq" in a.state_after
    v = a.state_after["max_exp_avg_sq" if amsgrad else "exp_avg_sq"]
    bc1, bc2 = 1 - b1**t, 1 - b2**t
    rate = lr / bc1 / (np.sqrt(v) / math.sqrt(bc2) + eps)  # multiplies exp_avg
    coupled = 0.0 if decoupled else wd
    parts = [_gradient_part(a, g, -rate * (1 - b1) * g)]
    decay = -lr * wd * theta if decoupled else -rate * (1 - b1) * wd * theta
    parts += _decay_part(a, wd, decay, coupled=not decoupled)
    carry = -rate * b1 * m_prev
    grad_text = "(g + wd·θ)" if coupled else "g"
    parts.append(
        Part(
            "momentum",
            "First moment m",
            m,
            f"The first moment (exp_avg) decays by ×β1 = {b1:g} and takes {1 - b1:g}·{grad_text}: "
            f"m = {_vec(a, m)}; the part carried over from earlier steps moves θ by "
            f"{_vec(a, carry)}.",
            carry,
        )
    )
    name = "max_exp_avg_sq, the largest exp_avg_sq so far" if amsgrad else "exp_avg_sq"
    parts.append(
        Part(
            "second_moment",
            "Second moment v",
            v,
            f"The second moment ({name}) decays by ×β2 = {b2:g} and takes {1 - b2:g}·{grad_text}²: "
            f"v = {_vec(a, v)}.",
        )
    )
    parts.append(
        Part(
            "bias",
            PARTS["bias"],
            np.array([bc1, bc2]),
            f"At step t = {t:g} the bias corrections are 1 − β1^t = {bc1:.4g} and "
            f"1 − β2^t = {bc2:.4g}: m̂ = m / {bc1:.4g}, v̂ = v / {bc2:.4g}.",
        )
    )
    how = f"lr / (1 − β1^t) / (√v̂ + ε) with lr = {lr:g}, ε = {eps:g}"
    return parts + [_step_size_part(a, rate, how, "m"), _update_part(a)]


def _rmsprop(a: Anatomy) -> list[Part]:
    h, g, theta = a.hyper, _gradient(a), a.theta_before
    lr, alpha, eps = float(h["lr"]), float(h["alpha"]), float(h["eps"])
    mu, wd = float(h["momentum"]), float(h["weight_decay"])
    sq = a.state_after["square_avg"]
    centered = bool(h.get("centered")) and "grad_avg" in a.state_after
    mean_sq = sq - a.state_after["grad_avg"] ** 2 if centered else sq
    rate = lr / (np.sqrt(mean_sq) + eps)  # multiplies the gradient
    parts = [_gradient_part(a, g, -rate * g)]
    parts += _decay_part(a, wd, -rate * wd * theta, coupled=True)
    if mu > 0 and "momentum_buffer" in a.state_after:
        buf = a.state_after["momentum_buffer"]
        prev = a.state_before.get("momentum_buffer", np.zeros_like(g))
        carry = -lr * mu * prev
        parts.append(
            Part(
                "momentum",
                PARTS["momentum"],
                buf,
                f"The momentum buffer (momentum_buffer) is {mu:g}·(the last buffer) + g / (√v + ε): "
                f"{_vec(a, buf)}; carried over, it moves θ by {_vec(a, carry)}.",
                carry,
            )
        )
    what = "minus the squared mean gradient (grad_avg)" if centered else ""
    parts.append(
        Part(
            "second_moment",
            "Mean square v",
            mean_sq,
            f"The running mean of g² (square_avg{', ' + what if what else ''}) decays by "
            f"×α = {alpha:g}: v = {_vec(a, mean_sq)}.",
        )
    )
    how = f"lr / (√v + ε) with lr = {lr:g}, ε = {eps:g}"
    return parts + [_step_size_part(a, rate, how, "g"), _update_part(a)]


def _adagrad(a: Anatomy) -> list[Part]:
    h, g, theta = a.hyper, _gradient(a), a.theta_before
    lr, decay_lr, eps, wd = (float(h[k]) for k in ("lr", "lr_decay", "eps", "weight_decay"))
    t = float(a.state_after["step"][0])
    total = a.state_after["sum"]
    clr = lr / (1 + (t - 1) * decay_lr)
    rate = clr / (np.sqrt(total) + eps)
    parts = [_gradient_part(a, g, -rate * g)]
    parts += _decay_part(a, wd, -rate * wd * theta, coupled=True)
    parts.append(
        Part(
            "second_moment",
            "Sum of g²",
            total,
            f"The sum of every squared gradient so far (sum) is {_vec(a, total)} after t = {t:g} steps.",
        )
    )
    how = f"lr / (1 + (t − 1)·lr_decay) / (√sum + ε) with lr = {lr:g}, lr_decay = {decay_lr:g}"
    return parts + [_step_size_part(a, rate, how, "g"), _update_part(a)]


_READERS: dict[str, Callable[[Anatomy], list[Part]]] = {
    "SGD": _sgd,
    "Adam": _adam,
    "AdamW": _adam,
    "RMSprop": _rmsprop,
    "Adagrad": _adagrad,
}


# The parts every optimizer shares, and their sentences


def _gradient_part(a: Anatomy, g: np.ndarray, share: np.ndarray) -> Part:
    return Part(
        "gradient",
        PARTS["gradient"],
        g,
        f"The gradient at θ = {_vec(a, a.theta_before)} is ∇L = {_vec(a, g)}; its share of the "
        f"update is {_vec(a, share)}.",
        share,
    )


def _decay_part(a: Anatomy, wd: float, share: np.ndarray, *, coupled: bool) -> list[Part]:
    if not wd:
        return []
    how = (
        f"adds wd·θ = {_vec(a, wd * a.theta_before)} to the gradient (wd = {wd:g})"
        if coupled
        else f"shrinks θ by lr·wd·θ (decoupled, wd = {wd:g})"
    )
    return [
        Part(
            "weight_decay",
            PARTS["weight_decay"],
            share,
            f"Weight decay {how}; its share of the update is {_vec(a, share)}.",
            share,
        )
    ]


def _step_size_part(a: Anatomy, rate: np.ndarray, how: str, times: str = "the gradient") -> Part:
    return Part(
        "step_size",
        PARTS["step_size"],
        rate,
        f"Each parameter's step size is {how}: {_vec(a, rate)} (it multiplies {times}).",
    )


def _update_part(a: Anatomy) -> Part:
    return Part(
        "update",
        PARTS["update"],
        a.delta,
        f"So θ moves by Δθ = {_vec(a, a.delta)}, from {_vec(a, a.theta_before)} to "
        f"{_vec(a, a.theta_after)}.",
    )


def number(x: float) -> str:
    """A number as the sentences write it (4 significant digits)."""
    return f"{x:.4g}"


def _vec(a: Anatomy, v: np.ndarray) -> str:
    """Every entry when there are few, else the norm and the largest entry by name."""
    v = np.asarray(v, dtype=np.float64)
    if v.size <= NAMED:
        return "(" + ", ".join(number(x) for x in v) + ")"
    i = int(np.nanargmax(np.abs(v))) if np.isfinite(v).any() else 0
    return f"‖·‖ {number(float(np.linalg.norm(v)))}, largest {a.names[i]} = {number(float(v[i]))}"


# What a page shows

SETTINGS = (
    "lr",
    "momentum",
    "dampening",
    "nesterov",
    "betas",
    "eps",
    "alpha",
    "centered",
    "amsgrad",
    "lr_decay",
    "weight_decay",
)  # the group settings a summary names, in this order
TABLE_COLUMNS = 8  # parameters a table shows (the largest entries of the update beyond that)


def summary(a: Anatomy) -> str:
    """One line: which step, which optimizer with which settings."""
    settings = ", ".join(
        f"{k} = {_setting(a.hyper[k])}" for k in SETTINGS if k in a.hyper and a.hyper[k] is not None
    )
    return f"Step {a.step} ({a.optimizer}: {settings}) takes θ from step {a.step - 1} to step {a.step}."


def _setting(v: object) -> str:
    if isinstance(v, tuple | list):
        return "(" + ", ".join(_setting(x) for x in v) + ")"
    return f"{v:g}" if isinstance(v, float) else str(v)


def parts_table(a: Anatomy, columns: int = TABLE_COLUMNS) -> pd.DataFrame:
    """The per-parameter parts as rows, one column per parameter (the `columns` parameters that
    move most, in theta order, when there are more). Scalar parts (the bias corrections) are
    in their sentences only."""
    size = a.delta.size
    keep = np.arange(size)
    if size > columns:
        keep = np.sort(np.argsort(-np.abs(a.delta), kind="stable")[:columns])
    rows = [
        {"part": p.label, **{a.names[i]: float(p.values[i]) for i in keep}}
        for p in a.parts
        if p.values.size == size
    ]
    return pd.DataFrame(rows)
