"""The Crafter ``WorldKit``: builds Crafter's roles for the shared ``AgentLoop`` from the env's
declared description (``labels``, ``inventory``, ``actions``) — never from the env module.

Skills (``Subgoal.kind``): collect, hunt, place, make, near, sleep, shelter, wait, explore,
experiment. Needs (drink, eat, rest, night, heal) and reflexes preempt the plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ...protocols import EnvDescription, SkillParam, SkillSpec, Task

if TYPE_CHECKING:
    import numpy as np

    from ...config import AgentConfig

__all__ = ["CrafterKit", "KIT"]


def _skills(desc: EnvDescription) -> tuple[SkillSpec, ...]:
    labels = tuple(lab for lab in desc.labels if lab not in ("unknown", "player", "arrow"))
    items = tuple(i for i in desc.inventory)
    tools = tuple(i for i in items if i.endswith(("_pickaxe", "_sword")))
    target = SkillParam("target", choices=labels, description="what to act on (a label of the view)")
    return (
        SkillSpec("collect", "walk to the nearest known target and interact until the item count is reached",
                  (target, SkillParam("item", choices=items, required=False),
                   SkillParam("level", "integer", "inventory count to reach (0-9)", required=False))),
        SkillSpec("hunt", "chase and hit a creature (cow: food; zombie, skeleton: defeat)",
                  (SkillParam("target", choices=("cow", "zombie", "skeleton", "ripe_plant")),)),
        SkillSpec("place", "place a thing in front (stone, table, furnace, plant)",
                  (SkillParam("target", choices=("stone", "table", "furnace", "plant")),)),
        SkillSpec("make", "craft a tool at a table (and furnace)", (SkillParam("target", choices=tools),)),
        SkillSpec("near", "walk next to a station", (SkillParam("target", choices=("table", "furnace")),)),
        SkillSpec("sleep", "sleep now (energy)"),
        SkillSpec("shelter", "dig a sealed shelter in rock and wait inside"),
        SkillSpec("wait", "stay near a growing plant", (SkillParam("target", choices=("plant",)),)),
        SkillSpec("explore", "go to unexplored places (where the target may be)",
                  (SkillParam("target", choices=labels, required=False),)),
        SkillSpec("experiment", "try an untried interaction to learn what it yields",
                  (SkillParam("target", required=False),)),
    )


class CrafterKit:
    """Crafter's roles. Raises ``ValueError`` when the env's declared actions or labels do not match
    what this package was written for (another Crafter version would be misread silently)."""

    name = "crafter"
    config_section = "crafter"

    def skills(self, desc: EnvDescription) -> tuple[SkillSpec, ...]:
        return _skills(desc)

    def task(self, goals: Sequence[str], desc: EnvDescription) -> Task:
        from .planner import DEFAULT_GOALS

        goals = tuple(goals) or DEFAULT_GOALS
        return Task(goals, "unlock Crafter achievements: " + ", ".join(goals))

    def preprocessor(self, config: AgentConfig, desc: EnvDescription) -> object:
        from .preprocessor import CrafterPreprocessor

        self._check(desc)
        return CrafterPreprocessor(config.preprocessor, desc.labels, desc.inventory)

    def executor(self, config: AgentConfig, desc: EnvDescription, rng: np.random.Generator) -> object:
        from .executor import CrafterExecutor

        self._check(desc)
        return CrafterExecutor(config.crafter, rng, self.skills(desc))

    def symbolic_planner(self, config: AgentConfig, desc: EnvDescription) -> object:
        from .planner import CrafterPlanner

        return CrafterPlanner(config.planner, config.crafter)

    def world_model(self, memory: object | None) -> object:
        from .world import MemoryWorld, ViewWorld

        spatial = getattr(memory, "spatial", None)
        return MemoryWorld(memory) if spatial is not None and getattr(spatial, "enabled", False) else ViewWorld()

    @staticmethod
    def _check(desc: EnvDescription) -> None:
        from .executor import ACTIONS

        if desc.actions and tuple(desc.actions) != ACTIONS:
            raise ValueError(f"the env declares Crafter actions {list(desc.actions)}, but the Crafter agent acts "
                             f"with {list(ACTIONS)}")
        for need in ("grass", "tree", "water", "stone", "table", "cow", "zombie"):
            if need not in desc.labels:
                raise ValueError(f"the env's declared labels lack {need!r}: not the Crafter vocabulary this agent reads")
        for need in ("health", "food", "drink", "energy", "wood"):
            if need not in desc.inventory:
                raise ValueError(f"the env's declared inventory lacks {need!r}")


KIT = CrafterKit()
