"""Object-search preprocessor: each frame (depth, semantic, RGB, the localized pose) goes into the
agent's working 3D map (``Map3D``: object instances from back-projected semantics, a navigable
floor grid from depth); the state names the goal category (``obs["objectgoal"]`` through the
declared labels) and the objects seen now. With memory, the step's ``Percept`` is written with the
fused object sightings (confidence from the points behind each instance) and a lifelong time
``t`` (episodes follow each other on one time line).

Map lifetime: when the agent writes memory (``agent.preprocessor.write_memory``, the lifelong
agent) the map's geometry and floor grid outlive the episode (objects of earlier episodes come from
memory, not from the map); otherwise each episode starts with an empty map. A collision marks a
short arc ahead as blocked (something below the camera's view). Reads only ``obs`` and ``info``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["State", "ObjectNavPreprocessor", "Camera"]


@dataclass(frozen=True)
class Camera:
    width: int
    height: int
    hfov: float  # radians
    sensor_height: float  # metres above the floor
    max_depth: float  # metres

    @staticmethod
    def from_declared(d: object) -> Camera:
        if not isinstance(d, Mapping):
            raise ValueError(f"the env declares no camera (metadata 'camera': {{width, height, hfov, sensor_height, "
                             f"max_depth}}), got {d!r}")
        missing = [k for k in ("width", "height", "hfov", "sensor_height", "max_depth") if k not in d]
        if missing:
            raise ValueError(f"the env's declared camera lacks {missing}")
        return Camera(int(d["width"]), int(d["height"]), float(d["hfov"]), float(d["sensor_height"]),
                      float(d["max_depth"]))


@dataclass
class State:
    t: float  # lifelong step count (memory's time line)
    step: int  # step within the episode
    pose: Any  # Pose (memory frame, metres)
    goal: str  # the goal category
    map: Any  # the working Map3D
    collided: bool = False
    collisions: int = 0  # consecutive collisions
    seen: list[Any] = field(default_factory=list)  # object instances seen in this frame

    @property
    def position(self) -> tuple[float, float]:
        return (float(self.pose.x), float(self.pose.y))


class ObjectNavPreprocessor:
    def __init__(self, pre_config: Any, config: Any, camera: Camera, labels: tuple[str, ...],
                 agent_radius: float) -> None:
        self.pre_config = pre_config
        self.config = config
        self.camera = camera
        self.labels = labels
        self.agent_radius = float(agent_radius)
        self.keep_map = bool(pre_config.write_memory)
        self.last_t = -1.0
        self.map: Any = None
        self._new_map()
        self.reset()

    def _new_map(self) -> None:
        from embodied_mem.mapping3d.frames import Intrinsics
        from embodied_mem.mapping3d.fusion import Map3D

        c = self.camera
        self.map = Map3D(Intrinsics(c.width, c.height, c.hfov), sensor_height=c.sensor_height,
                         fuse=self.config.fuse and self.keep_map, voxel_size=self.config.voxel_size,
                         nav_resolution=self.config.nav_resolution, max_depth=min(c.max_depth, 6.0))

    def reset(self) -> None:
        from embodied_mem.mapping3d.fusion import ObjectMap

        if not self.keep_map:
            self._new_map()
        self.map.objects = ObjectMap()  # objects of earlier episodes come from memory, not from here
        self.t0 = self.last_t + 1.0
        self.collisions = 0
        self.last_written: Any = None

    def perceive(self, obs: Mapping[str, Any], info: Mapping[str, Any]) -> State:
        percept = info.get("percept")
        if percept is None or percept.pose is None:
            raise ValueError("object search needs info['percept'].pose (a localized agent)")
        pose = percept.pose
        self.map.labels = dict(info.get("labels") or {})
        seen = self.map.add_frame(obs["depth"], obs.get("semantic"), pose, obs.get("rgb"))
        collided = bool(info.get("collided"))
        if collided:  # something the camera missed (below its view): block a short arc ahead
            for da in (-0.4, -0.2, 0.0, 0.2, 0.4):
                a = pose.yaw + da
                self.map.nav.mark_blocked(pose.x + (self.agent_radius + 0.15) * math.cos(a),
                                          pose.y + (self.agent_radius + 0.15) * math.sin(a))
            self.collisions += 1
        else:
            self.collisions = 0
        k = int(np.asarray(obs["objectgoal"]).ravel()[0])
        if not 0 <= k < len(self.labels):
            raise ValueError(f"obs['objectgoal'] = {k} is not an index into the declared {len(self.labels)} goal labels")
        t = self.t0 + float(percept.t)
        self.last_t = t
        return State(t=t, step=int(percept.t), pose=pose, goal=self.labels[k], map=self.map, collided=collided,
                     collisions=self.collisions, seen=list(seen))

    def write(self, memory: Any, info: Mapping[str, Any], state: State) -> int | None:
        if memory is None or not self.pre_config.write_memory:
            return None
        sightings = tuple(o.sighting(min(1.0, o.n_points / 30.0)) for o in state.seen)
        p = dataclasses.replace(info["percept"], t=state.t, sightings=sightings, source="objectsearch")
        return memory.observe(p)

    def query(self, goal: str | None, subgoal: Any) -> str:
        target = getattr(subgoal, "target", None)
        return f"where is the {target}" if target else (goal or "objects")

    def place(self, state: State) -> Hashable:
        s = self.config.place_size
        return (round(state.pose.x / s), round(state.pose.y / s))

    def artefacts(self, run_dir: Any, memory: Any = None) -> list[Any]:
        """``fused_topdown.png``: the fused surface (when ``agent.objectnav.fuse`` and the map is kept),
        with memory's places and object beliefs on top (public memory API); ``fused.ply``: the same
        surface points for RViz, Open3D or MeshLab (metres, world frame)."""
        tsdf = getattr(self.map, "tsdf", None)
        if tsdf is None:
            return []
        from pathlib import Path

        from embodied_mem.map_export import write_ply
        from embodied_mem.plots import plot_fused_topdown

        points = tsdf.surface_points()
        return [plot_fused_topdown(points, Path(run_dir) / "fused_topdown.png", memory=memory),
                write_ply(points, Path(run_dir) / "fused.ply")]
