"""``Indoor3DEnv``: object search in a procedurally generated apartment, rendered by ray casting.

A Gymnasium env with Habitat-compatible sensors and actions (ObjectNav style):

- **actions** ``Discrete(4)``: 0 ``stop``, 1 ``move_forward`` (``forward_step`` metres; blocked by
  walls and furniture, then the agent stays put and ``info["collided"]`` is True), 2 ``turn_left``,
  3 ``turn_right`` (``turn_deg`` degrees). ``stop`` ends the episode.
- **observations** (a dict, as ``habitat_sim`` sensors + the ObjectNav goal):
  ``rgb`` (H, W, 3) uint8; ``depth`` (H, W, 1) float32 z-depth in metres (0 = no return);
  ``semantic`` (H, W) uint32 instance ids; ``objectgoal`` the index of the goal category in
  ``GOAL_CATEGORIES``; ``gps`` (2,) float32 the agent's memory-frame x–y in metres and ``compass``
  (1,) float32 its yaw in radians, both **in the apartment's fixed world frame** (a localized
  robot), so memories from earlier episodes in the same apartment stay valid.
- **info**: ``percept`` (the sensor-only ``Percept`` of this frame, t = step index),
  ``agent_state`` (Habitat frame: ``position`` (3,) y-up, ``rotation`` quaternion (w, x, y, z)),
  ``labels`` (instance id -> category: the semantic scene), ``goal`` (category name),
  ``collided``; when the episode ends also ``success``, ``spl``, ``path_length``,
  ``shortest_path``.

**Task**: find an object of the goal category and call ``stop`` within ``success_distance``
metres (x–y) of its centre. SPL = success × shortest / max(shortest, travelled), shortest being
the geodesic distance on the ground-truth navigable grid from the start to any cell within
``success_distance`` of a goal instance. With ``scene_seed`` fixed (the default) every episode
happens in the same apartment with a new start and goal drawn from ``reset(seed=...)``; set
``new_scene_each_episode=True`` to draw a new apartment per episode. ``reset(options={"goal": name})``
fixes the goal; ``reset(options={"tour": True})`` asks for a category absent from the apartment, so
the episode is pure exploration (a "tour" that lets a memory agent see the apartment first; its
success is always False and its shortest path 0).
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from embodied_mem.mapping3d.frames import (
    Intrinsics,
    Quaternion,
    camera_pose,
    habitat_rotation_from_yaw,
    memory_to_habitat,
)
from embodied_mem.mapping3d.navgrid import geodesic
from embodied_mem.mapping3d.percepts import frame_percept
from embodied_mem.percept import Pose

from .render import Renderer
from .world import SMALL_OBJECTS, Apartment, generate_apartment

__all__ = ["Indoor3DEnv", "GOAL_CATEGORIES", "ACTIONS"]

GOAL_CATEGORIES: tuple[str, ...] = tuple(sorted(SMALL_OBJECTS))
ACTIONS = ("stop", "move_forward", "turn_left", "turn_right")


class Indoor3DEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    goal_names = GOAL_CATEGORIES  # objectgoal index -> category

    def __init__(self, scene_seed: int = 0, *, width: int = 128, height: int = 128, hfov_deg: float = 90.0,
                 sensor_height: float = 1.25, forward_step: float = 0.25, turn_deg: float = 30.0,
                 max_steps: int = 500, success_distance: float = 1.0, max_depth: float = 10.0,
                 agent_radius: float = 0.18, new_scene_each_episode: bool = False, min_start_distance: float = 4.0,
                 rooms: tuple[int, int] | None = None, n_small_objects: int = 10,
                 render_mode: str | None = None) -> None:
        for name, v in (("width", width), ("height", height), ("max_steps", max_steps)):
            if not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError(f"Indoor3DEnv {name} must be a positive int, got {v!r}")
        for name, v in (("forward_step", forward_step), ("turn_deg", turn_deg), ("success_distance", success_distance),
                        ("max_depth", max_depth), ("sensor_height", sensor_height)):
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"Indoor3DEnv {name} must be a positive number, got {v!r}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        self.scene_seed = int(scene_seed)
        self.intrinsics = Intrinsics(int(width), int(height), math.radians(hfov_deg))
        self.sensor_height = float(sensor_height)
        self.forward_step = float(forward_step)
        self.turn = math.radians(turn_deg)
        self.max_steps = int(max_steps)
        self.success_distance = float(success_distance)
        self.max_depth = float(max_depth)
        self.agent_radius = float(agent_radius)
        self.new_scene_each_episode = bool(new_scene_each_episode)
        self.min_start_distance = float(min_start_distance)
        self.rooms = tuple(rooms) if rooms is not None else None
        self.n_small_objects = int(n_small_objects)
        H, W = int(height), int(width)
        self.observation_space = spaces.Dict({
            "rgb": spaces.Box(0, 255, (H, W, 3), np.uint8),
            "depth": spaces.Box(0.0, self.max_depth, (H, W, 1), np.float32),
            "semantic": spaces.Box(0, np.iinfo(np.uint32).max, (H, W), np.uint32),
            "objectgoal": spaces.Discrete(len(GOAL_CATEGORIES)),
            "gps": spaces.Box(-1e4, 1e4, (2,), np.float32),
            "compass": spaces.Box(-math.pi, math.pi, (1,), np.float32),
        })
        self.action_space = spaces.Discrete(len(ACTIONS))
        # what agents may know of this env (embodied_mem/agent/worlds/objectnav reads it; no agent imports
        # this module): goal categories in objectgoal order, action names in id order, the camera
        self.metadata = {**type(self).metadata, "embodied_mem": {
            "world": "objectnav", "labels": list(GOAL_CATEGORIES), "actions": list(ACTIONS),
            "camera": {"width": W, "height": H, "hfov": self.intrinsics.hfov, "sensor_height": self.sensor_height,
                       "max_depth": self.max_depth},
            "turn": self.turn, "agent_radius": self.agent_radius}}
        self.apartment: Apartment | None = None
        self._renderer: Renderer | None = None
        self._load(self.scene_seed)
        self.x = self.y = self.yaw = 0.0
        self.goal = GOAL_CATEGORIES[0]
        self._steps = 0
        self._path = 0.0
        self._shortest = 0.0
        self._last_obs: dict[str, Any] | None = None
        self._done = True

    # ------------------------------------------------------------ scene
    def _load(self, seed: int) -> None:
        if self.apartment is not None and self.apartment.seed == seed:
            return
        self.apartment = generate_apartment(seed, agent_radius=self.agent_radius, rooms=self.rooms,
                                            n_small_objects=self.n_small_objects)
        self._renderer = Renderer(self.apartment, self.intrinsics, max_depth=self.max_depth)
        self.labels = self.apartment.categories()
        self.regions = {b.id: b.region for b in self.apartment.boxes if b.category == "floor" and b.region}
        self._goal_cells: dict[str, np.ndarray] = {}
        for b in self.apartment.objects("object"):
            m = self.apartment.cells_near(b.center[0], b.center[1], self.success_distance)
            if m.any():
                self._goal_cells[b.category] = m | self._goal_cells.get(b.category, np.zeros_like(m))
        if not self._goal_cells:
            raise RuntimeError(f"apartment {seed} has no reachable object to search for")

    @property
    def goal_categories(self) -> list[str]:
        """Categories that can be goals in the current apartment (reachable within success distance)."""
        return sorted(self._goal_cells)

    # ------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        rng = self.np_random
        if self.new_scene_each_episode:
            self._load(int(rng.integers(2**31 - 1)))
        apt = self.apartment
        assert apt is not None
        goals = self.goal_categories
        tour = bool(options and options.get("tour"))
        if tour:  # a goal that is not in this apartment: the agent explores the whole episode
            absent = [g for g in GOAL_CATEGORIES if g not in self._goal_cells]
            if not absent:
                raise ValueError("options['tour'] needs a goal category absent from the apartment")
            goals = absent[:1]
        elif options and "goal" in options:
            if options["goal"] not in self._goal_cells:
                raise ValueError(f"options['goal'] must be one of {goals}, got {options['goal']!r}")
            goals = [options["goal"]]
        nav = np.argwhere(apt.navigable)
        for _ in range(100):
            goal = goals[int(rng.integers(len(goals)))]
            r, c = nav[int(rng.integers(len(nav)))]
            if tour:
                dist = np.zeros(apt.navigable.shape)
                break
            dist = geodesic(apt.navigable, self._goal_cells[goal]) * apt.nav_resolution
            if math.isfinite(dist[r, c]) and dist[r, c] >= self.min_start_distance:
                break
        self.goal = goal
        self._shortest = float(dist[r, c])
        self.x, self.y = apt.nav_center(int(r), int(c))
        self.yaw = float(rng.uniform(-math.pi, math.pi))
        self._steps = 0
        self._path = 0.0
        self._done = False
        obs = self._observe()
        return obs, self._info(collided=False, action=None)

    def step(self, action: Any) -> tuple[dict, float, bool, bool, dict]:
        if self._done:
            raise RuntimeError("Indoor3DEnv.step called on a finished episode; call reset() first")
        a = int(action)
        if not 0 <= a < len(ACTIONS):
            raise ValueError(f"action must be in 0..{len(ACTIONS) - 1} ({', '.join(ACTIONS)}), got {action!r}")
        self._steps += 1
        collided = False
        if a == 1:
            nx = self.x + self.forward_step * math.cos(self.yaw)
            ny = self.y + self.forward_step * math.sin(self.yaw)
            mid = (self.x + nx) / 2, (self.y + ny) / 2
            apt = self.apartment
            assert apt is not None
            if apt.is_navigable(nx, ny) and apt.is_navigable(*mid):
                self._path += math.hypot(nx - self.x, ny - self.y)
                self.x, self.y = nx, ny
            else:
                collided = True
        elif a == 2:
            self.yaw = _wrap(self.yaw + self.turn)
        elif a == 3:
            self.yaw = _wrap(self.yaw - self.turn)
        terminated = a == 0
        truncated = not terminated and self._steps >= self.max_steps
        obs = self._observe()
        info = self._info(collided=collided, action=ACTIONS[a])
        reward = 0.0
        if terminated or truncated:
            self._done = True
            success = terminated and self._near_goal()
            spl = float(success) * self._shortest / max(self._shortest, self._path, 1e-9)
            info.update(success=bool(success), spl=spl, path_length=self._path, shortest_path=self._shortest,
                        steps=self._steps)
            reward = float(success)
        return obs, reward, terminated, truncated, info

    def render(self) -> np.ndarray | None:
        if self.render_mode == "rgb_array" and self._last_obs is not None:
            return self._last_obs["rgb"]
        return None

    # ------------------------------------------------------------ internals
    def _near_goal(self) -> bool:
        apt = self.apartment
        assert apt is not None
        return any(b.category == self.goal and math.hypot(b.center[0] - self.x, b.center[1] - self.y)
                   <= self.success_distance for b in apt.objects("object"))

    def _observe(self) -> dict[str, Any]:
        assert self._renderer is not None
        T = camera_pose(self.x, self.y, self.sensor_height, self.yaw)
        img = self._renderer.render(T)
        obs = {
            "rgb": img["rgb"],
            "depth": img["depth"][..., None],
            "semantic": img["semantic"],
            "objectgoal": int(GOAL_CATEGORIES.index(self.goal)),
            "gps": np.array([self.x, self.y], np.float32),
            "compass": np.array([self.yaw], np.float32),
        }
        self._last_obs = obs
        return obs

    def _info(self, *, collided: bool, action: str | None) -> dict[str, Any]:
        obs = self._last_obs
        assert obs is not None
        pose = Pose(self.x, self.y, 0.0, self.yaw)
        percept, _ = frame_percept(obs["depth"], obs["semantic"], self.intrinsics, pose, t=float(self._steps),
                                   sensor_height=self.sensor_height, labels=self.labels, regions=self.regions,
                                   source="indoor3d", max_depth=self.max_depth, action=action)
        return {
            "percept": percept,
            "agent_state": {"position": memory_to_habitat([self.x, self.y, 0.0]).astype(np.float32),
                            "rotation": Quaternion(*habitat_rotation_from_yaw(self.yaw))},
            "labels": dict(self.labels),
            "goal": self.goal,
            "collided": collided,
        }


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi
