"""``agent.objectnav``: object-search skill settings (units: metres)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ObjectNavConfig"]


@dataclass
class ObjectNavConfig:
    stop_distance: float = 0.8  # call stop this close (x-y) to the goal's believed centre
    spin_first: bool = True  # look around once (a full turn) before exploring
    fuse: bool = True  # the lifelong agent also fuses a TSDF surface (the fused_topdown.png artefact; slower)
    voxel_size: float = 0.05  # TSDF voxel size
    nav_resolution: float = 0.1  # navigable-floor grid cell size
    place_size: float = 1.0  # coarse place squares for cycle detection without spatial memory

    def __post_init__(self) -> None:
        if not 0.1 <= float(self.stop_distance) <= 3.0:
            raise ValueError(f"agent.objectnav.stop_distance must be in [0.1, 3] metres, got {self.stop_distance!r}")
        for name in ("voxel_size", "nav_resolution", "place_size"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"agent.objectnav.{name} must be > 0 metres, got {getattr(self, name)!r}")
