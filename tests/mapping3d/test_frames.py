"""Frames and camera model: Habitat <-> memory conversions, yaw, back-projection."""

from __future__ import annotations

import math

import numpy as np
import pytest

from embodied_mem.mapping3d.frames import (
    Intrinsics,
    Quaternion,
    backproject,
    camera_pose,
    habitat_rotation_from_yaw,
    habitat_to_memory,
    memory_to_habitat,
    yaw_from_habitat_rotation,
)


def test_habitat_memory_round_trip_and_axes():
    p = np.array([[1.0, 2.0, 3.0], [-4.0, 0.5, -6.0]])
    m = habitat_to_memory(p)
    assert np.allclose(m[0], [1.0, -3.0, 2.0])  # habitat y (up) becomes memory z
    assert np.allclose(memory_to_habitat(m), p)
    # a rotation, not a reflection: the conversion matrix has determinant +1
    M = habitat_to_memory(np.eye(3))
    assert np.isclose(np.linalg.det(M), 1.0)


@pytest.mark.parametrize("yaw", [0.0, 0.5, math.pi / 2, -2.0, 3.0])
def test_yaw_round_trip(yaw):
    q = habitat_rotation_from_yaw(yaw)
    back = yaw_from_habitat_rotation(q)
    assert math.isclose(math.cos(back), math.cos(yaw), abs_tol=1e-9)
    assert math.isclose(math.sin(back), math.sin(yaw), abs_tol=1e-9)
    # also with attribute access (numpy-quaternion style)
    assert math.isclose(yaw_from_habitat_rotation(Quaternion(*q)), back, abs_tol=1e-12)


def test_identity_rotation_faces_minus_z_which_is_memory_plus_y():
    assert math.isclose(yaw_from_habitat_rotation((1.0, 0.0, 0.0, 0.0)), math.pi / 2)


def test_bad_quaternion_is_refused():
    with pytest.raises(ValueError, match="quaternion"):
        yaw_from_habitat_rotation((0.0, 0.0, 0.0, 0.0))
    with pytest.raises(TypeError, match="quaternion"):
        yaw_from_habitat_rotation((1.0, 0.0))


def test_intrinsics_follow_habitat():
    k = Intrinsics(128, 96, math.radians(90))
    assert math.isclose(k.fx, 64.0)
    assert k.matrix.shape == (3, 3)
    with pytest.raises(ValueError, match="hfov"):
        Intrinsics(64, 64, 4.0)
    with pytest.raises(ValueError, match="width/height"):
        Intrinsics(0, 64, 1.0)


def test_backproject_plane_lands_where_it_should():
    k = Intrinsics(64, 48, math.radians(90))
    T = camera_pose(1.0, 2.0, 1.5, 0.0)  # looking along +x
    depth = np.full((48, 64), 3.0, np.float32)
    pts, idx = backproject(depth, k, T)
    assert pts.shape == (48 * 64, 3) and idx.shape == (48 * 64,)
    assert np.allclose(pts[:, 0], 4.0)  # a wall 3 m ahead of x = 1
    centre = pts[idx == 24 * 64 + 32][0]
    assert abs(centre[1] - 2.0) < 0.05 and abs(centre[2] - 1.5) < 0.05
    # left of the image is +y (the camera looks along +x, right is -y); top of the image is +z
    assert pts[idx == 24 * 64 + 0][0][1] > 2.0
    assert pts[idx == 0][0][2] > 1.5
    depth[:10] = 0.0  # no return
    pts2, _ = backproject(depth, k, T)
    assert len(pts2) == 38 * 64
    with pytest.raises(ValueError, match="shape"):
        backproject(np.zeros((10, 10)), k, T)
