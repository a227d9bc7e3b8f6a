"""Thalamus-like preprocessor: observation + info -> ``State`` (what the agent perceives now), the
``Percept`` written into memory, and a retrieval query for the current goal.

Everything here comes from the adapter's sensor-only observation (local view, inventory, vitals)
and the agent's own pose; nothing reads the simulator's world.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...config import PreprocessorConfig

__all__ = ["State", "CrafterPreprocessor"]


@dataclass
class State:
    """One step's perception. Positions are world grid cells ``(x, y)``; ``view[row, col]`` codes."""

    t: float
    pos: tuple[int, int]
    facing: tuple[int, int]
    view: np.ndarray
    inventory: dict[str, int]
    achievements: dict[str, int]
    sleeping: bool = False
    daylight: float = 1.0
    labels: tuple[str, ...] = ()
    visible: dict[str, list[tuple[int, int]]] = field(default_factory=dict)

    def label_at(self, cell: tuple[int, int]) -> str:
        """Label of a cell inside the current view, or ``"unknown"`` outside it."""
        h, w = self.view.shape
        c = cell[0] - self.pos[0] + w // 2
        r = cell[1] - self.pos[1] + h // 2
        if 0 <= r < h and 0 <= c < w:
            return self.labels[int(self.view[r, c])]
        return "unknown"

    @property
    def facing_cell(self) -> tuple[int, int]:
        return (self.pos[0] + self.facing[0], self.pos[1] + self.facing[1])

    def unlocked(self, achievement: str) -> bool:
        return self.achievements.get(achievement, 0) > 0


class CrafterPreprocessor:
    """The ``Preprocessor`` role in Crafter: turns the adapter's observation into a ``State`` and writes the step's ``Percept`` into memory.

    ``memory`` may be None (memoryless agents); with ``write_memory=False`` nothing is written.
    Raises ``KeyError`` naming the missing field when ``info`` lacks ``percept``/``position``/``facing``.
    """

    def __init__(self, config: PreprocessorConfig, labels: tuple[str, ...], inventory_names: tuple[str, ...]) -> None:
        self.config = config
        self.labels = labels
        self.inventory_names = inventory_names
        self._last_key: Any = None
        self.written = 0

    def reset(self) -> None:
        self._last_key = None
        self.written = 0

    def place(self, state: State) -> tuple[int, int]:
        """A coarse place (4x4-cell blocks) for cycle detection without spatial memory."""
        return (state.pos[0] // 4, state.pos[1] // 4)

    def perceive(self, obs: Any, info: Any) -> State:
        return self.state(obs, info)

    def state(self, obs: Any, info: Any) -> State:
        for k in ("position", "facing"):
            if k not in info:
                raise KeyError(f"info[{k!r}] is missing: the agent needs its own pose from the adapter")
        view = np.asarray(obs["view"])
        inv_vec = np.asarray(obs["inventory"]).tolist()
        inventory = dict(zip(self.inventory_names, (int(v) for v in inv_vec)))
        visible: dict[str, list[tuple[int, int]]] = {}
        h, w = view.shape
        px, py = info["position"]
        x0, y0 = px - w // 2, py - h // 2
        rows, cols = np.nonzero(view > 0)
        labels = self.labels
        for r, c in zip(rows.tolist(), cols.tolist()):
            visible.setdefault(labels[int(view[r, c])], []).append((x0 + c, y0 + r))
        return State(t=float(info.get("step", info["percept"].t if "percept" in info else 0.0)),
                     pos=(int(px), int(py)), facing=tuple(int(v) for v in info["facing"]), view=view,
                     inventory=inventory, achievements=dict(info.get("achievements") or {}),
                     sleeping=bool(info.get("sleeping", False)), daylight=float(info.get("daylight", 1.0)),
                     labels=labels, visible=visible)

    def write(self, memory: Any, info: Any, state: State) -> int | None:
        """Write ``info["percept"]`` into ``memory``; returns its id (None when skipped)."""
        if memory is None or not self.config.write_memory:
            return None
        if "percept" not in info:
            raise KeyError("info['percept'] is missing: the adapter must pass the step's Percept")
        p = info["percept"]
        if self.config.skip_unchanged:
            key = (state.pos, state.facing, state.view.tobytes(), tuple(p.events), p.action)
            if key == self._last_key and not p.events:
                return None
            self._last_key = key
        self.written += 1
        return memory.observe(p)

    @staticmethod
    def query(goal: str | None, subgoal: Any = None) -> str:
        """A retrieval query for the current goal, e.g. ``"make_stone_pickaxe stone table"``."""
        parts = [goal or "explore"]
        if subgoal is not None:
            parts.append(str(getattr(subgoal, "target", "") or ""))
        return " ".join(p.replace("_", " ") for p in parts if p)
