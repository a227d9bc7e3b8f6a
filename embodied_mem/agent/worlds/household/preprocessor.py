"""Household preprocessor: the sensors' observation -> ``State``; the step's ``Percept`` into memory.

The state keeps, for the running task only, which places' surfaces have been in view (``checked``:
the search's working memory, which the memoryless baseline has too). When the fetch target is in
view, the percept written to memory carries the event ``"found <object> at <place> in the <slot>"``
(what episodic recall of past searches finds), and every percept carries ``"checked <place>"`` for
each surface in view (temporal memory then knows when each place was last looked at). Reads only
``obs`` and ``info``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .world import HomeMap, checked_text, found_text

__all__ = ["State", "HouseholdPreprocessor"]


@dataclass
class State:
    t: float  # simulated seconds (memory's time line)
    step: int  # place visits in this task
    place: str  # where the robot stands
    position: tuple[float, float]
    task: str  # "fetch" or "chore"
    target: str  # the object to fetch, or the chore's place
    seen_at: dict[str, str] = field(default_factory=dict)  # objects in view -> the place they lie on
    checked: set[str] = field(default_factory=set)  # places whose surface was in view during this task
    new_checked: int = 0  # places checked for the first time this step
    in_view: set[str] = field(default_factory=set)  # places whose surface is in view now
    doors: dict[str, bool] = field(default_factory=dict)
    slot: str = ""


class HouseholdPreprocessor:
    def __init__(self, pre_config: Any, home: HomeMap, labels: tuple[str, ...]) -> None:
        self.pre_config, self.home, self.labels = pre_config, home, labels
        self.reset()

    def reset(self) -> None:
        self.step = 0
        self.checked: set[str] = set()
        self.found_logged = False

    def perceive(self, obs: Mapping[str, Any], info: Mapping[str, Any]) -> State:
        places = self.home.places
        place = places[int(np.asarray(obs["place"]).ravel()[0])]
        t = float(np.asarray(obs["clock"]).ravel()[0])
        surf = {places[i] for i in np.flatnonzero(np.asarray(obs["surfaces"]))}
        new = surf - self.checked
        self.checked |= surf
        seen = {str(k): str(v) for k, v in dict(info.get("seen_at") or {}).items()}
        task = "fetch" if int(np.asarray(obs["task"]).ravel()[0]) == 0 else "chore"
        if task == "fetch":
            k = int(np.asarray(obs["object"]).ravel()[0])
            if not 0 <= k < len(self.labels):
                raise ValueError(f"obs['object'] = {k} is not an index into the declared {len(self.labels)} labels")
            target = self.labels[k]
        else:
            target = places[int(np.asarray(obs["goal_place"]).ravel()[0])]
        state = State(t=t, step=self.step, place=place, position=self.home.xy[place], task=task, target=target,
                      seen_at=seen, checked=set(self.checked), new_checked=len(new), in_view=surf,
                      doors=dict(info.get("doors") or {}), slot=self.home.slot(t))
        self.step += 1
        return state

    def write(self, memory: Any, info: Mapping[str, Any], state: State) -> int | None:
        if memory is None or not self.pre_config.write_memory:
            return None
        p = info["percept"]
        extra = tuple(checked_text(place) for place in sorted(state.in_view))
        if state.task == "fetch" and state.target in state.seen_at and not self.found_logged:
            self.found_logged = True
            extra += (found_text(state.target, state.seen_at[state.target], state.slot),)
        return memory.observe(dataclasses.replace(p, events=tuple(p.events) + extra))

    def query(self, goal: str | None, subgoal: Any) -> str:
        target = getattr(subgoal, "target", None)
        return f"where is the {target}" if target else (goal or "objects")

    def place(self, state: State) -> Hashable:
        return state.place
