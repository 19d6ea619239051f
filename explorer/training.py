"""The training loop as a generator of step records (`train`), and the problem it trains (`build`).
It never prints or draws."""

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import torch
from torch import nn

from explorer.data import (
    N_RANGE,
    NOISE_RANGE,
    OUTLIER_RANGE,
    Dataset,
    DataSpec,
    clamp_number,
    datasets_for,
    make_dataset,
    trains_on,
)
from explorer.devices import check_device, select_device
from explorer.divergence import Watch, explain
from explorer.losses import LOSSES, LossSpec, get_loss
from explorer.models import (
    ACTIVATIONS,
    MODELS,
    clamp_hidden,
    make_model,
    straight_through_mode,
    theta_labels,
)
from explorer.objective import Objective, objective
from explorer.optimizers import OPTIMIZERS, check_optimizer_params, make_optimizer
from explorer.schedules import check_schedule_params, make_scheduler
from explorer.user_data import UserData, data_spec

LR_RANGE = (1e-6, 10.0)
STEPS_RANGE = (1, 5000)
BATCH_RANGE = (1, N_RANGE[1])
BLOW_UP = 1e6  # a run diverged once |loss| > BLOW_UP × max(|initial loss|, 1)


@dataclass
class TrainConfig:
    """Everything that defines a run; `validate()` gives a clamped copy or raises ValueError."""

    dataset: str = "line"  # a key of explorer.data.DATASETS
    n: int = 200  # number of points, clamped to [8, 5000]
    noise: float = 0.1  # data noise, clamped to [0, 5]
    outlier_frac: float = 0.0  # fraction of outliers / flipped labels, clamped to [0, 0.5]
    model: str = "line"  # a key of explorer.models.MODELS
    hidden: tuple[int, ...] = (16,)  # MLP hidden widths, each in [1, 256], at most 4 layers
    activation: str = "tanh"  # MLP activation, one of ACTIVATIONS
    straight_through: bool | str = False  # step backward: False, True/"identity", "clipped"
    loss: str = "mse"  # a key of LOSSES, or "expr:<text>"
    loss_params: dict = field(default_factory=dict)  # the loss's parameters; missing = default
    optimizer: str = "sgd"  # one of OPTIMIZERS
    optimizer_params: dict = field(default_factory=dict)  # torch.optim keywords; missing = default
    lr: float = 0.05  # learning rate, clamped to [1e-6, 10]
    schedule: str = "constant"  # one of explorer.schedules.SCHEDULES
    schedule_params: dict = field(default_factory=dict)  # the schedule's; missing = default
    steps: int = 200  # optimizer steps, clamped to [1, 5000]
    batch_size: int | None = None  # None = full batch, else clamped to [1, 5000]
    seed: int = 0  # seeds the data, the initial parameters and the mini-batch order
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "mps"
    user_data: UserData | None = None  # your points when dataset is their key ("yours:…")

    def validate(self, spec: LossSpec | None = None) -> "TrainConfig":
        """A copy with every number clamped; ValueError for unknown names or a loss/data mismatch.

        `spec`: the loss already resolved (saves parsing a formula again)."""
        data = data_spec(self.dataset, self.user_data)
        _check_name("model", self.model, MODELS)
        _check_name("optimizer", self.optimizer, OPTIMIZERS)
        _check_name("activation", self.activation, ACTIVATIONS)
        check_device(self.device)
        if spec is not None and spec.key != self.loss:
            raise ValueError(f"spec {spec.key!r} is not the config's loss {self.loss!r}")
        spec = spec or get_loss(self.loss)
        check_fit(spec, data, self.model)
        hidden = (self.hidden,) if isinstance(self.hidden, int | float) else self.hidden
        batch = self.batch_size
        return replace(
            self,
            n=int(clamp_number(self.n, *N_RANGE, 200)),
            noise=clamp_number(self.noise, *NOISE_RANGE, 0.1),
            outlier_frac=clamp_number(self.outlier_frac, *OUTLIER_RANGE, 0.0),
            hidden=clamp_hidden(hidden),
            straight_through=straight_through_mode(self.straight_through),
            loss_params=spec.clamp(dict(self.loss_params)),
            optimizer_params=check_optimizer_params(self.optimizer, self.optimizer_params),
            lr=clamp_number(self.lr, *LR_RANGE, 0.05),
            schedule_params=check_schedule_params(self.schedule, self.schedule_params),
            steps=int(clamp_number(self.steps, *STEPS_RANGE, 200)),
            batch_size=None if batch is None else int(clamp_number(batch, *BATCH_RANGE, 32)),
            seed=int(clamp_number(self.seed, 0, 2**32 - 1, 0)),
        )


