"""Training speed: our `train()` generator against a bare hand-written torch loop, same everything."""

import torch
import torch.nn.functional as F

from bench import best_ms
from explorer.data import make_dataset
from explorer.losses import get_loss
from explorer.models import make_model
from explorer.training import TrainConfig, train

N_POINTS, HIDDEN = 256, (16,)


def _config(steps: int) -> TrainConfig:
    """2-16-1 tanh MLP, moons, bce_logits, adam, full batch, on the CPU."""
    return TrainConfig(
        dataset="moons",
        n=N_POINTS,
        model="mlp",
        hidden=HIDDEN,
        activation="tanh",
        loss="bce_logits",
        optimizer="adam",
        lr=0.01,
        steps=steps,
        device="cpu",
    )


def _ours(steps: int) -> None:
    for _ in train(_config(steps)):
        pass


def _bare(steps: int, loss_fn) -> None:
    """The alternative: the same model, data and optimizer in a plain loop that records nothing."""
    data = make_dataset("moons", n=N_POINTS)
    model = make_model("mlp", in_dim=2, out_dim=1, hidden=HIDDEN, activation="tanh")
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(model(data.x), data.y).backward()
        optimizer.step()


def run(quick: bool) -> list[dict]:
    """Rows: case, steps, total ms (best of 5), µs a step, ratios to the bare loops."""
    steps = 200 if quick else 1000
    cases = {
        "bare loop, F.binary_cross_entropy_with_logits": lambda: _bare(
            steps, F.binary_cross_entropy_with_logits
        ),
        "bare loop, catalogue bce_logits": lambda: _bare(steps, get_loss("bce_logits").fn),
        "explorer.training.train (a record a step)": lambda: _ours(steps),
    }
    times = dict.fromkeys(cases, float("inf"))
    for _ in range(2 if quick else 5):  # round-robin, so a burst of load hits every case alike
        for case, fn in cases.items():
            times[case] = min(times[case], best_ms(fn, repeat=1))
    bare = times["bare loop, F.binary_cross_entropy_with_logits"]
    same_loss = times["bare loop, catalogue bce_logits"]
    return [
        {
            "case": case,
            "steps": steps,
            "total_ms": ms,
            "us_per_step": ms * 1e3 / steps,
            "vs_bare": f"{ms / bare:.2f}x",
            "vs_bare_same_loss": f"{ms / same_loss:.2f}x",
        }
        for case, ms in times.items()
    ]
