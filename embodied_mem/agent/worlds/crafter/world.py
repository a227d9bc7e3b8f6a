"""Where things are, for the planner and executor: spatial memory, or only the current view.

``MemoryWorld`` answers from ``mem.spatial`` (beliefs, occupancy, A* ``path``, ``frontiers``),
merged with the current view (which is always fresher). ``ViewWorld`` (memoryless agents, or
spatial memory switched off) knows only the cells in view. Cells are world grid ``(x, y)``.
Targets the critic put aside (unreachable, stalled) are skipped until their time runs out.
"""

from __future__ import annotations

from collections import deque
from typing import Any

__all__ = ["ViewWorld", "MemoryWorld", "WALKABLE"]

WALKABLE = frozenset({"grass", "sand", "path"})
CREATURES = frozenset({"cow", "zombie", "skeleton", "arrow"})
_DIRS = ((-1, 0), (1, 0), (0, -1), (0, 1))


class ViewWorld:
    """Knowledge limited to the current view (9×7 cells): no memory of anything out of sight."""

    uses_memory = False

    def __init__(self) -> None:
        self.state: Any = None
        self.blacklist: dict[tuple[str, tuple[int, int]], float] = {}
        self.placed: dict[str, tuple[int, int]] = {}
        self.tree: Any = None  # the planner's TechTree (shared by CrafterPlanner.refresh)

    def reset(self) -> None:
        self.state = None
        self.blacklist.clear()
        self.placed.clear()

    def update(self, state: Any) -> None:
        self.state = state

    def forget(self) -> None:
        """Drop the put-aside targets (the memoryless baseline keeps nothing between steps)."""
        self.blacklist.clear()

    def put_aside(self, label: str, cell: tuple[int, int], until: float) -> None:
        self.blacklist[(label, cell)] = until

    def _ok(self, label: str, cell: tuple[int, int]) -> bool:
        until = self.blacklist.get((label, cell))
        return until is None or until <= self.state.t

    def visible(self, label: str) -> list[tuple[int, int]]:
        return self.state.visible.get(label, []) if self.state is not None else []

    def nearest(self, label: str, pos: tuple[int, int], max_dist: float | None = None) -> tuple[int, int] | None:
        best, bd = None, float("inf")
        for c in self.visible(label):
            d = abs(c[0] - pos[0]) + abs(c[1] - pos[1])
            if d < bd and (max_dist is None or d <= max_dist) and self._ok(label, c):
                best, bd = c, d
        return best

    def station_near(self, station: str, pos: tuple[int, int], radius: float) -> bool:
        return self.nearest(station, pos, max_dist=radius) is not None

    def planned_station(self, station: str) -> None:
        pass

    def walkable(self, cell: tuple[int, int]) -> bool | None:
        """True/False when known (creatures count as walkable: they move), None when unknown."""
        lab = self.state.label_at(cell)
        if lab == "unknown":
            return None
        return lab in WALKABLE or lab in CREATURES

    def path(self, start: tuple[int, int], goal: tuple[int, int], adjacent: bool = True) -> list[tuple[int, int]] | None:
        """BFS over walkable cells in view; the path ends next to ``goal`` when ``adjacent``."""
        if adjacent and abs(start[0] - goal[0]) + abs(start[1] - goal[1]) == 1:
            return [start]
        if not adjacent and start == goal:
            return [start]
        prev: dict[tuple[int, int], tuple[int, int] | None] = {start: None}
        q = deque([start])
        while q:
            c = q.popleft()
            done = (abs(c[0] - goal[0]) + abs(c[1] - goal[1]) == 1) if adjacent else c == goal
            if done:
                out = []
                n: tuple[int, int] | None = c
                while n is not None:
                    out.append(n)
                    n = prev[n]
                return out[::-1]
            for dx, dy in _DIRS:
                nb = (c[0] + dx, c[1] + dy)
                if nb in prev:
                    continue
                if self.walkable(nb):
                    prev[nb] = c
                    q.append(nb)
        return None

    def frontier(self, pos: tuple[int, int], rng: Any) -> tuple[int, int] | None:
        return None  # nothing beyond the view is known: the executor wanders instead

    def recall_area(self, label: str, pos: tuple[int, int], rng: Any) -> tuple[int, int] | None:
        return None

    def put_aside_now(self, label: str, cell: tuple[int, int]) -> bool:
        return not self._ok(label, cell)

    def rock(self, pos: tuple[int, int]) -> tuple[int, int] | None:
        """A stone cell with much rock around it (somewhere to dig a shelter), nearest first."""
        stones = set(self.visible("stone"))
        return _rock_in(stones, pos, self)


