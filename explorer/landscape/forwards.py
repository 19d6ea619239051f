"""The batched forwards of the app's models: parameters with a leading grid dimension g in,
outputs (g, N[, K]) out, for the surface engine (explorer.landscape.batched).

Line: one rank-1 GEMM. Linear/activation chains: batched matmuls (bmm/baddbmm) with the
activations computed in place on each matmul's own output where they have an in-place form,
tanh on the kernel measured fastest on this CPU (`explorer.landscape.kernels.tanh_kernel`).
Each comes in two forms: `forward(p, x, into)`, one call a chunk, and `prepare(p, x, into)` ->
run(start, stop) over a block of rows of parameters, which settles the views and transposes
once a block and the output buffers once a chunk length, so that a chunk of the block costs its
matmuls and activations only.
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
# (batched parameters of a block of rows, x, buffers) -> run(start, stop) -> the outputs of rows
# start:stop of the block, or None where a model has no prepared form
Prepare = (
    Callable[[dict[str, Tensor], Tensor, dict[int, Tensor]], Callable[[int, int], Tensor]] | None
)


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
        return prepare(p, x, into)(0, len(next(iter(p.values()))))

    return forward


def chain_prepare(
    ops: list[Op], squeeze: bool
) -> Callable[[dict[str, Tensor], Tensor, dict[int, Tensor] | None], Callable[[int, int], Tensor]]:
    """prepare(p, x, into) -> run(start, stop) for Linear/activation chains: the block's weight
    transposes and bias views made once, and for each chunk length the matmuls' output buffers
    (from `into`; None: each matmul allocates its output, as autograd needs), so a run makes
    only the batched matmuls on the rows' slices and the activations, each activation on its
    matmul's own output when it follows one (its fresh-input form, whose result is the
    layer's output)."""

    def prepare(
        p: dict[str, Tensor], x: Tensor, into: dict[int, Tensor] | None
    ) -> Callable[[int, int], Tensor]:
        steps: list[Op] = [  # a linear's weight transposed and bias viewed once a block
            (kind, p[first].mT, None if second is None else p[second][:, None])
            if kind == "linear"
            else (kind, first, second)
            for kind, first, second in ops
        ]
        buffers: dict[int, list[Tensor | None]] = {}  # chunk length -> each step's output buffer

        def outputs(g: int) -> list[Tensor | None]:
            return [
                None
                if kind == "act" or into is None
                else grid_buffer(into, i, (g, x.shape[0], weight.shape[2]), x)
                for i, (kind, weight, _) in enumerate(steps)
            ]

        def run(start: int, stop: int) -> Tensor:
            g = stop - start
            if g not in buffers:
                buffers[g] = outputs(g)
            h, fresh = x, False  # fresh: h is a matmul output that nothing else holds
            for (kind, first, second), out in zip(steps, buffers[g], strict=True):
                if kind == "act":
                    h, fresh = second(h) if fresh else first(h), False
                    continue
                h = h.expand(g, *h.shape) if h.dim() == 2 else h
                if second is None:
                    h = torch.bmm(h, first[start:stop], out=out)
                else:
                    h = torch.baddbmm(second[start:stop], h, first[start:stop], out=out)
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
    p: dict[str, Tensor], x: Tensor, into: dict[int, Tensor]
) -> Callable[[int, int], Tensor]:
    """line_forward prepared over a block of rows: its views made once, its output buffer once
    a chunk length; a run is one addmm on the rows' slices."""
    b, w, xt, n = p["b"].unsqueeze(-1), p["w"].unsqueeze(-1), x[:, :1].T, x.shape[0]
    outs: dict[int, Tensor] = {}

    def run(start: int, stop: int) -> Tensor:
        g = stop - start
        if g not in outs:
            outs[g] = grid_buffer(into, 0, (g, n), x)
        return torch.addmm(b[start:stop], w[start:stop], xt, out=outs[g])

    return run
