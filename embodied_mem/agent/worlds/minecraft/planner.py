"""The Minecraft task planner (symbolic): the task's goals in order -> ``collect <kind>`` until the
env reports ``count`` items of it, then the next kind; ``wait`` when all are done.

The order is the task's (``order_kept`` is scored), so a goal is never put aside: when the critic
gives up, only the skill's target is put aside (in the world model) and the same goal is replanned.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...protocols import Subgoal, Task

__all__ = ["MinecraftPlanner", "goal_kind"]


def goal_kind(goal: str) -> str:
    """``"collect oak_log"`` or ``"oak_log"`` -> ``"oak_log"``."""
    return goal.split(" ", 1)[1] if goal.startswith("collect ") else goal


class MinecraftPlanner:
    def __init__(self, drops: Mapping[str, str]) -> None:
        self.drops = dict(drops)
        self.goal: str | None = None

    def reset(self, memory: Any, world: Any) -> None:
        self.goal = None

    def refresh(self, memory: Any, world: Any) -> None:
        pass  # plans read only the task report and the world model

    def forget(self) -> None:
        pass  # nothing carried between steps

    def put_aside(self, goal: str | None, until: float) -> None:
        pass  # the order is the task's: goals are never skipped (see the module docstring)

    def plan(self, task: Task, recall: Any, state: Any, world: Any) -> list[Subgoal]:
        progress = state.task.get("progress", {})
        count = int(state.task.get("count", 1))
        for goal in task.goals:
            kind = goal_kind(goal)
            if int(progress.get(kind, 0)) < count:
                self.goal = goal
                return [Subgoal("collect", kind, self.drops.get(kind, kind), count, goal=goal)]
        self.goal = None
        return [Subgoal("wait")]
