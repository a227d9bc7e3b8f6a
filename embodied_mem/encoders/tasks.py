"""Training tasks for the place-centric encoder: our own generators, numpy only, deterministic per seed.

Both tasks give *batches*: dicts of numpy arrays describing, for each sample, a bounded memory of
past steps (laid out FIFO or place-centric by :func:`~embodied_mem.encoders.layout.organise`)
and a query about one place. Keys (``B`` samples, ``M`` = memory budget slots, padded):

- ``obs`` (B, M, *obs_shape): what the agent sensed at each kept step (see each task's
  ``observation_space``); ``mask`` (B, M) bool: slot holds a step; ``chunk`` (B, M) int64 chunk id.
- ``place_id`` (B, M) int64 and ``place_pos`` (B, M, 2) float32: where the step happened
  (place index, and position in world cells, x right / y down).
- ``time`` (B, M) float32: step index in the trajectory (0 = first step).
- ``query_place_id`` (B,), ``query_place_pos`` (B, 2), ``query_time`` (B,): the question.
- ``target``: (B,) int64 class (Room Ballet) or (B, C) float32 multi-hot (Crafter place recall).

**Room Ballet** (re-created from the Spatially-Aware Transformer paper's description): a grid of
rooms, each with a dancer performing one of 8 dances around the room centre (period 8 steps,
each room with its own phase). The agent random-walks between rooms (non-backtracking, moving
on with probability ``move_prob`` per step) and, at each step, sees a 7×7 egocentric crop
(world-aligned, centred on itself; 3 channels: dancer now, dancer one step ago — a 2-frame stack
of its own sensor, as in Atari agents — and walls). It stands 2 cells from the centre at the door
it entered by. Every dance has a distinct set of one-step moves (plus-shape dances hop between
the four arm tips), so two consecutive frames in a room identify the dance. Query: a visited
room → its dancer's class (8-way).

**Crafter place recall**: the agent's own experience in Crafter (the real ``crafter`` package,
a scripted random walk). At each step it senses the 9×7 local semantic view around itself (what
Crafter shows the agent; never the global map). Query: a position the agent stood on → which
material / creature classes were in view there (multi-label).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .layout import organise

__all__ = ["DANCES", "RoomBallet", "CrafterPlaceRecall", "CRAFTER_CLASSES", "make_task", "TASKS"]

_RING = [(-1, -1), (0, -1), (1, -1), (1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0)]  # clockwise, y down
DANCES: dict[str, list[tuple[int, int]]] = {
    "circle_cw": _RING,
    "circle_ccw": _RING[::-1],
    "up_down": [(0, -1), (0, 0), (0, 1), (0, 0)] * 2,
    "left_right": [(-1, 0), (0, 0), (1, 0), (0, 0)] * 2,
    "diagonal_main": [(-1, -1), (0, 0), (1, 1), (0, 0)] * 2,
    "diagonal_anti": [(1, -1), (0, 0), (-1, 1), (0, 0)] * 2,
    "plus_cw": [(0, -1), (1, 0), (0, 1), (-1, 0)] * 2,  # hops between the plus's arm tips
    "plus_ccw": [(0, -1), (-1, 0), (0, 1), (1, 0)] * 2,
}
_DANCE_ARR = np.array(list(DANCES.values()), np.int64)  # (8 dances, 8 phases, 2)
_SIDES = np.array([(-2, 0), (2, 0), (0, -2), (0, 2)], np.int64)  # agent offset from centre: W, E, N, S door
_ROOM = 9  # room edge in cells, walls included; centre at (4, 4)
_CROP = 7


def _batch_arrays(B: int, M: int, obs_shape: tuple[int, ...], obs_dtype: Any) -> dict[str, np.ndarray]:
    return {
        "obs": np.zeros((B, M, *obs_shape), obs_dtype),
        "mask": np.zeros((B, M), bool),
        "chunk": np.zeros((B, M), np.int64),
        "place_id": np.zeros((B, M), np.int64),
        "place_pos": np.zeros((B, M, 2), np.float32),
        "time": np.zeros((B, M), np.float32),
    }


@dataclass
class RoomBallet:
    """Room Ballet generator. ``rows`` × ``cols`` rooms, trajectories of ``steps`` steps."""

    rows: int = 3
    cols: int = 3
    steps: int = 72
    move_prob: float = 0.125
    n_classes: int = field(default=len(DANCES), init=False)
    multilabel: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        if self.rows < 1 or self.cols < 1 or self.rows * self.cols < 2:
            raise ValueError(f"Room Ballet needs at least 2 rooms, got rows={self.rows} cols={self.cols}")
        if self.steps < 2:
            raise ValueError(f"steps must be >= 2, got {self.steps}")
        if not 0.0 < self.move_prob <= 1.0:
            raise ValueError(f"move_prob must be in (0, 1], got {self.move_prob}")
        self.n_places = self.rows * self.cols
        self._neigh = [
            [(r + dr) * self.cols + (c + dc) for dr, dc in ((0, -1), (0, 1), (-1, 0), (1, 0))
             if 0 <= r + dr < self.rows and 0 <= c + dc < self.cols]
            for r in range(self.rows) for c in range(self.cols)
        ]
        self._walls = np.stack([self._wall_crops(room) for room in range(self.n_places)])  # (R, 4 sides, 7, 7)

    @property
    def observation_space(self) -> Any:
        import gymnasium as gym

        return gym.spaces.Box(0.0, 1.0, (_CROP, _CROP, 3), np.float32)

    def heldout(self) -> RoomBallet:
        """The task to evaluate on: the same generator (held-out samples come from another seed)."""
        return self

    def room_position(self, room: int) -> tuple[float, float]:
        """Room centre in world cells (x right, y down); rooms share walls, so pitch is ROOM - 1."""
        r, c = divmod(room, self.cols)
        return (c * (_ROOM - 1) + 4.0, r * (_ROOM - 1) + 4.0)

    def _wall_crops(self, room: int) -> np.ndarray:
        grid = np.zeros((_ROOM, _ROOM), np.float32)
        grid[0, :] = grid[-1, :] = grid[:, 0] = grid[:, -1] = 1.0
        r, c = divmod(room, self.cols)
        for n in self._neigh[room]:  # doors where a neighbour room is
            nr, nc = divmod(n, self.cols)
            grid[4 + 4 * (nr - r), 4 + 4 * (nc - c)] = 0.0
        pad = np.pad(grid, 3)
        out = np.zeros((4, _CROP, _CROP), np.float32)
        for s, (dx, dy) in enumerate(_SIDES):
            ax, ay = 4 + dx + 3, 4 + dy + 3  # in padded coordinates
            out[s] = pad[ay - 3: ay + 4, ax - 3: ax + 4]
        return out

    def episode(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """One trajectory: per-step room, door side, dancer offset, and the room classes/phases."""
        T = self.steps
        classes = rng.integers(0, len(DANCES), self.n_places)
        phases = rng.integers(0, 8, self.n_places)
        rooms = np.zeros(T, np.int64)
        sides = np.zeros(T, np.int64)
        room, side, prev = int(rng.integers(self.n_places)), int(rng.integers(4)), -1
        for t in range(T):
            rooms[t], sides[t] = room, side
            if rng.random() < self.move_prob:
                options = [n for n in self._neigh[room] if n != prev] or self._neigh[room]
                nxt = options[int(rng.integers(len(options)))]
                r, c = divmod(room, self.cols)
                nr, nc = divmod(nxt, self.cols)
                side = {(0, 1): 0, (0, -1): 1, (1, 0): 2, (-1, 0): 3}[(nr - r, nc - c)]  # door entered by
                prev, room = room, nxt
        t = np.arange(T)
        dancer = _DANCE_ARR[classes[rooms], (t + phases[rooms]) % 8]  # (T, 2) offset from centre
        return {"rooms": rooms, "sides": sides, "dancer": dancer, "classes": classes}

    def render(self, ep: dict[str, np.ndarray], steps: np.ndarray) -> np.ndarray:
        """The agent's 7×7×3 crops at ``steps`` (HWC float32: dancer now, dancer at t-1, walls).

        Channel 1 is the dancer channel the agent's sensor gave one step earlier (wherever the agent
        was then; empty at t = 0).
        """
        steps = np.asarray(steps, np.int64)
        n = len(steps)
        obs = np.zeros((n, _CROP, _CROP, 3), np.float32)
        rooms, sides = ep["rooms"][steps], ep["sides"][steps]
        obs[..., 2] = self._walls[rooms, sides]
        rel = ep["dancer"][steps] - _SIDES[sides] + 3  # dancer relative to agent, in crop coordinates
        obs[np.arange(n), rel[:, 1], rel[:, 0], 0] = 1.0
        prev = steps[steps > 0] - 1
        relp = ep["dancer"][prev] - _SIDES[ep["sides"][prev]] + 3
        obs[np.flatnonzero(steps > 0), relp[:, 1], relp[:, 0], 1] = 1.0
        return obs

    def batch(self, rng: np.random.Generator, size: int, budget: int, memory: str, chunk_size: int
              ) -> dict[str, np.ndarray]:
        arr = _batch_arrays(size, budget, (_CROP, _CROP, 3), np.float32)
        qid = np.zeros(size, np.int64)
        target = np.zeros(size, np.int64)
        centres = np.array([self.room_position(r) for r in range(self.n_places)], np.float32)
        for b in range(size):
            ep = self.episode(rng)
            lay = organise(ep["rooms"], budget, memory, chunk_size)
            n = len(lay.steps)
            arr["obs"][b, :n] = self.render(ep, lay.steps)
            arr["mask"][b, :n] = True
            arr["chunk"][b, :n] = lay.chunks
            arr["place_id"][b, :n] = ep["rooms"][lay.steps]
            arr["time"][b, :n] = lay.steps
            visited = np.unique(ep["rooms"])
            qid[b] = visited[int(rng.integers(len(visited)))]
            target[b] = ep["classes"][qid[b]]
        arr["place_pos"] = centres[arr["place_id"]]
        arr["query_place_id"] = qid
        arr["query_place_pos"] = centres[qid]
        arr["query_time"] = np.full(size, self.steps, np.float32)
        arr["target"] = target
        return arr


# Crafter semantic ids: 0 = outside the world, 1..12 materials, 13.. objects (crafter.engine.SemanticView).
CRAFTER_NAMES = [None, "water", "grass", "stone", "path", "sand", "tree", "lava", "coal", "iron", "diamond",
                  "table", "furnace", "player", "cow", "zombie", "skeleton", "arrow", "plant"]
CRAFTER_CLASSES = [n for n in CRAFTER_NAMES if n not in (None, "player")]  # what a query may ask about
_CLASS_OF_ID = np.array([CRAFTER_CLASSES.index(n) if n in CRAFTER_CLASSES else -1 for n in CRAFTER_NAMES])
VIEW_W, VIEW_H = 9, 7  # Crafter's local view: 9 wide, 7 high (the bottom 2 rows show the inventory)


def crafter_walk(seed: int, steps: int, *, min_run: int = 2, max_run: int = 8) -> dict[str, np.ndarray]:
    """A scripted random walk in real Crafter: straight runs of ``min_run..max_run`` moves.

    It decides from what the agent senses only (local view and its own drink level): it never
    steps onto lava in view, and drinks from adjacent water when thirsty, so walks last longer.
    Returns ``pos`` (T, 2) int64 player cell (x, y) and ``view`` (T, 7, 9) int64 semantic local
    view (rows = y, columns = x, player at [3, 4]; 0 outside the world). The view is cut from
    Crafter's semantic map around the player, 9×7 cells exactly as its local view shows. Stops
    early when the episode ends (the player dies). Raises ``DependencyNotInstalled`` without crafter.
    """
    from ..deps import require

    crafter = require("crafter", "the Crafter place-recall task")
    env = crafter.Env(seed=int(seed), length=max(steps + 1, 10))
    env.reset()
    rng = np.random.default_rng(seed)
    _, _, _, info = env.step(0)
    pos, views = [], []
    run_left, action, drinking = 0, 0, 0
    moves = {1: (-1, 0), 2: (1, 0), 3: (0, -1), 4: (0, 1)}  # move_left/right/up/down as (dx, dy)
    water, lava = CRAFTER_NAMES.index("water"), CRAFTER_NAMES.index("lava")
    for _ in range(steps):
        sem, (x, y) = info["semantic"], info["player_pos"]
        padded = np.pad(sem, ((4, 4), (3, 3)))
        view = padded[x: x + VIEW_W, y: y + VIEW_H].T.copy()
        views.append(view)
        pos.append((x, y))
        near = {a: int(view[3 + dy, 4 + dx]) for a, (dx, dy) in moves.items()}
        wet = [a for a, v in near.items() if v == water]
        if drinking:  # facing water already: drink
            action, drinking = 5, drinking - 1
        elif wet and info["inventory"]["drink"] < 7:
            action, drinking, run_left = wet[0], 4, 0  # turn towards the water, then `do` 4 times
        else:
            if run_left == 0 or near.get(action) == lava:
                safe = [a for a, v in near.items() if v != lava] or list(moves)
                action, run_left = safe[int(rng.integers(len(safe)))], int(rng.integers(min_run, max_run + 1))
            run_left -= 1
        _, _, done, info = env.step(action)
        if done:
            break
    return {"pos": np.asarray(pos, np.int64), "view": np.asarray(views, np.int64)}


@dataclass
class CrafterPlaceRecall:
    """Place recall on Crafter experience. Windows of ``steps`` steps cut from ``walks`` walks.

    Places for memory organisation (and the learned place embedding) are ``place_cell``×``place_cell``
    blocks of the 64×64 world. Walks are generated lazily, once, from ``seed`` (walk ``i`` is the
    world and walk of Crafter seed ``seed * 1000 + i``); ``heldout()`` gives other worlds.
    """

    steps: int = 64
    walks: int = 4
    walk_length: int = 500
    place_cell: int = 4
    seed: int = 0
    n_classes: int = field(default=len(CRAFTER_CLASSES), init=False)
    multilabel: bool = field(default=True, init=False)

    def __post_init__(self) -> None:
        if self.steps < 2 or self.walk_length < self.steps:
            raise ValueError(f"need 2 <= steps <= walk_length, got steps={self.steps} walk_length={self.walk_length}")
        self.n_places = (64 // self.place_cell) ** 2
        self._walks: list[dict[str, np.ndarray]] | None = None

    @property
    def observation_space(self) -> Any:
        import gymnasium as gym

        return gym.spaces.MultiDiscrete(np.full((VIEW_H, VIEW_W), len(CRAFTER_NAMES)))

    def data(self) -> list[dict[str, np.ndarray]]:
        if self._walks is None:
            walks = [crafter_walk(self.seed * 1000 + i, self.walk_length) for i in range(self.walks)]
            self._walks = [w for w in walks if len(w["pos"]) >= self.steps]
            if not self._walks:
                raise RuntimeError("every Crafter walk ended before `steps` steps; lower steps")
        return self._walks

    def heldout(self) -> CrafterPlaceRecall:
        """The task to evaluate on: the same settings over other Crafter worlds (walk seeds)."""
        return CrafterPlaceRecall(self.steps, max(1, self.walks // 2), self.walk_length, self.place_cell,
                                  self.seed + 10_007)

    def place_ids(self, pos: np.ndarray) -> np.ndarray:
        n = 64 // self.place_cell
        return (pos[..., 1] // self.place_cell) * n + pos[..., 0] // self.place_cell

    def batch(self, rng: np.random.Generator, size: int, budget: int, memory: str, chunk_size: int
              ) -> dict[str, np.ndarray]:
        walks = self.data()
        arr = _batch_arrays(size, budget, (VIEW_H, VIEW_W), np.int64)
        qpos = np.zeros((size, 2), np.float32)
        target = np.zeros((size, self.n_classes), np.float32)
        for b in range(size):
            w = walks[int(rng.integers(len(walks)))]
            s0 = int(rng.integers(0, len(w["pos"]) - self.steps + 1))
            pos, view = w["pos"][s0: s0 + self.steps], w["view"][s0: s0 + self.steps]
            pids = self.place_ids(pos)
            lay = organise(pids, budget, memory, chunk_size)
            n = len(lay.steps)
            arr["obs"][b, :n] = view[lay.steps]
            arr["mask"][b, :n] = True
            arr["chunk"][b, :n] = lay.chunks
            arr["place_id"][b, :n] = pids[lay.steps]
            arr["place_pos"][b, :n] = pos[lay.steps]
            arr["time"][b, :n] = lay.steps
            q = int(rng.integers(self.steps))
            last = int(np.flatnonzero((pos == pos[q]).all(1))[-1])  # latest visit of the queried cell
            qpos[b] = pos[last]
            ids = _CLASS_OF_ID[np.unique(view[last])]
            target[b, ids[ids >= 0]] = 1.0
        arr["query_place_pos"] = qpos
        arr["query_place_id"] = self.place_ids(qpos.astype(np.int64))
        arr["query_time"] = np.full(size, self.steps, np.float32)
        arr["target"] = target
        return arr


TASKS = {"room_ballet": RoomBallet, "crafter_recall": CrafterPlaceRecall}


def make_task(name: str, **kwargs: Any) -> RoomBallet | CrafterPlaceRecall:
    """Build a task by name (``room_ballet`` or ``crafter_recall``); unknown names raise ``ValueError``."""
    if name not in TASKS:
        raise ValueError(f"unknown encoder task {name!r}; choose one of {sorted(TASKS)}")
    return TASKS[name](**kwargs)
