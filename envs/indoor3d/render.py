"""Ray-cast rendering of an ``Apartment`` with open3d's ``RaycastingScene`` (CPU, no GPU or display).

``Renderer.render(T_world_from_camera)`` returns Habitat-style sensor images for a pinhole camera
(OpenCV axes, memory frame; see ``embodied_mem.mapping3d.frames``):

- ``depth``: (H, W) float32 z-depth in metres along the optical axis, 0 where nothing was hit or
  beyond ``max_depth`` (Habitat's convention);
- ``semantic``: (H, W) uint32 instance ids (0 = nothing);
- ``rgb``: (H, W, 3) uint8 flat-shaded colour: the instance colour times a Lambert term of the
  face normal against a fixed light, plus ambient.
"""

from __future__ import annotations

import numpy as np

from embodied_mem.deps import require
from embodied_mem.mapping3d.frames import Intrinsics

from .world import Apartment

__all__ = ["Renderer"]

_LIGHT = np.array([0.3, 0.5, 0.81])
_LIGHT = _LIGHT / np.linalg.norm(_LIGHT)


class Renderer:
    def __init__(self, apartment: Apartment, intrinsics: Intrinsics, *, max_depth: float = 10.0, nthreads: int = 0) -> None:
        o3d = require("open3d", "the embedded indoor3d world")
        self.apartment = apartment
        self.intr = intrinsics
        self.max_depth = float(max_depth)
        self.nthreads = int(nthreads)  # ray-casting threads; 0 = all cores
        verts, tris, ids = apartment.mesh()
        self._scene = o3d.t.geometry.RaycastingScene()
        mesh = o3d.t.geometry.TriangleMesh()
        mesh.vertex.positions = o3d.core.Tensor(verts)
        mesh.triangle.indices = o3d.core.Tensor(tris)
        self._scene.add_triangles(mesh)
        self._tri_ids = np.concatenate([ids, [0]]).astype(np.uint32)  # INVALID primitive -> index -1 -> 0
        colours = np.zeros((len(apartment.boxes) + 1, 3), np.float32)
        for b in apartment.boxes:
            colours[b.id] = b.colour
        self._colours = colours
        self._rays_cam = intrinsics.rays().reshape(-1, 3)
        self._o3c = o3d.core

    def render(self, T_world_from_camera: np.ndarray, *, rgb: bool = True) -> dict[str, np.ndarray]:
        """Depth, semantic ids and (optionally) RGB for the camera at ``T_world_from_camera`` (4×4)."""
        T = np.asarray(T_world_from_camera, dtype=np.float64)
        if T.shape != (4, 4) or not np.isfinite(T).all():
            raise ValueError(f"T_world_from_camera must be a finite 4x4 matrix, got shape {T.shape}")
        H, W = self.intr.height, self.intr.width
        d = self._rays_cam @ T[:3, :3].T
        rays = np.empty((H * W, 6), np.float32)
        rays[:, :3] = T[:3, 3]
        rays[:, 3:] = d
        ans = self._scene.cast_rays(self._o3c.Tensor(rays), nthreads=self.nthreads)
        t_hit = ans["t_hit"].numpy()
        prim = ans["primitive_ids"].numpy().astype(np.int64)
        prim[prim >= len(self._tri_ids) - 1] = -1
        hit = np.isfinite(t_hit) & (t_hit <= self.max_depth) & (prim >= 0)
        depth = np.where(hit, t_hit, 0.0).astype(np.float32).reshape(H, W)
        sem = np.where(hit, self._tri_ids[prim], 0).astype(np.uint32).reshape(H, W)
        out = {"depth": depth, "semantic": sem}
        if rgb:
            n = ans["primitive_normals"].numpy()
            shade = 0.45 + 0.55 * np.abs(n @ _LIGHT)
            col = self._colours[sem.ravel()] * shade[:, None]
            out["rgb"] = np.clip(col, 0, 255).astype(np.uint8).reshape(H, W, 3)
        return out
