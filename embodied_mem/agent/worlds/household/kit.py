"""The household ``WorldKit``: builds the roles for the shared ``AgentLoop`` from the env's declared
description (see the package docstring), never from the env module."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ...protocols import EnvDescription, SkillSpec, Task

if TYPE_CHECKING:
    import numpy as np

    from ...config import AgentConfig

__all__ = ["HouseholdKit", "KIT"]


class HouseholdKit:
    name = "household"
    config_section = "household"
    # every ablation changes a decision here (benchmarks/household.py measures each one)
    ablations = ("full", "no_critic", "no_spatial", "no_temporal", "no_episodic", "no_semantic", "no_long_term")
    ablation_note = "no knowledge prior is used in the household (no_prior would change nothing)"

    def home(self, desc: EnvDescription) -> Any:
        from .world import HomeMap

        if desc.world != "household":
            raise ValueError(f"the household kit needs an env declaring world 'household', got {desc.world!r}")
        if not desc.labels:
            raise ValueError("the env declares no object labels (metadata 'labels')")
        return HomeMap.from_declared(desc.extra)

    def skills(self, desc: EnvDescription) -> tuple[SkillSpec, ...]:
        from .executor import skills

        return skills(tuple(desc.labels), self.home(desc).places)

    def task(self, goals: Sequence[str], desc: EnvDescription) -> Task:
        if goals:
            raise ValueError("agent.planner.goals is not used in the household: each task comes with its episode "
                             "(obs['task'], obs['object'], obs['goal_place']); remove agent.planner.goals")
        return Task(("do the episode's task",), "bring the object asked for, or do the chore at the place asked for")

    def preprocessor(self, config: AgentConfig, desc: EnvDescription) -> Any:
        from .preprocessor import HouseholdPreprocessor

        return HouseholdPreprocessor(config.preprocessor, self.home(desc), tuple(desc.labels))

    def executor(self, config: AgentConfig, desc: EnvDescription, rng: np.random.Generator) -> Any:
        from .executor import HouseholdExecutor

        return HouseholdExecutor(self.home(desc), tuple(desc.labels), rng)

    def symbolic_planner(self, config: AgentConfig, desc: EnvDescription) -> Any:
        from .planner import HouseholdPlanner

        return HouseholdPlanner(self.home(desc), tuple(desc.labels), config.household)

    def world_model(self, memory: Any | None) -> Any:
        """The world model; the planner binds it to this env's home map in ``reset`` (the loop resets
        the planner with the new world model before every episode)."""
        from .world import HouseholdWorld

        return HouseholdWorld(memory, None, None)


KIT = HouseholdKit()
