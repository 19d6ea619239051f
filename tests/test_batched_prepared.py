"""The surface engine without autograd (blocks of θ, prepared forwards, in-place losses) against
a per-point loop in float64, and the catalogue's in-place loss forms against their losses.

Without gradients the engine makes θ a block of chunks at a time, runs each chunk on views of the
block through a prepared forward that writes into kept buffers, and takes the loss in its
in-place form over those buffers where the loss has one. Every value must still be the model's
own forward and the loss's own "mean" at that point.
"""

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from explorer.data import make_dataset
from explorer.landscape import batched, blocks, kernels
from explorer.landscape.batched import BatchedLoss, losses_at, plane_losses
from explorer.losses import LOSSES, get_loss
from explorer.models import ACTIVATIONS, Line, Squeeze, make_model
from explorer.objective import objective

TIGHT = dict(rtol=1e-10, atol=1e-12)  # float64 batched vs per-point: same maths, other op order
IN_PLACE = sorted(key for key, spec in LOSSES.items() if spec.in_place is not None)


def _loop(model, obj, thetas):
    """The reference: each θ loaded into a copy of the model, the objective's "mean"."""
    model, out = copy.deepcopy(model), []
    with torch.no_grad():
        for theta in thetas:
            nn.utils.vector_to_parameters(theta, model.parameters())
            out.append(float(obj(model)))
    return np.asarray(out)


def _plane(model, n_points=23, seed=0):
    gen = torch.Generator().manual_seed(seed)
    centre = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    dirs = torch.randn(2, centre.numel(), generator=gen, dtype=torch.float64)
    coeffs = torch.randn(n_points, 2, generator=gen, dtype=torch.float64)
    return centre, dirs, coeffs, centre + coeffs @ dirs


def _case(model, loss="mse"):
    model = model.double()
    data = make_dataset("line" if isinstance(model, Line) else "moons", n=40)
    return model, objective(data, get_loss(loss)).to("cpu", torch.float64)


@pytest.mark.parametrize(
    ("activation", "tanh"),
    [(act, "torch.tanh") for act in ACTIVATIONS]
    + [("tanh", name) for name in kernels.TANH_KERNELS if name != "torch.tanh"],
)
def test_every_activation_without_gradients_equals_the_loop(activation, tanh, monkeypatch):
    """Each activation of the app's MLPs, and tanh on each of its kernels, on the prepared
    path: an activation whose fresh-input form returns a new tensor (sigmoid's, GELU's, the
    step's, the tanh formula's) is that layer's output, not dropped."""
    monkeypatch.setattr("explorer.landscape.forwards.tanh_kernel", lambda device, dtype: tanh)
    torch.manual_seed(0)
    model, obj = _case(make_model("mlp", in_dim=2, out_dim=1, hidden=(5, 4), activation=activation))
    assert BatchedLoss(model, obj)._prepare is not None  # the prepared path is the one tested
    centre, dirs, coeffs, thetas = _plane(model)
    want = _loop(model, obj, thetas)
    for chunk in (1, 4, 23, 1000):
        values, _ = plane_losses(model, obj, centre, dirs, coeffs, chunk=chunk)
        np.testing.assert_allclose(values.numpy(), want, **TIGHT)
    np.testing.assert_allclose(losses_at(model, obj, thetas, chunk=5).numpy(), want, **TIGHT)


@pytest.mark.parametrize(
    "build",
    [
        lambda: make_model("line", in_dim=1, out_dim=1),
        lambda: make_model("mlp", in_dim=2, out_dim=1, hidden=(6, 3), activation="tanh"),
        lambda: Squeeze(nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Sigmoid(), nn.Linear(3, 1))),
        lambda: Squeeze(nn.Sequential(nn.Tanh(), nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))),
    ],
)
@pytest.mark.parametrize("block", [1, 10, 1 << 18])
def test_blocks_of_theta_equal_the_loop(build, block, monkeypatch):
    """θ made a block at a time: blocks of one chunk, several uneven ones, one for the whole
    grid; chunks of 1, 3 and 7 points (the last of a block and of the grid shorter); chains
    with two activations in a row and one before any matmul."""
    monkeypatch.setattr(blocks, "THETA_BLOCK", block)
    torch.manual_seed(1)
    model, obj = _case(build())
    centre, dirs, coeffs, thetas = _plane(model, n_points=29, seed=1)
    want = _loop(model, obj, thetas)
    for chunk in (1, 3, 7):
        values, _ = plane_losses(model, obj, centre, dirs, coeffs, chunk=chunk)
        np.testing.assert_allclose(values.numpy(), want, **TIGHT)
        np.testing.assert_allclose(losses_at(model, obj, thetas, chunk=chunk), want, **TIGHT)


