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
    # the food plan (food.py): when hungry and no cow is known, walk to the pasture memory rates best
    food_plan: bool = False  # True: the food plan (off by default: it did not measure better, see README)
    pasture_size: int = 12  # cells per side of a pasture (a square of world cells)
    cow_stays: float = 0.9  # chance a cow seen there since the last visit is still there
    respawn_steps: float = 1000.0  # steps for an emptied pasture to refill to 1 - 1/e
    visit_margin: float = 8.0  # a visit this many steps after the last cow sighting found the pasture empty
    min_expect: float = 0.5  # pastures expected to hold a cow with less chance than this are not worth the trip
    food_utility_weight: float = 2.0  # how much a pasture where hunting paid off (episodic utility) counts
    distance_scale: float = 20.0  # cells: the score halves at this distance
    food_recall: int = 20  # chunks about cows recalled to rate the pastures
    pasture_retry: int = 150  # steps a pasture that failed a trip is put aside
    fact_support: int = 5  # cows' ground counted before "cow found_on <ground>" is asserted
