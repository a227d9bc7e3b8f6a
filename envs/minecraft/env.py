"""``MineflayerEnv``: a Gymnasium env over a real Minecraft server, through a Mineflayer sidecar.

By default each ``reset(seed=s)`` starts a local flying-squid server (offline mode, 127.0.0.1, a
free port) with the task's resource world for seed ``s`` (``task.resource_world``), and a fresh
Mineflayer bot on it; ``close()`` stops both. With ``host=``/``port=`` it drives a bot on an existing
server instead (the world is then whatever that server holds).

**Sensors** (fair play: only what the bot perceives, no world map). Every step the sidecar reports
position, yaw/pitch, health/food, inventory, and the blocks within ``radius`` blocks horizontally
(``below``..``above`` blocks vertically) that are *visible*: a ray from the eyes reaches one of their
exposed faces (omnidirectional, line of sight, no field-of-view limit). Entities within ``radius``
with a clear line of sight. The walkable/blocked state of visible ground columns at the bot's level
feeds memory's occupancy layer.

**Observation** (``observation_space``, fixed shapes): ``position`` (Minecraft x, y, z of the feet),
``yaw_pitch`` (Mineflayer radians, yaw wrapped to [-pi, pi]), ``health`` and ``food`` (0..20),
``inventory`` (counts of ``item_vocab``), ``voxels`` (visible non-terrain blocks as indices into
``block_vocab`` (0 none/unseen, 1 other), array ``[dx + r, dy + below, dz + r]`` relative to the feet
block), ``occupancy`` (2-D ``[dx + r, dz + r]``: 0 unknown, 1 walkable, 2 blocked) and ``entities``
(up to ``max_entities`` rows of (dx, dy, dz, 1 if present)). The full lists are in ``info``:
``info["blocks"]`` [(name, (x, y, z))], ``info["entities"]``, ``info["inventory"]`` {item: count}.

**Percept** (``info["percept"]``) in memory's frame (see ``frames.py``: memory x, y = Minecraft x, z
shifted by half a block; memory z = height): the pose, one ``Sighting`` per visible non-terrain
block (label = block name) and per entity (with ``instance="entity-<id>"``), ``free``/``blocked``
cells, and ``view = View.disc(pose, view_radius)``: the disc inside which absence of a seen block
is evidence that it is gone (mined, moved). It is smaller than ``radius`` (default 3 blocks)
because farther blocks may be occluded. ``t`` is the step count; ``source`` "minecraft".

**Actions.** ``action_space`` (``MinecraftActionSpace``) is ``Discrete(len(LOW_LEVEL))``: low-level
controls held for ``control_ticks`` game ticks (``LOW_LEVEL`` names them; ``attack`` digs the block
under the cursor), and it also contains the high-level primitives, dicts ``{"op": name, ...}``
(Minecraft coordinates) that ``step`` accepts as well (``action_space.contains`` checks both):
``move_to`` (x, z, optional y, range: the pathfinder walks there, no digging), ``look`` (yaw, pitch or
x, y, z), ``dig`` (x, y, z; collects the drop), ``place`` (x, y, z, item), ``craft`` (item, count,
table), ``equip`` (item), ``attack`` (entity_id), ``chat`` (text), ``control`` (controls, ticks, dyaw,
dpitch). A malformed action raises ``ValueError``/``TypeError`` naming the field; a primitive the
game refuses (no path, out of reach) is not an error: ``info["result"]`` holds the sidecar's answer
and ``info["action_ok"]`` is False.

**Task** (``task=``, ``TaskSpec`` or dict(order=..., count=...), on by default): reward 1 for each
item collected towards the task, ``terminated`` when every kind is collected, ``truncated`` after
``max_steps`` steps. ``info["task"]``: progress, done, order_kept; ``info["distance"]``: blocks
walked (horizontal, from the bot's physics ticks); ``info["steps"]``. Wall time: ``episode_wall_s``.

Failures: a sidecar or server that dies or stops answering raises ``SidecarError`` (within
``request_timeout`` seconds); a dropped server connection raises ``ConnectionLost``; missing Node.js
or npm packages raise ``NodeNotAvailable`` naming ``scripts/install_minecraft.sh``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from embodied_mem.percept import Percept, Pose, Sighting, View

from .frames import FRAME, block_to_memory, feet_to_memory, yaw_to_memory
from .sidecar import FlyingSquidServer, MineflayerSidecar
from .task import DROPS, TaskSpec, resource_world

__all__ = ["MineflayerEnv", "MinecraftActionSpace", "parse_primitive", "LOW_LEVEL", "PRIMITIVES", "TERRAIN"]

LOW_LEVEL: tuple[str, ...] = ("noop", "forward", "back", "left", "right", "jump_forward", "turn_left", "turn_right",
                              "look_up", "look_down", "attack", "sneak")
_TURN = math.radians(15)
_LOW: dict[str, dict[str, Any]] = {
    "noop": {},
    "forward": {"controls": {"forward": True}},
    "back": {"controls": {"back": True}},
    "left": {"controls": {"left": True}},
    "right": {"controls": {"right": True}},
    "jump_forward": {"controls": {"forward": True, "jump": True}},
    "turn_left": {"dyaw": _TURN},
    "turn_right": {"dyaw": -_TURN},
    "look_up": {"dpitch": _TURN},
    "look_down": {"dpitch": -_TURN},
    "attack": {"attack": True},
    "sneak": {"controls": {"sneak": True}},
}
# primitive -> (required arguments, optional arguments)
PRIMITIVES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "move_to": (("x", "z"), ("y", "range", "timeout_ms")),
    "look": ((), ("yaw", "pitch", "x", "y", "z")),
    "dig": (("x", "y", "z"), ("collect", "timeout_ms")),
    "place": (("x", "y", "z", "item"), ()),
    "craft": (("item",), ("count", "table")),
    "equip": (("item",), ("destination",)),
    "attack": (("entity_id",), ()),
    "chat": (("text",), ()),
    "control": ((), ("controls", "ticks", "dyaw", "dpitch", "attack")),
}
_NUMERIC = {"x", "y", "z", "range", "yaw", "pitch", "dyaw", "dpitch", "timeout_ms"}
# Blocks that make up the ground and walls: they feed the occupancy layer, not object sightings.
TERRAIN: tuple[str, ...] = ("grass_block", "dirt", "bedrock", "stone", "grass", "tall_grass", "water", "sand_stone",
                            "cobblestone", "gravel_floor")
DEFAULT_ITEMS: tuple[str, ...] = tuple(dict.fromkeys(list(DROPS.values()) + ["stone", "cobblestone", "dirt",
                                                                             "oak_planks", "stick", "crafting_table"]))
DEFAULT_BLOCKS: tuple[str, ...] = tuple(dict.fromkeys(list(DROPS) + ["crafting_table", "oak_leaves", "coal_ore",
                                                                   "iron_ore"]))


def parse_primitive(action: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Validate a high-level command ``{"op": name, ...}`` (``PRIMITIVES``); returns (op, arguments
    with numbers as floats). Raises ``ValueError``/``TypeError`` naming the field."""
    op = action.get("op")
    if op not in PRIMITIVES:
        raise ValueError(f"action['op'] must be one of {sorted(PRIMITIVES)}, got {op!r}")
    required, optional = PRIMITIVES[op]
    args = {k: v for k, v in action.items() if k != "op"}
    for k in required:
        if k not in args:
            raise ValueError(f"action {op!r} needs field {k!r}")
    unknown = set(args) - set(required) - set(optional)
    if unknown:
        raise ValueError(f"action {op!r}: unknown field(s) {sorted(unknown)}; valid: {sorted(required + optional)}")
    for k, v in args.items():
        if k in _NUMERIC and v is not None:
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise TypeError(f"action {op!r} field {k!r} must be a number, got {type(v).__name__}")
            if not math.isfinite(float(v)):
                raise ValueError(f"action {op!r} field {k!r} must be finite, got {v}")
            args[k] = float(v)
    return str(op), args


