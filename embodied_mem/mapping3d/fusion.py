"""RGB-D + pose fusion into a TSDF voxel map (open3d ``VoxelBlockGrid``), and 3D object instances.

- ``TSDFMap``: truncated signed distance fusion on the CPU. ``integrate(depth, intr, T)`` takes a
  z-depth image in metres and ``T_world_from_camera`` (memory frame, OpenCV camera axes; see
  ``frames``). ``surface_points()`` extracts the fused surface (the marching-cubes vertices of the
  zero crossing, weight ≥ ``weight_threshold``; this open3d wheel's ``extract_point_cloud``
  returns nothing, so the mesh is used).
- ``ObjectMap``: back-projected semantic pixels accumulated per instance across frames: centroid
  (running mean over all points seen), bounding box and point count, as ``ObjectInstance``s, which
  become ``Sighting``s.
- ``Map3D``: both, plus the navigable-floor ``NavGrid``, fed one frame at a time.

open3d is imported when a ``TSDFMap`` is built (``DependencyNotInstalled`` names the install route).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..deps import require
from ..percept import Pose, Sighting
from .frames import Intrinsics, backproject, camera_pose
from .navgrid import NavGrid
from .percepts import STRUCTURAL, segment_instances

__all__ = ["TSDFMap", "ObjectInstance", "ObjectMap", "Map3D"]


class TSDFMap:
    """A TSDF volume over voxel blocks. ``voxel_size`` metres; the truncation is ``trunc_voxels`` voxels."""

    def __init__(self, voxel_size: float = 0.05, *, block_resolution: int = 8, block_count: int = 40_000,
                 trunc_voxels: float = 4.0, max_depth: float = 6.0, color: bool = False) -> None:
        if not voxel_size > 0:
            raise ValueError(f"TSDFMap voxel_size must be positive metres, got {voxel_size}")
        o3d = require("open3d", "3D fusion (embodied_mem.mapping3d)")
        self._o3d = o3d
        o3c = o3d.core
        self.voxel_size = float(voxel_size)
        self.trunc_voxels = float(trunc_voxels)
        self.max_depth = float(max_depth)
        self.color = bool(color)
        names, dtypes, chans = ["tsdf", "weight"], [o3c.float32, o3c.float32], [1, 1]
        # this wheel's extraction needs a colour attribute to exist
        names.append("color")
        dtypes.append(o3c.float32)
        chans.append(3)
        self._vbg = o3d.t.geometry.VoxelBlockGrid(attr_names=tuple(names), attr_dtypes=tuple(dtypes),
                                                  attr_channels=tuple(chans), voxel_size=self.voxel_size,
                                                  block_resolution=int(block_resolution),
                                                  block_count=int(block_count), device=o3c.Device("CPU:0"))
        self._K: tuple[Intrinsics, Any] | None = None
        self._zero_colour: dict[tuple[int, int], Any] = {}
        self.n_frames = 0

    def integrate(self, depth: np.ndarray, intr: Intrinsics, T_world_from_camera: np.ndarray,
                  rgb: np.ndarray | None = None) -> None:
        """Fuse one frame. ``depth`` (H, W[, 1]) float z-depth in metres (0 = no return); ``rgb``
        (H, W, 3) uint8 or None. Bad shapes raise ``ValueError``."""
        o3c = self._o3d.core
        d = np.asarray(depth, dtype=np.float32)
        if d.ndim == 3 and d.shape[2] == 1:
            d = d[..., 0]
        if d.shape != (intr.height, intr.width):
            raise ValueError(f"depth has shape {d.shape}, expected {(intr.height, intr.width)}")
        T = np.asarray(T_world_from_camera, dtype=np.float64)
        if T.shape != (4, 4) or not np.isfinite(T).all():
            raise ValueError("T_world_from_camera must be a finite 4x4 matrix")
        if self._K is None or self._K[0] != intr:
            self._K = (intr, o3c.Tensor(intr.matrix, o3c.float64))
        K = self._K[1]
        ext = o3c.Tensor(np.linalg.inv(T), o3c.float64)
        dimg = self._o3d.t.geometry.Image(o3c.Tensor(np.ascontiguousarray(d)))
        if rgb is not None:
            c = np.ascontiguousarray(np.asarray(rgb)[..., :3], dtype=np.float32) / 255.0
            cimg = self._o3d.t.geometry.Image(o3c.Tensor(c))
        else:
            key = (intr.height, intr.width)
            if key not in self._zero_colour:
                self._zero_colour[key] = self._o3d.t.geometry.Image(
                    o3c.Tensor(np.full((intr.height, intr.width, 3), 0.6, np.float32)))
            cimg = self._zero_colour[key]
        blocks = self._vbg.compute_unique_block_coordinates(dimg, K, ext, 1.0, self.max_depth, self.trunc_voxels)
        self._vbg.integrate(blocks, dimg, cimg, K, K, ext, 1.0, self.max_depth, self.trunc_voxels)
        self.n_frames += 1

    def surface_points(self, weight_threshold: float = 1.0) -> np.ndarray:
        """(N, 3) float64 surface points (memory frame) of voxels fused with weight ≥ ``weight_threshold``."""
        if self.n_frames == 0:
            return np.zeros((0, 3))
        mesh = self._vbg.extract_triangle_mesh(weight_threshold=float(weight_threshold))
        return mesh.vertex.positions.numpy().astype(np.float64)

    @property
    def n_blocks(self) -> int:
        return int(self._vbg.hashmap().size())


@dataclass(frozen=True)
class ObjectInstance:
    """A 3D object instance accumulated over frames (memory frame, metres)."""

    id: int
    label: str
    centroid: tuple[float, float, float]
    bbox_min: tuple[float, float, float]
    bbox_max: tuple[float, float, float]
    n_points: int
    n_frames: int
    first_frame: int
    last_frame: int

    def sighting(self, confidence: float = 1.0) -> Sighting:
        return Sighting(self.label, self.centroid, instance=f"{self.label}#{self.id}", confidence=confidence)


class ObjectMap:
    """Per-instance accumulation of back-projected semantic points across frames."""

    def __init__(self) -> None:
        self._acc: dict[int, list[Any]] = {}  # id -> [label, sum(3), min(3), max(3), n, frames, first, last]
        self.frame = 0

    def add(self, observations: list[Any]) -> list[ObjectInstance]:
        """Add one frame's ``ObjectObservation``s; returns the updated instances seen in it."""
        self.frame += 1
        out = []
        for o in observations:
            n = o.n_points
            a = self._acc.get(o.id)
            c = np.array(o.centroid) * n
            if a is None:
                a = [o.label, c, np.array(o.bbox_min), np.array(o.bbox_max), n, 1, self.frame, self.frame]
                self._acc[o.id] = a
            else:
                a[1] = a[1] + c
                a[2] = np.minimum(a[2], o.bbox_min)
                a[3] = np.maximum(a[3], o.bbox_max)
                a[4] += n
                a[5] += 1
                a[7] = self.frame
            out.append(self._instance(o.id, a))
        return out

    def _instance(self, i: int, a: list[Any]) -> ObjectInstance:
        return ObjectInstance(i, a[0], tuple((a[1] / a[4]).tolist()), tuple(a[2].tolist()), tuple(a[3].tolist()),
                              int(a[4]), int(a[5]), int(a[6]), int(a[7]))

    def instances(self, label: str | None = None) -> list[ObjectInstance]:
        return [self._instance(i, a) for i, a in sorted(self._acc.items()) if label is None or a[0] == label]

    def __len__(self) -> int:
        return len(self._acc)


