"""Household planner (symbolic): a fetch task -> ``search <object>``; a chore -> ``goto <place>``.

Before each task (``reset``/``refresh``) it consolidates routines from memory into semantic facts
(``world.learn_routines``): the agent's "sleep" between tasks.
"""

from __future__ import annotations

import math
from typing import Any

from ...protocols import Subgoal, Task
from .world import learn_routines

__all__ = ["HouseholdPlanner"]


class HouseholdPlanner:
    def __init__(self, home: Any, labels: tuple[str, ...], config: Any) -> None:
        self.home, self.labels, self.config = home, labels, config
        self.goal: str | None = None
        self.learned_upto = -math.inf
        self.operations: list[Any] = []  # semantic ADD/UPDATE/DELETE this planner caused

    def reset(self, memory: Any, world: Any) -> None:
        self.goal = None
        world.home, world.config = self.home, self.config
        self.refresh(memory, world)

    def refresh(self, memory: Any, world: Any) -> None:
        if memory is None:
            return
        now = getattr(memory, "now", -math.inf)
        if not math.isfinite(now):
            return
        ops = learn_routines(memory, self.home, self.labels, now, self.config, since=self.learned_upto)
        self.operations += ops
        self.learned_upto = max(self.learned_upto, now)

    def forget(self) -> None:
        pass

    def put_aside(self, goal: str | None, until: float) -> None:
        pass  # one goal per task: the critic puts places aside instead

    def plan(self, task: Task, recall: Any, state: Any, world: Any) -> list[Subgoal]:
        if state.task == "fetch":
            self.goal = f"bring the {state.target}"
            return [Subgoal("search", state.target, goal=self.goal)]
        self.goal = f"chore at {state.target}"
        return [Subgoal("goto", state.target, goal=self.goal)]
