"""Contract fake of MineRL for tests where ``minerl`` cannot be installed (it needs Java 8 and
downloads Minecraft at build time).

``FakeMineRLEnv(version="0.4" | "1.0")`` reproduces, from MineRL's documentation:

- the **observation space** as nested dicts: ``pov`` Box(0, 255, (64, 64, 3) in 0.4 /
  (360, 640, 3) in 1.0, uint8); ``inventory`` {item: Box(0, 2304, ())}; 0.4 Navigate: ``compass``
  {"angle": Box(-180, 180, ())}; ``location_stats`` {xpos, ypos, zpos, pitch, yaw} (0.4 envs that
  expose full stats, and 1.0); 1.0: ``life_stats`` {life (0..20), food (0..20)};
- the **action space**: 0.4 keys forward/back/left/right/jump/sneak/sprint/attack (Discrete(2)),
  ``camera`` Box(-180, 180, (2,)) = [pitch, yaw] deltas in degrees, and the enums place/equip/
  craft/nearbyCraft/nearbySmelt ("none", items...); 1.0 keys ESC, attack, back, drop, forward,
  hotbar.1-9, inventory, jump, left, pickItem, right, sneak, sprint, swapHands, use and ``camera``.
  ``action_space.noop()`` returns the all-zero / "none" action, as MineRL's does;
- the **old gym step API**: ``reset() -> obs`` and ``step(action) -> (obs, reward, done, info)``;
- Minecraft's **angle conventions**: yaw in degrees, 0 faces +z (south), 90 faces -x, camera yaw
  delta > 0 turns right (yaw grows); pitch > 0 looks down, clamped to [-90, 90].

What it does *not* reproduce: rendering (``pov`` is a flat colour that darkens with pitch),
physics (``forward`` moves 0.25 blocks along the yaw per step, ``jump`` does nothing, no
collisions), and the world: one goal position for the compass, and ``attack`` held for
``attack_steps`` consecutive steps "mines" a log (inventory ``log`` += 1) - enough to exercise
adapters, never a stand-in for MineRL's dynamics.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["FakeMineRLEnv", "FakeDictSpace", "FakeBox", "FakeDiscrete", "FakeEnum"]


class FakeBox:
    def __init__(self, low: float, high: float, shape: tuple[int, ...], dtype: Any = np.float32) -> None:
        self.low, self.high, self.shape, self.dtype = low, high, shape, np.dtype(dtype)

    def contains(self, x: Any) -> bool:
        a = np.asarray(x)
        return a.shape == self.shape and bool(np.all(a >= self.low)) and bool(np.all(a <= self.high))

    def noop(self) -> Any:
        return np.zeros(self.shape, self.dtype) if self.shape else self.dtype.type(0)


class FakeDiscrete:
    def __init__(self, n: int) -> None:
        self.n = n

    def contains(self, x: Any) -> bool:
        return int(np.asarray(x).reshape(())) in range(self.n)

    def noop(self) -> int:
        return 0


class FakeEnum:
    def __init__(self, *values: str) -> None:
        self.values = tuple(values)

    def contains(self, x: Any) -> bool:
        return x in self.values

    def noop(self) -> str:
        return self.values[0]


class FakeDictSpace(dict):
    """A dict of spaces with MineRL's ``noop()`` and ``contains()``."""

    def noop(self) -> dict[str, Any]:
        return {k: v.noop() for k, v in self.items()}

    def contains(self, x: Any) -> bool:
        return isinstance(x, dict) and set(x) == set(self) and all(self[k].contains(x[k]) for k in self)


ITEMS_04 = ("dirt", "log", "planks", "stick", "crafting_table", "wooden_pickaxe", "cobblestone", "stone_pickaxe")
ITEMS_10 = ("oak_log", "oak_planks", "stick", "crafting_table", "wooden_pickaxe", "cobblestone", "dirt")


