"""Fair races: each run's learning rate tuned on a log grid first, all rates trained at once.

The grid of one problem is ONE batched training run: K = runs × rates copies of the initial
parameters, rows of one (K, P) tensor; one forward (explorer.landscape.batched.BatchedLoss) gives
the K losses, and one backward of their sum gives each copy its own gradient (the rows do not
mix). Each run's optimizer holds its rates as param groups, one copy a group with its own "lr":
torch's optimizers are elementwise within a group, so every copy takes exactly the steps a run
of its own would take. Every copy sees the same mini-batches, in the order explorer.training
draws them for the config's seed.
"""

import importlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
import torch
from torch import nn

from explorer.budget import checkpoint
from explorer.landscape.batched import BatchedLoss
from explorer.models import flat_params
from explorer.optimizers import make_optimizer
from explorer.training import BLOW_UP, LR_RANGE, TrainConfig, _batches, build

TAIL = 0.1  # the criterion averages the loss over this last share of the steps
RATES = 12  # rates a grid, by default
GRID_RANGE = (1e-3, 3.0)  # the default grid's lowest and highest rate
COUNT_RANGE = (2, 24)
TIE = 1e-6  # criteria within this relative gap are a tie (float32 rounding), settled by the
# mean over all steps
CHECK_EVERY = 16  # steps between budget checks
# a run's own settings: everything else in a config is the problem, shared by the whole grid
OWN_FIELDS = ("optimizer", "lr", "optimizer_params", "schedule", "schedule_params")
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power(x: float) -> str:
    """A power of ten as text: 1e6 → "10⁶"."""
    return "10" + str(round(math.log10(x))).translate(_SUPERSCRIPT)


CRITERION = (
    f"the mean full-data loss over the last {TAIL:.0%} of the steps (lower is better); a run "
    f"whose loss becomes non-finite or grows past {_power(BLOW_UP)} × max(|initial loss|, 1) is out; "
    f"criteria within a relative {_power(TIE)} of each other are a tie, won by the lower mean loss over "
    "all steps"
)


def lr_grid(low: float = GRID_RANGE[0], high: float = GRID_RANGE[1], count: int = RATES):
    """`count` learning rates evenly spaced in log between low and high (clamped to LR_RANGE),
    each to 3 significant digits; a tuple."""
    values = [float(v) for v in (low, high)]
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"a learning-rate grid needs finite positive ends, got {low!r}, {high!r}")
    lo, hi = (min(max(v, LR_RANGE[0]), LR_RANGE[1]) for v in sorted(values))
    if not lo < hi:
        raise ValueError(f"a learning-rate grid needs low < high inside {LR_RANGE}")
    n = int(min(max(int(count), COUNT_RANGE[0]), COUNT_RANGE[1]))
    return tuple(float(f"{v:.3g}") for v in np.geomspace(lo, hi, n))


@dataclass(frozen=True)
class Tuning:
    """The grid's outcome: losses[i, j, t] of run names[i] at rates[j] after t steps."""

    names: tuple[str, ...]
    rates: tuple[float, ...]
    losses: np.ndarray  # (runs, rates, steps + 1), float64
    scores: np.ndarray  # (runs, rates): the criterion; NaN where the run is out
    best: tuple[float | None, ...]  # each run's tuned rate (None: every rate was out)
    criterion: str = CRITERION

    def best_rate(self, name: str) -> float | None:
        return self.best[self.names.index(name)]

    def rows(self) -> list[dict[str, object]]:
        """One table row a run: its tuned rate, the criterion there, how many rates were out."""
        table: list[dict[str, object]] = []
        for i, name in enumerate(self.names):
            best = self.best[i]
            score = None if best is None else float(self.scores[i, self.rates.index(best)])
            out = int(np.isnan(self.scores[i]).sum())
            table.append(
                {
                    "run": name,
                    "tuned learning rate": best,
                    "criterion at that rate": score,
                    "rates out (diverged)": f"{out} of {len(self.rates)}",
                }
            )
        return table


def problem_key(config: TrainConfig) -> tuple:
    """What a config's grid shares with others': every field but the run's own settings."""
    return tuple(
        (f.name, repr(getattr(config, f.name))) for f in fields(config) if f.name not in OWN_FIELDS
    )


def scores(losses: np.ndarray, steps: int) -> np.ndarray:
    """The criterion of each run (…, steps + 1): the tail mean, NaN where the run is out."""
    m = max(1, math.ceil(TAIL * steps))
    initial = np.abs(losses[..., :1])
    limit = BLOW_UP * np.maximum(initial, 1.0)
    out = ~np.all(np.isfinite(losses) & (np.abs(losses) <= limit), axis=-1)
    with np.errstate(invalid="ignore", over="ignore"):
        tail = losses[..., -m:].mean(axis=-1)
    return np.where(out, np.nan, tail)


def _pick(losses: np.ndarray, score: np.ndarray) -> int | None:
    """Index of the best rate of one run (see CRITERION), None if every rate is out."""
    ok = np.flatnonzero(~np.isnan(score))
    if ok.size == 0:
        return None
    top = score[ok].min()
    tied = ok[score[ok] <= top + TIE * max(abs(top), 1e-300)]
    return int(tied[np.argmin(losses[tied].mean(axis=-1))])


def best_rates(losses: np.ndarray, rates: Sequence[float]) -> tuple[float | None, ...]:
    """Each run's best rate by CRITERION from its losses (runs, rates, steps + 1); None where
    every rate is out."""
    score = scores(losses, losses.shape[-1] - 1)
    picks = [_pick(losses[i], score[i]) for i in range(len(losses))]
    return tuple(None if j is None else float(rates[j]) for j in picks)


