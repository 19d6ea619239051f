"""PyTorch code for every loss of the Lab: torch's own class or a generated module, executed here
(never in the app) and compared with the catalogue's function; or no code and the reason."""

import pytest
import torch
from torch.nn import Module

from explorer.export.pytorch import FORMULAS, NO_CODE, TORCH_CLASSES, torch_code
from explorer.losses import LOSSES, encode_target, get_loss
from tests.test_codegen import run_source

TOL = dict(rtol=1e-10, atol=1e-12)


def _params(spec) -> dict[str, float]:
    """Values away from the defaults, inside each range: the code must carry them."""
    return {p.name: p.min + 0.37 * (p.max - p.min) for p in spec.params}


def _inputs(spec, n: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    if spec.task == "multiclass":
        pred = torch.randn(n, 3, generator=g, dtype=torch.float64)
        return pred, torch.randint(0, 3, (n,), generator=g)
    pred = 1.5 * torch.randn(n, generator=g, dtype=torch.float64)
    y = torch.randn(n, generator=g, dtype=torch.float64)
    return pred, encode_target(spec, y)


def _value_and_grad(fn, pred, target):
    pred = pred.clone().requires_grad_()
    value = fn(pred, target)
    weights = torch.linspace(0.5, 1.5, value.numel(), dtype=torch.float64).reshape(value.shape)
    (grad,) = torch.autograd.grad((value * weights).sum(), pred, allow_unused=True)
    return value.detach(), torch.zeros_like(pred) if grad is None else grad


def test_every_catalogue_loss_has_a_decision():
    decided = set(FORMULAS) | set(TORCH_CLASSES) | set(NO_CODE)
    assert decided == set(LOSSES)
    assert not (set(FORMULAS) & set(TORCH_CLASSES))


@pytest.mark.parametrize("key", sorted(FORMULAS))
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_generated_module_of_a_catalogue_loss_matches_it(key, reduction):
    spec, params = get_loss(key), _params(get_loss(key))
    made = torch_code(spec, params)
    namespace = run_source(made.code)
    (module,) = [v for v in namespace.values() if isinstance(v, type) and issubclass(v, Module)]
    loss = module(**params, reduction=reduction)
    pred, target = _inputs(spec)
    expected = _value_and_grad(
        lambda p, y: spec.fn(p, y, reduction=reduction, **params), pred, target
    )
    got = _value_and_grad(loss, pred, target)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, **TOL)


@pytest.mark.parametrize("key", sorted(TORCH_CLASSES))
def test_torch_class_code_matches_the_catalogue_loss(key, capsys):
    spec, params = get_loss(key), _params(get_loss(key))
    made = torch_code(spec, params)
    assert f"nn.{TORCH_CLASSES[key][0]}(" in made.code
    loss_fn = run_source(made.code)["loss_fn"]  # its gradcheck ran too
    assert "gradcheck passed:" in capsys.readouterr().out
    pred, target = _inputs(spec)
    expected = _value_and_grad(lambda p, y: spec.fn(p, y, reduction="mean", **params), pred, target)
    got = _value_and_grad(loss_fn, pred, target)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, **TOL)


@pytest.mark.parametrize("key", sorted(NO_CODE))
def test_losses_without_code_say_why(key):
    made = torch_code(get_loss(key))
    assert made.code == "" and made.filename == ""
    assert made.note.startswith("No PyTorch code") and NO_CODE[key] in made.note


def test_a_typed_formula_gets_its_module_with_the_slider_values():
    spec = get_loss("expr:mean(sigmoid(k*(t - abs(r))) * r**2)")
    made = torch_code(spec, {"k": 7.5, "t": 2.0, "ignored": 3.0})
    assert made.filename == "custom_loss.py"
    assert "k: float = 7.5, t: float = 2.0" in made.code
    assert "ignored" not in made.code
    run_source(made.code)  # defines the class and runs its gradcheck


def test_parameters_are_clamped_to_their_range_as_the_sliders_are():
    spec = get_loss("huber")
    made = torch_code(spec, {"delta": 1e9})
    assert f"delta={spec.params[0].max!r}" in made.code
