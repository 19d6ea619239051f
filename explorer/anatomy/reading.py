"""Reading torch's optimizer state around optimizer.step(), live (take_step) or in a replay."""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from explorer import budget as budgets
from explorer.anatomy.parts import with_parts
from explorer.anatomy.step import Anatomy
from explorer.models import theta_labels
from explorer.training import Problem, StepRecord, TrainConfig, build, train

REPLAY_HINT = "choose fewer steps or a smaller model"


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
    return with_parts(found)


def take_step(optimizer: torch.optim.Optimizer, model: nn.Module, step: int) -> Anatomy:
    """Call optimizer.step() once (gradients in place) and return that step's anatomy: for a
    hand-written loop over `model`, whose parameters make up the optimizer's first group."""
    params = list(model.parameters())
    before = _read_before(step, optimizer, params)
    optimizer.step()
    return _read_after(before, optimizer, params, theta_labels(model))


@dataclass
class Capture:
    """on_step for explorer.training.train: reads the wanted steps' state before and after
    optimizer.step() into `found` {step: Anatomy}, while the run trains (no replay)."""

    wanted: set[int]
    found: dict[int, Anatomy] = field(default_factory=dict)
    _names: tuple[str, ...] = ()
    _hooked: bool = False
    _before: dict | None = None

    def __call__(self, record_step: int, optimizer: torch.optim.Optimizer, model: nn.Module):
        if record_step + 1 not in self.wanted:
            return
        params = list(model.parameters())
        if not self._hooked:  # this optimizer's own hook: other runs are not seen
            self._names = tuple(theta_labels(model))
            optimizer.register_step_post_hook(lambda opt, args, kwargs: self._after(opt, params))
            self._hooked = True
        self._before = _read_before(record_step + 1, optimizer, params)

    def _after(self, optimizer: torch.optim.Optimizer, params: list[nn.Parameter]) -> None:
        before, self._before = self._before, None
        if before is not None:
            self.found[before["step"]] = _read_after(before, optimizer, params, self._names)


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
    capture = Capture(wanted)
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
