"""The navigable-floor grid and geodesic distances."""

from __future__ import annotations

import math

import numpy as np
import pytest

from embodied_mem.mapping3d.navgrid import BLOCKED, FREE, UNKNOWN, NavGrid, geodesic


def test_geodesic_goes_around_walls():
    P = np.ones((5, 6), bool)
    P[:4, 3] = False  # a wall with a gap in the last row
    d = geodesic(P, [(0, 0)])
    assert d[0, 2] == 2.0
    assert math.isinf(d[0, 3])
    # to reach (0, 4) the path must go down to row 4, through the gap, and up again
    assert d[0, 4] > 8.0
    assert math.isclose(d[1, 1], math.sqrt(2))


def test_geodesic_no_corner_cutting_and_masks():
    P = np.ones((3, 3), bool)
    P[0, 1] = P[1, 0] = False
    d = geodesic(P, np.eye(3, dtype=bool) & (np.arange(3)[:, None] == 0))
    assert d[1, 1] > math.sqrt(2)  # the diagonal squeezes between two blocked cells: not allowed
    with pytest.raises(ValueError, match="shape"):
        geodesic(P, np.zeros((2, 2), bool))
    assert np.isinf(geodesic(P, [])).all()


def test_navgrid_classifies_floor_and_obstacles_and_grows():
    g = NavGrid(0.1)
    floor = np.array([[1.0, 1.0, 0.0], [1.05, 1.0, 0.01]])
    wall = np.array([[2.0, 1.0, 1.0], [2.0, 1.0, 0.5]])
    ceiling = np.array([[1.5, 1.5, 2.4]])
    g.add_points(np.concatenate([floor, wall, ceiling]))
    assert g.grid[g.cell(1.0, 1.0)] == FREE
    assert g.grid[g.cell(2.0, 1.0)] == BLOCKED
    assert g.grid[g.cell(1.5, 1.5)] == UNKNOWN  # above obstacle_max: not an obstacle
    shape = g.shape
    g.add_points(np.array([[30.0, -20.0, 0.0]]))
    assert g.shape[0] > shape[0] and g.shape[1] > shape[1]
    assert g.grid[g.cell(2.0, 1.0)] == BLOCKED  # kept through growth
    with pytest.raises(ValueError, match="resolution"):
        NavGrid(0.0)


def test_carve_fills_blind_zone_but_stops_at_obstacles():
    g = NavGrid(0.1)
    # the camera at the origin sees floor from 1 m out and a box at x = 2 .. 2.2
    far_floor = np.array([[x, 0.0, 0.0] for x in np.arange(1.0, 2.0, 0.1)])
    box = np.array([[2.0, 0.0, 0.4]])
    beyond = np.array([[3.0, 0.0, 0.0]])  # floor seen over the box
    pts = np.concatenate([far_floor, box, beyond])
    g.add_points(pts)
    g.carve((0.0, 0.0), pts)
    assert g.grid[g.cell(0.3, 0.0)] == FREE  # under the camera's view, in front of the feet
    assert g.grid[g.cell(2.0, 0.0)] == BLOCKED
    assert g.grid[g.cell(2.5, 0.0)] == UNKNOWN  # behind the box: not carved
    fr = g.frontier()
    assert fr.any() and (g.grid[fr] == FREE).all()


def test_passable_inflates_obstacles():
    g = NavGrid(0.1)
    g.add_points(np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.5]]))
    p = g.passable(0.25)
    assert not p[g.cell(0.85, 0.0)]
    assert p[g.cell(0.5, 0.0)]
    assert not g.passable(0.0, optimistic=False)[g.cell(0.5, 0.0)]  # unknown is not known-free
