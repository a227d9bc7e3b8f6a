"""Crafter adapter (danijar/crafter) following the Gymnasium API, with sensor-only percepts.

Coordinates: Crafter's world grid, ``x`` = column (first index of Crafter's maps), ``y`` = row,
both in cells; ``y`` grows "down" the screen. Time ``t`` is the step count of the episode.

What the agent gets (fair play, DESIGN.md): the 9×7 cells it sees around itself (Crafter's local
view without the two inventory rows), its inventory and vitals, its own position and facing (it
knows where it walked). Crafter's global map (``info["semantic"]``) is only used here to crop the
local view and never leaves this module. While the player sleeps Crafter renders the view black,
so the view is all ``unknown`` then. Night-time darkening of the image is not modelled (the view
keeps its labels at night).

Observation (``gymnasium.spaces.Dict``):

- ``view``: ``int16`` array ``(7, 9)``, ``view[row, col]`` = label code (``LABELS``) of the world
  cell ``(x - 4 + col, y - 3 + row)``; ``0`` (``unknown``) outside the world or while asleep;
- ``inventory``: ``int16`` array ``(16,)`` in ``INVENTORY`` order (health, food, drink, energy,
  then items), each 0–9.

``info`` holds ``percept`` (a ``Percept`` of this step), ``achievements`` (counts this episode),
``position`` (x, y), ``facing`` (dx, dy), ``sleeping``, ``inventory`` (dict), ``unlocked`` (names
unlocked this step) and ``daylight`` (0–1, what the brightness of the image tells the player).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embodied_mem.deps import require
from embodied_mem.percept import Percept, Pose, Sighting, View

# CrafterEnv is built on first access (module __getattr__), so that gymnasium is imported only when used.
__all__ = ["CrafterEnv", "LABELS", "INVENTORY", "ACTIONS", "ACHIEVEMENTS", "episode_metrics",  # noqa: F822
           "summarize", "crafter_score", "plot", "load_reference", "make_percept", "VIEW_W", "VIEW_H"]

# Label codes 0..18 are Crafter's semantic ids (materials, then objects); 19 is a ripe plant, which
# Crafter draws with its own texture.
LABELS: tuple[str, ...] = ("unknown", "water", "grass", "stone", "path", "sand", "tree", "lava", "coal", "iron",
                           "diamond", "table", "furnace", "player", "cow", "zombie", "skeleton", "arrow", "plant",
                           "ripe_plant")
CODE = {name: i for i, name in enumerate(LABELS)}
INVENTORY: tuple[str, ...] = ("health", "food", "drink", "energy", "sapling", "wood", "stone", "coal", "iron",
                              "diamond", "wood_pickaxe", "stone_pickaxe", "iron_pickaxe", "wood_sword", "stone_sword",
                              "iron_sword")
ACTIONS: tuple[str, ...] = ("noop", "move_left", "move_right", "move_up", "move_down", "do", "sleep", "place_stone",
                            "place_table", "place_furnace", "place_plant", "make_wood_pickaxe", "make_stone_pickaxe",
                            "make_iron_pickaxe", "make_wood_sword", "make_stone_sword", "make_iron_sword")
ACHIEVEMENTS: tuple[str, ...] = ("collect_coal", "collect_diamond", "collect_drink", "collect_iron", "collect_sapling",
                                 "collect_stone", "collect_wood", "defeat_skeleton", "defeat_zombie", "eat_cow",
                                 "eat_plant", "make_iron_pickaxe", "make_iron_sword", "make_stone_pickaxe",
                                 "make_stone_sword", "make_wood_pickaxe", "make_wood_sword", "place_furnace",
                                 "place_plant", "place_stone", "place_table", "wake_up")
VIEW_W, VIEW_H = 9, 7
WALKABLE = frozenset({"grass", "sand", "path"})
# Reported as free space for the occupancy layer: walkable ground, also under creatures (they move).
FREE_CODES = np.array([CODE[n] for n in ("grass", "sand", "path", "cow", "zombie", "skeleton")])
# Not sighted: plain ground, the player itself, and unknown cells.
UNSIGHTED = frozenset({"unknown", "grass", "sand", "path", "player"})
_SIGHTED_CODE = np.array([name not in UNSIGHTED for name in LABELS])
_FREE_CODE = np.isin(np.arange(len(LABELS)), FREE_CODES)
_BLOCKED_CODE = ~_FREE_CODE & ~np.isin(np.arange(len(LABELS)), [CODE["unknown"], CODE["player"], CODE["arrow"]])
_YAW = {(1, 0): 0.0, (0, 1): math.pi / 2, (-1, 0): math.pi, (0, -1): -math.pi / 2}


def _build_class() -> type:
    gym = require("gymnasium", "the Crafter environment")
    spaces = gym.spaces

    class _CrafterEnv(gym.Env):
        """Crafter as a ``gymnasium.Env`` whose observation is the player's local view + inventory.

        ``length``: steps per episode (Crafter's standard 10,000); ``area``: world size in cells
        (default 64×64); ``seed``: world seed used when ``reset`` is called without one; ``reward``:
        pass Crafter's reward (achievement unlocks + health changes) or 0. ``reset(seed=s)`` makes
        the same world for the same ``s``. Bad arguments raise ``ValueError`` naming them.
        """

        # "embodied_mem": what agents may know of this env (its world and vocabulary), so that no
        # agent imports this module (embodied_mem/agent/worlds/crafter reads it)
        metadata = {"render_modes": ["rgb_array"], "render_fps": 10,
                    "embodied_mem": {"world": "crafter", "labels": LABELS, "inventory": INVENTORY, "actions": ACTIONS,
                                     "achievements": ACHIEVEMENTS}}

        def __init__(self, length: int = 10_000, area: Sequence[int] = (64, 64), seed: int | None = None,
                     reward: bool = True, render_mode: str | None = None, size: Sequence[int] = (256, 256)) -> None:
            crafter = require("crafter", "the Crafter environment")
            if isinstance(length, bool) or not isinstance(length, int) or length <= 0:
                raise ValueError(f"length must be a positive int (steps per episode), got {length!r}")
            area = tuple(int(a) for a in area)
            if len(area) != 2 or min(area) < VIEW_W:
                raise ValueError(f"area must be two ints >= {VIEW_W} (world width, height in cells), got {area!r}")
            if render_mode not in (None, "rgb_array"):
                raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
            self.render_mode = render_mode
            self._crafter = crafter
            self._env = crafter.Env(area=area, view=(VIEW_W, VIEW_W), size=tuple(size), reward=reward, length=length,
                                    seed=0 if seed is None else int(seed))
            self._render_pixels = False
            self._env._obs = self._pixels_or_nothing  # type: ignore[method-assign]  # skip per-step rendering
            _make_chunks_ordered(self._env._world)
            self._default_seed = seed
            self.length = length
            self.area = area
            self.observation_space = spaces.Dict({
                "view": spaces.Box(0, len(LABELS) - 1, (VIEW_H, VIEW_W), np.int16),
                "inventory": spaces.Box(0, 9, (len(INVENTORY),), np.int16),
            })
            self.action_space = spaces.Discrete(len(ACTIONS))
            self._prev_inv: dict[str, int] = {}
            self._unlocked: set[str] = set()
            self._last_action: str | None = None
            self._last_target: str | None = None

        # -------------------------------------------------------------- gymnasium API
        def reset(self, *, seed: int | None = None, options: Mapping[str, Any] | None = None):
            super().reset(seed=seed)
            if seed is None:
                seed = self._default_seed if self._default_seed is not None else int(self.np_random.integers(2**31 - 1))
                self._default_seed = None  # later seedless resets continue Crafter's own sequence
                if seed is not None:
                    self._env._seed, self._env._episode = int(seed), 0
            else:
                self._env._seed, self._env._episode = int(seed), 0
            self._env.reset()
            self._prev_inv = dict(self._env._player.inventory)
            self._unlocked = set()
            self._last_action, self._last_target = None, None
            obs, info = self._observe(unlocked=())
            return obs, info

        def step(self, action: Any):
            try:
                a = int(action)
            except (TypeError, ValueError):
                raise TypeError(f"action must be an int in [0, {len(ACTIONS)}), got {action!r}") from None
            if not 0 <= a < len(ACTIONS):
                raise ValueError(f"action must be in [0, {len(ACTIONS)}), got {a}")
            target = self._facing_label()
            _, reward, done, cinfo = self._env.step(a)
            cinfo.pop("semantic", None)  # the global map never leaves the adapter
            unlocked = tuple(sorted(n for n, c in cinfo["achievements"].items() if c > 0 and n not in self._unlocked))
            self._unlocked.update(unlocked)
            self._last_action, self._last_target = ACTIONS[a], target
            obs, info = self._observe(unlocked=unlocked)
            dead = self._env._player.health <= 0
            terminated = bool(dead)
            truncated = bool(done and not dead)
            return obs, float(reward), terminated, truncated, info

        def render(self) -> np.ndarray | None:
            if self.render_mode != "rgb_array":
                return None
            self._render_pixels = True
            try:
                return self._env.render()
            finally:
                self._render_pixels = False

        def close(self) -> None:
            pass

        # -------------------------------------------------------------- internals
        def _pixels_or_nothing(self) -> Any:
            return self._env.render() if self._render_pixels else None

        def _facing_label(self) -> str:
            p = self._env._player
            tx, ty = int(p.pos[0] + p.facing[0]), int(p.pos[1] + p.facing[1])
            mat, obj = self._env._world[(tx, ty)]
            if obj is not None:
                return _object_label(obj)
            return mat if mat is not None else "unknown"

        def _local_view(self) -> np.ndarray:
            """Crop the cells around the player (what Crafter draws in its local view), ``[row, col]``."""
            world = self._env._world
            p = self._env._player
            px, py = int(p.pos[0]), int(p.pos[1])
            view = np.zeros((VIEW_H, VIEW_W), np.int16)
            if p.sleeping:
                return view
            x0, y0 = px - VIEW_W // 2, py - VIEW_H // 2
            W, H = world.area
            xa, xb = max(0, x0), min(W, x0 + VIEW_W)
            ya, yb = max(0, y0), min(H, y0 + VIEW_H)
            mat = world._mat_map[xa:xb, ya:yb]  # [x, y] material ids == codes 0..12
            view[ya - y0:yb - y0, xa - x0:xb - x0] = mat.T
            objs = world._obj_map[xa:xb, ya:yb]
            for ix, iy in zip(*np.nonzero(objs)):
                obj = world._objects[objs[ix, iy]]
                if obj is None:
                    continue
                view[ya - y0 + iy, xa - x0 + ix] = CODE[_object_label(obj)]
            return view

        def _observe(self, unlocked: Sequence[str]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
            p = self._env._player
            inv = dict(p.inventory)
            view = self._local_view()
            obs = {"view": view,
                   "inventory": np.array([min(9, max(0, inv[k])) for k in INVENTORY], np.int16)}
            pos = (int(p.pos[0]), int(p.pos[1]))
            facing = (int(p.facing[0]), int(p.facing[1]))
            events = [f"achievement {n}" for n in unlocked]
            for k in INVENTORY:
                d = inv[k] - self._prev_inv.get(k, inv[k])
                if d:
                    events.append(f"{d:+d} {k}")
            self._prev_inv = inv
            t = float(self._env._step)
            percept = make_percept(t, pos, facing, view, events, self._last_action, self._last_target,
                                   sleeping=bool(p.sleeping))
            info = {"percept": percept, "achievements": dict(p.achievements), "position": pos, "facing": facing,
                    "sleeping": bool(p.sleeping), "inventory": inv, "unlocked": list(unlocked),
                    "daylight": float(self._env._world.daylight), "step": int(self._env._step)}
            return obs, info

    _CrafterEnv.__name__ = _CrafterEnv.__qualname__ = "CrafterEnv"
    _CrafterEnv.__module__ = __name__
    return _CrafterEnv


class _OrderedSet(dict):
    """The part of ``set`` Crafter's world uses for its chunks, iterating in insertion order."""

    def add(self, item: Any) -> None:
        self[item] = None

    def remove(self, item: Any) -> None:
        del self[item]


def _make_chunks_ordered(world: Any) -> None:
    """Crafter keeps each chunk's objects in a ``set`` of objects hashed by address, and picks the
    creature to despawn by index into it: the same seed and actions then give different worlds
    from run to run. Insertion-ordered chunks make episodes reproducible."""
    import collections

    original = world.reset

    def reset(seed: Any = None) -> None:
        original(seed=seed)
        world._chunks = collections.defaultdict(_OrderedSet)

    world.reset = reset


def _object_label(obj: Any) -> str:
    name = type(obj).__name__.lower()
    if name == "plant" and getattr(obj, "ripe", False):
        return "ripe_plant"
    return name


def make_percept(t: float, pos: tuple[int, int], facing: tuple[int, int], view: np.ndarray, events: list[str],
                 action: str | None, target: str | None, *, sleeping: bool = False) -> Percept:
    """The ``Percept`` of one step, from the local view only (world grid coordinates, cells).

    Sightings: every visible cell that is not plain ground (grass, sand, path), unknown or the
    player. ``view`` (the visible rectangle, clipped to known cells) lets memory forget what is gone.
    ``free``: walkable ground (also under cows, zombies, skeletons: they walk only on it);
    ``blocked``: everything else that is seen (lava is blocked: walking onto it kills), and cells
    beyond the world's edge. Under an arrow the ground is unknown (arrows also fly over water and
    lava): neither free nor blocked, and a hole in the view (no negative evidence there). While asleep nothing is seen (no view, no sightings).
    """
    px, py = pos
    pose = Pose(x=float(px), y=float(py), z=0.0, yaw=_YAW.get(tuple(facing), 0.0))
    x0, y0 = px - VIEW_W // 2, py - VIEW_H // 2
    known = view != 0
    if sleeping or not known.any():
        return Percept(t=t, pose=pose, events=events, action=action, target=target, source="crafter")
    rows, cols = np.nonzero(known)
    v = View.rect(float(x0 + cols.min()), float(y0 + rows.min()), float(x0 + cols.max()), float(y0 + rows.max()))
    ar, ac = np.nonzero(view == CODE["arrow"])
    if len(ar):  # an arrow flies over water or lava too: the ground under it is not seen
        v = v.without(np.stack([ac + x0, ar + y0], 1).astype(float))
    rs, cs = np.nonzero(_SIGHTED_CODE[view])
    sightings = [Sighting(LABELS[view[r, c]], (float(x0 + c), float(y0 + r), 0.0)) for r, c in zip(rs.tolist(), cs.tolist())]
    fr, fc = np.nonzero(_FREE_CODE[view])
    # Cells beyond the world's edge are drawn empty: seen, and not walkable.
    br, bc = np.nonzero(_BLOCKED_CODE[view] | ~known)
    free = np.stack([fc + x0, fr + y0], 1).astype(float)
    blocked = np.stack([bc + x0, br + y0], 1).astype(float)
    return Percept(t=t, pose=pose, sightings=sightings, view=v, events=events, free=free, blocked=blocked,
                   action=action, target=target, source="crafter")


def __getattr__(name: str) -> Any:  # CrafterEnv is built on first use so importing this module stays light
    if name == "CrafterEnv":
        cls = _build_class()
        globals()["CrafterEnv"] = cls
        return cls
    raise AttributeError(name)


# ---------------------------------------------------------------------- metrics and summary
def episode_metrics(final_info: Mapping[str, Any]) -> dict[str, Any]:
    """``{"achievements": {name: count}}`` of an episode, from the last step's ``info``."""
    ach = final_info.get("achievements") or {}
    return {"achievements": {n: int(ach.get(n, 0)) for n in ACHIEVEMENTS}}


def crafter_score(success_rates: Mapping[str, float]) -> float:
    """Crafter's score: ``exp(mean_i ln(1 + s_i)) - 1`` over the 22 achievements, ``s_i`` in percent.

    Missing achievements count as 0 %. Rates outside [0, 100] raise ``ValueError``.
    """
    vals = []
    for n in ACHIEVEMENTS:
        s = float(success_rates.get(n, 0.0))
        if not 0.0 <= s <= 100.0 or math.isnan(s):
            raise ValueError(f"success rate of {n} must be a percentage in [0, 100], got {s}")
        vals.append(math.log(1.0 + s))
    return math.exp(sum(vals) / len(vals)) - 1.0


def summarize(episodes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Success rates (% of episodes unlocking each achievement at least once) and the Crafter score."""
    n = len(episodes)
    rates = {}
    for a in ACHIEVEMENTS:
        k = sum(1 for e in episodes if int((e.get("achievements") or {}).get(a, 0)) > 0)
        rates[a] = 100.0 * k / n if n else 0.0
    return {"success_rates": rates, "crafter_score": crafter_score(rates) if n else 0.0,
            "mean_achievements": (sum(sum(1 for v in (e.get("achievements") or {}).values() if v > 0) for e in episodes)
                                  / n if n else 0.0),
            "mean_reward": sum(float(e.get("reward", 0.0)) for e in episodes) / n if n else 0.0,
            "mean_length": sum(int(e.get("length", 0)) for e in episodes) / n if n else 0.0}


def load_reference() -> dict[str, Any]:
    """Published per-achievement success rates and scores (package data ``data/reference/crafter.json``)."""
    import json
    from importlib import resources

    return json.loads(resources.files("embodied_mem").joinpath("data/reference/crafter.json").read_text())


def plot(run_dir: str | Path, memory: Any, episodes: Sequence[Mapping[str, Any]],
         summary: Mapping[str, Any]) -> list[Path]:
    """Write ``success_rates.png`` (beside human experts and random) and ``map.png``; return the paths."""
    from embodied_mem.plots import pyplot

    run_dir = Path(run_dir)
    plt = pyplot()
    ref = load_reference()
    rates = summary.get("success_rates") or summarize(episodes)["success_rates"]
    names = list(ACHIEVEMENTS)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(12, 4.5), dpi=110)
    series = [("this run", [rates.get(n, 0.0) for n in names], "#4c72b0")]
    for key, label, color in (("human_experts", "human experts", "#55a868"), ("random", "random", "#c44e52")):
        r = ref.get("success_rates", {}).get(key)
        if r:
            series.append((label, [r.get(n, 0.0) for n in names], color))
    w = 0.8 / len(series)
    for i, (label, vals, color) in enumerate(series):
        ax.bar(x + (i - (len(series) - 1) / 2) * w, vals, w, label=label, color=color)
    ax.set_xticks(x, [n.replace("_", " ") for n in names], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("success rate (%)")
    ax.set_ylim(0, 105)
    score = summary.get("crafter_score")
    ax.set_title("Crafter success rates" + (f" — score {score:.1f}%" if score is not None else ""))
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = [run_dir / "success_rates.png"]
    fig.savefig(out[0])
    plt.close(fig)
    if memory is not None:
        try:
            from embodied_mem.plots import plot_memory_map
        except ImportError:  # the map plot is optional
            return out
        out.append(Path(plot_memory_map(memory, run_dir / "map.png", title="Crafter: spatial memory", invert_y=True,
                                        labels=("tree", "water", "stone", "coal", "iron", "diamond", "table",
                                                "furnace", "plant", "cow", "lava"))))
    return out
