"""How a bounded memory of past steps is organised: FIFO or place-centric (numpy, no torch).

A trajectory of ``T`` steps is given as the place of each step (an integer id). A memory of
``budget`` slots keeps a subset of the steps and lays them out in *memory order*, cut into chunks
(HCAM's unit of reading):

- ``"fifo"``: the most recent ``budget`` steps, in time order; chunks are consecutive runs of
  ``chunk_size`` steps.
- ``"place"``: steps are inserted one by one; when the memory is full, the oldest step of the
  place holding the most slots is evicted (ties: the place whose oldest step is oldest). This is
  the Spatially-Aware Transformer's place-centric memory: slots are shared out per place and each
  place is FIFO inside. Memory order groups steps by place (places in order of first visit, time
  order inside), and chunks never straddle two places.

With ``budget >= T`` both keep every step (the same set; only the order and chunking differ).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

__all__ = ["MEMORY_KINDS", "MemoryLayout", "organise"]

MEMORY_KINDS = ("fifo", "place")


@dataclass(frozen=True)
class MemoryLayout:
    """Kept steps in memory order (``steps``, indices into the trajectory) and their chunk ids."""

    steps: np.ndarray  # (n,) int64, indices into the trajectory, n <= budget
    chunks: np.ndarray  # (n,) int64, chunk id of each kept step, 0..n_chunks-1, non-decreasing

    @property
    def n_chunks(self) -> int:
        return int(self.chunks[-1]) + 1 if len(self.chunks) else 0


def organise(places: np.ndarray, budget: int, kind: str, chunk_size: int) -> MemoryLayout:
    """Lay out the memory of a trajectory whose step ``i`` happened at place ``places[i]``.

    ``places``: (T,) integer place ids (any hashable ints). ``budget``: slots (>= 1).
    ``kind``: ``"fifo"`` or ``"place"``. ``chunk_size``: steps per chunk (>= 1).
    Raises ``ValueError`` naming the bad argument.
    """
    places = np.asarray(places)
    if places.ndim != 1:
        raise ValueError(f"places must be a 1-D array of place ids, got shape {places.shape}")
    if kind not in MEMORY_KINDS:
        raise ValueError(f"memory kind must be one of {MEMORY_KINDS}, got {kind!r}")
    if int(budget) < 1:
        raise ValueError(f"memory budget must be >= 1 slot, got {budget}")
    if int(chunk_size) < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    budget, chunk_size = int(budget), int(chunk_size)
    T = len(places)
    if kind == "fifo":
        steps = np.arange(max(0, T - budget), T, dtype=np.int64)
        return MemoryLayout(steps, np.arange(len(steps), dtype=np.int64) // chunk_size)

    slots: dict[int, deque[int]] = {}
    first_visit: dict[int, int] = {}
    size = 0
    for i, p in enumerate(places.tolist()):
        if p not in slots:
            slots[p] = deque()
            first_visit[p] = i
        slots[p].append(i)
        size += 1
        if size > budget:
            victim = max(slots, key=lambda q: (len(slots[q]), -slots[q][0]) if slots[q] else (0, 0))
            slots[victim].popleft()
            size -= 1
    steps_l: list[int] = []
    chunks_l: list[int] = []
    chunk = 0
    for p in sorted(slots, key=first_visit.__getitem__):
        kept = list(slots[p])
        for j, s in enumerate(kept):
            steps_l.append(s)
            chunks_l.append(chunk + j // chunk_size)
        if kept:
            chunk += (len(kept) - 1) // chunk_size + 1
    return MemoryLayout(np.asarray(steps_l, np.int64), np.asarray(chunks_l, np.int64))
