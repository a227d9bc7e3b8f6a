"""``HabitatEnv``: object search in a habitat-sim scene, as a Gymnasium env with sensor-only percepts.

Written against the real habitat_sim API (``Simulator``, ``Configuration``,
``SimulatorConfiguration``, ``CameraSensorSpec`` with ``SensorType.COLOR/DEPTH/SEMANTIC``,
``agent.AgentConfiguration`` with ``ActionSpec("move_forward"/"turn_left"/"turn_right",
ActuationSpec(amount))``, ``AgentState``, ``pathfinder`` and ``MultiGoalShortestPath``, the
``semantic_scene``'s objects with ``category.name()``). habitat_sim is imported only when the env is
built (``require("habitat_sim")``: conda only; the error gives the install route). Tests run it on
the documented contract fake in ``embodied_mem.envs.habitat.testing``.

Observations, actions and ``info`` are those of the embedded world (``embodied_mem.envs.indoor3d``):
``rgb`` (H, W, 3) uint8, ``depth`` (H, W, 1) float32 metres, ``semantic`` (H, W) uint32 instance ids,
``objectgoal``, ``gps`` (memory-frame x, y in metres) and ``compass`` (memory-frame yaw); actions
0 stop, 1 move_forward, 2 turn_left, 3 turn_right; ``info["percept"]`` is the frame's ``Percept``.

Frames: habitat_sim's world is y-up with agents looking along −z; memory's is z-up with the floor
in x–y: ``(x, y, z)_memory = (x, −z, y)_habitat`` and yaw = heading + π/2
(``embodied_mem.mapping3d.frames``). The floor height is taken from the agent's y position.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from embodied_mem.mapping3d.frames import (
    Intrinsics,
    habitat_rotation_from_yaw,
    habitat_to_memory,
    yaw_from_habitat_rotation,
)
from embodied_mem.mapping3d.percepts import frame_percept
from embodied_mem.percept import Pose

__all__ = ["HabitatEnv", "OBJECTNAV_CATEGORIES", "ACTIONS"]

# Habitat ObjectNav challenge categories (HM3D).
OBJECTNAV_CATEGORIES: tuple[str, ...] = ("chair", "bed", "plant", "toilet", "tv_monitor", "sofa")
ACTIONS = ("stop", "move_forward", "turn_left", "turn_right")
RGB, DEPTH, SEMANTIC = "color_sensor", "depth_sensor", "semantic_sensor"


class HabitatEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, scene: str, *, dataset: str | None = None, width: int = 128, height: int = 128,
                 hfov_deg: float = 90.0, sensor_height: float = 1.25, forward_step: float = 0.25,
                 turn_deg: float = 30.0, max_steps: int = 500, success_distance: float = 1.0,
                 max_depth: float = 10.0, agent_radius: float = 0.18,
                 goal_categories: Sequence[str] = OBJECTNAV_CATEGORIES, gpu_device_id: int = 0,
                 habitat_sim_module: Any = None, render_mode: str | None = None) -> None:
        if not isinstance(scene, str) or not scene:
            raise ValueError(f"HabitatEnv scene must be a scene file or id (str), got {scene!r}")
        for name, v in (("width", width), ("height", height), ("max_steps", max_steps)):
            if not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError(f"HabitatEnv {name} must be a positive int, got {v!r}")
        if not goal_categories:
            raise ValueError("HabitatEnv goal_categories must name at least one category")
        if habitat_sim_module is None:
            from embodied_mem.deps import require

            habitat_sim_module = require("habitat_sim", "the 'habitat' environment")
        self.hs = habitat_sim_module
        self.render_mode = render_mode
        self.scene = scene
        self.intrinsics = Intrinsics(int(width), int(height), math.radians(hfov_deg))
        self.sensor_height = float(sensor_height)
        self.forward_step = float(forward_step)
        self.turn = math.radians(turn_deg)
        self.max_steps = int(max_steps)
        self.success_distance = float(success_distance)
        self.max_depth = float(max_depth)
        self.agent_radius = float(agent_radius)
        self.goal_names = tuple(goal_categories)
        self._sim = self._make_sim(dataset, gpu_device_id)
        self._agent = self._sim.initialize_agent(0)
        self.labels, self.regions, self._objects = self._read_semantic_scene()
        present = {o[1] for o in self._objects}
        self.available_goals = [g for g in self.goal_names if g in present]
        H, W = int(height), int(width)
        self.observation_space = spaces.Dict({
            "rgb": spaces.Box(0, 255, (H, W, 3), np.uint8),
            "depth": spaces.Box(0.0, self.max_depth, (H, W, 1), np.float32),
            "semantic": spaces.Box(0, np.iinfo(np.uint32).max, (H, W), np.uint32),
            "objectgoal": spaces.Discrete(len(self.goal_names)),
            "gps": spaces.Box(-1e4, 1e4, (2,), np.float32),
            "compass": spaces.Box(-math.pi, math.pi, (1,), np.float32),
        })
        self.action_space = spaces.Discrete(len(ACTIONS))
        # what agents may know of this env (embodied_mem/agent/worlds/objectnav reads it; no agent imports
        # this module): goal categories in objectgoal order, action names in id order, the camera
        self.metadata = {**type(self).metadata, "embodied_mem": {
            "world": "objectnav", "labels": list(self.goal_names), "actions": list(ACTIONS),
            "camera": {"width": W, "height": H, "hfov": self.intrinsics.hfov, "sensor_height": self.sensor_height,
                       "max_depth": self.max_depth},
            "turn": self.turn, "agent_radius": self.agent_radius}}
        self.goal = self.goal_names[0]
        self._steps = 0
        self._path = 0.0
        self._shortest = 0.0
        self._done = True
        self._last: dict[str, Any] | None = None

    # ------------------------------------------------------------ habitat_sim setup
    def _make_sim(self, dataset: str | None, gpu_device_id: int) -> Any:
        hs = self.hs
        sim_cfg = hs.SimulatorConfiguration()
        sim_cfg.scene_id = self.scene
        if dataset is not None:
            sim_cfg.scene_dataset_config_file = dataset
        sim_cfg.enable_physics = False
        sim_cfg.gpu_device_id = int(gpu_device_id)
        specs = []
        for uuid, kind in ((RGB, hs.SensorType.COLOR), (DEPTH, hs.SensorType.DEPTH), (SEMANTIC, hs.SensorType.SEMANTIC)):
            spec = hs.CameraSensorSpec()
            spec.uuid = uuid
            spec.sensor_type = kind
            spec.resolution = [self.intrinsics.height, self.intrinsics.width]
            spec.position = [0.0, self.sensor_height, 0.0]
            spec.hfov = _degrees(math.degrees(self.intrinsics.hfov))
            specs.append(spec)
        agent_cfg = hs.agent.AgentConfiguration()
        agent_cfg.sensor_specifications = specs
        agent_cfg.radius = self.agent_radius
        turn = math.degrees(self.turn)
        agent_cfg.action_space = {
            "move_forward": hs.agent.ActionSpec("move_forward", hs.agent.ActuationSpec(amount=self.forward_step)),
            "turn_left": hs.agent.ActionSpec("turn_left", hs.agent.ActuationSpec(amount=turn)),
            "turn_right": hs.agent.ActionSpec("turn_right", hs.agent.ActuationSpec(amount=turn)),
        }
        return hs.Simulator(hs.Configuration(sim_cfg, [agent_cfg]))

    def _read_semantic_scene(self) -> tuple[dict[int, str], dict[int, str], list[tuple[int, str, np.ndarray]]]:
        """Instance id -> category, floor instance id -> region name, and (id, category, centre in
        Habitat frame) for every object of the semantic scene."""
        labels: dict[int, str] = {}
        regions: dict[int, str] = {}
        objects: list[tuple[int, str, np.ndarray]] = []
        scene = self._sim.semantic_scene
        for obj in getattr(scene, "objects", None) or []:
            if obj is None or obj.category is None:
                continue
            sid = getattr(obj, "semantic_id", None)
            if sid is None:  # older habitat_sim: ids look like "<level>_<region>_<object>"
                sid = int(str(obj.id).split("_")[-1])
            name = obj.category.name().strip().lower().replace(" ", "_")
            labels[int(sid)] = name
            region = getattr(obj, "region", None)
            if name == "floor" and region is not None and region.category is not None:
                regions[int(sid)] = region.category.name()
            objects.append((int(sid), name, np.asarray(obj.aabb.center, dtype=float)))
        return labels, regions, objects

    # ------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        if not self.available_goals:
            raise RuntimeError(f"scene {self.scene!r} has no object of the goal categories {list(self.goal_names)}")
        rng = self.np_random
        pf = self._sim.pathfinder
        pf.seed(int(rng.integers(2**31 - 1)))
        goals = self.available_goals
        if options and "goal" in options:
            if options["goal"] not in goals:
                raise ValueError(f"options['goal'] must be one of {goals}, got {options['goal']!r}")
            goals = [options["goal"]]
        for _ in range(100):
            goal = goals[int(rng.integers(len(goals)))]
            start = np.asarray(pf.get_random_navigable_point(), dtype=np.float32)
            d = self._geodesic(start, goal)
            if math.isfinite(d) and d > 0:
                break
        self.goal, self._shortest = goal, float(d)
        state = self.hs.AgentState()
        state.position = start
        state.rotation = _as_rotation(habitat_rotation_from_yaw(float(rng.uniform(-math.pi, math.pi))))
        self._agent.set_state(state)
        self._steps, self._path, self._done = 0, 0.0, False
        raw = self._sim.get_sensor_observations()
        return self._obs(raw), self._info(raw, collided=False, action=None)

    def step(self, action: Any) -> tuple[dict, float, bool, bool, dict]:
        if self._done:
            raise RuntimeError("HabitatEnv.step called on a finished episode; call reset() first")
        a = int(action)
        if not 0 <= a < len(ACTIONS):
            raise ValueError(f"action must be in 0..{len(ACTIONS) - 1} ({', '.join(ACTIONS)}), got {action!r}")
        self._steps += 1
        before = np.asarray(self._agent.get_state().position, dtype=float)
        if a == 0:
            raw = self._sim.get_sensor_observations()
            collided = False
        else:
            raw = self._sim.step(ACTIONS[a])
            collided = bool(getattr(self._sim, "previous_step_collided", False))
        after = np.asarray(self._agent.get_state().position, dtype=float)
        self._path += float(np.linalg.norm((after - before)[[0, 2]]))
        terminated = a == 0
        truncated = not terminated and self._steps >= self.max_steps
        obs = self._obs(raw)
        info = self._info(raw, collided=collided, action=ACTIONS[a])
        reward = 0.0
        if terminated or truncated:
            self._done = True
            success = terminated and self._near_goal(after)
            spl = float(success) * self._shortest / max(self._shortest, self._path, 1e-9)
            info.update(success=bool(success), spl=spl, path_length=self._path, shortest_path=self._shortest,
                        steps=self._steps)
            reward = float(success)
        return obs, reward, terminated, truncated, info

    def render(self) -> np.ndarray | None:
        if self.render_mode == "rgb_array" and self._last is not None:
            return self._last["rgb"]
        return None

    def close(self) -> None:
        sim = getattr(self, "_sim", None)
        if sim is not None:
            sim.close()
            self._sim = None

    # ------------------------------------------------------------ internals
    def _geodesic(self, start: np.ndarray, goal: str) -> float:
        pf = self._sim.pathfinder
        path = self.hs.MultiGoalShortestPath()
        path.requested_start = start
        ends = [np.asarray(pf.snap_point(c), dtype=np.float32) for _, name, c in self._objects if name == goal]
        path.requested_ends = [e for e in ends if np.isfinite(e).all()]  # snap_point gives NaN off the navmesh
        if not path.requested_ends:
            return math.inf
        if not pf.find_path(path):
            return math.inf
        return max(0.0, float(path.geodesic_distance) - self.success_distance)

    def _near_goal(self, pos: np.ndarray) -> bool:
        return any(name == self.goal and math.hypot(c[0] - pos[0], c[2] - pos[2]) <= self.success_distance
                   for _, name, c in self._objects)

    def _pose(self) -> Pose:
        st = self._agent.get_state()
        p = habitat_to_memory(np.asarray(st.position, dtype=float))
        return Pose(float(p[0]), float(p[1]), float(p[2]), yaw_from_habitat_rotation(st.rotation))

    def _obs(self, raw: dict[str, Any]) -> dict[str, Any]:
        pose = self._pose()
        rgb = np.asarray(raw[RGB])[..., :3].astype(np.uint8)
        depth = np.clip(np.asarray(raw[DEPTH], dtype=np.float32), 0.0, self.max_depth)
        if depth.ndim == 2:
            depth = depth[..., None]
        obs = {
            "rgb": np.ascontiguousarray(rgb),
            "depth": depth,
            "semantic": np.asarray(raw[SEMANTIC]).astype(np.uint32),
            "objectgoal": int(self.goal_names.index(self.goal)),
            "gps": np.array([pose.x, pose.y], np.float32),
            "compass": np.array([pose.yaw], np.float32),
        }
        self._last = obs
        return obs

    def _info(self, raw: dict[str, Any], *, collided: bool, action: str | None) -> dict[str, Any]:
        obs = self._last
        assert obs is not None
        pose = self._pose()
        percept, _ = frame_percept(obs["depth"], obs["semantic"], self.intrinsics, pose, t=float(self._steps),
                                   sensor_height=self.sensor_height, labels=self.labels, regions=self.regions,
                                   source="habitat", max_depth=self.max_depth, action=action)
        st = self._agent.get_state()
        return {"percept": percept, "agent_state": {"position": np.asarray(st.position), "rotation": st.rotation},
                "labels": dict(self.labels), "goal": self.goal, "collided": collided}


def _degrees(v: float) -> Any:
    """habitat_sim wants a magnum ``Deg`` for ``hfov``; fall back to a float where magnum is absent."""
    try:
        import magnum as mn
    except ImportError:
        return float(v)
    return mn.Deg(v)


def _as_rotation(wxyz: tuple[float, float, float, float]) -> Any:
    """A numpy-quaternion where available (what habitat_sim's AgentState holds), else our Quaternion."""
    try:
        import quaternion  # numpy-quaternion, a habitat_sim dependency
    except ImportError:
        from embodied_mem.mapping3d.frames import Quaternion

        return Quaternion(*wxyz)
    return quaternion.quaternion(*wxyz)
