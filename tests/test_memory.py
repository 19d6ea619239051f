"""The server's memory when visitors open heavy Landscape views at once: it must not balloon.

A smaller run of `python -m tests.load.memory` (which has the figures): 4 wire sessions open
the 101 × 101 Hessian-axes view of a width-64 MLP on moons, each with its own seed, against a
real server. Before the surface engine wrote its chunks' results into buffers made once (they
were lists of small per-chunk tensors, which fragmented the malloc heap), the server's RSS rose
by 1.2-1.5 GB in this run (0.8 GB with explorer/allocator.py's settings), and most of it stayed;
now it rises by about 0.15 GB.
"""

import re
from concurrent.futures import ThreadPoolExecutor

import torch

from explorer import allocator
from explorer.landscape.batched import CACHE_ELEMS
from tests.browser.harness import ROOT
from tests.load.memory import measure

SESSIONS = 4
GROWTH_MB = 400  # peak RSS above the warmed-up server's: 130-150 MB now, 1240-1450 MB before


def test_heavy_views_at_once_keep_the_server_small():
    with ThreadPoolExecutor(1) as pool:  # its own event loop (playwright's sync API holds one)
        run = pool.submit(
            measure, SESSIONS, compare=False, timeout=240.0, log_name="memory-test-server.log"
        )
        report = run.result()
    assert report["failed"] == []  # every session got its charts, no error box
    assert report["busy_retries"] < 4 * SESSIONS
    assert report["baseline_mb"] > 100  # the sampler saw the server (torch alone is more)
    growth = report["peak_mb"] - report["baseline_mb"]
    assert growth < GROWTH_MB, report
    assert report["closed_mb"] - report["baseline_mb"] < GROWTH_MB, report


# glibc's environment variable for each mallopt parameter (M_ARENA_MAX's has no trailing _)
GLIBC_ENV = {
    "M_MMAP_THRESHOLD": "MALLOC_MMAP_THRESHOLD_",
    "M_TRIM_THRESHOLD": "MALLOC_TRIM_THRESHOLD_",
    "M_ARENA_MAX": "MALLOC_ARENA_MAX",
}


def test_the_image_sets_the_same_malloc_values_as_the_app():
    env = dict(re.findall(r"\b(MALLOC_[A-Z_]+)=(\d+)", (ROOT / "Dockerfile").read_text()))
    wanted = {GLIBC_ENV[name]: str(value) for name, (_, value) in allocator.SETTINGS.items()}
    assert env == wanted


def test_the_settings_apply_on_glibc_and_can_be_turned_off():
    assert allocator._apply({allocator.ENV: "off"}) == {}
    applied = allocator._apply({})
    if allocator._glibc() is None:  # musl, macOS, Windows: nothing to set
        assert applied == {}
    else:
        assert applied == {name: value for name, (_, value) in allocator.SETTINGS.items()}


def test_the_surface_engines_chunk_tensors_stay_below_the_mmap_threshold():
    # below it they are reused from the heap; above it each chunk would map and fault in fresh
    # pages (measured at a 128 KiB threshold: 5-7x the system CPU time of the views)
    threshold = allocator.SETTINGS["M_MMAP_THRESHOLD"][1]
    assert max(CACHE_ELEMS) * torch.finfo(torch.float32).bits // 8 < threshold
