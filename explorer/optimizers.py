"""The optimizers a run can use, by name: torch.optim classes with this app's presets."""

from collections.abc import Callable
from typing import Literal, get_args

import torch
from torch.optim.optimizer import ParamsT

OptimizerName = Literal["sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad"]
_OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "sgd": lambda p, lr: torch.optim.SGD(p, lr=lr),
    "momentum": lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9),
    "nesterov": lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True),
    "adam": lambda p, lr: torch.optim.Adam(p, lr=lr),
    "adamw": lambda p, lr: torch.optim.AdamW(p, lr=lr, weight_decay=0.01),
    "rmsprop": lambda p, lr: torch.optim.RMSprop(p, lr=lr),
    "adagrad": lambda p, lr: torch.optim.Adagrad(p, lr=lr),
}
OPTIMIZERS: tuple[str, ...] = get_args(OptimizerName)
assert tuple(_OPTIMIZERS) == OPTIMIZERS


def make_optimizer(name: str, params: ParamsT, lr: float) -> torch.optim.Optimizer:
    """The named optimizer (momentum variants use 0.9; adamw weight decay 0.01)."""
    if name not in _OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; allowed: {', '.join(OPTIMIZERS)}")
    return _OPTIMIZERS[name](params, lr)
