"""Surface section: the batched landscape engine beside a per-point loop, loss-landscapes and the
bare tensor floor, on the same data, model, loss (MSE) and grid.

explorer_ms: values only, the same work as the loop and loss-landscapes; explorer_grad_ms adds
the gradient field (autograd through the batch). loop_ms: load θ into the model, run it, one
point at a time (timed on at most LOOP_POINTS points and scaled, said in the note).
loss_landscapes_ms: `random_plane` (the line: `planar_interpolation` along w and b, since
random_plane's filter normalization fails on 0-d parameters). floor_ms: the bare batched tensor
work (matmuls, activations, squared error, mean) on parameters prepared before the clock starts,
in chunks of the engine's size, with the engine's activation kernels.
"""

import copy

import torch
import torch.nn.functional as F
from torch import nn

from bench import best_ms
from explorer.data import make_dataset
from explorer.landscape import SurfaceConfig, loss_surface
from explorer.landscape.batched import BatchedLoss, fast_tanh
from explorer.losses import get_loss
from explorer.models import make_model
from explorer.objective import objective

LOOP_POINTS = 2601  # longer loops are timed on this many points and scaled
CASES = (("tanh", 51), ("tanh", 101), ("relu", 51), ("relu", 101), ("line", 201))
QUICK_CASES = (("tanh", 11), ("relu", 11), ("line", 21))
ACTS = {"tanh": fast_tanh, "relu": torch.relu}


def _case(kind: str, points: int):
    """(model, objective, config, label) of one bench case."""
    if kind == "line":
        data, model = make_dataset("line", n=1000), make_model("line", in_dim=1, out_dim=1)
        config = SurfaceConfig(axes="params", points=points, span=2.0)
        label = "line y=w·x+b, 1000 pts, axes w,b"
    else:
        data = make_dataset("moons", n=512)
        model = make_model("mlp", in_dim=2, out_dim=1, hidden=(32, 32), activation=kind)
        config = SurfaceConfig(axes="random", points=points)
        label = f"MLP 2-32-32-1 {kind}, 512 pts, random axes"
    return model, objective(data, get_loss("mse")), config, label


def _grid_thetas(surface) -> torch.Tensor:
    offsets = torch.cartesian_prod(
        torch.as_tensor(surface.alpha - surface.origin[0]),
        torch.as_tensor(surface.beta - surface.origin[1]),
    )
    return torch.as_tensor(surface.centre) + offsets @ torch.as_tensor(surface.directions)


def _loop_ms(model, obj, thetas, repeat) -> tuple[float, int]:
    """Per-point loop over at most LOOP_POINTS thetas, scaled to all of them; (ms, measured)."""
    model, part = copy.deepcopy(model), thetas[:LOOP_POINTS].float()

    def loop():
        with torch.no_grad():
            for theta in part:
                nn.utils.vector_to_parameters(theta, model.parameters())
                obj(model).item()

    return best_ms(loop, repeat) * len(thetas) / len(part), len(part)


def _loss_landscapes_ms(model, obj, surface, steps, repeat) -> float:
    import loss_landscapes
    from loss_landscapes.metrics import Loss

    metric = Loss(F.mse_loss, obj.x, obj.target)
    if surface.kind != "params":
        run = lambda: loss_landscapes.random_plane(model, metric, steps=steps, deepcopy_model=True)
        return best_ms(run, repeat)
    ends = [copy.deepcopy(model) for _ in range(2)]
    for end, d in zip(ends, surface.directions, strict=True):
        width = surface.alpha[-1] - surface.alpha[0]  # the same extent as our grid
        theta = torch.as_tensor(surface.centre + width * d).float()
        nn.utils.vector_to_parameters(theta, end.parameters())
    run = lambda: loss_landscapes.planar_interpolation(
        model, *ends, metric, steps=steps, deepcopy_model=True
    )
    return best_ms(run, repeat)


def _floor_ms(model, obj, thetas, kind, repeat, act=None) -> float:
    """Bare batched work on prepared per-point parameters, in the engine's chunks."""
    f = BatchedLoss(model, obj)
    chunks = [f.unflatten(t) for t in f.cast(thetas).split(f.chunk_size(256, len(thetas)))]
    x, y = f.obj.x, f.obj.target
    act = act or ACTS.get(kind)

    def line(p):
        return ((torch.addmm(p["b"][:, None], p["w"][:, None], x.T) - y) ** 2).mean(-1)

    def mlp(p):
        h = x
        for i in (0, 2):
            h = act(torch.matmul(h, p[f"net.{i}.weight"].mT) + p[f"net.{i}.bias"][:, None])
        out = torch.baddbmm(p["net.4.bias"][:, None], h, p["net.4.weight"].mT)[..., 0]
        return ((out - y) ** 2).mean(-1)

    bare = line if kind == "line" else mlp

    def run():
        with torch.no_grad():
            for p in chunks:
                bare(p)

    return best_ms(run, repeat)


def _row(kind: str, steps: int, repeat: int) -> dict:
    model, obj, config, label = _case(kind, steps)
    surface = loss_surface(model, obj, config, grad=False)
    thetas = _grid_thetas(surface)
    loop_ms, measured = _loop_ms(model, obj, thetas, min(repeat, 2))
    notes = [] if measured == len(thetas) else [f"loop timed on {measured} pts, scaled"]
    if kind == "tanh":
        torch_tanh = _floor_ms(model, obj, thetas, kind, repeat, act=torch.tanh)
        notes.append(f"floor with torch.tanh {torch_tanh:.0f} ms")
    return {
        "case": label,
        "grid": f"{steps}×{steps}",
        "explorer_ms": best_ms(lambda: loss_surface(model, obj, config, grad=False), repeat),
        "explorer_grad_ms": best_ms(lambda: loss_surface(model, obj, config), repeat),
        "loop_ms": loop_ms,
        "loss_landscapes_ms": _loss_landscapes_ms(model, obj, surface, steps, min(repeat, 2)),
        "floor_ms": _floor_ms(model, obj, thetas, kind, repeat),
        "note": "; ".join(notes),
    }


def run(quick: bool = False) -> list[dict]:
    """One row a case: the engine, a per-point loop, loss-landscapes and the floor, in ms."""
    repeat = 1 if quick else 5
    return [_row(kind, steps, repeat) for kind, steps in (QUICK_CASES if quick else CASES)]
