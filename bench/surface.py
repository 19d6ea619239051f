"""Surface section: the batched landscape engine beside a per-point loop, loss-landscapes and the
bare tensor floor, on the same data, model, loss (MSE) and grid.

explorer_ms: values only, the same work as the loop and loss-landscapes; explorer_grad_ms adds
the gradient field (autograd through the batch). loop_ms: load θ into the model, run it, one
point at a time (timed on at most LOOP_POINTS points and scaled, said in the note).
loss_landscapes_ms: `random_plane` (the line: `planar_interpolation` along w and b, since
random_plane's filter normalization fails on 0-d parameters).

floor_ms: the fastest bare batched tensor work measured in this run. The bare work is the
forward (fused batched matmuls, activations) and the squared error's mean, from per-point
parameters θ (G, P) made before the clock starts (the engine makes its θ from the plane's
centre and directions in its clock; the floor's clock holds only the views of θ a chunk's
kernels take, split once a tensor, and the kernels); it is timed with every candidate activation
kernel (KERNELS), both forms (FORMS: new tensors for everything, or the matmuls into buffers
kept from chunk to chunk, the squared error in place over the forward's output and each mean
written into its place) and every chunk size (CHUNK_ACTS activations a chunk), and floor_ms
is the least of them, `floor_by` saying which. `explorer/floor` is explorer_ms / floor_ms; the
note says which tanh kernel the engine measured fastest and used. The engine and the floor
candidates are timed round-robin (best of `repeat` each), so load from other processes hits
them alike.

The floor is chosen and then timed again: the least of a dozen noisy candidates' times is
lower than any one of them runs (the winner's curse), so the FINALISTS fastest candidates of a
first round-robin are timed, with the engine, in a second one, and floor_ms is the fastest of
them there (`floor_first_ms` keeps the first round's best), best of enough rounds (`rounds`)
for FINAL_S of each, so that the cheap line case gets as many chances as the MLPs' longer
runs. `paired` is the median over that second round-robin's rounds of the engine's time over
floor_by's in the same round: on a host whose load moves the best of 7 by 30% or more between
two round-robins, it is the steadier of the two ratios (each round's two runs share the load
of that moment). explorer_grad_ms is
from the first round-robin. Run under the app's malloc settings (explorer.allocator).
"""

import copy
import math
import statistics
import time
from collections.abc import Callable
from itertools import product

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bench import best_ms
from explorer.data import make_dataset
from explorer.landscape import SurfaceConfig, loss_surface
from explorer.landscape.batched import DEFAULT_BUDGET_MIB, BatchedLoss
from explorer.landscape.kernels import tanh_kernel
from explorer.losses import get_loss
from explorer.models import make_model
from explorer.objective import objective

LOOP_POINTS = 2601  # longer loops are timed on this many points and scaled
CASES = (("tanh", 51), ("tanh", 101), ("relu", 51), ("relu", 101), ("line", 201))
QUICK_CASES = (("tanh", 11), ("relu", 11), ("line", 21))
Kernel = Callable[[Tensor], Tensor]
KERNELS: dict[str, dict[str, Kernel | None]] = {  # case kind -> candidate activation kernels
    "tanh": {
        "torch.tanh": torch.tanh,
        "torch.tanh_": torch.tanh_,  # in place, on the matmul output
        "2σ(2t)−1": lambda t: t.mul_(2).sigmoid_().mul_(2).sub_(1),  # in place
    },
    "relu": {
        "torch.relu": torch.relu,
        "torch.relu_": torch.relu_,
        "clamp_min_": lambda t: t.clamp_min_(0),
    },
    "line": {"addmm": None},  # no activation
}
# form -> (whether the matmuls write into buffers kept from chunk to chunk, (ŷ, y, place) -> the
# mean squared error of each row): new tensors for everything, or everything in place
FORMS: dict[str, tuple[bool, Callable[[Tensor, Tensor, Tensor], object]]] = {
    "new tensors": (False, lambda out, y, place: ((out - y) ** 2).mean(-1)),
    "in place": (True, lambda out, y, place: torch.mean(out.sub_(y).square_(), -1, out=place)),
}
FINAL_S = 0.5  # the second round-robin: rounds enough for this long of each
FINALISTS = 3  # the first round-robin's fastest floor candidates timed again in the second
MAX_ROUNDS = 40
CHUNK_ACTS = tuple(1 << k for k in range(16, 21))  # activations a chunk: 64 Ki .. 1 Mi


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


