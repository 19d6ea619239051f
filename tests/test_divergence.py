"""Divergence explained: the bound's numbers are the Hessian's (autograd, float64), the bound is
where runs start to diverge, and where no bound is known the text says what the run showed."""

import numpy as np
import pytest
import torch
from torch.func import functional_call

from explorer.divergence import Watch, quadratic_hessian, stability_bound
from explorer.training import TrainConfig, build, run_to_end, train

EXACT = 1e-9  # closed-form Hessian vs autograd's, both float64


def autograd_lam_max(config: TrainConfig) -> float:
    """λ_max of the Hessian of explorer's own objective, by torch.autograd.functional.hessian in
    float64 at a random point (the loss is quadratic: any point gives the same Hessian)."""
    problem = build(config)
    model, obj = problem.model.double(), problem.objective.to("cpu", torch.float64)
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    sizes = [p.numel() for p in model.parameters()]

    def loss(flat):
        parts = [t.reshape(s) for t, s in zip(flat.split(sizes), shapes, strict=True)]
        return obj.of_output(functional_call(model, dict(zip(names, parts, strict=True)), (obj.x,)))

    point = torch.randn(sum(sizes), dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    hessian = torch.autograd.functional.hessian(loss, point)
    return float(torch.linalg.eigvalsh(hessian)[-1])


@pytest.mark.parametrize("model", ["line", "logistic"])
def test_the_closed_form_hessian_is_autograds(model):
    config = TrainConfig(model=model, noise=0.3, n=64, seed=5)
    lam = autograd_lam_max(config)
    assert np.linalg.eigvalsh(quadratic_hessian(build(config)))[-1] == pytest.approx(lam, rel=EXACT)
    assert stability_bound(build(config)).lam_max == pytest.approx(lam, rel=EXACT)


@pytest.mark.parametrize(
    ("optimizer", "params", "factor", "symbols"),
    [
        ("sgd", {}, lambda b: 2, "2/λ_max"),
        ("momentum", {}, lambda b: 2 * (1 + b), "2(1+β)/λ_max"),
        ("sgd", {"momentum": 0.5}, lambda b: 2 * (1 + b), "2(1+β)/λ_max"),
        ("nesterov", {}, lambda b: 2 * (1 + b) / (1 + 2 * b), "2(1+β)/((1+2β)·λ_max)"),
    ],
)
def test_the_divergence_sentence_carries_the_bound(optimizer, params, factor, symbols):
    base = TrainConfig(optimizer=optimizer, optimizer_params=params, steps=3000)
    lam = autograd_lam_max(base)
    beta = base.validate().optimizer_params["momentum"]
    limit = factor(beta) / lam
    alpha = round(1.3 * limit, 2)
    stop = run_to_end(TrainConfig(**{**vars(base), "lr": alpha})).stop.iloc[-1]
    assert stop.startswith("diverged"), stop
    assert f"α = {alpha:.3g} > {symbols} = {limit:.3g}" in stop, stop
    assert f"λ_max = {lam:.4g}" in stop and (f"β = {beta:g}" in stop) == (beta > 0)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov"])
def test_the_bound_is_where_runs_start_to_diverge(optimizer):
    """Just under the bound a run converges (slowly), just over it the loss blows up."""
    limit = stability_bound(build(TrainConfig(optimizer=optimizer))).limit
    under = run_to_end(TrainConfig(optimizer=optimizer, lr=0.97 * limit, steps=3000))
    over = run_to_end(TrainConfig(optimizer=optimizer, lr=1.05 * limit, steps=3000))
    assert under.stop.iloc[-1] is None and under.loss.iloc[-1] < 0.1 * under.loss.iloc[0]
    assert over.stop.iloc[-1].startswith("diverged")


def test_weight_decay_moves_the_bound():
    config = TrainConfig(optimizer_params={"weight_decay": 0.5})
    bound = stability_bound(build(config))
    assert bound.lam_max == pytest.approx(autograd_lam_max(config) + 0.5, rel=EXACT)
    assert "plus the weight decay 0.5" in bound.sentence()


def test_a_schedule_is_judged_by_its_largest_rate():
    limit = stability_bound(build(TrainConfig())).limit
    config = TrainConfig(lr=2 * limit, steps=400, schedule="warmup_cosine")
    config.schedule_params = {"warmup": 100, "start_factor": 0.1}
    df = run_to_end(config)
    stop, step = df.stop.iloc[-1], int(df.step.iloc[-1])
    assert stop.startswith("diverged") and step < 400
    # the rate of the last update made: the linear warm-up's, from the closed form
    peak = 2 * limit * (0.1 + 0.9 * min(step - 1, 100) / 100)
    assert f"α = {peak:.3g} (the largest rate the schedule reached) >" in stop, stop


def test_without_a_bound_the_text_says_what_was_seen():
    """Mini-batches: no closed form. The climb's start and the largest step are the history's."""
    config = TrainConfig(lr=5.0, batch_size=16, steps=300)
    df = run_to_end(config)
    stop = df.stop.iloc[-1]
    assert stop.startswith("diverged") and "Why" not in stop
    loss, theta = df.loss.to_numpy(), df[["w", "b"]].to_numpy()
    start = len(loss) - 1
    while start > 0 and loss[start] > loss[start - 1]:
        start -= 1
    assert f"the loss grew at every step from step {start} ({loss[start]:.3g}) on" in stop
    moved = np.abs(np.diff(theta, axis=0))
    k, i = np.unravel_index(np.argmax(moved), moved.shape)
    assert f"|Δ{'wb'[i]}| = {moved[k, i]:.3g} (step {k + 1})" in stop, stop
    assert stability_bound(build(config)) is None


@pytest.mark.parametrize(
    "config",
    [
        TrainConfig(optimizer="adam"),
        TrainConfig(loss="huber"),
        TrainConfig(model="mlp", hidden=(4,)),
        TrainConfig(dataset="moons", model="logistic", loss="bce_logits"),
    ],
    ids=["adam", "huber", "mlp", "bce"],
)
def test_no_bound_where_none_is_known(config):
    assert stability_bound(build(config)) is None


def test_watch_reads_the_climb_the_largest_step_and_the_rate():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    watch = Watch()
    for step, (loss, theta) in enumerate(
        [(3.0, [0, 0]), (1.0, [1, 0]), (2.0, [1, -4]), (np.nan, [np.nan, 0])]
    ):
        watch.see(step, loss, np.array(theta, float), opt)
        opt.param_groups[0]["lr"] = 0.1 * (step + 2)
    assert watch.climb_from == (1, 1.0)  # grew at 2, then NaN: still growing
    assert watch.biggest == (4.0, 1, 2)  # a NaN step is not a step size
    assert watch.peak_lr == pytest.approx(0.3)  # the rate of the last update made (3 → 4 unused)
    assert watch.seen(["a", "b"]) == (
        "the loss grew at every step from step 1 (1) on; the largest step of one parameter was "
        "|Δb| = 4 (step 2)"
    )
    assert list(train(TrainConfig(steps=3)))[-1].stop is None
