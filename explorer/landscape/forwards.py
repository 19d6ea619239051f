"""The batched forwards of the app's models: parameters with a leading grid dimension g in,
outputs (g, N[, K]) out, for the surface engine (explorer.landscape.batched).

Line: one rank-1 GEMM. Linear/activation chains: batched matmuls (bmm/baddbmm) with the
activations computed in place on each matmul's own output where they have an in-place form,
tanh on the kernel measured fastest on this CPU (`explorer.landscape.kernels.tanh_kernel`).
Each comes in two forms: `forward(p, x, into)`, one call a chunk, and `prepare(p, x, into, size)`
-> run(k) over a block of rows of parameters cut into chunks of `size` rows, which settles the
views, transposes and each chunk's slices once a block (one split a tensor: a slice a chunk
costs ~2x a split's view, at hundreds of chunks a surface) and the output buffers once a chunk
length, so that a chunk of the block costs its matmuls and activations only.
"""

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from explorer.landscape.kernels import TANH_IN_PLACE, TANH_KERNELS, tanh_kernel
from explorer.models import Squeeze, Step

ELEMENTWISE: tuple[type[nn.Module], ...] = (nn.Tanh, nn.ReLU, nn.Sigmoid, nn.GELU, nn.SiLU)
ELEMENTWISE += (nn.LeakyReLU, nn.ELU, nn.Softplus, nn.Identity, Step)
# one step of a Linear/activation chain: ("linear", weight name, bias name or None) or
# ("act", the activation, its in-place form)
Op = tuple[str, Any, Any]
Forward = Callable[..., Tensor]  # (batched parameters, x, buffers or None) -> outputs
# (batched parameters of a block of rows, x, buffers, chunk size) -> run(k) -> the outputs of the
# block's chunk k (its rows k·size up to (k + 1)·size)
Prepare = Callable[
    [dict[str, Tensor], Tensor, dict[int, Tensor] | None, int], Callable[[int], Tensor]
]


def _activation(
    layer: nn.Module, device: torch.device, dtype: torch.dtype
) -> tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]:
    """(any input, fresh input) forms of an elementwise layer, tanh's resolved once here to the
    kernel measured fastest for (device, dtype). The second runs only on a fresh matmul output,
    which autograd does not keep (baddbmm saves its inputs, not its result), and may overwrite
    it (tanh_, relu_, sigmoid_: one allocation of the chunk's activations a layer saved); its
    result, not its input, is the layer's output (a layer without an in-place form returns a new
    tensor)."""
    if isinstance(layer, nn.Tanh):
        name = tanh_kernel(device, dtype)
        return TANH_KERNELS[name], TANH_IN_PLACE[name]
    if type(layer) is nn.ReLU:
        return layer, torch.relu_
    if type(layer) is nn.Sigmoid:
        return layer, torch.sigmoid_
    return layer, layer


def chain_ops(
    model: nn.Module, device: torch.device, dtype: torch.dtype
) -> tuple[list[Op], bool] | None:
    """(ops, squeeze) for Linear/activation chains: ops are ("linear", weight name, bias name or
    None) or ("act", out-of-place, in-place)."""
    inner, squeeze, prefix = model, False, ""
    if isinstance(model, Squeeze):
        inner, squeeze, prefix = model.net, True, "net."
    layers: list[tuple[str, nn.Module]]
    if isinstance(inner, nn.Linear):
        layers = [(prefix, inner)]
    elif isinstance(inner, nn.Sequential):
        layers = [(f"{prefix}{name}.", layer) for name, layer in inner.named_children()]
    else:
        return None
    ops: list[Op] = []
    for at, layer in layers:
        if isinstance(layer, nn.Linear):
            ops.append(("linear", at + "weight", None if layer.bias is None else at + "bias"))
        elif isinstance(layer, ELEMENTWISE):
            ops.append(("act", *_activation(layer, device, dtype)))
        else:
            return None
    return ops, squeeze


