"""3D spatial memory: RGB-D + pose fusion, 3D object instances, the navigable floor.

- ``frames``: Habitat (y up, −z forward) <-> memory (z up, floor = x–y) frames, the pinhole
  camera model and back-projection;
- ``percepts.frame_percept``: one RGB-D-semantic frame -> a sensor-only ``Percept`` (3D object
  sightings, free/blocked floor cells, region);
- ``fusion``: ``TSDFMap`` (open3d ``VoxelBlockGrid``), ``ObjectMap`` (instances with centroid,
  bounding box, point count) and ``Map3D`` (both + the floor grid);
- ``navgrid``: ``NavGrid`` (navigable floor from depth) and ``geodesic`` distances.

Importing this package does not import open3d; building a ``TSDFMap`` does.
"""

from __future__ import annotations

from .frames import Intrinsics, backproject, camera_pose, habitat_to_memory, memory_to_habitat
from .navgrid import NavGrid, geodesic
from .percepts import ObjectObservation, frame_percept, segment_instances

__all__ = ["Intrinsics", "backproject", "camera_pose", "habitat_to_memory", "memory_to_habitat", "NavGrid",
           "geodesic", "ObjectObservation", "frame_percept", "segment_instances", "TSDFMap", "ObjectMap",
           "ObjectInstance", "Map3D"]


def __getattr__(name: str):
    if name in ("TSDFMap", "ObjectMap", "ObjectInstance", "Map3D"):
        from . import fusion

        return getattr(fusion, name)
    raise AttributeError(name)
