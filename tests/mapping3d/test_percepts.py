"""One frame -> a sensor-only Percept (sightings, free/blocked cells, region)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from embodied_mem import Memory
from embodied_mem.mapping3d.frames import Intrinsics
from embodied_mem.mapping3d.percepts import frame_percept
from embodied_mem.percept import Pose


def _synthetic_frame():
    """A camera 1 m above the floor looking along +x at a wall 3 m away, with a 'mug' patch on it."""
    k = Intrinsics(64, 64, math.radians(90))
    depth = np.full((64, 64), 3.0, np.float32)
    sem = np.full((64, 64), 2, np.uint32)  # wall
    # the lower half of the image sees the floor: z-depth so that the ray hits z = 0
    v = (np.arange(64) - k.cy) / k.fy
    for r in range(64):
        if v[r] > 1.0 / 3.0:  # rays steeper than the wall's base
            depth[r] = 1.0 / v[r]
            sem[r] = 1  # floor
    sem[20:28, 28:36] = 3  # the mug, on the wall
    return k, depth, sem


def test_frame_percept_sightings_cells_region():
    k, depth, sem = _synthetic_frame()
    labels = {1: "floor", 2: "wall", 3: "mug"}
    pose = Pose(0.0, 0.0, 0.0, 0.0)
    p, obs = frame_percept(depth, sem, k, pose, t=5.0, sensor_height=1.0, labels=labels, regions={1: "kitchen"},
                           stride=1, cell=0.25)
    assert [s.label for s in p.sightings] == ["mug"]
    s = p.sightings[0]
    assert s.instance == "mug#3"
    assert abs(s.position[0] - 3.0) < 1e-3 and s.position[2] > 1.0  # on the wall, above the camera's horizon
    assert obs[0].n_points == 64 and s.confidence == 1.0
    assert p.region == "kitchen"
    assert p.pose == pose and p.t == 5.0
    assert len(p.free) > 0 and len(p.blocked) > 0
    assert (p.free[:, 0] < 3.0).all()  # floor in front of the wall
    assert np.allclose(p.blocked[:, 0], 3.0)  # the wall's cell column
    free_set = {tuple(c) for c in p.free.tolist()}
    assert not free_set & {tuple(c) for c in p.blocked.tolist()}
    # it is a valid percept for memory
    mem = Memory()
    mem.observe(p)
    (loc,) = mem.spatial.locate("mug")
    assert loc.instance == "mug#3"


def test_frame_percept_refuses_bad_shapes():
    k, depth, sem = _synthetic_frame()
    with pytest.raises(ValueError, match="semantic"):
        frame_percept(depth, sem[:10], k, Pose(0, 0), t=0.0, sensor_height=1.0, labels={})
    with pytest.raises(ValueError, match="depth"):
        frame_percept(depth[:, :10], sem, k, Pose(0, 0), t=0.0, sensor_height=1.0, labels={})


def test_structural_and_unknown_instances_are_not_sightings():
    k, depth, sem = _synthetic_frame()
    p, _ = frame_percept(depth, sem, k, Pose(0, 0), t=0.0, sensor_height=1.0, labels={1: "floor", 2: "wall"})
    assert p.sightings == ()  # id 3 has no label in the semantic scene
