"""The robot ``WorldKit``: the roles of a ROS 2 robot on the shared ``AgentLoop`` (see the package
docstring). The robot transport describes the robot as ``EnvDescription(world="robot", labels=...)``
(labels: the detector's vocabulary when known, else empty: any label).

``world_model(memory)`` takes no config (the ``WorldKit`` protocol): ``KIT.configured(config)``
returns a kit whose world models read ``config.robot`` (the robot task runner builds its loop with
it); the registered ``KIT`` uses ``RobotConfig()`` defaults there."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ...protocols import EnvDescription, SkillParam, SkillSpec, Task

if TYPE_CHECKING:
    import numpy as np

    from ...config import AgentConfig

__all__ = ["RobotKit", "KIT", "task_for"]


def task_for(goal: str) -> Task:
    """The loop's ``Task`` for a robot task goal (``find mug``, ``goto mug``, ``patrol``)."""
    from .planner import parse_goal

    kind, label = parse_goal(goal)
    text = {"find": f"find the {label}: look where it was seen most recently, then explore until you see it, "
                    f"then go next to it",
            "goto": f"go next to the {label}, where it was last seen",
            "patrol": "visit the places checked longest ago, look around at each, and report what changed"}[kind]
    return Task((goal,), text)


class RobotKit:
    name = "robot"
    config_section = "robot"
    ablations = ("full", "no_critic", "no_spatial", "no_long_term")
    ablation_note = "the robot's planner reads spatial memory only (beliefs, places, occupancy frontiers)"

    def skills(self, desc: EnvDescription) -> tuple[SkillSpec, ...]:
        labels = tuple(desc.labels)
        return (
            SkillSpec("navigate", "drive to a pose: next to an object (target = its label), to a place (target = "
                      "place id) or to a frontier (target = 'frontier'); x, y in metres",
                      (SkillParam("target", description="label, place id or 'frontier'"),
                       SkillParam("x", "number", required=False), SkillParam("y", "number", required=False))),
            SkillSpec("look_around", "turn once in place to see everything around",
                      (SkillParam("target", choices=labels, required=False),)),
            SkillSpec("wait", "stand still", (SkillParam("seconds", "number", required=False),)),
            SkillSpec("report", "tell the user; outcome 'succeeded' or 'failed' ends the task",
                      (SkillParam("text"), SkillParam("outcome", choices=("succeeded", "failed", ""), required=False))),
            SkillSpec("explore", "drive to the nearest frontier (unexplored space)",
                      (SkillParam("target", required=False),)),
        )

    def task(self, goals: Sequence[str], desc: EnvDescription) -> Task:
        if goals:
            if len(goals) != 1:
                raise ValueError(f"a robot runs one task at a time; agent.planner.goals has {len(goals)}: {list(goals)}")
            return task_for(goals[0])
        return Task(("wait",), "wait for a task on /memory/task")

    def preprocessor(self, config: AgentConfig, desc: EnvDescription) -> Any:
        from .preprocessor import RobotPreprocessor

        return RobotPreprocessor(config.robot)

    def executor(self, config: AgentConfig, desc: EnvDescription, rng: np.random.Generator) -> Any:
        from .executor import RobotExecutor

        return RobotExecutor(config.robot, self.skills(desc))

    def symbolic_planner(self, config: AgentConfig, desc: EnvDescription) -> Any:
        from .planner import RobotPlanner

        return RobotPlanner(config.robot)

    def world_model(self, memory: Any | None) -> Any:
        from .config import RobotConfig
        from .world import RobotWorld

        return RobotWorld(memory, self._config or RobotConfig())

    _config: Any = None

    def configured(self, config: AgentConfig) -> RobotKit:
        """A kit whose world models read ``config.robot`` (``world_model`` takes no config)."""
        kit = RobotKit()
        kit._config = config.robot
        return kit


KIT = RobotKit()
