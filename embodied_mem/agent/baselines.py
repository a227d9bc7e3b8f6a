"""The random baseline (any discrete-action world). The memoryless ``reactive`` baseline is the
shared loop with ``memoryless=True`` (``factory.make_reactive``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Agent

__all__ = ["RandomAgent"]


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