def chain_forward(ops: list[Op], squeeze: bool) -> Forward:
    """forward(p, x, into) with p[name] of shape (g, *shape): batched matmuls, (g, N[, K]) out;
    chain_prepare's run over all g rows.

    `into` (only without autograd): a dict of buffers, one a layer, that the matmuls write into
    and later chunks reuse, instead of allocating every chunk's activations again."""
    prepare = chain_prepare(ops, squeeze)

    def forward(p: dict[str, Tensor], x: Tensor, into: dict[int, Tensor] | None = None) -> Tensor:
        return prepare(p, x, into, max(1, len(next(iter(p.values())))))(0)

    return forward


def chain_prepare(ops: list[Op], squeeze: bool) -> Prepare:
    """prepare(p, x, into, size) -> run(k) for Linear/activation chains: the block's weight
    transposes and bias views made and split into chunks once, and for each chunk length the
    matmuls' output buffers (from `into`; None: each matmul allocates its output, as autograd
    needs), so a run makes only the batched matmuls on chunk k's slices and the activations,
    each activation on its matmul's own output when it follows one (its fresh-input form, whose
    result is the layer's output)."""

    def prepare(
        p: dict[str, Tensor], x: Tensor, into: dict[int, Tensor] | None, size: int
    ) -> Callable[[int], Tensor]:
        steps: list[Op] = [  # a linear's weight transposed and bias viewed, split into chunks
            (
                kind,
                p[first].mT.split(size),
                None if second is None else p[second][:, None].split(size),
            )
            if kind == "linear"
            else (kind, first, second)
            for kind, first, second in ops
        ]
        buffers: dict[int, list[Tensor | None]] = {}  # chunk length -> each step's output buffer
        rows = len(next(iter(p.values())))

        def outputs(g: int) -> list[Tensor | None]:
            return [
                None
                if kind == "act" or into is None
                else grid_buffer(into, i, (g, x.shape[0], weight[0].shape[2]), x)
                for i, (kind, weight, _) in enumerate(steps)
            ]

        def run(k: int) -> Tensor:
            g = min(size, rows - k * size)
            if g not in buffers:
                buffers[g] = outputs(g)
            h, fresh = x, False  # fresh: h is a matmul output that nothing else holds
            for (kind, first, second), out in zip(steps, buffers[g], strict=True):
                if kind == "act":
                    h, fresh = second(h) if fresh else first(h), False
                    continue
                h = h.expand(g, *h.shape) if h.dim() == 2 else h
                if second is None:
                    h = torch.bmm(h, first[k], out=out)
                else:
                    h = torch.baddbmm(second[k], h, first[k], out=out)
                fresh = True
            return h.squeeze(-1) if squeeze and h.shape[-1] == 1 else h

        return run

    return prepare


def grid_buffer(into: dict[int, Tensor], key: int, shape: tuple[int, ...], like: Tensor) -> Tensor:
    """A (shape) tensor from into[key], grown when it is too small; the leading rows of it."""
    buf = into.get(key)
    if buf is None or buf.shape[0] < shape[0] or buf.shape[1:] != shape[1:]:
        buf = into[key] = like.new_empty(shape)
    return buf[: shape[0]]


def line_forward(p: dict[str, Tensor], x: Tensor, into: dict[int, Tensor] | None = None) -> Tensor:
    """ŷ[g, n] = w_g·x_n + b_g as one rank-1 GEMM (5x faster than a broadcast addcmul on CPU)."""
    out = None if into is None else grid_buffer(into, 0, (len(p["w"]), x.shape[0]), x)
    return torch.addmm(p["b"].unsqueeze(-1), p["w"].unsqueeze(-1), x[:, :1].T, out=out)


def line_prepare(
    p: dict[str, Tensor], x: Tensor, into: dict[int, Tensor] | None, size: int
) -> Callable[[int], Tensor]:
    """line_forward prepared over a block of rows in chunks of `size`: its views made and split
    once, its output buffer once a chunk length; a run is one addmm on chunk k's slices."""
    bs, ws = p["b"].unsqueeze(-1).split(size), p["w"].unsqueeze(-1).split(size)
    xt, n, outs = x[:, :1].T, x.shape[0], {}

    def run(k: int) -> Tensor:
        b = bs[k]
        g = len(b)
        if g not in outs:
            outs[g] = None if into is None else grid_buffer(into, 0, (g, n), x)
        return torch.addmm(b, ws[k], xt, out=outs[g])

    return run
