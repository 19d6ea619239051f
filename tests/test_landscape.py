"""Landscape engine against references: closed forms, a plain per-point loop, eigvalsh, loss-landscapes."""

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from explorer.data import make_dataset
from explorer.devices import available_devices
from explorer.landscape import (
    POINTS_RANGE,
    SurfaceConfig,
    interpolation_slice,
    loss_surface,
    project_trajectory,
    random_line,
)
from explorer.landscape.batched import BatchedLoss, losses_at, plane_losses
from explorer.landscape.directions import (
    filter_ids,
    filter_normalized_directions,
    hessian_eigenpairs,
    pca_directions,
)
from explorer.losses import LOSSES, get_loss
from explorer.models import flat_params, make_model
from explorer.objective import Objective, objective

TIGHT = dict(rtol=1e-10, atol=1e-12)  # float64 batched vs per-point: same maths, other op order
FD = dict(rtol=1e-6, atol=1e-8)  # float64 central differences, h = 1e-5
F32 = dict(rtol=2e-5, atol=1e-6)  # float32 batched (fast tanh) vs the model's own forward
DATA_FOR_TASK = {
    "regression": "sine",
    "binary": "moons",
    "multiclass": "blobs3",
    "segmentation": "mask",
}


def mse_objective(data) -> Objective:
    return objective(data, get_loss("mse"))


def loop_losses(model, obj, thetas) -> torch.Tensor:
    """The reference: load each θ into a copy of the model, run it, compute the loss."""
    model = copy.deepcopy(model)
    out = []
    with torch.no_grad():
        for theta in torch.as_tensor(np.asarray(thetas)):
            nn.utils.vector_to_parameters(theta.to(next(model.parameters())), model.parameters())
            out.append(obj(model))
    return torch.stack(out).double()


def grid_thetas(surface) -> np.ndarray:
    return np.stack([surface.theta(a, b) for a in surface.alpha for b in surface.beta])


def mlp(activation="tanh", hidden=(6, 5), out_dim=1, seed=1, in_dim=2):
    model = make_model("mlp", in_dim=in_dim, out_dim=out_dim, hidden=hidden, activation=activation)
    return model.double() if seed is None else _reseed(model.double(), seed)


def _reseed(model, seed):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
    return model


def double(data):
    """The data set in float64 (class ids stay integers)."""
    y = data.y.double() if data.y.is_floating_point() else data.y
    return replace(data, x=data.x.double(), y=y)


@pytest.fixture(scope="module")
def line_case():
    data = double(make_dataset("line", n=50, seed=3, noise=0.3))
    return make_model("line", in_dim=1, out_dim=1, seed=2).double(), mse_objective(data)


@pytest.fixture(scope="module")
def moons_case():
    data = double(make_dataset("moons", n=40, seed=1))
    return mlp(), objective(data, get_loss("bce_logits"))


# --- the line y = w·x + b with MSE: a quadratic known in closed form -------------------------


def test_line_surface_is_the_closed_form_quadratic_and_its_gradient(line_case):
    model, obj = line_case
    surface = loss_surface(model, obj, SurfaceConfig(axes="params", points=9, span=1.5))
    x, y = obj.x[:, 0].numpy(), obj.target.numpy()
    w, b = np.meshgrid(surface.alpha, surface.beta, indexing="ij")
    sxx, sx, sxy, sy, syy = (x * x).mean(), x.mean(), (x * y).mean(), y.mean(), (y * y).mean()
    closed = w**2 * sxx + 2 * w * b * sx + b**2 - 2 * w * sxy - 2 * b * sy + syy
    np.testing.assert_allclose(surface.values, closed, rtol=1e-12)
    np.testing.assert_allclose(surface.grad_alpha, 2 * (w * sxx + b * sx - sxy), rtol=1e-10)
    np.testing.assert_allclose(surface.grad_beta, 2 * (w * sx + b - sy), rtol=1e-10, atol=1e-12)
    assert surface.labels == ("w", "b") and surface.kind == "params"
    assert surface.origin == (model.w.item(), model.b.item())  # grid in absolute w, b
    np.testing.assert_allclose(surface.alpha[[0, -1]], model.w.item() + np.array([-1.5, 1.5]))


