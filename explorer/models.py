"""Tiny models: the line y = w·x + b, logistic regression, a small MLP (step activation included)."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import Tensor, nn

from explorer.rng import global_seed

ACTIVATIONS = ("tanh", "relu", "sigmoid", "gelu", "step")
STRAIGHT_THROUGH = ("off", "identity", "clipped")  # backward of the step; True means "identity"
MAX_WIDTH, MAX_DEPTH = 256, 4


@dataclass(frozen=True)
class ModelSpec:
    key: str
    name: str
    in_dim: int | None  # the only input dimension it takes; None = any
    description: str


MODELS: dict[str, ModelSpec] = {
    "line": ModelSpec("line", "Line y = w·x + b", 1, "two scalar parameters w and b; 1-D inputs"),
    "logistic": ModelSpec(
        "logistic", "Linear / logistic", None, "one linear layer, Linear(d, out)"
    ),
    "mlp": ModelSpec("mlp", "Small MLP", None, "hidden layers with a chosen activation"),
}


def models_for(in_dim: int) -> list[str]:
    """Keys of the models that accept inputs of dimension `in_dim`."""
    return [k for k, s in MODELS.items() if s.in_dim in (None, in_dim)]


class StepFunction(torch.autograd.Function):
    """Hard threshold H(x) = [x > 0]; backward: zero ("off"), g ("identity"), g·[|x| ≤ 1] ("clipped")."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x: Tensor, mode: str) -> Tensor:
        return (x > 0).to(x.dtype)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Tensor, str], output: Tensor) -> None:
        x, mode = inputs
        ctx.mode = mode
        if mode == "clipped":
            ctx.save_for_backward(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        if ctx.mode == "identity":
            return grad, None
        if ctx.mode == "clipped":
            (x,) = ctx.saved_tensors
            return grad * (x.abs() <= 1).to(grad.dtype), None
        return torch.zeros_like(grad), None


class Step(nn.Module):
    """Step activation; with a straight-through mode its backward passes the gradient on."""

    def __init__(self, straight_through: str = "off") -> None:
        super().__init__()
        self.mode = straight_through

    def forward(self, x: Tensor) -> Tensor:
        return StepFunction.apply(x, self.mode)

    def extra_repr(self) -> str:
        return f"straight_through={self.mode!r}"


class Line(nn.Module):
    """ŷ = w·x + b for 1-D inputs x of shape (N, 1); returns (N,)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.empty(()).uniform_(-1, 1))
        self.b = nn.Parameter(torch.empty(()).uniform_(-1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.w * x[:, 0] + self.b


class Squeeze(nn.Module):
    """Wraps a network; drops the last axis when it has size 1, so one-output models give (N,)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        out = self.net(x)
        return out.squeeze(-1) if out.shape[-1] == 1 else out


def clamp_hidden(hidden: Iterable[Any]) -> tuple[int, ...]:
    """Hidden widths clamped to [1, 256] each, at most 4 layers."""
    return tuple(min(max(int(h), 1), MAX_WIDTH) for h in tuple(hidden)[:MAX_DEPTH])


def straight_through_mode(value: bool | str) -> str:
    """Normalize the straight-through option: False/"off", True/"identity", "clipped"."""
    mode = {False: "off", True: "identity"}.get(value, value) if isinstance(value, bool) else value
    if mode not in STRAIGHT_THROUGH:
        raise ValueError(
            f"unknown straight_through {value!r}; allowed: True, False, {STRAIGHT_THROUGH}"
        )
    return mode


def _activation(name: str, straight_through: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; allowed: {', '.join(ACTIVATIONS)}")
    table = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}
    return Step(straight_through) if name == "step" else table[name]()


def _mlp(
    in_dim: int, out_dim: int, hidden: Iterable[Any], activation: str, straight_through: str
) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = in_dim
    for h in clamp_hidden(hidden):
        layers += [nn.Linear(width, h), _activation(activation, straight_through)]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, out_dim))


def make_model(
    key: str,
    *,
    in_dim: int,
    out_dim: int,
    hidden: Iterable[int] = (16,),
    activation: str = "tanh",
    straight_through: bool | str = False,
    seed: int = 0,
) -> nn.Module:
    """Model `key` with seeded initial parameters (same seed → same parameters); (N,) if out_dim 1."""
    if key not in MODELS:
        raise ValueError(f"unknown model {key!r}; allowed: {', '.join(MODELS)}")
    if key == "line" and (in_dim != 1 or out_dim != 1):
        raise ValueError(f"model 'line' needs 1-D inputs and one output; got {in_dim} → {out_dim}")
    mode = straight_through_mode(straight_through)
    with global_seed(seed):  # initializers draw from torch's global generator
        if key == "line":
            return Line()
        if key == "logistic":
            return Squeeze(nn.Linear(in_dim, out_dim))
        return Squeeze(_mlp(in_dim, out_dim, hidden, activation, mode))


def param_names(model: nn.Module) -> list[str]:
    """Names of the model's parameters, in the order they appear in theta."""
    return [name for name, _ in model.named_parameters()]


def param_slices(model: nn.Module) -> dict[str, slice]:
    """Index range of each named parameter inside the flat vector theta."""
    out: dict[str, slice] = {}
    start = 0
    for name, p in model.named_parameters():
        out[name] = slice(start, start + p.numel())
        start += p.numel()
    return out


def theta_labels(model: nn.Module) -> list[str]:
    """One label per entry of theta: "w", "b", "net.0.weight[3]", ..."""
    return [
        name if p.numel() == 1 and p.dim() == 0 else f"{name}[{i}]"
        for name, p in model.named_parameters()
        for i in range(p.numel())
    ]


def flat_params(model: nn.Module) -> np.ndarray:
    """All parameters as one flat float64 numpy vector theta."""
    with torch.no_grad():
        flat = torch.cat([p.reshape(-1) for p in model.parameters()])
    return flat.to("cpu", torch.float64).numpy()


def load_flat_params(model: nn.Module, theta: ArrayLike) -> nn.Module:
    """Copy the flat vector theta into the model's parameters (in place); returns the model."""
    vec = torch.as_tensor(np.asarray(theta, dtype=np.float64))
    with torch.no_grad():
        for p, part in zip(model.parameters(), param_slices(model).values(), strict=True):
            p.copy_(vec[part].view_as(p))
    return model
