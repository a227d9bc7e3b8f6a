"""Typed configuration of the closed loop (also Hydra structured configs: ``agent/schema``).

Sections: ``preprocessor``, ``planner`` (``backend`` picks the planner: ``symbolic`` or a registered
one such as ``llm``), ``critic`` — read by the shared ``AgentLoop`` in every world — and one section
per world for its skills (``crafter``; other worlds add theirs). A world section set away from its
defaults while running another world is refused (``check_world_sections``), so no key is silently
ignored. Every section is a dataclass buildable from a plain dict (``AgentConfig.from_dict``); an
unknown key raises ``ValueError`` listing the valid keys. Units: steps (one env step each), cells.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass

from .llm.config import LLMConfig
from .worlds.crafter.config import CrafterConfig
from .worlds.household.config import HouseholdConfig
from .worlds.minecraft.config import MinecraftConfig
from .worlds.objectnav.config import ObjectNavConfig
from .worlds.robot.config import RobotConfig

__all__ = ["PreprocessorConfig", "PlannerConfig", "CriticConfig", "AgentConfig", "register_agent_schemas",
           "WORLD_SECTIONS", "PLANNER_SECTIONS", "check_world_sections", "check_planner_sections", "changed_keys",
           "CrafterConfig", "MinecraftConfig", "ObjectNavConfig", "RobotConfig",
           "HouseholdConfig"]


@dataclass
class PreprocessorConfig:
    write_memory: bool = True  # write each step's Percept into memory (the agent's only memory input)
    skip_unchanged: bool = True  # do not re-write a percept identical to the last one (standing still)


@dataclass
class PlannerConfig:
    # Backends with settings of their own add a section here (e.g. `llm: LLMConfig`) and name it
    # in PLANNER_SECTIONS: a backend's section set while another backend runs is refused.
    backend: str = "symbolic"  # a registered planner backend (embodied_mem.agent.planners): symbolic, llm
    use_prior: bool = True  # plan over the knowledge prior's facts when memory holds them
    use_learned: bool = True  # also plan over facts consolidated from experience ("do tree" yields "+1 wood")
    goals: list[str] = field(default_factory=list)  # the task's goals in order; empty: the world's default task
    consolidate_every: int = 500  # steps between mem.consolidate() calls (learning facts from events); 0: never
    retrieve_on_replan: bool = True  # ask mem.retrieve(goal query) before planning, every `retrieve_every` plans
    retrieve_every: int = 20  # plans between retrievals (1: every plan; the symbolic planner reads memory directly)
    replan_every: int = 50  # steps: replan even without a verdict (new knowledge may shorten the plan)
    llm: LLMConfig = field(default_factory=LLMConfig)  # the `llm` backend's endpoint and limits (agent/llm/config.py)


@dataclass
class CriticConfig:
    enabled: bool = True
    stall_steps: int = 60  # steps without progress on a subgoal -> "stalled" (target put aside, replan)
    loop_window: int = 40  # steps of positions inspected for oscillation
    loop_cells: int = 4  # at most this many distinct cells in the window without progress -> "loop"
    cycle_repeats: int = 3  # the same (subgoal, place) cycle repeated this often -> "loop"
    explore_steps: int = 25  # forced exploration after a loop verdict
    blacklist_steps: int = 400  # how long a stalled target stays put aside


@dataclass
class AgentConfig:
    name: str = "robomemory"
    preprocessor: PreprocessorConfig = field(default_factory=PreprocessorConfig)
    planner: PlannerConfig = field(default_factory=PlannerConfig)
    critic: CriticConfig = field(default_factory=CriticConfig)
    crafter: CrafterConfig = field(default_factory=CrafterConfig)  # Crafter's skills (agent/worlds/crafter)
    minecraft: MinecraftConfig = field(default_factory=MinecraftConfig)  # Minecraft's skills (agent/worlds/minecraft)
    objectnav: ObjectNavConfig = field(default_factory=ObjectNavConfig)  # object search (agent/worlds/objectnav)
    robot: RobotConfig = field(default_factory=RobotConfig)  # ROS 2 robot skills (agent/worlds/robot; seconds, metres)
    household: HouseholdConfig = field(default_factory=HouseholdConfig)  # changing household (agent/worlds/household)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @staticmethod
    def from_dict(d: object) -> AgentConfig:
        """Build from a mapping (or OmegaConf node); unknown keys raise ``ValueError`` listing valid ones."""
        if d is None:
            return AgentConfig()
        if isinstance(d, AgentConfig):
            return d
        if hasattr(d, "_metadata"):
            from omegaconf import OmegaConf

            d = OmegaConf.to_container(d, resolve=True)  # type: ignore[arg-type]
        return _build(AgentConfig, d, "agent")


# world name -> its own section of AgentConfig (world packages own these dataclasses)
WORLD_SECTIONS: dict[str, str] = {"crafter": "crafter", "minecraft": "minecraft", "objectnav": "objectnav",
                                  "robot": "robot",
                                  "household": "household"}


def check_world_sections(cfg: AgentConfig, world: str) -> None:
    """Refuse a world section (``agent.<section>``) set away from its defaults in another world."""
    for other, section in WORLD_SECTIONS.items():
        if other == world or not hasattr(cfg, section):
            continue
        value = getattr(cfg, section)
        if value != type(value)():
            raise ValueError(f"agent.{section} configures the {other!r} world's skills, but this run is in world "
                             f"{world!r}: remove the agent.{section} settings (they would be ignored)")


# planner backend -> its own section of PlannerConfig
PLANNER_SECTIONS: dict[str, str] = {"llm": "llm"}


def check_planner_sections(cfg: AgentConfig) -> None:
    """Refuse a backend's section (``agent.planner.<section>``) set away from its defaults while
    ``agent.planner.backend`` names another backend."""
    for backend, section in PLANNER_SECTIONS.items():
        if backend == cfg.planner.backend or not hasattr(cfg.planner, section):
            continue
        value = getattr(cfg.planner, section)
        if value != type(value)():
            raise ValueError(f"agent.planner.{section} configures the {backend!r} planner backend, but "
                             f"agent.planner.backend={cfg.planner.backend!r}: set the backend or remove the settings")


def changed_keys(value: object, default: object, prefix: str) -> list[str]:
    """Dotted keys (``agent.critic.enabled``) where dataclass ``value`` differs from ``default``."""
    if is_dataclass(value) and is_dataclass(default) and type(value) is type(default):
        out: list[str] = []
        for f in fields(value):
            out += changed_keys(getattr(value, f.name), getattr(default, f.name), f"{prefix}.{f.name}")
        return out
    return [] if value == default else [prefix]


def _build(cls: type, d: object, path: str) -> object:
    if is_dataclass(d):
        return d
    if not isinstance(d, Mapping):
        raise TypeError(f"{path} must be a mapping, got {type(d).__name__}")
    valid = {f.name: f for f in fields(cls)}
    unknown = set(d) - set(valid)
    if unknown:
        raise ValueError(f"unknown key(s) {sorted(unknown)} in {path}; valid keys: {sorted(valid)}")
    kwargs = {}
    for name, value in d.items():
        f = valid[name]
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        if is_dataclass(default):
            kwargs[name] = _build(type(default), value, f"{path}.{name}")
        else:
            kwargs[name] = value
    return cls(**kwargs)


def register_agent_schemas(cs: object) -> None:
    """Register ``agent/schema`` in Hydra's ConfigStore (``configs/agent/*.yaml`` extend it)."""
    cs.store(group="agent", name="schema", node=AgentConfig)  # type: ignore[attr-defined]