# --- random planes: batched equals the per-point loop; gradient equals finite differences ----


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "gelu", "step"])
def test_random_plane_equals_per_point_loop(moons_case, activation):
    _, obj = moons_case
    model = mlp(activation)
    surface = loss_surface(model, obj, SurfaceConfig(points=7, span=0.8, seed=5))
    loop = loop_losses(model, obj, grid_thetas(surface)).reshape(7, 7)
    np.testing.assert_allclose(surface.values, loop.numpy(), **TIGHT)


class Residual(nn.Module):
    """Not a Linear/activation chain: exercises the vmap(functional_call) path."""

    def __init__(self):
        super().__init__()
        self.inp, self.hid, self.out = nn.Linear(2, 4), nn.Linear(4, 4), nn.Linear(4, 1)

    def forward(self, x):
        h = torch.tanh(self.inp(x))
        return self.out(h + torch.sin(self.hid(h)))[:, 0]


def test_vmap_fallback_equals_per_point_loop(moons_case):
    _, obj = moons_case
    model = _reseed(Residual().double(), 4)
    surface = loss_surface(model, obj, SurfaceConfig(points=6, span=0.7))
    assert BatchedLoss(model, obj).forward.__name__ == "_vmap_forward"
    loop = loop_losses(model, obj, grid_thetas(surface)).reshape(6, 6)
    np.testing.assert_allclose(surface.values, loop.numpy(), **TIGHT)


@pytest.mark.parametrize("net", ["mlp", "residual"])
def test_gradient_field_equals_central_differences(moons_case, net):
    model, obj = moons_case
    model = model if net == "mlp" else _reseed(Residual().double(), 4)
    surface = loss_surface(model, obj, SurfaceConfig(points=5, span=0.5, seed=2))
    h, (d1, d2) = 1e-5, surface.directions
    thetas = grid_thetas(surface)
    for d, field in ((d1, surface.grad_alpha), (d2, surface.grad_beta)):
        plus, minus = (
            loop_losses(model, obj, thetas + h * d),
            loop_losses(model, obj, thetas - h * d),
        )
        np.testing.assert_allclose(field.ravel(), ((plus - minus) / (2 * h)).numpy(), **FD)


def test_float32_fast_path_matches_the_model_forward():
    data = make_dataset("moons", n=64, seed=0)
    model, obj = make_model("mlp", in_dim=2, out_dim=1, hidden=(32, 32)), mse_objective(data)
    surface = loss_surface(model, obj, SurfaceConfig(points=5, span=1.0))
    assert surface.values.dtype == np.float64 and BatchedLoss(model, obj).dtype == torch.float32
    loop = loop_losses(model, obj, grid_thetas(surface)).reshape(5, 5)
    np.testing.assert_allclose(surface.values, loop.numpy(), **F32)


@pytest.mark.parametrize("key", sorted(LOSSES))
def test_every_catalogue_loss_equals_the_loop(key):
    spec = get_loss(key)
    data = double(make_dataset(DATA_FOR_TASK[spec.task], n=30, seed=2))
    out_dim = data.n_classes if spec.task == "multiclass" else 1
    model = mlp("tanh", hidden=(5,), out_dim=out_dim, seed=3, in_dim=data.in_dim)
    obj = objective(data, spec)
    surface = loss_surface(model, obj, SurfaceConfig(points=5, span=0.5))
    loop = loop_losses(model, obj, grid_thetas(surface)).reshape(5, 5)
    np.testing.assert_allclose(surface.values, loop.numpy(), **TIGHT)