class FakeMineRLEnv:
    """A documented stand-in with MineRL's spaces and API (see the module docstring)."""

    def __init__(self, version: str = "0.4", *, location_stats: bool = True, compass: bool = True,
                 goal: tuple[float, float] = (20.0, 10.0), attack_steps: int = 5, max_steps: int = 1000) -> None:
        if version not in ("0.4", "1.0"):
            raise ValueError(f"version must be '0.4' or '1.0', got {version!r}")
        self.version = version
        self.location_stats = location_stats or version == "1.0"
        self.compass = compass and version == "0.4"
        self.goal = goal
        self.attack_steps = attack_steps
        self.max_steps = max_steps
        pov = (64, 64, 3) if version == "0.4" else (360, 640, 3)
        items = ITEMS_04 if version == "0.4" else ITEMS_10
        obs: dict[str, Any] = {"pov": FakeBox(0, 255, pov, np.uint8),
                               "inventory": FakeDictSpace({k: FakeBox(0, 2304, (), np.int64) for k in items})}
        if self.compass:
            obs["compass"] = FakeDictSpace({"angle": FakeBox(-180.0, 180.0, ())})
        if self.location_stats:
            obs["location_stats"] = FakeDictSpace({k: FakeBox(-3.0e7, 3.0e7, ()) for k in ("xpos", "ypos", "zpos")}
                                                  | {"pitch": FakeBox(-90.0, 90.0, ()), "yaw": FakeBox(-180.0, 180.0, ())})
        if version == "1.0":
            obs["life_stats"] = FakeDictSpace({"life": FakeBox(0.0, 20.0, ()), "food": FakeBox(0.0, 20.0, ())})
        self.observation_space = FakeDictSpace(obs)
        if version == "0.4":
            act: dict[str, Any] = {k: FakeDiscrete(2) for k in ("forward", "back", "left", "right", "jump", "sneak",
                                                                 "sprint", "attack")}
            act["camera"] = FakeBox(-180.0, 180.0, (2,))
            act["place"] = FakeEnum("none", "dirt", "stone", "cobblestone", "crafting_table", "furnace", "torch")
            act["equip"] = FakeEnum("none", "air", "wooden_axe", "wooden_pickaxe", "stone_axe", "stone_pickaxe")
            act["craft"] = FakeEnum("none", "torch", "stick", "planks", "crafting_table")
            act["nearbyCraft"] = FakeEnum("none", "wooden_axe", "wooden_pickaxe", "stone_pickaxe", "furnace")
            act["nearbySmelt"] = FakeEnum("none", "iron_ingot", "coal")
        else:
            act = {k: FakeDiscrete(2) for k in ("ESC", "attack", "back", "drop", "forward",
                                                 *(f"hotbar.{i}" for i in range(1, 10)), "inventory", "jump", "left",
                                                 "pickItem", "right", "sneak", "sprint", "swapHands", "use")}
            act["camera"] = FakeBox(-180.0, 180.0, (2,))
        self.action_space = FakeDictSpace(act)
        self._items = items
        self.closed = False

    def seed(self, seed: int | None = None) -> None:
        self._seed = seed

    def reset(self) -> dict[str, Any]:
        self.x, self.y, self.z = 0.5, 64.0, 0.5
        self.yaw, self.pitch = 0.0, 0.0
        self.inventory = {k: 0 for k in self._items}
        self.t = 0
        self._attack_run = 0
        return self._obs()

    def _obs(self) -> dict[str, Any]:
        shade = int(np.clip(160 - self.pitch, 0, 255))
        obs: dict[str, Any] = {"pov": np.full(self.observation_space["pov"].shape, shade, np.uint8),
                               "inventory": {k: np.int64(v) for k, v in self.inventory.items()}}
        if self.compass:
            want = math.degrees(math.atan2(-(self.goal[0] - self.x), self.goal[1] - self.z))
            obs["compass"] = {"angle": np.float32((want - self.yaw + 180.0) % 360.0 - 180.0)}
        if self.location_stats:
            obs["location_stats"] = {"xpos": np.float64(self.x), "ypos": np.float64(self.y), "zpos": np.float64(self.z),
                                     "pitch": np.float32(self.pitch), "yaw": np.float32(self.yaw)}
        if self.version == "1.0":
            obs["life_stats"] = {"life": np.float32(20.0), "food": np.float32(20.0)}
        return obs

    def step(self, action: dict[str, Any]) -> tuple[dict[str, Any], float, bool, dict[str, Any]]:
        if not self.action_space.contains(action):
            bad = sorted(set(action) ^ set(self.action_space)) or [k for k in self.action_space
                                                                   if not self.action_space[k].contains(action[k])]
            raise ValueError(f"action is not in MineRL {self.version}'s action space (check keys/values: {bad})")
        dp, dy = (float(v) for v in np.asarray(action["camera"], float))
        self.pitch = float(np.clip(self.pitch + dp, -90.0, 90.0))
        self.yaw = (self.yaw + dy + 180.0) % 360.0 - 180.0
        fwd = int(action["forward"]) - int(action["back"])
        side = int(action["right"]) - int(action["left"])  # right of facing (yaw + 90)
        r = math.radians(self.yaw)
        step = 0.25
        self.x += step * (fwd * -math.sin(r) + side * -math.cos(r))
        self.z += step * (fwd * math.cos(r) + side * -math.sin(r))
        reward = 0.0
        if int(action["attack"]):
            self._attack_run += 1
            if self._attack_run >= self.attack_steps:
                key = "log" if self.version == "0.4" else "oak_log"
                self.inventory[key] += 1
                self._attack_run = 0
                reward = 1.0
        else:
            self._attack_run = 0
        self.t += 1
        done = self.t >= self.max_steps
        return self._obs(), reward, done, {}

    def close(self) -> None:
        self.closed = True
