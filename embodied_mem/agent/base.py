"""The contract between the episode runner and any agent (closed-loop memory agent or baseline)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from .protocols import Action

__all__ = ["Agent"]


class Agent(ABC):
    """An agent acting in one environment.

    The runner calls ``reset`` at each episode start (with the run's ``Memory``, or None for agents
    that keep none), then ``act`` once per step with the adapter's observation and ``info`` (whose
    ``info["percept"]`` is the sensor-only ``Percept``); ``act`` returns an ``Action`` (an action id,
    or a command mapping such as Minecraft's ``{"op": "move_to", ...}``). Agents that use memory write percepts into
    it themselves (the preprocessor does). ``record()`` describes the last decision for
    ``episodes.jsonl`` (compact: e.g. ``{"subgoal": "collect_wood", "verdict": "ok"}``).
    """

    name: str = "agent"
    uses_memory: bool = False
    # dotted agent-config keys (or sections) this agent acts on; the runner refuses a run that sets
    # any other agent key away from its default (an ablation must act or be refused, never ignored)
    reads_config: frozenset[str] = frozenset()

    @abstractmethod
    def reset(self, memory: Any | None, *, seed: int | None = None) -> None: ...

    @abstractmethod
    def act(self, obs: Any, info: dict[str, Any]) -> Action:
        """The action for this step: an action id, or a structured command (Minecraft)."""

    def record(self) -> dict[str, Any]:
        return {}

    def artefacts(self, run_dir: Any, memory: Any | None = None) -> list[Any]:
        """Files the agent itself draws into ``run_dir`` at the end of a run (e.g. its own 3D map);
        the runner calls it after the env's plot hook, which sees only memory's public API.
        Returns the paths written (default: none)."""
        return []
