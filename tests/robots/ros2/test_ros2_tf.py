"""TF buffer: REP 105 chains, interpolation, tolerance, refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from embodied_mem.robots.ros2.tf import TfBuffer, TfError


def yawq(yaw):
    return (0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2))


def test_map_odom_base_laser_chain():
    tf = TfBuffer()
    tf.set_transform("map", "odom", 0.0, (1.0, 2.0, 0.0), yawq(math.pi / 2))
    tf.set_transform("odom", "base_link", 0.0, (3.0, 0.0, 0.0), yawq(0.0))
    tf.set_transform("base_link", "laser", 0.0, (0.5, 0.0, 0.2), yawq(math.pi / 2), static=True)
    T = tf.lookup("map", "laser", 0.0)
    # odom's x axis points along map +y: base at map (1, 5); laser 0.5 further along +y, z 0.2
    np.testing.assert_allclose(T.p, [1.0, 5.5, 0.2], atol=1e-12)
    assert T.yaw == pytest.approx(math.pi)
    # a point 1 m in front of the laser is 1 m towards map -x
    np.testing.assert_allclose(T.apply(np.array([[1.0, 0.0, 0.0]]))[0], [0.0, 5.5, 0.2], atol=1e-12)
    # and the inverse lookup maps it back
    Ti = tf.lookup("laser", "map", 0.0)
    np.testing.assert_allclose(Ti.apply(np.array([[0.0, 5.5, 0.2]]))[0], [1.0, 0.0, 0.0], atol=1e-12)


def test_interpolation_and_tolerance():
    tf = TfBuffer(tolerance=0.2)
    tf.set_transform("odom", "base_link", 10.0, (0.0, 0.0, 0.0), yawq(0.0))
    tf.set_transform("odom", "base_link", 11.0, (2.0, 0.0, 0.0), yawq(math.pi / 2))
    T = tf.lookup("odom", "base_link", 10.5)
    np.testing.assert_allclose(T.p, [1.0, 0.0, 0.0])
    assert T.yaw == pytest.approx(math.pi / 4)
    assert tf.lookup("odom", "base_link", 11.1).p[0] == pytest.approx(2.0)  # within tolerance: latest
    with pytest.raises(TfError, match="no transform at t=12"):
        tf.lookup("odom", "base_link", 12.0)
    with pytest.raises(TfError, match="earliest"):
        tf.lookup("odom", "base_link", 9.0)


def test_out_of_order_transforms_are_inserted():
    tf = TfBuffer()
    tf.set_transform("odom", "base_link", 2.0, (2.0, 0.0, 0.0), yawq(0))
    tf.set_transform("odom", "base_link", 1.0, (1.0, 0.0, 0.0), yawq(0))
    assert tf.lookup("odom", "base_link", 1.5).p[0] == pytest.approx(1.5)


def test_refusals_name_the_problem():
    tf = TfBuffer()
    tf.set_transform("odom", "base_link", 0.0, (0, 0, 0), yawq(0))
    with pytest.raises(TfError, match="unknown frame 'camera'"):
        tf.lookup("odom", "camera", 0.0)
    tf.set_transform("world", "other", 0.0, (0, 0, 0), yawq(0))
    with pytest.raises(TfError, match="not connected"):
        tf.lookup("odom", "other", 0.0)
    with pytest.raises(ValueError, match="NaN"):
        tf.set_transform("odom", "x", 0.0, (float("nan"), 0, 0), yawq(0))
    with pytest.raises(ValueError, match="zero quaternion"):
        tf.set_transform("odom", "x", 0.0, (0, 0, 0), (0, 0, 0, 0))
    with pytest.raises(ValueError, match="cycle"):
        tf.set_transform("base_link", "odom", 0.0, (0, 0, 0), yawq(0))
    # refused transforms changed nothing
    assert tf.lookup("odom", "base_link", 0.0).p.tolist() == [0, 0, 0]
    assert not tf.has_frame("x")
