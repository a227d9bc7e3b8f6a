"""Give freed heap memory back to the operating system, so that a process's resident set (RSS)
follows what memory holds after it pages parts out.

The C library's allocator keeps freed blocks for reuse. Blocks freed in the middle of glibc's heap
(the old tables of grown dicts and sets, the old buffers of grown arrays, the rows a page-out
dropped) stay resident until something reuses them: measured on ``benchmarks/memory_ops.py`` under
``memory.ram_budget_mb=256``, 53 MiB of free heap at 1.5M sightings (of 290 MiB RSS growth;
``malloc_trim`` gave 48 MiB of it back).
``release_free_heap()`` asks glibc to hand every whole free page back (``malloc_trim(0)``, which
also advises free pages inside the heap away, not only its top).

Only glibc has ``malloc_trim``: on other C libraries (musl, macOS, Windows) nothing is done and
``release_free_heap()`` returns False. Python's own small-object allocator (arenas of 1 MiB) frees
an arena only when every object in it is gone; this module does not change that.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["release_free_heap", "can_release"]

_trim: Any = None  # glibc's malloc_trim once looked up; False where there is none


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
