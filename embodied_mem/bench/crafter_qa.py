"""Crafter for the memory QA benchmark: one long percept stream, its ground truth, and questions.

The stream is the project's Crafter adapter (``embodied_mem.envs.make("crafter")``): every step's
``info["percept"]`` (the sensor-only Percept, world grid cells, ``t`` = step) is what the
answering memories receive. A small fair-play behaviour policy (``ExplorerPolicy``) drives it from
the observation alone (local 9×7 view + inventory).

Long memories: Crafter's player dies within a few hundred steps under a blind policy, and a new
world costs about a second to generate. So when the player dies the harness *respawns* it where it
fell, in the same world (Minecraft-style): its health, food, drink and energy go back to Crafter's
initial values and the step counter goes on. That is the only write into the simulator, and it
tells the memories nothing; the world, its creatures and its day/night cycle are untouched.

Ground truth (``CrafterTruth``) is read from the simulator's true state (``env._env._world``) —
evaluation only, never shown to an answerer: for every step, the true contents of the cells in the
player's 9×7 view (materials that are not plain ground, and creatures with their true identity),
cropped by code independent of the adapter's. Question generators (``crafter_questions``) derive
exact answers from that record only.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .questions import Question

__all__ = ["CrafterTruth", "ExplorerPolicy", "crafter_stream", "crafter_questions", "STATIC_LABELS",
           "CREATURE_LABELS", "respawn"]

VIEW_W, VIEW_H = 9, 7
GROUND = frozenset({None, "grass", "sand", "path", "player"})
STATIC_LABELS = ("water", "stone", "tree", "lava", "coal", "iron", "diamond", "table", "furnace")
COUNTABLE = ("tree", "stone", "lava", "coal", "iron", "diamond", "table", "furnace")
CREATURE_LABELS = ("cow", "zombie", "skeleton")
_OBJ_BIT = 1 << 62  # identities: materials are (label, cell); creatures are numbered objects


def _object_label(obj: Any) -> str:
    name = type(obj).__name__.lower()
    if name == "plant" and getattr(obj, "ripe", False):
        return "ripe_plant"
    return name


class CrafterTruth:
    """What was truly in the player's view at every step, with identities (evaluation only).

    Columnar: one row per (step, visible item): ``t``, label id, ``x``, ``y`` (cells, world grid)
    and identity (a material is its label and cell; a creature is its object). Also, per step, the
    view rectangle when the player was awake (asleep, Crafter shows nothing).
    """

    def __init__(self) -> None:
        self.labels: list[str] = []
        self._lid: dict[str, int] = {}
        self.t, self.lab, self.x, self.y = array("l"), array("l"), array("l"), array("l")
        self.ident = array("q")
        self.vt, self.vx0, self.vy0, self.vx1, self.vy1 = (array("l") for _ in range(5))
        self._objs: dict[int, tuple[Any, int]] = {}  # id(obj) -> (obj, number); holds obj so ids stay unique
        self.steps = 0
        self.area: tuple[int, int] = (64, 64)  # world size in cells (taken from the world when recording)
        self.respawns: list[int] = []

    def label_id(self, name: str) -> int:
        i = self._lid.get(name)
        if i is None:
            i = self._lid[name] = len(self.labels)
            self.labels.append(name)
        return i

    def record(self, t: int, world: Any, player: Any) -> None:
        """Record step ``t`` from Crafter's ``world`` and ``player`` (their true state)."""
        self.steps = max(self.steps, t + 1)
        self.area = (int(world.area[0]), int(world.area[1]))
        if player.sleeping:
            return
        px, py = int(player.pos[0]), int(player.pos[1])
        x0, y0 = px - VIEW_W // 2, py - VIEW_H // 2
        x1, y1 = x0 + VIEW_W - 1, y0 + VIEW_H - 1
        for arr, v in ((self.vt, t), (self.vx0, x0), (self.vy0, y0), (self.vx1, x1), (self.vy1, y1)):
            arr.append(v)
        for x in range(max(0, x0), min(world.area[0] - 1, x1) + 1):
            for y in range(max(0, y0), min(world.area[1] - 1, y1) + 1):
                material, obj = world[(x, y)]
                if obj is not None and obj is not player:
                    name = _object_label(obj)
                    rec = self._objs.get(id(obj))
                    if rec is None or rec[0] is not obj:
                        rec = self._objs[id(obj)] = (obj, len(self._objs))
                    ident = _OBJ_BIT | rec[1]
                elif obj is None and material not in GROUND:
                    name = material
                    ident = (self.label_id(name) << 32) | (x << 16) | y
                else:
                    continue
                self.t.append(t)
                self.lab.append(self.label_id(name))
                self.x.append(x)
                self.y.append(y)
                self.ident.append(ident)

    def prefix(self, length: int) -> dict[str, np.ndarray]:
        """Rows of steps ``t < length`` as numpy arrays (t, lab, x, y, ident) and the views (vt, vx0...)."""
        n = int(np.searchsorted(np.frombuffer(self.t, np.int64) if self.t.itemsize == 8 else np.array(self.t),
                                length, side="left"))
        m = int(np.searchsorted(np.array(self.vt, np.int64), length, side="left"))
        out = {k: np.array(getattr(self, k)[:n], np.int64) for k in ("t", "lab", "x", "y", "ident")}
        out.update({k: np.array(getattr(self, k)[:m], np.int64) for k in ("vt", "vx0", "vy0", "vx1", "vy1")})
        return out


