"""Batched loss evaluation: L(θ_g) for many flat parameter vectors θ_g at once, in chunks.

A chunk of g parameter vectors becomes ONE forward pass with a leading grid dimension:
hand-batched matmuls for the app's models (line, Linear, Linear/activation chains), and
torch.func.vmap over functional_call for any other module. The loss is then one call on
(g, N) predictions with reduction="none" and a mean over the data when the loss says that is its
mean (Objective.mean_of_elements, from its LossSpec), else its "mean" reduction vmapped. There is
never a Python loop over grid points, only over chunks. tanh runs on the kernel measured
fastest on this CPU (`tanh_kernel`).

Memory: a chunk holds about (2·layers + 4)·N·width activations per grid point (forward values
plus what autograd saves) and 3·P parameter entries; chunks are sized to stay under
`budget_mib` (default 256 MiB). On CPU chunks are also kept cache-sized: of 2^16..2^20
activations a chunk (CACHE_ELEMS), the size that ran the evaluator fastest, measured once a
process for each workload (`cache_points`); one huge batch measured 2-3x slower (the data
leaves the cache), and which size wins depends on the CPU and the model.
"""

import copy
import functools
import math
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import torch
from numpy.typing import ArrayLike
from torch import Tensor, nn
from torch.func import functional_call, vmap
from torch.types import Device

from explorer.budget import checkpoint
from explorer.models import Line, Squeeze, Step, param_slices
from explorer.objective import Objective

DEFAULT_BUDGET_MIB = 256
# activations a chunk on the CPU: the candidates, of which `cache_points` times the engine's own
# work once a process and keeps the fastest (2^17 for the line, 2^18 for a 32-wide MLP, here)
CACHE_ELEMS = tuple(1 << k for k in range(16, 21))
_CACHE_CHOICE: dict[tuple[Any, ...], int] = {}  # workload -> grid points a chunk
ELEMENTWISE: tuple[type[nn.Module], ...] = (nn.Tanh, nn.ReLU, nn.Sigmoid, nn.GELU, nn.SiLU)
ELEMENTWISE += (nn.LeakyReLU, nn.ELU, nn.Softplus, nn.Identity, Step)
# one step of a Linear/activation chain: ("linear", parameter prefix) or
# ("act", (the activation, its in-place form))
Op = tuple[str, Any]
Forward = Callable[[dict[str, Tensor], Tensor], Tensor]  # (batched parameters, x) -> outputs


class FastTanh(torch.autograd.Function):
    """tanh t = 2σ(2t) − 1, backward g·(1 − y²): on CPU torch's sigmoid is ~5x faster than its
    tanh, and this saves one tensor for backward (|error| < 3e-7 in float32, ~1e-16 in float64)."""

    @staticmethod
    def forward(t: Tensor) -> Tensor:
        return torch.sigmoid(t * 2).mul_(2).sub_(1)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Tensor], output: Tensor) -> None:
        ctx.save_for_backward(output)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (y,) = ctx.saved_tensors
        return torch.addcmul(grad, grad * y, y, value=-1)


# the tanh kernels the batched forward chooses from, by name; TANH_KERNELS[tanh_kernel(...)],
# and the form each takes on a fresh matmul output, which it may overwrite (TANH_IN_PLACE)
TANH_KERNELS: dict[str, Callable[[Tensor], Tensor]] = {
    "torch.tanh": torch.tanh,
    "2σ(2t)−1": FastTanh.apply,
}
TANH_IN_PLACE: dict[str, Callable[[Tensor], Tensor]] = {
    "torch.tanh": torch.tanh_,
    "2σ(2t)−1": FastTanh.apply,
}
CALIBRATION_ELEMS = 1 << 16  # elements a kernel is timed on, best of CALIBRATION_ROUNDS
CALIBRATION_ROUNDS = 7
CHUNK_ROUNDS = 5  # rounds of the chunk-size calibration (each a pass over ≤ 2^21 activations)
CHUNK_SLACK = 0.05  # the largest chunk within 5% of the fastest: fewer chunks, less overhead
K = TypeVar("K")
_TANH_CHOICE: dict[tuple[str, torch.dtype, int], str] = {}  # (device type, dtype, threads) -> name


