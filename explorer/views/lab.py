"""The Gradient Lab's computations: a loss's autograd graph on a tiny model, and its diagnosis.

Each takes a loss as a catalogue key, an "expr:" formula or a LossSpec already resolved (a
page that holds the spec passes it, so a formula is not parsed again).
"""

from dataclasses import dataclass

from explorer.data import DATASETS, datasets_for
from explorer.doctor import diagnose_loss
from explorer.graph import autograd_dot
from explorer.losses import LossSpec, get_loss
from explorer.models import models_for
from explorer.training import TrainConfig, build

GRAPH_POINTS = 8  # data points behind the graph: few, so the picture stays small


@dataclass(frozen=True)
class LossGraph:
    """A loss's autograd graph on a tiny model, its value there, each parameter's ‖gradient‖."""

    dot: str  # Graphviz DOT source
    value: float
    norms: dict[str, float | None]  # parameter name → ‖∂L/∂p‖ (None: no gradient reached it)


def _spec(loss: str | LossSpec) -> LossSpec:
    return loss if isinstance(loss, LossSpec) else get_loss(loss)


def graph_config(loss: str | LossSpec, params: dict | None = None, *, seed: int = 0) -> TrainConfig:
    """The smallest run a loss fits: its task's first data set and simplest model, 8 points."""
    spec = _spec(loss)
    dataset = datasets_for(spec.task)[0]
    model = models_for(DATASETS[dataset].in_dim)[0]
    return TrainConfig(
        dataset=dataset,
        n=GRAPH_POINTS,
        model=model,
        loss=spec.key,
        loss_params=dict(params or {}),
        seed=seed,
    ).validate(spec)


def loss_graph(loss: str | LossSpec, params: dict | None = None, *, seed: int = 0) -> LossGraph:
    """The loss's autograd graph on a tiny model, the loss value and each gradient norm."""
    spec = _spec(loss)
    problem = build(graph_config(spec, params, seed=seed), spec)
    model, loss_of = problem.model, problem.objective
    named = dict(model.named_parameters())
    value = loss_of(model)
    dot = autograd_dot(value, params=named)
    if value.requires_grad and value.dim() == 0:
        value.backward()
    norms = {n: (float(p.grad.norm()) if p.grad is not None else None) for n, p in named.items()}
    return LossGraph(dot, float(value.detach().sum()), norms)


def diagnosis(loss: str | LossSpec, params: dict | None = None) -> list:
    """The gradient doctor's findings for a loss, errors first."""
    spec = _spec(loss)
    return diagnose_loss(spec, spec.clamp(params))
