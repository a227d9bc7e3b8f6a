"""Baselines run through the same runner: a uniformly random agent and a memoryless reactive one."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Agent
from .config import AgentConfig
from .robomemory import RoboMemoryAgent

__all__ = ["RandomAgent", "ReactiveAgent"]


class RandomAgent(Agent):
    """Uniformly random actions (Crafter's random baseline)."""

    name = "random"
    uses_memory = False

    def __init__(self, n_actions: int, seed: int | None = None) -> None:
        if n_actions <= 0:
            raise ValueError(f"n_actions must be positive, got {n_actions}")
        self.n_actions = n_actions
        self.rng = np.random.default_rng(seed)

    def reset(self, memory: Any | None, *, seed: int | None = None) -> None:
        if seed is not None:
            self.rng = np.random.default_rng(seed)

    def act(self, obs: Any, info: dict[str, Any]) -> int:
        return int(self.rng.integers(self.n_actions))

    def record(self) -> dict[str, Any]:
        return {"by": "random"}


class ReactiveAgent(RoboMemoryAgent):
    """No memory: every step it decides from the current percept only (view, inventory, vitals).

    It follows the same rules of the game (the packaged tech tree is its built-in policy, not
    something it remembers), replans from scratch each step with nothing but what is in view,
    and explores by a random walk whose heading persists a few steps (its only state).
    """

    name = "reactive"
    uses_memory = False

    def __init__(self, config: AgentConfig, labels: tuple[str, ...], inventory_names: tuple[str, ...],
                 seed: int | None = None) -> None:
        config.planner.replan_every = 1
        config.planner.consolidate_every = 0
        config.critic.enabled = False
        config.preprocessor.write_memory = False
        super().__init__(config, labels, inventory_names, seed=seed)

    def reset(self, memory: Any | None, *, seed: int | None = None) -> None:
        super().reset(None, seed=seed)  # never keeps a memory, whatever it is given

    def act(self, obs: Any, info: dict[str, Any]) -> int:
        self.executor.path = None  # nothing carried over between steps but the wander heading
        self.planner.cooldown.clear()
        self.world.blacklist.clear()
        return super().act(obs, info)
