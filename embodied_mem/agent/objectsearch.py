"""Object search ("go to the X you saw earlier") for Habitat-style envs (indoor3d, habitat).

The agent sees only its sensors: RGB-D + semantic frames, the goal category (``objectgoal``), its
localized pose (``gps``/``compass``, also in ``info["percept"]``), the semantic scene's instance ->
category table (``info["labels"]``) and a collision flag. Each episode it builds a working 3D map
(``Map3D``: object instances from back-projected semantics, a navigable-floor grid from depth);
with memory (``uses_memory``) it also writes every frame into lifelong ``Memory`` as a ``Percept``
(pose, fused 3D object sightings, free/blocked floor cells, region) and, when the goal was seen in
an earlier episode, it asks ``memory.spatial.locate(goal)`` and goes straight there.

Decision each step: if a goal position is known (seen this episode, else remembered), follow the
geodesic over the navigable grid (unknown cells optimistically passable, walls inflated by the
agent radius) and ``stop`` within ``stop_distance``; otherwise look around once (a full turn),
then explore the nearest frontier (free floor bordering unknown space) and, once the map has no
frontier left, the nearest free floor not yet seen from within detection range (2.2 m). A
remembered goal is trusted: the agent stops on reaching it. ``record()`` reports the
mode ("seen", "remembered", "explore") and the goal.

The env must expose ``intrinsics`` (``mapping3d.Intrinsics``), ``sensor_height``, ``turn``
(radians), ``agent_radius`` and ``goal_names`` (objectgoal index -> category); a missing one raises
``AttributeError`` naming it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..mapping3d.fusion import Map3D, ObjectMap
from ..mapping3d.navgrid import geodesic
from ..percept import Percept
from .base import Agent

__all__ = ["ObjectSearchAgent", "RandomSearchAgent", "make_robomemory", "make_reactive", "make_random", "make_agent"]

STOP, FORWARD, LEFT, RIGHT = 0, 1, 2, 3
MAP_FILE = "map3d.npz"  # the 3D map beside memory.db; the indoor3d plot hook reads its "points"
_KNOWN_KEYS = {"name", "fuse", "stop_distance", "spin_first", "voxel_size", "nav_resolution", "memory_source"}


def _env_attr(env: Any, name: str) -> Any:
    e = getattr(env, "unwrapped", env)
    if not hasattr(e, name):
        raise AttributeError(f"object search needs env.{name} (see embodied_mem.agent.objectsearch); "
                             f"{type(e).__name__} has none")
    return getattr(e, name)


class ObjectSearchAgent(Agent):
    """Frontier exploration + geodesic navigation to the goal; with memory, remembered goals first."""

    def __init__(self, env: Any, *, use_memory: bool, fuse: bool = False, stop_distance: float = 0.8,
                 spin_first: bool = True, voxel_size: float = 0.05, nav_resolution: float = 0.1, seed: int = 0,
                 memory_source: str = "objectsearch") -> None:
        if not 0.1 <= stop_distance <= 3.0:
            raise ValueError(f"stop_distance must be in [0.1, 3] metres, got {stop_distance}")
        self.intr = _env_attr(env, "intrinsics")
        self.sensor_height = float(_env_attr(env, "sensor_height"))
        self.turn = float(_env_attr(env, "turn"))
        self.agent_radius = float(_env_attr(env, "agent_radius"))
        self.goal_names = list(_env_attr(env, "goal_names"))
        self.max_depth = float(getattr(getattr(env, "unwrapped", env), "max_depth", 6.0))
        self.uses_memory = bool(use_memory)
        self.name = "objectsearch+memory" if use_memory else "objectsearch"
        self.fuse = bool(fuse)
        self.stop_distance = float(stop_distance)
        self.spin_first = bool(spin_first)
        self.voxel_size = float(voxel_size)
        self.nav_resolution = float(nav_resolution)
        self.source = memory_source
        self._rng = np.random.default_rng(seed)
        self.memory: Any = None
        self._map_memory: Any = None
        self._last_t = -1.0
        self._record: dict[str, Any] = {}
        self._new_map()
        self._new_episode()

    def _new_map(self) -> None:
        self.map = Map3D(self.intr, sensor_height=self.sensor_height, fuse=self.fuse and self.uses_memory,
                         voxel_size=self.voxel_size, nav_resolution=self.nav_resolution,
                         max_depth=min(self.max_depth, 6.0))

    def _new_episode(self) -> None:
        self.map.objects = ObjectMap()  # objects of earlier episodes come from Memory, not from here
        self._spin_left = int(round(2 * math.pi / self.turn)) if self.spin_first else 0
        self._frontier_goal: tuple[float, float] | None = None
        self._coverage = False
        self._failed: list[tuple[float, float]] = []
        self._last_action: int | None = None
        self._steps = 0
        self._stuck = 0
        self._collisions = 0
        self._t0 = self._last_t + 1.0

    # ------------------------------------------------------------ Agent API
    def reset(self, memory: Any | None, *, seed: int | None = None) -> None:
        """Start an episode. Without memory the map starts empty every episode; with memory the
        3D map (geometry and navigable floor) lives as long as the ``Memory`` object and is saved
        beside its database (``map3d.npz``), from where a reopened memory reloads it."""
        if self.uses_memory and memory is None:
            raise ValueError(f"{self.name} needs a Memory (got None)")
        self.memory = memory if self.uses_memory else None
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        if self.memory is None:
            self._new_map()
        else:
            traj = self.memory.spatial.trajectory()
            if traj:
                self._last_t = max(self._last_t, traj[-1][0])
            if self._map_memory is not self.memory:
                self._new_map()
                self._map_memory = self.memory
                self._load_map()
        self._new_episode()

    def act(self, obs: Mapping[str, Any], info: Mapping[str, Any]) -> int:
        percept: Percept = info["percept"]
        pose = percept.pose
        if pose is None:
            raise ValueError("object search needs info['percept'].pose (a localized agent)")
        labels = info.get("labels") or {}
        self.map.labels = dict(labels)
        seen = self.map.add_frame(obs["depth"], obs.get("semantic"), pose, obs.get("rgb"))
        if info.get("collided") and self._last_action == FORWARD:
            # something the camera missed (below its view): block a short arc ahead
            for da in (-0.4, -0.2, 0.0, 0.2, 0.4):
                a = pose.yaw + da
                self.map.nav.mark_blocked(pose.x + (self.agent_radius + 0.15) * math.cos(a),
                                          pose.y + (self.agent_radius + 0.15) * math.sin(a))
            self._collisions += 1
        else:
            self._collisions = 0
        goal = self.goal_names[int(np.asarray(obs["objectgoal"]).ravel()[0])]
        t = self._t0 + float(percept.t)
        self._last_t = t
        if self.memory is not None:
            self._remember(percept, seen, t, obs)
        if self._collisions >= 3:  # still bumping: turn away and let the map catch up
            action, mode, target = int(self._rng.choice([LEFT, RIGHT])), "unstick", None
        else:
            action, mode, target = self._decide(goal, pose)
        self._steps += 1
        self._last_action = action
        self._record = {"mode": mode, "goal": goal}
        if target is not None:
            self._record["target"] = [round(target[0], 2), round(target[1], 2)]
        if self.memory is not None and (action == STOP or self._steps % 200 == 0):
            self.save_map()
        return action

    def record(self) -> dict[str, Any]:
        return dict(self._record)

    # ------------------------------------------------------------ memory
    def _remember(self, percept: Percept, seen: list[Any], t: float, obs: Mapping[str, Any]) -> None:
        sightings = tuple(o.sighting(min(1.0, o.n_points / 30.0)) for o in seen)
        p = dataclasses.replace(percept, t=t, sightings=sightings, source=self.source)
        self.memory.observe(p)

    def _map_file(self) -> Any:
        path = getattr(self.memory, "path", None)
        if path is None:
            return None
        from pathlib import Path

        return Path(path).parent / MAP_FILE

    def save_map(self) -> None:
        """Write the 3D map beside the memory database: ``map3d.npz`` (navigable floor grid and,
        when fusing, the fused surface points, which the indoor3d plot hook draws)."""
        out = self._map_file()
        if out is None:
            return
        nav = self.map.nav
        arrays: dict[str, Any] = {"nav_grid": nav.grid, "nav_origin": np.array([nav.x0, nav.y0]),
                                  "nav_resolution": np.array(nav.res)}
        if self.map.tsdf is not None:
            arrays["points"] = self.map.tsdf.surface_points().astype(np.float32)
        tmp = out.with_name(out.stem + ".tmp.npz")
        np.savez_compressed(tmp, **arrays)
        tmp.replace(out)

    def _load_map(self) -> None:
        f = self._map_file()
        if f is None or not f.exists():
            return
        with np.load(f) as d:
            if float(d["nav_resolution"]) != self.map.nav.res:
                return  # saved at another resolution: start afresh rather than resample
            self.map.nav.grid = d["nav_grid"].copy()
            self.map.nav.x0, self.map.nav.y0 = (float(v) for v in d["nav_origin"])

    # ------------------------------------------------------------ decisions
    def _goal_position(self, goal: str, pose: Any) -> tuple[tuple[float, float] | None, str]:
        inst = self.map.objects.instances(goal)
        if inst:
            best = min(inst, key=lambda o: math.hypot(o.centroid[0] - pose.x, o.centroid[1] - pose.y))
            return (best.centroid[0], best.centroid[1]), "seen"
        if self.memory is not None:
            locs = [loc for loc in self.memory.spatial.locate(goal)
                    if not any(math.hypot(loc.position[0] - f[0], loc.position[1] - f[1]) < 0.5 for f in self._failed)]
            if locs:
                best = min(locs, key=lambda loc: math.hypot(loc.position[0] - pose.x, loc.position[1] - pose.y))
                return (best.position[0], best.position[1]), "remembered"
        return None, "explore"

    def _decide(self, goal: str, pose: Any) -> tuple[int, str, tuple[float, float] | None]:
        target, mode = self._goal_position(goal, pose)
        if target is not None:
            d = math.hypot(target[0] - pose.x, target[1] - pose.y)
            if d <= self.stop_distance:
                # a remembered goal is trusted: small objects near the floor fall into the camera's
                # blind zone close up, so "look again before stopping" would miss them
                return STOP, mode, target
            a = self._navigate(pose, target, self.stop_distance - 0.1)
            if a is not None:
                return a, mode, target
            if mode == "remembered":
                self._failed.append(target)
        if self._spin_left > 0:
            self._spin_left -= 1
            return LEFT, "look", None
        return self._explore(pose), "explore", None

    def _explore(self, pose: Any) -> int:
        nav = self.map.nav
        for _ in range(3):
            fg = self._frontier_goal
            if fg is not None:
                r, c = nav.cell(*fg)
                if self._coverage:
                    still = nav.inside(r, c) and not nav.seen_close[r, c]
                else:
                    still = nav.inside(r, c) and nav.frontier()[max(0, r - 2):r + 3, max(0, c - 2):c + 3].any()
                if not still or math.hypot(fg[0] - pose.x, fg[1] - pose.y) < 0.3:
                    fg = self._frontier_goal = None
            if fg is None:
                fg = self._frontier_goal = self._pick_frontier(pose)
                self._coverage = False
                if fg is None:  # the map is complete: look closely where we have not yet
                    fg = self._frontier_goal = self._pick_coverage(pose)
                    self._coverage = fg is not None
            if fg is None:
                break
            a = self._navigate(pose, fg, 0.15)
            if a is not None:
                return a
            self._failed.append(fg)
            self._frontier_goal = None
        # nothing left to explore or no way there: wander
        self._stuck += 1
        return int(self._rng.choice([FORWARD, LEFT, RIGHT]))

    def _passable(self, pose: Any, optimistic: bool, margin: float | None = None) -> np.ndarray:
        """Cells the agent may plan through; around the agent itself only raw obstacles count, so
        it can leave the inflated margin it may have been pushed into."""
        from ..mapping3d.navgrid import BLOCKED, disk

        nav = self.map.nav
        margin = nav.res / 2 if margin is None else margin  # clearance beyond the agent's radius
        passable = nav.passable(self.agent_radius + margin, optimistic=optimistic)
        r0, c0 = nav.cell(pose.x, pose.y)
        k = disk(self.agent_radius / nav.res)
        h = k.shape[0] // 2
        H, W = passable.shape
        ra, rb, ca, cb = max(0, r0 - h), min(H, r0 + h + 1), max(0, c0 - h), min(W, c0 + h + 1)
        kk = k[ra - (r0 - h):rb - (r0 - h), ca - (c0 - h):cb - (c0 - h)]
        sub = passable[ra:rb, ca:cb]
        raw = nav.grid[ra:rb, ca:cb]
        sub[kk & (raw != BLOCKED)] = True
        if 0 <= r0 < H and 0 <= c0 < W:
            passable[r0, c0] = True
        return passable

    def _window(self, pose: Any, target: tuple[float, float] | None = None, margin: float = 1.5) -> tuple[slice, slice]:
        """Rows/cols of the grid worth planning over: the known cells, the agent and the target,
        plus ``margin`` metres (unknown space farther out only slows the search down)."""
        nav = self.map.nav
        H, W = nav.grid.shape
        known_r = np.flatnonzero(nav.grid.any(axis=1))
        known_c = np.flatnonzero(nav.grid.any(axis=0))
        pts = [nav.cell(pose.x, pose.y)] + ([nav.cell(*target)] if target is not None else [])
        r_lo = min([p[0] for p in pts] + ([known_r[0]] if len(known_r) else []))
        r_hi = max([p[0] for p in pts] + ([known_r[-1]] if len(known_r) else []))
        c_lo = min([p[1] for p in pts] + ([known_c[0]] if len(known_c) else []))
        c_hi = max([p[1] for p in pts] + ([known_c[-1]] if len(known_c) else []))
        m = int(math.ceil(margin / nav.res))
        return slice(max(0, r_lo - m), min(H, r_hi + m + 1)), slice(max(0, c_lo - m), min(W, c_hi + m + 1))

    def _pick_coverage(self, pose: Any) -> tuple[float, float] | None:
        """The nearest reachable known-free cell never seen from within detection range (small
        objects show only from close by), or None when every free cell has been."""
        from ..mapping3d.navgrid import FREE

        nav = self.map.nav
        rs, cs = self._window(pose, margin=0.5)
        todo = (nav.grid[rs, cs] == FREE) & ~nav.seen_close[rs, cs]
        if not todo.any():
            return None
        passable = self._passable(pose, optimistic=False)[rs, cs]
        r, c = nav.cell(pose.x, pose.y)
        dist = geodesic(passable, [(r - rs.start, c - cs.start)])
        cand = todo & passable & np.isfinite(dist) & (dist * nav.res >= 0.5)
        for f in self._failed:
            fr, fc = nav.cell(*f)
            fr, fc = fr - rs.start, fc - cs.start
            cand[max(0, fr - 3):max(0, fr + 4), max(0, fc - 3):max(0, fc + 4)] = False
        if not cand.any():
            return None
        rr, cc = np.nonzero(cand)
        k = int(np.argmin(dist[rr, cc]))
        return nav.center(int(rr[k] + rs.start), int(cc[k] + cs.start))

    def _pick_frontier(self, pose: Any) -> tuple[float, float] | None:
        from scipy.ndimage import binary_dilation

        nav = self.map.nav
        front = nav.frontier()
        if not front.any():
            return None
        rs, cs = self._window(pose, margin=0.5)
        front = front[rs, cs]
        passable = self._passable(pose, optimistic=False)[rs, cs]
        r, c = nav.cell(pose.x, pose.y)
        dist = geodesic(passable, [(r - rs.start, c - cs.start)])
        # stand on a known, passable cell next to the frontier
        cand = binary_dilation(front, structure=np.ones((5, 5), bool)) & passable & np.isfinite(dist)
        cand &= dist * nav.res >= 0.5
        for f in self._failed:
            fr, fc = nav.cell(*f)
            fr, fc = fr - rs.start, fc - cs.start
            cand[max(0, fr - 3):max(0, fr + 4), max(0, fc - 3):max(0, fc + 4)] = False
        if not cand.any():
            return None
        rr, cc = np.nonzero(cand)
        k = int(np.argmin(dist[rr, cc]))
        rr, cc = rr + rs.start, cc + cs.start
        return nav.center(int(rr[k]), int(cc[k]))

    def _navigate(self, pose: Any, target: tuple[float, float], radius: float) -> int | None:
        """One action toward the cells within ``radius`` of ``target``; None when no path is known.

        Cells within the agent radius of an obstacle are impassable; cells within one more cell of
        one cost 3× (keep clear of walls where there is room, squeeze through doors where not);
        unknown cells cost 1.25× (optimistic, but known floor is preferred)."""
        from scipy.ndimage import binary_dilation

        from ..mapping3d.navgrid import BLOCKED, UNKNOWN, disk

        nav = self.map.nav
        nav.ensure(min(pose.x, target[0]), min(pose.y, target[1]), max(pose.x, target[0]), max(pose.y, target[1]))
        rs, cs = self._window(pose, target)
        passable = self._passable(pose, optimistic=True, margin=0.0)[rs, cs]
        g = nav.grid[rs, cs]
        near = binary_dilation(g == BLOCKED, structure=disk((self.agent_radius + nav.res) / nav.res))
        cost = 1.0 + 2.0 * near + 0.25 * (g == UNKNOWN)
        r0, c0 = nav.cell(pose.x, pose.y)
        r0, c0 = r0 - rs.start, c0 - cs.start
        H, W = passable.shape
        rr, cc = np.mgrid[rs, cs]
        cx = nav.x0 + (cc + 0.5) * nav.res
        cy = nav.y0 + (rr + 0.5) * nav.res
        goal_mask = passable & ((cx - target[0]) ** 2 + (cy - target[1]) ** 2 <= radius * radius)
        if not goal_mask.any():
            goal_mask = passable & ((cx - target[0]) ** 2 + (cy - target[1]) ** 2 <= (radius + 0.3) ** 2)
            if not goal_mask.any():
                return None
        dist = geodesic(passable, goal_mask, cost)
        if not math.isfinite(dist[r0, c0]):
            return None
        # follow the steepest descent; the waypoint is the farthest path cell in straight sight
        path = [(r0, c0)]
        r, c = r0, c0
        for _ in range(10):
            best = (dist[r, c], r, c)
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    nr, nc = r + dr, c + dc
                    if 0 <= nr < H and 0 <= nc < W and dist[nr, nc] < best[0]:
                        best = (dist[nr, nc], nr, nc)
            if (best[1], best[2]) == (r, c):
                break
            r, c = best[1], best[2]
            path.append((r, c))
        if len(path) == 1:
            wx, wy = target
        else:
            wr, wc = path[1]
            for pr, pc in reversed(path[2:]):
                if _clear(passable, (r0, c0), (pr, pc)):
                    wr, wc = pr, pc
                    break
            wx, wy = nav.center(wr + rs.start, wc + cs.start)
        ang = math.atan2(wy - pose.y, wx - pose.x) - pose.yaw
        ang = (ang + math.pi) % (2 * math.pi) - math.pi
        if abs(ang) > self.turn / 2 + 1e-6:
            return LEFT if ang > 0 else RIGHT
        return FORWARD


def _clear(passable: np.ndarray, a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether the straight segment between cells a and b crosses only passable cells (a excepted)."""
    n = int(2 * max(abs(b[0] - a[0]), abs(b[1] - a[1]))) + 1
    rs = np.rint(np.linspace(a[0], b[0], n + 1)).astype(int)
    cs = np.rint(np.linspace(a[1], b[1], n + 1)).astype(int)
    m = (rs != a[0]) | (cs != a[1])
    return bool(passable[rs[m], cs[m]].all())


