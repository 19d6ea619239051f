"""Learning-rate schedules: the rate at each step equals the schedule's closed form, in explorer's
training loop too; their parameters are checked like the optimizers'."""

import math

import numpy as np
import pytest
import torch

from explorer.schedules import (
    SCHEDULE_PARAMS,
    SCHEDULES,
    check_schedule_params,
    make_scheduler,
    schedule_text,
)
from explorer.training import TrainConfig, train
from tests.test_optimizer_params import float64_problem

LR, STEPS = 0.4, 30
CLOSE = 1e-12
SAME = 1e-10  # θ of explorer's float64 run vs the numpy recursion


def closed_form(name: str, t: int, p: dict) -> float:
    """The rate of update t (0-based) of a STEPS-step run, written from the definitions."""
    cosine = lambda k, total, top: (
        p["eta_min"] + (top - p["eta_min"]) * (1 + math.cos(math.pi * k / total)) / 2
    )
    if name == "constant":
        return LR
    if name == "step":
        return LR * p["gamma"] ** (t // p["step_size"])
    if name == "cosine":
        return cosine(t, STEPS, LR)
    w, s = p["warmup"], p["start_factor"]
    return LR * (s + (1 - s) * t / w) if t < w else cosine(t - w, STEPS - w, LR)


PARAMS = {
    "constant": {},
    "step": {"step_size": 4, "gamma": 0.7},
    "cosine": {"eta_min": 0.01},
    "warmup_cosine": {"warmup": 6, "start_factor": 0.25, "eta_min": 0.02},
}


def rates(name: str, params: dict) -> list[float]:
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=LR)
    scheduler = make_scheduler(name, opt, STEPS, params)
    out = []
    for _ in range(STEPS):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        if scheduler is not None:
            scheduler.step()
    return out


@pytest.mark.parametrize("name", SCHEDULES)
def test_each_rate_is_the_closed_form(name):
    p = check_schedule_params(name, PARAMS[name])
    want = [closed_form(name, t, p) for t in range(STEPS)]
    np.testing.assert_allclose(rates(name, PARAMS[name]), want, rtol=0, atol=CLOSE)


@pytest.mark.parametrize("name", SCHEDULES)
def test_the_training_loop_steps_with_the_schedule(name):
    """On L = mean((w·x + b − y)²) plain SGD is θ ← θ − α_t ∇L: explorer's run (float64) is that
    recursion with the closed-form rates, written here in numpy."""
    config = TrainConfig(lr=LR, steps=STEPS, schedule=name, schedule_params=PARAMS[name], n=50)
    problem = float64_problem(config)
    x, y = problem.objective.x[:, 0].numpy(), problem.objective.target.numpy()
    records = list(train(problem))
    p = check_schedule_params(name, PARAMS[name])
    theta = records[0].theta.copy()
    for t, record in enumerate(records[1:]):
        r = theta[0] * x + theta[1] - y
        theta = theta - closed_form(name, t, p) * np.array([(2 * r * x).mean(), (2 * r).mean()])
        np.testing.assert_allclose(record.theta, theta, rtol=0, atol=SAME)


def test_constant_is_no_scheduler_and_a_long_warmup_is_cut():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    assert make_scheduler("constant", opt, 10) is None
    scheduler = make_scheduler("warmup_cosine", opt, 5, {"warmup": 100, "start_factor": 0.5})
    seen = []
    for _ in range(5):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    assert seen[0] == 0.5 and max(seen) == pytest.approx(1.0)  # warm-up cut to 4 steps


def test_parameters_are_checked_clamped_and_defaulted():
    assert check_schedule_params("step", {}) == {"step_size": 50, "gamma": 0.5}
    assert check_schedule_params("step", {"step_size": 0, "gamma": 7})["step_size"] == 1
    assert check_schedule_params("step", {"gamma": 7})["gamma"] == 1.0
    assert check_schedule_params("warmup_cosine", {"warmup": 12.6})["warmup"] == 13
    for name, params, message in [
        ("cosine", {"gamma": 0.5}, "schedule 'cosine' takes no parameter 'gamma'"),
        ("constant", {"eta_min": 0}, "no parameter 'eta_min'; allowed: none"),
        ("step", {"gamma": math.nan}, "gamma must be finite"),
        ("warmup_cosine", {"warmup": "5"}, "warmup must be a number"),
    ]:
        with pytest.raises(ValueError, match=message):
            check_schedule_params(name, params)
    with pytest.raises(ValueError, match="unknown schedule 'exp'.*constant, step"):
        TrainConfig(schedule="exp").validate()
    assert set(SCHEDULE_PARAMS) == set(SCHEDULES)
    assert schedule_text("step", {"step_size": 20}) == "step every=20"
