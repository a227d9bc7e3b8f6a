"""Where the goal is, for the object-search skills: seen in this episode's working map (nearest
instance of the category), else remembered in spatial memory (``memory.spatial.locate``, when
memory and its spatial layer are on). Put-aside goal positions and frontiers (the critic or the
navigator gave up on them) are skipped until their time is up. Units: metres, memory frame.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any

__all__ = ["ObjectNavWorld", "key"]


def key(xy: tuple[float, float], size: float = 0.5) -> tuple[int, int]:
    """A coarse key for a position (``size``-metre squares) to put it aside by."""
    return (math.floor(xy[0] / size), math.floor(xy[1] / size))


class ObjectNavWorld:
    def __init__(self, memory: Any | None) -> None:
        sp = getattr(memory, "spatial", None) if memory is not None else None
        self.sp = sp if sp is not None and getattr(sp, "enabled", False) else None
        self.aside: dict[tuple[str, Hashable], float] = {}
        self.map: Any = None
        self.t = 0.0

    def update(self, state: Any) -> None:
        self.map, self.t = state.map, float(state.t)

    def forget(self) -> None:
        """Memoryless baseline: drop put-aside marks (the episode's working map belongs to the
        preprocessor and is what the sensors built this episode)."""
        self.aside.clear()

    def put_aside(self, label: str, where: Hashable, until: float) -> None:
        self.aside[(label, where)] = float(until)

    def is_aside(self, label: str, xy: tuple[float, float]) -> bool:
        return self.aside.get((label, key(xy)), -1.0) > self.t

    def goal_position(self, goal: str, pos: tuple[float, float]) -> tuple[tuple[float, float] | None, str]:
        """``(x, y)`` of the nearest instance of ``goal`` and how it is known: "seen" (this episode's
        map) or "remembered" (spatial memory); ``(None, "explore")`` when neither knows one."""
        if self.map is not None:
            inst = [o for o in self.map.objects.instances(goal) if not self.is_aside(goal, o.centroid[:2])]
            if inst:
                best = min(inst, key=lambda o: math.hypot(o.centroid[0] - pos[0], o.centroid[1] - pos[1]))
                return (float(best.centroid[0]), float(best.centroid[1])), "seen"
        if self.sp is not None:
            locs = [loc for loc in self.sp.locate(goal) if not self.is_aside(goal, loc.position[:2])]
            if locs:
                best = min(locs, key=lambda loc: math.hypot(loc.position[0] - pos[0], loc.position[1] - pos[1]))
                return (float(best.position[0]), float(best.position[1])), "remembered"
        return None, "explore"
