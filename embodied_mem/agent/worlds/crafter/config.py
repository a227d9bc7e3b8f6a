"""``agent.crafter``: the Crafter world's skills and planner knobs (units: steps, cells, vitals 0-9)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CrafterConfig"]


@dataclass
class CrafterConfig:
    station_radius: int = 12  # planner: a known table/furnace farther than this (path cells) is replaced by a new one
    fight_health: int = 7  # planner: pursue defeat_zombie / defeat_skeleton only with at least this health
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
