"""explorer.tuning: the batched grid equals one hand-written torch loop per rate, and on the
line with MSE the tuned gradient-descent rate is the one the exact Hessian says is best."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explorer.budget import Budget, Cut
from explorer.data import make_dataset
from explorer.models import make_model
from explorer.race import race_configs
from explorer.training import TrainConfig
from explorer.tuning import CRITERION, grid_losses, lr_grid, scores, tune, tuned_configs

LOOSE = 1e-10  # float64: batched rows vs separate runs, loss per step
TORCH = {  # the reference optimizers, spelled out with torch.optim (not explorer's table)
    "sgd": lambda p, lr: torch.optim.SGD(p, lr=lr),
    "momentum": lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9),
    "nesterov": lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True),
    "adam": lambda p, lr: torch.optim.Adam(p, lr=lr),
    "rmsprop": lambda p, lr: torch.optim.RMSprop(p, lr=lr),
    "adagrad": lambda p, lr: torch.optim.Adagrad(p, lr=lr),
}
LINE = TrainConfig(dataset="line", model="line", loss="mse", n=64, steps=60, device="cpu")
MLP = TrainConfig(
    dataset="moons", model="mlp", hidden=(4,), loss="bce_logits", n=48, steps=40, device="cpu"
)


def reference_losses(cfg: TrainConfig, optimizer: str, lr: float) -> list[float]:
    """One run by hand: the model and data in float64, torch.optim, torch's own loss, the same
    mini-batch permutations (a generator seeded with the config's seed)."""
    data = make_dataset(cfg.dataset, n=cfg.n, seed=cfg.seed, noise=cfg.noise)
    x, y = data.x.double(), data.y.double()
    model = make_model(
        cfg.model, in_dim=data.in_dim, out_dim=1, hidden=cfg.hidden, seed=cfg.seed
    ).double()
    loss_fn = F.mse_loss if cfg.loss == "mse" else F.binary_cross_entropy_with_logits
    opt = TORCH[optimizer](model.parameters(), lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    order: list[torch.Tensor] = []
    out = []
    for step in range(cfg.steps + 1):
        if cfg.batch_size is None:
            index = torch.arange(len(x))
        else:
            if not order:
                order = list(torch.randperm(len(x), generator=gen).split(cfg.batch_size))
            index = order.pop(0)
        opt.zero_grad()
        loss_fn(model(x[index]), y[index]).backward()
        with torch.no_grad():
            out.append(loss_fn(model(x), y).item())
        if step < cfg.steps:
            opt.step()
    return out


@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize(
    "base", [LINE, MLP, TrainConfig(**{**vars(MLP), "batch_size": 16})], ids=["line", "mlp", "mb"]
)
def test_the_batched_grid_equals_one_torch_loop_per_rate(base, foreach):
    names = list(TORCH)
    rates = (0.003, 0.05, 0.4)
    configs = [TrainConfig(**{**vars(base), "optimizer": o}) for o in names]
    got = grid_losses(configs, rates, torch.float64, foreach=foreach)
    assert got.shape == (len(names), len(rates), base.steps + 1)
    for i, name in enumerate(names):
        for j, lr in enumerate(rates):
            want = np.array(reference_losses(base, name, lr))
            assert np.allclose(got[i, j], want, rtol=LOOSE, atol=LOOSE), (name, lr)


def exact_hessian_eigenvalues(cfg: TrainConfig) -> np.ndarray:
    """L(w, b) = mean((w x + b − y)²): H = (2/N) [[Σx², Σx], [Σx, N]], from the data in numpy."""
    x = make_dataset(cfg.dataset, n=cfg.n, seed=cfg.seed, noise=cfg.noise).x.double().numpy()[:, 0]
    n = len(x)
    h = 2.0 / n * np.array([[x @ x, x.sum()], [x.sum(), n]])
    return np.linalg.eigvalsh(h)


@pytest.mark.parametrize("seed", [0, 3])
def test_tuned_gradient_descent_rate_is_the_grid_point_nearest_the_optimum(seed):
    cfg = TrainConfig(**{**vars(LINE), "noise": 0.0, "steps": 80, "seed": seed})
    lo, hi = exact_hessian_eigenvalues(cfg)
    best = 2 / (lo + hi)
    rates = lr_grid(0.01, 1.0, 12)
    nearest = min(rates, key=lambda r: abs(math.log(r / best)))
    tuning = tune({"gd": cfg}, rates, torch.float64)
    assert tuning.best_rate("gd") == nearest
    # the pick is not trivially the grid's edge or its largest stable rate
    assert rates[0] < nearest < max(r for r in rates if r < 2 / hi)


def test_diverged_runs_are_out_and_the_criterion_is_the_tail_mean():
    losses = np.array(
        [[4.0, 3.0, 2.0, 1.0, 1.0], [4.0, 9.0, np.inf, 1.0, 1.0], [2.0, 3e6, 1, 1, 1]]
    )
    got = scores(losses, steps=4)
    assert got[0] == 1.0  # last 10% of 4 steps: the last record
    assert np.isnan(got[1]) and np.isnan(got[2])  # non-finite; past 1e6 × max(|initial|, 1)
    assert "last 10%" in CRITERION and "non-finite" in CRITERION


def test_a_race_with_tuned_rates_uses_each_runs_best_rate():
    configs = race_configs(TrainConfig(**{**vars(LINE), "steps": 30}), ["adam", "momentum"])
    tuning = tune(configs, lr_grid(0.001, 1.0, 6))
    tuned = tuned_configs(configs, tuning)
    assert [tuned[n].lr for n in configs] == list(tuning.best)
    rows = tuning.rows()
    assert [r["run"] for r in rows] == list(configs)
    assert all(r["tuned learning rate"] in tuning.rates for r in rows)
    sgd = tuning.names.index("sgd · mse")
    assert np.isnan(tuning.scores[sgd, -1])  # lr 1 diverges for GD on this line (2/λ_max ≈ 0.7)


def test_bad_grids_are_refused_and_work_is_bounded():
    with pytest.raises(ValueError, match="finite positive"):
        lr_grid(float("nan"), 1.0)
    with pytest.raises(ValueError, match="low < high"):
        lr_grid(20.0, 30.0)  # both clamp to 10
    assert len(lr_grid(1e-3, 1.0, 1000)) == 24
    with pytest.raises(ValueError, match="one step count"):
        tune({"a": LINE, "b": TrainConfig(**{**vars(LINE), "steps": 5})})
    with pytest.raises(Cut), Budget(0.0):
        tune({"a": TrainConfig(**{**vars(MLP), "steps": 2000})})
