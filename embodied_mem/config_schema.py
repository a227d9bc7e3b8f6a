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
from .hydra_cli import UsageError
from .memory.config import MemoryConfig

__all__ = ["EnvConfig", "RunConfig", "register_configs", "check_overrides", "validate_run_config", "ConfigKeyError"]


class ConfigKeyError(UsageError):
    """An override names a key that does not exist; the message lists the valid keys."""


class ConfigValueError(UsageError):
    """An override gives a key a value it cannot take (``steps=-5``); the message names key and rule."""


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
    end_reasons: dict[str, str] = field(default_factory=dict)  # terminated/truncated -> words for the run summary


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

    def __post_init__(self) -> None:
        for name, low in (("episodes", 1), ("steps", 1), ("seed", 0), ("flush_every", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")


def validate_run_config(cfg: Any) -> None:
    """Check a composed run config's values (``steps`` >= 1, ``memory.spatial.place_radius`` > 0, ...).

    Raises ``ValueError`` naming the key; nothing has run yet when it does.
    """
    from omegaconf import OmegaConf

    from .memory.config import MemoryConfig

    d = OmegaConf.to_container(cfg, resolve=True) if not isinstance(cfg, dict) else cfg
    RunConfig(**{k: d[k] for k in ("episodes", "steps", "seed", "flush_every") if k in d})
    try:
        MemoryConfig.from_dict(d.get("memory"))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"memory.{exc}" if not str(exc).startswith(("memory", "unknown")) else str(exc)) from None


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


OPEN_SECTIONS = ("env.kwargs", "env.agents", "encoder")  # free-form sections (checked by their owners)
_OPEN = set(OPEN_SECTIONS) | {"env.end_reasons"}


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
        path: list[str] = []
        chain: list[tuple[type, str]] = []  # (dataclass, field) from the root down to the key
        for part in parts:
            if ".".join(path + [part]) in _OPEN or ".".join(path) in _OPEN:
                chain = []
                break
            if not dataclasses.is_dataclass(cls):
                chain = []
                break
            fields = {f.name: f for f in dataclasses.fields(cls)}
            if part not in fields:
                where = ".".join(path) or "the config"
                raise ConfigKeyError(f"unknown config key {key!r}: {part!r} is not a key of {where}; "
                                     f"valid keys: {', '.join(sorted(fields))}")
            path.append(part)
            chain.append((cls, part))
            f = fields[part]
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            cls = type(default) if dataclasses.is_dataclass(default) else None
        if chain and cls is None:
            _check_value(chain, ov)


def _check_value(chain: list[tuple[type, str]], override: str) -> None:
    """Build the dataclasses on the key's path with the override's value (each value of a sweep), so
    their own checks (``__post_init__``) refuse a bad value now, before Hydra starts anything."""
    try:
        from hydra.core.override_parser.overrides_parser import OverridesParser

        parsed = OverridesParser.create().parse_override(override)
        values = list(parsed.sweep_iterator()) if parsed.is_sweep_override() else [parsed.value()]
    except Exception:  # noqa: BLE001 - a malformed override: Hydra reports it with its own message
        return
    for value in values:
        try:
            obj = value
            for cls, name in reversed(chain):
                obj = cls(**{name: obj})
        except (ValueError, TypeError) as exc:
            raise ConfigValueError(f"{override}: {exc}") from None