class Map3D:
    """The agent's 3D map: TSDF geometry (optional), object instances and the navigable floor.

    ``add_frame`` takes one Habitat-style frame and the agent's memory-frame floor pose; the camera
    is ``sensor_height`` above it, level, facing ``pose.yaw``. With ``fuse=False`` no TSDF is kept
    (and open3d is not needed).
    """

    def __init__(self, intrinsics: Intrinsics, *, sensor_height: float, labels: Mapping[int, str] | None = None,
                 fuse: bool = True, voxel_size: float = 0.05, nav_resolution: float = 0.1,
                 max_depth: float = 6.0, stride: int = 2, min_pixels: int = 2) -> None:
        self.intr = intrinsics
        self.sensor_height = float(sensor_height)
        self.labels = dict(labels or {})
        self.tsdf = TSDFMap(voxel_size, max_depth=max_depth) if fuse else None
        self.objects = ObjectMap()
        self.nav = NavGrid(nav_resolution)
        self.max_depth = float(max_depth)
        self.stride = int(stride)
        self.min_pixels = int(min_pixels)

    def add_frame(self, depth: np.ndarray, semantic: np.ndarray | None, pose: Pose,
                  rgb: np.ndarray | None = None) -> list[ObjectInstance]:
        """Fuse a frame; returns the object instances seen in it (with their accumulated estimates)."""
        T = camera_pose(pose.x, pose.y, pose.z + self.sensor_height, pose.yaw)
        if self.tsdf is not None:
            self.tsdf.integrate(depth, self.intr, T, rgb)
        pts, flat = backproject(depth, self.intr, T, stride=self.stride, max_depth=self.max_depth)
        rel = pts - np.array([0.0, 0.0, pose.z])  # the grid classifies heights above the agent's floor
        self.nav.add_points(rel)
        self.nav.carve((pose.x, pose.y), rel)
        self.nav.mark_seen_close((pose.x, pose.y), rel)
        self.nav.mark_free(pose.x, pose.y, 0.15)
        if semantic is None:
            return []
        sem = np.asarray(semantic)
        if sem.ndim == 3:
            sem = sem[..., 0]
        obs = segment_instances(pts, sem.ravel()[flat], self.labels, min_points=self.min_pixels, skip=STRUCTURAL)
        return self.objects.add(obs)
