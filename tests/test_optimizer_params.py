"""Optimizer hyper-parameters: explorer's runs equal hand-written torch.optim loops (float64),
defaults are torch's, bad values are refused or clamped, races keep each optimizer's own."""

import copy
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from explorer.optimizers import (
    OPTIMIZER_PARAMS,
    OPTIMIZERS,
    check_optimizer_params,
    make_optimizer,
    optimizer_text,
)
from explorer.race import race_configs, run_name
from explorer.training import TrainConfig, build, train

SAME = 1e-7  # parameters after each step, float64 explorer run vs float64 hand loop
STEPS = 25
SGD, ADAM, ADAMW, RMSPROP, ADAGRAD = (
    torch.optim.SGD,
    torch.optim.Adam,
    torch.optim.AdamW,
    torch.optim.RMSprop,
    torch.optim.Adagrad,
)

# (explorer optimizer, explorer params, the torch class and keywords a reader would write by hand)
CASES = [
    ("sgd", {}, SGD, {}),
    ("sgd", {"momentum": 0.5, "dampening": 0.2, "weight_decay": 0.05}, SGD, {"momentum": 0.5, "dampening": 0.2, "weight_decay": 0.05}),
    ("momentum", {}, SGD, {"momentum": 0.9}),
    ("momentum", {"momentum": 0.7, "nesterov": True}, SGD, {"momentum": 0.7, "nesterov": True}),
    ("nesterov", {}, SGD, {"momentum": 0.9, "nesterov": True}),
    ("nesterov", {"momentum": 0.3, "weight_decay": 0.1}, SGD, {"momentum": 0.3, "nesterov": True, "weight_decay": 0.1}),
    ("adam", {}, ADAM, {}),
    ("adam", {"betas": (0.5, 0.9), "eps": 1e-6, "weight_decay": 0.01, "amsgrad": True}, ADAM, {"betas": (0.5, 0.9), "eps": 1e-6, "weight_decay": 0.01, "amsgrad": True}),
    ("adamw", {}, ADAMW, {"weight_decay": 0.01}),
    ("adamw", {"betas": (0.8, 0.99), "weight_decay": 0.2, "amsgrad": True}, ADAMW, {"betas": (0.8, 0.99), "weight_decay": 0.2, "amsgrad": True}),
    ("rmsprop", {}, RMSPROP, {}),
    ("rmsprop", {"alpha": 0.9, "eps": 1e-6, "weight_decay": 0.01, "momentum": 0.5, "centered": True}, RMSPROP, {"alpha": 0.9, "eps": 1e-6, "weight_decay": 0.01, "momentum": 0.5, "centered": True}),
    ("adagrad", {}, ADAGRAD, {}),
    ("adagrad", {"lr_decay": 0.05, "weight_decay": 0.01, "initial_accumulator_value": 0.1, "eps": 1e-8}, ADAGRAD, {"lr_decay": 0.05, "weight_decay": 0.01, "initial_accumulator_value": 0.1, "eps": 1e-8}),
]  # fmt: skip

# (explorer schedule and params, the torch scheduler built by hand)
SCHEDULES = {
    "constant": ({}, lambda opt: None),
    "step": ({"step_size": 7, "gamma": 0.5}, lambda opt: torch.optim.lr_scheduler.StepLR(opt, 7, 0.5)),
    "cosine": ({"eta_min": 0.001}, lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, STEPS, 0.001)),
    "warmup_cosine": (
        {"warmup": 5, "start_factor": 0.2},
        lambda opt: torch.optim.lr_scheduler.SequentialLR(
            opt,
            [
                torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.2, total_iters=5),
                torch.optim.lr_scheduler.CosineAnnealingLR(opt, STEPS - 5, 0.0),
            ],
            milestones=[5],
        ),
    ),
}  # fmt: skip


def float64_problem(config: TrainConfig):
    """explorer's problem of config, with model and data in float64."""
    problem = build(config)
    problem.model.double()
    return replace(problem, objective=problem.objective.to("cpu", torch.float64))


def hand_loop(model, x, y, cls, kwargs, lr, schedule) -> np.ndarray:
    """θ after each step of a plain torch loop on mean((f(x) − y)²): (STEPS + 1, P)."""
    opt = cls(model.parameters(), lr=lr, **kwargs)
    scheduler = schedule(opt)
    thetas = []
    for step in range(STEPS + 1):
        thetas.append(torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy())
        if step == STEPS:
            break
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()
        if scheduler is not None:
            scheduler.step()
    return np.stack(thetas)


@pytest.mark.parametrize("schedule", list(SCHEDULES))
@pytest.mark.parametrize(("name", "params", "cls", "kwargs"), CASES, ids=lambda v: str(v)[:30])
def test_explorer_run_equals_a_torch_loop(name, params, cls, kwargs, schedule):
    sched_params, make_sched = SCHEDULES[schedule]
    model = "mlp" if name in ("adam", "rmsprop") else "line"  # a net for two, the line for all
    config = TrainConfig(
        dataset="sine" if model == "mlp" else "line", model=model, hidden=(4,), n=40,
        optimizer=name, optimizer_params=params, lr=0.05, schedule=schedule,
        schedule_params=sched_params, steps=STEPS,
    )  # fmt: skip
    problem = float64_problem(config)
    start = copy.deepcopy(problem.model)  # the same initialization, before explorer trains it
    x, y = problem.objective.x, problem.objective.target
    records = list(train(problem))
    assert [r.step for r in records] == list(range(STEPS + 1)) and records[-1].stop is None
    got = np.stack([r.theta for r in records])
    want = hand_loop(start, x, y, cls, kwargs, 0.05, make_sched)
    np.testing.assert_allclose(got, want, rtol=0, atol=SAME)
    assert np.abs(want[-1] - want[0]).max() > 1e-3  # it moved


