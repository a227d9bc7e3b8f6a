"""A contract fake of the part of ``habitat_sim`` that ``HabitatEnv`` uses (habitat-sim is conda-only).

``fake_habitat_sim()`` returns a module-like namespace with the same names, call signatures and
return types as habitat_sim 0.3:

- configuration: ``SimulatorConfiguration`` (``scene_id``, ``scene_dataset_config_file``,
  ``enable_physics``, ``gpu_device_id``), ``CameraSensorSpec`` (``uuid``, ``sensor_type``,
  ``resolution`` = [H, W], ``position`` = [x, y, z] in the agent frame, ``hfov`` in degrees),
  ``SensorType.COLOR/DEPTH/SEMANTIC``, ``agent.AgentConfiguration`` (``sensor_specifications``,
  ``action_space``: name -> ``agent.ActionSpec(name, agent.ActuationSpec(amount=...))``, ``radius``),
  ``Configuration(sim_cfg, [agent_cfg])``;
- ``Simulator(cfg)``: ``initialize_agent(0)`` -> agent with ``get_state()`` / ``set_state(state)``;
  ``step(action_name)`` and ``get_sensor_observations()`` -> ``{uuid: array}`` with the COLOR sensor
  (H, W, 4) uint8 RGBA, DEPTH (H, W) float32 metres, SEMANTIC (H, W) uint32 instance ids;
  ``previous_step_collided``; ``semantic_scene.objects`` (``semantic_id``, ``id``,
  ``category.name()``, ``region.category.name()``, ``aabb.center``); ``pathfinder``
  (``seed``, ``get_random_navigable_point``, ``is_navigable``, ``snap_point``, ``find_path``);
  ``close()``;
- ``AgentState`` (``position`` float32 (3,), ``rotation`` quaternion with ``.w .x .y .z``),
  ``ShortestPath`` / ``MultiGoalShortestPath`` (``requested_start``, ``requested_end(s)``,
  ``geodesic_distance``, ``points``).

Frames are Habitat's (y up, agents look along −z; turn_left is +angle about +y). The scenes are the
embedded indoor world's apartments: ``scene_id = "indoor3d:<seed>"``; instances are the apartment's
boxes; floors carry their room as region. move_forward moves along the agent's −z unless the
navigable floor forbids it (then ``previous_step_collided`` is True and the agent stays, where real
habitat_sim would slide along the wall). Anything else raises ``ValueError`` naming the problem.
"""

from __future__ import annotations

import enum
import math
from types import SimpleNamespace
from typing import Any

import numpy as np

from embodied_mem.mapping3d.frames import (
    Intrinsics,
    Quaternion,
    camera_pose,
    habitat_rotation_from_yaw,
    habitat_to_memory,
    memory_to_habitat,
    yaw_from_habitat_rotation,
)

__all__ = ["fake_habitat_sim", "FakeSimulator"]


class SensorType(enum.Enum):
    COLOR = 1
    DEPTH = 2
    SEMANTIC = 3


class SimulatorConfiguration:
    def __init__(self) -> None:
        self.scene_id = ""
        self.scene_dataset_config_file = "default"
        self.enable_physics = False
        self.gpu_device_id = 0


class CameraSensorSpec:
    def __init__(self) -> None:
        self.uuid = ""
        self.sensor_type = SensorType.COLOR
        self.resolution = [128, 128]
        self.position = [0.0, 1.5, 0.0]
        self.hfov = 90.0


class ActuationSpec:
    def __init__(self, amount: float = 0.25) -> None:
        self.amount = float(amount)


class ActionSpec:
    def __init__(self, name: str, actuation: ActuationSpec | None = None) -> None:
        self.name = name
        self.actuation = actuation or ActuationSpec()


class AgentConfiguration:
    def __init__(self) -> None:
        self.height = 1.5
        self.radius = 0.1
        self.sensor_specifications: list[CameraSensorSpec] = []
        self.action_space: dict[str, ActionSpec] = {}


class AgentState:
    def __init__(self, position: Any = None, rotation: Any = None) -> None:
        self.position = np.zeros(3, np.float32) if position is None else np.asarray(position, np.float32)
        self.rotation = Quaternion(1, 0, 0, 0) if rotation is None else rotation


class Configuration:
    def __init__(self, sim_cfg: SimulatorConfiguration, agents: list[AgentConfiguration]) -> None:
        if not agents:
            raise ValueError("Configuration needs at least one AgentConfiguration")
        self.sim_cfg = sim_cfg
        self.agents = list(agents)


