"""Agent factories for Crafter, named in ``configs/env/crafter.yaml`` (``make_agent(cfg, env, seed)``).

``cfg`` is the agent's plain config dict (``configs/agent/<name>.yaml``); unknown keys raise
``ValueError`` listing the valid ones.
"""

from __future__ import annotations

from typing import Any

from .base import Agent
from .baselines import RandomAgent, ReactiveAgent
from .config import AgentConfig
from .robomemory import RoboMemoryAgent

__all__ = ["make_robomemory", "make_reactive", "make_random", "make_agent"]


def _labels() -> tuple[tuple[str, ...], tuple[str, ...]]:
    from embodied_mem.envs.crafter import INVENTORY, LABELS

    return LABELS, INVENTORY


def make_robomemory(cfg: dict[str, Any] | None = None, env: Any = None, seed: int | None = None) -> Agent:
    labels, inv = _labels()
    return RoboMemoryAgent(AgentConfig.from_dict(_named(cfg, "robomemory")), labels, inv, seed=seed)


def make_reactive(cfg: dict[str, Any] | None = None, env: Any = None, seed: int | None = None) -> Agent:
    labels, inv = _labels()
    return ReactiveAgent(AgentConfig.from_dict(_named(cfg, "reactive")), labels, inv, seed=seed)


def make_random(cfg: dict[str, Any] | None = None, env: Any = None, seed: int | None = None) -> Agent:
    AgentConfig.from_dict(_named(cfg, "random"))  # validate keys all the same
    n = int(env.action_space.n) if env is not None else 17
    return RandomAgent(n, seed=seed)


def make_agent(cfg: dict[str, Any] | None = None, env: Any = None, seed: int | None = None) -> Agent:
    """Dispatch on ``cfg["name"]`` (robomemory, reactive, random)."""
    name = (cfg or {}).get("name", "robomemory")
    try:
        factory = {"robomemory": make_robomemory, "reactive": make_reactive, "random": make_random}[name]
    except KeyError:
        raise ValueError(f"unknown Crafter agent {name!r}; valid: robomemory, reactive, random") from None
    return factory(cfg, env=env, seed=seed)


def _named(cfg: dict[str, Any] | None, name: str) -> dict[str, Any]:
    d = dict(cfg or {})
    d.setdefault("name", name)
    return d
