"""The batched surface's two loss paths against a per-point loop in float64.

A loss whose spec says mean_of_elements takes one reduction="none" call over the whole chunk and
a mean over the data; any other is its own "mean" reduction under vmap. The path comes from the
loss, never from sampled values, so a grid whose sampled points happen to agree on both paths
(saturated corners) cannot send the rest of the grid down the wrong one.
"""

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from explorer.data import make_dataset
from explorer.expression import ExpressionError, compile_loss
from explorer.landscape import SurfaceConfig, loss_surface
from explorer.landscape.batched import BatchedLoss, plane_losses
from explorer.losses import LOSSES, get_loss
from explorer.models import Line, Squeeze, make_model
from explorer.objective import objective

TIGHT = dict(rtol=1e-10, atol=1e-12)  # float64 batched vs per-point: same maths, other op order
DATA_FOR_TASK = {
    "regression": "sine",
    "binary": "moons",
    "multiclass": "blobs3",
    "segmentation": "mask",
}
FORMULAS = {  # text: whether the mean of its per-element values is its "mean"
    "r**2": True,
    "where(abs(r) < 1, r**2, abs(r))": True,
    "mean(sigmoid(k*(t - abs(r))) * r**2)": True,
    "mean(abs(r))/2 + k": True,
    "mean(r**2) + 3*mean(abs(r))": True,
    "sum(r**2)": False,  # its "mean" is the sum
    "sqrt(mean(r**2))": False,  # mixed: no per-element values
    "(mean(r) - 0.5)**2 + mean(abs(r))": False,
    "r - mean(r)": False,
}


def loop_losses(model, obj, thetas) -> np.ndarray:
    """The reference: load each θ into a copy of the model and take the objective's "mean"."""
    model = copy.deepcopy(model)
    out = []
    with torch.no_grad():
        for theta in torch.as_tensor(np.asarray(thetas)):
            nn.utils.vector_to_parameters(theta.to(next(model.parameters())), model.parameters())
            out.append(float(obj(model)))
    return np.asarray(out)


def grid_thetas(surface) -> np.ndarray:
    return np.stack([surface.theta(a, b) for a in surface.alpha for b in surface.beta])


def float64(data):
    y = data.y.double() if data.y.is_floating_point() else data.y
    return replace(data, x=data.x.double(), y=y)


def wide_surface(spec, points=5, span=200.0):
    """A random plane wide enough that outputs at its corners are far out (probabilities and
    softmaxes saturate there), its values, and the loop's values at the same points."""
    data = float64(make_dataset(DATA_FOR_TASK[spec.task], n=24, seed=2))
    out_dim = data.n_classes if spec.task == "multiclass" else 1
    model = make_model("mlp", in_dim=data.in_dim, out_dim=out_dim, hidden=(5,), seed=3).double()
    obj = objective(data, spec)
    surface = loss_surface(model, obj, SurfaceConfig(points=points, span=span, seed=1), grad=False)
    return model, obj, surface, loop_losses(model, obj, grid_thetas(surface))


@pytest.mark.parametrize("key", sorted(LOSSES))
def test_every_catalogue_loss_on_a_saturating_grid_equals_the_loop(key):
    spec = get_loss(key)
    model, obj, surface, loop = wide_surface(spec)
    assert BatchedLoss(model, obj).broadcast is spec.mean_of_elements
    np.testing.assert_allclose(surface.values.ravel(), loop, **TIGHT)
    if spec.link == "sigmoid":  # the corners really are saturated
        corner = torch.as_tensor(grid_thetas(surface)[[0, -1]])
        out = BatchedLoss(model, obj).outputs(corner)
        assert float(out.abs().min()) > 36  # σ rounds to 1 (or within 3e-16 of 0)


@pytest.mark.parametrize("text", FORMULAS)
def test_formulas_on_a_wide_grid_equal_the_loop(text):
    spec = get_loss("expr:" + text)
    assert spec.mean_of_elements is FORMULAS[text]
    _, _, surface, loop = wide_surface(spec, span=3.0)
    np.testing.assert_allclose(surface.values.ravel(), loop, **TIGHT)


@pytest.mark.parametrize("text", FORMULAS)
def test_a_formulas_flag_matches_its_values(text):
    """True: the mean of "none" is "mean" on random inputs; false: "none" is refused (a formula
    that mixes samples) or its mean is not the formula's "mean" (a sum)."""
    loss = compile_loss(text)
    gen = torch.Generator().manual_seed(4)
    pred, target = torch.randn(2, 15, generator=gen, dtype=torch.float64)
    mean = loss(pred, target, k=0.7, t=1.3)
    try:
        none = loss(pred, target, reduction="none", k=0.7, t=1.3)
    except ExpressionError:
        assert not loss.mean_of_elements and loss.kind == "mixed"
        return
    same = bool(torch.allclose(none.mean(), mean, rtol=1e-12, atol=1e-14))
    assert same is loss.mean_of_elements is FORMULAS[text]


def _perfectly_saturated_dice_case():
    """Dice through a sigmoid on four points, p = (1, 1), q = (1, −0.9) labelled 1 and −p, −q
    labelled 0, on the plane of the two weights around w = (2, 2)·10⁴.

    At the grid's first and last corners, w = (1, 1)·10⁴ and (3, 3)·10⁴, every logit is beyond
    ±10³: the probabilities are exactly 0 and 1, every point is right, and both the set-level
    Dice and the mean of per-element Dice are exactly 0. At the corner w = (1, 3)·10⁴, q and −q
    are wrong: the set-level Dice is 1 − 3/5 = 0.4, the per-element mean 0.25.
    """
    x = torch.tensor([[1.0, 1.0], [1.0, -0.9], [-1.0, -1.0], [-1.0, 0.9]], dtype=torch.float64)
    data = replace(
        make_dataset("mask", n=4),
        x=x,
        y=torch.tensor([1.0, 1.0, 0.0, 0.0], dtype=torch.float64),
        weights=torch.ones(4, dtype=torch.float64),
        outlier=torch.zeros(4, dtype=torch.bool),
    )
    model = make_model("logistic", in_dim=2, out_dim=1).double()
    with torch.no_grad():
        model.net.weight.copy_(torch.tensor([[2e4, 2e4]]))
        model.net.bias.zero_()
    config = SurfaceConfig(
        axes="params", names=("net.weight[0]", "net.weight[1]"), points=5, span=1e4
    )
    return model, objective(data, get_loss("dice")), config


def test_dice_on_a_grid_whose_corners_saturate_is_the_set_level_dice_everywhere():
    model, obj, config = _perfectly_saturated_dice_case()
    surface = loss_surface(model, obj, config, grad=False)
    thetas = grid_thetas(surface)
    loop = loop_losses(model, obj, thetas)
    assert loop[0] == loop[-1] == 0.0  # the two saturated corners: both paths would give 0
    probs = torch.sigmoid(obj.x @ torch.as_tensor(thetas[[0, -1], :2]).T)
    assert set(probs.flatten().tolist()) == {0.0, 1.0}
    np.testing.assert_allclose(surface.values.ravel(), loop, **TIGHT)
    off = surface.values[0, -1]  # w = (1, 3)·10⁴
    assert off == pytest.approx(0.4, abs=1e-12)
    per_element = obj.of_output(obj.x @ torch.tensor([1e4, 3e4], dtype=torch.float64), "none")
    assert float(per_element.mean()) == pytest.approx(0.25, abs=1e-12)  # what averaging gives


def test_a_loss_whose_none_drops_the_grid_dimension_is_named():
    spec = LOSSES["mse"]
    data = float64(make_dataset("sine", n=10))
    model = make_model("mlp", in_dim=1, out_dim=1, hidden=(3,)).double()
    scalar = lambda pred, target, reduction="mean", **_: ((pred - target) ** 2).mean()
    obj = replace(objective(data, spec), fn=scalar, in_place=None)  # mse's in-place form is not its
    with pytest.raises(ValueError, match="mean_of_elements=True.*reduction='none'"):
        loss_surface(model, obj, SurfaceConfig(points=5), grad=False)
    fixed = replace(obj, mean_of_elements=False)  # the vmap path needs no per-element values
    surface = loss_surface(model, fixed, SurfaceConfig(points=5), grad=False)
    reference = loop_losses(model, fixed, grid_thetas(surface))
    np.testing.assert_allclose(surface.values.ravel(), reference, **TIGHT)


def per_point_gradients(model, obj, surface) -> np.ndarray:
    """∂L/∂(a, b) at each grid point by autograd through one plain forward a point."""
    centre, dirs = (torch.as_tensor(a) for a in (surface.centre, surface.directions))
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    out = []
    for a in surface.alpha - surface.origin[0]:
        for b in surface.beta - surface.origin[1]:
            c = torch.tensor([a, b], dtype=torch.float64, requires_grad=True)
            parts = (centre + c @ dirs).split([s.numel() for s in shapes])
            params = {n: t.reshape(s) for n, t, s in zip(names, parts, shapes, strict=True)}
            loss = obj.of_output(torch.func.functional_call(model, params, (obj.x,)))
            out.append(torch.autograd.grad(loss, c)[0].numpy())
    return np.stack(out)


