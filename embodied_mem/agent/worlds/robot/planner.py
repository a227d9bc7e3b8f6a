"""The robot's symbolic planner: the task (``find <label>``, ``goto <label>``, ``patrol``) and
memory -> the next skill calls. The loop runs the first one until it is done or the critic gives
up on it (its target put aside), then asks again, so each plan is read off memory as it is now.

- ``goto L``: drive next to where L was last seen (the most recent belief not put aside; with none,
  the most recent place memory stopped believing in: a detector misses things), then report
  success; never seen (or every such place put aside): report failure.
- ``find L``: seen during this task -> drive next to it and report success. Otherwise (after a
  look around where the task starts, ``look_first``) believed
  places by recency, then places it was seen before (drive there, look around; a place looked at
  without seeing L is checked),
  then frontiers of the occupancy map (drive, look around), then every known place not looked
  from during the task (nearest first: objects hidden from where the robot passed), until L is
  seen; nothing left: failure.
  With nothing known at the start, look around first.
- ``patrol``: visit the places checked longest ago (``patrol_places`` of them), look around at
  each, then report what changed since the patrol began (objects new, gone or moved).

Units: metres, seconds. Put-aside targets are skipped (``RobotWorld``); the task's one goal is
never put aside (``put_aside`` does nothing), the targets are.
"""

from __future__ import annotations

import math
from typing import Any

from ...protocols import Subgoal, Task
from ...single_goal import SingleGoalPlanner
from .world import snap

__all__ = ["RobotPlanner", "parse_goal", "changes"]


def parse_goal(goal: str) -> tuple[str, str | None]:
    """``"find mug"`` -> ("find", "mug"); ``"patrol"`` -> ("patrol", None). ValueError otherwise."""
    words = goal.strip().split(maxsplit=1)
    if not words or words[0] not in ("find", "goto", "patrol"):
        raise ValueError(f"a robot task goal is 'find <label>', 'goto <label>' or 'patrol', got {goal!r}")
    if words[0] == "patrol":
        return "patrol", None
    if len(words) < 2:
        raise ValueError(f"a robot task goal '{words[0]}' needs a label: '{words[0]} <label>'")
    return words[0], words[1].strip()


def changes(before: dict[str, list[tuple[float, ...]]], after: dict[str, list[tuple[float, ...]]],
            tolerance: float = 0.5) -> dict[str, list[dict[str, Any]]]:
    """What differs between two belief snapshots (label -> positions): ``new``, ``gone``, ``moved``."""
    out: dict[str, list[dict[str, Any]]] = {"new": [], "gone": [], "moved": []}
    for label in sorted(set(before) | set(after)):
        b, a = list(before.get(label, [])), list(after.get(label, []))
        kept_b = [p for p in b if any(math.dist(p[:2], q[:2]) <= tolerance for q in a)]
        only_b = [p for p in b if p not in kept_b]
        only_a = [q for q in a if not any(math.dist(p[:2], q[:2]) <= tolerance for p in b)]
        while only_b and only_a:
            p, q = only_b.pop(0), only_a.pop(0)
            out["moved"].append({"label": label, "from": [round(v, 2) for v in p[:2]], "to": [round(v, 2) for v in q[:2]]})
        out["gone"] += [{"label": label, "position": [round(v, 2) for v in p[:2]]} for p in only_b]
        out["new"] += [{"label": label, "position": [round(v, 2) for v in q[:2]]} for q in only_a]
    return out


def _report(text: str, outcome: str, goal: str) -> Subgoal:
    return Subgoal("report", goal=goal, args=(("outcome", outcome), ("text", text)))


def _go(target: str, xy: tuple[float, ...], goal: str, place: bool = False) -> Subgoal:
    # 0.25 m steps (world.snap): a belief refined by a few centimetres is the same subgoal (the loop
    # keeps it running), and its target is put aside under the belief's own key (world.key)
    args: tuple[tuple[str, Any], ...] = (("x", snap(xy[0])), ("y", snap(xy[1])))
    if place:
        args += (("place", True),)
    return Subgoal("navigate", target, goal=goal, args=tuple(sorted(args)))