class ShortestPath:
    def __init__(self) -> None:
        self.requested_start = np.zeros(3, np.float32)
        self.requested_end = np.zeros(3, np.float32)
        self.geodesic_distance = math.inf
        self.points: list[np.ndarray] = []


class MultiGoalShortestPath(ShortestPath):
    def __init__(self) -> None:
        super().__init__()
        self.requested_ends: list[np.ndarray] = []


class _Category:
    def __init__(self, name: str) -> None:
        self._name = name

    def name(self) -> str:
        return self._name


class _PathFinder:
    """Navigation over the apartment's ground-truth navigable grid (positions in Habitat frame)."""

    def __init__(self, apartment: Any) -> None:
        self._apt = apartment
        self._rng = np.random.default_rng(0)
        self.is_loaded = True

    def seed(self, s: int) -> None:
        self._rng = np.random.default_rng(int(s))

    def get_random_navigable_point(self) -> np.ndarray:
        cells = np.argwhere(self._apt.navigable)
        r, c = cells[int(self._rng.integers(len(cells)))]
        x, y = self._apt.nav_center(int(r), int(c))
        return memory_to_habitat([x, y, 0.0]).astype(np.float32)

    def is_navigable(self, p: Any) -> bool:
        m = habitat_to_memory(np.asarray(p, float))
        return self._apt.is_navigable(float(m[0]), float(m[1]))

    def snap_point(self, p: Any) -> np.ndarray:
        m = habitat_to_memory(np.asarray(p, float))
        rr, cc = np.nonzero(self._apt.navigable)
        res, (x0, y0) = self._apt.nav_resolution, self._apt.nav_origin
        cx, cy = x0 + (cc + 0.5) * res, y0 + (rr + 0.5) * res
        k = int(np.argmin((cx - m[0]) ** 2 + (cy - m[1]) ** 2))
        return memory_to_habitat([cx[k], cy[k], 0.0]).astype(np.float32)

    def find_path(self, path: ShortestPath) -> bool:
        from embodied_mem.mapping3d.navgrid import geodesic

        ends = path.requested_ends if isinstance(path, MultiGoalShortestPath) else [path.requested_end]
        cells = []
        for e in ends:
            m = habitat_to_memory(np.asarray(e, float))
            cells.append(self._apt.nav_cell(float(m[0]), float(m[1])))
        d = geodesic(self._apt.navigable, cells)
        s = habitat_to_memory(np.asarray(path.requested_start, float))
        r, c = self._apt.nav_cell(float(s[0]), float(s[1]))
        H, W = d.shape
        if not (0 <= r < H and 0 <= c < W) or not math.isfinite(d[r, c]):
            path.geodesic_distance = math.inf
            return False
        path.geodesic_distance = float(d[r, c] * self._apt.nav_resolution)
        path.points = [np.asarray(path.requested_start, np.float32)]
        return True


