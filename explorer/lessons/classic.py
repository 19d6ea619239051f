"""Two classic lessons, not from the seeds: the 0-1 loss and the step activation.

Their buggy code is shown as written here (the catalogue's 0-1 loss, `hard_step`); each run
trains both versions live with `explorer.training` and reports what happened.
"""

from __future__ import annotations

import torch

from explorer import models
from explorer.doctor import diagnose_callable, diagnose_loss
from explorer.doctor.findings import fmt
from explorer.lessons.kit import Lesson, LessonResult, grad_text, history, mlp_net, seeded, source
from explorer.losses import LOSSES, classification
from explorer.models import load_flat_params
from explorer.training import TrainConfig, build, train

SEED_ID = "classic"


def hard_step(x: torch.Tensor) -> torch.Tensor:
    """The classic step activation H(x) = [x > 0]: its derivative is 0 wherever it exists."""
    return (x > 0).to(x.dtype)


def run_config(**options) -> tuple[list, TrainConfig]:
    """All records of one training run on the CPU (explorer.training), and its config."""
    config = TrainConfig(device="cpu", **options)
    return list(train(config)), config


def zero_one_errors(config: TrainConfig, records: list) -> list[float]:
    """Fraction misclassified by the config's model at each record's parameters."""
    problem = build(config)
    data, model = problem.dataset, problem.model
    truth = data.y > 0
    with torch.no_grad():
        return [
            float(((load_flat_params(model, r.theta)(data.x) > 0) != truth).float().mean())
            for r in records
        ]


@seeded
def run_zero_one_vs_sigmoid() -> LessonResult:
    common = {
        "dataset": "moons",
        "model": "logistic",
        "optimizer": "sgd",
        "lr": 0.5,
        "steps": 60,
        "seed": 3,
    }
    hard, hard_cfg = run_config(loss="zero_one", **common)
    soft, soft_cfg = run_config(loss="sigmoid_margin", loss_params={"k": 5.0}, **common)
    soft_errors = zero_one_errors(soft_cfg, soft)
    buggy = (
        f"Training on the 0-1 loss: gradient norm {fmt([r.grad_norm for r in hard[:3]])} …; the "
        f"parameters never move, the error stays {hard[0].loss:.3g} → {hard[-1].loss:.3g}."
    )
    fixed = (
        f"sigmoid(−k·y·ŷ) with k = 5: gradient norm {soft[0].grad_norm:.3g} at the start; the 0-1 "
        f"error goes {soft_errors[0]:.3g} → {soft_errors[-1]:.3g}."
    )
    findings = diagnose_loss(LOSSES["zero_one"])
    problem = build(hard_cfg)
    data, model, spec = problem.dataset, problem.model, problem.spec
    target = torch.where(data.y > 0, 1.0, -1.0)
    findings += diagnose_callable(spec.fn, model(data.x), target, model=model)
    series = {
        "trained on the 0-1 loss": [r.loss for r in hard],
        "trained on sigmoid(−k·y·ŷ)": soft_errors,
    }
    figure = history("0-1 error", series)
    return LessonResult(buggy, fixed, findings, figure)


@seeded
def run_step_activation() -> LessonResult:
    common: dict[str, str | float] = {
        "dataset": "moons",
        "model": "mlp",
        "activation": "step",
        "loss": "bce_logits",
    }
    common |= {"optimizer": "adam", "lr": 0.05, "steps": 100, "seed": 0}
    step, step_cfg = run_config(**common)
    ste, _ = run_config(straight_through="clipped", **common)
    problem = build(step_cfg)
    data, model, spec = problem.dataset, problem.model, problem.spec
    pred = model(data.x)
    spec.fn(pred, data.y).backward()
    buggy = (
        f"H(x) = [x > 0] has derivative 0: after backward, {grad_text(dict(mlp_net(model)[0].named_parameters(prefix='net.0')))}. "
        f"Only the output layer learns: loss {step[0].loss:.3g} → {step[-1].loss:.3g} in 100 Adam steps."
    )
    fixed = (
        "straight-through estimator (clipped: the backward passes g where |x| ≤ 1, as if H(x) were "
        f"x there): the first layer learns too; loss {ste[0].loss:.3g} → {ste[-1].loss:.3g}."
    )
    problem = build(step_cfg)
    data, model, spec = problem.dataset, problem.model, problem.spec
    findings = diagnose_callable(spec.fn, model(data.x), data.y, model=model)
    figure = history(
        "BCE loss",
        {
            "step activation": [r.loss for r in step],
            "straight-through (clipped)": [r.loss for r in ste],
        },
    )
    return LessonResult(buggy, fixed, findings, figure)


ZERO_ONE_VS_SIGMOID = Lesson(
    "zero_one_vs_sigmoid",
    "The 0-1 loss versus sigmoid(−k·y·ŷ)",
    "The 0-1 loss is a step of the margin: zero gradient wherever it exists; its sigmoid twin trains.",
    SEED_ID,
    source(classification.zero_one),
    source(classification.sigmoid_margin),
    run_zero_one_vs_sigmoid,
)
STEP_ACTIVATION = Lesson(
    "step_activation",
    "A step activation inside a model",
    "A hard step in a hidden layer blocks the gradient to every layer before it; a straight-through estimator passes it.",
    SEED_ID,
    source(hard_step),
    source(models.StepFunction),
    run_step_activation,
)
