"""The surface engine's loop without autograd: L at many points as one tensor, θ made a block
of chunks at a time and each chunk's loss written into its place in the values.

A block holds whole chunks (about THETA_BLOCK parameter entries): its θ, its views and their
split into chunks are made once, by the evaluator's `prepared`, so a chunk costs its kernels.
"""

from collections.abc import Callable
from typing import Protocol

import torch
from torch import Tensor

from explorer.budget import checkpoint

# parameter entries of θ made at once without autograd (4 MiB of float32): a block of chunks
# shares one θ and one set of views, made and split once a block (~20 ops and a view a chunk
# and tensor, ~0.15 ms for the 2-32-32-1 MLP); at 1 MiB its blocks held 13 chunks of 16 points
# and took 5-21% longer than at 4 MiB (55 chunks; grid_values on 51², tanh and relu, best of
# 11), 2 and 8 MiB in between; the 201² line grid is one block
THETA_BLOCK = 1 << 20


class Evaluator(Protocol):
    """What the loop needs of a batched evaluator (explorer.landscape.batched.BatchedLoss)."""

    dtype: torch.dtype
    device: torch.device
    n_params: int

    def prepared(self, theta: Tensor, size: int) -> Callable[..., Tensor]: ...


def block_rows(n_params: int, size: int, total: int) -> int:
    """Points a block: whole chunks of `size` holding about THETA_BLOCK parameter entries (at
    least one chunk), no more than `total`."""
    return max(1, min(total, max(size, THETA_BLOCK // n_params // size * size)))


def blockwise(f: Evaluator, rows: Callable[[int, int], Tensor], total: int, size: int) -> Tensor:
    """L at `total` points without autograd, as one tensor: rows(start, stop) gives the θ
    (stop − start, P) of a block of points (whole chunks of `size`), which f.prepared runs chunk
    by chunk, each chunk's loss written into its place, a view split off the values once (a
    mean with out=, ~15 µs a chunk less than a copy by index; a split's views cost half a
    slice's each). The values take the evaluator's dtype unless the first chunk's loss has
    another (a loss may compute in float64): then they take its dtype."""
    values = torch.empty(total, dtype=f.dtype, device=f.device)
    places, block = values.split(size), block_rows(f.n_params, size, total)
    for start in range(0, total, block):
        stop = min(start + block, total)
        run, first = f.prepared(rows(start, stop), size), start // size
        for k in range(-(-(stop - start) // size)):
            checkpoint()  # the running unit of heavy work may end here (explorer.budget.Cut)
            place = places[first + k]
            loss = run(k, place)
            if loss is place:
                continue
            if not start and not k and loss.dtype != values.dtype:
                values = loss.new_empty(total)
                places = values.split(size)
                place = places[0]
            place.copy_(loss)
    return values
