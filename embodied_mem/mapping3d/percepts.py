"""One RGB-D-semantic frame + the agent's pose -> a sensor-only ``Percept``.

Used by the Habitat adapter and the embedded indoor world alike. From a single frame:

- **sightings**: every semantic instance whose category is not structural (floor, wall, ceiling,
  ...) and that covers at least ``min_pixels`` (sub-sampled) pixels becomes a ``Sighting`` at the
  centroid of its back-projected points, with ``instance = "<category>#<id>"`` (Habitat's semantic
  sensor reports instance ids; the semantic scene maps them to categories). ``confidence`` grows
  with the pixel count (1.0 from ``5 * min_pixels``).
- **free / blocked**: x–y centres (``cell`` metres apart) of floor points and of obstacle points
  (see ``NavGrid.classify``), for the occupancy layer.
- **region**: the room of the floor instance nearest the camera, when ``regions`` maps instance
  ids to room names.
- **view**: left None. A camera frustum ignores occlusion, and spatial memory's negative evidence
  would wrongly erase objects behind walls; visibility-checked negative evidence is left to callers.

All positions are in the memory frame (see ``frames``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..percept import Percept, Pose, Sighting
from .frames import Intrinsics, backproject, camera_pose
from .navgrid import NavGrid

__all__ = ["ObjectObservation", "segment_instances", "frame_percept", "STRUCTURAL"]

STRUCTURAL = frozenset({"floor", "wall", "ceiling", "door", "window", "stairs", "column", "beam", "void", "unknown",
                        "misc", "objects", ""})


@dataclass(frozen=True)
class ObjectObservation:
    """One instance seen in one frame (memory frame, metres)."""

    id: int
    label: str
    centroid: tuple[float, float, float]
    bbox_min: tuple[float, float, float]
    bbox_max: tuple[float, float, float]
    n_points: int


def segment_instances(points: np.ndarray, ids: np.ndarray, labels: Mapping[int, str], *, min_points: int = 1,
                      skip: frozenset[str] = STRUCTURAL) -> list[ObjectObservation]:
    """Group world points by semantic instance id; instances with unknown or structural labels are skipped."""
    ids = np.asarray(ids).astype(np.int64).ravel()
    if len(ids) != len(points):
        raise ValueError(f"points ({len(points)}) and ids ({len(ids)}) differ in length")
    if len(ids) == 0:
        return []
    order = np.argsort(ids, kind="stable")
    sid = ids[order]
    sp = np.asarray(points)[order]
    uniq, start, count = np.unique(sid, return_index=True, return_counts=True)
    out = []
    for i, s, n in zip(uniq.tolist(), start.tolist(), count.tolist()):
        label = labels.get(i)
        if label is None or label in skip or n < min_points:
            continue
        p = sp[s:s + n]
        out.append(ObjectObservation(i, label, tuple(p.mean(0).tolist()), tuple(p.min(0).tolist()),
                                     tuple(p.max(0).tolist()), n))
    return out


def frame_percept(depth: np.ndarray, semantic: np.ndarray | None, intr: Intrinsics, pose: Pose, *, t: float,
                  sensor_height: float, labels: Mapping[int, str], regions: Mapping[int, str] | None = None,
                  source: str = "camera", stride: int = 2, min_pixels: int = 2, cell: float = 0.25,
                  max_depth: float | None = None, grid: NavGrid | None = None,
                  action: str | None = None) -> tuple[Percept, list[ObjectObservation]]:
    """Build the ``Percept`` for one frame; also returns the per-instance observations.

    ``pose`` is the agent's memory-frame pose on the floor (z = floor height); the camera sits
    ``sensor_height`` metres above it, level, facing ``pose.yaw``. ``depth`` is (H, W[, 1]) z-depth
    in metres; ``semantic`` (H, W) instance ids or None. A shape mismatch raises ``ValueError``.
    """
    T = camera_pose(pose.x, pose.y, pose.z + sensor_height, pose.yaw)
    pts, flat = backproject(depth, intr, T, stride=stride, max_depth=max_depth)
    obs: list[ObjectObservation] = []
    sightings: list[Sighting] = []
    region = None
    if semantic is not None:
        sem = np.asarray(semantic)
        if sem.ndim == 3 and sem.shape[2] == 1:
            sem = sem[..., 0]
        if sem.shape != (intr.height, intr.width):
            raise ValueError(f"semantic has shape {sem.shape}, expected {(intr.height, intr.width)}")
        ids = sem.ravel()[flat]
        obs = segment_instances(pts, ids, labels, min_points=min_pixels)
        for o in obs:
            conf = float(min(1.0, o.n_points / (5.0 * min_pixels)))
            sightings.append(Sighting(o.label, o.centroid, instance=f"{o.label}#{o.id}", confidence=conf))
        if regions:
            # the floor nearest the camera: the lowest image rows, centre columns
            rows = sem[-max(1, intr.height // 8):, intr.width // 4: 3 * intr.width // 4].ravel()
            for i in np.unique(rows).tolist():
                if labels.get(i) == "floor" and i in regions:
                    region = regions[i]
                    break
    g = grid or NavGrid(cell)
    floor, obst = g.classify(pts - np.array([0.0, 0.0, pose.z]))  # heights above the agent's floor
    free = _cell_centres(floor, cell)
    blocked = _cell_centres(obst, cell)
    if len(free) and len(blocked):
        # a cell with any obstacle point is blocked, not free
        bset = {tuple(b) for b in np.round(blocked / cell).astype(int).tolist()}
        keep = [tuple(f) not in bset for f in np.round(free / cell).astype(int).tolist()]
        free = free[np.array(keep, bool)]
    p = Percept(t=t, pose=pose, sightings=tuple(sightings), region=region, source=source, free=free,
                blocked=blocked, action=action)
    return p, obs


def _cell_centres(points: np.ndarray, cell: float) -> np.ndarray:
    if len(points) == 0:
        return np.zeros((0, 2))
    c = np.floor(points[:, :2] / cell + 0.5).astype(np.int64)
    lo = c.min(0)
    span = int(c[:, 1].max() - lo[1]) + 1
    flat = np.unique((c[:, 0] - lo[0]) * span + (c[:, 1] - lo[1]))
    return np.stack([flat // span + lo[0], flat % span + lo[1]], axis=1).astype(float) * cell
