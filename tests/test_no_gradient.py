"""A loss that passes no gradient says so: one explorer function decides from the run's gradient
norms (exactly 0 from step 0 on) and the doctor's finding; the Training page shows it at step 0,
before Start, and after the run."""

import pytest
import torch

from explorer.race import Race
from explorer.training import TrainConfig, train
from explorer.views.lab import zero_gradient_warning
from tests.apptest import open_page, problems

torch.set_num_threads(1)

HEAD = "this run's gradient is zero: the loss passes no gradient to the parameters"
NO_GRADIENT = [
    ("zero_one", "moons"),
    ("expr:round(r)", "line"),
    ("expr:sign(r)", "line"),
    ("expr:(abs(r) < 1)*1.0", "line"),
    ("expr:mean(round(r))**2", "line"),  # mixes samples: the doctor reads it along a shift
]


def _config(loss: str, dataset: str, steps: int = 12) -> TrainConfig:
    model = "line" if dataset == "line" else "logistic"
    return TrainConfig(dataset=dataset, model=model, loss=loss, steps=steps, device="cpu")


@pytest.mark.parametrize(("loss", "dataset"), NO_GRADIENT)
def test_a_loss_without_gradient_is_named_at_step_0_with_the_doctors_finding(loss, dataset):
    config = _config(loss, dataset)
    (first,) = [r.grad_norm for r in train(config)][:1]
    assert first == 0.0
    message = zero_gradient_warning(config, [first])
    assert message is not None and message.startswith(HEAD)
    assert "(‖∇‖ = 0 exactly at step 0)" in message
    assert "Gradient doctor: Gradient zero almost everywhere: " in message


@pytest.mark.parametrize(("loss", "dataset"), NO_GRADIENT[:2])
def test_after_the_run_it_says_every_step(loss, dataset):
    config = _config(loss, dataset)
    norms = [r.grad_norm for r in train(config)]
    assert norms == [0.0] * 13
    message = zero_gradient_warning(config, norms)
    assert message is not None and "‖∇‖ = 0 exactly at every step from 0 to 12" in message


def test_a_loss_with_a_gradient_gets_no_word():
    config = _config("mse", "line")
    norms = [r.grad_norm for r in train(config)]
    assert min(norms) > 0 and zero_gradient_warning(config, norms) is None
    assert zero_gradient_warning(config, []) is None
    assert zero_gradient_warning(config, [0.0, 0.0, 1e-30]) is None  # moved once: not stuck


def test_a_healthy_loss_stuck_at_its_start_is_not_blamed_on_its_shape():
    message = zero_gradient_warning(_config("mse", "line"), [0.0, 0.0])
    assert message is not None and message.startswith(HEAD)
    assert "finds no flat stretch in the loss itself" in message
    assert "Gradient doctor:" not in message


def test_the_race_records_are_what_the_function_reads():
    race = Race({"a": _config("expr:sign(r)", "line", steps=5), "b": _config("mse", "line", 5)})
    race.advance(max_rounds=1)  # step 0, as the Training page shows it before Start
    stuck = {
        name: zero_gradient_warning(run.config, [row[2] for row in run.rows])
        for name, run in race.runs.items()
    }
    assert stuck["a"] is not None and stuck["a"].startswith(HEAD) and stuck["b"] is None


def _warnings(at) -> list[str]:
    return [w.value for w in at.warning]


def test_the_training_page_warns_before_start_and_after_the_run():
    at = open_page("training", {"loss": "custom", "expr": "round(r)", "steps": "20"})
    assert problems(at) == []
    before = [w for w in _warnings(at) if "gradient is zero" in w]
    assert len(before) == 1 and "at step 0" in before[0]
    assert "Gradient zero almost everywhere" in before[0]
    next(b for b in at.button if b.label == "Run to the end").click().run()
    assert problems(at) == []
    after = [w for w in _warnings(at) if "gradient is zero" in w]
    assert len(after) == 1 and "every step from 0 to 20" in after[0]


def test_the_training_page_says_nothing_for_a_loss_that_trains():
    at = open_page("training", {"steps": "20"})
    assert problems(at) == [] and not [w for w in _warnings(at) if "gradient is zero" in w]
