"""``SingleGoalPlanner``: the shared lifecycle of planners whose task has one goal (object search,
a robot task).

Such a planner carries nothing between steps and rebuilds nothing when memory consolidates (it
reads memory and the world model afresh each plan), and its one goal is never put aside: when the
critic gives up, the loop puts the skill's target aside in the world model and the planner plans
again. A subclass implements ``plan`` and sets ``goal`` (the goal the last plan pursues).
"""

from __future__ import annotations

from typing import Any

__all__ = ["SingleGoalPlanner"]


class SingleGoalPlanner:
    """The ``Planner`` protocol's lifecycle for one-goal tasks; ``plan`` is the subclass's."""

    goal: str | None = None

    def reset(self, memory: Any, world: Any) -> None:
        self.goal = None

    def refresh(self, memory: Any, world: Any) -> None:
        pass  # nothing built from memory to rebuild

    def forget(self) -> None:
        pass  # nothing carried between steps

    def put_aside(self, goal: str | None, until: float) -> None:
        pass  # the task's only goal: the critic's targets are put aside in the world model