class RandomSearchAgent(Agent):
    """Uniformly random move / turn actions; never calls ``stop`` (a floor for the success rate)."""

    name = "random"
    uses_memory = False

    def __init__(self, seed: int = 0) -> None:
        self._rng = np.random.default_rng(seed)

    def reset(self, memory: Any | None, *, seed: int | None = None) -> None:
        if seed is not None:
            self._rng = np.random.default_rng(seed)

    def act(self, obs: Any, info: Mapping[str, Any]) -> int:
        return int(self._rng.choice([FORWARD, FORWARD, LEFT, RIGHT]))


def _options(cfg: Mapping[str, Any] | None) -> dict[str, Any]:
    cfg = dict(cfg or {})
    # the agent group may carry other agents' settings (e.g. the Crafter planner's): only ours are read
    return {k: cfg[k] for k in _KNOWN_KEYS - {"name"} if k in cfg}


def make_robomemory(cfg: Mapping[str, Any] | None, env: Any, seed: int = 0) -> ObjectSearchAgent:
    """Object search with lifelong memory (fuses a TSDF map for the plot unless ``fuse: false``)."""
    opts = {"fuse": True, **_options(cfg)}
    return ObjectSearchAgent(env, use_memory=True, seed=seed, **opts)


def make_reactive(cfg: Mapping[str, Any] | None, env: Any, seed: int = 0) -> ObjectSearchAgent:
    """The same agent without lifelong memory (a working map of the current episode only)."""
    opts = _options(cfg)
    opts.pop("fuse", None)
    return ObjectSearchAgent(env, use_memory=False, seed=seed, **opts)


def make_random(cfg: Mapping[str, Any] | None, env: Any, seed: int = 0) -> RandomSearchAgent:
    return RandomSearchAgent(seed)


def make_agent(cfg: Mapping[str, Any] | None, env: Any, seed: int = 0) -> Agent:
    """Pick by ``cfg["name"]``: robomemory (with memory), reactive (without) or random."""
    name = (cfg or {}).get("name", "robomemory")
    makers = {"robomemory": make_robomemory, "reactive": make_reactive, "random": make_random}
    if name not in makers:
        raise ValueError(f"object search agent name must be one of {sorted(makers)}, got {name!r}")
    return makers[name](cfg, env, seed)
