"""The batched forwards of the app's models: parameters with a leading grid dimension g in,
outputs (g, N[, K]) out, for the surface engine (explorer.landscape.batched).

Line: one rank-1 GEMM. Linear/activation chains: batched matmuls (bmm/baddbmm) with the
activations computed in place on each matmul's own output, tanh on the kernel measured fastest
on this CPU (`explorer.landscape.kernels.tanh_kernel`). Each comes in two forms: `forward(p, x,
into)`, one call a chunk, and `prepare(p, x, into)` -> run(), which settles the views,
transposes and output buffers once for a loop that writes every chunk's θ into the same buffer.
"""

from collections.abc import Callable
from functools import partial
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
# (batched parameters, x, buffers) -> run() -> outputs, or None where a model has no prepared form
Prepare = Callable[[dict[str, Tensor], Tensor, dict[int, Tensor]], Callable[[], Tensor]] | None


def _activation(
    layer: nn.Module, device: torch.device, dtype: torch.dtype
) -> tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]:
    """(out-of-place, in-place) forms of an elementwise layer, tanh's resolved once here to the
    kernel measured fastest for (device, dtype). The in-place form runs only on a fresh matmul
    output, which autograd does not keep (baddbmm saves its inputs, not its result), and saves
    one allocation of the chunk's activations a layer."""
    if isinstance(layer, nn.Tanh):
        name = tanh_kernel(device, dtype)
        return TANH_KERNELS[name], TANH_IN_PLACE[name]
    if type(layer) is nn.ReLU:
        return layer, torch.relu_
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
    """forward(p, x, into) with p[name] of shape (g, *shape): batched matmuls, (g, N[, K]) out.

    `into` (only without autograd): a dict of buffers, one a layer, that the matmuls write into
    and later chunks reuse, instead of allocating every chunk's activations again."""

    def forward(p: dict[str, Tensor], x: Tensor, into: dict[int, Tensor] | None = None) -> Tensor:
        h, fresh = x, False  # fresh: h is a matmul output that nothing else holds
        for i, (kind, first, second) in enumerate(ops):
            if kind == "act":
                h, fresh = second(h) if fresh else first(h), False
                continue
            weight = p[first].mT
            h = h.expand(len(weight), *h.shape) if h.dim() == 2 else h
            out = (
                None
                if into is None
                else grid_buffer(into, i, (len(weight), h.shape[1], weight.shape[2]), h)
            )
            if second is None:
                h = torch.bmm(h, weight, out=out)
            else:
                h = torch.baddbmm(p[second][:, None], h, weight, out=out)
            fresh = True
        return h.squeeze(-1) if squeeze and h.shape[-1] == 1 else h

    return forward


def chain_prepare(ops: list[Op], squeeze: bool) -> Prepare:
    """prepare(p, x, into) -> run() for Linear/activation chains whose activations all follow a
    matmul (then computed in place): every view, transpose and buffer settled once, so run()
    makes only the batched matmuls and activations, writing into the same buffers each call;
    None for other chains."""
    if any(
        kind == "act" and (i == 0 or ops[i - 1][0] != "linear") for i, (kind, *_) in enumerate(ops)
    ):
        return None

    def prepare(p: dict[str, Tensor], x: Tensor, into: dict[int, Tensor]) -> Callable[[], Tensor]:
        g = len(next(iter(p.values())))
        h, calls = x.expand(g, *x.shape), []
        for i, (kind, first, second) in enumerate(ops):
            if kind == "act":
                calls.append(partial(second, h))  # in place, on the matmul's own buffer
                continue
            weight = p[first].mT
            out = grid_buffer(into, i, (g, h.shape[1], weight.shape[2]), h)
            if second is None:
                calls.append(partial(torch.bmm, h, weight, out=out))
            else:
                calls.append(partial(torch.baddbmm, p[second][:, None], h, weight, out=out))
            h = out
        result = h.squeeze(-1) if squeeze and h.shape[-1] == 1 else h

        def run() -> Tensor:
            for call in calls:
                call()
            return result

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


def line_prepare(p: dict[str, Tensor], x: Tensor, into: dict[int, Tensor]) -> Callable[[], Tensor]:
    """line_forward prepared: its views and buffer settled once, one addmm a run."""
    out = grid_buffer(into, 0, (len(p["w"]), x.shape[0]), x)
    return partial(torch.addmm, p["b"].unsqueeze(-1), p["w"].unsqueeze(-1), x[:, :1].T, out=out)