def _floor_candidates(model, obj, thetas, kind) -> dict[str, Callable[[], list[Tensor]]]:
    """name -> the bare batched work from the per-point parameters θ (G, P), one per kernel,
    form (FORMS) and chunk size; chunk sizes that give the same number of points a chunk are
    timed once. θ, the data and (in place) the activation buffers are made before the clock;
    in it are the work the engine cannot skip either: θ's columns viewed as the parameters, each
    split into chunks (one split a tensor, the cheapest way to make a chunk's views), the
    kernels, and each chunk's loss (in place: into its place in a values tensor). A run returns
    the chunks' losses (tests check them against the engine's values)."""
    f = BatchedLoss(model, obj)  # the engine's cast of the data and θ, before the clock
    rows = f.cast(thetas)
    x, y, total = f.obj.x, f.obj.target, len(rows)
    layout = [(name, p.numel(), tuple(p.shape)) for name, p in model.named_parameters()]
    widths = (1,) if kind == "line" else (32, 32, 1)  # each matmul's outputs a data point

    def params() -> dict[str, Tensor]:  # θ's columns as (G, *shape) parameter views
        parts = rows.split([n for _, n, _ in layout], dim=1)
        return {
            name: t.reshape(total, *shape)
            for (name, _, shape), t in zip(layout, parts, strict=True)
        }

    def line_chunks(size):  # -> each chunk's (b (g, 1), w (g, 1))
        p = params()
        return zip(p["b"][:, None].split(size), p["w"][:, None].split(size), strict=True)

    def line(args, act, outs, xt):
        b, w = args
        return torch.addmm(b, w, xt, out=outs[0])

    def mlp_chunks(size):  # -> each chunk's (bias (g, 1, out), weightᵀ (g, in, out)) a layer
        p = params()
        views = [(p[f"net.{i}.bias"][:, None], p[f"net.{i}.weight"].mT) for i in (0, 2, 4)]
        return zip(*(t.split(size) for pair in views for t in pair), strict=True)

    def mlp(args, act, outs, xt):
        b0, w0, b2, w2, b4, w4 = args
        h = act(torch.baddbmm(b0, x.expand(len(b0), *x.shape), w0, out=outs[0]))
        h = act(torch.baddbmm(b2, h, w2, out=outs[1]))
        return torch.baddbmm(b4, h, w4, out=outs[2])[..., 0]

    bare, chunks = (line, line_chunks) if kind == "line" else (mlp, mlp_chunks)
    per_point = x.shape[0] * widths[0]  # activations a grid point
    sizes = sorted({max(1, min(acts // per_point, total)) for acts in CHUNK_ACTS})
    candidates = {}
    for (name, act), (form, (kept, loss)), size in product(
        KERNELS[kind].items(), FORMS.items(), sizes
    ):
        outs = [torch.empty(size, x.shape[0], w, dtype=rows.dtype) for w in widths]
        if kind == "line":
            outs = [o[..., 0] for o in outs]
        lengths = [min(size, total - start) for start in range(0, total, size)]
        chunk_outs = [[o[:g] if kept else None for o in outs] for g in lengths]

        def run(size=size, chunk_outs=chunk_outs, act=act, loss=loss):
            with torch.no_grad():
                places = rows.new_empty(total).split(size)
                xt = x[:, :1].T
                return [
                    loss(bare(args, act, out, xt), y, place)
                    for args, place, out in zip(chunks(size), places, chunk_outs, strict=True)
                ]

        candidates[f"{name}, {form}, {size} pts/chunk"] = run
    return candidates


def _rounds(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, list[float]]:
    """Each fn's wall times (ms) over `repeat` rounds, every round calling each fn once, in
    the opposite order to the round before (so neither always runs after the other)."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    order = list(fns.items())
    for _ in range(repeat):
        for name, fn in order:
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) * 1e3)
        order.reverse()
    return times


def _round_robin(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Best wall time (ms) of each fn over `repeat` rounds (`_rounds`)."""
    return {name: min(ms) for name, ms in _rounds(fns, repeat).items()}


def _row(kind: str, steps: int, repeat: int) -> dict:
    model, obj, config, label = _case(kind, steps)
    surface = loss_surface(model, obj, config, grad=False)  # also settles the engine's kernels
    thetas = _grid_thetas(surface)
    loop_ms, measured = _loop_ms(model, obj, thetas, min(repeat, 2))
    notes = [] if measured == len(thetas) else [f"loop timed on {measured} pts, scaled"]
    engine_chunk = BatchedLoss(model, obj).chunk_size(DEFAULT_BUDGET_MIB, len(thetas))
    notes.append(f"engine: {engine_chunk} pts/chunk")
    if kind == "tanh":
        notes.append(f"tanh {tanh_kernel(torch.device('cpu'), torch.float32)}")
    floors = _floor_candidates(model, obj, thetas, kind)
    engine = {
        "explorer": lambda: loss_surface(model, obj, config, grad=False),
        "explorer_grad": lambda: loss_surface(model, obj, config),
    }
    first = _round_robin({**engine, **floors}, repeat)
    # the fastest FINALISTS candidates timed again, each round beside the engine's values, for
    # at least FINAL_S of rounds: floor_by is the fastest of them in this second round
    finalists = sorted(floors, key=first.__getitem__)[:FINALISTS]
    rounds = max(repeat, min(MAX_ROUNDS, math.ceil(FINAL_S * 1e3 / first["explorer"])))
    timed = _rounds({"explorer": engine["explorer"]} | {k: floors[k] for k in finalists}, rounds)
    times = {name: min(ms) for name, ms in timed.items()}
    floor_by = min(finalists, key=times.__getitem__)
    paired = statistics.median(
        e / f for e, f in zip(timed["explorer"], timed[floor_by], strict=True)
    )
    return {
        "case": label,
        "grid": f"{steps}×{steps}",
        "explorer_ms": times["explorer"],
        "explorer_grad_ms": first["explorer_grad"],
        "loop_ms": loop_ms,
        "loss_landscapes_ms": _loss_landscapes_ms(model, obj, surface, steps, min(repeat, 2)),
        "floor_ms": times[floor_by],
        "floor_first_ms": min(first[k] for k in finalists),
        "floor_by": floor_by,
        "rounds": rounds,
        "explorer/floor": f"{times['explorer'] / times[floor_by]:.2f}×",
        "paired": f"{paired:.2f}×",
        "note": "; ".join(notes),
    }


def run(quick: bool = False) -> list[dict]:
    """One row a case: the engine, a per-point loop, loss-landscapes and the floor, in ms."""
    repeat = 3 if quick else 7
    return [_row(kind, steps, repeat) for kind, steps in (QUICK_CASES if quick else CASES)]
