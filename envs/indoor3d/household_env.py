"""``HouseholdEnv``: a robot living in a changing ``Household`` across many tasks (one episode each).

Time is simulated seconds since day 0, 00:00 (``obs["clock"]``); between tasks the robot waits at
its last place while the residents go on (the event log of ``Household``). Each ``reset()`` starts
the next task of a seeded schedule (one every ``task_gap_min`` = 25-70 minutes, 07:00-22:00):

- **fetch** ("bring the mug", ``obs["task"] == 0``, ``obs["object"]``): find the object and call
  ``pick`` while standing at the place it lies on. Success iff it lies there at that moment (log
  truth). SPL = success x shortest / max(shortest, travelled); shortest = geodesic from the start
  to the object's place with the doors as at the task's start. The target is drawn among objects
  that are at home, reachable, and not in view from where the robot stands.
- **chore** ("tidy the desk", ``obs["task"] == 1``, ``obs["goal_place"]``): go to that place and
  ``pick`` (the robot observes on the way: this is how it learns the home). Chores are at a fixed,
  seeded half of the places, so other rooms are seen mostly while searching.

``world_file`` replays a saved ``Household`` (its seed, days and objects then come from the file;
the task schedule from its seed).

**Actions** ``Discrete(1 + P)``: 0 ``pick`` (ends the task), ``1 + k`` go to place ``k`` (drive
along the shortest path and look around there: ``travelled / speed + look_time`` seconds). A
closed door on every path: the robot does not get there (it stays; 20 s lost), nothing says why.

**Observations** (sensors only): ``task``, ``object``, ``goal_place``, ``place`` (where the robot
stands: it is localized on its home map), ``clock`` (seconds), ``seen`` (objects seen now) and
``surfaces`` (places whose surface is in view now), from ``Household.sense``. ``info["percept"]``
is the same as a ``Percept`` (sightings with positions, the room as a view minus the surfaces not
in view, door observations as events ``"<door> open|closed"``). The env declares its home map (places with
stand points and rooms, door names) in ``metadata["embodied_mem"]`` (``world: "household"``).
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from embodied_mem.percept import Percept, Pose, Sighting, View

from .household import DAY, SLOTS, Household, slot_of

__all__ = ["HouseholdEnv"]


class HouseholdEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, seed: int = 0, *, days: int = 5, n_objects: int = 9, world_file: str | None = None,
                 fetch_share: float = 0.45, max_steps: int = 15, speed: float = 0.5, look_time: float = 6.0,
                 start_hour: float = 7.0, task_gap_min: tuple[float, float] = (25.0, 70.0)) -> None:
        if not 0 < fetch_share <= 1:
            raise ValueError(f"fetch_share must be in (0, 1], got {fetch_share!r}")
        if not isinstance(max_steps, int) or max_steps <= 0:
            raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")
        for name, v in (("speed", speed), ("look_time", look_time)):
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number, got {v!r}")
        self.house = Household.load(world_file) if world_file else Household(seed, days=days, n_objects=n_objects)
        h = self.house
        self.max_steps, self.speed, self.look_time = max_steps, float(speed), float(look_time)
        self.object_names = list(h.objects)
        self.place_names = [p.name for p in h.places]
        n_places, n_obj = len(h.places), len(self.object_names)
        self.observation_space = spaces.Dict({
            "task": spaces.Discrete(2), "object": spaces.Discrete(n_obj), "goal_place": spaces.Discrete(n_places),
            "place": spaces.Discrete(n_places), "clock": spaces.Box(0.0, 1e7, (1,), np.float64),
            "seen": spaces.MultiBinary(n_obj), "surfaces": spaces.MultiBinary(n_places)})
        self.action_space = spaces.Discrete(1 + n_places)
        rooms = {r.name: [r.xmin, r.ymin, r.xmax, r.ymax] for r in h.apartment.rooms}
        self.metadata = {**type(self).metadata, "embodied_mem": {
            "world": "household", "labels": list(self.object_names),
            "actions": ["pick"] + [f"goto:{n}" for n in self.place_names],
            "places": [{"name": p.name, "room": p.room, "x": p.stand[0], "y": p.stand[1]} for p in h.places],
            "rooms": rooms, "doors": [d.name for d in h.doors], "day_length": DAY,
            "slots": [[n, a, b] for n, a, b in SLOTS]}}
        self.fetch_share = float(fetch_share)
        self.task_gap_min = (float(task_gap_min[0]), float(task_gap_min[1]))
        if not 0 < self.task_gap_min[0] <= self.task_gap_min[1]:
            raise ValueError(f"task_gap_min must be (low, high) minutes with 0 < low <= high, got {task_gap_min!r}")
        # chores happen at a fixed half of the places (the robot's chores: some rooms it rarely enters otherwise)
        crng = np.random.default_rng([seed if not world_file else h.seed, 77])
        self.chore_places = sorted(crng.choice(n_places, max(2, n_places // 2), replace=False).tolist())
        self._schedule = self._make_schedule(seed if not world_file else h.seed, start_hour)
        self._next = 0
        self.place = 0
        self.clock = start_hour * 3600.0
        self._done = True
        self._log_upto = -1.0

    def _make_schedule(self, seed: int, start_hour: float) -> list[tuple[float, str, float]]:
        rng = np.random.default_rng([seed, 2024])
        out = []
        for day in range(self.house.params["days"]):
            t = day * DAY + max(7.0, start_hour) * 3600.0
            while t < day * DAY + 22 * 3600.0:
                kind = "fetch" if rng.random() < self.fetch_share else "chore"
                out.append((t, kind, float(rng.random())))
                t += float(rng.uniform(*self.task_gap_min)) * 60.0
        return out

    @property
    def n_tasks(self) -> int:
        return len(self._schedule)

    # ------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        if self._next >= len(self._schedule):
            raise RuntimeError(f"HouseholdEnv: all {len(self._schedule)} tasks of the schedule are done "
                               f"(days={self.house.params['days']}); make a new env")
        t_sched, kind, u = self._schedule[self._next]
        self._next += 1
        self.clock = max(self.clock, t_sched)
        h = self.house
        dist = h.distances(self.clock)
        self.kind, self.target, self.goal_place = kind, None, 0
        if kind == "fetch":
            in_view = h.sense(self.place, self.clock)["objects"]  # asking for what it sees is no search
            cands = [o for o in self.object_names if (w := h.where(o, self.clock)) is not None and o not in in_view
                     and math.isfinite(dist[self.place, h.place_index[w]])]
            if cands:
                self.target = cands[int(u * len(cands))]
            else:
                self.kind = "chore"
        if self.kind == "chore":
            others = [i for i in self.chore_places if i != self.place and math.isfinite(dist[self.place, i])]
            self.goal_place = others[int(u * len(others))] if others else self.place
            self._shortest = float(dist[self.place, self.goal_place])
        else:
            self._shortest = float(dist[self.place, h.place_index[h.where(self.target, self.clock)]])
        self.t_start = self.clock
        self._steps = 0
        self._path = 0.0
        self._visited = [self.place_names[self.place]]
        self._done = False
        return self._observe(), self._info(None)

    def step(self, action: Any) -> tuple[dict, float, bool, bool, dict]:
        if self._done:
            raise RuntimeError("HouseholdEnv.step called on a finished task; call reset() first")
        a = int(action)
        if not 0 <= a < self.action_space.n:
            raise ValueError(f"action must be in 0..{self.action_space.n - 1} (0 pick, 1+k go to place k), got {action!r}")
        self._steps += 1
        terminated = False
        if a == 0:
            self.clock += 5.0
            terminated = True
        else:
            k = a - 1
            d = float(self.house.distances(self.clock)[self.place, k])
            if math.isfinite(d):
                self.clock += d / self.speed + self.look_time
                self._path += d
                self.place = k
                self._visited.append(self.place_names[k])
            else:
                self.clock += 20.0
        truncated = not terminated and self._steps >= self.max_steps
        obs = self._observe()
        info = self._info(self.action_names[a])
        reward = 0.0
        if terminated or truncated:
            self._done = True
            h = self.house
            if self.kind == "fetch":
                success = terminated and h.where(self.target, self.clock) == self.place_names[self.place]
            else:
                success = terminated and self.place == self.goal_place
            spl = float(success) * (self._shortest / max(self._shortest, self._path) if self._shortest > 0 else 1.0)
            moves = [e for e in h.events if self._log_upto < e["t"] <= self.clock and e["kind"] != "routine"]
            self._log_upto = self.clock
            info.update(success=bool(success), spl=spl, path_length=self._path, shortest_path=self._shortest,
                        steps=self._steps, task=self.kind, t_start=self.t_start, t_end=self.clock,
                        path=list(self._visited), truth_events=moves,
                        path_xy=[list(h.places[h.place_index[n]].stand) for n in self._visited],
                        home={"rooms": self.metadata["embodied_mem"]["rooms"],
                              "places": {p.name: list(p.stand) for p in h.places}})
            reward = float(success)
        return obs, reward, terminated, truncated, info

    @property
    def action_names(self) -> list[str]:
        return self.metadata["embodied_mem"]["actions"]

    # ------------------------------------------------------------------ sensing
    def _observe(self) -> dict[str, Any]:
        self._sensed = s = self.house.sense(self.place, self.clock)
        seen = np.zeros(len(self.object_names), np.int8)
        for o in s["objects"]:
            seen[self.object_names.index(o)] = 1
        surf = np.zeros(len(self.place_names), np.int8)
        surf[s["surfaces"]] = 1
        return {"task": 0 if self.kind == "fetch" else 1,
                "object": self.object_names.index(self.target) if self.target else 0,
                "goal_place": int(self.goal_place), "place": int(self.place),
                "clock": np.array([self.clock], np.float64), "seen": seen, "surfaces": surf}

    def _info(self, action: str | None) -> dict[str, Any]:
        h, s = self.house, self._sensed
        pl = h.places[self.place]
        room = next(r for r in h.apartment.rooms if r.name == pl.room)
        hidden = [h.places[i].surface[:2] for i, p in enumerate(h.places)
                  if p.room == pl.room and i not in s["surfaces"]]
        view = View.rect(room.xmin, room.ymin, room.xmax, room.ymax)
        if hidden:
            view = view.without(np.array(hidden), radius=0.45)
        sightings = tuple(Sighting(o, pos, instance=o) for o, (_, pos) in sorted(s["objects"].items()))
        events = tuple(f"{d} {'open' if v else 'closed'}" for d, v in sorted(s["doors"].items()))
        percept = Percept(t=float(self.clock), pose=Pose(pl.stand[0], pl.stand[1], 0.0, 0.0), sightings=sightings,
                          view=view, events=events, region=pl.room, source="household",
                          action=action.split(":")[0] if action else None)
        return {"percept": percept, "seen_at": {o: w for o, (w, _) in s["objects"].items()},
                "doors": dict(s["doors"]), "task": self.kind, "goal": self.target or self.place_names[self.goal_place],
                "slot": slot_of(self.clock)}