def tanh_kernel(device: torch.device, dtype: torch.dtype) -> str:
    """The name of the tanh kernel for (device, dtype): torch.tanh off the CPU; on the CPU the
    faster of TANH_IN_PLACE (as the chain runs them), timed once a process (and thread count) at
    first use, since which wins depends on the CPU (the sigmoid formula ~5x faster on some,
    torch.tanh ~2x on AVX-512)."""
    if device.type != "cpu":
        return "torch.tanh"
    key = (device.type, dtype, torch.get_num_threads())
    if key not in _TANH_CHOICE:
        gen = torch.Generator().manual_seed(0)
        t = torch.randn(CALIBRATION_ELEMS, generator=gen, dtype=dtype) * 2
        runs = {name: functools.partial(kernel, t) for name, kernel in TANH_IN_PLACE.items()}
        _TANH_CHOICE.setdefault(key, fastest(runs))
    return _TANH_CHOICE[key]


def timings(
    runs: Mapping[K, Callable[[], object]], rounds: int = CALIBRATION_ROUNDS
) -> dict[K, float]:
    """The best time (s) of `rounds` of each run, the runs timed round-robin (so load from
    elsewhere hits them alike), without gradients."""
    best = dict.fromkeys(runs, math.inf)
    with torch.no_grad():
        for _ in range(rounds):
            for key, run in runs.items():
                start = time.perf_counter()
                run()
                best[key] = min(best[key], time.perf_counter() - start)
    return best


def fastest(runs: Mapping[K, Callable[[], object]], rounds: int = CALIBRATION_ROUNDS) -> K:
    """The key of the run with the best time (`timings`)."""
    best = timings(runs, rounds)
    return min(best, key=best.__getitem__)


def fast_tanh(t: Tensor) -> Tensor:
    """tanh for the batched forward, by the kernel `tanh_kernel` measured fastest here."""
    return TANH_KERNELS[tanh_kernel(t.device, t.dtype)](t)


def fast_tanh_(t: Tensor) -> Tensor:
    """fast_tanh that may overwrite t (a fresh matmul output nothing else holds)."""
    return TANH_IN_PLACE[tanh_kernel(t.device, t.dtype)](t)


def _activation(layer: nn.Module) -> tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]:
    """(out-of-place, in-place) forms of an elementwise layer. The in-place form runs only on a
    fresh matmul output, which autograd does not keep (baddbmm saves its inputs, not its result),
    and saves one allocation of the chunk's activations a layer."""
    if isinstance(layer, nn.Tanh):
        return fast_tanh, fast_tanh_
    if type(layer) is nn.ReLU:
        return layer, torch.relu_
    return layer, layer


def _chain(model: nn.Module) -> tuple[list[Op], bool] | None:
    """(ops, squeeze) for Linear/activation chains: ops are ("linear", prefix) or
    ("act", (out-of-place, in-place))."""
    inner, squeeze, prefix = model, False, ""
    if isinstance(model, Squeeze):
        inner, squeeze, prefix = model.net, True, "net."
    if isinstance(inner, nn.Linear):
        return [("linear", prefix.rstrip("."))], squeeze
    if not isinstance(inner, nn.Sequential):
        return None
    ops: list[Op] = []
    for name, layer in inner.named_children():
        if isinstance(layer, nn.Linear):
            ops.append(("linear", prefix + name))
        elif isinstance(layer, ELEMENTWISE):
            ops.append(("act", _activation(layer)))
        else:
            return None
    return ops, squeeze


def _chain_forward(ops: list[Op], squeeze: bool) -> Forward:
    """forward(p, x) with p[name] of shape (g, *shape): batched matmuls, (g, N[, K]) out."""

    def forward(p: dict[str, Tensor], x: Tensor) -> Tensor:
        h, fresh = x, False  # fresh: h is a matmul output that nothing else holds
        for kind, item in ops:
            if kind == "act":
                h, fresh = item[1](h) if fresh else item[0](h), False
                continue
            prefix = f"{item}." if item else ""
            weight, bias = p[prefix + "weight"].mT, p.get(prefix + "bias")
            h = h.expand(len(weight), *h.shape) if h.dim() == 2 else h
            h = torch.bmm(h, weight) if bias is None else torch.baddbmm(bias[:, None], h, weight)
            fresh = True
        return h.squeeze(-1) if squeeze and h.shape[-1] == 1 else h

    return forward


def _line_forward(p: dict[str, Tensor], x: Tensor) -> Tensor:
    """ŷ[g, n] = w_g·x_n + b_g as one rank-1 GEMM (5x faster than a broadcast addcmul on CPU)."""
    return torch.addmm(p["b"].unsqueeze(-1), p["w"].unsqueeze(-1), x[:, :1].T)