class MinecraftActionSpace(spaces.Discrete):
    """The env's action space: ``Discrete(len(LOW_LEVEL))`` low-level controls (``n``, ``sample()``
    as Discrete), and it also *contains* every valid high-level command ``{"op": ...}``
    (``PRIMITIVES``), which ``step`` accepts too. Agents may return either."""

    def contains(self, x: Any) -> bool:
        if isinstance(x, Mapping):
            try:
                parse_primitive(x)
            except (ValueError, TypeError):
                return False
            return True
        return super().contains(x)

    def __repr__(self) -> str:
        return f"MinecraftActionSpace({self.n} low-level controls + primitives {sorted(PRIMITIVES)})"


class MineflayerEnv(gym.Env):
    """Minecraft through Mineflayer (see the module docstring for sensors, actions, frame, failures)."""

    metadata = {"render_modes": []}

    def __init__(self, *, host: str | None = None, port: int | None = None, version: str = "1.16.5",
                 username: str = "embodied_mem", world: Mapping[str, Any] | None = None,
                 task: TaskSpec | Mapping[str, Any] | None = None, radius: int = 8, below: int = 2, above: int = 3,
                 view_radius: float = 3.0, max_steps: int = 400, control_ticks: int = 4,
                 item_vocab: Sequence[str] = DEFAULT_ITEMS, block_vocab: Sequence[str] = DEFAULT_BLOCKS,
                 terrain: Sequence[str] = TERRAIN, max_entities: int = 16, request_timeout: float = 60.0) -> None:
        super().__init__()
        if host is not None and not isinstance(host, str):
            raise TypeError(f"host must be a str, got {type(host).__name__}")
        if (host is None) != (port is None):
            raise ValueError("give both host and port (an existing server) or neither (a local flying-squid server)")
        if not isinstance(radius, int) or not 1 <= radius <= 32:
            raise ValueError(f"radius must be an int in [1, 32] blocks, got {radius!r}")
        if not 0 <= view_radius <= radius:
            raise ValueError(f"view_radius must be in [0, radius={radius}], got {view_radius!r}")
        if not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")
        self.host, self.port, self.version, self.username = host, port, version, username
        self.world_kwargs = dict(world or {})
        if task is None:
            task = TaskSpec()
        elif isinstance(task, Mapping):
            task = TaskSpec(**{k: (tuple(v) if k == "order" else v) for k, v in task.items()})
        elif not isinstance(task, TaskSpec):
            raise TypeError(f"task must be a TaskSpec or a mapping(order=..., count=...), got {type(task).__name__}")
        self.task: TaskSpec = task
        self.radius, self.below, self.above = radius, int(below), int(above)
        self.view_radius = float(view_radius)
        self.max_steps = max_steps
        self.control_ticks = int(control_ticks)
        self.item_vocab = tuple(item_vocab)
        self.block_vocab = ("<none>", "<other>", *block_vocab)
        self._block_index = {n: i for i, n in enumerate(self.block_vocab)}
        self.terrain = tuple(terrain)
        self.max_entities = int(max_entities)
        self.request_timeout = float(request_timeout)
        d = 2 * radius + 1
        self.observation_space = spaces.Dict({
            "position": spaces.Box(-3.0e7, 3.0e7, (3,), np.float64),
            "yaw_pitch": spaces.Box(np.array([-math.pi, -math.pi / 2]), np.array([math.pi, math.pi / 2]), (2,), np.float64),
            "health": spaces.Box(0.0, 20.0, (1,), np.float32),
            "food": spaces.Box(0.0, 20.0, (1,), np.float32),
            "inventory": spaces.Box(0, 64 * 36, (len(self.item_vocab),), np.int32),
            "voxels": spaces.Box(0, len(self.block_vocab) - 1, (d, self.below + self.above + 1, d), np.int16),
            "occupancy": spaces.Box(0, 2, (d, d), np.int8),
            "entities": spaces.Box(-64.0, 64.0, (self.max_entities, 4), np.float32),
        })
        self.action_space = MinecraftActionSpace(len(LOW_LEVEL))
        # what agents may know of this env (embodied_mem/agent/worlds/minecraft reads it; no agent imports
        # this module): its vocabulary, its commands, the drop table, the frame and the task
        self.metadata = {**type(self).metadata, "embodied_mem": {
            "world": "minecraft", "labels": list(self.block_vocab[2:]), "inventory": list(self.item_vocab),
            "actions": list(LOW_LEVEL), "primitives": sorted(PRIMITIVES), "drops": dict(DROPS), "frame": dict(FRAME),
            "task": {"order": list(self.task.order), "count": self.task.count}}}
        self.server: FlyingSquidServer | None = None
        self.sidecar: MineflayerSidecar | None = None
        self.world_layout = None  # the generated world (ground truth for tests and plots; agents never get it)
        self._steps = 0
        self._t0 = 0.0
        self._done_at: dict[str, int] = {}
        self._last_raw: dict[str, Any] | None = None
        self._last_inv: dict[str, int] = {}
        self._inv0: dict[str, int] = {}
        self._odo0 = 0.0
        self._dirty = False
        self._world_seed: int | None = None

    # ------------------------------------------------------------------ lifecycle
    def _stop(self) -> None:
        if self.sidecar is not None:
            self.sidecar.close()
            self.sidecar = None
        if self.server is not None:
            self.server.close()
            self.server = None

    def close(self) -> None:
        """Stop the bot and (when this env started it) the server. Idempotent."""
        self._stop()
        super().close()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        """Start the episode. Local mode: the world for ``seed`` on a fresh flying-squid server, except
        that a server still holding that very world untouched (no block dug or placed) is reused; the
        bot always reconnects (spawn point, empty inventory)."""
        super().reset(seed=seed)
        if self.sidecar is not None and not self.sidecar.alive:
            self.sidecar.close()
            self.sidecar = None
        if self.sidecar is None:
            self.sidecar = MineflayerSidecar()  # it loads Mineflayer while the server boots
        else:
            self.sidecar.request("disconnect", timeout=self.request_timeout)
        if self.host is None:
            world_seed = int(seed) if seed is not None else int(self.np_random.integers(0, 2**31 - 1))
            reuse = (self.server is not None and self.server.alive and not self._dirty
                     and self._world_seed == world_seed)
            if not reuse:
                if self.server is not None:
                    self.server.close()
                    self.server = None
                kw = {"kinds": self.task.order, **self.world_kwargs}
                self.world_layout = resource_world(world_seed, **kw)
                self.server = FlyingSquidServer(version=self.version, spawn=self.world_layout.spawn,
                                                blocks=self.world_layout.blocks)
                self._world_seed = world_seed
            assert self.server is not None
            port, host = self.server.port, "127.0.0.1"
        else:
            port, host = int(self.port), self.host  # type: ignore[arg-type]
        self._dirty = False
        self.sidecar.request("connect", timeout=self.request_timeout, host=host, port=port,
                             username=self.username, version=self.version)
        self._steps = 0
        self._t0 = time.perf_counter()
        self._done_at = {}
        raw = self._observe()
        self._odo0 = float(raw.get("odometer", 0.0))
        self._inv0 = {str(k): int(v) for k, v in raw["inventory"].items()}
        obs, info = self._package(raw, result=None, action=None)
        return obs, info

    # ------------------------------------------------------------------ acting
    def _command(self, action: Any) -> tuple[str, dict[str, Any], float]:
        """Validate an action; returns (op, arguments, timeout in s)."""
        if isinstance(action, (int, np.integer)) and not isinstance(action, bool):
            a = int(action)
            if not 0 <= a < len(LOW_LEVEL):
                raise ValueError(f"action must be in [0, {len(LOW_LEVEL)}) (LOW_LEVEL), got {a}")
            return "control", {**_LOW[LOW_LEVEL[a]], "ticks": self.control_ticks}, 30.0
        if isinstance(action, np.ndarray) and action.shape == () and np.issubdtype(action.dtype, np.integer):
            return self._command(int(action))
        if not isinstance(action, Mapping):
            raise TypeError(f"action must be an int (LOW_LEVEL index) or a dict {{'op': ...}}, got {type(action).__name__}")
        op, args = parse_primitive(action)
        timeout = self.request_timeout + float(args.get("timeout_ms", 0) or 0) / 1000.0
        return op, args, timeout

    def step(self, action: Any) -> tuple[dict, float, bool, bool, dict]:
        if self.sidecar is None:
            raise RuntimeError("call reset() before step()")
        op, args, timeout = self._command(action)
        result = self.sidecar.request(op, timeout=timeout, **args)
        if op in ("dig", "place", "control") and isinstance(result, Mapping) and (result.get("dug") or result.get("placed")):
            self._dirty = True  # the world differs from its generated layout
        self._steps += 1
        raw = self._observe()
        before = self._task_progress(self._last_inv)
        name = LOW_LEVEL[int(action)] if op == "control" and not isinstance(action, Mapping) else op
        target = result.get("block") if isinstance(result, Mapping) and isinstance(result.get("block"), str) else None
        obs, info = self._package(raw, result=result, action=name, target=target)
        after = info["task"]["progress"]
        reward = float(sum(after.values()) - sum(before.values()))
        terminated = bool(info["task"]["done"])
        truncated = not terminated and self._steps >= self.max_steps
        return obs, reward, terminated, truncated, info

    # ------------------------------------------------------------------ sensing
    def _observe(self) -> dict[str, Any]:
        assert self.sidecar is not None
        raw = self.sidecar.request("observe", timeout=self.request_timeout, radius=self.radius, below=self.below,
                                   above=self.above, ignore=list(self.terrain))
        self._last_raw = raw
        return raw

    def _task_progress(self, inventory: Mapping[str, int]) -> dict[str, int]:
        # Items held before the episode began do not count.
        gained = {k: max(0, int(v) - int(self._inv0.get(k, 0))) for k, v in inventory.items()}
        return self.task.progress(gained)

    def _package(self, raw: dict[str, Any], *, result: Any, action: str | None,
                 target: str | None = None) -> tuple[dict, dict]:
        px, py, pz = (float(v) for v in raw["position"])
        feet = (math.floor(px), math.floor(py), math.floor(pz))
        r, d = self.radius, 2 * self.radius + 1
        yaw = (float(raw["yaw"]) + math.pi) % (2 * math.pi) - math.pi
        pitch = float(np.clip(raw["pitch"], -math.pi / 2, math.pi / 2))
        inventory = {str(k): int(v) for k, v in raw["inventory"].items()}
        voxels = np.zeros((d, self.below + self.above + 1, d), np.int16)
        blocks: list[tuple[str, tuple[int, int, int]]] = []
        for bx, by, bz, name in raw["blocks"]:
            blocks.append((name, (int(bx), int(by), int(bz))))
            i, j, k = bx - feet[0] + r, by - feet[1] + self.below, bz - feet[2] + r
            if 0 <= i < d and 0 <= j < voxels.shape[1] and 0 <= k < d:
                voxels[i, j, k] = self._block_index.get(name, 1)
        occupancy = np.zeros((d, d), np.int8)
        for cell in raw["free"]:
            i, k = cell[0] - feet[0] + r, cell[1] - feet[2] + r
            if 0 <= i < d and 0 <= k < d:
                occupancy[i, k] = 1
        for cell in raw["blocked"]:
            i, k = cell[0] - feet[0] + r, cell[1] - feet[2] + r
            if 0 <= i < d and 0 <= k < d:
                occupancy[i, k] = 2
        ents = np.zeros((self.max_entities, 4), np.float32)
        for n, e in enumerate(raw["entities"][: self.max_entities]):
            ex, ey, ez = e["position"]
            ents[n] = (np.clip(ex - px, -64, 64), np.clip(ey - py, -64, 64), np.clip(ez - pz, -64, 64), 1.0)
        obs = {
            "position": np.array([px, py, pz], np.float64),
            "yaw_pitch": np.array([yaw, pitch], np.float64),
            "health": np.array([np.clip(raw["health"], 0, 20)], np.float32),
            "food": np.array([np.clip(raw["food"], 0, 20)], np.float32),
            "inventory": np.array([min(inventory.get(n, 0), 64 * 36) for n in self.item_vocab], np.int32),
            "voxels": voxels,
            "occupancy": occupancy,
            "entities": ents,
        }
        self._last_inv = inventory
        progress = self._task_progress(inventory)
        for k, v in progress.items():
            if v >= self.task.count and k not in self._done_at:
                self._done_at[k] = self._steps
        order_kept = all(self._done_at.get(a, 1 << 30) <= self._done_at.get(b, 1 << 30)
                         for a, b in zip(self.task.order, self.task.order[1:]))
        done = self.task.done({self.task.item(k): v for k, v in progress.items()})
        events: list[str] = []
        if isinstance(result, Mapping):
            if result.get("dug"):
                events.append(f"dug {result.get('block')}")
            if result.get("collected"):
                events.append(f"collected {result.get('block')}")
        percept = self._percept(raw, blocks, events, action, target)
        info = {
            "percept": percept,
            "blocks": blocks,
            "entities": raw["entities"],
            "inventory": inventory,
            "held": raw.get("held"),
            "position": (px, py, pz),
            "result": result,
            "action_ok": _ok(result),
            "task": {"order": list(self.task.order), "count": self.task.count, "progress": progress,
                     "current": self.task.current({self.task.item(k): v for k, v in progress.items()}),
                     "done": done, "order_kept": order_kept and done},
            "steps": self._steps,
            "distance": float(raw.get("odometer", 0.0)) - self._odo0,
        }
        return obs, info

    @property
    def episode_wall_s(self) -> float:
        """Seconds since the last ``reset`` finished (kept out of ``info`` so steps stay reproducible)."""
        return time.perf_counter() - self._t0

    def _percept(self, raw: dict[str, Any], blocks: list[tuple[str, tuple[int, int, int]]], events: list[str],
                 action: str | None, target: str | None) -> Percept:
        x, y, z = feet_to_memory(*raw["position"])
        pose = Pose(x=x, y=y, z=z, yaw=yaw_to_memory(float(raw["yaw"])))
        sightings = [Sighting(name, block_to_memory(*p)) for name, p in blocks]
        for e in raw["entities"]:
            sightings.append(Sighting(str(e["name"]), feet_to_memory(*e["position"]), instance=f"entity-{e['id']}"))
        free = np.array([[c[0], c[1]] for c in raw["free"]], float).reshape(-1, 2)
        blocked = np.array([[c[0], c[1]] for c in raw["blocked"]], float).reshape(-1, 2)
        return Percept(t=float(self._steps), pose=pose, sightings=tuple(sightings),
                       view=View.disc((x, y, z), self.view_radius), events=tuple(events), source="minecraft",
                       free=free, blocked=blocked, action=action, target=target)


def _ok(result: Any) -> bool:
    if not isinstance(result, Mapping):
        return result is not None
    for key in ("reached", "dug", "placed", "attacked", "crafted"):
        if key in result:
            return bool(result[key])
    return True