@pytest.mark.parametrize(
    "key, broadcast",
    [("mse", True), ("cross_entropy", True), ("dice", False), ("weighted_ce", False)],
)
def test_loss_path_broadcast_or_vmap(key, broadcast):
    spec = get_loss(key)
    data = double(make_dataset(DATA_FOR_TASK[spec.task], n=20))
    model = mlp(out_dim=data.n_classes if spec.task == "multiclass" else 1, in_dim=data.in_dim)
    f = BatchedLoss(model, objective(data, spec))
    thetas = torch.stack([torch.as_tensor(flat_params(model))] * 2) + torch.randn(2, 1).double()
    assert f.broadcast is broadcast is spec.mean_of_elements  # from the loss, before any call
    np.testing.assert_allclose(
        f(thetas).numpy(), loop_losses(model, f.obj, thetas).numpy(), **TIGHT
    )


def test_chunk_sizes_give_the_same_values_and_gradients(moons_case):
    model, obj = moons_case
    config = SurfaceConfig(points=6, span=1.0, seed=1)
    runs = [loss_surface(model, obj, config, chunk=c) for c in (1, 7, 36)]
    for other in runs[1:]:
        for name in ("values", "grad_alpha", "grad_beta"):
            np.testing.assert_allclose(getattr(other, name), getattr(runs[0], name), **TIGHT)


def test_chunk_size_respects_the_memory_budget(moons_case):
    model, obj = moons_case
    f = BatchedLoss(model, obj)
    per_point = 8 * (40 * 6 * (2 * 3 + 4) + 3 * f.n_params)
    assert f.chunk_size(budget_mib=1, total=10**6) == 2**20 // per_point
    assert f.chunk_size(budget_mib=1e-9, total=10) == 1
    assert f.chunk_size(budget_mib=256, total=3) == 3
    with pytest.raises(ValueError, match="chunk must be a positive integer"):
        loss_surface(model, obj, SurfaceConfig(points=5), chunk=0)


def test_a_loss_that_cannot_be_batched_is_named(moons_case):
    model, obj = moons_case
    scalar = lambda p, t, reduction="mean": torch.tensor(float(p.sum()))  # .item-style escape
    with pytest.raises(ValueError, match="cannot be batched"):
        loss_surface(
            model, Objective(x=obj.x, target=obj.target, fn=scalar), SurfaceConfig(points=5)
        )


# --- directions --------------------------------------------------------------------------


def test_filter_normalization_holds_per_filter():
    model = mlp(hidden=(6, 5))
    theta = torch.as_tensor(flat_params(model))
    dirs = filter_normalized_directions(model, theta, n=2, seed=7)
    ids, count = filter_ids(model)
    assert count == 6 + 5 + 1  # one filter a row of each weight matrix
    for d in dirs:
        for f in range(count):
            np.testing.assert_allclose(d[ids == f].norm(), theta[ids == f].norm(), rtol=1e-12)
        assert torch.all(d[ids < 0] == 0)  # biases zeroed
    assert abs(float(dirs[0] @ dirs[1])) < 1e-12 * float(dirs.norm(dim=1).prod())
    kept = filter_normalized_directions(model, theta, seed=7, keep_bias=True)
    bias = slice(12, 18)  # net.0.bias
    np.testing.assert_allclose(kept[0][bias].norm(), theta[bias].norm(), rtol=1e-12)
    assert not torch.equal(filter_normalized_directions(model, theta, seed=8), dirs)


def test_pca_axes_recover_a_known_line_and_plane():
    gen = torch.Generator().manual_seed(0)
    centre, u, v = torch.randn(3, 20, generator=gen, dtype=torch.float64)
    u, v = u / u.norm(), v - (v @ u) * u / (u @ u)
    v = v / v.norm()
    s = torch.linspace(3, 0, 30, dtype=torch.float64)
    dirs, frac = pca_directions((centre + s[:, None] * u).numpy(), centre.numpy())
    assert abs(float(dirs[0] @ u)) == pytest.approx(1, abs=1e-12)
    assert float(frac[0]) == pytest.approx(1, abs=1e-12)
    assert float((s[0] * u) @ dirs[0]) < 0  # the first step lies on the negative side
    path = centre + s[:, None] * u + torch.sin(s)[:, None] * v
    dirs, frac = pca_directions(path.numpy(), centre.numpy())
    basis = torch.stack([u, v])
    np.testing.assert_allclose((dirs @ basis.T).det().abs(), 1, atol=1e-10)
    assert float(frac.sum()) == pytest.approx(1, abs=1e-12)