# Crafter's action ids (danijar/crafter data.yaml order).
NOOP, LEFT, RIGHT, UP, DOWN, DO = 0, 1, 2, 3, 4, 5
PLACE_TABLE = 8
_DIRS = {LEFT: (-1, 0), RIGHT: (1, 0), UP: (0, -1), DOWN: (0, 1)}


class ExplorerPolicy:
    """The behaviour policy that generates the experience: a persistent random walk, fair play.

    It reads only the adapter's observation (the 9×7 ``view`` of label codes and the inventory) and
    ``info["facing"]``: it attacks adjacent zombies and skeletons, drinks from adjacent water and
    eats adjacent cows when low, sometimes chops an adjacent tree or places a table, never walks
    into lava, and otherwise keeps a random heading for 3–12 steps. It never sleeps (a sleeping
    player sees nothing).
    """

    def __init__(self, seed: int = 0) -> None:
        from embodied_mem.envs.crafter import CODE, INVENTORY

        self.rng = np.random.default_rng(seed)
        self._code = CODE
        self._inv = {k: i for i, k in enumerate(INVENTORY)}
        self._heading = RIGHT
        self._left = 0

    def act(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> int:
        view, inv, code, rng = obs["view"], obs["inventory"], self._code, self.rng
        cy, cx = VIEW_H // 2, VIEW_W // 2

        def at(a: int) -> int:
            dx, dy = _DIRS[a]
            return int(view[cy + dy, cx + dx])

        facing = tuple(info.get("facing", (0, 1)))
        wants = []
        for a in _DIRS:
            c = at(a)
            if c in (code["zombie"], code["skeleton"]):
                wants.append((0, a))
            elif c == code["water"] and inv[self._inv["drink"]] < 6:
                wants.append((1, a))
            elif c == code["cow"] and inv[self._inv["food"]] < 6:
                wants.append((1, a))
            elif c == code["tree"] and rng.random() < 0.1:
                wants.append((2, a))
        if wants:
            _, a = min(wants)
            return DO if facing == _DIRS[a] else a
        if inv[self._inv["wood"]] >= 2 and rng.random() < 0.02:
            return PLACE_TABLE
        if self._left <= 0 or at(self._heading) == code["lava"]:
            choices = [a for a in _DIRS if at(a) != code["lava"]] or list(_DIRS)
            self._heading = int(rng.choice(choices))
            self._left = int(rng.integers(3, 13))
        self._left -= 1
        return self._heading if at(self._heading) != code["lava"] else NOOP


def respawn(crafter_env: Any) -> None:
    """Bring a dead player back where it fell, in the same world, with Crafter's initial vitals."""
    from crafter import constants

    p = crafter_env._player
    for k in ("health", "food", "drink", "energy"):
        p.inventory[k] = constants.items[k]["initial"]
    p._hunger = p._thirst = p._fatigue = p._recover = 0
    p.sleeping = False
    p._last_health = p.health
    crafter_env._last_health = p.health


def crafter_stream(length: int, seed: int = 0, truth: CrafterTruth | None = None,
                   progress: bool = False, inspect: Callable[[int, Any], None] | None = None) -> Iterator[Any]:
    """Yield ``length`` sensor-only Percepts (``t`` = 0 … length-1) of one Crafter world.

    The percepts are the adapter's ``info["percept"]``. If ``truth`` is given, each step's true
    view contents are recorded into it (evaluation only); ``inspect(t, crafter_env)``, if given, is
    called at each step with the raw ``crafter.Env`` (evaluation only: tests recompute ground truth
    with it). Dead players respawn (module docstring).
    ``length`` must be a positive int (ValueError otherwise).
    """
    if isinstance(length, bool) or not isinstance(length, int) or length <= 0:
        raise ValueError(f"length must be a positive int (percepts), got {length!r}")
    from embodied_mem import envs

    env = envs.make("crafter", length=10**9, seed=int(seed))
    policy = ExplorerPolicy(seed)
    obs, info = env.reset(seed=int(seed))
    raw = env._env
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=length, desc=f"crafter stream (seed {seed})", unit="step", mininterval=2.0)
    try:
        for t in range(length):
            p = info["percept"]
            if int(p.t) != t:
                raise RuntimeError(f"the Crafter adapter's percept time {p.t} is not the step count {t}")
            if truth is not None:
                truth.record(t, raw._world, raw._player)
            if inspect is not None:
                inspect(t, raw)
            yield p
            if bar is not None:
                bar.update(1)
            if t == length - 1:
                break
            obs, _, terminated, truncated, info = env.step(policy.act(obs, info))
            if terminated:
                respawn(raw)
                if truth is not None:
                    truth.respawns.append(t + 1)
            elif truncated:
                raise RuntimeError("the Crafter episode was truncated; the stream needs length=10**9")
    finally:
        if bar is not None:
            bar.close()
        env.close()


