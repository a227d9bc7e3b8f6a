"""The object-search ``WorldKit`` (indoor3d, habitat): builds the roles for the shared
``AgentLoop`` from the env's declared description (see the package docstring), never from the env
module. A missing or different declaration raises ``ValueError`` naming it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ...protocols import EnvDescription, SkillParam, SkillSpec, Task

if TYPE_CHECKING:
    import numpy as np

    from ...config import AgentConfig

__all__ = ["ObjectNavKit", "KIT", "ACTIONS"]

ACTIONS = ("stop", "move_forward", "turn_left", "turn_right")


class ObjectNavKit:
    name = "objectnav"
    config_section = "objectnav"
    # ablations (configs/ablation) that change what this agent does; the runner refuses the others
    ablations = ("full", "no_critic", "no_spatial", "no_long_term")
    ablation_note = ("no decision of the object-search agent reads episodic, temporal or semantic memory or a knowledge prior (it reads spatial memory: remembered goal objects)")

    def skills(self, desc: EnvDescription) -> tuple[SkillSpec, ...]:
        cats = tuple(desc.labels)
        return (
            SkillSpec("search", "find an object of a category (remembered, seen, or by exploring) and stop next to it",
                      (SkillParam("target", choices=cats, description="goal category"),)),
            SkillSpec("explore", "look around and walk to unexplored floor",
                      (SkillParam("target", choices=cats, required=False),)),
        )

    def task(self, goals: Sequence[str], desc: EnvDescription) -> Task:
        if goals:
            raise ValueError("agent.planner.goals is not used in object search: the goal category comes with each "
                             "episode (obs['objectgoal']); remove agent.planner.goals")
        return Task(("find the episode's goal category",),
                    "find an object of the category given by obs['objectgoal'] and stop within reach of it")

    def preprocessor(self, config: AgentConfig, desc: EnvDescription) -> Any:
        from .preprocessor import Camera, ObjectNavPreprocessor

        self._check(desc)
        return ObjectNavPreprocessor(config.preprocessor, config.objectnav, Camera.from_declared(desc.extra.get("camera")),
                                     tuple(desc.labels), self._number(desc, "agent_radius"))

    def executor(self, config: AgentConfig, desc: EnvDescription, rng: np.random.Generator) -> Any:
        from .executor import ObjectNavExecutor

        self._check(desc)
        return ObjectNavExecutor(config.objectnav, tuple(desc.actions), self.skills(desc), self._number(desc, "turn"),
                                 self._number(desc, "agent_radius"), rng)

    def symbolic_planner(self, config: AgentConfig, desc: EnvDescription) -> Any:
        from .planner import ObjectNavPlanner

        return ObjectNavPlanner()

    def world_model(self, memory: Any | None) -> Any:
        from .world import ObjectNavWorld

        return ObjectNavWorld(memory)

    @staticmethod
    def _number(desc: EnvDescription, name: str) -> float:
        v = desc.extra.get(name)
        if not isinstance(v, (int, float)) or not v > 0:
            raise ValueError(f"the env declares no positive {name!r} (metadata 'embodied_mem'), got {v!r}")
        return float(v)

    @staticmethod
    def _check(desc: EnvDescription) -> None:
        if tuple(desc.actions) != ACTIONS:
            raise ValueError(f"the env declares actions {list(desc.actions)}; object search acts with {list(ACTIONS)}")
        if not desc.labels:
            raise ValueError("the env declares no goal categories (metadata 'labels')")


KIT = ObjectNavKit()
