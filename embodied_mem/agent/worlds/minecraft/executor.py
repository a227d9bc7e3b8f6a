"""Minecraft skills: subgoal -> one env primitive per step (Minecraft coordinates, the env's
high-level ``{"op": ...}`` commands), with the progress signal the critic judges.

- ``collect <kind>``: ``dig`` a known block of ``kind`` within reach of the eyes, else ``move_to``
  towards the nearest known one (at most ``stride`` blocks per step; along the world model's A*
  path over known free cells when it has a map). A target the bot failed to reach or dig
  ``fail_limit`` times is given up (``act`` returns None; the loop puts it aside). No known block
  of the kind: explore.
- ``explore`` (``agent.minecraft.explore``): ``spiral`` (default) walks a fixed outward square
  spiral around the start (``SpiralSweep``: no map, no remembered positions; ``collect`` digs what
  it sees, or, with spatial memory, remembers, on the way); ``frontier`` walks to the nearest
  frontier of spatial memory's map (preferring to keep its heading; without a map it falls back to
  ``heading``); ``heading`` keeps a random heading through the free cells in view and turns when
  blocked.
- ``wait``: the env's ``noop``.

Progress: distance to the current target (block or exploration waypoint), task items gained, and
cells of the map seen for the first time (with spatial memory). Units: blocks, memory frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ...protocols import Action, Progress, SkillSpec, Subgoal
from .config import MinecraftConfig
from .frames import Frame
from .world import block_key

__all__ = ["MinecraftExecutor", "SpiralSweep"]


class SpiralSweep:
    """A memoryless systematic sweep: waypoints along an outward square spiral around ``origin``.

    Legs run east, south, west, north (memory +x, +y, -x, -y) with lengths ``spacing``,
    ``spacing``, ``2 spacing``, ``2 spacing``, ... so parallel passes lie ``spacing`` blocks apart;
    each leg is cut into waypoints at most ``step`` blocks apart. The sweep keeps only its index
    along the spiral and a count of consecutive misses (waypoints the agent could not reach or saw
    blocked); after ``misses`` in a row (the spiral has left the reachable area) it starts over at
    the origin. It holds no map and no positions of anything seen. Units: blocks, memory frame.
    """

    def __init__(self, spacing: float, step: float, misses: int) -> None:
        if spacing <= 0 or step <= 0 or misses < 1:
            raise ValueError(f"SpiralSweep needs spacing > 0, step > 0, misses >= 1; got {spacing}, {step}, {misses}")
        self.spacing, self.step, self.max_misses = float(spacing), float(step), int(misses)
        self.reset()

    def reset(self, origin: tuple[float, float] | None = None) -> None:
        self.origin, self.index, self.misses = origin, 0, 0
        self._points: list[tuple[float, float]] = []
        self._legs = 0

    def point(self, i: int) -> tuple[float, float]:
        """The i-th waypoint (memory x, y); the spiral is generated as far as needed."""
        if self.origin is None:
            raise RuntimeError("SpiralSweep.reset(origin) first")
        while len(self._points) <= i:
            self._extend()
        return self._points[i]

    def _extend(self) -> None:
        assert self.origin is not None
        if not self._points:
            self._points.append(self.origin)
        direction = ((1, 0), (0, 1), (-1, 0), (0, -1))[self._legs % 4]
        length = self.spacing * (self._legs // 2 + 1)
        n = max(1, math.ceil(length / self.step))
        x0, y0 = self._points[-1]
        for k in range(1, n + 1):
            f = length * k / n
            self._points.append((x0 + direction[0] * f, y0 + direction[1] * f))
        self._legs += 1

    def current(self) -> tuple[float, float]:
        return self.point(self.index)

    def advance(self, *, missed: bool) -> None:
        """Go on to the next waypoint; ``missed``: this one was unreachable or seen blocked."""
        self.misses = self.misses + 1 if missed else 0
        self.index += 1
        if self.misses >= self.max_misses:
            self.index, self.misses = 0, 0


class MinecraftExecutor:
    need_goals: frozenset[str] = frozenset()  # no needs preempt the resource task

    def __init__(self, config: MinecraftConfig, frame: Frame, skills: tuple[SkillSpec, ...], idle: Action,
                 rng: Any) -> None:
        self.cfg = config
        self.frame = frame
        self.skills = skills
        self.idle = idle
        self.sweep = SpiralSweep(config.sweep_spacing, min(config.stride, config.sweep_spacing), config.sweep_misses)
        self.reset(rng)

    # ------------------------------------------------------------------ lifecycle
    def reset(self, rng: Any) -> None:
        self.rng = rng
        self.heading = float(rng.uniform(-math.pi, math.pi))
        self.sweep.reset()
        self.forget()
        self.explore_since = 0.0
        self.last_count: int | None = None
        self.last_cells: int | None = None
        self._world_cells: int | None = None

    def forget(self) -> None:
        """Drop targets and failure counts (what the memoryless baseline may not carry); the
        wandering state (heading, the spiral's index) stays: it holds no position of anything seen."""
        self.target_label: str | None = None
        self.target_pos: tuple[float, float, float] | None = None
        self.explore_target: tuple[float, float, float] | None = None
        self.failures: dict[tuple[int, int, int], int] = {}
        self.last_move: tuple[str, Any] | None = None  # ("target", key) | ("explore", key) | ("sweep", index)
        self.frontier_aside: dict[tuple[int, int, int], float] = {}

    def begin(self, subgoal: Subgoal) -> None:
        self.target_label, self.target_pos = None, None

    def stop(self, subgoal: Subgoal | None, reason: str) -> None:
        self.target_label, self.target_pos, self.explore_target = None, None, None

    def preempt(self, state: Any, world: Any) -> None:
        return None  # no reflexes or needs in the resource task

    # ------------------------------------------------------------------ the critic's signal
    def done(self, subgoal: Subgoal, state: Any, start: Any) -> bool:
        if subgoal.kind == "collect" and subgoal.target:
            return int(state.task.get("progress", {}).get(subgoal.target, 0)) >= max(1, subgoal.level)
        return False

    def progress(self, subgoal: Subgoal | None, state: Any, start: Any | None) -> Progress:
        count = state.count
        gained = 0 if self.last_count is None else max(0, count - self.last_count)
        self.last_count = count
        cells = self._world_cells
        new_cells = 0 if self.last_cells is None or cells is None else max(0, cells - self.last_cells)
        self.last_cells = cells
        goal = self.target_pos or self.explore_target
        dist = None if goal is None else math.dist(state.position[:2], goal[:2])
        return Progress(t=float(state.t), position=(round(state.position[0]), round(state.position[1])),
                        target_distance=dist, gained=gained, new_cells=new_cells,
                        done=subgoal is not None and self.done(subgoal, state, start))

    def target(self) -> tuple[str, Any] | None:
        if self.target_label is not None and self.target_pos is not None:
            return (self.target_label, block_key(self.target_pos))
        if self.explore_target is not None:
            return ("frontier", block_key(self.explore_target))
        return None

    # ------------------------------------------------------------------ acting
    def act(self, subgoal: Subgoal, state: Any, world: Any) -> Action | None:
        self._world_cells = world.known_cells() if world.has_map else None
        if subgoal.kind == "wait":
            return self.idle
        if subgoal.kind == "explore":
            return self.explore(state, world, subgoal.target)
        if subgoal.kind != "collect" or not subgoal.target:
            return None  # not a skill of this world (the planner asked for something else)
        kind = subgoal.target
        self._count_failure(state)
        target = self._choose(kind, state, world)
        if target is None:
            self.target_label = self.target_pos = None
            return self.explore(state, world, kind)
        key = block_key(target)
        if self.failures.get(key, 0) >= self.cfg.fail_limit:
            self.target_label, self.target_pos = kind, target
            self.failures[key] = 0
            return None  # given up: the loop puts (kind, key) aside and replans
        self.target_label, self.target_pos, self.explore_target = kind, target, None
        self.last_move = ("target", key)
        block = self.frame.block(*target)
        eye = self.frame.to_minecraft(*state.position)
        eye = (eye[0], eye[1] + self.cfg.eye_height, eye[2])
        if math.dist(eye, self.frame.block_centre(block)) <= self.cfg.dig_reach:
            return {"op": "dig", "x": block[0], "y": block[1], "z": block[2]}
        return self._move_towards(target, state, world, final_range=self.cfg.approach_range)

    def _count_failure(self, state: Any) -> None:
        if self.last_move is not None and self.last_move[0] == "target" and not state.last_ok:
            k = self.last_move[1]
            self.failures[k] = self.failures.get(k, 0) + 1

    def _choose(self, kind: str, state: Any, world: Any) -> tuple[float, float, float] | None:
        here = state.position
        best, best_d = None, math.inf
        for p in world.candidates(kind):
            d = math.dist(here[:2], p[:2])
            if d < best_d:
                best, best_d = p, d
        return best

    def _move(self, goal_xy: tuple[float, float], range_: float, y: float | None = None) -> dict[str, Any]:
        mx, mz = self.frame.ground(*goal_xy)
        cmd: dict[str, Any] = {"op": "move_to", "x": mx, "z": mz, "range": range_, "timeout_ms": self.cfg.move_timeout_ms}
        if y is not None:
            cmd["y"] = y
        return cmd

    def _move_towards(self, goal: Sequence[float], state: Any, world: Any, *, final_range: float) -> dict[str, Any]:
        """One ``move_to`` of at most ``stride`` blocks towards ``goal`` (memory frame);
        ``final_range`` > 0: the goal is a block to stand next to."""
        here = state.position
        dist = math.dist(here[:2], goal[:2])
        if dist <= self.cfg.stride:
            if final_range > 0:
                bx, by, bz = self.frame.block(*goal)
                return {"op": "move_to", "x": bx + 0.5, "y": float(by), "z": bz + 0.5, "range": final_range,
                        "timeout_ms": self.cfg.move_timeout_ms}
            return self._move((goal[0], goal[1]), 1.0)
        waypoint = None
        path = world.path(here, goal)
        if path and len(path) > 1:  # the farthest waypoint along the path within stride
            for p in path[1:]:
                if math.dist(here[:2], p[:2]) <= self.cfg.stride:
                    waypoint = p
                else:
                    break
        if waypoint is None:  # no known path: head straight for it; the pathfinder handles local obstacles
            s = self.cfg.stride / dist
            waypoint = (here[0] + (goal[0] - here[0]) * s, here[1] + (goal[1] - here[1]) * s, here[2])
        return self._move((waypoint[0], waypoint[1]), 1.0)

    # ------------------------------------------------------------------ exploring
    def explore(self, state: Any, world: Any, hint: str | None = None) -> Action | None:
        self._world_cells = world.known_cells() if world.has_map else None
        mode = self.cfg.explore
        if mode == "spiral":
            return self._sweep_step(state)
        if mode == "frontier" and world.has_map:
            a = self._frontier_step(state, world)
            if a is not None:
                return a
        return self._heading_step(state)

    def _frontier_step(self, state: Any, world: Any) -> Action | None:
        here, t = state.position, float(state.t)
        et = self.explore_target
        keep = (et is not None and t - self.explore_since < self.cfg.explore_persistence
                and world.occupancy(et) == "free" and math.dist(here[:2], et[:2]) > 1.5 and state.last_ok)
        if not keep:
            if et is not None and not state.last_ok and self.last_move and self.last_move[0] == "explore":
                self.frontier_aside[block_key(et)] = t + self.cfg.frontier_aside_steps
            self.explore_target = None
            best, best_score = None, math.inf
            for c in world.frontiers(here):
                d = math.dist(here[:2], c[:2])
                k = block_key(c)
                if d < self.cfg.explore_min_distance or self.frontier_aside.get(k, -1.0) > t \
                        or world.is_aside("frontier", k):
                    continue
                turn = math.atan2(c[1] - here[1], c[0] - here[0]) - self.heading
                score = d + self.cfg.turn_cost * (1.0 - math.cos(turn))
                if score < best_score:
                    best, best_score = c, score
            if best is None:
                return None
            self.explore_target = (best[0], best[1], here[2])
            self.explore_since = t
            self.heading = math.atan2(best[1] - here[1], best[0] - here[0])
        assert self.explore_target is not None
        self.last_move = ("explore", block_key(self.explore_target))
        return self._move_towards(self.explore_target, state, world, final_range=0.0)

    def _heading_step(self, state: Any) -> Action:
        """No map: keep a heading through the free cells in view, turn when blocked."""
        here = state.position
        self.last_move = ("heading", None)
        self.explore_target = None
        if not state.last_ok or self.rng.random() < 0.1:
            self.heading = float(self.rng.uniform(-math.pi, math.pi))
        best, best_score = None, -math.inf
        for cx, cy in state.free:
            d = math.hypot(cx - here[0], cy - here[1])
            if d < 2.0 or d > self.cfg.stride:
                continue
            ang = math.atan2(cy - here[1], cx - here[0]) - self.heading
            ang = (ang + math.pi) % (2 * math.pi) - math.pi
            score = math.cos(ang) * d
            if score > best_score:
                best, best_score = (cx, cy), score
        if best is None or best_score <= 0:  # nothing ahead: a new heading, and any free cell in view
            self.heading = float(self.rng.uniform(-math.pi, math.pi))
            near = [c for c in state.free if math.hypot(c[0] - here[0], c[1] - here[1]) >= 1.0]
            if not near:
                return {"op": "control", "controls": {"back": True, "jump": True}, "ticks": 6}
            best = near[int(self.rng.integers(len(near)))]
        return self._move(best, 1.0)

    def _sweep_step(self, state: Any) -> Action:
        """One move along the spiral. A waypoint counts as reached within 2 blocks or when the move
        that went straight for it reports success; one the last move failed to reach, or one in
        view that is not a free cell (a wall, outside the arena), is skipped as a miss. Uses only
        the current view and the spiral's own index."""
        here = state.position
        sw = self.sweep
        if sw.origin is None:
            sw.reset((here[0], here[1]))
        last = self.last_move
        if last is not None and last[0] == "sweep":
            if last[1] == sw.index:  # the last move went straight for this waypoint
                sw.advance(missed=not state.last_ok)
            elif not state.last_ok:
                sw.advance(missed=True)
        free = {(round(a), round(b)) for a, b in state.free}
        for _ in range(4 * sw.max_misses + 4):
            px, py = sw.current()
            d = math.hypot(px - here[0], py - here[1])
            if d <= 2.0:
                sw.advance(missed=False)
            elif free and d <= 6.0 and (round(px), round(py)) not in free:
                sw.advance(missed=True)
            else:
                break
        px, py = sw.current()
        direct = math.hypot(px - here[0], py - here[1]) <= self.cfg.stride
        self.last_move = ("sweep", sw.index if direct else None)
        self.explore_target = (px, py, here[2])
        return self._move_towards((px, py, here[2]), state, _NO_MAP, final_range=0.0)


class _NoMap:
    has_map = False

    def path(self, start: Any, goal: Any) -> None:
        return None


_NO_MAP = _NoMap()