def test_top_hessian_eigenvalues_of_least_squares_match_eigvalsh():
    data = make_dataset("blobs", n=60, seed=4)
    x = torch.cat([data.x.double(), data.x.double() ** 2, data.x[:, :1].double() ** 3], 1)
    model = make_model("logistic", in_dim=5, out_dim=1, seed=1).double()
    obj = Objective(x=x, target=data.y.double(), fn=get_loss("mse").fn)
    design = torch.cat([x, torch.ones(len(x), 1, dtype=torch.float64)], 1)
    exact, vecs = torch.linalg.eigh(2 * design.T @ design / len(x))
    vals, dirs = hessian_eigenpairs(model, obj, k=2)
    np.testing.assert_allclose(vals.numpy(), exact.flip(0)[:2].numpy(), rtol=1e-10)
    np.testing.assert_allclose((dirs @ vecs[:, -1]).abs()[0], 1, rtol=1e-10)


def test_hessian_eigenpairs_of_an_mlp_match_the_full_hessian(moons_case):
    model, obj = moons_case
    theta = torch.as_tensor(flat_params(model))

    def loss_of(t):
        params = dict(zip([n for n, _ in model.named_parameters()], _split(model, t), strict=True))
        return obj.of_output(torch.func.functional_call(model, params, (obj.x,)))

    exact = torch.linalg.eigvalsh(torch.autograd.functional.hessian(loss_of, theta))
    top = exact[exact.abs().argsort(descending=True)[:2]]
    vals, dirs = hessian_eigenpairs(model, obj, k=2, iters=theta.numel())
    np.testing.assert_allclose(vals.numpy(), top.numpy(), rtol=1e-8)
    surface = loss_surface(model, obj, SurfaceConfig(axes="hessian", points=5, span=1e-3))
    assert surface.eigenvalues == pytest.approx(tuple(top.tolist()), rel=1e-6)
    second = (surface.values[3, 2] - 2 * surface.values[2, 2] + surface.values[1, 2]) / 0.5e-3**2
    assert second == pytest.approx(float(top[0]), rel=1e-3)  # curvature along axis 1 is λ₁


def _split(model, t):
    sizes = [p.numel() for p in model.parameters()]
    return [c.reshape(p.shape) for c, p in zip(t.split(sizes), model.parameters(), strict=True)]


# --- trajectories and 1-D slices ---------------------------------------------------------


def test_projection_of_points_in_the_plane_drops_nothing(moons_case):
    model, obj = moons_case
    surface = loss_surface(model, obj, SurfaceConfig(points=5, span=1.0))
    coords = np.array([[0.3, -0.2], [0.0, 0.0], [-0.7, 0.9]])
    inside = [surface.theta(a, b) for a, b in coords]
    proj = project_trajectory(model, obj, surface, inside)
    np.testing.assert_allclose(np.c_[proj.alpha, proj.beta], coords, atol=1e-12)
    np.testing.assert_allclose(proj.dropped, 0, atol=1e-12)
    np.testing.assert_allclose(proj.surface, proj.loss, **TIGHT)
    normal = np.random.default_rng(0).normal(size=surface.centre.size)
    normal -= np.linalg.lstsq(surface.directions.T, normal, rcond=None)[0] @ surface.directions
    off = project_trajectory(
        model, obj, surface, [inside[0] + 0.5 * normal / np.linalg.norm(normal)]
    )
    np.testing.assert_allclose(off.dropped, 0.5, rtol=1e-12)
    np.testing.assert_allclose(off.surface, proj.loss[:1], **TIGHT)
    assert abs(off.loss[0] - off.surface[0]) > 1e-6  # the true loss is not the surface's


