"""Optimizer parameters and schedules on the Training and Landscape pages: each optimizer's own
widgets, their effect on the trained path (against torch loops), the URL, divergence explained."""

import numpy as np
import pytest
import torch

from explorer.data import make_dataset
from explorer.models import make_model
from explorer.optimizers import check_optimizer_params
from tests.apptest import array, figures, open_page, problems, trace

torch.set_num_threads(1)
SAME = 1e-5  # float32 page run vs float32 torch loop (same operations, summation order aside)
WIDGETS = {
    "sgd": {"opt_momentum": 0.0, "opt_dampening": 0.0, "opt_nesterov": False, "opt_wd": 0.0},
    "momentum": {"opt_momentum": 0.9, "opt_dampening": 0.0, "opt_nesterov": False, "opt_wd": 0.0},
    "nesterov": {"opt_momentum": 0.9, "opt_dampening": 0.0, "opt_nesterov": True, "opt_wd": 0.0},
    "adam": {"opt_beta1": 0.9, "opt_beta2": 0.999, "opt_eps": 1e-8, "opt_wd": 0.0, "opt_amsgrad": False},
    "adamw": {"opt_beta1": 0.9, "opt_beta2": 0.999, "opt_eps": 1e-8, "opt_wd": 0.01, "opt_amsgrad": False},
    "rmsprop": {"opt_alpha": 0.99, "opt_eps": 1e-8, "opt_wd": 0.0, "opt_momentum": 0.0, "opt_centered": False},
    "adagrad": {"opt_lr_decay": 0.0, "opt_wd": 0.0, "opt_init_acc": 0.0, "opt_eps": 1e-10},
}  # fmt: skip


def shown(at, prefix="opt_") -> dict:
    widgets = [*at.number_input, *at.checkbox]
    return {w.key: w.value for w in widgets if w.key and w.key.startswith(prefix)}


def main_config(at):
    return next(iter(at.session_state["train.race"].configs.values()))


def run_to_end(at):
    next(b for b in at.button if b.label == "Run to the end").click().run()
    assert problems(at) == []
    return at


def torch_path(betas, steps, lr=0.05) -> np.ndarray:
    """(w, b) after each step of torch's Adam on mean((w·x + b − y)²), from the page's start."""
    data = make_dataset("line", n=200, seed=0, noise=0.1)
    model = make_model("line", in_dim=1, out_dim=1, seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=betas)
    out = []
    for step in range(steps + 1):
        out.append([model.w.item(), model.b.item()])
        if step < steps:
            opt.zero_grad()
            ((model(data.x) - data.y) ** 2).mean().backward()
            opt.step()
    return np.array(out)


def test_each_optimizer_shows_its_own_widgets_at_its_defaults():
    at = open_page("training")
    for name, widgets in WIDGETS.items():  # sgd → momentum → …: each change resets to defaults
        at.selectbox(key="opt").set_value(name).run()
        assert problems(at) == []
        assert shown(at) == pytest.approx(widgets), name
        assert main_config(at).optimizer_params == check_optimizer_params(name, {})
    at.selectbox(key="sched").set_value("warmup_cosine").run()
    assert shown(at, "sched_") == {"sched_warmup": 20, "sched_start": 0.1, "sched_eta_min": 0.0}


def test_adam_beta1_changes_the_trained_path_as_torch_does():
    at = open_page("training", {"opt": "adam", "steps": "30"})
    at.number_input(key="opt_beta1").set_value(0.5).run()
    run_to_end(at)
    (name, run), *_ = at.session_state["train.race"].runs.items()
    assert name == "adam β1=0.5 · mse"
    assert run.config.optimizer_params["betas"] == (0.5, 0.999)
    steps, theta = run.path()
    want = torch_path((0.5, 0.999), 30)
    np.testing.assert_allclose(theta, want, rtol=0, atol=SAME)
    assert np.abs(theta - torch_path((0.9, 0.999), 30)).max() > 100 * SAME  # β1 mattered


def test_the_url_opens_the_parameters_and_the_schedule():
    query = {"opt": "rmsprop", "opt_alpha": "0.9", "opt_centered": "true", "opt_momentum": "0.5"}
    query |= {"sched": "step", "sched_every": "10", "sched_gamma": "0.3"}
    at = open_page("training", query)
    assert problems(at) == []
    assert shown(at)["opt_alpha"] == 0.9 and shown(at)["opt_centered"] is True
    config = main_config(at)
    assert config.optimizer_params == check_optimizer_params(
        "rmsprop", {"alpha": 0.9, "centered": True, "momentum": 0.5}
    )
    assert (config.schedule, config.schedule_params) == ("step", {"step_size": 10, "gamma": 0.3})
    assert list(at.session_state["train.race"].configs) == [
        "rmsprop alpha=0.9, momentum=0.5, centered=on · mse"
    ]


def test_hostile_parameter_values_in_the_url_fall_back():
    query = {"opt": "adam", "opt_beta1": "nan", "opt_eps": "1e309", "opt_wd": "-3"}
    query |= {"opt_amsgrad": "<b>", "sched": "step", "sched_every": "1e999"}
    at = open_page("training", query)
    assert problems(at) == [] and not at.error
    assert shown(at) == pytest.approx(WIDGETS["adam"])
    assert shown(at, "sched_") == {"sched_every": 50, "sched_gamma": 0.5}
    assert not {"opt_beta1", "opt_eps", "opt_wd", "sched_every"} & set(at.query_params)


def test_a_diverging_run_says_why_in_numbers():
    data = make_dataset("line", n=200, seed=0, noise=0.1)
    design = np.hstack([data.x.double().numpy(), np.ones((200, 1))])
    lam = np.linalg.eigvalsh(2 / 200 * design.T @ design)[-1]  # the closed-form Hessian
    at = run_to_end(open_page("training", {"lr": "1.0"}))
    text = " ".join(w.value for w in at.warning)
    assert f"α = 1 > 2/λ_max = {2 / lam:.3g}" in text, text
    assert f"λ_max = {lam:.4g}" in text and "Seen: the loss grew at every step" in text


def test_landscape_trains_its_path_with_the_chosen_parameters():
    query = {"opt": "adam", "ls_opt_beta1": "0.5", "train_steps": "20", "steps": "11"}
    at = open_page("landscape", query)
    assert problems(at) == [] and not at.error
    assert shown(at, "ls_opt_")["ls_opt_beta1"] == 0.5
    path = trace(figures(at)["surface_0"], "trajectory (true loss)")
    got = np.stack([array(path["x"]), array(path["y"])], axis=1)
    np.testing.assert_allclose(got, torch_path((0.5, 0.999), 20), rtol=0, atol=SAME)


def test_nesterov_without_momentum_is_switched_off_and_said_so():
    at = open_page("training", {"opt": "sgd", "opt_nesterov": "true"})
    assert problems(at) == [] and not at.error
    assert any("Nesterov needs momentum β > 0" in c.value for c in at.caption)
    assert main_config(at).optimizer_params["nesterov"] is False
    at.number_input(key="opt_momentum").set_value(0.5).run()
    assert main_config(at).optimizer_params == check_optimizer_params(
        "sgd", {"momentum": 0.5, "nesterov": True}
    )
