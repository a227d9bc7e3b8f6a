"""Object-search planner (symbolic): the episode's goal category -> ``search <category>``.

The goal comes each episode from the sensors (``objectgoal``); there is one goal, so a goal is
never put aside: when the critic gives up, the target it gave up on (a goal position, a frontier)
is put aside in the world model and the search goes on.
"""

from __future__ import annotations

from typing import Any

from ...protocols import Subgoal, Task
from ...single_goal import SingleGoalPlanner

__all__ = ["ObjectNavPlanner"]


class ObjectNavPlanner(SingleGoalPlanner):
    """The episode's only goal is never put aside (see the module docstring)."""

    def __init__(self) -> None:
        self.goal: str | None = None

    def plan(self, task: Task, recall: Any, state: Any, world: Any) -> list[Subgoal]:
        self.goal = f"find {state.goal}"
        return [Subgoal("search", state.goal, goal=self.goal)]
