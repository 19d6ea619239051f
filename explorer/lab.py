"""The Gradient Lab's computations: a loss's autograd graph on a tiny model, and its diagnosis."""

from .data import DATASETS, datasets_for
from .doctor import diagnose_loss
from .graph import autograd_dot
from .losses import get_loss
from .models import models_for
from .train import TrainConfig, build

GRAPH_POINTS = 8  # data points behind the graph: few, so the picture stays small


def graph_config(loss: str, params: dict | None = None, *, seed: int = 0) -> TrainConfig:
    """The smallest run a loss fits: its task's first data set and simplest model, 8 points."""
    spec = get_loss(loss)
    dataset = datasets_for(spec.task)[0]
    model = models_for(DATASETS[dataset].in_dim)[0]
    return TrainConfig(
        dataset=dataset,
        n=GRAPH_POINTS,
        model=model,
        loss=loss,
        loss_params=dict(params or {}),
        seed=seed,
    ).validate()


def loss_graph(loss: str, params: dict | None = None, *, seed: int = 0) -> tuple[str, float, dict]:
    """(DOT of the loss's autograd graph on a tiny model, the loss value, each parameter's gradient norm)."""
    _, model, _, loss_of = build(graph_config(loss, params, seed=seed))
    named = dict(model.named_parameters())
    value = loss_of(model)
    dot = autograd_dot(value, params=named)
    if value.requires_grad and value.dim() == 0:
        value.backward()
    norms = {n: (float(p.grad.norm()) if p.grad is not None else None) for n, p in named.items()}
    return dot, float(value.detach().sum()), norms


def diagnosis(loss: str, params: dict | None = None) -> list:
    """The gradient doctor's findings for a catalogue key or an "expr:" formula, errors first."""
    spec = get_loss(loss)
    return diagnose_loss(spec, spec.clamp(params))
