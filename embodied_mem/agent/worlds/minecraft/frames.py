"""Minecraft coordinates <-> memory's frame, as the env declares it (``desc.extra["frame"]``).

The env states ``{"axes": ["x", "z", "y"], "offset": [ox, oy, oz]}``: memory axis ``i`` is the
Minecraft axis ``axes[i]`` plus ``offset[i]`` (blocks). The Mineflayer env declares axes x, z, y
and offsets -0.5, -0.5, 0 (block centres on integer memory x, y). Blocks: Minecraft block
``(bx, by, bz)`` fills ``[bx, bx+1) x [by, by+1) x [bz, bz+1)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Frame"]

_AXES = ("x", "y", "z")


@dataclass(frozen=True)
class Frame:
    axes: tuple[str, str, str]  # the Minecraft axis behind memory x, y, z
    offset: tuple[float, float, float]  # blocks added after the axis swap

    @staticmethod
    def from_declared(d: object) -> Frame:
        """From the env's declaration; ``ValueError`` naming the problem otherwise."""
        if not isinstance(d, Mapping) or "axes" not in d or "offset" not in d:
            raise ValueError(f"the env declares no Minecraft frame (metadata 'frame': {{'axes', 'offset'}}), got {d!r}")
        axes = tuple(str(a) for a in d["axes"])  # type: ignore[union-attr]
        offset = tuple(float(v) for v in d["offset"])  # type: ignore[union-attr]
        if sorted(axes) != list(_AXES) or axes[2] != "y" or len(offset) != 3 or not all(math.isfinite(v) for v in offset):
            raise ValueError(f"frame axes must be a permutation of x, y, z with Minecraft's height y as memory z "
                             f"(memory is z-up), and offset 3 finite numbers; got {d!r}")
        return Frame(axes, offset)  # type: ignore[arg-type]

    def to_minecraft(self, x: float, y: float, z: float) -> tuple[float, float, float]:
        """Memory point -> Minecraft (x, y, z)."""
        mc = {a: v - o for a, v, o in zip(self.axes, (x, y, z), self.offset)}
        return (mc["x"], mc["y"], mc["z"])

    def block(self, x: float, y: float, z: float) -> tuple[int, int, int]:
        """Memory point -> the Minecraft block holding it."""
        return tuple(math.floor(v) for v in self.to_minecraft(x, y, z))  # type: ignore[return-value]

    def block_centre(self, b: tuple[int, int, int]) -> tuple[float, float, float]:
        """Minecraft block centre, in Minecraft coordinates."""
        return (b[0] + 0.5, b[1] + 0.5, b[2] + 0.5)

    def ground(self, x: float, y: float) -> tuple[float, float]:
        """Memory x, y (height unknown) -> Minecraft (x, z) for ``move_to``."""
        mx, _, mz = self.to_minecraft(x, y, 0.0)
        return (mx, mz)
