"""Give freed heap memory back to the operating system, so that a process's resident set (RSS)
follows what memory holds after it pages parts out.

The C library's allocator keeps freed blocks for reuse. Blocks freed in the middle of glibc's heap
(the old tables of grown dicts and sets, the old buffers of grown arrays, the rows a page-out
dropped) stay resident until something reuses them: measured on ``benchmarks/memory_ops.py`` under
``memory.ram_budget_mb=256``, 53 MiB of free heap at 1.5M sightings (of 290 MiB RSS growth;
``malloc_trim`` gave 48 MiB of it back).
``release_free_heap()`` asks glibc to hand every whole free page back (``malloc_trim(0)``, which
also advises free pages inside the heap away, not only its top).

Without a RAM budget nothing calls it: measured at 1M sightings without a budget
(``benchmarks/memory_ops.py``'s stream, glibc's ``mallinfo2``), the heap held 31-39 MiB of free
blocks at the end of ingest (grown ``array`` columns moved by ``realloc``, the old tables of grown
dicts, numpy temporaries of merges; up to 38 MiB of it a free top of the heap that glibc's raised
trim threshold keeps) and ``malloc_trim(0)`` gave 27-35 MiB back in 20-60 ms; but a release every
16,384 percepts left as much free heap at the end (53 MiB, 237 MiB growth against 224 without), as
what frees after a release stays until the next one. What does keep it low is below.

What the library never does by itself: change the allocator's settings, which would change the
whole host process. ``map_large_blocks()`` is for a process that chooses to (a robot bridge, a
benchmark, a script of its own): glibc then maps every block from 128 KiB up apart from the heap
(``mallopt(M_MMAP_THRESHOLD)``, the same as starting Python with
``GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072``), so that a grown column or a freed numpy
temporary goes back to the system at once and never leaves a hole in the heap (and the trim
threshold stays at 128 KiB, so a free top of the heap goes back too). By default glibc
raises that threshold (up to 32 MiB) each time a mapped block is freed, after which blocks up to
that size are carved from the heap. Measured at 1M sightings without a budget: 7 MiB of free heap
instead of 39 MiB, and an RSS growth 35 MiB lower at the end of ingest (as low as a
``malloc_trim`` gives), with no call. The ``embodied-mem`` command calls it at the start of its ``run``
and ``robot`` commands (``cli.MAP_LARGE_BLOCKS_COMMANDS``; ``EMBODIED_MEM_MAP_LARGE_BLOCKS=0`` turns it
off): measured, same stream, two pairs at load 7-9, 29-30 MiB less RSS (265 -> 236 MiB whole process)
and durable ingest CPU within the noise (observe + flush: 59.4k against 59.1k and 57.2k against
59.5k sightings/s, that is -0.5 % and +3.9 %).

Only glibc has ``malloc_trim``: on other C libraries (musl, macOS, Windows) nothing is done and
``release_free_heap()`` returns False. Python's own small-object allocator (arenas of 1 MiB) frees
an arena only when every object in it is gone; this module does not change that.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["release_free_heap", "can_release", "map_large_blocks"]

_trim: Any = None  # glibc's malloc_trim once looked up; False where there is none
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number (malloc.h)
_MMAP_THRESHOLD_MAX = 32 * 2**20  # glibc's largest M_MMAP_THRESHOLD on 64-bit systems


def _malloc_trim() -> Any:
    global _trim
    if _trim is None:
        _trim = False
        if sys.platform.startswith("linux"):
            import ctypes  # only here: ``import embodied_mem`` stays fast

            try:
                fn = ctypes.CDLL(None).malloc_trim  # the C library this interpreter runs on
            except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
                fn = None
            if fn is not None:
                fn.argtypes = [ctypes.c_size_t]
                fn.restype = ctypes.c_int
                _trim = fn
    return _trim


def can_release() -> bool:
    """Whether ``release_free_heap`` can do anything on this platform (glibc)."""
    return bool(_malloc_trim())


def release_free_heap() -> bool:
    """Return the allocator's free pages to the operating system (glibc ``malloc_trim(0)``: it walks
    the heap's free blocks; measured 20-40 ms a call at 1M-3M sightings under a 256 MiB budget, on a
    heavily loaded machine). False, and nothing done, where the C library has no ``malloc_trim``."""
    fn = _malloc_trim()
    if not fn:
        return False
    fn(0)
    return True


def map_large_blocks(threshold: int = 128 * 1024) -> bool:
    """Have glibc map every block of ``threshold`` bytes or more apart from the heap from now on, for
    the whole process (``mallopt(M_MMAP_THRESHOLD, threshold)``; glibc's dynamic threshold is off
    after it). A choice for a process of its own (see the module docstring): never called by the
    library. Call it at the start, before large blocks come and go: a threshold glibc already raised
    has also raised its trim threshold, and what the heap holds stays there. True when set; False, nothing done, where the C library is not glibc or refuses.
    ``threshold`` must be an int in [4096, 32 MiB] (ValueError otherwise, nothing changed)."""
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 4096 <= threshold <= _MMAP_THRESHOLD_MAX:
        raise ValueError(f"map_large_blocks: threshold must be an int of bytes in [4096, {_MMAP_THRESHOLD_MAX}], "
                         f"got {threshold!r}")
    if not _malloc_trim():  # not glibc
        return False
    import ctypes

    try:
        fn = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn(_M_MMAP_THRESHOLD, threshold) == 1