@pytest.mark.parametrize(
    "build",
    [
        lambda: make_model("line", in_dim=1, out_dim=1),
        lambda: make_model("mlp", in_dim=2, out_dim=1, hidden=(6, 3), activation="relu"),
        lambda: _NotAChain(),  # the vmap path
    ],
)
@pytest.mark.parametrize("block", [1, 10, 1 << 18])
@pytest.mark.parametrize(("rows", "cols"), [(5, 7), (7, 5), (1, 9), (6, 1)])
def test_a_grid_without_gradients_equals_the_loop(build, block, rows, cols, monkeypatch):
    """grid_losses without gradients (θ made from the two axes, no coefficients grid) at every
    grid point, row-major with a slow: blocks of one point up to the whole grid, so blocks that
    start and end inside a grid row; grids wider and taller than square; chunks of 1, 4, 6."""
    monkeypatch.setattr(blocks, "THETA_BLOCK", block)
    torch.manual_seed(2)
    model, obj = _case(build())
    centre, dirs, _, _ = _plane(model, seed=2)
    a = torch.linspace(-1.5, 1.0, rows, dtype=torch.float64)
    b = torch.linspace(-0.5, 2.0, cols, dtype=torch.float64)
    thetas = centre + torch.cartesian_prod(a, b).reshape(-1, 2) @ dirs
    want = _loop(model, obj, thetas)
    for chunk in (1, 4, 6):
        values, grads = batched.grid_losses(model, obj, centre, dirs, a, b, chunk=chunk)
        assert grads is None and values.shape == (rows * cols,)
        np.testing.assert_allclose(values.numpy(), want, **TIGHT)


def test_a_grid_with_gradients_is_the_plane_of_its_coefficients():
    """With gradients grid_losses is plane_losses on the cartesian product of its axes."""
    model, obj = _case(make_model("mlp", in_dim=2, out_dim=1, hidden=(4,), activation="tanh"))
    centre, dirs, _, _ = _plane(model, seed=3)
    a, b = (
        torch.linspace(-1, 1, 4, dtype=torch.float64),
        torch.linspace(0, 2, 3, dtype=torch.float64),
    )
    values, grads = batched.grid_losses(model, obj, centre, dirs, a, b, grad=True)
    want, want_grads = plane_losses(model, obj, centre, dirs, torch.cartesian_prod(a, b), grad=True)
    np.testing.assert_allclose(values.numpy(), want.numpy(), **TIGHT)
    np.testing.assert_allclose(grads.numpy(), want_grads.numpy(), **TIGHT)
    with pytest.raises(ValueError, match="2 directions"):
        batched.grid_losses(model, obj, centre, dirs[:1], a, b)


class _NotAChain(nn.Module):
    """y = tanh(w·x)·v: no Linear/activation chain, so the engine vmaps it."""

    def __init__(self):
        super().__init__()
        self.w, self.v = nn.Parameter(torch.randn(2)), nn.Parameter(torch.randn(()))

    def forward(self, x):
        return torch.tanh(x @ self.w) * self.v


def test_a_block_holds_whole_chunks_and_at_least_one():
    assert blocks.block_rows(n_params=2, size=524, total=40401) == 40401  # the line: one block
    assert blocks.block_rows(n_params=1185, size=16, total=10201) == 880  # 55 chunks of 16
    assert blocks.block_rows(n_params=10**7, size=16, total=100) == 16  # θ of one chunk
    assert blocks.block_rows(n_params=10, size=7, total=3) == 3


