"""The navigable floor as a 2-D grid in the memory frame (x–y floor plane, metres).

``NavGrid`` accumulates evidence from back-projected depth points: points on the floor (|z| below
``floor_tolerance``) mark their cell *free*; points between ``obstacle_min`` and ``obstacle_max``
above the floor mark it *blocked* (blocked wins over free). The grid grows as the agent sees more.
``geodesic`` gives shortest-path distances over a passability mask (8-connected, no corner
cutting), used both to plan and, by the embedded world, to compute SPL's shortest paths.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["NavGrid", "geodesic", "disk"]

UNKNOWN, FREE, BLOCKED = 0, 1, 2


def disk(radius_cells: float) -> np.ndarray:
    """Boolean disk structuring element of the given radius (in cells)."""
    r = max(0, int(math.ceil(radius_cells)))
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    return (xx * xx + yy * yy) <= radius_cells * radius_cells + 1e-9


def geodesic(passable: np.ndarray, sources: np.ndarray | Sequence[tuple[int, int]],
             cost: np.ndarray | None = None) -> np.ndarray:
    """Distances (in cells) from the nearest source to every cell over ``passable`` cells; inf if unreachable.

    ``passable`` is a boolean (H, W) array indexed [row, col]; ``sources`` a boolean mask of the same
    shape or a list of (row, col). Sources need not be passable themselves (a goal inside an
    obstacle is reached from its passable neighbours). Moves: 4 neighbours (cost 1) and diagonals
    (cost √2) when both adjoining orthogonal cells are passable. ``cost`` (H, W) >= 1, optional,
    multiplies each move by the mean cost of the two cells (e.g. to keep away from walls).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import dijkstra

    P = np.asarray(passable, dtype=bool)
    if P.ndim != 2:
        raise ValueError(f"passable must be a 2-D mask, got shape {P.shape}")
    if cost is not None:
        cost = np.asarray(cost, dtype=float)
        if cost.shape != P.shape or not (cost >= 1.0).all():
            raise ValueError(f"cost must be an array of shape {P.shape} with values >= 1")
    H, W = P.shape
    if isinstance(sources, np.ndarray) and sources.dtype == bool:
        if sources.shape != P.shape:
            raise ValueError(f"sources mask has shape {sources.shape}, expected {P.shape}")
        S = sources
    else:
        S = np.zeros_like(P)
        for r, c in sources:
            if 0 <= r < H and 0 <= c < W:
                S[r, c] = True
    if not S.any():
        return np.full((H, W), np.inf)
    nodes = P | S
    idx = np.arange(H * W).reshape(H, W)
    rows, cols, wts = [], [], []
    # each move (dr, dc) pairs cell a = [r, c] with b = [r + dr, c + dc]; dc may be -1
    for dr, dc, w in ((0, 1, 1.0), (1, 0, 1.0), (1, 1, math.sqrt(2)), (1, -1, math.sqrt(2))):
        ra = slice(0, H - dr)
        rb = slice(dr, H)
        ca = slice(max(0, -dc), W - max(0, dc))
        cb = slice(max(0, dc), W + min(0, dc))
        ok = nodes[ra, ca] & nodes[rb, cb] & (P[ra, ca] | P[rb, cb])
        if dr and dc:  # no corner cutting: both orthogonal cells passable
            ok &= P[rb, ca] & P[ra, cb]
        rows.append(idx[ra, ca][ok])
        cols.append(idx[rb, cb][ok])
        if cost is None:
            wts.append(np.full(int(ok.sum()), w))
        else:
            wts.append(w * 0.5 * (cost[ra, ca][ok] + cost[rb, cb][ok]))
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    w = np.concatenate(wts)
    g = coo_matrix((w, (r, c)), shape=(H * W, H * W)).tocsr()
    d = dijkstra(g, directed=False, indices=np.flatnonzero(S.ravel()), min_only=True)
    return np.asarray(d).reshape(H, W)


