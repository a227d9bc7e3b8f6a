"""Percept, Pose, Sighting, View: validation (field named in every refusal), geometry, round trips."""

from __future__ import annotations

import math

import numpy as np
import pytest

from embodied_mem import Percept, PerceptError, PerceptTypeError, Pose, Sighting, View
from embodied_mem.percept import ConeView, DiscView, RectView, as_position


def test_pose_and_sighting_coerce_and_freeze():
    p = Pose(1, 2)
    assert p.position == (1.0, 2.0, 0.0) and isinstance(p.x, float)
    s = Sighting("key", (1, 2), instance="key-1", confidence=0.5)
    assert s.position == (1.0, 2.0, 0.0)
    with pytest.raises(AttributeError):
        p.x = 3.0  # type: ignore[misc]
    with pytest.raises(AttributeError):
        s.label = "apple"  # type: ignore[misc]
    assert as_position(np.array([1.0, 2.0, 3.0])) == (1.0, 2.0, 3.0)


@pytest.mark.parametrize(
    "make, exc, field",
    [
        (lambda: Pose(float("nan"), 0), PerceptError, "Pose.x"),
        (lambda: Pose(0, float("inf")), PerceptError, "Pose.y"),
        (lambda: Pose(0, 0, yaw="north"), PerceptTypeError, "Pose.yaw"),
        (lambda: Pose(True, 0), PerceptTypeError, "Pose.x"),
        (lambda: Sighting("", (0, 0)), PerceptError, "Sighting.label"),
        (lambda: Sighting("   ", (0, 0)), PerceptError, "Sighting.label"),
        (lambda: Sighting(3, (0, 0)), PerceptTypeError, "Sighting.label"),
        (lambda: Sighting("key", (0, float("nan"))), PerceptError, "Sighting.position[1]"),
        (lambda: Sighting("key", (0,)), PerceptError, "Sighting.position"),
        (lambda: Sighting("key", "ab"), PerceptTypeError, "Sighting.position"),
        (lambda: Sighting("key", (0, 0), instance=""), PerceptError, "Sighting.instance"),
        (lambda: Sighting("key", (0, 0), confidence=1.5), PerceptError, "Sighting.confidence"),
        (lambda: Sighting("key", (0, 0), confidence=float("nan")), PerceptError, "Sighting.confidence"),
        (lambda: Percept(t=float("nan")), PerceptError, "Percept.t"),
        (lambda: Percept(t=float("-inf")), PerceptError, "Percept.t"),
        (lambda: Percept(t="1"), PerceptTypeError, "Percept.t"),
        (lambda: Percept(t=1, pose=(0, 0)), PerceptTypeError, "Percept.pose"),
        (lambda: Percept(t=1, sightings=[("key", (0, 0))]), PerceptTypeError, "Percept.sightings[0]"),
        (lambda: Percept(t=1, sightings="key"), PerceptTypeError, "Percept.sightings"),
        (lambda: Percept(t=1, view="disc"), PerceptTypeError, "Percept.view"),
        (lambda: Percept(t=1, events="opened door"), PerceptTypeError, "Percept.events"),
        (lambda: Percept(t=1, events=[""]), PerceptError, "Percept.events[0]"),
        (lambda: Percept(t=1, region=""), PerceptError, "Percept.region"),
        (lambda: Percept(t=1, source=""), PerceptError, "Percept.source"),
        (lambda: Percept(t=1, free=[[0, 0, 0, 0]]), PerceptError, "Percept.free"),
        (lambda: Percept(t=1, blocked=[[0, float("nan")]]), PerceptError, "Percept.blocked"),
        (lambda: Percept(t=1, free=[["a", "b"]]), PerceptTypeError, "Percept.free"),
        (lambda: Percept(t=1, action=""), PerceptError, "Percept.action"),
        (lambda: View.disc((0, 0), -1), PerceptError, "View.radius"),
        (lambda: View.disc((0, float("nan")), 1), PerceptError, "View.center"),
        (lambda: View.rect(1, 0, 0, 1), PerceptError, "View.rect"),
        (lambda: View.cone(Pose(0, 0), 3, 0), PerceptError, "View.fov"),
        (lambda: View.cone((0, 0), 3, 1), PerceptTypeError, "View.cone"),
    ],
)
def test_bad_input_is_refused_naming_the_field(make, exc, field):
    with pytest.raises(exc) as info:
        make()
    assert field in str(info.value)
    # the documented base classes, so callers can catch ValueError / TypeError
    assert isinstance(info.value, ValueError if exc is PerceptError else TypeError)


def test_percept_normalises_containers_and_freezes_cells():
    p = Percept(t=3, sightings=[Sighting("tree", (1, 1))], events=["chopped"], free=[[0, 0], [1, 0]])
    assert isinstance(p.sightings, tuple) and isinstance(p.events, tuple) and p.t == 3.0
    assert p.free.shape == (2, 2) and not p.free.flags.writeable
    assert Percept(t=0, free=np.zeros((0, 2))).free.shape == (0, 2)
    assert p.labels == ["tree"]
    assert "tree" in p.text() and "chopped" in p.text()


