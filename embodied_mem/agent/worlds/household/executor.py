"""Household skills: ``search`` an object (go where it is seen, else to the best-ranked place not
yet checked in this task; ``pick`` when it lies on the robot's place), ``goto`` a place (chores,
then ``pick``), ``explore`` (nearest place not checked in this task).

Progress for the critic: ``t`` is the simulated clock (seconds: ``agent.critic.stall_steps`` counts
seconds here: the default 60 gives up after three blocked trips of 20 s), ``new_cells`` the places whose surface
came into view for the first time in this task. A robot that cannot get where it
wants (a closed door; nothing tells it so) makes no progress, and only the critic stops it
retrying: it puts that place aside.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np

from ...protocols import Preemption, Progress, SkillParam, SkillSpec, Subgoal

__all__ = ["HouseholdExecutor", "skills"]


def skills(labels: tuple[str, ...], places: tuple[str, ...]) -> tuple[SkillSpec, ...]:
    return (SkillSpec("search", "find an object and pick it up where it lies",
                      (SkillParam("target", choices=labels, description="the object"),)),
            SkillSpec("goto", "go to a place (a chore there)", (SkillParam("target", choices=places),)),
            SkillSpec("explore", "look at places not checked yet"))


class HouseholdExecutor:
    need_goals: frozenset[str] = frozenset()

    def __init__(self, home: Any, labels: tuple[str, ...], rng: np.random.Generator) -> None:
        self.home = home
        self.skills = skills(labels, home.places)
        self.index = {p: i for i, p in enumerate(home.places)}
        self.rng = rng
        self._target: tuple[str, str] | None = None
        self._here = 0

    @property
    def idle(self) -> int:
        return 1 + self._here  # look around again where it stands (never ends the task)

    def reset(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self._target = None

    def preempt(self, state: Any, world: Any) -> Preemption | None:
        self._here = self.index[state.place]
        return None

    def begin(self, subgoal: Subgoal) -> None:
        self._target = None

    def _go(self, label: str, place: str) -> int:
        self._target = (label, place)
        return 0 if place == "__pick__" else 1 + self.index[place]

    def act(self, subgoal: Subgoal, state: Any, world: Any) -> int | None:
        if subgoal.kind == "goto":
            if state.place == subgoal.target:
                return 0
            if world.is_aside("place", subgoal.target):
                return None
            return self._go("place", subgoal.target)
        if subgoal.kind == "search":
            label = subgoal.target
            where = state.seen_at.get(label)
            if where == state.place:
                self._target = None
                return 0
            if where is not None and not world.is_aside(label, where):
                return self._go(label, where)
            order = world.rank(label, state.t, state.place, state.checked)
            return self._go(label, order[0]) if order else None
        return self.explore(state, world, subgoal.target)

    def done(self, subgoal: Subgoal, state: Any, start: Any) -> bool:
        return False  # a task ends with pick (the env ends the episode)

    def explore(self, state: Any, world: Any, hint: str | None) -> int | None:
        todo = [p for p in self.home.places if p not in state.checked and not world.is_aside("explore", p)]
        if not todo:
            todo = [p for p in self.home.places if p != state.place]
            p = todo[int(self.rng.integers(len(todo)))]
        else:
            p = min(todo, key=lambda q: self.home.distance(state.place, q))
        self._target = ("explore", p)
        return 1 + self.index[p]

    def progress(self, subgoal: Subgoal | None, state: Any, start: Any | None) -> Progress:
        return Progress(t=float(state.t), position=tuple(state.position), new_cells=int(state.new_checked))

    def target(self) -> tuple[str, Hashable] | None:
        return self._target

    def stop(self, subgoal: Subgoal | None, reason: str) -> None:
        self._target = None

    def forget(self) -> None:
        self._target = None
