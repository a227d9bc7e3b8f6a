"""``agent.household``: settings of the household agent (units: seconds, metres)."""

from __future__ import annotations

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
