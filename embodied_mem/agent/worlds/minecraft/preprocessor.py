"""Minecraft preprocessor: ``info`` -> ``State`` (pose in memory's frame, inventory, task progress,
blocks in view, walkable cells in view, whether the last primitive succeeded); writes the step's
``info["percept"]`` into memory (the agent's only memory input). Reads only ``info`` (the sensors).

Time: the env counts steps from 0 each episode; the state's ``t`` (and the percept written) runs on
one lifelong time line (each episode starts one step after the last one ended), so one memory can
serve several episodes in the same world.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["State", "MinecraftPreprocessor"]


@dataclass
class State:
    t: float
    position: tuple[float, float, float]  # memory frame (feet)
    inventory: dict[str, int]
    task: dict[str, Any]  # the env's task report: order, count, progress {kind: n}, current, done
    visible: dict[str, list[tuple[float, float, float]]] = field(default_factory=dict)  # label -> positions
    free: list[tuple[float, float]] = field(default_factory=list)  # walkable cells in view (memory x, y)
    last_ok: bool = True  # the last primitive did what it was asked

    @property
    def count(self) -> int:
        """Task items held (the sum of the task's progress)."""
        return sum(int(v) for v in self.task.get("progress", {}).values())


class MinecraftPreprocessor:
    def __init__(self, config: Any, place_size: float = 8.0) -> None:
        self.config = config  # agent.preprocessor: write_memory, skip_unchanged
        self.place_size = float(place_size)
        self.last_t = -1.0
        self.reset()

    def reset(self) -> None:
        self._last_written: tuple[Any, ...] | None = None
        self.t0 = self.last_t + 1.0

    def perceive(self, obs: object, info: Mapping[str, Any]) -> State:
        p = info.get("percept")
        if p is None or p.pose is None:
            raise ValueError("info['percept'] with a pose is required: the Minecraft agent needs the bot's position")
        visible: dict[str, list[tuple[float, float, float]]] = {}
        for s in p.sightings:
            if s.instance is None:  # blocks; entities carry an instance id
                visible.setdefault(s.label, []).append(tuple(s.position))
        free = [] if p.free is None else [(float(a), float(b)) for a, b in p.free]
        t = self.t0 + float(p.t)
        self.last_t = t
        return State(t=t, position=tuple(p.pose.position), inventory=dict(info.get("inventory", {})),
                     task=dict(info.get("task", {})), visible=visible, free=free,
                     last_ok=bool(info.get("action_ok", True)))

    def write(self, memory: Any, info: Mapping[str, Any], state: State) -> int | None:
        if memory is None or not self.config.write_memory:
            return None
        p = info["percept"]
        key = (p.pose.position, p.sightings, p.events)
        if self.config.skip_unchanged and key == self._last_written:
            return None
        self._last_written = key
        return memory.observe(p if p.t == state.t else dataclasses.replace(p, t=state.t))

    def query(self, goal: str | None, subgoal: Any) -> str:
        target = getattr(subgoal, "target", None)
        return f"where is {target}" if target else (goal or "resources")

    def place(self, state: State) -> Hashable:
        """A coarse place id (``place_size``-block squares) for cycle detection without spatial memory."""
        return (round(state.position[0] / self.place_size), round(state.position[1] / self.place_size))
