"""What the robot's skills and planner know of the world: spatial memory's beliefs, places and
frontiers, minus the targets the critic put aside, plus what this task has done (where the robot
looked around, which places it visited).

``key(xy)`` is the coarse key a position is put aside by: the 0.5 m square of the position snapped
to the planner's 0.25 m goal steps (``snap``), so a goal and the belief, frontier or place it was
made from always share a key (the executor puts the goal's key aside, the planner checks the
belief's). Frontier goals are the
known free cells bordering unknown space (``memory.spatial.frontiers``), grouped in 0.5 m squares;
a square with fewer than ``frontier_min_cells`` cells is noise and never a goal. Units: metres,
seconds, memory's world frame.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any

__all__ = ["RobotWorld", "key", "snap", "square_centre", "near_any"]

SQUARE = 0.5  # m: the size of the squares targets are put aside by and frontiers are grouped in
STEP = 0.25  # m: the planner's goal positions are snapped to this grid (a belief refined by a few cm is the same goal)


def snap(v: float) -> float:
    """``v`` (metres) rounded to the nearest multiple of ``STEP``; ``snap(snap(v)) == snap(v)``."""
    return round(float(v) / STEP) * STEP


def key(xy: tuple[float, float]) -> tuple[int, int]:
    """The 0.5 m square a target at ``xy`` (metres) is put aside by: that of ``xy`` snapped to the
    planner's goal steps, so ``key(xy) == key((snap(x), snap(y)))`` for every position: a goal
    snapped from a belief just below a square's edge (y = 6.95 -> 7.0) is the same target."""
    return (math.floor(snap(xy[0]) / SQUARE), math.floor(snap(xy[1]) / SQUARE))


def square_centre(k: tuple[int, int]) -> tuple[float, float]:
    """The middle (metres) of the positions whose ``key`` is ``k`` (for drawing put-aside targets)."""
    return ((k[0] + 0.5) * SQUARE - STEP / 2, (k[1] + 0.5) * SQUARE - STEP / 2)