def test_pca_surface_of_a_training_run():
    train_module = pytest.importorskip("explorer.training")
    TrainConfig, train = train_module.TrainConfig, train_module.train
    records = list(train(TrainConfig(dataset="line", model="line", steps=15, lr=0.1)))
    data = make_dataset("line", n=200)
    model = make_model("line", in_dim=1, out_dim=1)
    obj = mse_objective(data)
    surface = loss_surface(
        model,
        obj,
        SurfaceConfig(axes="pca", points=7),
        trajectory=records,
        centre=records[-1].theta,
    )
    proj = project_trajectory(model, obj, surface, records)
    assert sum(surface.explained) == pytest.approx(1, abs=1e-9)  # 2 parameters: the plane is all
    np.testing.assert_allclose(proj.dropped, 0, atol=1e-6)
    np.testing.assert_allclose(proj.loss, [r.loss for r in records], rtol=1e-5)
    np.testing.assert_allclose(proj.surface, proj.loss, rtol=1e-5)
    assert np.abs(proj.alpha).max() <= surface.alpha.max() + 1e-12  # span fitted to the path


def test_interpolation_and_random_line(moons_case):
    model, obj = moons_case
    theta_a = flat_params(model)
    theta_b = theta_a + np.linspace(-1, 1, theta_a.size)
    line = interpolation_slice(model, obj, theta_a, theta_b, points=15, margin=0.2)
    ends = loop_losses(model, obj, [theta_a, theta_b]).numpy()
    np.testing.assert_allclose(line.values[[2, 12]], ends, **TIGHT)  # t = 0 and t = 1
    rnd = random_line(model, obj, points=9, span=0.5, seed=3)
    thetas = rnd.start + rnd.t[:, None] * rnd.direction
    np.testing.assert_allclose(rnd.values, loop_losses(model, obj, thetas).numpy(), **TIGHT)
    h = 1e-5
    fd = (
        loop_losses(model, obj, thetas + h * rnd.direction)
        - loop_losses(model, obj, thetas - h * rnd.direction)
    ) / (2 * h)
    np.testing.assert_allclose(rnd.grad, fd.numpy(), **FD)


def test_losses_at_equals_loop(moons_case):
    model, obj = moons_case
    thetas = flat_params(model) + np.random.default_rng(1).normal(size=(9, 59)) * 0.3
    np.testing.assert_allclose(
        losses_at(model, obj, thetas, chunk=4).numpy(),
        loop_losses(model, obj, thetas).numpy(),
        **TIGHT,
    )


# --- the reference package --------------------------------------------------------------


def test_values_equal_loss_landscapes_for_the_same_directions(moons_case):
    """loss_landscapes.random_plane draws its own directions; planar_interpolation takes them.

    Its grid is start + i·d₁ + j'·d₂ with j' = j + 1 on even i and j on odd i (it walks the
    columns back and forth), which the comparison reproduces exactly.
    """
    loss_landscapes = pytest.importorskip("loss_landscapes")
    from loss_landscapes.metrics import Loss

    model, obj = moons_case
    steps, dirs = 6, filter_normalized_directions(model, n=2, seed=9) / 6
    centre = torch.as_tensor(flat_params(model))
    ends = [copy.deepcopy(model) for _ in range(2)]
    for end, d in zip(ends, dirs, strict=True):
        nn.utils.vector_to_parameters(centre + steps * d, end.parameters())
    metric = Loss(lambda out, y: obj.of_output(out), obj.x, obj.target)
    theirs = loss_landscapes.planar_interpolation(
        model, *ends, metric, steps=steps, deepcopy_model=True
    )
    i, j = np.meshgrid(np.arange(steps), np.arange(steps), indexing="ij")
    coeffs = np.stack([i, j + (i % 2 == 0)], -1).reshape(-1, 2).astype(np.float64)
    ours, _ = plane_losses(model, obj, centre, dirs, coeffs)
    np.testing.assert_allclose(ours.numpy().reshape(steps, steps), theirs, **TIGHT)


# --- bad requests ------------------------------------------------------------------------


