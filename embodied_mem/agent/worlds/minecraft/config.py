"""``agent.minecraft``: the Minecraft world's skill settings (units: blocks, env steps, milliseconds)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MinecraftConfig", "EXPLORE_MODES"]

EXPLORE_MODES = ("spiral", "frontier", "heading")


@dataclass
class MinecraftConfig:
    stride: float = 8.0  # the farthest a single move_to goes, blocks
    approach_range: float = 2.0  # move_to ends within this distance of a block to dig
    dig_reach: float = 4.0  # dig a block whose centre is within this distance of the eyes (Mineflayer: 5.1)
    eye_height: float = 1.62  # eyes above the feet, blocks
    fail_limit: int = 2  # failed moves/digs on one target before the skill gives it up (the loop puts it aside)
    # spiral: an outward square spiral around the start (no map needed) | frontier: the nearest frontier
    # of spatial memory's map (random headings when spatial memory is off) | heading: random headings
    explore: str = "spiral"
    explore_min_distance: float = 4.0  # frontiers closer than this are not worth a step
    turn_cost: float = 4.0  # frontier choice: blocks of detour one U-turn is worth (half for 90 degrees)
    explore_persistence: int = 6  # steps to keep an exploration target before choosing again
    frontier_aside_steps: int = 60  # a frontier the bot could not reach is skipped this long
    sweep_spacing: float = 10.0  # spiral: blocks between parallel passes (the sight radius, 8, plus a margin)
    sweep_misses: int = 8  # spiral: consecutive unreachable or blocked waypoints before it starts over
    move_timeout_ms: int = 6000  # a move_to that takes longer is stopped (and counts as failed)

    def __post_init__(self) -> None:
        if self.explore not in EXPLORE_MODES:
            raise ValueError(f"agent.minecraft.explore must be one of {list(EXPLORE_MODES)}, got {self.explore!r}")
        for name in ("stride", "approach_range", "dig_reach", "sweep_spacing"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"agent.minecraft.{name} must be > 0 blocks, got {getattr(self, name)!r}")
        for name in ("fail_limit", "sweep_misses", "explore_persistence"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"agent.minecraft.{name} must be >= 1, got {getattr(self, name)!r}")
