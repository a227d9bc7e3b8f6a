"""Robot skills: subgoal -> one structured action per decision, and the progress the critic judges.

- ``navigate <target>`` (``x``, ``y`` in args; ``target`` a label, ``frontier`` or a place id):
  an object label drives to a free spot ``approach`` m from it on the side it was seen from,
  facing it, and is reached within ``reach`` m of the object on that side (``approach_cone``); a frontier within ``frontier_tolerance``; anything else within
  ``goal_tolerance`` (or when the navigator reports the goal succeeded). Action
  ``{"op": "navigate", "x", "y", "yaw"}``. A goal the navigator aborted cannot be pursued
  (``act`` returns None): the loop puts the target aside and replans.
- ``look_around``: a full turn in place, ``{"op": "rotate", "speed": rad/s}``.
- ``wait`` (``seconds``): ``{"op": "wait"}``.
- ``report`` (``text``, ``outcome``: ``succeeded`` / ``failed`` / empty): ``{"op": "report", ...}``
  once; a report with an outcome ends the task.
- ``explore``: navigate to the nearest frontier, else turn.

Progress (the critic's input, all from the robot's own feedback): the distance still to go (the
navigator's, or the straight line), driving on along a route (odometry moving 0.5 m, within 3× the
straight line + 5 m of travel per goal: a detour around walls is not a stall), the turn made so far
while looking around, waiting and reporting (busy). A robot whose odometry does not move makes no progress: the critic says
``stalled`` after ``critic.stall_steps`` seconds. Positions reach the critic in ``place_size`` m
squares, so oscillation between few squares is a ``loop``.
"""

from __future__ import annotations

import math
from typing import Any

from ...protocols import Preemption, Progress, SkillSpec, Subgoal
from .world import key

__all__ = ["RobotExecutor"]

WAIT: dict[str, Any] = {"op": "wait"}


def _arg(sg: Subgoal, name: str, default: Any = None) -> Any:
    return dict(sg.args).get(name, default)