# ---------------------------------------------------------------------- questions
def _pos(x: Any, y: Any) -> list[float]:
    return [float(x), float(y)]


def crafter_questions(truth: CrafterTruth, length: int, per_type: int = 10, seed: int = 0) -> list[Question]:
    """Up to ``per_type`` questions of each Crafter type about the first ``length`` steps, with exact answers.

    Every answer is computed from ``truth`` alone. Questions whose answer would be ambiguous (two
    items of the label seen at the deciding step) are not asked.
    """
    if length > truth.steps:
        raise ValueError(f"length {length} exceeds the recorded stream ({truth.steps} steps)")
    rng = np.random.default_rng([seed, length])
    d = truth.prefix(length)
    t, lab, x, y, ident = d["t"], d["lab"], d["x"], d["y"], d["ident"]
    names = truth.labels
    diameter = math.hypot(*truth.area)
    pos_params = {"tolerance": 0.5, "miss_penalty": diameter}
    time_params = {"tolerance": 0.0, "miss_penalty": float(length)}
    seen = sorted({names[i] for i in np.unique(lab).tolist()})
    first = {}
    rows_of = {}
    for name in seen:
        rows = np.nonzero(lab == truth.label_id(name))[0]
        rows_of[name] = rows
        first[name] = int(t[rows[0]])
    qs: list[Question] = []

    def add(qtype: str, text: str, answer: Any, units: str, **params: Any) -> None:
        qs.append(Question(id=f"crafter-{length}-{qtype}-{sum(q.type == qtype for q in qs)}", world="crafter",
                           length=length, type=qtype, text=text, answer=answer, units=units, params=params))

    def pick(items: list, k: int) -> list:
        if len(items) <= k:
            return list(items)
        idx = rng.choice(len(items), size=k, replace=False)
        return [items[i] for i in sorted(idx.tolist())]

    def last_unique(rows: np.ndarray) -> tuple[int, list[float]] | None:
        if not len(rows):
            return None
        tl = t[rows[-1]]
        at = rows[t[rows] == tl]
        if len(at) != 1:
            return None
        return int(tl), _pos(x[at[0]], y[at[0]])

    # position: where did you last see X?
    cands = [(n, last_unique(rows_of[n])) for n in seen]
    for n, lu in pick([c for c in cands if c[1] is not None], per_type):
        add("position", f"Where did you last see a {n}?", lu[1], "cells", label=n, **pos_params)
    # as-of position: as of step s, where had you last seen X?
    tries = 0
    while sum(q.type == "as_of_position" for q in qs) < per_type and tries < 20 * per_type and seen:
        tries += 1
        n = seen[int(rng.integers(len(seen)))]
        rows = rows_of[n]
        s = int(rng.integers(first[n], length))
        lu = last_unique(rows[t[rows] <= s])
        if lu is None or any(q.type == "as_of_position" and q.params["label"] == n and q.params["t"] == s for q in qs):
            continue
        add("as_of_position", f"As of step {s}, where had you last seen a {n}?", lu[1], "cells", label=n, t=s,
            **pos_params)
    # binary: did you see A before the first B?
    everything = sorted(set(truth.labels))
    pairs = [(a, b) for a in everything for b in seen if a != b and first.get(a, -1) != first[b]]
    for a, b in pick(pairs, per_type):
        ans = a in first and first[a] < first[b]
        add("binary", f"Did you see a {a} before the first {b}?", bool(ans), "bool", a=a, b=b)
    # time: when did you first see X?
    for n in pick(seen, per_type):
        add("time", f"When did you first see a {n}?", float(first[n]), "steps", label=n, **time_params)
    # duration: longest stretch out of sight of X, between its first and last sightings
    gaps = []
    for n in seen:
        ts = np.unique(t[rows_of[n]])
        if len(ts) >= 2 and np.diff(ts).max() > 1:
            gaps.append((n, float(np.diff(ts).max())))
    for n, g in pick(gaps, per_type):
        add("duration", f"What was the longest time you were out of sight of {n} (between two sightings)?", g,
            "steps", label=n, **time_params)
    # count: how many different X did you see (static things: one per cell)?
    for n in pick([n for n in seen if n in COUNTABLE], per_type):
        k = int(len(np.unique(ident[rows_of[n]])))
        add("count", f"How many different {n}s did you see?", k, "objects", label=n)
    # change: the X you saw at (x, y) at step s — where is it now? (it moved, or was seen to be gone).
    # Identity is the simulator's; creatures are asked about only from where the agent kept them in view.
    # A cell's latest view: a thing last seen at t_last whose cell was in view after t_last is gone.
    last_view = np.full(truth.area, -1, np.int64)
    for vt, a, b, c, e in zip(*(d[k].tolist() for k in ("vt", "vx0", "vy0", "vx1", "vy1"))):
        last_view[max(a, 0):max(c + 1, 0), max(b, 0):max(e + 1, 0)] = vt
    changed: dict[bool, list] = {True: [], False: []}
    for n in seen:
        if n not in CREATURE_LABELS and n not in STATIC_LABELS:
            continue
        rows = rows_of[n]
        ids = ident[rows]
        _, i_first = np.unique(ids, return_index=True)
        _, i_last = np.unique(ids[::-1], return_index=True)
        rf, rl = rows[i_first], rows[len(rows) - 1 - i_last]
        if n in CREATURE_LABELS:
            # A creature's reference sighting starts its last unbroken run in view: the agent watched it
            # from there to its last sighting, so where it went is observable (not a guess about identity).
            srt = rows[np.argsort(ids, kind="stable")]  # grouped by identity, in time order within a group
            bounds = np.cumsum(np.unique(ids, return_counts=True)[1])[:-1]
            for j, group in enumerate(np.split(srt, bounds)):
                breaks = np.nonzero(np.diff(t[group]) > 1)[0]
                if len(breaks):
                    rf[j] = group[breaks[-1] + 1]
        gone = last_view[x[rl], y[rl]] > t[rl]
        moved = (x[rf] != x[rl]) | (y[rf] != y[rl])
        for j in np.nonzero(gone | moved)[0].tolist():
            ans = None if gone[j] else _pos(x[rl[j]], y[rl[j]])
            changed[n in CREATURE_LABELS].append((n, int(t[rf[j]]), int(x[rf[j]]), int(y[rf[j]]), ans))
    half = per_type // 2
    chosen = pick(changed[True], half)
    chosen += pick(changed[False], per_type - len(chosen))
    for n, t0, x0, y0, ans in chosen:
        add("change", f"The {n} you saw at ({x0}, {y0}) at step {t0}: where is it now?", ans, "cells", label=n,
            t=t0, position=[float(x0), float(y0)], **pos_params)
    # order: which of A, B, C did you see first?
    tries = 0
    while sum(q.type == "order" for q in qs) < per_type and len(seen) >= 3 and tries < 20 * per_type:
        tries += 1
        trio = [seen[i] for i in rng.choice(len(seen), 3, replace=False).tolist()]
        if len({first[n] for n in trio}) < 3:
            continue
        ans = sorted(trio, key=lambda n: first[n])
        if any(q.type == "order" and q.answer == ans for q in qs):
            continue
        add("order", f"In which order did you first see {trio[0]}, {trio[1]} and {trio[2]}?", ans, "labels",
            labels=trio)
    return qs
