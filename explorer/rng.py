"""torch's global random generator, shared by every thread of the app server.

Sessions run in threads of one process, and torch has one global CPU generator. Seeding it and
drawing from it (nn.Linear's initialization, the seed articles' torch.randn) is only
reproducible while no other thread seeds or draws in between, so every such use holds
GLOBAL_RNG. Code that can take a torch.Generator (data, mini-batch order) uses its own.
"""

import contextlib
import threading
from collections.abc import Iterator

import torch

GLOBAL_RNG = threading.RLock()


@contextlib.contextmanager
def global_seed(seed: int) -> Iterator[None]:
    """Inside: the global CPU generator seeded to `seed`, this thread its only user. After: the
    generator's state as before. Seeds the CPU generator alone: torch.manual_seed would also
    queue a seed for every CUDA device, capturing a stack trace each time (a tenth of the
    server's CPU when a class opened the Training page at once)."""
    with GLOBAL_RNG:
        state = torch.get_rng_state()
        torch.default_generator.manual_seed(int(seed))
        try:
            yield
        finally:
            torch.set_rng_state(state)
