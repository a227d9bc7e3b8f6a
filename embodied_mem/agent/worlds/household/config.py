"""``agent.household``: settings of the household agent (units: seconds, metres)."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["HouseholdConfig"]


@dataclass
class HouseholdConfig:
    routine_min_support: int = 1  # days an object must have been seen on one place in a slot to state a routine
    routine_min_fraction: float = 0.6  # share of those days that must agree
    routine_window_days: int = 4  # routines are learned from the last this many days (old habits fade)
    routine_decay: float = 0.6  # weight of a day in routine learning, per day further back (newer habits count more)
    blind_weight: float = 0.6  # trust in any belief when its age is unknown (temporal off)
    recall_k: int = 6  # episodic chunks recalled per search
    episodic_weight: float = 0.3  # weight of a recalled successful search (times 0.5 + utility)
    distance_cost: float = 0.03  # score lost per metre of detour (metres of the home map, straight line)
    checked_factor: float = 0.1  # routine/recall mass kept for a place looked at since the last slot change
    settle_s: float = 900.0  # routine moves mostly happen within this long after a slot boundary
    unknown_weight: float = 0.05  # belief mass of any place (where no module says anything)
    away_cover: float = 0.75  # share of the home's places looked at without the object that says "taken away"

    def __post_init__(self) -> None:
        """Refuse a bad setting with a ValueError naming it (``agent.household.away_cover must be a
        number in (0, 1], got 2.0``); nothing is built from a refused config."""
        def need(name: str, ok: bool, what: str, integer: bool = False) -> None:
            v = getattr(self, name)
            kind = int if integer else (int, float)
            if isinstance(v, bool) or not isinstance(v, kind) or not math.isfinite(v) or not ok:
                raise ValueError(f"agent.household.{name} must be {what}, got {v!r}")

        for name in ("routine_min_support", "routine_window_days", "recall_k"):
            need(name, isinstance(getattr(self, name), int) and getattr(self, name) >= 1, "an int >= 1", integer=True)
        for name in ("routine_min_fraction", "routine_decay", "blind_weight", "checked_factor", "unknown_weight"):
            v = getattr(self, name)
            need(name, isinstance(v, (int, float)) and 0 <= v <= 1, "a number in [0, 1]")
        need("away_cover", isinstance(self.away_cover, (int, float)) and 0 < self.away_cover <= 1, "a number in (0, 1]")
        for name in ("episodic_weight", "distance_cost", "settle_s"):
            v = getattr(self, name)
            need(name, isinstance(v, (int, float)) and v >= 0, "a finite number >= 0")
