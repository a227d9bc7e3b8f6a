"""heap.map_large_blocks: a process that opts in gets large blocks mapped apart from glibc's heap
(checked in a child process, so the test run's own allocator is left as it is); bad thresholds
are refused."""

from __future__ import annotations

import subprocess
import sys

import pytest

from embodied_mem.memory import heap

CHILD = """
import ctypes, sys
from embodied_mem.memory import heap
class MI(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                               "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MI
if sys.argv[1] == "map":  # at the start, as a process of its own would
    assert heap.map_large_blocks() is True
big = bytearray(30 * 2**20)  # mapped; freeing it raises glibc's dynamic threshold to 30 MiB (unless set)
del big
before = libc.mallinfo2().hblks
block = bytearray(16 * 2**20)  # more than the free heap left by the imports (~8 MiB)
print(libc.mallinfo2().hblks - before)
"""


def _mapped_blocks_for_16_mib(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.strip())


@pytest.mark.skipif(not heap.can_release(), reason="glibc only")
def test_after_map_large_blocks_a_large_block_is_mapped_not_carved_from_the_heap():
    try:
        import ctypes

        ctypes.CDLL(None).mallinfo2  # noqa: B018 - glibc >= 2.33
    except AttributeError:
        pytest.skip("no mallinfo2")
    assert _mapped_blocks_for_16_mib("default") == 0  # glibc's raised threshold: from the heap
    assert _mapped_blocks_for_16_mib("map") == 1


@pytest.mark.parametrize("bad", [0, 4095, 32 * 2**20 + 1, 1.5e5, True, "128k", None])
def test_bad_thresholds_are_refused(bad):
    with pytest.raises(ValueError, match="threshold"):
        heap.map_large_blocks(bad)