class RobotExecutor:
    need_goals: frozenset[str] = frozenset()
    idle: dict[str, Any] = WAIT

    def __init__(self, config: Any, skills: tuple[SkillSpec, ...]) -> None:
        self.cfg = config
        self.skills = skills
        self.world: Any = None
        self.reset(None)

    # ------------------------------------------------------------------ lifecycle
    def reset(self, rng: Any) -> None:
        self.current: Subgoal | None = None
        self.goal: tuple[float, float, float] | None = None  # the pose the running navigate drives to
        self.obj: tuple[float, float] | None = None  # the object it approaches (label targets)
        self.turned = 0.0
        self.last_yaw: float | None = None
        self.t0: float | None = None
        self.reported = False
        self.aborts_at_start = 0
        self.anchor: tuple[float, float] | None = None  # where the robot was when it last drove on 0.5 m
        self.travel = self.budget = 0.0

    def forget(self) -> None:
        pass

    def begin(self, subgoal: Subgoal) -> None:
        self.current = subgoal
        self.goal, self.obj, self.turned, self.last_yaw, self.t0, self.reported = None, None, 0.0, None, None, False
        self.anchor = None
        self.travel = self.budget = 0.0

    def stop(self, subgoal: Subgoal | None, reason: str) -> None:
        self.goal, self.obj = None, None
        self.current = None

    def preempt(self, state: Any, world: Any) -> Preemption | None:
        return None

    # ------------------------------------------------------------------ acting
    def act(self, subgoal: Subgoal, state: Any, world: Any) -> dict[str, Any] | None:
        self.world = world
        if subgoal != self.current:
            self.begin(subgoal)
        if self.t0 is None:
            self.t0, self.aborts_at_start = state.t, state.nav.aborts
        if state.pose is None:
            return WAIT  # not localised yet: nothing to do but wait for the first pose
        kind = subgoal.kind
        if kind in ("navigate", "explore"):
            if self.goal is None and not self._resolve(subgoal, state, world):
                return None
            if state.nav.aborts > self.aborts_at_start and state.nav.state == "aborted":
                return None  # the navigator gave up on this goal: put it aside, replan
            x, y, yaw = self.goal  # type: ignore[misc]
            return {"op": "navigate", "x": x, "y": y, "yaw": yaw}
        if kind == "look_around":
            self._turn(state)
            return {"op": "rotate", "speed": float(self.cfg.turn_speed)}
        if kind == "wait":
            return WAIT
        if kind == "report":
            self.reported = True
            out = {"op": "report", **{k: v for k, v in subgoal.args}}
            out["text"] = str(out.get("text", subgoal.target or ""))
            out["outcome"] = str(out.get("outcome", "") or "")
            return out
        return None  # not a robot skill (a planner's mistake): the loop puts it aside

    def _resolve(self, sg: Subgoal, state: Any, world: Any) -> bool:
        """The goal pose of a navigate/explore subgoal; False when there is none."""
        pos = state.position
        x, y = _arg(sg, "x"), _arg(sg, "y")
        target = sg.target
        if sg.kind == "explore" or (x is None and target in (None, "frontier")):
            f = world.frontier(pos)
            if f is None:
                return False
            self.goal = (f[0], f[1], math.atan2(f[1] - pos[1], f[0] - pos[0]))
            return True
        if x is None or y is None:
            if target is None:
                return False
            locs = world.beliefs(target)
            if locs:
                x, y = locs[0].position[0], locs[0].position[1]
            else:
                places = [p for p in world.places_by_age() if p.id == target]
                if not places:
                    return False
                x, y = places[0].position[0], places[0].position[1]
        x, y = float(x), float(y)
        if target not in (None, "frontier", "place", "pose") and not _arg(sg, "place"):
            self.obj = (x, y)
            self.goal = world.approach_goal((x, y), pos, world.seen_from(target, (x, y)))
        else:
            self.goal = (x, y, math.atan2(y - pos[1], x - pos[0]))
        return True

    def explore(self, state: Any, world: Any, hint: str | None) -> dict[str, Any] | None:
        if state.pose is None:
            return WAIT
        f = world.frontier(state.position)
        if f is None:
            return {"op": "rotate", "speed": float(self.cfg.turn_speed)}
        return {"op": "navigate", "x": f[0], "y": f[1], "yaw": math.atan2(f[1] - state.pose[1], f[0] - state.pose[0])}

    def _turn(self, state: Any) -> None:
        yaw = state.pose[2]
        if self.last_yaw is not None:
            d = (yaw - self.last_yaw + math.pi) % (2 * math.pi) - math.pi
            self.turned += abs(d)
        self.last_yaw = yaw

    # ------------------------------------------------------------------ judging
    def _tolerance(self, sg: Subgoal) -> float:
        if sg.kind == "explore" or sg.target == "frontier":
            return float(self.cfg.frontier_tolerance)
        return float(self.cfg.goal_tolerance)

    def done(self, subgoal: Subgoal, state: Any, start: Any) -> bool:
        if state.pose is None:
            return False
        pos = state.position
        kind = subgoal.kind
        mine = subgoal == self.current and start is not state
        if kind in ("navigate", "explore"):
            goal = self.goal if mine else None
            obj = self.obj if mine else None
            if goal is None:
                x, y = _arg(subgoal, "x"), _arg(subgoal, "y")
                if x is None or y is None:
                    return False
                goal = (float(x), float(y), 0.0)
                if subgoal.target not in (None, "frontier", "place", "pose") and not _arg(subgoal, "place"):
                    obj = (float(x), float(y))
            reached = math.hypot(goal[0] - pos[0], goal[1] - pos[1]) <= self._tolerance(subgoal)
            if obj is not None and math.hypot(obj[0] - pos[0], obj[1] - pos[1]) <= self.cfg.reach:
                # near enough, and on the goal's side of the object (within approach_cone of its
                # bearing): within reach behind a wall is not next to it
                side = math.atan2(goal[1] - obj[1], goal[0] - obj[0])
                here = math.atan2(pos[1] - obj[1], pos[0] - obj[0])
                reached = reached or not mine or \
                    abs(math.remainder(here - side, 2 * math.pi)) <= self.cfg.approach_cone
            if mine and state.nav.state == "succeeded" and state.nav.goal is not None and \
                    math.hypot(state.nav.goal[0] - goal[0], state.nav.goal[1] - goal[1]) < 0.05:
                reached = True
            if reached and mine and self.world is not None:
                self.world.note_visited(pos)
            return reached
        if kind == "look_around":
            if mine and self.turned >= 2 * math.pi * 0.95:
                if self.world is not None:
                    self.world.note_looked(pos)
                return True
            return False
        if kind == "wait":
            return mine and self.t0 is not None and state.t - self.t0 >= float(_arg(subgoal, "seconds", 1.0))
        if kind == "report":
            return mine and self.reported
        return False

    def progress(self, subgoal: Subgoal | None, state: Any, start: Any | None) -> Progress:
        s = self.cfg.place_size
        if state.pose is None:
            return Progress(t=state.t, position=(0, 0), busy=True)
        x, y = state.position
        cell = (round(x / s), round(y / s))
        if subgoal is None:
            return Progress(t=state.t, position=cell)
        kind = subgoal.kind
        if kind in ("navigate", "explore") and self.goal is not None:
            nav = state.nav
            own = nav.distance is not None and nav.goal is not None and \
                math.hypot(nav.goal[0] - self.goal[0], nav.goal[1] - self.goal[1]) < 0.05 and nav.state != "succeeded"
            straight = math.hypot(self.goal[0] - x, self.goal[1] - y)
            dist = nav.distance if own and nav.distance is not None else straight
            # a route around walls first leads away from the goal: with only the straight line to go by
            # (/goal_pose), driving on (0.5 m from the last mark) counts as progress, within a travel
            # budget of 3x the straight line + 5 m; a robot that stops, or drives on past it, stalls
            moving = False
            if self.anchor is None:
                self.anchor, self.travel, self.budget = (x, y), 0.0, 3 * straight + 5.0
            elif math.hypot(x - self.anchor[0], y - self.anchor[1]) >= 0.5:
                self.travel += math.hypot(x - self.anchor[0], y - self.anchor[1])
                self.anchor = (x, y)
                moving = self.travel <= self.budget
            return Progress(t=state.t, position=cell, target_distance=round(dist / 0.1) * 0.1,  # 10 cm: jitter is none
                            busy=moving)
        if kind == "look_around":
            # progress is the turn made so far (as a falling distance): a robot that does not turn stalls
            return Progress(t=state.t, position=cell, target_distance=round(2 * math.pi - self.turned, 2))
        return Progress(t=state.t, position=cell, busy=kind in ("wait", "report"))

    def target(self) -> tuple[str, Any] | None:
        sg = self.current
        if sg is None or sg.kind not in ("navigate", "explore") or self.goal is None:
            return None
        label = "frontier" if (sg.kind == "explore" or sg.target in (None, "frontier")) else \
            ("place" if _arg(sg, "place") else sg.target)
        where = self.obj if self.obj is not None else self.goal[:2]
        return (str(label), key(where))
