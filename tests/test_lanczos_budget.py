"""The Hessian's Lanczos loop takes a budget: checked before every Hessian-vector product, it
ends the work with Cut once spent or cancelled, and a budget with room changes nothing."""

import pytest
import torch

from explorer.budget import Budget, Cut
from explorer.data import make_dataset
from explorer.landscape import SurfaceConfig, hessian_eigenpairs, loss_surface
from explorer.losses import get_loss
from explorer.models import make_model
from explorer.objective import objective
from tests.test_budget import After, Ticks

ITERS = 40  # Lanczos products for a model with more parameters than this


@pytest.fixture(scope="module")
def case():
    torch.manual_seed(0)
    data = make_dataset("moons", n=40, seed=2)
    model = make_model("mlp", in_dim=2, out_dim=1, hidden=(16,), activation="tanh").double()
    assert sum(p.numel() for p in model.parameters()) > ITERS
    return model, objective(data, get_loss("bce_logits")).to("cpu", torch.float64)


def counting_products(monkeypatch):
    """Count the Hessian-vector products Lanczos asks for."""
    import explorer.landscape.directions as directions

    calls = []
    original = directions._hvp

    def hvp(*args):
        product = original(*args)
        return lambda v: calls.append(1) or product(v)

    monkeypatch.setattr(directions, "_hvp", hvp)
    return calls


def test_a_spent_budget_stops_lanczos_within_a_product(case, monkeypatch):
    model, obj = case
    products = counting_products(monkeypatch)
    clock = Ticks()  # 1 s of "CPU" a read: entry (0), graph (1), products at 2, 3, 4; cut at 5
    budget = Budget(5.0, clock=clock, wall_cap=1e9)
    with pytest.raises(Cut, match="time budget of 5 s of CPU is spent") as cut:
        hessian_eigenpairs(model, obj, iters=ITERS, budget=budget)
    assert cut.value.reason == "budget" and budget.cut == "budget"
    assert len(products) == 3 < ITERS
    assert not budget.running  # the call ran it, and left it


def test_the_running_unit_is_checked_without_a_budget_argument(case, monkeypatch):
    model, obj = case
    products = counting_products(monkeypatch)
    with pytest.raises(Cut, match="cancelled"), Budget(cancel=After(4)):  # entry, graph, 2 products
        hessian_eigenpairs(model, obj, iters=ITERS)
    assert len(products) == 1


def test_a_budget_with_room_gives_the_full_hessians_eigenpairs(case):
    model, obj = case
    budget = Budget(600.0)
    with budget:  # a running budget is checked, not restarted
        vals, dirs = hessian_eigenpairs(model, obj, iters=200, budget=budget)
        assert budget.running and budget.cut is None
    free_vals, _ = hessian_eigenpairs(model, obj, iters=200)
    assert torch.equal(vals, free_vals)
    theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]

    def loss(flat):
        params, start = {}, 0
        for name, shape in zip(names, shapes, strict=True):
            params[name] = flat[start : start + shape.numel()].reshape(shape)
            start += shape.numel()
        return obj.of_output(torch.func.functional_call(model, params, (obj.x,)))

    dense = torch.linalg.eigvalsh(torch.autograd.functional.hessian(loss, theta))
    top = dense[dense.abs().argsort(descending=True)[:2]]
    torch.testing.assert_close(vals, top, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(dirs @ dirs.T, torch.eye(2, dtype=torch.float64), atol=1e-8, rtol=0)


def test_a_hessian_surface_under_a_spent_budget_is_cut_not_drawn(case):
    model, obj = case
    config = SurfaceConfig(axes="hessian", points=5)
    budget = Budget(3.0, clock=Ticks(), wall_cap=1e9)
    with pytest.raises(Cut, match="budget"), budget:
        loss_surface(model, obj, config)
    assert budget.cut == "budget" and budget.used_s == 3.0  # cut inside Lanczos, at its 2nd product
