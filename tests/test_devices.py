"""available_devices lists what torch can use; the sidebar shows it and the CPU is always there."""

import os

import torch

from explorer.devices import available_devices, select_device


def test_cpu_only_machine(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert available_devices() == ["cpu"]


def test_cuda_machine_lists_cuda_first(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert available_devices() == ["cuda", "cpu"]


def test_every_listed_device_is_one_select_device_uses_as_requested():
    for kind in available_devices():
        device, note = select_device(kind)
        assert device.type == kind and "as requested" in note


def test_threads_come_from_the_environment_clamped():
    from explorer.devices import configure_threads

    before = torch.get_num_threads()
    try:
        assert configure_threads({}) == 1 and torch.get_num_threads() == 1
        assert configure_threads({"LLE_TORCH_THREADS": "999"}) == (os.cpu_count() or 1)
        assert configure_threads({"LLE_TORCH_THREADS": "rm -rf /"}) == 1
    finally:
        torch.set_num_threads(before)