def losses_for_data(dataset: str | DataSpec) -> list[str]:
    """Catalogue keys of the losses that can train on this data set (a DATASETS key or a spec)."""
    task = data_spec(dataset).task
    return [key for key, spec in LOSSES.items() if trains_on(spec.task, task)]


def _check_name(kind: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {kind} {value!r}; allowed: {', '.join(allowed)}")


def check_fit(spec: LossSpec, dataset: str | DataSpec, model: str) -> None:
    """ValueError unless the loss can train on the data set and the model takes its inputs."""
    data = data_spec(dataset)
    dataset = data.key
    if not trains_on(spec.task, data.task):
        raise ValueError(
            f"loss {spec.key!r} needs {spec.task} data; {dataset!r} is {data.task} "
            f"(suitable: {', '.join(datasets_for(spec.task))})"
        )
    if MODELS[model].in_dim not in (None, data.in_dim):
        raise ValueError(
            f"model {model!r} needs {MODELS[model].in_dim}-D inputs; {dataset!r} is {data.in_dim}-D"
        )


@dataclass(frozen=True)
class Problem:
    """A run's problem, built once: the validated config, data and seeded model on the config's
    device, the resolved loss, and L(θ) (`objective(model)`; `objective(model, index)` on a batch)."""

    config: TrainConfig
    dataset: Dataset
    model: nn.Module
    spec: LossSpec
    objective: Objective
    device: torch.device


def build(config: TrainConfig, spec: LossSpec | None = None) -> Problem:
    """The problem of a config: data, model and objective on its device; the loss resolved once
    (pass `spec` when the caller already holds it)."""
    cfg = config.validate(spec)
    spec = spec or get_loss(cfg.loss)
    device, _ = select_device(cfg.device)
    if cfg.user_data is not None and cfg.dataset == cfg.user_data.key:
        dataset = cfg.user_data.dataset().to(device)
    else:
        dataset = make_dataset(
            cfg.dataset, n=cfg.n, seed=cfg.seed, noise=cfg.noise, outlier_frac=cfg.outlier_frac
        ).to(device)
    out_dim = dataset.n_classes if spec.task == "multiclass" else 1
    model = make_model(
        cfg.model,
        in_dim=dataset.in_dim,
        out_dim=out_dim,
        hidden=cfg.hidden,
        activation=cfg.activation,
        straight_through=cfg.straight_through,
        seed=cfg.seed,
    ).to(device)
    return Problem(cfg, dataset, model, spec, objective(dataset, spec, cfg.loss_params), device)


@dataclass
class StepRecord:
    """One row of a run: theta after `step` updates, with the loss and gradient norm there."""

    step: int
    loss: float  # full-data loss at theta
    grad_norm: float  # ‖∇‖₂ of the (mini-batch) loss at theta: the gradient of the next update
    theta: np.ndarray  # all parameters, flat float64
    elapsed_s: float  # seconds since training started
    stop: str | None = None  # why the run ended early ("diverged: ..."), else None


OnStep = Callable[[int, torch.optim.Optimizer, nn.Module], None]  # see train's on_step


def _batches(n: int, batch_size: int | None, gen: torch.Generator) -> Iterator[torch.Tensor | None]:
    """Endless mini-batch indices: a fresh seeded permutation each epoch; None for full batch."""
    while True:
        if batch_size is None or batch_size >= n:
            yield None
        else:
            yield from torch.randperm(n, generator=gen).split(batch_size)


def _stop_reason(step: int, loss: float, grad_norm: float, initial: float) -> str | None:
    """Why the run stops at this step, or None. At step 0 no update has been made, so a NaN or
    infinite loss (gradient) there is the loss's own at the initial parameters, not a divergence."""
    if step == 0 and not (math.isfinite(loss) and math.isfinite(grad_norm)):
        bad = loss if not math.isfinite(loss) else grad_norm
        shown, what = ("NaN", "undefined") if math.isnan(bad) else (f"{bad}", "infinite")
        if not math.isfinite(loss):
            return (
                f"the loss is {shown} at step 0 (before any update): the formula is {what} "
                "at the initial parameters"
            )
        return (
            f"the gradient is {shown} at step 0 (before any update): the loss has no finite "
            "gradient at the initial parameters"
        )
    if not math.isfinite(loss):
        return f"diverged: loss became {loss} at step {step}"
    if not math.isfinite(grad_norm):
        return f"diverged: gradient became {grad_norm} at step {step}"
    limit = BLOW_UP * max(abs(initial), 1.0)
    if loss > limit:
        return f"diverged: loss grew past {BLOW_UP:g} × its initial value at step {step}"
    if loss < -limit:
        return (
            f"diverged: loss fell below −{BLOW_UP:g} × max(|initial loss|, 1) = −{limit:g} "
            f"at step {step}"
        )
    return None


def train(config: TrainConfig | Problem, on_step: OnStep | None = None) -> Iterator[StepRecord]:
    """Yield step 0 (initial parameters), then one record per optimizer step; stop early on
    divergence. Given a Problem, trains its model in place (build it again for a fresh run).

    on_step(step, optimizer, model), if given, is called after record `step` is yielded and
    right before the optimizer.step() that makes step + 1 (the gradient is in place)."""
    problem = config if isinstance(config, Problem) else build(config)
    cfg, model, loss_of, n = problem.config, problem.model, problem.objective, len(problem.dataset)
    theta_buf, grad_buf = _flatten_(list(model.parameters()))
    optimizer = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr, cfg.optimizer_params)
    scheduler = make_scheduler(cfg.schedule, optimizer, cfg.steps, cfg.schedule_params)
    batches = _batches(n, cfg.batch_size, torch.Generator().manual_seed(cfg.seed))
    t0, initial, watch = time.perf_counter(), None, Watch()
    for step in range(cfg.steps + 1):
        index = next(batches)
        grad_buf.zero_()
        loss = loss_of(model, None if index is None else index.to(problem.device))
        if loss.requires_grad:
            loss.backward()
        if index is not None:
            with torch.no_grad():
                loss = loss_of(model)
        value, theta, grad = loss.item(), _host(theta_buf), _host(grad_buf)
        grad_norm = float(np.sqrt(grad @ grad))
        initial = value if initial is None else initial
        watch.see(step, value, theta, optimizer)
        stop = _stop_reason(step, value, grad_norm, initial)
        if stop and stop.startswith("diverged"):
            stop = f"{stop}. {explain(problem, watch)}".strip()
        yield StepRecord(step, value, grad_norm, theta, time.perf_counter() - t0, stop)
        if stop or step == cfg.steps:
            return
        if on_step is not None:
            on_step(step, optimizer, model)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()


