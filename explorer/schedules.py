"""Learning-rate schedules by name, built from torch.optim.lr_scheduler classes.

constant: α throughout · step: α·γ^⌊t/step_size⌋ · cosine: from α down to eta_min over the run
· warmup_cosine: linear from start_factor·α up to α over `warmup` steps, then cosine down.
"""

from collections.abc import Mapping
from typing import Any

import torch
from torch.optim import lr_scheduler

from explorer.hyperparams import ParamSpec, check_params, short_text

SCHEDULES = ("constant", "step", "cosine", "warmup_cosine")

_ETA_MIN = ParamSpec("eta_min", "final rate", "float", 0.0, 0.0, 10.0, help="the rate at the end")
SCHEDULE_PARAMS: dict[str, dict[str, ParamSpec]] = {
    "constant": {},
    "step": {
        "step_size": ParamSpec("step_size", "every (steps)", "int", 50, 1, 5000, short="every"),
        "gamma": ParamSpec("gamma", "factor γ", "float", 0.5, 0.01, 1.0, help="α ← γ·α"),
    },
    "cosine": {"eta_min": _ETA_MIN},
    "warmup_cosine": {
        "warmup": ParamSpec("warmup", "warm-up steps", "int", 20, 1, 5000),
        "start_factor": ParamSpec(
            "start_factor",
            "start factor",
            "float",
            0.1,
            0.01,
            1.0,
            short="start",
            help="the first step's rate is start factor × α",
        ),  # fmt: skip
        "eta_min": _ETA_MIN,
    },
}


def _check_name(name: str) -> None:
    if name not in SCHEDULE_PARAMS:
        raise ValueError(f"unknown schedule {name!r}; allowed: {', '.join(SCHEDULES)}")


def check_schedule_params(name: str, params: Mapping[str, object] | None) -> dict[str, Any]:
    """A validated copy of a schedule's parameters: clamped, defaults filled; ValueError naming
    an unknown key, a wrong type or a non-finite number."""
    _check_name(name)
    return check_params(SCHEDULE_PARAMS[name], params, f"schedule {name!r}")


def schedule_text(name: str, params: Mapping[str, object] | None) -> str:
    """ "cosine" or "step every=20": the name and its changed parameters (for labels)."""
    changed = short_text(SCHEDULE_PARAMS[name], check_schedule_params(name, params))
    return f"{name} {changed}" if changed else name


def make_scheduler(
    name: str, optimizer: torch.optim.Optimizer, steps: int, params: Mapping | None = None
) -> lr_scheduler.LRScheduler | None:
    """The schedule of a run of `steps` optimizer steps (call .step() after each optimizer
    step); None for "constant". The warm-up is cut to steps − 1 at most."""
    p = check_schedule_params(name, params)
    if name == "constant":
        return None
    if name == "step":
        return lr_scheduler.StepLR(optimizer, int(p["step_size"]), gamma=float(p["gamma"]))
    eta_min = float(p["eta_min"])
    if name == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(steps, 1), eta_min=eta_min)
    warmup = min(int(p["warmup"]), max(steps - 1, 1))
    start = float(p["start_factor"])
    ramp = lr_scheduler.LinearLR(optimizer, start_factor=start, total_iters=warmup)
    down = lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(steps - warmup, 1), eta_min=eta_min)
    return lr_scheduler.SequentialLR(optimizer, [ramp, down], milestones=[warmup])
