"""The memory-driven Minecraft task: resource worlds, task progress, episode metrics, summary, plots.

**Task.** Collect ``count`` items of each resource kind, in the given ``order`` (default
oak_log, then pumpkin, then sand, two each), in a walled arena where deposits of each kind lie
scattered behind obstacles. An agent with spatial memory explores, remembers where it saw each
kind, and returns to remembered deposits; without spatial memory it only knows what it sees now.

**World** (``resource_world``): a superflat world (the surface to stand on is y = 5), a square
arena of ``size`` x ``size`` blocks centred on the spawn at (0, 5, 0), walled with 3-high stone,
``obstacles`` random 3-high stone walls inside, and ``deposits_per_kind`` deposits of ``deposit_size``
blocks of each kind on the ground. The layout is a pure function of the seed.

All positions here are Minecraft block coordinates (x east, y up, z south).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ResourceWorld", "resource_world", "DROPS", "TaskSpec", "episode_metrics", "summarize", "plot"]

# What digging a block by hand yields (Minecraft 1.16+ loot tables): block name -> item name.
DROPS: dict[str, str] = {
    "oak_log": "oak_log", "birch_log": "birch_log", "pumpkin": "pumpkin", "sand": "sand", "hay_block": "hay_block",
    "melon": "melon_slice", "clay": "clay_ball", "gravel": "gravel", "white_wool": "white_wool", "sponge": "sponge",
}
GROUND_Y = 5  # superflat: bedrock y=0, dirt 1-3, grass y=4; one stands at y=5
WALL_HEIGHT = 3  # walls the bot cannot climb, even from a 1-block step


@dataclass(frozen=True)
class TaskSpec:
    """Collect ``count`` of each kind in ``order`` (block names; the item is ``DROPS[kind]``)."""

    order: tuple[str, ...] = ("oak_log", "pumpkin", "sand")
    count: int = 2

    def __post_init__(self) -> None:
        if isinstance(self.order, str) or not self.order:
            raise ValueError(f"task order must be a non-empty sequence of block names, got {self.order!r}")
        object.__setattr__(self, "order", tuple(self.order))
        for k in self.order:
            if k not in DROPS:
                raise ValueError(f"task order: unknown resource kind {k!r}; known: {sorted(DROPS)}")
        if not isinstance(self.count, int) or self.count < 1:
            raise ValueError(f"task count must be a positive int, got {self.count!r}")

    def item(self, kind: str) -> str:
        return DROPS[kind]

    def progress(self, inventory: Mapping[str, int]) -> dict[str, int]:
        """kind -> items held (capped at ``count``)."""
        return {k: min(self.count, int(inventory.get(DROPS[k], 0))) for k in self.order}

    def done(self, inventory: Mapping[str, int]) -> bool:
        return all(v >= self.count for v in self.progress(inventory).values())

    def current(self, inventory: Mapping[str, int]) -> str | None:
        """The first kind in the order still short of ``count``, or None when the task is done."""
        for k, v in self.progress(inventory).items():
            if v < self.count:
                return k
        return None


@dataclass
class ResourceWorld:
    """A generated world: blocks to place (x, y, z, name), the spawn point, and the deposits."""

    seed: int
    size: int
    spawn: tuple[int, int, int]
    blocks: list[tuple[int, int, int, str]] = field(default_factory=list)
    deposits: dict[str, list[list[tuple[int, int, int]]]] = field(default_factory=dict)

    def resource_count(self, kind: str) -> int:
        return sum(len(d) for d in self.deposits.get(kind, ()))


def resource_world(seed: int, *, size: int = 48, kinds: Sequence[str] = ("oak_log", "pumpkin", "sand"),
                   deposits_per_kind: int = 2, deposit_size: int = 3, obstacles: int = 8,
                   min_spawn_distance: float = 10.0) -> ResourceWorld:
    """Generate the task arena for ``seed`` (deterministic). Raises ``ValueError`` on bad sizes."""
    if not isinstance(size, int) or size < 16 or size > 256:
        raise ValueError(f"size must be an int in [16, 256], got {size!r}")
    if deposits_per_kind < 1 or deposit_size < 1:
        raise ValueError(f"deposits_per_kind and deposit_size must be >= 1, got {deposits_per_kind}, {deposit_size}")
    for k in kinds:
        if k not in DROPS:
            raise ValueError(f"unknown resource kind {k!r}; known: {sorted(DROPS)}")
    rng = random.Random(seed)
    half = size // 2
    y = GROUND_Y
    occupied: set[tuple[int, int]] = set()
    blocks: list[tuple[int, int, int, str]] = []
    for i in range(-half, half + 1):
        for x, z in ((i, -half), (i, half), (-half, i), (half, i)):
            if (x, z) not in occupied:
                occupied.add((x, z))
                blocks += [(x, y + h, z, "stone") for h in range(WALL_HEIGHT)]
    keep_clear = {(x, z) for x in range(-2, 3) for z in range(-2, 3)}  # around the spawn
    for _ in range(obstacles):
        length = rng.randint(4, max(5, size // 4))
        horizontal = rng.random() < 0.5
        x0 = rng.randint(-half + 3, half - 3 - (length if horizontal else 0))
        z0 = rng.randint(-half + 3, half - 3 - (0 if horizontal else length))
        cells = [(x0 + i, z0) if horizontal else (x0, z0 + i) for i in range(length)]
        if any(c in keep_clear for c in cells):
            continue
        for x, z in cells:
            if (x, z) not in occupied:
                occupied.add((x, z))
                blocks += [(x, y + h, z, "stone") for h in range(WALL_HEIGHT)]
    deposits: dict[str, list[list[tuple[int, int, int]]]] = {}
    for kind in kinds:
        for _ in range(deposits_per_kind):
            for _attempt in range(200):
                cx = rng.randint(-half + 3, half - 3)
                cz = rng.randint(-half + 3, half - 3)
                if (cx * cx + cz * cz) ** 0.5 < min_spawn_distance:
                    continue
                cells = [(cx, cz)]
                while len(cells) < deposit_size:
                    bx, bz = rng.choice(cells)
                    dx, dz = rng.choice(((1, 0), (-1, 0), (0, 1), (0, -1)))
                    if (bx + dx, bz + dz) not in cells:
                        cells.append((bx + dx, bz + dz))
                ring = {(x + dx, z + dz) for x, z in cells for dx in (-1, 0, 1) for dz in (-1, 0, 1)}
                if ring & occupied:
                    continue  # keep a walkable ring around each deposit
                occupied.update(cells)
                deposits.setdefault(kind, []).append([(x, y, z) for x, z in cells])
                blocks += [(x, y, z, kind) for x, z in cells]
                break
            else:
                raise ValueError(f"could not place a {kind} deposit in a {size}x{size} arena (seed {seed})")
    return ResourceWorld(seed=seed, size=size, spawn=(0, y, 0), blocks=blocks, deposits=deposits)


# ---------------------------------------------------------------------------- runner hooks
def episode_metrics(info: Mapping[str, Any]) -> dict[str, Any]:
    """The runner's per-episode metrics from the last step's ``info``: success, steps, distance..."""
    task = info.get("task") or {}
    return {
        "success": bool(task.get("done", False)),
        "steps": int(info.get("steps", 0)),
        "distance": float(info.get("distance", 0.0)),
        "collected": dict(task.get("progress", {})),
        "order_kept": bool(task.get("order_kept", False)),
    }


def summarize(episodes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Run summary: success rate, mean steps and distance (all episodes), mean steps of successful ones."""
    n = len(episodes)
    if n == 0:
        return {"success_rate": 0.0, "episodes_count": 0}
    ok = [e for e in episodes if e.get("success")]

    def mean(xs: Sequence[float]) -> float | None:
        return sum(xs) / len(xs) if xs else None

    return {
        "success_rate": len(ok) / n,
        "mean_steps": mean([e.get("steps", e.get("length", 0)) for e in episodes]),
        "mean_distance": mean([e.get("distance", 0.0) for e in episodes]),
        "mean_steps_success": mean([e.get("steps", 0) for e in ok]),
    }


def plot(run_dir: str | Path, memory: Any, episodes: Sequence[Mapping[str, Any]], summary: Mapping[str, Any]) -> list[Path]:
    """``map.png``: spatial memory (occupancy, places, trajectory, remembered resources), memory frame
    (x east, y south: drawn with y growing downwards like a Minecraft map)."""
    if memory is None or not getattr(memory.spatial, "enabled", False):
        return []
    from embodied_mem.plots import plot_memory_map

    labels = [k for k in DROPS if memory.spatial.history(k)]
    ok = sum(1 for e in episodes if e.get("success"))
    title = f"Minecraft resource task: {ok}/{len(episodes)} solved"
    n = len(episodes)
    note = f"episode {n} of {n} (the last; each episode is a new world)" if n > 1 else None
    return [plot_memory_map(memory, Path(run_dir) / "map.png", title=title, labels=labels, invert_y=True,
                            units="blocks", frame="memory frame: x east, y south", note=note)]
