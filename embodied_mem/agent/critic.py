"""The critic: progress of the current subgoal, failure and loop detection (RoboMemory's
infinite-loop mitigation).

Verdicts, one per step: ``"ok"`` (working on it), ``"progress"`` (something improved),
``"done"``, ``"stalled"`` (no progress for ``stall_steps``: put the target aside and replan),
``"loop"`` (oscillating between few cells without progress, or the same (subgoal, place) cycle
repeated ``cycle_repeats`` times: replan and explore for ``explore_steps``), ``"off"`` when the
critic is disabled (it then never intervenes; the agent still replans when a subgoal is done).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from .config import CriticConfig

__all__ = ["Critic", "find_cycle"]


def find_cycle(seq: list[Any], repeats: int) -> int:
    """Length of a cycle that the end of ``seq`` repeats at least ``repeats`` times (0 if none).

    ``[a, b, a, b, a, b]`` with repeats=3 -> 2. Cycles of length 1 (one item repeated) count too.
    """
    n = len(seq)
    for k in range(1, n // repeats + 1):
        tail = seq[n - k:]
        if all(seq[n - (r + 1) * k:n - r * k] == tail for r in range(1, repeats)):
            return k
    return 0


class Critic:
    def __init__(self, config: CriticConfig) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        self.subgoal: Any = None
        self.since = 0.0
        self.last_progress = 0.0
        self.best_dist: float | None = None
        self.positions: deque[tuple[int, int]] = deque(maxlen=max(1, self.config.loop_window))
        self.cycle: list[Any] = []
        self.last_inv: dict[str, int] | None = None
        self.verdicts: dict[str, int] = {}

    def start(self, subgoal: Any, place: Any, t: float) -> None:
        """A new subgoal begins (at ``place``): record it for cycle detection."""
        self.subgoal, self.since, self.last_progress, self.best_dist = subgoal, t, t, None
        entry = (str(subgoal), place)
        if not self.cycle or self.cycle[-1] != entry:
            self.cycle.append(entry)
            del self.cycle[:-60]

    def check(self, subgoal: Any, state: Any, done: bool, target_dist: float | None) -> str:
        """The verdict for this step (see the module docstring)."""
        if not self.config.enabled:
            return "off"
        t = state.t
        self.positions.append(state.pos)
        inv = state.inventory
        progressed = False
        if self.last_inv is not None and any(inv.get(k, 0) > v for k, v in self.last_inv.items()
                                             if k not in ("health", "food", "drink", "energy")):
            progressed = True
        self.last_inv = dict(inv)
        if target_dist is not None and (self.best_dist is None or target_dist < self.best_dist):
            self.best_dist = target_dist
            progressed = True
        if done:
            return self._say("done")
        if progressed or state.sleeping:
            self.last_progress = t
            self.positions.clear()
            return self._say("progress")
        if t - self.last_progress >= self.config.stall_steps:
            self.last_progress = t
            return self._say("stalled")
        w = self.config.loop_window
        if len(self.positions) >= w and len(set(self.positions)) <= self.config.loop_cells:
            self.positions.clear()
            return self._say("loop")
        if find_cycle(self.cycle, self.config.cycle_repeats) >= 2:
            self.cycle.clear()
            return self._say("loop")
        return "ok"

    def _say(self, verdict: str) -> str:
        self.verdicts[verdict] = self.verdicts.get(verdict, 0) + 1
        return verdict
