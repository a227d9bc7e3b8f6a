"""Frames, camera model and back-projection shared by the 3D layer, Habitat and the embedded world.

Frames (all right-handed, metres):

- **Habitat world frame** (habitat_sim, and the embedded indoor world): x right, **y up**, and an
  agent with identity rotation looks along **−z**. Agent rotations are rotations about +y.
- **Memory world frame** (``Percept``, spatial memory, plots): the **x–y plane is the floor**, z up.
  The conversion is ``(x_m, y_m, z_m) = (x_h, −z_h, y_h)`` (a rotation, so handedness is kept);
  a Habitat heading θ about +y (0 = facing −z) is the memory yaw ``θ + π/2`` (0 = facing +x, CCW).
- **Camera frame (OpenCV / open3d)**: x right, y down, z forward (the optical axis). Depth images
  hold z-depth along the optical axis (Habitat's convention), 0 where nothing was hit.

Intrinsics follow Habitat: square pixels, focal length ``fx = W / (2 tan(hfov / 2))``, principal
point at the image centre ``((W − 1) / 2, (H − 1) / 2)`` in pixel-index coordinates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Intrinsics",
    "habitat_to_memory",
    "memory_to_habitat",
    "yaw_from_habitat_rotation",
    "habitat_rotation_from_yaw",
    "camera_pose",
    "backproject",
]


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole camera: ``width`` × ``height`` pixels, horizontal field of view ``hfov`` in radians."""

    width: int
    height: int
    hfov: float

    def __post_init__(self) -> None:
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise ValueError(f"Intrinsics width/height must be positive, got {self.width}x{self.height}")
        if not 0.0 < float(self.hfov) < math.pi:
            raise ValueError(f"Intrinsics.hfov must be in (0, π) radians, got {self.hfov}")

    @property
    def fx(self) -> float:
        return self.width / (2.0 * math.tan(self.hfov / 2.0))

    @property
    def fy(self) -> float:
        return self.fx

    @property
    def cx(self) -> float:
        return (self.width - 1) / 2.0

    @property
    def cy(self) -> float:
        return (self.height - 1) / 2.0

    @property
    def matrix(self) -> np.ndarray:
        """3×3 K (float64)."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def vfov(self) -> float:
        return 2.0 * math.atan(self.height / (2.0 * self.fy))

    def rays(self) -> np.ndarray:
        """(H, W, 3) camera-frame ray directions with z = 1 (so a ray parameter is a z-depth)."""
        u = (np.arange(self.width) - self.cx) / self.fx
        v = (np.arange(self.height) - self.cy) / self.fy
        uu, vv = np.meshgrid(u, v)
        return np.stack([uu, vv, np.ones_like(uu)], axis=-1)


def habitat_to_memory(p: Any) -> np.ndarray:
    """Points (…, 3) in Habitat's y-up frame -> memory frame (x, −z, y)."""
    a = np.asarray(p, dtype=float)
    return np.stack([a[..., 0], -a[..., 2], a[..., 1]], axis=-1)


def memory_to_habitat(p: Any) -> np.ndarray:
    """Points (…, 3) in the memory frame -> Habitat's y-up frame (x, z, −y)."""
    a = np.asarray(p, dtype=float)
    return np.stack([a[..., 0], a[..., 2], -a[..., 1]], axis=-1)


def _quat_wxyz(q: Any) -> tuple[float, float, float, float]:
    """Accept numpy-quaternion (.w .x .y .z), magnum (.scalar, .vector) or a (w, x, y, z) sequence."""
    if hasattr(q, "w") and hasattr(q, "x"):
        return float(q.w), float(q.x), float(q.y), float(q.z)
    if hasattr(q, "scalar") and hasattr(q, "vector"):
        v = q.vector
        return float(q.scalar), float(v[0]), float(v[1]), float(v[2])
    arr = np.asarray(q, dtype=float).ravel()
    if arr.shape != (4,):
        raise TypeError(f"rotation must be a quaternion (w, x, y, z), got {type(q).__name__} {q!r}")
    return tuple(arr.tolist())  # type: ignore[return-value]


