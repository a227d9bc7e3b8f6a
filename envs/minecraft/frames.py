"""Minecraft coordinates <-> memory's world frame.

Minecraft: x east, y up, z south; block (bx, by, bz) fills [bx, bx+1) x [by, by+1) x [bz, bz+1);
an entity's position is its feet. Mineflayer yaw: 0 faces -z (north), increasing counter-clockwise
seen from above (pi/2 faces -x, west); pitch > 0 looks up.

Memory frame (what ``Percept`` holds): block units, the horizontal plane is Minecraft's x–z and the
height is Minecraft's y, shifted by half a block so that block centres fall on integer x, y (the
occupancy grid's cell centres, with ``cell_size`` 1):

    memory x = mc_x - 0.5        memory y = mc_z - 0.5        memory z = mc_y (feet / block bottom + 0.5 for centres)

so block (bx, by, bz) is at memory (bx, bz, by + 0.5), an agent standing in that block's column at
memory (≈bx, ≈bz, feet height). Memory yaw is the heading in the memory x–y plane, radians from +x
(east) towards +y (south), the memory convention (0 = +x, counter-clockwise in x–y). Note the x–y–z
axes so formed are left-handed when viewed in Minecraft (y grows southwards): distances, paths and
discs are unaffected; only orientations drawn on a map look mirrored unless the y axis is flipped.
"""

from __future__ import annotations

import math

__all__ = ["FRAME", "block_to_memory", "feet_to_memory", "memory_to_feet", "memory_to_block", "yaw_to_memory",
           "yaw_from_memory"]

# The same mapping as data, for agents (declared in the env's metadata): memory axis i is the
# Minecraft axis axes[i] plus offset[i] blocks.
FRAME: dict[str, list] = {"axes": ["x", "z", "y"], "offset": [-0.5, -0.5, 0.0]}


def block_to_memory(bx: float, by: float, bz: float) -> tuple[float, float, float]:
    """Block coordinates (integers) -> memory position of the block's centre."""
    return (float(bx), float(bz), float(by) + 0.5)


def memory_to_block(x: float, y: float, z: float) -> tuple[int, int, int]:
    """Memory position -> the Minecraft block holding it."""
    return (math.floor(x + 0.5), math.floor(z), math.floor(y + 0.5))


def feet_to_memory(px: float, py: float, pz: float) -> tuple[float, float, float]:
    """Entity feet position (Minecraft) -> memory position."""
    return (float(px) - 0.5, float(pz) - 0.5, float(py))


def memory_to_feet(x: float, y: float, z: float | None = None) -> tuple[float, float | None, float]:
    """Memory position -> Minecraft (x, y, z) target for move_to; y is None when the height is unknown."""
    return (float(x) + 0.5, None if z is None else float(z), float(y) + 0.5)


def yaw_to_memory(yaw: float) -> float:
    """Mineflayer yaw -> memory yaw in (-pi, pi]. Mineflayer faces (-sin yaw, -cos yaw) in (x, z)."""
    return math.atan2(-math.cos(yaw), -math.sin(yaw))


def yaw_from_memory(theta: float) -> float:
    """Memory yaw -> Mineflayer yaw in (-pi, pi]."""
    dx, dz = math.cos(theta), math.sin(theta)
    return math.atan2(-dx, -dz)
