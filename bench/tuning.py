"""Learning-rate tuning: the batched grid (explorer.tuning, one run of K = runs × rates copies)
against the same runs looped one at a time through explorer.training.train."""

import math
import time
from dataclasses import replace

import numpy as np
import torch

from explorer.devices import configure_threads
from explorer.race import race_configs
from explorer.training import TrainConfig, train
from explorer.tuning import best_rates, lr_grid, tune

OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop")
AGREE = 1e-5  # relative loss gap under which a batched and a looped run count as the same
CASES = {
    "line + mse": TrainConfig(dataset="line", model="line", loss="mse", device="cpu"),
    "2-16-1 tanh MLP, moons, bce_logits": TrainConfig(
        dataset="moons", model="mlp", hidden=(16,), loss="bce_logits", device="cpu"
    ),
}


def _looped(configs: dict, rates) -> np.ndarray:
    """The alternative: every (run, rate) its own train() run, one after another; a run that
    diverges stops there (train's own rule), its later steps NaN."""
    steps = next(iter(configs.values())).steps
    out = np.full((len(configs), len(rates), steps + 1), np.nan)
    for i, c in enumerate(configs.values()):
        for j, lr in enumerate(rates):
            losses = [r.loss for r in train(replace(c, lr=lr))]
            out[i, j, : len(losses)] = losses
    return out


def _timed(fn) -> tuple[float, float]:
    """(wall ms, CPU ms of the whole process) of one call: CPU time is what counts on a
    machine other work shares."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - wall) * 1e3, (time.process_time() - cpu) * 1e3


def run(quick: bool) -> list[dict]:
    """Rows: case, runs × rates × steps, batched and looped wall and CPU ms (best of 3,
    round-robin), the ratio, and how far the two agree: float32 runs through other kernels
    (batched matmuls vs the model's forward) agree to rounding, except chaotic ones (a large
    rate that oscillates), where rounding grows; `same picks`: the tuned rates agree. Torch runs
    with the app's thread setting (explorer.devices.configure_threads), restored after."""
    before = torch.get_num_threads()
    threads = configure_threads()  # as the app runs (LLE_TORCH_THREADS, default 1)
    try:
        return _rows(quick, threads)
    finally:
        torch.set_num_threads(before)


def _rows(quick: bool, threads: int) -> list[dict]:
    steps, rates = (100 if quick else 500), lr_grid()
    rows = []
    for name, base in CASES.items():
        configs = race_configs(replace(base, steps=steps), OPTIMIZERS)
        batched = tune(configs, rates)
        looped = _looped(configs, rates)
        both = np.isfinite(batched.losses) & np.isfinite(looped)
        gaps = np.where(both, np.abs(batched.losses - looped) / np.maximum(np.abs(looped), 1), 0)
        close = int((gaps.max(axis=-1) <= AGREE).sum())
        best = {"batched": (math.inf, math.inf), "looped": (math.inf, math.inf)}
        for _ in range(1 if quick else 3):  # round-robin: a burst of load hits both alike
            for case, fn in (("batched", tune), ("looped", _looped)):
                got = _timed(lambda f=fn, c=configs: f(c, rates))
                best[case] = (min(best[case][0], got[0]), min(best[case][1], got[1]))
        rows.append(
            {
                "case": f"tuning grid: batched vs looped (same runs), {name}",
                "grid": f"{len(configs)} × {len(rates)} × {steps}",
                "threads": threads,
                "batched_ms": best["batched"][0],
                "batched_cpu_ms": best["batched"][1],
                "looped_ms": best["looped"][0],
                "looped_cpu_ms": best["looped"][1],
                "speed-up (CPU)": f"{best['looped'][1] / best['batched'][1]:.1f}x",
                f"runs agreeing to {AGREE:g}": f"{close} of {gaps.shape[0] * gaps.shape[1]}",
                "same picks": str(batched.best == best_rates(looped, rates)),
            }
        )
    return rows
