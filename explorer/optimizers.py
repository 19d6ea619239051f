"""The optimizers a run can use, by name: torch.optim classes with this app's presets, and the
hyper-parameters each takes (torch's keyword names, torch's defaults, a range each)."""

import inspect
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal, get_args

import torch
from torch.optim.optimizer import ParamsT

from explorer.hyperparams import ParamSpec, check_params, short_text

OptimizerName = Literal["sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad"]
OPTIMIZERS: tuple[str, ...] = get_args(OptimizerName)

_MOMENTUM = ParamSpec("momentum", "momentum β", "float", 0.0, 0.0, 0.999, help="v ← β·v + g")
_DAMPENING = ParamSpec(
    "dampening", "dampening", "float", 0.0, 0.0, 1.0, help="v ← β·v + (1 − dampening)·g"
)
_NESTEROV = ParamSpec(
    "nesterov", "Nesterov", "bool", False, help="step along g + β·v (needs β > 0, dampening 0)"
)
_DECAY = ParamSpec(
    "weight_decay", "weight decay", "float", 0.0, 0.0, 1.0, short="wd", help="adds λ·θ to g"
)
_BETAS = ParamSpec(
    "betas", "β1, β2", "pair", (0.9, 0.999), 0.0, 0.9999, help="decay of the 1st / 2nd moment"
)
_EPS = ParamSpec("eps", "ε", "float", 1e-8, 1e-12, 1.0, help="added to the root of the 2nd moment")
_AMSGRAD = ParamSpec("amsgrad", "AMSGrad", "bool", False, help="divide by the largest 2nd moment")
_ALPHA = ParamSpec("alpha", "smoothing α", "float", 0.99, 0.0, 0.9999, help="decay of the mean g²")
_CENTERED = ParamSpec("centered", "centered", "bool", False, help="divide by the variance of g")
_LR_DECAY = ParamSpec("lr_decay", "lr decay", "float", 0.0, 0.0, 1.0, help="α / (1 + (t−1)·decay)")
_INIT_ACC = ParamSpec(
    "initial_accumulator_value", "initial Σg²", "float", 0.0, 0.0, 10.0, short="init_acc"
)

_SGD = (_MOMENTUM, _DAMPENING, _NESTEROV, _DECAY)
_ADAM = (_BETAS, _EPS, _DECAY, _AMSGRAD)
# name: (torch class, its parameters here, this app's preset values)
_TABLE: dict[str, tuple[Any, tuple[ParamSpec, ...], dict]] = {
    "sgd": (torch.optim.SGD, _SGD, {}),
    "momentum": (torch.optim.SGD, _SGD, {"momentum": 0.9}),
    "nesterov": (torch.optim.SGD, _SGD, {"momentum": 0.9, "nesterov": True}),
    "adam": (torch.optim.Adam, _ADAM, {}),
    "adamw": (torch.optim.AdamW, _ADAM, {}),
    "rmsprop": (torch.optim.RMSprop, (_ALPHA, _EPS, _DECAY, _MOMENTUM, _CENTERED), {}),
    "adagrad": (torch.optim.Adagrad, (_LR_DECAY, _DECAY, _INIT_ACC, _EPS), {}),
}
assert tuple(_TABLE) == OPTIMIZERS


def _specs(cls: Any, specs: tuple[ParamSpec, ...], preset: dict) -> dict[str, ParamSpec]:
    """{keyword: spec} with each default the preset's value, else torch's own default."""
    torch_defaults = inspect.signature(cls.__init__).parameters
    out = {}
    for spec in specs:
        default = preset.get(spec.name, torch_defaults[spec.name].default)
        out[spec.name] = replace(spec, default=spec.check(default, cls.__name__))
    return out


OPTIMIZER_PARAMS: dict[str, dict[str, ParamSpec]] = {
    name: _specs(*row) for name, row in _TABLE.items()
}


def _check_name(name: str) -> None:
    if name not in _TABLE:
        raise ValueError(f"unknown optimizer {name!r}; allowed: {', '.join(OPTIMIZERS)}")


def check_optimizer_params(name: str, params: Mapping[str, object] | None) -> dict[str, Any]:
    """A validated copy of params for optimizer `name`: numbers clamped to their ranges,
    missing keys at their defaults; ValueError naming an unknown key, a wrong type, a
    non-finite number, or Nesterov without momentum (or with dampening)."""
    _check_name(name)
    out = check_params(OPTIMIZER_PARAMS[name], params, f"optimizer {name!r}")
    if out.get("nesterov") and (out["momentum"] == 0 or out["dampening"] != 0):
        raise ValueError(
            f"optimizer {name!r}: nesterov needs momentum > 0 and dampening 0; got momentum "
            f"{out['momentum']:g}, dampening {out['dampening']:g}"
        )
    return out


def optimizer_text(name: str, params: Mapping[str, object] | None) -> str:
    """ "adam" or "adam β1=0.5": the name, with the parameters that differ from the
    defaults (short, for labels)."""
    changed = short_text(OPTIMIZER_PARAMS[name], check_optimizer_params(name, params))
    return f"{name} {changed}" if changed else name


def make_optimizer(
    name: str, params: ParamsT, lr: float, optimizer_params: Mapping[str, object] | None = None
) -> torch.optim.Optimizer:
    """The named torch optimizer at rate lr with its (checked) hyper-parameters; `params` may be
    param groups with their own "lr". Presets: momentum = SGD(momentum=0.9), nesterov =
    SGD(momentum=0.9, nesterov=True)."""
    _check_name(name)
    kwargs = check_optimizer_params(name, optimizer_params)
    return _TABLE[name][0](params, lr=lr, **kwargs)