def test_percept_round_trips_through_dict():
    p = Percept(
        t=12.5, pose=Pose(3, 4, 0, 1.0), source="crafter", region="kitchen",
        sightings=(Sighting("tree", (5, 4)), Sighting("key", (3.5, 4.2, 0.1), instance="key-1", confidence=0.9)),
        view=View.cone(Pose(3, 4, 0, 1.0), 4.5, math.pi / 2), events=("collected wood",),
        free=[[1, 1], [2, 1]], blocked=[[5, 5]], action="do", target="tree",
    )
    q = Percept.from_dict(p.to_dict())
    assert q == p
    assert np.array_equal(q.free, p.free) and np.array_equal(q.blocked, p.blocked)
    for view in (View.disc((1, 2), 3), View.rect(0, 0, 2, 3)):
        assert View.from_dict(view.to_dict()) == view


def test_from_dict_refuses_unknown_or_missing_fields():
    with pytest.raises(PerceptError, match="unknown percept field"):
        Percept.from_dict({"t": 1, "colour": "red"})
    with pytest.raises(PerceptError, match="Percept.t"):
        Percept.from_dict({"source": "x"})
    with pytest.raises(PerceptTypeError):
        Percept.from_dict(["t", 1])
    with pytest.raises(PerceptError, match="View kind"):
        View.from_dict({"kind": "sphere"})


def test_disc_and_rect_are_xy_regions_inclusive_at_the_edge():
    d = View.disc((0, 0, 100), 2)
    assert isinstance(d, DiscView)
    assert d.contains((2, 0)) and d.contains((0, -2, -50)) and not d.contains((2.01, 0))
    r = View.rect(0, 0, 2, 1)
    assert isinstance(r, RectView)
    assert r.contains((0, 0)) and r.contains((2, 1, 9)) and not r.contains((2.001, 0.5))
    assert d.bounds() == (-2, -2, 2, 2)


def test_cone_faces_the_pose_yaw():
    c = View.cone(Pose(0, 0, yaw=math.pi / 2), radius=5, fov=math.pi / 2)  # facing +y, 90° wide
    assert isinstance(c, ConeView)
    assert c.contains((0, 4)) and c.contains((1, 3))
    assert not c.contains((0, -4)) and not c.contains((4, 0)) and not c.contains((0, 5.5))
    assert c.contains((0, 0))  # the apex
    full = View.cone(Pose(0, 0), 1, 2 * math.pi)
    assert all(full.contains(p) for p in [(1, 0), (-1, 0), (0, 1), (0, -1)])
    # vectorised form agrees with contains()
    pts = np.array([[0, 4], [0, -4], [1, 3]], float)
    assert c.contains_xy(pts[:, 0], pts[:, 1]).tolist() == [True, False, True]


def test_percept_from_journal_rebuilds_what_to_dict_wrote():
    import json

    from embodied_mem.percept import percept_from_journal

    p = Percept(t=2, pose=Pose(1, 2, yaw=0.5), sightings=[Sighting("key", (1, 2), "k", 0.5), Sighting("tree", (3, 4))],
                view=View.disc((1, 2), 3), events=["x"], region="hall", source="cam", free=[[1, 2]], blocked=[[3, 3]],
                action="do", target="tree")
    q = percept_from_journal(json.loads(json.dumps(p.to_dict())))
    assert q == p and q.to_dict() == p.to_dict()
    assert isinstance(q.sightings, tuple) and isinstance(q.sightings[0].position, tuple)
    assert not q.free.flags.writeable and q.free.shape == (1, 2)
    with pytest.raises(AttributeError):
        q.t = 5.0  # type: ignore[misc]
    assert percept_from_journal({"t": 1.0}) == Percept(t=1)


def test_masked_view_leaves_occluded_spots_out() -> None:
    """A creature standing on lava hides the lava: absence there is not evidence (View.without)."""
    from embodied_mem import Memory, Percept, Pose, Sighting, View
    from embodied_mem.percept import MaskedView, PerceptError

    v = View.rect(0, 0, 8, 6).without([(3, 3)], radius=0.5)
    assert isinstance(v, MaskedView)
    assert not v.contains((3, 3)) and v.contains((3, 4)) and not v.contains((9, 9))
    assert View.from_dict(v.to_dict()) == v  # survives the journal
    m = Memory()
    m.observe(Percept(t=0, pose=Pose(1, 1), sightings=[Sighting("lava", (3, 3))], view=View.rect(0, 0, 8, 6)))
    m.observe(Percept(t=1, pose=Pose(1, 1), sightings=[Sighting("arrow", (3, 3))], view=v))
    assert [loc.label for loc in m.spatial.locate("lava")] == ["lava"]  # hidden, not gone
    m.observe(Percept(t=2, pose=Pose(1, 1), view=View.rect(0, 0, 8, 6)))
    assert m.spatial.locate("lava") == []  # seen again, and absent: gone
    with pytest.raises(PerceptError, match="View.holes"):
        View.rect(0, 0, 1, 1).without([(float("nan"), 1.0)])
    with pytest.raises(PerceptError, match="hole_radius"):
        View.rect(0, 0, 1, 1).without([(0.0, 1.0)], radius=-1)