@pytest.mark.parametrize("net", ["tanh", "relu", "gelu", "two-acts"])
def test_gradient_field_equals_per_point_autograd(net):
    """The batched forward runs activations in place on fresh matmul outputs: its gradients
    must still be plain autograd's, point by point."""
    data = float64(make_dataset("moons", n=20, seed=1))
    obj = objective(data, get_loss("bce_logits"))
    if net == "two-acts":
        # an activation on an activation's output, which the batched forward must not
        # overwrite (tanh's backward needs it)
        layers = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.ReLU(), nn.Linear(4, 1))
        model = Squeeze(layers).double()
        assert BatchedLoss(model, obj).forward.__name__ == "forward"  # the batched chain
    else:
        model = make_model("mlp", in_dim=2, out_dim=1, hidden=(4, 3), activation=net).double()
    surface = loss_surface(model, obj, SurfaceConfig(points=5, span=0.7, seed=3, keep_bias=True))
    grads = per_point_gradients(model, obj, surface)
    np.testing.assert_allclose(surface.grad_alpha.ravel(), grads[:, 0], **TIGHT)
    np.testing.assert_allclose(surface.grad_beta.ravel(), grads[:, 1], **TIGHT)
    loop = loop_losses(model, obj, grid_thetas(surface))
    np.testing.assert_allclose(surface.values.ravel(), loop, **TIGHT)


@pytest.mark.parametrize(
    "build",
    [
        lambda: make_model("line", in_dim=1, out_dim=1),
        lambda: make_model("mlp", in_dim=2, out_dim=1, hidden=(5, 4), activation="tanh"),
        lambda: make_model("mlp", in_dim=2, out_dim=1, hidden=(6,), activation="relu"),
        lambda: Squeeze(nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Tanh(), nn.Linear(3, 1))),
    ],
)
@pytest.mark.parametrize("chunk", [1, 4, 7, 1000])
def test_chunks_written_into_one_theta_buffer_equal_a_per_point_loop(build, chunk):
    """plane_losses without gradients makes θ a block of chunks at a time, which a prepared run
    reads chunk by chunk (views settled once a block, activation buffers once a chunk length;
    the last chunk shorter): each value is the model's own forward at that point (a chain with
    two activations in a row included)."""
    torch.manual_seed(0)
    model = build().double()
    data = make_dataset("line" if isinstance(model, Line) else "moons", n=40)
    obj = objective(data, get_loss("mse")).to("cpu", torch.float64)
    centre = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    dirs = torch.randn(2, centre.numel(), dtype=torch.float64)
    coeffs = torch.randn(23, 2, dtype=torch.float64)
    values, _ = plane_losses(model, obj, centre, dirs, coeffs, chunk=chunk)
    loop = copy.deepcopy(model)
    want = []
    with torch.no_grad():
        for c in coeffs:
            nn.utils.vector_to_parameters(centre + c @ dirs, loop.parameters())
            want.append(float(obj(loop)))
    np.testing.assert_allclose(values.numpy(), want, **TIGHT)


@pytest.mark.parametrize(
    ("loss", "broadcast"), [("mse", True), ("huber", True), ("bce_logits", True), ("mse", False)]
)
def test_a_loss_written_into_its_place_equals_a_fresh_one(loss, broadcast):
    """BatchedLoss(θ, into) writes L into `into` (a mean with out=) and returns it; the values
    equal a call that allocates, and a per-point loop; a vmap-path loss (no "none" form) gives
    a fresh tensor, which the chunked loop copies into place."""
    torch.manual_seed(1)
    task = "binary" if loss == "bce_logits" else "regression"
    model = make_model("mlp", in_dim=2 if task == "binary" else 1, out_dim=1, hidden=(4,))
    model = model.double()
    data = make_dataset(DATA_FOR_TASK[task], n=30)
    obj = objective(data, get_loss(loss)).to("cpu", torch.float64)
    obj = replace(obj, mean_of_elements=broadcast)  # False: the loss's "mean" under vmap
    f = BatchedLoss(model, obj)
    assert f.broadcast is broadcast
    centre = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    theta = centre + 0.3 * torch.randn(7, centre.numel(), dtype=torch.float64)
    into = torch.full((7,), float("nan"), dtype=torch.float64)
    with torch.no_grad():
        fresh = f(theta)
        got = f(theta, into)
    assert got is into if broadcast else got is not into
    np.testing.assert_allclose(got.numpy(), fresh.numpy(), **TIGHT)
    loop = copy.deepcopy(model)
    want = []
    with torch.no_grad():
        for row in theta:
            nn.utils.vector_to_parameters(row, loop.parameters())
            want.append(float(obj(loop)))
    np.testing.assert_allclose(got.numpy(), want, **TIGHT)