def test_defaults_are_torchs_own_and_the_presets():
    p = [torch.nn.Parameter(torch.zeros(1))]
    classes = dict(sgd=SGD, momentum=SGD, nesterov=SGD, adam=ADAM, adamw=ADAMW)
    classes |= dict(rmsprop=RMSPROP, adagrad=ADAGRAD)
    presets = {"momentum": {"momentum": 0.9}, "nesterov": {"momentum": 0.9, "nesterov": True}}
    assert tuple(classes) == OPTIMIZERS
    for name, cls in classes.items():
        torch_defaults = cls(p, lr=0.1).defaults
        got = check_optimizer_params(name, {})
        assert got == {k: presets.get(name, {}).get(k, torch_defaults[k]) for k in got}, name
        assert set(got) == set(OPTIMIZER_PARAMS[name])
        assert make_optimizer(name, p, 0.1).defaults == {**torch_defaults, **got}


def test_unknown_keys_wrong_types_and_non_finite_values_are_refused():
    with pytest.raises(ValueError, match="'betas'.*allowed: momentum, dampening"):
        check_optimizer_params("sgd", {"betas": (0.9, 0.99)})
    with pytest.raises(ValueError, match="foreach"):
        check_optimizer_params("adam", {"foreach": True})
    bad = [
        ("sgd", {"momentum": math.nan}, "momentum must be finite"),
        ("adam", {"eps": math.inf}, "eps must be finite"),
        ("adam", {"betas": (0.9, math.nan)}, "betas must be finite"),
        ("adam", {"betas": 0.9}, "betas must be two numbers"),
        ("sgd", {"momentum": "0.9"}, "momentum must be a number"),
        ("rmsprop", {"alpha": True}, "alpha must be a number"),
        ("adam", {"amsgrad": 1}, "amsgrad must be True or False"),
        ("sgd", {"nesterov": True}, "nesterov needs momentum > 0"),
        ("nesterov", {"dampening": 0.5}, "nesterov needs momentum > 0 and dampening 0"),
    ]
    for name, params, message in bad:
        with pytest.raises(ValueError, match=message):
            check_optimizer_params(name, params)
    with pytest.raises(ValueError, match="'lr'"):
        TrainConfig(optimizer="adam", optimizer_params={"lr": 1.0}).validate()


def test_out_of_range_values_are_clamped():
    got = check_optimizer_params("adam", {"betas": (-1, 2), "eps": 0.0, "weight_decay": 5})
    assert got["betas"] == (0.0, 0.9999) and got["eps"] == 1e-12 and got["weight_decay"] == 1.0
    assert check_optimizer_params("sgd", {"momentum": 3})["momentum"] == 0.999
    assert check_optimizer_params("rmsprop", {"alpha": np.float32(-0.5)})["alpha"] == 0.0
    config = TrainConfig(optimizer="adagrad", optimizer_params={"lr_decay": 9}).validate()
    assert config.optimizer_params["lr_decay"] == 1.0
    assert config.optimizer_params["eps"] == ADAGRAD([torch.zeros(1)]).defaults["eps"]


def test_param_groups_keep_their_own_rates():
    a, b = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    opt = make_optimizer("momentum", [{"params": [a], "lr": 0.1}, {"params": [b]}], 0.5)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert all(g["momentum"] == 0.9 for g in opt.param_groups)
    (a.sum() + b.sum()).backward()
    opt.step()
    assert torch.allclose(a, torch.full((2,), 0.9)) and torch.allclose(b, torch.full((2,), 0.5))


def test_labels_name_only_the_changed_parameters():
    assert optimizer_text("adam", {"betas": (0.5, 0.999)}) == "adam β1=0.5"
    assert optimizer_text("adamw", {"weight_decay": 0.01}) == "adamw"  # torch's default
    assert (
        optimizer_text("sgd", {"momentum": 0.5, "weight_decay": 0.1}) == "sgd momentum=0.5, wd=0.1"
    )
    assert optimizer_text("nesterov", {"nesterov": True}) == "nesterov"


def test_raced_optimizers_use_their_own_defaults_unless_set():
    base = TrainConfig(optimizer="adam", optimizer_params={"betas": (0.5, 0.999)}, steps=5)
    configs = race_configs(
        base, ["sgd", "rmsprop"], ["huber"], optimizer_params={"rmsprop": {"alpha": 0.9}}
    )
    assert list(configs) == [
        "adam β1=0.5 · mse",
        "sgd · mse",
        "rmsprop alpha=0.9 · mse",
        "adam β1=0.5 · huber",
    ]
    assert configs["sgd · mse"].optimizer_params == check_optimizer_params("sgd", {})
    assert configs["rmsprop alpha=0.9 · mse"].optimizer_params["alpha"] == 0.9
    assert configs["adam β1=0.5 · huber"].optimizer_params["betas"] == (0.5, 0.999)
    assert all(run_name(c) == n for n, c in configs.items())