def yaw_from_habitat_rotation(q: Any) -> float:
    """Memory-frame yaw (radians, 0 = +x, CCW) of an agent with Habitat rotation quaternion ``q``.

    Uses the direction the agent's −z axis points to after rotation, projected on the floor, so a
    small tilt does not matter. A non-finite or zero-norm quaternion raises ``ValueError``.
    """
    w, x, y, z = _quat_wxyz(q)
    n = math.sqrt(w * w + x * x + y * y + z * z)
    if not math.isfinite(n) or n == 0.0:
        raise ValueError(f"rotation quaternion must be finite and non-zero, got {(w, x, y, z)}")
    w, x, y, z = w / n, x / n, y / n, z / n
    # R @ (0, 0, -1): minus the third column of the rotation matrix
    fx = -(2 * (x * z + w * y))
    fz = -(1 - 2 * (x * x + y * y))
    # memory forward = (fx, -fz)
    return math.atan2(-fz, fx)


def habitat_rotation_from_yaw(yaw: float) -> tuple[float, float, float, float]:
    """Habitat rotation (w, x, y, z) about +y for memory-frame yaw ``yaw`` (inverse of the above)."""
    theta = yaw - math.pi / 2.0
    return (math.cos(theta / 2.0), 0.0, math.sin(theta / 2.0), 0.0)


def camera_pose(x: float, y: float, z: float, yaw: float) -> np.ndarray:
    """4×4 ``T_world_from_camera`` in the memory frame for a level camera at (x, y, z) facing ``yaw``.

    Camera axes are OpenCV's: x right, y down, z forward.
    """
    c, s = math.cos(yaw), math.sin(yaw)
    fwd = np.array([c, s, 0.0])
    right = np.array([s, -c, 0.0])
    down = np.array([0.0, 0.0, -1.0])
    T = np.eye(4)
    T[:3, 0], T[:3, 1], T[:3, 2] = right, down, fwd
    T[:3, 3] = (x, y, z)
    return T


def backproject(depth: np.ndarray, intr: Intrinsics, T_world_from_camera: np.ndarray, *, stride: int = 1,
                max_depth: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """World points of the valid depth pixels: returns ``(points (N, 3), flat pixel indices (N,))``.

    ``depth`` is (H, W) or (H, W, 1) z-depth in metres; pixels with depth <= 0, non-finite, or beyond
    ``max_depth`` are skipped. ``stride`` subsamples rows and columns. A depth image whose shape
    does not match ``intr`` raises ``ValueError``.
    """
    d = np.asarray(depth, dtype=np.float32)
    if d.ndim == 3 and d.shape[2] == 1:
        d = d[..., 0]
    if d.shape != (intr.height, intr.width):
        raise ValueError(f"depth has shape {d.shape}, expected {(intr.height, intr.width)} from the intrinsics")
    rows = np.arange(0, intr.height, stride)
    cols = np.arange(0, intr.width, stride)
    sub = d[np.ix_(rows, cols)]
    ok = np.isfinite(sub) & (sub > 0)
    if max_depth is not None:
        ok &= sub <= max_depth
    r, c = np.nonzero(ok)
    r, c = rows[r], cols[c]
    z = d[r, c].astype(np.float64)
    xc = (c - intr.cx) / intr.fx * z
    yc = (r - intr.cy) / intr.fy * z
    pc = np.stack([xc, yc, z], axis=1)
    pw = pc @ T_world_from_camera[:3, :3].T + T_world_from_camera[:3, 3]
    return pw, r * intr.width + c


class Quaternion(tuple):
    """A rotation quaternion (w, x, y, z) with attribute access, like numpy-quaternion's."""

    __slots__ = ()

    def __new__(cls, w: float, x: float, y: float, z: float) -> Quaternion:
        return super().__new__(cls, (float(w), float(x), float(y), float(z)))

    w = property(lambda self: self[0])
    x = property(lambda self: self[1])
    y = property(lambda self: self[2])
    z = property(lambda self: self[3])
