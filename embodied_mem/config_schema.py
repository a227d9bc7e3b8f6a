"""Structured configs (dataclasses) registered in Hydra's ConfigStore: they validate every group.

An unknown key or a value of the wrong type fails before anything runs. ``check_overrides``
additionally turns an unknown key in a command-line override into an error that lists the valid
keys at that level (Hydra's own message names only the bad key).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .agent.config import AgentConfig
from .memory.config import MemoryConfig

__all__ = ["EnvConfig", "RunConfig", "register_configs", "check_overrides", "ConfigKeyError"]


class ConfigKeyError(ValueError):
    """An override names a key that does not exist; the message lists the valid keys."""


@dataclass
class EnvConfig:
    id: str = "crafter"  # id in embodied_mem.envs.registry
    kwargs: dict[str, Any] = field(default_factory=dict)  # passed to envs.make()
    agents: dict[str, str] = field(default_factory=dict)  # agent name -> "module:factory"
    episode_metrics: str | None = None  # "module:fn(final_info) -> dict"
    summarize: str | None = None  # "module:fn(episodes) -> dict"
    plot: str | None = None  # "module:fn(run_dir, memory, episodes, summary) -> [paths]"
    knowledge: str | None = None  # prior knowledge file for semantic memory (memory.semantic.prior)
    world_per_episode: bool = True  # each episode is a new world: a fresh spatial map per episode
    carry_facts: bool = True  # learned semantic facts carry over to the next episode's memory


@dataclass
class RunConfig:
    env: EnvConfig = field(default_factory=EnvConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)  # the closed loop's roles (embodied_mem/agent/config.py)
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    encoder: Any = field(default_factory=dict)
    episodes: int = 1
    steps: int = 10_000  # per episode (Crafter's standard episode length)
    seed: int = 0
    ablation_name: str = "full"
    flush_every: int = 500  # steps between memory flushes (durability="batch")
    progress: bool = True
    log_steps: bool = True  # write episodes.jsonl
    plots: bool = True


_REGISTERED = False


def register_configs() -> None:
    """Register the schemas once: ``run_schema``, ``memory/schema``, ``env/schema``."""
    global _REGISTERED
    if _REGISTERED:
        return
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name="run_schema", node=RunConfig)
    cs.store(group="memory", name="schema", node=MemoryConfig)
    cs.store(group="env", name="schema", node=EnvConfig)
    from .agent.config import register_agent_schemas

    register_agent_schemas(cs)
    _REGISTERED = True


_OPEN = {"env.kwargs", "env.agents", "encoder"}  # free-form sections (checked by their owners)


def check_overrides(overrides: list[str], schema: type = RunConfig) -> None:
    """Raise ``ConfigKeyError`` listing the valid keys when an override's key is not in ``schema``."""
    for ov in overrides:
        if ov.startswith("+") and not ov.startswith("++") and "." in ov.split("=", 1)[0]:
            ov = ov[1:]  # `+section.key=v` adds a key: in a typed section that is a misspelling too
        if "=" not in ov or ov.startswith(("hydra.", "hydra/", "+", "~")):
            continue
        key = ov.split("=", 1)[0].strip()
        if "/" in key or key in ("env", "agent", "memory", "ablation", "experiment", "encoder"):
            continue  # a group choice, checked by Hydra (it lists the available options)
        parts = key.split(".")
        cls: Any = schema
        path = []
        for part in parts:
            if ".".join(path + [part]) in _OPEN or ".".join(path) in _OPEN:
                break
            if not dataclasses.is_dataclass(cls):
                break
            fields = {f.name: f for f in dataclasses.fields(cls)}
            if part not in fields:
                where = ".".join(path) or "the run config"
                raise ConfigKeyError(f"unknown config key {key!r}: {part!r} is not a key of {where}; "
                                     f"valid keys: {', '.join(sorted(fields))}")
            path.append(part)
            f = fields[part]
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            cls = type(default) if dataclasses.is_dataclass(default) else None