class RobotPlanner(SingleGoalPlanner):
    def __init__(self, config: Any) -> None:
        self.cfg = config
        self.goal: str | None = None

    def plan(self, task: Task, recall: Any, state: Any, world: Any) -> list[Subgoal]:
        if not task.goals or task.goals[0] in ("", "wait"):
            self.goal = None
            return [Subgoal("wait", args=(("seconds", 1.0),))]
        goal = task.goals[0]
        kind, label = parse_goal(goal)
        self.goal = goal
        if state.pose is None:
            return [Subgoal("wait", goal=goal, args=(("seconds", 0.5),))]
        start = state.task.start if state.task is not None else -math.inf
        pos = state.position
        if kind == "goto":
            return self._goto(label, pos, world, goal)  # type: ignore[arg-type]
        if kind == "find":
            return self._find(label, pos, start, world, goal)  # type: ignore[arg-type]
        return self._patrol(pos, start, world, goal)

    # ------------------------------------------------------------------ tasks
    def _goto(self, label: str, pos: tuple[float, float], world: Any, goal: str) -> list[Subgoal]:
        locs = world.last_seen_places(label)
        if not locs:
            why = (f"every place where {label} was seen is unreachable (put aside)" if world.ever_seen(label)
                   else f"never saw {label}")
            return [_report(why, "failed", goal)]
        loc = locs[0]
        if math.dist(pos, loc.position[:2]) <= self.cfg.reach:
            return [_report(f"at {label} (last seen at t={loc.last_seen:.1f} s)", "succeeded", goal)]
        return [_go(label, loc.position, goal), _report(f"at {label}", "succeeded", goal)]

    def _find(self, label: str, pos: tuple[float, float], start: float, world: Any, goal: str) -> list[Subgoal]:
        cfg = self.cfg
        seen = world.seen_since(label, start)
        if seen:
            loc = min(seen, key=lambda loc: math.dist(pos, loc.position[:2]))
            text = f"found {label} at ({loc.position[0]:.2f}, {loc.position[1]:.2f})"
            if math.dist(pos, loc.position[:2]) <= cfg.reach:
                return [_report(text, "succeeded", goal)]
            return [_go(label, loc.position, goal), _report(text, "succeeded", goal)]
        if cfg.look_first and not world.looked_since(start):
            # a full turn where the task starts costs no path: it shows an instance nearer than the one
            # memory knows, one put somewhere new, or (never seen) one beside the robot
            return [Subgoal("look_around", label, goal=goal)]
        for loc in world.last_seen_places(label):  # believed places, most recently seen first, then past ones
            if world.looked_near(loc.position[:2], cfg.reach + 0.5, start):
                continue  # looked around there during this task and did not see it
            if math.dist(pos, loc.position[:2]) <= cfg.reach:
                return [Subgoal("look_around", label, goal=goal)]
            return [_go(label, loc.position, goal), Subgoal("look_around", label, goal=goal)]
        if not world.looked_near(pos, 1.0, start) and (
                not world.visited or (cfg.look_at_frontiers and world.visited_near(pos, 0.5, start))):
            return [Subgoal("look_around", label, goal=goal)]  # at the start, and at each frontier reached
        f = world.frontier(pos)
        if f is not None:
            plan = [_go("frontier", f, goal)]
            return plan + ([Subgoal("look_around", label, goal=goal)] if cfg.look_at_frontiers else [])
        # everything mapped, and still not seen (hidden from where the robot passed, or too small to
        # detect from afar): look around at every known place not looked from during this task, nearest first
        for p in sorted(world.places_by_age(), key=lambda p: math.dist(pos, p.position[:2])):
            if world.looked_near(p.position[:2], cfg.sweep_radius, start) or \
                    world.visited_near(p.position[:2], 0.5, start):
                continue
            return [_go(p.id, p.position, goal, place=True), Subgoal("look_around", label, goal=goal)]
        return [_report(f"did not find {label}: no believed place, frontier or unchecked place left", "failed", goal)]

    def _patrol(self, pos: tuple[float, float], start: float, world: Any, goal: str) -> list[Subgoal]:
        cfg = self.cfg
        if world.snapshot is None:  # the patrol begins: what is believed now, which places to check
            world.snapshot = world.beliefs_now()
            world.patrol = [p.id for p in world.places_by_age()[:cfg.patrol_places]]
        radius = 1.0
        places = {p.id: p for p in world.places_by_age()}  # put-aside places are left out
        for pid in world.patrol:
            p = places.get(pid)
            if p is None or world.looked_near(p.position[:2], radius, start):
                continue
            if math.dist(pos, p.position[:2]) <= radius:
                return [Subgoal("look_around", p.id, goal=goal)]
            return [_go(p.id, p.position, goal, place=True), Subgoal("look_around", p.id, goal=goal)]
        diff = changes(world.snapshot, world.beliefs_now())
        n = sum(len(v) for v in diff.values())
        text = "patrol done: " + ("nothing changed" if not n else
                                  f"{len(diff['new'])} new, {len(diff['gone'])} gone, {len(diff['moved'])} moved")
        return [Subgoal("report", goal=goal, args=(("changes", _json(diff)), ("outcome", "succeeded"), ("text", text)))]


def _json(obj: Any) -> str:
    import json

    return json.dumps(obj, separators=(",", ":"))