@pytest.mark.parametrize("key", IN_PLACE)
def test_an_in_place_form_is_its_losses_none_values_over_pred(key):
    """in_place(pred, target) == fn(pred, target, reduction="none"), in pred's own memory, on a
    grid of predictions (g, N) against targets (N,) and on plain (N,) ones; a target that would
    broadcast pred larger raises."""
    spec, gen = LOSSES[key], torch.Generator().manual_seed(2)
    assert spec.in_place is not None and not spec.params and not spec.per_sample_weights
    for shape in ((7, 30), (30,)):
        pred = 3 * torch.randn(*shape, generator=gen, dtype=torch.float64)
        target = torch.randn(30, generator=gen, dtype=torch.float64)
        want = spec.fn(pred, target, reduction="none")
        scratch = pred.clone()
        got = spec.in_place(scratch, target)
        assert got.data_ptr() == scratch.data_ptr()
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-15, atol=0)
    with pytest.raises(RuntimeError):
        spec.in_place(torch.zeros(30, 1, dtype=torch.float64), torch.zeros(30, dtype=torch.float64))


@pytest.mark.parametrize("key", IN_PLACE)
def test_the_engine_takes_the_in_place_form_without_gradients_only(key):
    """Surfaces of a loss with an in-place form call it on the no-gradient path (line and MLP)
    and not on the gradient path; the values equal the loop either way."""
    for model in (make_model("line", in_dim=1, out_dim=1), make_model("mlp", in_dim=2, out_dim=1)):
        model, obj = _case(model, key)
        calls = []

        def spy(pred, target, form=obj.in_place):
            calls.append(tuple(pred.shape))
            return form(pred, target)

        obj = replace(obj, in_place=spy)
        centre, dirs, coeffs, thetas = _plane(model)
        want = _loop(model, obj, thetas)
        values, _ = plane_losses(model, obj, centre, dirs, coeffs, chunk=10)
        assert calls == [(10, 40), (10, 40), (3, 40)]
        np.testing.assert_allclose(values.numpy(), want, **TIGHT)
        calls.clear()
        values, _ = plane_losses(model, obj, centre, dirs, coeffs, chunk=10, grad=True)
        assert calls == []
        np.testing.assert_allclose(values.detach().numpy(), want, **TIGHT)


def test_weights_parameters_or_a_link_keep_the_loss_itself():
    """An objective the in-place form does not cover (per-sample weights, a loss parameter, a
    sigmoid link) never reaches it, and its values are still the loop's."""
    model = make_model("mlp", in_dim=2, out_dim=1).double()
    data = make_dataset("moons", n=40)
    never = lambda pred, target: pytest.fail("the in-place form ran where it does not apply")
    weights = torch.rand(40, generator=torch.Generator().manual_seed(3))
    cases = (
        replace(objective(data, get_loss("weighted_mse")), weights=weights),
        objective(data, get_loss("huber"), {"delta": 0.3}),
        replace(objective(data, get_loss("mse")), link="sigmoid"),
    )
    centre, dirs, coeffs, thetas = _plane(model, n_points=9)
    for case in cases:
        case = replace(case.to("cpu", torch.float64), in_place=never)
        values, _ = plane_losses(model, case, centre, dirs, coeffs, chunk=4)
        np.testing.assert_allclose(values.numpy(), _loop(model, case, thetas), **TIGHT)


def _double_mse(pred, target, reduction="mean", weights=None):
    """The squared error computed and returned in float64, whatever the predictions' dtype."""
    rows = (pred.double() - target.double()) ** 2
    return rows if reduction == "none" else rows.mean()


@pytest.mark.parametrize("mean_of_elements", [True, False])
def test_a_loss_in_another_dtype_gives_the_values_its_dtype(mean_of_elements):
    """A float32 model whose loss returns float64: the values are float64, every chunk's loss
    (the first one included, which decides the dtype) in its place."""
    data = make_dataset("line", n=30)
    model = make_model("line", in_dim=1, out_dim=1)
    obj = replace(
        objective(data, get_loss("mse")),
        fn=_double_mse,
        in_place=None,
        mean_of_elements=mean_of_elements,
    )
    centre, dirs, coeffs, thetas = _plane(copy.deepcopy(model).double(), n_points=11, seed=4)
    as_double = replace(obj, x=obj.x.double(), target=obj.target.double())
    want = _loop(copy.deepcopy(model).double(), as_double, thetas)
    assert next(model.parameters()).dtype == torch.float32
    for chunk in (1, 4, 11):
        values, _ = plane_losses(model, obj, centre, dirs, coeffs, chunk=chunk)
        assert values.dtype == torch.float64
        np.testing.assert_allclose(values.numpy(), want, rtol=1e-5, atol=1e-6)
