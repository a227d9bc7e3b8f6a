"""The Minecraft ``WorldKit``: builds the resource task's roles for the shared ``AgentLoop`` from
the env's declared description, never from the env module.

The env declares (``env.metadata["embodied_mem"]``): ``world: "minecraft"``, ``labels`` (block
names it reports), ``inventory`` (item names), ``actions`` (its discrete low-level controls, in id
order; ``noop`` is the idle action), ``primitives`` (the high-level ``{"op": ...}`` commands it
accepts: this agent needs ``move_to`` and ``dig``), ``drops`` (block -> item a hand dig yields),
``frame`` (Minecraft -> memory axes and offset, see ``frames.py``) and ``task`` (``order``,
``count``). A missing or different declaration raises ``ValueError`` naming it.

Actions the agent returns are the env's: high-level commands (mappings) for move/dig, and the
declared ``noop`` id for waiting; both are in the env's action space (``MineflayerEnv.action_space``
accepts a low-level id or a primitive command).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ...protocols import EnvDescription, SkillParam, SkillSpec, Task

if TYPE_CHECKING:
    import numpy as np

    from ...config import AgentConfig

__all__ = ["MinecraftKit", "KIT"]

NEEDED_PRIMITIVES = ("move_to", "dig")


class MinecraftKit:
    name = "minecraft"
    config_section = "minecraft"
    # ablations (configs/ablation) that change what this agent does; the runner refuses the others
    ablations = ("full", "no_critic", "no_spatial", "no_long_term")
    ablation_note = ("no decision of the Minecraft agent reads episodic, temporal or semantic memory or a knowledge prior (it reads spatial memory: remembered blocks, occupancy, paths)")

    def skills(self, desc: EnvDescription) -> tuple[SkillSpec, ...]:
        kinds = tuple(self._drops(desc))
        return (
            SkillSpec("collect", "walk to the nearest known block of a kind and dig it until the task count is held",
                      (SkillParam("target", choices=kinds, description="block kind to dig"),
                       SkillParam("item", choices=tuple(desc.inventory), required=False),
                       SkillParam("level", "integer", "items to hold", required=False))),
            SkillSpec("explore", "walk to unexplored places (where the target may be)",
                      (SkillParam("target", choices=kinds, required=False),)),
            SkillSpec("wait", "do nothing this step"),
        )

    def task(self, goals: Sequence[str], desc: EnvDescription) -> Task:
        from .planner import goal_kind

        drops = self._drops(desc)
        if goals:
            bad = [g for g in goals if goal_kind(g) not in drops]
            if bad:
                raise ValueError(f"agent.planner.goals {bad} are not Minecraft resource kinds; known: {sorted(drops)}")
            order = [goal_kind(g) for g in goals]
        else:
            task = desc.extra.get("task")
            if not isinstance(task, Mapping) or not task.get("order"):
                raise ValueError("the env declares no Minecraft task (metadata 'task': {'order': [...], 'count': n}) "
                                 "and agent.planner.goals is empty")
            order = [str(k) for k in task["order"]]  # type: ignore[union-attr]
        goals_t = tuple(f"collect {k}" for k in order)
        return Task(goals_t, "collect, in this order: " + ", ".join(order))

    def preprocessor(self, config: AgentConfig, desc: EnvDescription) -> Any:
        from .preprocessor import MinecraftPreprocessor

        self._check(desc)
        return MinecraftPreprocessor(config.preprocessor)

    def executor(self, config: AgentConfig, desc: EnvDescription, rng: np.random.Generator) -> Any:
        from .executor import MinecraftExecutor
        from .frames import Frame

        self._check(desc)
        return MinecraftExecutor(config.minecraft, Frame.from_declared(desc.extra.get("frame")), self.skills(desc),
                                 desc.actions.index("noop"), rng)

    def symbolic_planner(self, config: AgentConfig, desc: EnvDescription) -> Any:
        from .planner import MinecraftPlanner

        return MinecraftPlanner(self._drops(desc))

    def world_model(self, memory: Any | None) -> Any:
        from .world import MemoryWorld, ViewWorld

        spatial = getattr(memory, "spatial", None)
        return MemoryWorld(memory) if spatial is not None and getattr(spatial, "enabled", False) else ViewWorld()

    @staticmethod
    def _drops(desc: EnvDescription) -> dict[str, str]:
        drops = desc.extra.get("drops")
        if not isinstance(drops, Mapping) or not drops:
            raise ValueError("the env declares no drop table (metadata 'drops': {block: item}); the Minecraft agent "
                             "needs it to know what digging yields")
        return {str(k): str(v) for k, v in drops.items()}

    @classmethod
    def _check(cls, desc: EnvDescription) -> None:
        prims = tuple(desc.extra.get("primitives", ()))  # type: ignore[arg-type]
        missing = [p for p in NEEDED_PRIMITIVES if p not in prims]
        if missing:
            raise ValueError(f"the env declares primitives {list(prims)}; the Minecraft agent needs {missing}")
        if "noop" not in desc.actions:
            raise ValueError(f"the env's declared actions {list(desc.actions)} have no 'noop' (the idle action)")
        cls._drops(desc)


KIT = MinecraftKit()