def _flatten_(params: list[nn.Parameter]) -> tuple[torch.Tensor, torch.Tensor]:
    """Re-seat every parameter and its gradient as views of two flat buffers (theta, ∇theta).

    Backward accumulates into existing gradients in place, so after each step the buffers hold
    theta and the gradient without gathering them tensor by tensor.
    """
    with torch.no_grad():
        theta = torch.cat([p.reshape(-1) for p in params])
        grad = torch.zeros_like(theta)
        start = 0
        for p in params:
            p.data = theta[start : start + p.numel()].view_as(p)
            p.grad = grad[start : start + p.numel()].view_as(p)
            start += p.numel()
    return theta, grad


def _host(flat: torch.Tensor) -> np.ndarray:
    """A float64 numpy copy of a flat tensor."""
    return flat.detach().cpu().numpy().astype(np.float64)


def history_frame(records: list[StepRecord], names: list[str] | None = None) -> pd.DataFrame:
    """Records as a table: step, loss, grad_norm, elapsed_s, stop, then one column per theta entry."""
    base = pd.DataFrame(
        [(r.step, r.loss, r.grad_norm, r.elapsed_s, r.stop) for r in records],
        columns=["step", "loss", "grad_norm", "elapsed_s", "stop"],
    )
    if not records:
        return base
    thetas = np.stack([r.theta for r in records])
    names = names or [f"theta[{i}]" for i in range(thetas.shape[1])]
    return pd.concat([base, pd.DataFrame(thetas, columns=names)], axis=1)


def run_to_end(config: TrainConfig) -> pd.DataFrame:
    """Train to completion; the history as a DataFrame with theta columns labelled by parameter."""
    problem = build(config)
    return history_frame(list(train(problem)), theta_labels(problem.model))