class FakeSimulator:
    """``habitat_sim.Simulator`` over an embedded-world apartment (see the module docstring)."""

    def __init__(self, cfg: Configuration) -> None:
        from embodied_mem.envs.indoor3d.render import Renderer
        from embodied_mem.envs.indoor3d.world import generate_apartment

        scene = cfg.sim_cfg.scene_id
        if not isinstance(scene, str) or not scene.startswith("indoor3d:"):
            raise ValueError(f"the habitat_sim fake loads scene_id 'indoor3d:<seed>', got {scene!r}")
        try:
            seed = int(scene.split(":", 1)[1])
        except ValueError:
            raise ValueError(f"scene_id {scene!r}: the seed after 'indoor3d:' must be an int") from None
        agent_cfg = cfg.agents[0]
        self.apartment = generate_apartment(seed, agent_radius=max(0.1, float(agent_cfg.radius)))
        self._sensors = {}
        for spec in agent_cfg.sensor_specifications:
            H, W = (int(v) for v in spec.resolution)
            hfov = float(spec.hfov)  # a float, or magnum Deg (which converts)
            self._sensors[spec.uuid] = (spec, Renderer(self.apartment, Intrinsics(W, H, math.radians(hfov))))
        self._actions = dict(agent_cfg.action_space)
        self._agent = _FakeAgent()
        self.previous_step_collided = False
        self.pathfinder = _PathFinder(self.apartment)
        self.semantic_scene = SimpleNamespace(objects=[
            SimpleNamespace(semantic_id=b.id, id=f"0_0_{b.id}", category=_Category(b.category),
                            region=SimpleNamespace(category=_Category(b.region)) if b.region else None,
                            aabb=SimpleNamespace(center=memory_to_habitat(b.center).astype(np.float32)))
            for b in self.apartment.boxes])
        self._closed = False

    def initialize_agent(self, agent_id: int, initial_state: AgentState | None = None) -> _FakeAgent:
        if agent_id != 0:
            raise ValueError(f"the fake has one agent (id 0), got {agent_id}")
        if initial_state is not None:
            self._agent.set_state(initial_state)
        return self._agent

    def get_agent(self, agent_id: int) -> _FakeAgent:
        return self.initialize_agent(agent_id)

    def step(self, action: str) -> dict[str, np.ndarray]:
        if self._closed:
            raise RuntimeError("Simulator is closed")
        if action not in self._actions:
            raise ValueError(f"unknown action {action!r}; the agent's action_space has {sorted(self._actions)}")
        amount = self._actions[action].actuation.amount
        st = self._agent.state
        m = habitat_to_memory(st.position.astype(float))
        yaw = yaw_from_habitat_rotation(st.rotation)
        self.previous_step_collided = False
        if action == "move_forward":
            nx, ny = m[0] + amount * math.cos(yaw), m[1] + amount * math.sin(yaw)
            mid = ((m[0] + nx) / 2, (m[1] + ny) / 2)
            if self.apartment.is_navigable(nx, ny) and self.apartment.is_navigable(*mid):
                st.position = memory_to_habitat([nx, ny, m[2]]).astype(np.float32)
            else:
                self.previous_step_collided = True
        elif action in ("turn_left", "turn_right"):
            d = math.radians(amount) * (1 if action == "turn_left" else -1)
            st.rotation = Quaternion(*habitat_rotation_from_yaw(yaw + d))
        return self.get_sensor_observations()

    def get_sensor_observations(self) -> dict[str, np.ndarray]:
        st = self._agent.state
        m = habitat_to_memory(st.position.astype(float))
        yaw = yaw_from_habitat_rotation(st.rotation)
        out: dict[str, np.ndarray] = {}
        cache: dict[tuple, dict[str, np.ndarray]] = {}
        for uuid, (spec, renderer) in self._sensors.items():
            h = float(spec.position[1])
            key = (id(renderer), h)
            if key not in cache:
                cache[key] = renderer.render(camera_pose(m[0], m[1], m[2] + h, yaw),
                                             rgb=spec.sensor_type == SensorType.COLOR)
            img = cache[key]
            if spec.sensor_type == SensorType.COLOR:
                rgb = img["rgb"] if "rgb" in img else renderer.render(camera_pose(m[0], m[1], m[2] + h, yaw))["rgb"]
                out[uuid] = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2)
            elif spec.sensor_type == SensorType.DEPTH:
                out[uuid] = img["depth"]
            else:
                out[uuid] = img["semantic"]
        return out

    def close(self) -> None:
        self._closed = True


class _FakeAgent:
    def __init__(self) -> None:
        self.state = AgentState()

    def get_state(self) -> AgentState:
        s = self.state
        return AgentState(s.position.copy(), s.rotation)

    def set_state(self, state: AgentState) -> None:
        pos = np.asarray(state.position, np.float32)
        if pos.shape != (3,) or not np.isfinite(pos).all():
            raise ValueError(f"AgentState.position must be 3 finite numbers, got {state.position!r}")
        yaw = yaw_from_habitat_rotation(state.rotation)
        self.state = AgentState(pos, Quaternion(*habitat_rotation_from_yaw(yaw)))


def fake_habitat_sim() -> SimpleNamespace:
    """The fake as a module-like namespace: pass it as ``HabitatEnv(..., habitat_sim_module=...)``."""
    return SimpleNamespace(
        Simulator=FakeSimulator, Configuration=Configuration, SimulatorConfiguration=SimulatorConfiguration,
        CameraSensorSpec=CameraSensorSpec, SensorType=SensorType, AgentState=AgentState,
        ShortestPath=ShortestPath, MultiGoalShortestPath=MultiGoalShortestPath,
        agent=SimpleNamespace(AgentConfiguration=AgentConfiguration, ActionSpec=ActionSpec, ActuationSpec=ActuationSpec,
                              AgentState=AgentState),
        __name__="embodied_mem.envs.habitat.testing.fake_habitat_sim",
    )
