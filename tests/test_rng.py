"""Seeded models stay reproducible while other threads (other sessions) seed and draw too."""

import threading

import torch

from explorer.lessons.kit import seeded
from explorer.models import make_model
from explorer.rng import global_seed
from explorer.training import TrainConfig, build

THREADS, ROUNDS = 6, 40


def theta(model) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def mlp(seed: int) -> torch.nn.Module:
    return make_model("mlp", in_dim=2, out_dim=1, hidden=(32, 32), seed=seed)


def test_global_seed_restores_the_generator_and_repeats_draws():
    before = torch.get_rng_state()
    with global_seed(7):
        a = torch.randn(5)
    with global_seed(7):
        b = torch.randn(5)
    assert torch.equal(a, b) and torch.equal(torch.get_rng_state(), before)


def test_models_built_in_many_threads_at_once_match_their_seed():
    expected = {seed: theta(mlp(seed)) for seed in range(THREADS)}
    wrong, start = [], threading.Barrier(THREADS + 1)

    def session(seed: int) -> None:
        start.wait()
        for _ in range(ROUNDS):
            if not torch.equal(theta(mlp(seed)), expected[seed]):
                wrong.append(seed)

    def noise() -> None:  # another session drawing from the global generator meanwhile
        start.wait()
        for _ in range(ROUNDS * 20):
            seeded(lambda: torch.randn(64))()

    threads = [threading.Thread(target=session, args=(s,)) for s in range(THREADS)]
    threads.append(threading.Thread(target=noise))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def test_build_gives_the_same_start_for_the_same_seed():
    cfg = TrainConfig(dataset="moons", model="mlp", loss="bce_logits", seed=3)
    first, second = build(cfg), build(cfg)
    assert torch.equal(theta(first.model), theta(second.model))
