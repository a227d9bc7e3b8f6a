"""A changing household: residents move things on daily routines, doors open and close.

``Household(seed)`` builds an apartment (``generate_apartment``, no static small objects) and
writes the **event log** of a few simulated days: every move of every movable object and every
door change, in seconds since day 0, 00:00. The log is the ground truth; nothing else is.

- **Places** are the surfaces objects lie on (tops of tables, desks, counters, cabinets, sinks,
  beds, TV stands; shelves are above the camera and left out), named ``"<room>:<furniture>"``,
  and (``floor_places``) one spot on the floor in the middle of each room, ``"<room>:floor"``.
  Each has a *stand point* (a navigable spot next to it, where the robot stops) and a surface point.
- **Objects** (``mug``, ``keys``, ...) follow one of three behaviours:
  ``routine`` (a home place per time-of-day slot, followed with probability ``p_follow``, else a
  random place), ``away`` (a routine object that on most days leaves the home in the morning and
  comes back in the evening: keys, backpack), ``anywhere`` (toys: moved every few hours to one of
  three favourite places, none of them dominant). On day ``change_day`` some routines change.
- **Doors** (up to ``n_doors`` interior doors) are closed most nights and for stretches of the day.
  A closed door blocks both passage and sight.

Slots (hours): night 23-7, morning 7-10, midday 10-13, afternoon 13-18, evening 18-23.

**Sensor model** (documented cheaper stand-in for rendering every frame): from a stand point the
robot looks all around (a 360° turn of the indoor3d camera, 1.25 m high). A place's surface is
*visible* when the ray from the camera to its surface point (5 cm above the top) reaches it
without hitting walls or furniture of the apartment's mesh (open3d ``RaycastingScene``, the
indoor3d renderer's geometry), crosses no closed door and is at most ``sensor_range`` metres
long; every object on a visible surface is seen. Doors are seen the same way (ray to the door's
centre at 1 m height). Nothing else is reported.

**World files** (``save``/``load``): JSON with ``format: "embodied_mem.household"``, ``version``,
``seed``, ``params`` and the ``events``; loading regenerates the apartment from the seed and replays
the stored events (not regenerated), after checking every field: a bad file raises
``HouseholdFileError`` (a ``ValueError``) naming the field, and nothing is loaded.
"""

from __future__ import annotations

import bisect
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .world import HAS_TOP, Apartment, generate_apartment

__all__ = ["Household", "Place", "Door", "HouseholdFileError", "SLOTS", "slot_of", "DAY", "OBJECT_KINDS",
           "FORMAT", "VERSION", "stratified_seeds"]

DAY = 86400.0
FORMAT = "embodied_mem.household"
VERSION = 1
SLOTS: tuple[tuple[str, float, float], ...] = (("morning", 7, 10), ("midday", 10, 13), ("afternoon", 13, 18),
                                                 ("evening", 18, 23), ("night", 23, 31))
# object -> behaviour, in the order objects are taken (n_objects of them)
OBJECT_KINDS: dict[str, str] = {"mug": "routine", "keys": "away", "book": "routine", "teddy_bear": "anywhere",
                                "laptop": "routine", "backpack": "away", "bottle": "routine", "toy_car": "anywhere",
                                "basket": "routine", "ball": "anywhere"}
CAMERA_HEIGHT = 1.25
PLACE_FURNITURE = HAS_TOP - {"shelf"}


def slot_of(t: float) -> str:
    """The time-of-day slot name of time ``t`` (seconds since day 0, 00:00)."""
    h = (t % DAY) / 3600.0
    if h < 7:
        h += 24
    for name, a, b in SLOTS:
        if a <= h < b:
            return name
    return "night"


def _slot_start(day: int, slot: str) -> float:
    for name, a, _ in SLOTS:
        if name == slot:
            return day * DAY + a * 3600.0
    raise ValueError(slot)


