"""Agent factories named in ``configs/env/*.yaml`` (``agents:``), one set for every world on the loop.

``make_agent(cfg, env, seed)`` reads the env's declared description (``worlds.describe``) to find
the world's kit; ``cfg`` is the agent's plain config dict (``configs/agent/<name>.yaml``): unknown
keys raise ``ValueError`` listing the valid ones, before anything runs.
"""

from __future__ import annotations

from collections.abc import Mapping

from .base import Agent
from .baselines import RandomAgent
from .config import AgentConfig
from .loop import AgentLoop
from .protocols import EnvDescription
from .worlds import describe

__all__ = ["make_robomemory", "make_reactive", "make_random", "make_agent", "AGENTS"]


def _desc(env: object, desc: EnvDescription | None) -> EnvDescription:
    if desc is not None:
        return desc
    if env is None:
        raise ValueError("an agent needs the env (or its EnvDescription) to know which world it acts in")
    return describe(env)


def make_robomemory(cfg: Mapping[str, object] | None = None, env: object = None, seed: int | None = None, *,
                    desc: EnvDescription | None = None) -> Agent:
    """The memory-driven closed loop in the env's world."""
    return AgentLoop.for_world(AgentConfig.from_dict(_named(cfg, "robomemory")), _desc(env, desc), seed=seed)


def make_reactive(cfg: Mapping[str, object] | None = None, env: object = None, seed: int | None = None, *,
                  desc: EnvDescription | None = None) -> Agent:
    """The memoryless baseline: the same loop and skills, deciding from the current percept only.

    It follows the same rules of the game (the world's packaged prior is its built-in policy, not
    something it remembers), replans from scratch each step, keeps no memory and no critic.
    """
    config = AgentConfig.from_dict(_named(cfg, "reactive"))
    config.planner.replan_every = 1
    config.planner.consolidate_every = 0
    config.critic.enabled = False
    config.preprocessor.write_memory = False
    return AgentLoop.for_world(config, _desc(env, desc), seed=seed, memoryless=True)


def make_random(cfg: Mapping[str, object] | None = None, env: object = None, seed: int | None = None, *,
                desc: EnvDescription | None = None) -> Agent:
    """Uniformly random discrete actions (the env's ``action_space.n``, else the declared actions)."""
    AgentConfig.from_dict(_named(cfg, "random"))  # validate keys all the same
    space = getattr(env, "action_space", None)
    n = getattr(space, "n", None)
    if n is None:
        n = len(_desc(env, desc).actions)
    return RandomAgent(int(n), seed=seed)


AGENTS = {"robomemory": make_robomemory, "reactive": make_reactive, "random": make_random}


def make_agent(cfg: Mapping[str, object] | None = None, env: object = None, seed: int | None = None, *,
               desc: EnvDescription | None = None) -> Agent:
    """Dispatch on ``cfg["name"]`` (robomemory, reactive, random)."""
    name = (cfg or {}).get("name", "robomemory")
    try:
        factory = AGENTS[str(name)]
    except KeyError:
        raise ValueError(f"unknown agent {name!r}; valid: {sorted(AGENTS)}") from None
    return factory(cfg, env=env, seed=seed, desc=desc)


def _named(cfg: Mapping[str, object] | None, name: str) -> dict[str, object]:
    d = dict(cfg or {})
    d.setdefault("name", name)
    return d
