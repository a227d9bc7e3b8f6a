"""Procedurally generated apartments: rooms, walls with doors, furniture and small labelled objects.

Everything is built from axis-aligned boxes in the **memory frame** (x–y floor plane, z up, metres;
the floor's top surface is z = 0). Each box is one semantic *instance* with a category name (what
Habitat's semantic scene calls an object) and the region (room) it lies in. ``Apartment.mesh()``
returns the triangle soup with a per-triangle instance id, which the renderer casts rays against.

Generation is deterministic in ``seed``: a grid of 3×2 or 3×3 rooms (or ``rooms=(columns, rows)``) (3–4.5 m each), doors (1 m
wide) along a random spanning tree of the room grid plus some extra doors, furniture against the
walls (away from doors), and small objects of distinct categories on furniture tops or the floor.
``navigable`` is the ground-truth floor grid for the agent's centre (used for collisions and for
SPL's shortest paths; agents never see it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Box", "Room", "Apartment", "generate_apartment", "STRUCTURE", "FURNITURE", "SMALL_OBJECTS"]

WALL_HEIGHT = 2.5
WALL_THICKNESS = 0.1
DOOR_WIDTH = 1.0
DOOR_HEIGHT = 2.1
STRUCTURE = ("floor", "wall", "ceiling")

# category: (size x, size y, height), colour (RGB 0-255)
FURNITURE: dict[str, tuple[tuple[float, float, float], tuple[int, int, int]]] = {
    "sofa": ((2.0, 0.9, 0.8), (70, 90, 160)),
    "bed": ((2.0, 1.5, 0.5), (200, 180, 150)),
    "table": ((1.2, 0.8, 0.75), (150, 100, 60)),
    "desk": ((1.3, 0.65, 0.75), (120, 80, 50)),
    "counter": ((1.8, 0.6, 0.9), (180, 180, 175)),
    "fridge": ((0.75, 0.7, 1.8), (235, 235, 240)),
    "shelf": ((1.0, 0.35, 1.6), (140, 110, 80)),
    "cabinet": ((0.9, 0.5, 1.0), (110, 70, 40)),
    "tv_stand": ((1.4, 0.4, 0.5), (60, 60, 60)),
    "toilet": ((0.45, 0.65, 0.45), (245, 245, 245)),
    "sink": ((0.6, 0.5, 0.85), (220, 225, 230)),
    "bathtub": ((1.6, 0.75, 0.55), (230, 235, 240)),
    "chair": ((0.5, 0.5, 0.9), (90, 60, 40)),
}
HAS_TOP = {"table", "desk", "counter", "cabinet", "tv_stand", "bed", "shelf", "sink"}

SMALL_OBJECTS: dict[str, tuple[tuple[float, float, float], tuple[int, int, int]]] = {
    "mug": ((0.1, 0.1, 0.12), (220, 40, 40)),
    "book": ((0.22, 0.16, 0.05), (40, 120, 220)),
    "laptop": ((0.34, 0.24, 0.03), (50, 50, 55)),
    "plant": ((0.3, 0.3, 0.6), (40, 160, 60)),
    "vase": ((0.15, 0.15, 0.3), (230, 200, 40)),
    "bottle": ((0.08, 0.08, 0.28), (30, 200, 180)),
    "clock": ((0.25, 0.08, 0.25), (250, 250, 250)),
    "teddy_bear": ((0.25, 0.2, 0.3), (170, 110, 60)),
    "toy_car": ((0.2, 0.1, 0.08), (250, 120, 0)),
    "lamp": ((0.25, 0.25, 0.5), (250, 240, 170)),
    "backpack": ((0.35, 0.2, 0.45), (150, 30, 120)),
    "basket": ((0.4, 0.3, 0.25), (190, 150, 90)),
    "ball": ((0.22, 0.22, 0.22), (240, 60, 160)),
    "box": ((0.4, 0.4, 0.3), (160, 130, 90)),
}
ON_FLOOR_OK = {"plant", "teddy_bear", "toy_car", "backpack", "basket", "ball", "box", "lamp"}

ROOM_FURNITURE: dict[str, list[str]] = {
    "living_room": ["sofa", "tv_stand", "shelf", "table"],
    "kitchen": ["counter", "fridge", "table", "cabinet"],
    "bedroom": ["bed", "cabinet", "desk", "shelf"],
    "bathroom": ["bathtub", "sink", "toilet", "cabinet"],
    "office": ["desk", "shelf", "chair", "cabinet"],
    "dining_room": ["table", "cabinet", "shelf", "chair"],
}
FLOOR_COLOURS = {"living_room": (190, 170, 140), "kitchen": (200, 200, 190), "bedroom": (170, 150, 130),
                 "bathroom": (210, 220, 225), "office": (160, 160, 150), "dining_room": (185, 160, 130)}


@dataclass(frozen=True)
class Box:
    """One axis-aligned box = one semantic instance. ``lo``/``hi`` are memory-frame corners (metres)."""

    id: int
    category: str
    lo: tuple[float, float, float]
    hi: tuple[float, float, float]
    colour: tuple[int, int, int]
    region: str | None = None
    kind: str = "structure"  # "structure", "furniture" or "object"

    @property
    def center(self) -> tuple[float, float, float]:
        return tuple((a + b) / 2 for a, b in zip(self.lo, self.hi))  # type: ignore[return-value]

    def surface_samples(self, spacing: float = 0.05) -> np.ndarray:
        """Points on the box's six faces, about ``spacing`` apart (for tests against fused maps)."""
        lo, hi = np.array(self.lo), np.array(self.hi)
        out = []
        for axis in range(3):
            a, b = [k for k in range(3) if k != axis]
            na = max(2, int(math.ceil((hi[a] - lo[a]) / spacing)) + 1)
            nb = max(2, int(math.ceil((hi[b] - lo[b]) / spacing)) + 1)
            ua, ub = np.meshgrid(np.linspace(lo[a], hi[a], na), np.linspace(lo[b], hi[b], nb))
            for v in (lo[axis], hi[axis]):
                p = np.zeros((ua.size, 3))
                p[:, a], p[:, b], p[:, axis] = ua.ravel(), ub.ravel(), v
                out.append(p)
        return np.concatenate(out)


