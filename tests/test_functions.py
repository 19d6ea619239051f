"""Custom autograd Functions: gradcheck passes for the right backwards and fails for the seed's."""

import numpy as np
import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck
from torch.linalg import matrix_power

from explorer.functions import (
    FUNCTIONS,
    HandGradWeightedSE,
    MatrixPowerExact,
    MatrixPowerSeed,
    Sin2,
    seed_weighted_se_gradient,
)

DTYPE = torch.float64
RTOL, ATOL = 1e-10, 1e-12  # float64 agreement between two exact computations


def rand(*shape, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(*shape, generator=g, dtype=DTYPE)).requires_grad_()


def grad_of(f, *inputs, seed=1):
    """Gradients of <f(inputs), probe> for a fixed random probe (a vector-Jacobian product)."""
    out = f(*inputs)
    probe = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed), dtype=DTYPE)
    return torch.autograd.grad((out * probe).sum(), inputs)


def test_sin2_forward_backward_and_gradcheck():
    x = rand(7)
    torch.testing.assert_close(Sin2.apply(x), 2 * torch.sin(x), rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(
        grad_of(Sin2.apply, x), grad_of(lambda t: 2 * torch.sin(t), x), rtol=RTOL, atol=ATOL
    )
    assert gradcheck(Sin2.apply, (x,)) and gradgradcheck(Sin2.apply, (x,))


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_matrix_power_exact_passes_gradcheck_and_matches_torch(n):
    a = rand(4, 4, seed=n, scale=0.5)
    torch.testing.assert_close(MatrixPowerExact.apply(a, n), matrix_power(a, n))
    ours = grad_of(lambda m: MatrixPowerExact.apply(m, n), a)
    torch.testing.assert_close(ours, grad_of(lambda m: matrix_power(m, n), a), rtol=RTOL, atol=ATOL)
    assert gradcheck(MatrixPowerExact.apply, (a, n))


def test_matrix_power_exact_batched_and_twice_differentiable():
    a = rand(2, 3, 3, seed=7, scale=0.5)
    assert gradcheck(MatrixPowerExact.apply, (a, 3))
    assert gradgradcheck(MatrixPowerExact.apply, (a, 3))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_matrix_power_seed_backward_is_wrong_and_gradcheck_says_so(n):
    a = rand(3, 3, seed=n, scale=0.5)
    torch.testing.assert_close(MatrixPowerSeed.apply(a, n), matrix_power(a, n))
    assert not gradcheck(MatrixPowerSeed.apply, (a, n), raise_exception=False)
    seed_grad = grad_of(lambda m: MatrixPowerSeed.apply(m, n), a)[0]
    true_grad = grad_of(lambda m: matrix_power(m, n), a)[0]
    assert (seed_grad - true_grad).abs().max() > 0.1


@pytest.mark.parametrize("function", [MatrixPowerSeed, MatrixPowerExact])
def test_matrix_power_refuses_bad_exponents_and_shapes(function):
    with pytest.raises(ValueError, match="int >= 1"):
        function.apply(rand(3, 3), 0)
    with pytest.raises(ValueError, match="int >= 1"):
        function.apply(rand(3, 3), 2.0)
    with pytest.raises(ValueError, match="square"):
        function.apply(rand(3, 2), 2)


def test_hand_grad_weighted_se_passes_gradcheck_in_every_input():
    pred, target, w = rand(6, seed=1), rand(6, seed=2), rand(6, seed=3)
    assert gradcheck(HandGradWeightedSE.apply, (pred, target, w))
    autograd = grad_of(lambda p, t, v: v * (t - p) ** 2, pred, target, w)
    ours = grad_of(HandGradWeightedSE.apply, pred, target, w)
    torch.testing.assert_close(ours, autograd, rtol=RTOL, atol=ATOL)


def test_seed_gradient_is_the_same_formula_in_numpy_and_torch():
    g = np.random.default_rng(0)
    y, yhat, w = g.normal(size=5), g.normal(size=5), g.uniform(0.5, 1.5, size=5)
    expected = seed_weighted_se_gradient(y, yhat, w)  # the seed's numpy function
    tensors = [torch.tensor(a, dtype=DTYPE) for a in (y, yhat, w)]
    np.testing.assert_allclose(seed_weighted_se_gradient(*tensors).numpy(), expected)
    np.testing.assert_allclose(expected, -2 * w * (y - yhat))


def test_functions_work_under_vmap():
    x = rand(4, 5, seed=8).detach()
    torch.testing.assert_close(torch.func.vmap(Sin2.apply)(x), 2 * torch.sin(x))
    a = rand(4, 3, 3, seed=9, scale=0.5).detach()
    per_matrix = torch.func.vmap(torch.func.grad(lambda m: MatrixPowerExact.apply(m, 3).sum()))(a)
    expected = torch.func.vmap(torch.func.grad(lambda m: matrix_power(m, 3).sum()))(a)
    torch.testing.assert_close(per_matrix, expected, rtol=RTOL, atol=ATOL)
    target, w = x[0], x[1].abs()
    loss = lambda p: HandGradWeightedSE.apply(p, target, w).sum()
    torch.testing.assert_close(torch.func.vmap(torch.func.grad(loss))(x), -2 * w * (target - x))


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_registry_examples_gradcheck_as_labelled(name):
    example = FUNCTIONS[name]
    inputs = example.make_inputs(seed=0)
    again = example.make_inputs(seed=0)
    assert all(
        torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b for a, b in zip(inputs, again)
    )
    assert any(isinstance(a, torch.Tensor) and a.requires_grad for a in inputs)
    passed = gradcheck(example.function.apply, inputs, raise_exception=False)
    assert passed is example.correct
    assert example.description
