"""Typed configuration of the memory modules (also registered as Hydra structured configs).

Units are map units (metres for robots, cells for grid worlds) and percept time units.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from typing import Any


def _check(section: str, name: str, value: Any, ok: bool, need: str) -> None:
    """Refuse a bad setting with a ValueError naming it (``spatial.place_radius must be > 0, got 0``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not ok:
        raise ValueError(f"{section}.{name} must be {need}, got {value!r}")


def _positive(section: str, obj: Any, *names: str) -> None:
    for n in names:
        v = getattr(obj, n)
        _check(section, n, v, isinstance(v, (int, float)) and v > 0, "a finite number > 0")


def _non_negative(section: str, obj: Any, *names: str) -> None:
    for n in names:
        v = getattr(obj, n)
        _check(section, n, v, isinstance(v, (int, float)) and v >= 0, "a finite number >= 0")


@dataclass
class SpatialConfig:
    enabled: bool = True
    match_tolerance: float = 0.5  # a sighting within this distance of a belief is the same object
    place_radius: float = 3.0  # a new place is made when the agent is farther than this from all places
    cell_size: float = 1.0  # occupancy cell edge; cell centres lie on multiples of it
    index_cell: float = 4.0  # bucket size of the spatial hash over beliefs
    connectivity: int = 4  # 4 or 8: moves allowed by path()
    walk_max_step: float | None = None  # longest pose-to-pose step path() takes as walked (None: 4 * place_radius)

    def __post_init__(self) -> None:
        _non_negative("spatial", self, "match_tolerance")
        if self.walk_max_step is not None:
            _non_negative("spatial", self, "walk_max_step")
        _positive("spatial", self, "place_radius", "cell_size", "index_cell")
        if self.connectivity not in (4, 8):
            raise ValueError(f"spatial.connectivity must be 4 or 8, got {self.connectivity!r}")


@dataclass
class TemporalConfig:
    enabled: bool = True


EPISODIC_ENCODERS = ("hashing", "place_transformer")  # chunk-key encoders (embodied_mem/encoders)
# recall over chunk keys: exact, or an approximate index for dense keys (ivf: numpy; hnsw: faiss-cpu, the [ann] extra)
EPISODIC_INDEXES = ("exact", "ivf", "hnsw")


@dataclass
class EpisodicConfig:
    enabled: bool = True
    max_chunk_size: int = 32  # percepts per chunk at most (a chunk also ends on a place change)
    encoder: str = "hashing"  # "hashing" (deterministic) or "place_transformer" (encoders/)
    encoder_checkpoint: str | None = None
    key_dim: int = 256
    retention_weight: float = 0.1  # weight of R = exp(-dt / S) in the recall score
    utility_weight: float = 0.1  # weight of the learned utility in the recall score
    initial_strength: float = 1000.0  # S of a new chunk, in percept time units
    strength_increment: float = 1000.0  # S grows by this on each recall
    utility_rate: float = 0.2  # learning rate of reinforce(): U += rate * (reward - U)
    items_per_chunk: int = 3
    index: str = "exact"  # "exact", "ivf" or "hnsw": approximate index for dense (learned) keys (memory/ann.py)
    index_nprobe: int = 8  # lists the ivf index reads per dense query (more: slower, closer to exact)
    index_ef_search: int = 32  # hnsw: candidate list per dense query (more: slower, closer to exact)

    def __post_init__(self) -> None:
        if self.index not in EPISODIC_INDEXES:
            raise ValueError(f"episodic.index must be one of {', '.join(EPISODIC_INDEXES)}, got {self.index!r}")
        _check("episodic", "index_nprobe", self.index_nprobe,
               isinstance(self.index_nprobe, int) and self.index_nprobe >= 1, "an integer >= 1")
        _check("episodic", "index_ef_search", self.index_ef_search,
               isinstance(self.index_ef_search, int) and self.index_ef_search >= 1, "an integer >= 1")
        if self.encoder not in EPISODIC_ENCODERS:
            raise ValueError(f"episodic.encoder must be one of {', '.join(EPISODIC_ENCODERS)}, got {self.encoder!r}")
        _positive("episodic", self, "max_chunk_size", "key_dim", "initial_strength", "items_per_chunk")
        _non_negative("episodic", self, "retention_weight", "utility_weight", "strength_increment")
        _check("episodic", "utility_rate", self.utility_rate, 0 <= self.utility_rate <= 1, "in [0, 1]")


@dataclass
class SemanticConfig:
    enabled: bool = True
    prior: str | None = None  # path or packaged name of a YAML knowledge file ("crafter")
    min_support: int = 3  # observations needed before consolidate() states a fact
    min_fraction: float = 0.6  # share of observations that must agree
    functional_relations: list[str] = field(default_factory=lambda: ["located_in"])

    def __post_init__(self) -> None:
        _positive("semantic", self, "min_support")
        _check("semantic", "min_fraction", self.min_fraction, 0 <= self.min_fraction <= 1, "in [0, 1]")


@dataclass
class LongTermConfig:
    enabled: bool = True
    working_memory_size: int = 64  # percepts kept when long-term memory is off

    def __post_init__(self) -> None:
        _positive("long_term", self, "working_memory_size")


@dataclass
class MemoryConfig:
    spatial: SpatialConfig = field(default_factory=SpatialConfig)
    temporal: TemporalConfig = field(default_factory=TemporalConfig)
    episodic: EpisodicConfig = field(default_factory=EpisodicConfig)
    semantic: SemanticConfig = field(default_factory=SemanticConfig)
    long_term: LongTermConfig = field(default_factory=LongTermConfig)
    # Storage only (the answers do not depend on these):
    path: str | None = None  # a memory file that commands open and continue (created when missing)
    snapshot_every: int = 100_000  # journal entries between automatic snapshots (0: only at close/checkpoint)
    # RAM budget (MiB) of the paged working sets: the temporal index and the trajectory keep their
    # newest part in RAM, the rest in indexed SQLite tables read back by queries (memory/longterm.py).
    # None: everything in RAM. Answers are identical either way.
    ram_budget_mb: float | None = None
    # A fleet memory server instead of a file (embodied_mem.fleet): postgresql://user@host/db, written as robot
    # `robot` (default: host-pid) of `fleet`. Never stored in the memory (to_dict leaves them out): put the password
    # in ~/.pgpass or PGPASSWORD rather than in the URL, since run directories keep their resolved config.
    url: str | None = None
    robot: str | None = None
    fleet: str | None = None

    def __post_init__(self) -> None:
        _check("memory", "snapshot_every", self.snapshot_every,
               isinstance(self.snapshot_every, int) and self.snapshot_every >= 0, "an integer >= 0")
        if self.ram_budget_mb is not None:
            _check("memory", "ram_budget_mb", self.ram_budget_mb,
                   isinstance(self.ram_budget_mb, (int, float)) and self.ram_budget_mb >= 1, "a number of MiB >= 1 or null")
        if self.path is not None and (not isinstance(self.path, str) or not self.path.strip()):
            raise ValueError(f"memory.path must be a non-empty file path or null, got {self.path!r}")
        if self.url is not None and (not isinstance(self.url, str)
                                     or self.url.split("://", 1)[0].lower() not in ("postgresql", "postgres")):
            raise ValueError(f"memory.url must be a postgresql:// URL or null, got {self.url!r}")
        if self.url is not None and self.path is not None:
            raise ValueError("memory.path and memory.url name two memories: give one of them")
        for key in ("robot", "fleet"):
            v = getattr(self, key)
            if v is not None and (not isinstance(v, str) or not v.strip()):
                raise ValueError(f"memory.{key} must be a non-empty name or null, got {v!r}")

    def to_dict(self) -> dict[str, Any]:
        """Every setting but the fleet connection (``url``, ``robot``, ``fleet``: where, not what)."""
        d = asdict(self)
        for key in ("url", "robot", "fleet"):
            d.pop(key)
        return d

    @staticmethod
    def from_dict(d: Any) -> MemoryConfig:
        """Build from a mapping (or OmegaConf node); unknown keys raise ``ValueError`` listing valid ones."""
        if d is None:
            return MemoryConfig()
        if isinstance(d, MemoryConfig):
            return d
        if hasattr(d, "_metadata"):  # OmegaConf DictConfig
            from omegaconf import OmegaConf

            d = OmegaConf.to_container(d, resolve=True)
        return _build(MemoryConfig, d, "memory")


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
        default = f.default_factory() if f.default_factory is not MISSING else None
        if is_dataclass(default):
            kwargs[name] = _build(type(default), value, f"{path}.{name}")
        else:
            kwargs[name] = value
    return cls(**kwargs)