def _optimizer(
    config: TrainConfig,
    params: Sequence[nn.Parameter],
    rates: Sequence[float],
    foreach: bool | None = None,
):
    """config's optimizer over one param group a copy, each with its own rate (and torch's
    `foreach` choice, if given); its scheduler, None for a constant rate."""
    groups: list[dict] = [
        {"params": [p], "lr": float(r)} for p, r in zip(params, rates, strict=True)
    ]
    if foreach is not None:
        for group in groups:
            group["foreach"] = foreach
    extra = getattr(config, "optimizer_params", None)
    opt = make_optimizer(config.optimizer, groups, float(rates[0]), extra)
    schedule = getattr(config, "schedule", "constant")
    if schedule == "constant":
        return opt, None
    schedules = importlib.import_module("explorer.schedules")  # only for configs with a schedule
    options = getattr(config, "schedule_params", {})
    return opt, schedules.make_scheduler(schedule, opt, config.steps, options)


def _copies(theta: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, list[nn.Parameter]]:
    """A (k, P) leaf of k copies of theta, its .grad, and k parameters viewing their rows (their
    .data and .grad are the rows: an optimizer's in-place update moves the big tensor, and
    backward accumulates into the big gradient in place)."""
    rows = theta.detach().repeat(k, 1).requires_grad_(True)
    grad = rows.grad = torch.zeros_like(rows)
    params = []
    for i in range(k):
        p = nn.Parameter(torch.empty(0, dtype=rows.dtype, device=rows.device))
        p.data, p.grad = rows.data[i], grad[i]
        params.append(p)
    return rows, grad, params


def grid_losses(
    configs: Sequence[TrainConfig],
    rates: Sequence[float],
    dtype: torch.dtype = torch.float32,
    foreach: bool | None = None,
) -> np.ndarray:
    """Losses (runs, rates, steps + 1) of every config at every rate, trained as one batch.

    The configs share one problem (problem_key) and step count; each brings its optimizer
    (foreach: torch's implementation choice, default torch's own)."""
    if not configs or not rates:
        raise ValueError("a tuning grid needs at least one run and one rate")
    configs = [c.validate() for c in configs]
    base = configs[0]
    if any(problem_key(c) != problem_key(base) for c in configs):
        raise ValueError("one tuning grid trains one problem: the configs differ beyond the run")
    problem = build(base)
    model = problem.model.to(dtype=dtype)
    obj = problem.objective.to(problem.device, dtype)
    full = BatchedLoss(model, obj)
    r = len(rates)
    theta = torch.as_tensor(flat_params(model), dtype=dtype, device=problem.device)
    rows, grad, params = _copies(theta, len(configs) * r)
    stepping = [
        _optimizer(c, params[i * r : (i + 1) * r], rates, foreach) for i, c in enumerate(configs)
    ]
    batches = _batches(len(obj.x), base.batch_size, torch.Generator().manual_seed(base.seed))
    losses = torch.empty(base.steps + 1, rows.shape[0], dtype=dtype, device=problem.device)
    for step in range(base.steps + 1):
        if step % CHECK_EVERY == 0:
            checkpoint()  # the running unit of heavy work may end here (explorer.budget.Cut)
        index = next(batches)
        grad.zero_()
        part = full if index is None else BatchedLoss(model, obj.subset(index.to(obj.x.device)))
        loss = part(rows)
        if loss.requires_grad:
            loss.sum().backward()
        if index is not None:
            with torch.no_grad():
                loss = full(rows)
        losses[step] = loss.detach()
        if step == base.steps:
            break
        for opt, scheduler in stepping:
            opt.step()
            if scheduler is not None:
                scheduler.step()
    out = losses.T.to("cpu", torch.float64).numpy()
    return out.reshape(len(configs), r, base.steps + 1)


def tune(
    configs: Mapping[str, TrainConfig],
    rates: Sequence[float] | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tuning:
    """Every run's learning rate tuned on `rates` (default lr_grid()); runs that share a problem
    (e.g. raced optimizers) train as one batch, a raced loss as another."""
    rates = tuple(float(v) for v in (rates or lr_grid()))
    if not all(math.isfinite(v) and v > 0 for v in rates):
        raise ValueError("learning rates must be finite and positive")
    names = tuple(configs)
    groups: dict[tuple, list[str]] = {}
    for name in names:
        groups.setdefault(problem_key(configs[name].validate()), []).append(name)
    steps = {configs[n].validate().steps for n in names}
    if len(steps) != 1:
        raise ValueError(f"a tuned race needs one step count for every run, got {sorted(steps)}")
    losses = np.full((len(names), len(rates), steps.pop() + 1), np.nan)
    for members in groups.values():
        part = grid_losses([configs[n] for n in members], rates, dtype)
        for name, block in zip(members, part, strict=True):
            losses[names.index(name)] = block
    return Tuning(
        names, rates, losses, scores(losses, losses.shape[-1] - 1), best_rates(losses, rates)
    )


def tuned_configs(configs: Mapping[str, TrainConfig], tuning: Tuning) -> dict[str, TrainConfig]:
    """The configs with each run's tuned rate (a run with none keeps its own)."""
    out = {}
    for name, cfg in configs.items():
        best = tuning.best_rate(name) if name in tuning.names else None
        out[name] = cfg if best is None else replace(cfg, lr=best)
    return out