class NavGrid:
    """A growing occupancy grid of the floor, in the memory frame.

    ``resolution`` is the cell edge in metres; cell (row, col) covers
    ``x ∈ [x0 + col·res, x0 + (col+1)·res)``, ``y ∈ [y0 + row·res, …)``. Heights are memory-frame z
    (floor at z = 0). Bad parameters raise ``ValueError``.
    """

    def __init__(self, resolution: float = 0.1, *, floor_tolerance: float = 0.06, obstacle_min: float = 0.08,
                 obstacle_max: float = 1.7, margin: float = 4.0) -> None:
        if not (math.isfinite(resolution) and resolution > 0):
            raise ValueError(f"NavGrid resolution must be a positive number of metres, got {resolution}")
        if not obstacle_min < obstacle_max:
            raise ValueError(f"NavGrid needs obstacle_min < obstacle_max, got {obstacle_min} >= {obstacle_max}")
        self.res = float(resolution)
        self.floor_tolerance = float(floor_tolerance)
        self.obstacle_min = float(obstacle_min)
        self.obstacle_max = float(obstacle_max)
        self.margin = float(margin)
        self.x0 = self.y0 = 0.0
        self.grid = np.zeros((0, 0), np.uint8)
        self.seen_close = np.zeros((0, 0), bool)  # cells seen from within detection range (see mark_seen_close)

    # ------------------------------------------------------------ geometry
    @property
    def shape(self) -> tuple[int, int]:
        return self.grid.shape  # type: ignore[return-value]

    def cell(self, x: float, y: float) -> tuple[int, int]:
        """(row, col) of the point (may lie outside the grid)."""
        return (int(math.floor((y - self.y0) / self.res)), int(math.floor((x - self.x0) / self.res)))

    def center(self, row: int, col: int) -> tuple[float, float]:
        return (self.x0 + (col + 0.5) * self.res, self.y0 + (row + 0.5) * self.res)

    def inside(self, row: int, col: int) -> bool:
        H, W = self.grid.shape
        return 0 <= row < H and 0 <= col < W

    def ensure(self, xmin: float, ymin: float, xmax: float, ymax: float) -> None:
        """Grow the grid (with a margin) so the rectangle is covered; existing cells keep their state."""
        H, W = self.grid.shape
        if H and W:
            cx0, cy0 = self.x0, self.y0
            cx1, cy1 = cx0 + W * self.res, cy0 + H * self.res
            if xmin >= cx0 and ymin >= cy0 and xmax < cx1 and ymax < cy1:
                return
            nx0 = min(cx0, math.floor((xmin - self.margin) / self.res) * self.res) if xmin < cx0 else cx0
            ny0 = min(cy0, math.floor((ymin - self.margin) / self.res) * self.res) if ymin < cy0 else cy0
            nx1 = max(cx1, xmax + self.margin) if xmax >= cx1 else cx1
            ny1 = max(cy1, ymax + self.margin) if ymax >= cy1 else cy1
        else:
            nx0 = math.floor((xmin - self.margin) / self.res) * self.res
            ny0 = math.floor((ymin - self.margin) / self.res) * self.res
            nx1, ny1 = xmax + self.margin, ymax + self.margin
        nW = int(math.ceil((nx1 - nx0) / self.res))
        nH = int(math.ceil((ny1 - ny0) / self.res))
        g = np.zeros((nH, nW), np.uint8)
        if H and W:
            oc = int(round((self.x0 - nx0) / self.res))
            orow = int(round((self.y0 - ny0) / self.res))
            g[orow:orow + H, oc:oc + W] = self.grid
        sc = np.zeros((nH, nW), bool)
        if H and W:
            sc[orow:orow + H, oc:oc + W] = self.seen_close
        self.grid, self.seen_close, self.x0, self.y0 = g, sc, nx0, ny0

    # ------------------------------------------------------------ evidence
    def classify(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Split memory-frame points (N, 3) into floor points and obstacle points (each (M, 3))."""
        p = np.asarray(points, dtype=float).reshape(-1, 3)
        z = p[:, 2]
        floor = np.abs(z) <= self.floor_tolerance
        obst = (z >= self.obstacle_min) & (z <= self.obstacle_max)
        return p[floor], p[obst]

    def add_points(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Add evidence from memory-frame points; returns the (row, col) index arrays of free and blocked cells hit."""
        floor, obst = self.classify(points)
        if len(floor) == 0 and len(obst) == 0:
            return np.zeros((0, 2), int), np.zeros((0, 2), int)
        allp = np.concatenate([floor, obst])[:, :2]
        self.ensure(allp[:, 0].min(), allp[:, 1].min(), allp[:, 0].max(), allp[:, 1].max())
        fc = self._cells(floor)
        bc = self._cells(obst)
        g = self.grid
        if len(fc):
            sel = g[fc[:, 0], fc[:, 1]] != BLOCKED
            g[fc[sel, 0], fc[sel, 1]] = FREE
        if len(bc):
            g[bc[:, 0], bc[:, 1]] = BLOCKED
        return fc, bc

    def carve(self, origin: tuple[float, float], points: np.ndarray, *, max_range: float = 4.0,
              samples: int = 384) -> None:
        """Mark unknown cells free along the x–y segments from ``origin`` (the camera) to the seen
        points, each stopping at the first blocked cell (or 0.1 m short of an obstacle point).

        This fills the floor the camera looks over but cannot see (the blind zone at its feet);
        obstacles lower than the first blocked cell stay for the collision handling to find.
        ``samples`` points are used at most (evenly sub-sampled).
        """
        p = np.asarray(points, dtype=float).reshape(-1, 3)
        if len(p) == 0:
            return
        if len(p) > samples:
            p = p[:: int(math.ceil(len(p) / samples))]
        o = np.asarray(origin, float)[:2]
        v = p[:, :2] - o
        L = np.linalg.norm(v, axis=1)
        is_obst = p[:, 2] >= self.obstacle_min
        end = np.minimum(L - np.where(is_obst, 0.1, 0.0), max_range)
        ok = end > 0
        v, L, end = v[ok], L[ok], end[ok]
        if len(v) == 0:
            return
        self.ensure(o[0] - max_range, o[1] - max_range, o[0] + max_range, o[1] + max_range)
        step = self.res / 2
        n = int(math.ceil(max_range / step)) + 1
        s = np.arange(n) * step  # distances along each ray
        d = v / np.maximum(L, 1e-9)[:, None]
        xs = o[0] + d[:, :1] * s[None, :]
        ys = o[1] + d[:, 1:] * s[None, :]
        cols = np.floor((xs - self.x0) / self.res).astype(int)
        rows = np.floor((ys - self.y0) / self.res).astype(int)
        H, W = self.grid.shape
        inside = (rows >= 0) & (rows < H) & (cols >= 0) & (cols < W) & (s[None, :] <= end[:, None])
        rows = np.clip(rows, 0, H - 1)
        cols = np.clip(cols, 0, W - 1)
        state = self.grid[rows, cols]
        blocked_so_far = np.maximum.accumulate((state == BLOCKED) | ~inside, axis=1)
        mark = inside & ~blocked_so_far & (state == UNKNOWN)
        self.grid[rows[mark], cols[mark]] = FREE

    def mark_seen_close(self, origin: tuple[float, float], points: np.ndarray, max_range: float = 2.2) -> None:
        """Record the cells of ``points`` (x–y) within ``max_range`` metres of ``origin``: places
        looked at from close enough to spot small objects (used for coverage search)."""
        p = np.asarray(points, dtype=float).reshape(-1, 3)
        if len(p) == 0:
            return
        near = p[np.hypot(p[:, 0] - origin[0], p[:, 1] - origin[1]) <= max_range]
        if len(near) == 0:
            return
        self.ensure(near[:, 0].min(), near[:, 1].min(), near[:, 0].max(), near[:, 1].max())
        c = self._cells(near)
        self.seen_close[c[:, 0], c[:, 1]] = True

    def mark_blocked(self, x: float, y: float) -> None:
        self.ensure(x, y, x, y)
        r, c = self.cell(x, y)
        self.grid[r, c] = BLOCKED

    def mark_free(self, x: float, y: float, radius: float = 0.0) -> None:
        """Mark the disk around (x, y) free unless already blocked (e.g. where the agent stands)."""
        self.ensure(x - radius, y - radius, x + radius, y + radius)
        r, c = self.cell(x, y)
        k = disk(radius / self.res)
        h = k.shape[0] // 2
        sub = self.grid[r - h:r + h + 1, c - h:c + h + 1]
        m = k[: sub.shape[0], : sub.shape[1]] & (sub == UNKNOWN)
        sub[m] = FREE

    def _cells(self, pts: np.ndarray) -> np.ndarray:
        if len(pts) == 0:
            return np.zeros((0, 2), int)
        cols = np.floor((pts[:, 0] - self.x0) / self.res).astype(np.int64)
        rows = np.floor((pts[:, 1] - self.y0) / self.res).astype(np.int64)
        W = self.grid.shape[1]
        flat = np.unique(rows * W + cols)  # 1-D unique: much faster than unique(axis=0)
        return np.stack([flat // W, flat % W], axis=1)

    # ------------------------------------------------------------ queries
    def centers(self, state: int) -> np.ndarray:
        """(N, 2) x–y centres of the cells in ``state`` (1 free, 2 blocked)."""
        r, c = np.nonzero(self.grid == state)
        return np.stack([self.x0 + (c + 0.5) * self.res, self.y0 + (r + 0.5) * self.res], axis=1)

    def passable(self, agent_radius: float, *, optimistic: bool = True) -> np.ndarray:
        """Cells the agent's centre may occupy: not within ``agent_radius`` of a blocked cell,
        and (unless ``optimistic``) known free."""
        from scipy.ndimage import binary_dilation

        blocked = self.grid == BLOCKED
        if agent_radius > 0 and blocked.any():
            blocked = binary_dilation(blocked, structure=disk(agent_radius / self.res))
        ok = ~blocked
        if not optimistic:
            ok &= self.grid == FREE
        return ok

    def frontier(self) -> np.ndarray:
        """Boolean mask of known-free cells with an unknown 4-neighbour."""
        g = self.grid
        free = g == FREE
        unk = g == UNKNOWN
        nb = np.zeros_like(unk)
        nb[1:, :] |= unk[:-1, :]
        nb[:-1, :] |= unk[1:, :]
        nb[:, 1:] |= unk[:, :-1]
        nb[:, :-1] |= unk[:, 1:]
        return free & nb