@pytest.mark.parametrize("points", [POINTS_RANGE[0] - 1, POINTS_RANGE[1] + 1, 5.5, True, "9"])
def test_points_out_of_range(line_case, points):
    model, obj = line_case
    with pytest.raises(ValueError, match=r"\[5, 401\]"):
        loss_surface(model, obj, SurfaceConfig(axes="params", points=points))


@pytest.mark.parametrize("span", [0, -1.0, float("nan"), float("inf"), "wide"])
def test_span_must_be_positive_and_finite(line_case, span):
    model, obj = line_case
    with pytest.raises(ValueError, match="span"):
        loss_surface(model, obj, SurfaceConfig(axes="params", span=span))


def test_bad_axes_and_names(line_case, moons_case):
    model, obj = line_case
    with pytest.raises(ValueError, match="allowed: params, random, pca, hessian"):
        loss_surface(model, obj, SurfaceConfig(axes="diagonal"))
    with pytest.raises(ValueError, match="unknown.*'slope'.*parameters are: w, b"):
        loss_surface(model, obj, SurfaceConfig(axes="params", names=("slope", "b")))
    with pytest.raises(ValueError, match="two different"):
        loss_surface(model, obj, SurfaceConfig(axes="params", names=("w", "w")))
    with pytest.raises(ValueError, match="do not span a plane"):
        loss_surface(model, obj, SurfaceConfig(axes="random"))
    with pytest.raises(ValueError, match="needs a trajectory"):
        loss_surface(model, obj, SurfaceConfig(axes="pca"))
    net, net_obj = moons_case
    with pytest.raises(ValueError, match=r"needs names.*net\.0\.weight 6×2.*name\[i\]"):
        loss_surface(net, net_obj, SurfaceConfig(axes="params"))
    surface = loss_surface(
        net,
        net_obj,
        SurfaceConfig(axes="params", names=("net.0.weight[1]", "net.2.bias[0]"), points=5),
    )
    assert surface.origin == (net.net[0].weight[0, 1].item(), net.net[2].bias[0].item())
    with pytest.raises(ValueError, match="points"):
        interpolation_slice(net, net_obj, flat_params(net), flat_params(net), points=3)
    with pytest.raises(ValueError, match="span"):
        random_line(net, net_obj, span=-1)


@pytest.mark.parametrize("device", available_devices())  # cpu everywhere; cuda/mps where present
def test_every_available_device_equals_the_cpu(moons_case, device):
    model, obj = moons_case
    config = SurfaceConfig(points=7)
    cpu, gpu = loss_surface(model, obj, config), loss_surface(model, obj, config, device=device)
    np.testing.assert_allclose(gpu.values, cpu.values, **TIGHT)
    np.testing.assert_allclose(gpu.grad_alpha, cpu.grad_alpha, **TIGHT)


def test_centre_and_trajectory_are_checked(moons_case):
    model, obj = moons_case
    theta = flat_params(model)
    with pytest.raises(ValueError, match="centre must be 59 finite"):
        loss_surface(model, obj, SurfaceConfig(points=5), centre=theta[:-1])
    with pytest.raises(ValueError, match="flat theta of 59"):
        loss_surface(model, obj, SurfaceConfig(axes="pca", points=5), trajectory=[theta[:3]])
    diverged = [theta, theta + 0.1, np.full_like(theta, np.nan)]
    surface = loss_surface(model, obj, SurfaceConfig(points=5))
    proj = project_trajectory(model, obj, surface, diverged)
    np.testing.assert_array_equal(proj.step, [0, 1])  # the non-finite step is left out, visibly


def test_hessian_of_a_loss_linear_in_theta_is_zero_and_still_gives_two_axes(line_case):
    model, obj = line_case
    linear = Objective(x=obj.x, target=obj.target, fn=lambda p, t, reduction="mean": p.mean())
    vals, dirs = hessian_eigenpairs(model, linear, k=2)
    np.testing.assert_allclose(vals.numpy(), 0, atol=1e-14)
    np.testing.assert_allclose((dirs @ dirs.T).numpy(), np.eye(2), atol=1e-12)
