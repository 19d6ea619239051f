"""Batched loss evaluation: L(θ_g) for many flat parameter vectors θ_g at once, in chunks.

A chunk of g parameter vectors becomes ONE forward pass with a leading grid dimension:
hand-batched matmuls for the app's models (line, Linear, Linear/activation chains: see
explorer.landscape.forwards), and torch.func.vmap over functional_call for any other module.
The loss is then one call on (g, N) predictions with reduction="none" and a mean over the data
when the loss says that is its mean (Objective.mean_of_elements, from its LossSpec), else its
"mean" reduction vmapped; without autograd, over the engine's own output buffers, in the loss's
in-place form where it has one (LossSpec.in_place; explorer.landscape.grid_loss). There is never a Python loop over grid
points, only over chunks (and, without autograd, blocks of chunks that share one θ:
explorer.landscape.blocks).

Memory: a chunk holds about (2·layers + 4)·N·width activations per grid point (forward values
plus what autograd saves) and 3·P parameter entries; chunks are sized to stay under
`budget_mib` (default 256 MiB). On CPU chunks are also kept cache-sized: of 2^16..2^20
activations a chunk (CACHE_ELEMS), the size that ran the evaluator fastest, measured once a
process for each workload (`cache_points`); one huge batch measured 2-3x slower (the data
leaves the cache), and which size wins depends on the CPU and the model.
"""

import copy
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from numpy.typing import ArrayLike
from torch import Tensor, nn
from torch.func import functional_call, vmap
from torch.types import Device

from explorer.budget import checkpoint
from explorer.landscape.blocks import block_rows, blockwise
from explorer.landscape.forwards import (
    Forward,
    Prepare,
    chain_forward,
    chain_ops,
    chain_prepare,
    line_forward,
    line_prepare,
)
from explorer.landscape.grid_loss import grid_loss, grid_loss_over
from explorer.landscape.kernels import timings
from explorer.models import Line, param_slices
from explorer.objective import Objective

DEFAULT_BUDGET_MIB = 256
# activations a chunk on the CPU: the candidates, of which `cache_points` times the engine's own
# work once a process and keeps the fastest (2^17 for the line, 2^18 for a 32-wide MLP, here)
CACHE_ELEMS = tuple(1 << k for k in range(16, 21))
_CACHE_CHOICE: dict[tuple[Any, ...], int] = {}  # workload -> grid points a chunk
CHUNK_ROUNDS = 5  # rounds of the chunk-size calibration (each a pass over ≤ 2^21 activations)
CHUNK_SLACK = 0.02  # the largest chunk within 2% of the fastest (a gradient pass costs more a
# chunk); at 5% the line model took 4x larger chunks than its fastest, 1.2x slower on 201²
CALIBRATION_CHUNKS = 4  # the calibration's points: this many of its largest chunks
# sizes within 15% of the fastest after CHUNK_ROUNDS get up to 2·CHUNK_ROUNDS rounds more, as
# many as fit in CALIBRATION_S of calibration (the line model's: ~10 more; an MLP's first rounds
# fill it): one process's best of 5 swung by up to 30% on this VM, and a line process took the
# 262-point chunk, 15-25% slower than 524, by that noise alone
CONTENDERS, CALIBRATION_S = 0.15, 0.15