def near_any(mask: Any, r: int) -> Any:
    """Cells of a 2-D bool grid with a True cell within ``r`` cells (a square box; box filter over
    an integral image); all False for ``r`` = 0."""
    import numpy as np

    if r <= 0:
        return np.zeros_like(mask, dtype=bool)
    ii = np.pad(mask.astype(np.int32), ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    h, w = mask.shape
    ys, xs = np.arange(h), np.arange(w)
    y0, y1 = np.clip(ys - r, 0, h), np.clip(ys + r + 1, 0, h)
    x0, x1 = np.clip(xs - r, 0, w), np.clip(xs + r + 1, 0, w)
    return (ii[y1][:, x1] - ii[y0][:, x1] - ii[y1][:, x0] + ii[y0][:, x0]) > 0


class RobotWorld:
    def __init__(self, memory: Any | None, config: Any) -> None:
        sp = getattr(memory, "spatial", None) if memory is not None else None
        self.memory = memory
        self.sp = sp if sp is not None and getattr(sp, "enabled", False) else None
        self.config = config
        self.aside: dict[tuple[str, Hashable], float] = {}
        self.strikes: dict[tuple[str, Hashable], int] = {}  # how often each target was put aside
        self.t = 0.0
        self.pose: tuple[float, float, float] | None = None
        self.looked: list[tuple[float, float, float]] = []  # (x, y, t) where a look-around finished
        self.visited: list[tuple[float, float, float]] = []  # (x, y, t) where a navigation goal was reached
        self.snapshot: dict[str, list[tuple[float, float, float]]] | None = None  # beliefs when a patrol began
        self.patrol: list[str] = []  # the place ids a patrol checks, chosen when it began

    # ------------------------------------------------------------------ WorldModel
    def update(self, state: Any) -> None:
        self.t = float(state.t)
        self.pose = state.pose

    def put_aside(self, label: str, where: Hashable, until: float) -> None:
        """Skip ``label`` at ``where`` until ``until`` (seconds); a target the critic gives up on a
        second time stays aside for good (until ``forget``), so an unreachable place ends the task
        instead of being retried each time its time-out runs out."""
        k = (label, where)
        self.strikes[k] = self.strikes.get(k, 0) + 1
        self.aside[k] = math.inf if self.strikes[k] >= 2 else float(until)

    def forget(self) -> None:
        self.aside.clear()
        self.strikes.clear()
        self.looked.clear()
        self.visited.clear()

    # ------------------------------------------------------------------ queries
    def is_aside(self, label: str, xy: tuple[float, float]) -> bool:
        return self.aside.get((label, key(xy)), -math.inf) > self.t

    def note_looked(self, xy: tuple[float, float]) -> None:
        self.looked.append((xy[0], xy[1], self.t))

    def note_visited(self, xy: tuple[float, float]) -> None:
        self.visited.append((xy[0], xy[1], self.t))

    def looked_near(self, xy: tuple[float, float], radius: float, since: float) -> bool:
        return any(t >= since and math.hypot(x - xy[0], y - xy[1]) <= radius for x, y, t in self.looked)

    def looked_since(self, since: float) -> bool:
        """Whether a look-around finished at or after ``since`` (seconds)."""
        return any(t >= since for _, _, t in self.looked)

    def visited_near(self, xy: tuple[float, float], radius: float, since: float) -> bool:
        return any(t >= since and math.hypot(x - xy[0], y - xy[1]) <= radius for x, y, t in self.visited)

    def beliefs(self, label: str) -> list[Any]:
        """Current beliefs of ``label`` not put aside, most recently seen first (``Location``s)."""
        if self.sp is None:
            return []
        return [loc for loc in self.sp.locate(label) if not self.is_aside(label, loc.position[:2])]

    def last_seen_places(self, label: str) -> list[Any]:
        """Where ``label`` was seen, most recently first: current beliefs, then locations memory no
        longer believes (negative evidence: looked there and missed it; a detector misses things),
        one per 0.5 m square, none put aside."""
        if self.sp is None:
            return []
        out, keys = [], set()
        current = self.beliefs(label)
        past = sorted((loc for loc in self.sp.history(label) if loc.valid_to is not None),
                      key=lambda loc: -loc.last_seen)
        for loc in current + past:
            k = key(loc.position[:2])
            if k in keys or self.is_aside(label, loc.position[:2]):
                continue
            keys.add(k)
            out.append(loc)
        return out

    def seen_from(self, label: str, xy: tuple[float, float], radius: float = 0.5) -> tuple[float, float] | None:
        """Where the robot stood (its trajectory in spatial memory) when it last saw ``label`` within
        ``radius`` m of ``xy``; None when memory has no such sighting or no pose then (±2 s)."""
        if self.sp is None:
            return None
        times = [loc.last_seen for loc in self.sp.history(label) if math.dist(loc.position[:2], xy) <= radius]
        if not times:
            return None
        t = max(times)
        poses = self.sp.trajectory(t - 2.0, t + 2.0)
        if not poses:
            return None
        _, pose = min(poses, key=lambda tp: abs(tp[0] - t))
        return (float(pose.x), float(pose.y))

    def seen_since(self, label: str, t0: float) -> list[Any]:
        """Beliefs of ``label`` seen at or after ``t0`` (during this task), not put aside."""
        return [loc for loc in self.beliefs(label) if loc.last_seen >= t0]

    def ever_seen(self, label: str) -> bool:
        return self.sp is not None and label in self.sp.labels()

    def frontier(self, near: tuple[float, float]) -> tuple[float, float] | None:
        """The nearest frontier goal not put aside, not where the robot already went during this
        task, and at least ``frontier_min_distance`` from ``near``; None when memory knows none. A frontier cell is known free floor with unknown space
        beside it and no blocked cell within ``frontier_clearance`` (cells along walls border the
        unknown space behind them: no goals there); cells are grouped in 0.5 m squares, and a square
        with fewer than ``frontier_min_cells`` is noise. The goal is the square's cell nearest its
        middle. Looked for within ``frontier_window`` m of ``near``."""
        if self.sp is None:
            return None
        import numpy as np

        cfg = self.config
        cells = self._frontier_cells(near)
        if cells is None or not len(cells):
            return None
        sq = np.floor(cells / SQUARE).astype(np.int64)
        keys, inv, counts = np.unique(sq, axis=0, return_inverse=True, return_counts=True)
        inv = inv.reshape(-1)
        best, best_d = None, math.inf
        for g in np.flatnonzero(counts >= cfg.frontier_min_cells):
            members = cells[inv == g]
            mid = members.mean(0)
            goal = members[np.argmin(((members - mid) ** 2).sum(1))]
            d = math.hypot(goal[0] - near[0], goal[1] - near[1])
            if d < cfg.frontier_min_distance or d >= best_d or self.is_aside("frontier", (goal[0], goal[1])):
                continue
            if any(math.hypot(goal[0] - x, goal[1] - y) <= cfg.frontier_tolerance + 0.4 for x, y, _ in self.visited):
                continue  # reached during this task and still a frontier: unknown space it cannot see into
            best, best_d = (float(goal[0]), float(goal[1])), d
        return best

    def _frontier_cells(self, near: tuple[float, float]) -> Any:
        """(N, 2) centres (metres) of frontier cells within ``frontier_window`` of ``near``."""
        import numpy as np

        sp, cfg = self.sp, self.config
        cs = float(sp.config.cell_size)
        known, _ = sp.occupancy_cells()
        if not len(known):
            return None
        half = int(cfg.frontier_window / cs / 2)
        cx, cy = sp.cell_of((near[0], near[1], 0.0))
        lo, hi = known.min(0), known.max(0)
        ix0, iy0 = max(int(lo[0]), cx - half) - 1, max(int(lo[1]), cy - half) - 1
        ix1, iy1 = min(int(hi[0]), cx + half) + 1, min(int(hi[1]), cy + half) + 1
        if ix1 < ix0 or iy1 < iy0:
            return None
        g, _ = sp.occupancy_grid(window=(ix0, iy0, ix1, iy1))
        free, unknown, blocked = g == 1, g == 0, g == 2
        edge = np.zeros_like(free)
        edge[1:, :] |= unknown[:-1, :]
        edge[:-1, :] |= unknown[1:, :]
        edge[:, 1:] |= unknown[:, :-1]
        edge[:, :-1] |= unknown[:, 1:]
        near_wall = near_any(blocked, max(0, int(math.ceil(cfg.frontier_clearance / cs))))
        rows, cols = np.nonzero(free & edge & ~near_wall)
        return np.stack([(cols + ix0) * cs, (rows + iy0) * cs], axis=1)

    def places_by_age(self) -> list[Any]:
        """Known places, checked longest ago first (never-visited ones first), not put aside."""
        if self.sp is None:
            return []
        places = [p for p in self.sp.places() if not self.is_aside("place", p.position[:2])]
        places.sort(key=lambda p: (p.last_visit if p.last_visit is not None else -math.inf, p.id))
        return places

    def approach_goal(self, obj: tuple[float, float], robot: tuple[float, float],
                      seen_from: tuple[float, float] | None = None) -> tuple[float, float, float]:
        """A goal pose next to the object at ``obj``, facing it: the known free cell between
        ``approach`` - 0.25 m and ``reach`` - 0.15 m from it, on the side it was seen from (within
        ``approach_cone`` rad of the bearing from the object to ``seen_from``, where the robot stood
        when it saw it: the camera had a line of sight from there, while a cell as near on the other
        side of a wall looks at the wall), at least ``approach_clearance`` m from every blocked cell
        of the occupancy map (a cell beside a cabinet or under a table edge is free to the laser but
        not to the wheels), nearest the robot. Rules are dropped in turn (clearance, then side) where
        no cell meets them; with no known free cell in the ring, the point ``approach`` m from the
        object towards the robot."""
        cfg = self.config
        a = float(cfg.approach)
        lo_r, hi_r = max(0.2, a - 0.25), max(a + 0.1, float(cfg.reach) - 0.15)
        best = None
        if self.sp is not None:
            import numpy as np

            cs = float(self.sp.config.cell_size)
            clear = float(getattr(cfg, "approach_clearance", 0.3))
            rc = max(0, int(math.ceil(clear / cs)))
            r = int(math.ceil(hi_r / cs)) + 1
            ox, oy = self.sp.cell_of((obj[0], obj[1], 0.0))
            g, (ix0, iy0) = self.sp.occupancy_grid(window=(ox - r - rc, oy - r - rc, ox + r + rc, oy + r + rc))
            free, blocked = g == 1, g == 2
            ys, xs = np.mgrid[0:g.shape[0], 0:g.shape[1]]
            X, Y = (xs + ix0) * cs, (ys + iy0) * cs
            d_obj = np.hypot(X - obj[0], Y - obj[1])
            ring = free & (d_obj >= lo_r) & (d_obj <= hi_r)
            d_rob = np.hypot(X - robot[0], Y - robot[1])
            clear_ok = ~near_any(blocked, rc)
            if seen_from is not None and math.dist(seen_from, obj) > 0.2:
                side = math.atan2(seen_from[1] - obj[1], seen_from[0] - obj[0])
                dev = np.abs(np.angle(np.exp(1j * (np.arctan2(Y - obj[1], X - obj[0]) - side))))
                cone = dev <= float(getattr(cfg, "approach_cone", 1.2))
                options = (ring & cone & clear_ok, ring & cone, ring & clear_ok, ring)
            else:
                options = (ring & clear_ok, ring)
            for cand in options:
                if cand.any():
                    i = np.flatnonzero(cand.ravel())[int(np.argmin(d_rob.ravel()[cand.ravel()]))]
                    best = (float(X.ravel()[i]), float(Y.ravel()[i]))
                    break
        if best is None:
            d = math.hypot(robot[0] - obj[0], robot[1] - obj[1])
            if d <= a:
                best = robot
            else:
                f = a / d
                best = (obj[0] + (robot[0] - obj[0]) * f, obj[1] + (robot[1] - obj[1]) * f)
        return (best[0], best[1], math.atan2(obj[1] - best[1], obj[0] - best[0]))

    def beliefs_now(self) -> dict[str, list[tuple[float, float, float]]]:
        """Every label's current believed positions (for a patrol's report of what changed)."""
        if self.sp is None:
            return {}
        return {label: [loc.position for loc in self.sp.locate(label)] for label in self.sp.labels()}
