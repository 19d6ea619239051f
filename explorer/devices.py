"""Device choice (auto / cpu / cuda / mps, with what is available here) and torch's threads."""

import os
from collections.abc import Mapping
from typing import Literal, get_args

import torch

from explorer.data import clamp_number

DeviceChoice = Literal["auto", "cpu", "cuda", "mps"]
DEVICES: tuple[str, ...] = get_args(DeviceChoice)


def check_device(choice: str) -> str:
    """choice, or ValueError naming the allowed devices."""
    if choice not in DEVICES:
        raise ValueError(f"unknown device {choice!r}; allowed: {', '.join(DEVICES)}")
    return choice


def select_device(choice: str) -> tuple[torch.device, str]:
    """The torch device for `choice` and a sentence saying what was picked and why."""
    check_device(choice)
    has = {"cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if choice == "auto":
        for kind in ("cuda", "mps"):
            if has[kind]:
                return torch.device(kind), f"auto picked {kind}: {_describe(kind)} is available"
        return torch.device("cpu"), "auto picked cpu: no CUDA or MPS device is available"
    if choice == "cpu" or has[choice]:
        return torch.device(choice), f"using {choice}, as requested"
    return torch.device("cpu"), f"{choice} was requested but is not available here; using cpu"


def configure_threads(environ: Mapping[str, str] = os.environ) -> int:
    """Set torch's intra-op threads from LLE_TORCH_THREADS (default 1: a server runs many sessions)."""
    raw = environ.get("LLE_TORCH_THREADS", "1")
    threads = int(clamp_number(raw if raw.strip().isdigit() else 1, 1, os.cpu_count() or 1, 1))
    torch.set_num_threads(threads)
    return threads


def available_devices() -> list[str]:
    """The device kinds torch can use here, cpu always last (e.g. ["cuda", "cpu"])."""
    has = {"cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    return [kind for kind, ok in has.items() if ok] + ["cpu"]


def _describe(kind: str) -> str:
    return torch.cuda.get_device_name(0) if kind == "cuda" else "Apple's Metal (MPS) GPU"