class MemoryWorld(ViewWorld):
    """Spatial memory (beliefs, occupancy, places) merged with the current view."""

    uses_memory = True

    def __init__(self, memory: Any) -> None:
        super().__init__()
        self.memory = memory
        self.sp = memory.spatial

    def nearest(self, label: str, pos: tuple[int, int], max_dist: float | None = None) -> tuple[int, int] | None:
        seen = super().nearest(label, pos, max_dist)
        if seen is not None:
            return seen
        loc = self.sp.nearest(label, (float(pos[0]), float(pos[1]), 0.0))
        if loc is None:
            return None
        c = (int(round(loc.position[0])), int(round(loc.position[1])))
        if self._ok(label, c):
            d = abs(c[0] - pos[0]) + abs(c[1] - pos[1])
            return c if max_dist is None or d <= max_dist else None
        # the nearest one is put aside: look through the others (rare)
        best, bd = None, float("inf")
        for loc in self.sp.locate(label):
            c = (int(round(loc.position[0])), int(round(loc.position[1])))
            d = abs(c[0] - pos[0]) + abs(c[1] - pos[1])
            if d < bd and (max_dist is None or d <= max_dist) and self._ok(label, c):
                best, bd = c, d
        return best

    def walkable(self, cell: tuple[int, int]) -> bool | None:
        v = super().walkable(cell)
        if v is not None:
            return v
        occ = self.sp.occupancy((float(cell[0]), float(cell[1]), 0.0))
        return None if occ == "unknown" else occ == "free"

    def path(self, start: tuple[int, int], goal: tuple[int, int], adjacent: bool = True) -> list[tuple[int, int]] | None:
        wps = self.sp.path((float(start[0]), float(start[1]), 0.0), (float(goal[0]), float(goal[1]), 0.0),
                           adjacent=adjacent, max_expansions=6000)
        if wps is None:
            return None
        return [(int(round(p[0])), int(round(p[1]))) for p in wps]

    def frontier(self, pos: tuple[int, int], rng: Any) -> tuple[int, int] | None:
        cands = self.sp.frontiers(near=(float(pos[0]), float(pos[1]), 0.0), limit=40)
        cells = [(int(round(p[0])), int(round(p[1]))) for p in cands]
        cells = [c for c in cells if self._ok("frontier", c) and abs(c[0] - pos[0]) + abs(c[1] - pos[1]) >= 2]
        if not cells:
            return None
        # the nearest few, picked at random so that two agents do not wander identically forever
        k = min(len(cells), 3)
        return cells[int(rng.integers(k))]

    def recall_area(self, label: str, pos: tuple[int, int], rng: Any) -> tuple[int, int] | None:
        """Where ``label`` used to be (invalidated beliefs too): cows graze where cows grazed.

        A cell at least 6 cells away, not visited for this purpose lately; nearest of a random few.
        """
        hist = self.sp.history(label)
        cells = {(int(round(loc.position[0])), int(round(loc.position[1]))) for loc in hist[-300:]}
        cells = [c for c in cells if abs(c[0] - pos[0]) + abs(c[1] - pos[1]) >= 6 and self._ok("area", c)]
        if not cells:
            return None
        cells.sort(key=lambda c: abs(c[0] - pos[0]) + abs(c[1] - pos[1]))
        return cells[int(rng.integers(min(3, len(cells))))]

    def rock(self, pos: tuple[int, int]) -> tuple[int, int] | None:
        stones = {(int(round(loc.position[0])), int(round(loc.position[1]))) for loc in self.sp.locate("stone")}
        stones |= set(self.visible("stone"))
        return _rock_in(stones, pos, self)


def _rock_in(stones: set[tuple[int, int]], pos: tuple[int, int], world: ViewWorld) -> tuple[int, int] | None:
    best, bd = None, float("inf")
    for c in stones:
        d = abs(c[0] - pos[0]) + abs(c[1] - pos[1])
        if d >= bd or not world._ok("rock", c):
            continue
        n = sum((c[0] + dx, c[1] + dy) in stones for dx in (-2, -1, 0, 1, 2) for dy in (-2, -1, 0, 1, 2))
        if n >= 14:
            best, bd = c, d
    return best