class BatchedLoss:
    """θ (g, P) → L (g,): the objective at g flat parameter vectors by one batched forward."""

    def __init__(self, model: nn.Module, obj: Objective, device: Device = None) -> None:
        first = next(model.parameters())
        self.device = torch.device(device) if device is not None else first.device
        self.dtype = first.dtype
        # the batched forwards never read the model's parameters (θ comes in each call), so only
        # the vmap path takes its own copy on the device (deepcopy costs ~1 ms a surface)
        self.model = model
        self.obj = obj.to(self.device, self.dtype)
        self.slices = param_slices(model)
        self.shapes = {name: p.shape for name, p in model.named_parameters()}
        self._layout = (
            list(self.shapes),
            [s.stop - s.start for s in self.slices.values()],
            [tuple(shape) for shape in self.shapes.values()],
        )
        self.n_params = sum(p.numel() for p in model.parameters())
        self.forward, self.width, self.layers = self._pick_forward()
        # loss path, from the loss itself: one "none" call over the grid and a mean, or vmap
        self.broadcast = bool(self.obj.mean_of_elements)

    def _pick_forward(self) -> tuple[Forward, int, int]:
        """(forward, widest activation, number of layers) for this model."""
        if isinstance(self.model, Line):
            return _line_forward, 1, 1
        chain = _chain(self.model)
        widths = [s[0] for s in self.shapes.values() if len(s) == 2] or [1]
        layers = max(1, sum(len(s) == 2 for s in self.shapes.values()))
        if chain is not None:
            return _chain_forward(*chain), max(widths), layers
        self.model = copy.deepcopy(self.model).to(self.device)  # functional_call runs this copy
        return self._vmap_forward, max(widths), layers

    def _vmap_forward(self, p: dict[str, Tensor], x: Tensor) -> Tensor:
        return vmap(lambda q: functional_call(self.model, q, (x,)))(p)

    def cast(self, t: ArrayLike | Tensor) -> Tensor:
        """Any array-like as a tensor in this evaluator's device and dtype."""
        return torch.as_tensor(t).to(self.device, self.dtype)

    def unflatten(self, theta: Tensor) -> dict[str, Tensor]:
        """Flat (g, P) → {name: (g, *shape)}, views of theta (one split: half the time of
        slicing each parameter, which counts at a few hundred chunks a surface)."""
        g, (names, sizes, shapes) = theta.shape[0], self._layout
        parts = theta.split(sizes, dim=1)
        return {n: t.reshape(g, *shape) for n, t, shape in zip(names, parts, shapes, strict=True)}

    def outputs(self, theta: Tensor) -> Tensor:
        """Model outputs (g, N[, K]) at each row of theta."""
        return self.forward(self.unflatten(theta), self.obj.x)

    def __call__(self, theta: Tensor) -> Tensor:
        out = self.outputs(theta)
        if self.broadcast:  # the loss says mean("none") is its "mean": one call for the chunk
            rows = self.obj.of_output(out, "none")
            if rows.shape != out.shape[:2]:
                raise ValueError(
                    f"a loss with mean_of_elements=True gave reduction='none' values of shape "
                    f"{tuple(rows.shape)} for outputs {tuple(out.shape)}; its 'none' must keep "
                    "leading grid dimensions (or its spec must say mean_of_elements=False)"
                )
            return rows.mean(-1)
        try:
            return vmap(self.obj.of_output)(out)
        except RuntimeError as err:
            raise ValueError(
                "this loss neither broadcasts over a leading grid dimension (reduction='none') "
                f"nor runs under torch.func.vmap, so it cannot be batched: {err}"
            ) from err

    def chunk_size(self, budget_mib: float, total: int, chunk: int | None = None) -> int:
        """Grid points a chunk: `chunk` if given, else under the memory budget and cache-sized."""
        if chunk is not None:
            if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
                raise ValueError(f"chunk must be a positive integer or None, got {chunk!r}")
            return chunk
        n, itemsize = self.obj.x.shape[0], self.obj.x.element_size()
        acts = n * self.width
        per_point = itemsize * (acts * (2 * self.layers + 4) + 3 * self.n_params)
        size = int(budget_mib * 2**20 // per_point)
        if self.device.type == "cpu":
            size = min(size, self.cache_points())
        return max(1, min(size, total))

    def cache_points(self) -> int:
        """Grid points a chunk on the CPU: of chunks holding CACHE_ELEMS activations, the size
        that ran this evaluator fastest a point (the largest within CHUNK_SLACK of it: the loop
        around each chunk costs too), timed (no gradients, best of CHUNK_ROUNDS, round-robin)
        once a process for each model shape, data size, loss,
        dtype and thread count, on two largest chunks' worth of points near the model's own
        parameters (~0.1 s once, for the 2-32-32-1 MLP on 512 points)."""
        acts = self.obj.x.shape[0] * self.width
        sizes = sorted({max(1, elems // acts) for elems in CACHE_ELEMS})
        key: tuple[Any, ...] = (self.device.type, self.dtype, torch.get_num_threads())
        key += (tuple(self.obj.x.shape), tuple(type(m).__name__ for m in self.model.modules()))
        key += (tuple(self.shapes.values()),)
        key += (self.broadcast, getattr(self.obj.fn, "__name__", type(self.obj.fn).__name__))
        if len(sizes) > 1 and key not in _CACHE_CHOICE:
            centre = torch.cat([p.detach().reshape(-1) for p in self.model.parameters()])
            centre = centre.to(self.device)
            gen = torch.Generator().manual_seed(0)
            noise = torch.randn(2 * sizes[-1], self.n_params, generator=gen, dtype=self.dtype)
            rows = centre.to(self.dtype) + 0.1 * noise.to(self.device)
            runs = {size: lambda size=size: [self(t) for t in rows.split(size)] for size in sizes}
            times = timings(runs, rounds=CHUNK_ROUNDS)
            fast = min(times.values()) * (1 + CHUNK_SLACK)
            _CACHE_CHOICE.setdefault(key, max(size for size, t in times.items() if t <= fast))
        return _CACHE_CHOICE.get(key, sizes[0])


def plane_losses(
    model: nn.Module,
    obj: Objective,
    centre: ArrayLike | Tensor,
    dirs: ArrayLike | Tensor,
    coeffs: ArrayLike | Tensor,
    *,
    grad: bool = False,
    chunk: int | None = None,
    budget_mib: float = DEFAULT_BUDGET_MIB,
    device: Device = None,
) -> tuple[Tensor, Tensor | None]:
    """L(centre + c_g · dirs) for each row c_g of coeffs (G, k); with ∂L/∂c_g (G, k) if grad.

    centre (P,), dirs (k, P). The gradient is autograd's, through the batched computation.
    """
    f = BatchedLoss(model, obj, device)
    at, along, coefs = f.cast(centre), f.cast(dirs), f.cast(coeffs)
    size = f.chunk_size(budget_mib, len(coefs), chunk)
    # The results go into buffers made once, not into lists of small per-chunk tensors: those
    # small blocks, kept between a chunk's large freed ones, fragmented the malloc heap, which
    # then grew by ~1 MB a chunk (~350 MB for one 101² surface) and kept it.
    values = torch.empty(0, dtype=f.dtype, device=f.device)  # made at the first chunk, as its loss
    grads = torch.empty_like(coefs) if grad else None
    for start in range(0, len(coefs), size):
        checkpoint()  # the running unit of heavy work may end here (explorer.budget.Cut)
        c = coefs[start : start + size].detach().requires_grad_(grad)
        with torch.set_grad_enabled(grad):
            loss = f(torch.addmm(at, c, along))
        if start == 0:
            values = loss.new_empty(len(coefs))
        if grads is not None:
            grads[start : start + len(c)] = _grad(loss, c)
        values[start : start + len(c)] = loss.detach()
    return values, grads


def _grad(loss: Tensor, c: Tensor) -> Tensor:
    """∂loss_g/∂c_g for every row (rows are independent, so the gradient of the sum)."""
    if not loss.requires_grad:  # piecewise-constant loss: no graph, gradient zero
        return torch.zeros_like(c)
    return torch.autograd.grad(loss.sum(), c)[0]


def losses_at(
    model: nn.Module,
    obj: Objective,
    thetas: ArrayLike | Tensor,
    *,
    chunk: int | None = None,
    budget_mib: float = DEFAULT_BUDGET_MIB,
    device: Device = None,
) -> Tensor:
    """L(θ_t) for each row of thetas (T, P), batched and chunked."""
    f = BatchedLoss(model, obj, device)
    rows = f.cast(thetas)
    size = f.chunk_size(budget_mib, len(rows), chunk)
    with torch.no_grad():
        values: list[Tensor] = []
        for t in rows.split(size):
            checkpoint()  # the running unit of heavy work may end here (explorer.budget.Cut)
            values.append(f(t))
        return torch.cat(values)
