"""glibc malloc settings for a server whose sessions run in threads, set from inside the process.

glibc's threshold for serving a block by its own mmap (given back to the system on free) is
dynamic: it starts at 128 KiB, and each time an mmapped block is freed it rises to that block's
size, up to 32 MiB. From then on blocks up to that size come from the heap of the thread's
arena, and free memory there stays with the process unless it is at the top of the heap.
Concurrent threads (each session's script runs in one) get arenas of their own, so what heavy
views leave behind is multiplied by the sessions at once. (The large growth, 0.4 GB a Landscape
view, came from fragmentation and is fixed where it arose, in landscape/batched.py.)

`configure()` sets, through mallopt: a fixed mmap threshold (it then stops moving) above the
surface engine's chunk tensors, which are reused from the heap, so that only larger blocks
(figure JSON, downloads, big arrays) are mapped and given back; a trim threshold; and a cap on
the number of arenas. app.py calls it first thing, before any large allocation; the settings
are global, so they hold in the arenas of threads started later too (measured: the same RSS as
with glibc's MALLOC_* variables set before the process starts, as the Dockerfile does). A lower
threshold that maps the chunk tensors as well costs the views 5-7x their system CPU time in page
faults. Where the C library is not glibc (musl, macOS, Windows) it does nothing. LLE_MALLOC=off
leaves glibc's defaults (for comparing: `python -m tests.load.memory --malloc off`).
"""

import ctypes
import os
import sys
from collections.abc import Mapping

ENV = "LLE_MALLOC"  # "off": leave the C library's defaults
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # glibc's <malloc.h>
MIB = 1 << 20
SETTINGS = {
    # a block this large gets its own mmap and goes back to the system when freed; the surface
    # engine's chunk tensors (landscape/batched.py's CACHE_ELEMS in float32: at most 4 MiB) stay
    # below it
    "M_MMAP_THRESHOLD": (M_MMAP_THRESHOLD, 8 * MIB),
    # free memory at the top of a heap beyond this goes back to the system
    "M_TRIM_THRESHOLD": (M_TRIM_THRESHOLD, 16 * MIB),
    # arenas the threads share; glibc's default is 8 a core
    "M_ARENA_MAX": (M_ARENA_MAX, 4),
}
_applied: dict[str, int] | None = None


def configure(environ: Mapping[str, str] = os.environ) -> dict[str, int]:
    """Apply SETTINGS once a process; {name: value} of those glibc accepted ({} when off, not
    glibc, or not Linux). Later calls return the first call's result."""
    global _applied
    if _applied is None:
        _applied = _apply(environ)
    return dict(_applied)


def _apply(environ: Mapping[str, str]) -> dict[str, int]:
    if environ.get(ENV, "").strip().lower() in ("off", "0", "false", "no"):
        return {}
    libc = _glibc()
    if libc is None:
        return {}
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    return {
        name: value for name, (param, value) in SETTINGS.items() if libc.mallopt(param, value) == 1
    }


def _glibc() -> ctypes.CDLL | None:
    """The process's C library if it is glibc (it alone has gnu_get_libc_version), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    return libc if hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "mallopt") else None
