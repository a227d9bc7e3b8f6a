"""Typed configuration of the closed-loop agent's four parts (also Hydra structured configs).

Every section is a dataclass usable from a plain dict (``AgentConfig.from_dict``); an unknown key
raises ``ValueError`` listing the valid keys. Units: steps (one environment step each) and cells.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from typing import Any

__all__ = ["PreprocessorConfig", "PlannerConfig", "CriticConfig", "ExecutorConfig", "AgentConfig",
           "register_agent_schemas", "DEFAULT_GOALS"]

# Crafter's achievements in the order the planner pursues them (cheap and enabling ones first).
DEFAULT_GOALS: tuple[str, ...] = (
    "collect_wood", "place_table", "make_wood_pickaxe", "make_wood_sword", "collect_sapling", "place_plant",
    "collect_drink", "wake_up", "eat_cow", "collect_stone", "place_stone", "make_stone_pickaxe", "make_stone_sword",
    "place_furnace", "collect_coal", "collect_iron", "make_iron_pickaxe", "make_iron_sword", "collect_diamond",
    "defeat_zombie", "eat_plant", "defeat_skeleton",
)


@dataclass
class PreprocessorConfig:
    write_memory: bool = True  # write each step's Percept into memory (the agent's only memory input)
    skip_unchanged: bool = True  # do not re-write a percept identical to the last one (standing still)


@dataclass
class PlannerConfig:
    use_prior: bool = True  # plan over the knowledge prior's facts when memory holds them
    use_learned: bool = True  # also plan over facts consolidated from experience ("do tree" yields "+1 wood")
    goals: list[str] = field(default_factory=lambda: list(DEFAULT_GOALS))
    consolidate_every: int = 500  # steps between mem.consolidate() calls (learning facts from events)
    retrieve_on_replan: bool = True  # ask mem.retrieve(goal query) when a new plan is made
    station_radius: int = 12  # a known table/furnace farther than this (path cells) is replaced by a new one
    fight_health: int = 7  # pursue defeat_zombie / defeat_skeleton only with at least this health
    replan_every: int = 50  # steps: replan even without a verdict (new knowledge may shorten the plan)


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
class ExecutorConfig:
    drink_below: int = 6  # survival reflexes: vitals (0-9) below which the need preempts the plan
    food_below: int = 6
    energy_below: int = 3
    fight_radius: int = 1  # attack zombies/skeletons this close (Manhattan cells) whatever the plan
    flee_health: int = 0  # at or below this health, step away from zombies (0: never; fleeing rarely outruns them)
    heal_below: int = 4  # health at or below which it hides in a sealed shelter to recover...
    heal_until: int = 8  # ...until health is back to this
    shelter_below_daylight: float = 0.4  # dusk: dig a sealed shelter (needs a pickaxe) and sleep there
    shelter_until_daylight: float = 0.75  # leave it when the morning is this bright
    top_up_daylight: float = 0.9  # once the light starts to fall below this, fill up drink and food for the night
    farm_size: int = 4  # plant saplings in passing while fewer plants than this are in view
    dig: bool = True  # with a pickaxe, dig through stone toward a target no known path reaches
    explore_persistence: int = 12  # steps to keep an exploration target before choosing again


@dataclass
class AgentConfig:
    name: str = "robomemory"
    preprocessor: PreprocessorConfig = field(default_factory=PreprocessorConfig)
    planner: PlannerConfig = field(default_factory=PlannerConfig)
    critic: CriticConfig = field(default_factory=CriticConfig)
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(d: Any) -> AgentConfig:
        """Build from a mapping (or OmegaConf node); unknown keys raise ``ValueError`` listing valid ones."""
        if d is None:
            return AgentConfig()
        if isinstance(d, AgentConfig):
            return d
        if hasattr(d, "_metadata"):
            from omegaconf import OmegaConf

            d = OmegaConf.to_container(d, resolve=True)
        return _build(AgentConfig, d, "agent")


def _build(cls: type, d: Any, path: str) -> Any:
    if is_dataclass(d):
        return d
    if not isinstance(d, dict):
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


def register_agent_schemas(cs: Any) -> None:
    """Register ``agent/schema`` in Hydra's ConfigStore (``configs/agent/*.yaml`` extend it)."""
    cs.store(group="agent", name="schema", node=AgentConfig)