def stratified_seeds(first: int, n: int, rooms: tuple[int, int] | None = None) -> list[int]:
    """``n`` household seeds from ``first`` on, taken in seed order so that every home size the
    apartment generator draws occurs equally often (a benchmark's seed set then does not depend on
    the luck of the draw: with the default generator half the homes have 6 rooms (3 x 2) and half 9
    (3 x 3); 8 seeds taken in plain order can hold 6 of the larger kind, 24 only 8, and a search
    without memory is much cheaper in a small home). With a fixed ``rooms`` grid every home has the
    same size: the seeds ``first .. first + n - 1``. ``n`` odd: the larger size gets the extra
    seed. Deterministic; raises ``ValueError`` for ``n < 1``."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if rooms is not None:
        return list(range(first, first + n))
    want = {6: n // 2, 9: n - n // 2}  # the generator's 3 x 2 and 3 x 3 grids
    out: list[int] = []
    seed = first
    while len(out) < n:
        size = len(generate_apartment(seed, n_small_objects=0).rooms)
        if want.get(size, 0) > 0:
            want[size] -= 1
            out.append(seed)
        seed += 1
        if seed > first + 100 * n:  # the generator changed its sizes: say so rather than loop
            raise RuntimeError(f"stratified_seeds: no {sorted(k for k, v in want.items() if v)}-room homes "
                               f"among seeds {first}..{seed - 1}")
    return out


class HouseholdFileError(ValueError):
    """A household world file is malformed; the message names the field."""


@dataclass(frozen=True)
class Place:
    name: str  # "<room>:<furniture>"
    room: str
    stand: tuple[float, float]  # where the robot stops (metres, world frame)
    surface: tuple[float, float, float]  # centre of the top surface (metres)
    half: tuple[float, float]  # half extents of the top (x, y)


@dataclass(frozen=True)
class Door:
    name: str  # "door:<room a>|<room b>"
    x: float
    y: float
    axis: str  # the wall runs along "x" or "y"
    rooms: tuple[str, str]

    def segment(self) -> tuple[tuple[float, float], tuple[float, float]]:
        if self.axis == "x":
            return (self.x - 0.5, self.y), (self.x + 0.5, self.y)
        return (self.x, self.y - 0.5), (self.x, self.y + 0.5)


class Household:
    """The household of ``seed`` over ``days`` days (see the module docstring). Deterministic."""

    DEFAULTS: dict[str, Any] = {"days": 5, "n_objects": 9, "n_doors": 3, "p_follow": 0.9, "p_away": 0.7,
                                "change_day": 2, "p_change": 0.5, "anywhere_every_h": 2.5, "sensor_range": 3.0,
                                "rooms": None, "floor_places": False}

    def __init__(self, seed: int = 0, *, events: list[dict[str, Any]] | None = None, **params: Any) -> None:
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise TypeError(f"seed must be an int, got {type(seed).__name__}")
        unknown = set(params) - set(self.DEFAULTS)
        if unknown:
            raise ValueError(f"unknown household parameter(s) {sorted(unknown)}; valid: {sorted(self.DEFAULTS)}")
        self.seed = int(seed)
        self.params = {**self.DEFAULTS, **params}
        p = self.params
        if not isinstance(p["days"], int) or not 1 <= p["days"] <= 60:
            raise ValueError(f"days must be an int in 1..60, got {p['days']!r}")
        if not isinstance(p["n_objects"], int) or not 1 <= p["n_objects"] <= len(OBJECT_KINDS):
            raise ValueError(f"n_objects must be an int in 1..{len(OBJECT_KINDS)}, got {p['n_objects']!r}")
        for k in ("p_follow", "p_away", "p_change"):
            if not isinstance(p[k], (int, float)) or not 0 <= p[k] <= 1:
                raise ValueError(f"{k} must be a probability in [0, 1], got {p[k]!r}")
        rooms = tuple(p["rooms"]) if p["rooms"] is not None else None
        self.apartment: Apartment = generate_apartment(self.seed, n_small_objects=0, rooms=rooms)
        self.places = self._make_places()
        if len(self.places) < 4:
            raise RuntimeError(f"household {seed}: only {len(self.places)} reachable places")
        self.place_index = {pl.name: i for i, pl in enumerate(self.places)}
        self.doors = self._make_doors(int(p["n_doors"]))
        self.objects: dict[str, str] = dict(list(OBJECT_KINDS.items())[: p["n_objects"]])
        self.horizon = p["days"] * DAY
        self._scene: Any = None
        self._dist_cache: dict[tuple[bool, ...], np.ndarray] = {}
        self.events = self._simulate() if events is None else self._check_events(events)
        self._index()

    # ------------------------------------------------------------------ geometry
    def _make_places(self) -> list[Place]:
        apt = self.apartment
        nav = apt.navigable
        free = np.argwhere(nav)
        centres = np.array([apt.nav_center(int(r), int(c)) for r, c in free]) if len(free) else np.zeros((0, 2))
        out: list[Place] = []
        used: dict[str, int] = {}
        for b in apt.objects("furniture"):
            if b.category not in PLACE_FURNITURE or b.region is None:
                continue
            # nearest free cell to the footprint, at most 0.5 m from its edge
            dx = np.maximum(np.maximum(b.lo[0] - centres[:, 0], centres[:, 0] - b.hi[0]), 0)
            dy = np.maximum(np.maximum(b.lo[1] - centres[:, 1], centres[:, 1] - b.hi[1]), 0)
            d = np.hypot(dx, dy)
            k = int(d.argmin()) if len(d) else -1
            if k < 0 or d[k] > 0.5:
                continue
            name = f"{b.region}:{b.category}"
            used[name] = used.get(name, 0) + 1
            if used[name] > 1:
                name += f"_{used[name]}"
            out.append(Place(name, b.region, (round(float(centres[k, 0]), 3), round(float(centres[k, 1]), 3)),
                             (round(b.center[0], 3), round(b.center[1], 3), round(b.hi[2], 3)),
                             ((b.hi[0] - b.lo[0]) / 2, (b.hi[1] - b.lo[1]) / 2)))
        if self.params["floor_places"]:  # one spot on the floor per room (toys, bags), near its middle
            for r in apt.rooms:
                cx, cy = (r.xmin + r.xmax) / 2, (r.ymin + r.ymax) / 2
                inside = (centres[:, 0] > r.xmin + 0.5) & (centres[:, 0] < r.xmax - 0.5) & \
                         (centres[:, 1] > r.ymin + 0.5) & (centres[:, 1] < r.ymax - 0.5)
                if not inside.any():
                    continue
                idx = np.flatnonzero(inside)
                k = int(idx[np.argmin(np.hypot(centres[idx, 0] - cx, centres[idx, 1] - cy))])
                x, y = round(float(centres[k, 0]), 3), round(float(centres[k, 1]), 3)
                out.append(Place(f"{r.name}:floor", r.name, (x, y), (x, y, 0.0), (0.3, 0.3)))
        return out

    def _make_doors(self, n: int) -> list[Door]:
        apt = self.apartment
        rng = np.random.default_rng([self.seed, 7])
        doors = []
        for x, y, axis in apt.doors:
            eps = 0.3
            a = apt.room_at(x, y - eps) if axis == "x" else apt.room_at(x - eps, y)
            b = apt.room_at(x, y + eps) if axis == "x" else apt.room_at(x + eps, y)
            if a is None or b is None:
                continue
            doors.append(Door(f"door:{a.name}|{b.name}", float(x), float(y), axis, (a.name, b.name)))
        if len(doors) > n:
            keep = sorted(rng.choice(len(doors), n, replace=False).tolist())
            doors = [doors[i] for i in keep]
        return doors

    def object_position(self, obj: str, place: str) -> tuple[float, float, float]:
        """Where ``obj`` lies on ``place`` (metres): the surface point plus a fixed small offset per object."""
        pl = self.places[self.place_index[place]]
        k = list(self.objects).index(obj)
        ang = 2.399963 * k  # golden angle: objects on one surface do not coincide
        r = min(0.25, 0.8 * min(pl.half))
        return (round(pl.surface[0] + r * math.cos(ang), 3), round(pl.surface[1] + r * math.sin(ang), 3),
                round(pl.surface[2] + 0.05, 3))

    # ------------------------------------------------------------------ the residents
    def _simulate(self) -> list[dict[str, Any]]:
        p = self.params
        names = [pl.name for pl in self.places]
        ev: list[dict[str, Any]] = []
        slots = [s for s, _, _ in SLOTS]
        for oi, (obj, kind) in enumerate(self.objects.items()):
            orng = np.random.default_rng([self.seed, 100 + oi])
            if kind == "anywhere":
                fav = [str(x) for x in orng.choice(names, 3, replace=False)]
                w = np.array([0.45, 0.35, 0.2])
                cur = fav[0]
                ev.append({"t": 0.0, "kind": "move", "what": obj, "to": cur})
                t = 7 * 3600.0
                while True:
                    t += float(orng.exponential(p["anywhere_every_h"] * 3600.0)) + 600.0
                    if t >= self.horizon:
                        break
                    h = (t % DAY) / 3600.0
                    if not 7 <= h < 22:
                        continue
                    nxt = fav[int(orng.choice(3, p=w))] if orng.random() < 0.9 else names[int(orng.integers(len(names)))]
                    if nxt != cur:
                        ev.append({"t": round(t, 1), "kind": "move", "what": obj, "to": nxt})
                        cur = nxt
                continue
            # a home place per slot, consecutive slots on different places (kitchen -> desk -> sink)
            homes_pool = [str(x) for x in orng.choice(names, min(4, len(names)), replace=False)]
            homes = {}
            for i, s in enumerate(slots):
                homes[s] = homes_pool[i % len(homes_pool)] if orng.random() < 0.7 else \
                    homes_pool[int(orng.integers(len(homes_pool)))]
            cur = homes["night"]
            ev.append({"t": 0.0, "kind": "move", "what": obj, "to": cur})
            for day in range(p["days"]):
                if day == p["change_day"] and orng.random() < p["p_change"]:
                    s = slots[int(orng.integers(len(slots)))]
                    new = [n for n in names if n != homes[s]][int(orng.integers(len(names) - 1))]
                    ev.append({"t": day * DAY + 1.0, "kind": "routine", "what": obj, "to": f"{s}={new}"})
                    homes[s] = new
                away = kind == "away" and orng.random() < p["p_away"]
                for s in slots:
                    t = _slot_start(day, s) + float(np.clip(orng.normal(0, 900.0), -1800, 1800))
                    if t >= self.horizon:
                        break
                    if away and s in ("midday", "afternoon"):
                        nxt = None
                    elif orng.random() < p["p_follow"]:
                        nxt = homes[s]
                    else:
                        nxt = names[int(orng.integers(len(names)))]
                    if nxt != cur:
                        ev.append({"t": round(t, 1), "kind": "move", "what": obj, "to": nxt})
                        cur = nxt
        for door in self.doors:
            drng = np.random.default_rng([self.seed, 500 + self.doors.index(door)])
            ev.append({"t": 0.0, "kind": "door", "what": door.name, "to": "closed"})
            for day in range(p["days"]):
                stretches = [(day * DAY + 7 * 3600 + drng.normal(0, 1200), None)]  # opened in the morning
                for _ in range(2):
                    if drng.random() < 0.7:
                        a = day * DAY + drng.uniform(8.5, 21) * 3600
                        stretches.append((a, a + drng.uniform(45, 150) * 60))
                close_night = drng.random() < 0.7
                ev.append({"t": round(float(stretches[0][0]), 1), "kind": "door", "what": door.name, "to": "open"})
                for a, b in stretches[1:]:
                    ev.append({"t": round(float(a), 1), "kind": "door", "what": door.name, "to": "closed"})
                    ev.append({"t": round(float(b), 1), "kind": "door", "what": door.name, "to": "open"})
                if close_night:
                    ev.append({"t": round(day * DAY + 23 * 3600 + drng.normal(0, 1200), 1), "kind": "door",
                               "what": door.name, "to": "closed"})
        ev = [e for e in ev if e["t"] < self.horizon]
        ev.sort(key=lambda e: (e["t"], e["kind"], e["what"]))
        return ev

    def _index(self) -> None:
        self._moves: dict[str, tuple[list[float], list[Any]]] = {o: ([], []) for o in self.objects}
        self._doorlog: dict[str, tuple[list[float], list[bool]]] = {d.name: ([], []) for d in self.doors}
        for e in self.events:
            if e["kind"] == "move":
                ts, vs = self._moves[e["what"]]
                ts.append(e["t"])
                vs.append(e["to"])
            elif e["kind"] == "door":
                ts, vs = self._doorlog[e["what"]]
                ts.append(e["t"])
                vs.append(e["to"] == "open")

    # ------------------------------------------------------------------ ground truth
    def where(self, obj: str, t: float) -> str | None:
        """The place ``obj`` lies on at time ``t`` (None: taken out of the home). From the log."""
        ts, vs = self._moves[obj]
        i = bisect.bisect_right(ts, t) - 1
        return vs[i] if i >= 0 else None

    def door_open(self, door: str, t: float) -> bool:
        ts, vs = self._doorlog[door]
        i = bisect.bisect_right(ts, t) - 1
        return vs[i] if i >= 0 else True

    def doors_state(self, t: float) -> tuple[bool, ...]:
        return tuple(self.door_open(d.name, t) for d in self.doors)

    def in_room(self, room: str, t: float) -> set[str]:
        """Objects lying in ``room`` at ``t`` (truth)."""
        out = set()
        for o in self.objects:
            w = self.where(o, t)
            if w is not None and self.places[self.place_index[w]].room == room:
                out.add(o)
        return out

    def state(self, t: float) -> dict[str, Any]:
        """The whole household at time ``t`` (truth, for simulators and robots built on it):
        ``objects`` {name: (place or None, position (x, y, z) metres or None)} and ``doors``
        {name: is_open}."""
        objs = {}
        for o in self.objects:
            w = self.where(o, t)
            objs[o] = (w, self.object_position(o, w) if w is not None else None)
        return {"objects": objs, "doors": {d.name: self.door_open(d.name, t) for d in self.doors}}

    def moves(self, obj: str) -> list[tuple[float, str | None]]:
        ts, vs = self._moves[obj]
        return list(zip(ts, vs))

    # ------------------------------------------------------------------ navigation (truth, for the env)
    def distances(self, t: float) -> np.ndarray:
        """(P, P) geodesic distances (metres) between stand points with the doors as they are at ``t``
        (inf: a closed door is in the way)."""
        state = self.doors_state(t)
        d = self._dist_cache.get(state)
        if d is None:
            d = self._dist_cache[state] = self._geodesics(state)
        return d

    def _geodesics(self, state: tuple[bool, ...]) -> np.ndarray:
        from embodied_mem.mapping3d.navgrid import geodesic

        apt = self.apartment
        nav = apt.navigable
        H, W = nav.shape
        H2, W2 = H // 2, W // 2
        coarse = nav[:H2 * 2, :W2 * 2].reshape(H2, 2, W2, 2).all(axis=(1, 3))
        res = apt.nav_resolution * 2
        ox, oy = apt.nav_origin
        cx = ox + (np.arange(W2) + 0.5) * res
        cy = oy + (np.arange(H2) + 0.5) * res
        grid = coarse.copy()
        for door, is_open in zip(self.doors, state):
            if is_open:
                continue
            if door.axis == "x":
                mx, my = np.abs(cx - door.x) <= 0.7, np.abs(cy - door.y) <= 0.25
            else:
                mx, my = np.abs(cx - door.x) <= 0.25, np.abs(cy - door.y) <= 0.7
            grid[np.ix_(my, mx)] = False
        cells = []
        for pl in self.places:
            r = int(np.clip((pl.stand[1] - oy) // res, 0, H2 - 1))
            c = int(np.clip((pl.stand[0] - ox) // res, 0, W2 - 1))
            if not grid[r, c]:  # the fine stand cell's coarse cell is not all free: nearest free coarse cell
                free = np.argwhere(coarse)
                k = int(np.argmin((free[:, 0] - r) ** 2 + (free[:, 1] - c) ** 2))
                r, c = int(free[k, 0]), int(free[k, 1])
            cells.append((r, c))
        n = len(self.places)
        out = np.full((n, n), np.inf)
        for i, (r, c) in enumerate(cells):
            if not grid[r, c]:
                continue
            g = geodesic(grid, [(r, c)]) * res
            for j, (r2, c2) in enumerate(cells):
                out[i, j] = g[r2, c2] if grid[r2, c2] else np.inf
        np.fill_diagonal(out, 0.0)
        return out

    # ------------------------------------------------------------------ the sensor
    def _ray_scene(self) -> Any:
        if self._scene is None:
            from embodied_mem.deps import require

            o3d = require("open3d", "the household world's sensor")
            verts, tris, _ = self.apartment.mesh()
            scene = o3d.t.geometry.RaycastingScene()
            mesh = o3d.t.geometry.TriangleMesh()
            mesh.vertex.positions = o3d.core.Tensor(verts)
            mesh.triangle.indices = o3d.core.Tensor(tris)
            scene.add_triangles(mesh)
            self._scene = (scene, o3d)
        return self._scene

    def _visible(self, origin: tuple[float, float], targets: np.ndarray, t: float) -> np.ndarray:
        """Which of the (N, 3) target points the camera at ``origin`` sees at time ``t``."""
        if len(targets) == 0:
            return np.zeros(0, bool)
        scene, o3d = self._ray_scene()
        cam = np.array([origin[0], origin[1], CAMERA_HEIGHT])
        d = targets - cam
        dist = np.linalg.norm(d, axis=1)
        rays = np.concatenate([np.repeat(cam[None], len(d), 0), d / np.maximum(dist, 1e-9)[:, None]], 1)
        hit = scene.cast_rays(o3d.core.Tensor(rays.astype(np.float32)), nthreads=1)["t_hit"].numpy()
        ok = (dist <= self.params["sensor_range"]) & ~(hit < dist - 0.06)
        for door, is_open in zip(self.doors, self.doors_state(t)):
            if is_open:
                continue
            (ax, ay), (bx, by) = door.segment()
            for i in np.flatnonzero(ok):
                if _cross((cam[0], cam[1]), (targets[i, 0], targets[i, 1]), (ax, ay), (bx, by)):
                    ok[i] = False
        return ok

    def sense(self, place: int, t: float) -> dict[str, Any]:
        """What the robot standing at place index ``place`` sees at time ``t`` (see the module docstring):
        ``surfaces`` (indices of visible places), ``objects`` ({name: (place, position)}) and
        ``doors`` ({name: is_open})."""
        pl = self.places[place]
        pts = np.array([[p.surface[0], p.surface[1], p.surface[2] + 0.05] for p in self.places])
        vis = self._visible(pl.stand, pts, t)
        vis[place] = True  # standing next to it
        surfaces = [int(i) for i in np.flatnonzero(vis)]
        names = {self.places[i].name for i in surfaces}
        objects = {}
        for o in self.objects:
            w = self.where(o, t)
            if w is not None and w in names:
                objects[o] = (w, self.object_position(o, w))
        doors = {}
        if self.doors:
            dpts = np.array([[d.x, d.y, 1.0] for d in self.doors])
            # the door leaf itself is what is seen: test the line of sight to it with every door open
            dv = self._visible_static(pl.stand, dpts)
            state = self.doors_state(t)
            for d, v, s in zip(self.doors, dv, state):
                if v:
                    doors[d.name] = s
        return {"surfaces": surfaces, "objects": objects, "doors": doors}

    def _visible_static(self, origin: tuple[float, float], targets: np.ndarray) -> np.ndarray:
        scene, o3d = self._ray_scene()
        cam = np.array([origin[0], origin[1], CAMERA_HEIGHT])
        d = targets - cam
        dist = np.linalg.norm(d, axis=1)
        rays = np.concatenate([np.repeat(cam[None], len(d), 0), d / np.maximum(dist, 1e-9)[:, None]], 1)
        hit = scene.cast_rays(o3d.core.Tensor(rays.astype(np.float32)), nthreads=1)["t_hit"].numpy()
        return (dist <= self.params["sensor_range"]) & ~(hit < dist - 0.06)

    # ------------------------------------------------------------------ world files
    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, "seed": self.seed,
                "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.params.items()},
                "events": self.events}

    def save(self, path: str | Path) -> Path:
        """Write the world file (JSON); returns its path."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=0))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Household:
        """Replay a world file written by ``save``. Raises ``HouseholdFileError`` naming the bad field."""
        try:
            d = json.loads(Path(path).read_text())
        except (OSError, UnicodeDecodeError) as exc:
            raise HouseholdFileError(f"cannot read household world file {path}: {exc}") from None
        except json.JSONDecodeError as exc:
            raise HouseholdFileError(f"{path} is not a household world file (not JSON: {exc})") from None
        return cls.from_dict(d, str(path))

    @classmethod
    def from_dict(cls, d: Any, where: str = "world") -> Household:
        if not isinstance(d, dict):
            raise HouseholdFileError(f"{where}: expected a JSON object, got {type(d).__name__}")
        if d.get("format") != FORMAT:
            raise HouseholdFileError(f"{where}: field 'format' must be {FORMAT!r}, got {d.get('format')!r}")
        if d.get("version") != VERSION:
            raise HouseholdFileError(f"{where}: field 'version' must be {VERSION}, got {d.get('version')!r}")
        seed = d.get("seed")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise HouseholdFileError(f"{where}: field 'seed' must be an int, got {seed!r}")
        params = d.get("params")
        if not isinstance(params, dict):
            raise HouseholdFileError(f"{where}: field 'params' must be an object, got {params!r}")
        events = d.get("events")
        if not isinstance(events, list):
            raise HouseholdFileError(f"{where}: field 'events' must be a list, got {type(events).__name__}")
        try:
            return cls(seed, events=events, **params)
        except HouseholdFileError:
            raise
        except (ValueError, TypeError) as exc:
            raise HouseholdFileError(f"{where}: {exc}") from None

    def _check_events(self, events: list[Any]) -> list[dict[str, Any]]:
        out = []
        last = -math.inf
        doors = {d.name for d in self.doors}
        for i, e in enumerate(events):
            f = f"events[{i}]"
            if not isinstance(e, dict) or set(e) != {"t", "kind", "what", "to"}:
                raise HouseholdFileError(f"{f} must be an object with keys t, kind, what, to, got {e!r}")
            t = e["t"]
            if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or not 0 <= t < self.horizon:
                raise HouseholdFileError(f"{f}.t must be a finite time in [0, {self.horizon:g}) seconds, got {t!r}")
            if t < last:
                raise HouseholdFileError(f"{f}.t = {t} goes back in time (previous event at {last})")
            last = t
            kind, what, to = e["kind"], e["what"], e["to"]
            if kind == "move":
                if what not in self.objects:
                    raise HouseholdFileError(f"{f}.what: unknown object {what!r}; objects: {sorted(self.objects)}")
                if to is not None and to not in self.place_index:
                    raise HouseholdFileError(f"{f}.to: unknown place {to!r}")
            elif kind == "door":
                if what not in doors:
                    raise HouseholdFileError(f"{f}.what: unknown door {what!r}; doors: {sorted(doors)}")
                if to not in ("open", "closed"):
                    raise HouseholdFileError(f"{f}.to must be 'open' or 'closed', got {to!r}")
            elif kind == "routine":
                if what not in self.objects or not isinstance(to, str):
                    raise HouseholdFileError(f"{f}: a routine change needs a known object and a text, got {e!r}")
            else:
                raise HouseholdFileError(f"{f}.kind must be 'move', 'door' or 'routine', got {kind!r}")
            out.append({"t": float(t), "kind": kind, "what": what, "to": to})
        for o in self.objects:
            if not any(e["kind"] == "move" and e["what"] == o and e["t"] == 0.0 for e in out):
                raise HouseholdFileError(f"events: object {o!r} has no starting place (a 'move' at t = 0)")
        return out


def _cross(p1: tuple[float, float], p2: tuple[float, float], q1: tuple[float, float], q2: tuple[float, float]) -> bool:
    """Whether segments p1-p2 and q1-q2 intersect (proper crossing)."""
    def orient(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> float:
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    d1, d2 = orient(q1, q2, p1), orient(q1, q2, p2)
    d3, d4 = orient(p1, p2, q1), orient(p1, p2, q2)
    return d1 * d2 < 0 and d3 * d4 < 0
