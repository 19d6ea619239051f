"""The surface bench's floor does the engine's work: every floor candidate (kernel, form, chunk
size) gives the engine's values at every grid point, and the round-robin alternates its order."""

import pytest
import torch

from bench import surface as bench
from explorer.landscape import loss_surface


@pytest.mark.parametrize(("kind", "points"), bench.QUICK_CASES)
def test_every_floor_candidate_computes_the_engines_values(kind, points):
    model, obj, config, _ = bench._case(kind, points)
    surface = loss_surface(model, obj, config, grad=False)
    want = torch.as_tensor(surface.values.ravel(), dtype=torch.float32)
    candidates = bench._floor_candidates(model, obj, bench._grid_thetas(surface), kind)
    kernels, forms = set(bench.KERNELS[kind]), set(bench.FORMS)
    assert {name.split(", ")[0] for name in candidates} == kernels
    assert {name.split(", ")[1] for name in candidates} == forms
    for name, run in candidates.items():
        torch.testing.assert_close(torch.cat(run()), want, rtol=2e-5, atol=1e-6, msg=name)


def test_rounds_alternate_their_order_and_keep_every_time():
    calls = []
    fns = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    times = bench._rounds(fns, 3)
    assert calls == list("abccbaabc")
    assert all(len(ms) == 3 and min(ms) >= 0 for ms in times.values())
    assert bench._round_robin(fns, 2).keys() == fns.keys()