@dataclass(frozen=True)
class Room:
    name: str  # unique, e.g. "kitchen" or "bedroom_2"
    category: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float


@dataclass
class Apartment:
    """A generated apartment: boxes (instances), rooms, and the ground-truth navigable grid."""

    seed: int
    rooms: list[Room]
    boxes: list[Box]
    doors: list[tuple[float, float, str]]  # (x, y, "x" | "y"): door centre and the wall's axis
    agent_radius: float
    nav_resolution: float
    nav_origin: tuple[float, float] = (0.0, 0.0)
    navigable: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), bool))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (min(r.xmin for r in self.rooms), min(r.ymin for r in self.rooms),
                max(r.xmax for r in self.rooms), max(r.ymax for r in self.rooms))

    def box(self, instance_id: int) -> Box:
        return self.boxes[instance_id - 1]

    def categories(self) -> dict[int, str]:
        """Instance id -> category name (id 0 is 'nothing')."""
        return {b.id: b.category for b in self.boxes}

    def objects(self, kind: str | None = None) -> list[Box]:
        return [b for b in self.boxes if kind is None or b.kind == kind]

    def room_at(self, x: float, y: float) -> Room | None:
        for r in self.rooms:
            if r.xmin <= x <= r.xmax and r.ymin <= y <= r.ymax:
                return r
        return None

    def mesh(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(vertices (V, 3) float32, triangles (T, 3) uint32, triangle instance ids (T,) uint32), memory frame."""
        verts, tris, ids = [], [], []
        # outward-facing triangles of a unit box, vertex k = (k & 1, k >> 1 & 1, k >> 2 & 1)
        faces = np.array([[0, 2, 1], [1, 2, 3], [4, 5, 6], [5, 7, 6], [0, 1, 4], [1, 5, 4],
                          [2, 6, 3], [3, 6, 7], [0, 4, 2], [2, 4, 6], [1, 3, 5], [3, 7, 5]])
        corners = np.array([[k & 1, (k >> 1) & 1, (k >> 2) & 1] for k in range(8)], float)
        for i, b in enumerate(self.boxes):
            lo, hi = np.array(b.lo), np.array(b.hi)
            verts.append(lo + corners * (hi - lo))
            tris.append(faces + 8 * i)
            ids.append(np.full(12, b.id))
        return (np.concatenate(verts).astype(np.float32), np.concatenate(tris).astype(np.uint32),
                np.concatenate(ids).astype(np.uint32))

    # ------------------------------------------------------------ navigation ground truth
    def nav_cell(self, x: float, y: float) -> tuple[int, int]:
        return (int(math.floor((y - self.nav_origin[1]) / self.nav_resolution)),
                int(math.floor((x - self.nav_origin[0]) / self.nav_resolution)))

    def is_navigable(self, x: float, y: float) -> bool:
        r, c = self.nav_cell(x, y)
        H, W = self.navigable.shape
        return 0 <= r < H and 0 <= c < W and bool(self.navigable[r, c])

    def nav_center(self, r: int, c: int) -> tuple[float, float]:
        return (self.nav_origin[0] + (c + 0.5) * self.nav_resolution,
                self.nav_origin[1] + (r + 0.5) * self.nav_resolution)

    def cells_near(self, x: float, y: float, radius: float) -> np.ndarray:
        """Boolean mask of navigable cells whose centre lies within ``radius`` (x–y) of (x, y)."""
        H, W = self.navigable.shape
        rr, cc = np.mgrid[0:H, 0:W]
        cx = self.nav_origin[0] + (cc + 0.5) * self.nav_resolution
        cy = self.nav_origin[1] + (rr + 0.5) * self.nav_resolution
        return self.navigable & ((cx - x) ** 2 + (cy - y) ** 2 <= radius * radius)


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float], margin: float) -> bool:
    return not (a[2] + margin <= b[0] or b[2] + margin <= a[0] or a[3] + margin <= b[1] or b[3] + margin <= a[1])


def generate_apartment(seed: int, *, agent_radius: float = 0.18, nav_resolution: float = 0.05,
                       n_small_objects: int = 10, rooms: tuple[int, int] | None = None) -> Apartment:
    """A deterministic apartment for ``seed`` (see the module docstring). Bad arguments raise ``ValueError``."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 < agent_radius < 0.45:
        raise ValueError(f"agent_radius must be in (0, 0.45) metres (doors are {DOOR_WIDTH} m wide), got {agent_radius}")
    if not 0 <= n_small_objects <= len(SMALL_OBJECTS):
        raise ValueError(f"n_small_objects must be in [0, {len(SMALL_OBJECTS)}], got {n_small_objects}")
    rng = np.random.default_rng(int(seed))
    if rooms is None:
        ncols, nrows = 3, int(rng.integers(2, 4))
    else:
        ncols, nrows = (int(v) for v in rooms)
        if not (1 <= ncols <= 5 and 1 <= nrows <= 5):
            raise ValueError(f"rooms must be (columns, rows) with 1..5 each, got {rooms}")
    xs = np.concatenate([[0.0], np.cumsum(rng.uniform(3.0, 4.5, ncols))]).round(2)
    ys = np.concatenate([[0.0], np.cumsum(rng.uniform(3.0, 4.5, nrows))]).round(2)
    types = list(ROOM_FURNITURE)
    kinds = list(rng.permutation(types)) + list(rng.choice(types, size=max(0, ncols * nrows - len(types))))
    rooms_: list[Room] = []
    grid: dict[tuple[int, int], Room] = {}
    used: dict[str, int] = {}
    for j in range(nrows):
        for i in range(ncols):
            cat = str(kinds[j * ncols + i])
            used[cat] = used.get(cat, 0) + 1
            name = cat if used[cat] == 1 else f"{cat}_{used[cat]}"
            r = Room(name, cat, float(xs[i]), float(ys[j]), float(xs[i + 1]), float(ys[j + 1]))
            rooms_.append(r)
            grid[(i, j)] = r
    rooms = rooms_

    # doors: a random spanning tree over the room grid, plus extra doors
    cells = list(grid)
    adj = [((i, j), (i + 1, j)) for i in range(ncols - 1) for j in range(nrows)] + \
          [((i, j), (i, j + 1)) for i in range(ncols) for j in range(nrows - 1)]
    order = rng.permutation(len(adj))
    parent = {c: c for c in cells}

    def find(c: tuple[int, int]) -> tuple[int, int]:
        while parent[c] != c:
            c = parent[c]
        return c

    connected: set[tuple[tuple[int, int], tuple[int, int]]] = set()
    for k in order:
        a, b = adj[k]
        if find(a) != find(b):
            parent[find(a)] = find(b)
            connected.add((a, b))
        elif rng.random() < 0.3:
            connected.add((a, b))

    boxes: list[Box] = []

    def add(category: str, lo: tuple[float, float, float], hi: tuple[float, float, float], colour: tuple[int, int, int],
            region: str | None, kind: str) -> Box:
        b = Box(len(boxes) + 1, category, tuple(float(v) for v in lo), tuple(float(v) for v in hi),  # type: ignore[arg-type]
                tuple(int(c) for c in colour), region, kind)  # type: ignore[arg-type]
        boxes.append(b)
        return b

    t, H = WALL_THICKNESS, WALL_HEIGHT
    for r in rooms:
        add("floor", (r.xmin, r.ymin, -0.05), (r.xmax, r.ymax, 0.0), FLOOR_COLOURS[r.category], r.name, "structure")
        add("ceiling", (r.xmin, r.ymin, H), (r.xmax, r.ymax, H + 0.05), (235, 235, 230), r.name, "structure")
    doors: list[tuple[float, float, str]] = []
    wall_colour = (225, 215, 200)

    def wall_x(y: float, x0: float, x1: float, door: bool, region: str | None) -> None:
        """A wall along x at height y from x0 to x1, optionally with a door."""
        if door:
            d = float(rng.uniform(x0 + 0.4 + DOOR_WIDTH / 2, x1 - 0.4 - DOOR_WIDTH / 2))
            doors.append((d, y, "x"))
            add("wall", (x0 - t / 2, y - t / 2, 0), (d - DOOR_WIDTH / 2, y + t / 2, H), wall_colour, region, "structure")
            add("wall", (d + DOOR_WIDTH / 2, y - t / 2, 0), (x1 + t / 2, y + t / 2, H), wall_colour, region, "structure")
            add("wall", (d - DOOR_WIDTH / 2, y - t / 2, DOOR_HEIGHT), (d + DOOR_WIDTH / 2, y + t / 2, H), wall_colour,
                region, "structure")
        else:
            add("wall", (x0 - t / 2, y - t / 2, 0), (x1 + t / 2, y + t / 2, H), wall_colour, region, "structure")

    def wall_y(x: float, y0: float, y1: float, door: bool, region: str | None) -> None:
        if door:
            d = float(rng.uniform(y0 + 0.4 + DOOR_WIDTH / 2, y1 - 0.4 - DOOR_WIDTH / 2))
            doors.append((x, d, "y"))
            add("wall", (x - t / 2, y0 - t / 2, 0), (x + t / 2, d - DOOR_WIDTH / 2, H), wall_colour, region, "structure")
            add("wall", (x - t / 2, d + DOOR_WIDTH / 2, 0), (x + t / 2, y1 + t / 2, H), wall_colour, region, "structure")
            add("wall", (x - t / 2, d - DOOR_WIDTH / 2, DOOR_HEIGHT), (x + t / 2, d + DOOR_WIDTH / 2, H), wall_colour,
                region, "structure")
        else:
            add("wall", (x - t / 2, y0 - t / 2, 0), (x + t / 2, y1 + t / 2, H), wall_colour, region, "structure")

    for i in range(ncols):  # horizontal walls (along x)
        for j in range(nrows + 1):
            inner = 0 < j < nrows
            door = inner and ((i, j - 1), (i, j)) in connected
            wall_x(float(ys[j]), float(xs[i]), float(xs[i + 1]), door, None)
    for j in range(nrows):  # vertical walls (along y)
        for i in range(ncols + 1):
            inner = 0 < i < ncols
            door = inner and ((i - 1, j), (i, j)) in connected
            wall_y(float(xs[i]), float(ys[j]), float(ys[j + 1]), door, None)

    # furniture against walls, away from doors
    keep_out = []
    for dx, dy, axis in doors:
        if axis == "x":
            keep_out.append((dx - DOOR_WIDTH / 2 - 0.35, dy - 1.1, dx + DOOR_WIDTH / 2 + 0.35, dy + 1.1))
        else:
            keep_out.append((dx - 1.1, dy - DOOR_WIDTH / 2 - 0.35, dx + 1.1, dy + DOOR_WIDTH / 2 + 0.35))
    furniture: list[Box] = []
    for r in rooms:
        placed: list[tuple[float, float, float, float]] = []
        n = int(rng.integers(2, 4))
        for cat in rng.permutation(ROOM_FURNITURE[r.category])[:n]:
            (sx, sy, sz), colour = FURNITURE[str(cat)]
            for _ in range(40):
                side = int(rng.integers(4))
                w, d = (sx, sy) if side in (0, 1) else (sy, sx)  # long side along the wall
                g = t / 2 + 0.03
                if side == 0:
                    x0 = rng.uniform(r.xmin + g, r.xmax - g - w)
                    y0 = r.ymin + g
                elif side == 1:
                    x0 = rng.uniform(r.xmin + g, r.xmax - g - w)
                    y0 = r.ymax - g - d
                elif side == 2:
                    x0 = r.xmin + g
                    y0 = rng.uniform(r.ymin + g, r.ymax - g - d)
                else:
                    x0 = r.xmax - g - w
                    y0 = rng.uniform(r.ymin + g, r.ymax - g - d)
                fp = (float(x0), float(y0), float(x0 + w), float(y0 + d))
                if any(_overlap(fp, p, 0.5) for p in placed) or any(_overlap(fp, k, 0.0) for k in keep_out):
                    continue
                placed.append(fp)
                furniture.append(add(str(cat), (fp[0], fp[1], 0.0), (fp[2], fp[3], sz), colour, r.name, "furniture"))
                break

    # small objects of distinct categories: on furniture tops or on the floor near a wall
    tops = [f for f in furniture if f.category in HAS_TOP]
    floor_spots: list[tuple[float, float, float, float]] = []
    for cat in rng.permutation(list(SMALL_OBJECTS))[:n_small_objects]:
        cat = str(cat)
        (sx, sy, sz), colour = SMALL_OBJECTS[cat]
        on_floor = cat in ON_FLOOR_OK and (not tops or rng.random() < 0.35)
        for _ in range(40):
            if not on_floor and tops:
                f = tops[int(rng.integers(len(tops)))]
                if f.hi[0] - f.lo[0] < sx + 0.12 or f.hi[1] - f.lo[1] < sy + 0.12:
                    continue
                x0 = rng.uniform(f.lo[0] + 0.05, f.hi[0] - 0.05 - sx)
                y0 = rng.uniform(f.lo[1] + 0.05, f.hi[1] - 0.05 - sy)
                fp = (float(x0), float(y0), float(x0 + sx), float(y0 + sy))
                if any(_overlap(fp, p, 0.05) for p in floor_spots):
                    continue
                floor_spots.append(fp)
                add(cat, (fp[0], fp[1], f.hi[2]), (fp[2], fp[3], f.hi[2] + sz), colour, f.region, "object")
                break
            r = rooms[int(rng.integers(len(rooms)))]
            x0 = rng.uniform(r.xmin + 0.1, r.xmax - 0.1 - sx)
            y0 = rng.uniform(r.ymin + 0.1, r.ymax - 0.1 - sy)
            if rng.random() < 0.7:  # near a wall, out of the way
                if rng.random() < 0.5:
                    y0 = r.ymin + 0.1 if rng.random() < 0.5 else r.ymax - 0.1 - sy
                else:
                    x0 = r.xmin + 0.1 if rng.random() < 0.5 else r.xmax - 0.1 - sx
            fp = (float(x0), float(y0), float(x0 + sx), float(y0 + sy))
            if any(_overlap(fp, f.lo[:2] + f.hi[:2], 0.3) for f in furniture) or \
                    any(_overlap(fp, k, 0.0) for k in keep_out) or any(_overlap(fp, p, 0.3) for p in floor_spots):
                continue
            floor_spots.append(fp)
            add(cat, (fp[0], fp[1], 0.0), (fp[2], fp[3], sz), colour, r.name, "object")
            break

    apt = Apartment(int(seed), rooms, boxes, doors, agent_radius, nav_resolution)
    _build_navigable(apt)
    return apt


def _build_navigable(apt: Apartment) -> None:
    """Ground-truth navigable cells for the agent centre: inside the apartment, ``agent_radius`` from
    any wall, furniture or floor object, in the largest connected component."""
    from scipy.ndimage import binary_dilation, label

    from embodied_mem.mapping3d.navgrid import disk

    res = apt.nav_resolution
    x0, y0, x1, y1 = apt.bounds
    W = int(math.ceil((x1 - x0) / res))
    H = int(math.ceil((y1 - y0) / res))
    blocked = np.zeros((H, W), bool)
    cx = x0 + (np.arange(W) + 0.5) * res
    cy = y0 + (np.arange(H) + 0.5) * res
    for b in apt.boxes:
        if b.category in ("floor", "ceiling") or b.lo[2] >= 1.8:  # door lintels do not block
            continue
        mx = (cx >= b.lo[0]) & (cx <= b.hi[0])
        my = (cy >= b.lo[1]) & (cy <= b.hi[1])
        blocked[np.ix_(my, mx)] = True
    blocked[0, :] = blocked[-1, :] = True
    blocked[:, 0] = blocked[:, -1] = True
    free = ~binary_dilation(blocked, structure=disk(apt.agent_radius / res))
    lab, n = label(free)
    if n == 0:
        raise RuntimeError(f"apartment {apt.seed} has no navigable floor")
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    apt.navigable = lab == int(sizes.argmax())
    apt.nav_origin = (x0, y0)
