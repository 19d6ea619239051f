"""Batched loss evaluation: L(θ_g) for many flat parameter vectors θ_g at once, in chunks.

A chunk of g parameter vectors becomes ONE forward pass with a leading grid dimension:
hand-batched matmuls for the app's models (line, Linear, Linear/activation chains: see
explorer.landscape.forwards), and torch.func.vmap over functional_call for any other module. The loss is then one call on
(g, N) predictions with reduction="none" and a mean over the data when the loss says that is its
mean (Objective.mean_of_elements, from its LossSpec), else its "mean" reduction vmapped. There is
never a Python loop over grid points, only over chunks.

Memory: a chunk holds about (2·layers + 4)·N·width activations per grid point (forward values
plus what autograd saves) and 3·P parameter entries; chunks are sized to stay under
`budget_mib` (default 256 MiB). On CPU chunks are also kept cache-sized: of 2^16..2^20
activations a chunk (CACHE_ELEMS), the size that ran the evaluator fastest, measured once a
process for each workload (`cache_points`); one huge batch measured 2-3x slower (the data
leaves the cache), and which size wins depends on the CPU and the model.
"""

import copy
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch
from numpy.typing import ArrayLike
from torch import Tensor, nn
from torch.func import functional_call, vmap
from torch.types import Device

from explorer.budget import checkpoint
from explorer.landscape.forwards import (
    Forward,
    Prepare,
    chain_forward,
    chain_ops,
    chain_prepare,
    line_forward,
    line_prepare,
)
from explorer.landscape.kernels import timings
from explorer.models import Line, param_slices
from explorer.objective import LINKS, Objective