class BatchedLoss:
    """θ (g, P) → L (g,): the objective at g flat parameter vectors by one batched forward.

    Everything a chunk needs is settled here, once: the forward with its kernels, the parameter
    layout, the loss with its keywords bound. Without autograd (torch.no_grad) a call reuses
    this evaluator's activation buffers from its previous call."""

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
        self.forward, self._prepare, self.width, self.layers, own = self._pick_forward()
        # loss path, from the loss itself: one "none" call over the grid and a mean, or vmap
        self.broadcast = bool(self.obj.mean_of_elements)
        self._loss = grid_loss(self.obj)
        self._loss_over = self._loss if not own else grid_loss_over(self.obj, self._loss)
        self._into: dict[int, Tensor] = {}  # activation buffers for calls without autograd

    def _pick_forward(self) -> tuple[Forward, Prepare | None, int, int, bool]:
        """(forward, its prepared form or None, widest activation, number of layers, whether
        its outputs without autograd are its own, free to overwrite: made by a matmul of the
        call, not a view of the data nor a module's own return)."""
        if isinstance(self.model, Line):
            return line_forward, line_prepare, 1, 1, True
        chain = chain_ops(self.model, self.device, self.dtype)
        widths = [s[0] for s in self.shapes.values() if len(s) == 2] or [1]
        layers = max(1, sum(len(s) == 2 for s in self.shapes.values()))
        if chain is not None:
            own = any(kind == "linear" for kind, *_ in chain[0])
            return chain_forward(*chain), chain_prepare(*chain), max(widths), layers, own
        self.model = copy.deepcopy(self.model).to(self.device)  # functional_call runs this copy
        return self._vmap_forward, None, max(widths), layers, False

    def _vmap_forward(self, p: dict[str, Tensor], x: Tensor, into: object = None) -> Tensor:
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

    def outputs_into(self, theta: Tensor) -> Tensor:
        """outputs(theta), into the activation buffers when autograd is off."""
        into = None if torch.is_grad_enabled() else self._into
        return self.forward(self.unflatten(theta), self.obj.x, into)

    def __call__(self, theta: Tensor, into: Tensor | None = None) -> Tensor:
        """L (g,) at each row of theta (g, P), written into `into` (g,) when it can be."""
        if torch.is_grad_enabled():
            return self._loss(self.outputs(theta), into)
        return self._loss_over(self.outputs_into(theta), into)

    def prepared(self, theta: Tensor, size: int) -> Callable[..., Tensor]:
        """run(k, into=None) -> L at the rows of chunk k (k·size up to (k + 1)·size) of theta
        (G, P), without autograd, written into `into` when it can be: the views, transposes and
        chunk slices of the block are made once, here, and the activation buffers once a chunk
        length, not once a chunk."""
        if self._prepare is None:
            chunks = theta.split(size)
            return lambda k, into=None: self(chunks[k], into)
        outputs = self._prepare(self.unflatten(theta), self.obj.x, self._into, size)
        loss = self._loss_over
        return lambda k, into=None: loss(outputs(k), into)

    def plane_values(self, centre: Tensor, dirs: Tensor, coefs: Tensor, size: int) -> Tensor:
        """L (G,) at centre + c·dirs for the rows c of coefs (G, k), without autograd, in chunks
        of `size` points: θ is made a block of chunks at a time (blocks.THETA_BLOCK), by k addcmuls
        (a GEMM of inner size k = 2 takes a slow path on the CPU: 1.5-3.5x the addcmuls)."""
        theta = centre.new_empty(block_rows(self.n_params, size, len(coefs)), self.n_params)

        def rows(start: int, stop: int) -> Tensor:
            out, c = theta[: stop - start], coefs[start:stop]
            torch.addcmul(centre, c[:, :1], dirs[0], out=out)
            for i in range(1, len(dirs)):
                out.addcmul_(c[:, i : i + 1], dirs[i])
            return out

        return blockwise(self, rows, len(coefs), size)

    def grid_values(self, centre: Tensor, dirs: Tensor, a: Tensor, b: Tensor, size: int) -> Tensor:
        """L (len(a)·len(b),) at centre + a_i·d₁ + b_j·d₂, row-major (i slow), without autograd,
        in chunks of `size` points. θ is made a block at a time from the grid's two axes, one
        broadcast add over the grid rows the block touches (no coefficients grid: its
        cartesian product and the addcmuls over it cost ~4% of the line model's 201² surface)."""
        first, second = torch.addcmul(centre, a[:, None], dirs[0]), b[:, None] * dirs[1]
        width, total = len(b), len(a) * len(b)
        block = block_rows(self.n_params, size, total)
        grid = centre.new_empty(min(len(a), -(-block // width) + 1), width, self.n_params)

        def rows(start: int, stop: int) -> Tensor:
            lo, hi = start // width, -(-stop // width)  # the grid rows the block touches
            out = torch.add(first[lo:hi, None], second, out=grid[: hi - lo])
            return out.view(-1, self.n_params)[start - lo * width : stop - lo * width]

        return blockwise(self, rows, total, size)

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
        that ran this evaluator's grid fastest a point (the largest within CHUNK_SLACK of it),
        timed once a process for each model shape, data size, loss, dtype and thread count:
        best of CHUNK_ROUNDS round-robin, and of the extra rounds that the sizes within
        CONTENDERS of the fastest get in CALIBRATION_S. The grid is CALIBRATION_CHUNKS rows of
        the largest chunk's points, on a plane near the model's own parameters (0.2-0.3 s once
        for the 2-32-32-1 MLP on 512 points; 0.15 s for the line), timed as a surface runs it
        (grid_values). On two chunks' worth of points the line model's 201² surface took a 2-4x
        larger chunk than its fastest one half the time, 1.1-1.3x slower."""
        acts = self.obj.x.shape[0] * self.width
        sizes = sorted({max(1, elems // acts) for elems in CACHE_ELEMS})
        key: tuple[Any, ...] = (self.device.type, self.dtype, torch.get_num_threads())
        key += (tuple(self.obj.x.shape), tuple(type(m).__name__ for m in self.model.modules()))
        key += (tuple(self.shapes.values()),)
        key += (self.broadcast, getattr(self.obj.fn, "__name__", type(self.obj.fn).__name__))
        if len(sizes) > 1 and key not in _CACHE_CHOICE:
            centre = torch.cat([p.detach().reshape(-1) for p in self.model.parameters()])
            gen = torch.Generator().manual_seed(0)
            dirs = 0.1 * torch.randn(2, self.n_params, generator=gen, dtype=self.dtype)
            a, b = torch.linspace(-1, 1, CALIBRATION_CHUNKS), torch.linspace(-1, 1, sizes[-1])
            centre, dirs, a, b = (self.cast(t) for t in (centre, dirs, a, b))
            runs = {size: partial(self.grid_values, centre, dirs, a, b, size) for size in sizes}
            began = time.perf_counter()
            times = timings(runs, rounds=CHUNK_ROUNDS)
            best = min(times.values())
            close = {s: runs[s] for s, t in times.items() if t <= best * (1 + CONTENDERS)}
            left = CALIBRATION_S - (time.perf_counter() - began)
            extra = min(2 * CHUNK_ROUNDS, int(left / sum(times[s] for s in close)))
            if len(close) > 1 and extra > 0:
                for size, t in timings(close, rounds=extra).items():
                    times[size] = min(times[size], t)
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
    if grad:
        return _plane_grads(f, at, along, coefs, size)
    with torch.no_grad():
        return f.plane_values(at, along, coefs, size), None


def grid_losses(
    model: nn.Module,
    obj: Objective,
    centre: ArrayLike | Tensor,
    dirs: ArrayLike | Tensor,
    a: ArrayLike | Tensor,
    b: ArrayLike | Tensor,
    *,
    grad: bool = False,
    chunk: int | None = None,
    budget_mib: float = DEFAULT_BUDGET_MIB,
    device: Device = None,
) -> tuple[Tensor, Tensor | None]:
    """plane_losses on the grid of coefficients (a_i, b_j), row-major (i slow): L
    (len(a)·len(b),) at centre + a_i·d₁ + b_j·d₂, with ∂L/∂(a, b) (len(a)·len(b), 2) if grad.
    dirs (2, P). Without gradients no grid of coefficients is made (BatchedLoss.grid_values)."""
    f = BatchedLoss(model, obj, device)
    at, along, first = f.cast(centre), f.cast(dirs), f.cast(a)
    second = first if b is a else f.cast(b)  # a square grid's axes: one cast
    if along.dim() != 2 or len(along) != 2 or first.dim() != 1 or second.dim() != 1:
        raise ValueError(
            f"a grid needs 2 directions and two 1-D axes, got {tuple(along.shape)}, "
            f"{tuple(first.shape)}, {tuple(second.shape)}"
        )
    size = f.chunk_size(budget_mib, len(first) * len(second), chunk)
    if grad:
        return _plane_grads(f, at, along, torch.cartesian_prod(first, second), size)
    with torch.no_grad():
        return f.grid_values(at, along, first, second, size), None


def _plane_grads(
    f: BatchedLoss, at: Tensor, along: Tensor, coefs: Tensor, size: int
) -> tuple[Tensor, Tensor]:
    """(L, ∂L/∂c) at centre + c·dirs for the rows c of coefs, by autograd, chunk by chunk.

    The results go into buffers made once, not into lists of small per-chunk tensors: those
    small blocks, kept between a chunk's large freed ones, fragmented the malloc heap, which
    then grew by ~1 MB a chunk (~350 MB for one 101² surface) and kept it."""
    values = torch.empty(0, dtype=f.dtype, device=f.device)  # made at the first chunk, as its loss
    grads = torch.empty_like(coefs)
    for start in range(0, len(coefs), size):
        checkpoint()  # the running unit of heavy work may end here (explorer.budget.Cut)
        c = coefs[start : start + size].detach().requires_grad_(True)
        with torch.enable_grad():
            loss = f(torch.addmm(at, c, along))
        values = loss.new_empty(len(coefs)) if start == 0 else values
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
        return blockwise(f, lambda start, stop: rows[start:stop], len(rows), size)