def test_losses_at_no_points_is_empty_and_chunks_fill_every_place():
    """losses_at over 0 points gives an empty tensor; over points in uneven chunks, every value
    (none left unwritten) equals the one-chunk result."""
    from explorer.landscape.batched import losses_at

    torch.manual_seed(2)
    model = make_model("mlp", in_dim=2, out_dim=1, hidden=(5,)).double()
    obj = objective(make_dataset("moons", n=20), get_loss("mse")).to("cpu", torch.float64)
    centre = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    assert losses_at(model, obj, centre.new_empty(0, centre.numel())).shape == (0,)
    thetas = centre + 0.2 * torch.randn(11, centre.numel(), dtype=torch.float64)
    whole = losses_at(model, obj, thetas, chunk=11)
    for chunk in (1, 3, 4, 10):
        np.testing.assert_allclose(losses_at(model, obj, thetas, chunk=chunk), whole, **TIGHT)


def test_the_chunk_calibration_picks_one_of_its_sizes_once_a_workload(monkeypatch):
    """cache_points times each candidate chunk size on the plane path and keeps the choice
    for the workload: a second evaluator of the same workload does not time again."""
    from explorer.landscape import batched

    model = make_model("mlp", in_dim=2, out_dim=1, hidden=(8,))
    obj = objective(make_dataset("moons", n=64), get_loss("mse"))
    calls = []
    timed = batched.timings

    def counting(runs, rounds):
        calls.append(sorted(runs))
        return timed(runs, rounds=rounds)

    monkeypatch.setattr(batched, "timings", counting)
    monkeypatch.setattr(batched, "_CACHE_CHOICE", {})
    first = BatchedLoss(model, obj).cache_points()
    acts = 64 * 8
    sizes = sorted({max(1, e // acts) for e in batched.CACHE_ELEMS})
    assert calls[0] == sizes and first in sizes and len(calls) <= 2
    assert all(size in sizes for size in calls[-1])  # the contenders' extra rounds
    count = len(calls)
    assert BatchedLoss(model, obj).cache_points() == first and len(calls) == count


def test_the_chunk_calibration_times_its_contenders_again(monkeypatch):
    """Sizes within CONTENDERS of the fastest after the first rounds are timed again, as many
    rounds as fit in CALIBRATION_S (at most 2·CHUNK_ROUNDS), and the pick is the fastest (the
    largest within CHUNK_SLACK) of everything measured: a size that looked 10% slower by noise
    in the first rounds and is faster in the second wins. Rounds too slow to fit get none."""
    from explorer.landscape import batched

    model = make_model("mlp", in_dim=2, out_dim=1, hidden=(8,))
    obj = objective(make_dataset("moons", n=64), get_loss("mse"))
    sizes = sorted({max(1, e // (64 * 8)) for e in batched.CACHE_ELEMS})
    small, big = sizes[1], sizes[2]
    first = {size: 2e-3 for size in sizes} | {small: 1e-3, big: 1.1e-3}  # big: 10% behind
    second = {small: 1e-3, big: 0.8e-3}
    calls = []

    def fake(runs, rounds):
        calls.append((sorted(runs), rounds))
        return {size: (first if len(calls) == 1 else second)[size] for size in runs}

    monkeypatch.setattr(batched, "timings", fake)
    monkeypatch.setattr(batched, "_CACHE_CHOICE", {})
    assert BatchedLoss(model, obj).cache_points() == big
    assert calls == [(sizes, batched.CHUNK_ROUNDS), ([small, big], 2 * batched.CHUNK_ROUNDS)]
    monkeypatch.setattr(batched, "_CACHE_CHOICE", {})
    calls.clear()
    first, second = {s: 1e3 * t for s, t in first.items()}, {}  # rounds of seconds: no more
    assert BatchedLoss(model, obj).cache_points() == small and len(calls) == 1