DEFAULT_BUDGET_MIB = 256
# activations a chunk on the CPU: the candidates, of which `cache_points` times the engine's own
# work once a process and keeps the fastest (2^17 for the line, 2^18 for a 32-wide MLP, here)
CACHE_ELEMS = tuple(1 << k for k in range(16, 21))
_CACHE_CHOICE: dict[tuple[Any, ...], int] = {}  # workload -> grid points a chunk
CHUNK_ROUNDS = 5  # rounds of the chunk-size calibration (each a pass over ≤ 2^21 activations)
CHUNK_SLACK = 0.02  # the largest chunk within 2% of the fastest (a gradient pass costs more a
# chunk); at 5% the line model took 4x larger chunks than its fastest, 1.2x slower on 201²
CALIBRATION_CHUNKS = 4  # the calibration's points: this many of its largest chunks


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
        self.forward, self._prepare, self.width, self.layers = self._pick_forward()
        # loss path, from the loss itself: one "none" call over the grid and a mean, or vmap
        self.broadcast = bool(self.obj.mean_of_elements)
        self._loss = self._bind_loss()
        self._into: dict[int, Tensor] = {}  # activation buffers for calls without autograd

    def _pick_forward(self) -> tuple[Forward, Prepare, int, int]:
        """(forward, its prepared form or None, widest activation, number of layers)."""
        if isinstance(self.model, Line):
            return line_forward, line_prepare, 1, 1
        chain = chain_ops(self.model, self.device, self.dtype)
        widths = [s[0] for s in self.shapes.values() if len(s) == 2] or [1]
        layers = max(1, sum(len(s) == 2 for s in self.shapes.values()))
        if chain is not None:
            return chain_forward(*chain), chain_prepare(*chain), max(widths), layers
        self.model = copy.deepcopy(self.model).to(self.device)  # functional_call runs this copy
        return self._vmap_forward, None, max(widths), layers

    def _vmap_forward(self, p: dict[str, Tensor], x: Tensor, into: object = None) -> Tensor:
        return vmap(lambda q: functional_call(self.model, q, (x,)))(p)

    def _bind_loss(self) -> Callable[..., Tensor]:
        """(outputs (g, N[, K]), into=None) → L (g,), the loss's link, target, weights and
        parameters bound; L is written into `into` (g,) when given and of L's dtype."""
        obj = self.obj
        keywords: dict[str, Any] = dict(obj.params)
        if obj.weights is not None:
            keywords["weights"] = obj.weights
        fn, link, target = obj.fn, LINKS[obj.link], obj.target
        if not self.broadcast:
            return lambda out, into=None: _vmapped(obj.of_output, out)

        def loss(out: Tensor, into: Tensor | None = None) -> Tensor:  # mean("none") is its "mean"
            rows = fn(link(out), target, reduction="none", **keywords)
            if rows.dim() != 2 or rows.shape != out.shape[:2]:
                raise ValueError(
                    f"a loss with mean_of_elements=True gave reduction='none' values of shape "
                    f"{tuple(rows.shape)} for outputs {tuple(out.shape)}; its 'none' must keep "
                    "leading grid dimensions (or its spec must say mean_of_elements=False)"
                )
            if into is not None and into.dtype == rows.dtype:
                return torch.mean(rows, -1, out=into)
            return rows.mean(-1)

        return loss

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
        return self._loss(self.outputs_into(theta), into)

    def prepared(self, theta: Tensor) -> Callable[..., Tensor]:
        """run(into=None) -> L (g,) at the rows of theta (g, P) as they are when it runs,
        without autograd, written into `into` when it can be: for a loop that writes each
        chunk's θ into the same buffer, the views, transposes and activation buffers are
        settled once, here, not once a chunk."""
        if self._prepare is None:
            return partial(self, theta)
        outputs = self._prepare(self.unflatten(theta), self.obj.x, self._into)
        return lambda into=None: self._loss(outputs(), into)

    def plane(self, centre: Tensor, dirs: Tensor, size: int) -> Callable[..., Tensor]:
        """run(c, into=None) -> L (g,) at centre + c·dirs for chunks c (g ≤ size, k) of plane
        coordinates, without autograd (L written into `into` when it can be): θ goes into one
        buffer that a prepared run reads. (A line's outputs are linear in θ, but
        ŷ = centre·Φ + c·(dirs·Φ) measured 3.5x slower a chunk than θ and the rank-1
        ŷ = b + w·x: a GEMM with inner size 2 takes a slow path on the CPU.)"""
        buffer = centre.new_empty(size, self.n_params)
        bound = {size: self.prepared(buffer)}  # reads the buffer as each chunk leaves it

        def run(c: Tensor, into: Tensor | None = None) -> Tensor:
            if len(c) not in bound:  # the last, shorter chunk
                bound[len(c)] = self.prepared(buffer[: len(c)])
            torch.addmm(centre, c, dirs, out=buffer[: len(c)])
            return bound[len(c)](into)

        return run

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
        that ran this evaluator's plane fastest a point (the largest within CHUNK_SLACK of it),
        timed (best of CHUNK_ROUNDS, round-robin) once a process for each model shape, data
        size, loss, dtype and thread count, on CALIBRATION_CHUNKS largest chunks' worth of
        points on a plane near the model's own parameters (0.1-0.2 s once, for the 2-32-32-1
        MLP on 512 points). Timed as the engine runs it (θ written into the prepared buffer):
        on two chunks' worth of points the line model's 201² surface took a 2-4x larger chunk
        than its fastest one half the time, 1.1-1.3x slower."""
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
            coefs = 2 * torch.rand(CALIBRATION_CHUNKS * sizes[-1], 2, generator=gen) - 1
            centre, dirs, coefs = (self.cast(t) for t in (centre, dirs, coefs))
            runs = {}
            for size in sizes:
                run = self.plane(centre, dirs, size)
                runs[size] = lambda run=run, size=size: [run(c) for c in coefs.split(size)]
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
    # then grew by ~1 MB a chunk (~350 MB for one 101² surface) and kept it. Without gradients
    # θ and the activations are written into buffers too, reused by every chunk.
    values = torch.empty(0, dtype=f.dtype, device=f.device)  # made at the first chunk, as its loss
    if grad:
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
    with torch.no_grad():
        run = f.plane(at, along, min(size, len(coefs)))
        return _chunked(run, coefs.split(size)), None


def _chunked(run: Callable[..., Tensor], chunks: Sequence[Tensor]) -> Tensor:
    """run(chunk, into) of every chunk, one after another, as one tensor: the first chunk's
    loss sets its dtype; each later one is written into its place (a mean with out=, ~15 µs a
    chunk less than a copy by index: ~2 ms of a 201² line surface's 25)."""
    if not len(chunks[0]):  # no points (a split always gives one chunk)
        return chunks[0].new_empty(0)
    checkpoint()  # the running unit of heavy work may end here (explorer.budget.Cut)
    loss = run(chunks[0])
    values = loss.new_empty(sum(len(c) for c in chunks))
    places = values.split(len(chunks[0]))
    places[0].copy_(loss)
    for c, place in zip(chunks[1:], places[1:], strict=True):
        checkpoint()  # the running unit of heavy work may end here (explorer.budget.Cut)
        loss = run(c, place)
        if loss is not place:
            place.copy_(loss)
    return values


def _vmapped(of_output: Callable[[Tensor], Tensor], out: Tensor) -> Tensor:
    """of_output (the loss's "mean") on each grid row of out, by torch.func.vmap."""
    try:
        return vmap(of_output)(out)
    except RuntimeError as err:
        raise ValueError(
            "this loss neither broadcasts over a leading grid dimension (reduction='none') "
            f"nor runs under torch.func.vmap, so it cannot be batched: {err}"
        ) from err


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
        return _chunked(f, rows.split(size))
