"""Where resources are, for the Minecraft skills: ``ViewWorld`` (only what is in view now: spatial
memory off or no memory) and ``MemoryWorld`` (memory's spatial layer: remembered blocks, occupancy,
frontiers, A* paths over known free cells).

Positions are memory-frame (blocks); a target's key is its block cell ``(round x, round y, floor z)``.
Put-aside targets (the critic gave up on them) are skipped until their time is up.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any

__all__ = ["ViewWorld", "MemoryWorld", "block_key"]

Position = tuple[float, float, float]


def block_key(p: Sequence[float]) -> tuple[int, int, int]:
    return (round(p[0]), round(p[1]), math.floor(p[2]))


class ViewWorld:
    """Only the current view: the blocks visible this step. No map, no paths, no frontiers."""

    has_map = False

    def __init__(self) -> None:
        self.aside: dict[tuple[str, Hashable], float] = {}
        self.visible: dict[str, list[Position]] = {}
        self.t = 0.0

    def update(self, state: Any) -> None:
        self.visible = state.visible
        self.t = float(state.t)

    def forget(self) -> None:
        """The memoryless baseline: nothing is carried between steps (the view is re-read each step)."""
        self.aside.clear()

    def put_aside(self, label: str, where: Hashable, until: float) -> None:
        self.aside[(label, where)] = float(until)

    def is_aside(self, label: str, where: Hashable) -> bool:
        return self.aside.get((label, where), -1.0) > self.t

    def _known(self, label: str) -> list[Position]:
        return list(self.visible.get(label, ()))

    def candidates(self, label: str) -> list[Position]:
        """Known positions of ``label`` (not put aside)."""
        return [p for p in self._known(label) if not self.is_aside(label, block_key(p))]

    def path(self, start: Sequence[float], goal: Sequence[float]) -> list[Position] | None:
        return None

    def frontiers(self, near: Sequence[float]) -> list[Position]:
        return []

    def occupancy(self, p: Sequence[float]) -> str:
        return "unknown"

    def known_cells(self) -> int:
        return 0


class MemoryWorld(ViewWorld):
    """Spatial memory (``memory.spatial``): ``locate`` (current beliefs, so blocks seen gone are
    dropped), ``path`` (A* over known free cells), ``frontiers``, ``occupancy``."""

    has_map = True

    def __init__(self, memory: Any) -> None:
        super().__init__()
        self.sp = memory.spatial

    def _known(self, label: str) -> list[Position]:
        return [loc.position for loc in self.sp.locate(label)]

    def path(self, start: Sequence[float], goal: Sequence[float]) -> list[Position] | None:
        return self.sp.path(start, goal, adjacent=True)

    def frontiers(self, near: Sequence[float]) -> list[Position]:
        return list(self.sp.frontiers(near=near, limit=400))

    def occupancy(self, p: Sequence[float]) -> str:
        return str(self.sp.occupancy(p))

    def known_cells(self) -> int:
        return int(self.sp.n_known_cells)
