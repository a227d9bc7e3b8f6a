"""Spatial memory: object beliefs (instances, label-level, tolerance, negative evidence, late percepts),
places and regions, trajectory, occupancy, frontiers and paths."""

from __future__ import annotations

import math

import numpy as np
import pytest

from embodied_mem import Memory, Percept, Pose, Sighting, View


def located_at_edges(mem: Memory, node: str) -> list[dict]:
    return sorted((d for _, _, d in mem.graph.nx.out_edges(node, data=True) if d["relation"] == "located_at"),
                  key=lambda d: d["valid_from"])


def test_instance_move_is_a_new_location_edge_and_the_old_one_is_invalidated():
    mem = Memory()
    mem.observe(Percept(t=1, pose=Pose(0, 0), sightings=[Sighting("key", (1, 0), instance="key-1", confidence=0.7)],
                        region="kitchen"))
    mem.observe(Percept(t=2, pose=Pose(0, 0), sightings=[Sighting("key", (1.3, 0), instance="key-1")]))  # within 0.5
    mem.observe(Percept(t=5, pose=Pose(20, 0), sightings=[Sighting("key", (21, 0), instance="key-1", confidence=0.9)],
                        region="hall"))
    (loc,) = mem.spatial.locate("key")
    assert loc.position == (21.0, 0.0, 0.0) and loc.region == "hall" and loc.instance == "key-1"
    assert (loc.first_seen, loc.last_seen, loc.confidence) == (5.0, 5.0, 0.9)  # this location's own times
    old, new = located_at_edges(mem, "object:key-1")
    for d in (old, new):
        assert {"valid_from", "valid_to", "recorded_at", "source", "confidence"} <= set(d)
    assert (old["valid_from"], old["valid_to"], old["source"]) == (1.0, 5.0, 0)
    assert (new["valid_from"], new["valid_to"], new["source"], new["confidence"]) == (5.0, None, 2, 0.9)
    assert new["recorded_at"] >= old["recorded_at"] > 1e9  # wall clock
    (past,) = mem.spatial.locate("key", at=3)
    assert past.position == (1.3, 0.0, 0.0) and past.region == "kitchen"
    assert (past.first_seen, past.last_seen) == (1.0, 2.0)
    assert [h.valid_to for h in mem.spatial.history("key")] == [5.0, None]


def test_label_level_matching_uses_the_tolerance():
    mem = Memory({"spatial": {"match_tolerance": 1.0}})
    mem.observe(Percept(t=1, sightings=[Sighting("tree", (0, 0)), Sighting("tree", (5, 0))]))
    mem.observe(Percept(t=2, sightings=[Sighting("tree", (0.9, 0))]))  # the first tree again
    mem.observe(Percept(t=3, sightings=[Sighting("tree", (2.5, 0))]))  # a third tree
    locs = mem.spatial.locate("tree")
    assert len(locs) == 3
    assert [loc.last_seen for loc in locs] == [3.0, 2.0, 1.0]  # most recently seen first
    assert locs[1].position == (0.9, 0.0, 0.0) and locs[1].first_seen == 1.0
    assert mem.spatial.stats()["objects"] == 3


def test_negative_evidence_invalidates_unseen_beliefs_inside_the_view_only():
    mem = Memory()
    mem.observe(Percept(t=1, pose=Pose(0, 0), sightings=[Sighting("apple", (1, 0)), Sighting("cup", (3, 0)),
                                                         Sighting("tree", (10, 0))]))
    mem.observe(Percept(t=4, pose=Pose(0, 0), sightings=[Sighting("cup", (3, 0))], view=View.disc((0, 0), 4)))
    assert mem.spatial.locate("apple") == []  # eaten: in view, not seen
    assert len(mem.spatial.locate("cup")) == 1  # seen again
    assert len(mem.spatial.locate("tree")) == 1  # outside the view: no evidence
    assert len(mem.spatial.locate("apple", at=3.9)) == 1 and mem.spatial.locate("apple", at=4) == []
    (edge,) = located_at_edges(mem, mem.spatial.history("apple")[0].object_id)
    assert edge["valid_to"] == 4.0


def test_rect_and_cone_views_give_negative_evidence():
    mem = Memory()
    mem.observe(Percept(t=1, sightings=[Sighting("a", (1, 1)), Sighting("b", (-1, 0)), Sighting("c", (1, 0))]))
    mem.observe(Percept(t=2, view=View.rect(0, 0, 2, 2)))  # a and c
    assert mem.spatial.locate("a") == [] and mem.spatial.locate("c") == [] and mem.spatial.locate("b")
    mem.observe(Percept(t=3, view=View.cone(Pose(0, 0, yaw=math.pi), 2, math.pi / 4)))  # facing -x: b
    assert mem.spatial.locate("b") == []


def test_late_percept_from_another_source_cannot_end_or_move_newer_beliefs():
    mem = Memory()
    mem.observe(Percept(t=10, source="lidar", sightings=[Sighting("key", (5, 0), instance="k"),
                                                         Sighting("box", (0, 1))]))
    # a camera percept stamped earlier arrives late: it saw the key elsewhere and no box
    mem.observe(Percept(t=4, source="camera", sightings=[Sighting("key", (0, 0), instance="k")],
                        view=View.disc((0, 0), 3)))
    (key,) = mem.spatial.locate("key")
    assert key.position == (5.0, 0.0, 0.0)  # the newer sighting still holds
    assert len(mem.spatial.locate("box")) == 1  # seen at t=10: a t=4 view cannot disprove it
    for _, _, d in mem.graph.nx.edges(data=True):
        assert d["valid_to"] is None or d["valid_to"] >= d["valid_from"]
    (then,) = mem.spatial.locate("key", at=5)
    assert then.position == (0.0, 0.0, 0.0)  # history: at t=5 the camera's sighting was the belief


def test_late_negative_evidence_still_ends_older_beliefs_with_valid_to_not_before_valid_from():
    mem = Memory()
    mem.observe(Percept(t=5, source="a", sightings=[Sighting("apple", (0, 0))]))
    mem.observe(Percept(t=9, source="b", view=View.disc((0, 0), 1)))
    mem.observe(Percept(t=7, source="a", sightings=[Sighting("pear", (0.2, 0))]))
    mem.observe(Percept(t=8, source="a", view=View.disc((0, 0), 1)))  # older than the newest (t=9)
    assert mem.spatial.locate("apple") == [] and mem.spatial.locate("pear") == []
    for _, _, d in mem.graph.nx.edges(data=True):
        assert d["valid_to"] is None or d["valid_to"] >= d["valid_from"]


def test_nearest_and_locate_for_unknown_labels():
    mem = Memory()
    mem.observe(Percept(t=1, sightings=[Sighting("tree", (0, 0)), Sighting("tree", (10, 0))]))
    assert mem.spatial.nearest("tree", (8, 0)).position == (10.0, 0.0, 0.0)
    assert mem.spatial.nearest("tree", (1, 1, 0)).position == (0.0, 0.0, 0.0)
    assert mem.spatial.nearest("unicorn", (0, 0)) is None
    assert mem.spatial.locate("unicorn") == [] and mem.spatial.locate("tree", at=0.5) == []
    with pytest.raises(ValueError, match="point"):
        mem.spatial.nearest("tree", (float("nan"), 0))


def test_places_grow_with_radius_and_connect_on_traversal():
    mem = Memory({"spatial": {"place_radius": 3.0}})
    for t, (x, region) in enumerate([(0, "kitchen"), (1, "kitchen"), (5, "hall"), (10, "bedroom"), (5, "hall")]):
        mem.observe(Percept(t=t, pose=Pose(x, 0), region=region))
    places = mem.spatial.places()
    assert [p.region for p in places] == ["kitchen", "hall", "bedroom"]
    assert [p.visits for p in places] == [1, 2, 1]
    assert (places[1].first_visit, places[1].last_visit) == (2, 4)
    assert mem.spatial.neighbours(places[1].id) == sorted([places[0].id, places[2].id])
    assert mem.spatial.current_place == places[1].id
    assert mem.spatial.place_of((0.5, 0.5)).id == places[0].id and mem.spatial.place_of((50, 50)) is None
    assert mem.spatial.regions() == ["bedroom", "hall", "kitchen"]


def test_region_relabel_is_bitemporal():
    mem = Memory()
    mem.observe(Percept(t=1, pose=Pose(0, 0), region="kitchen", sightings=[Sighting("cup", (0.5, 0))]))
    mem.observe(Percept(t=5, pose=Pose(0, 0), region="diner", sightings=[Sighting("cup", (0.5, 0))]))
    assert mem.spatial.locate("cup")[0].region == "kitchen"  # one vote each: the label stays
    mem.observe(Percept(t=6, pose=Pose(0.5, 0), region="diner"))
    assert mem.spatial.locate("cup")[0].region == "diner"  # overtaken
    assert mem.spatial.locate("cup", at=5.5)[0].region == "kitchen"
    (edge,) = [d for _, _, _, d in mem.graph.edges("place:0", relation="in_region") if d["region"] == "kitchen"]
    assert (edge["valid_from"], edge["valid_to"]) == (1.0, 6.0)


def test_trajectory_is_inclusive_and_time_ordered_with_late_poses():
    mem = Memory()
    for t in (0, 1, 2, 3):
        mem.observe(Percept(t=t, pose=Pose(t, 0)))
    mem.observe(Percept(t=1.5, pose=Pose(9, 9), source="other"))
    assert [t for t, _ in mem.spatial.trajectory(1, 2)] == [1, 1.5, 2]
    assert [t for t, _ in mem.spatial.trajectory()] == [0, 1, 1.5, 2, 3]
    assert mem.spatial.trajectory(5, 9) == []
    assert mem.spatial.pose() == Pose(3, 0)


def test_occupancy_frontiers_and_path():
    mem = Memory({"spatial": {"cell_size": 1.0}})
    free = [[x, y] for x in range(0, 5) for y in range(0, 3)]
    blocked = [[2, 0], [2, 1]]  # a wall with a gap at y=2
    mem.observe(Percept(t=0, pose=Pose(0, 0), free=free, blocked=blocked))
    sp = mem.spatial
    assert sp.occupancy((0, 0)) == "free" and sp.occupancy((2, 1)) == "blocked" and sp.occupancy((9, 9)) == "unknown"
    grid, (ix0, iy0) = sp.occupancy_grid()
    assert grid.shape == (3, 5) and (ix0, iy0) == (0, 0) and grid[1, 2] == 2 and grid[0, 0] == 1
    path = sp.path((0, 0), (4, 0))
    assert path[0] == (0.0, 0.0, 0.0) and path[-1] == (4.0, 0.0, 0.0)
    assert all(sp.occupancy(p) == "free" for p in path)
    assert (2.0, 2.0, 0.0) in path and len(path) == 9  # around the wall through the gap
    adj = sp.path((0, 0), (2, 0), adjacent=True)  # next to the wall cell
    assert adj[-1] in [(1.0, 0.0, 0.0), (3.0, 0.0, 0.0), (2.0, 2.0, 0.0)] and len(adj) == 2
    assert sp.path((0, 0), (9, 9)) is None  # unknown goal
    fr = sp.frontiers(near=(4, 2), limit=3)
    assert len(fr) == 3 and fr[0] == (4.0, 2.0, 0.0)
    assert all(sp.occupancy(p) == "free" for p in sp.frontiers())
    assert (1.0, 1.0, 0.0) not in sp.frontiers()  # interior cell


def test_path_over_the_place_graph_when_no_cells_are_known():
    mem = Memory({"spatial": {"place_radius": 2.0}})
    sp = mem.spatial
    mem.observe(Percept(t=0, pose=Pose(0, 0)))
    mem.spatial._occ.clear()  # a pose marks its cell free; plan as if nothing were known
    mem.spatial._inner.clear()
    for t, x in enumerate([3, 6, 9], start=1):
        mem.observe(Percept(t=t, pose=Pose(x, 0)))
    sp._occ.clear()
    path = sp.path((0, 0), (9, 0))
    assert path[0] == (0.0, 0.0, 0.0) and path[-1] == (9.0, 0.0, 0.0) and len(path) == 6


def test_disabled_spatial_answers_empty():
    mem = Memory({"spatial": {"enabled": False}})
    mem.observe(Percept(t=1, pose=Pose(0, 0), sightings=[Sighting("key", (1, 0))], free=np.zeros((1, 2))))
    sp = mem.spatial
    assert sp.locate("key") == [] and sp.nearest("key", (0, 0)) is None and sp.places() == []
    assert sp.trajectory() == [] and sp.pose() is None and sp.frontiers() == [] and sp.path((0, 0), (1, 0)) is None
    assert sp.occupancy((0, 0)) == "unknown" and sp.place_of((0, 0)) is None and sp.history("key") == []


def test_count_is_distinct_objects_ever_believed_with_at():
    mem = Memory()
    mem.observe(Percept(t=1, pose=Pose(0, 0), sightings=[Sighting("tree", (1, 0)), Sighting("tree", (3, 0))]))
    mem.observe(Percept(t=2, pose=Pose(0, 0), sightings=[Sighting("tree", (1.2, 0))]))  # the first one again
    mem.observe(Percept(t=3, pose=Pose(0, 0), sightings=[], view=View.disc((1, 0), 0.6)))  # hidden: invalidated
    mem.observe(Percept(t=4, pose=Pose(0, 0), sightings=[Sighting("tree", (1, 0))]))  # back where it was: same
    mem.observe(Percept(t=5, sightings=[Sighting("tree", (8, 0)), Sighting("key", (0, 0), instance="k1")]))
    mem.observe(Percept(t=6, sightings=[Sighting("key", (9, 0), instance="k1"), Sighting("key", (0, 5))]))
    sp = mem.spatial
    assert sp.count("tree") == 3 and len(sp.history("tree")) == 4  # 4 beliefs, 3 trees
    assert [sp.count("tree", at=t) for t in (0.5, 1, 4.9, 5)] == [0, 2, 2, 3]
    assert sp.count("key") == 2  # k1 moved: still one object; plus a label-level key
    assert sp.count("unicorn") == 0 and Memory({"spatial": {"enabled": False}}).spatial.count("tree") == 0


def test_follow_a_walking_thing_through_its_moves_and_to_its_disappearance():
    mem = Memory()
    view = View.disc((0, 0), 10)
    mem.observe(Percept(t=1, pose=Pose(0, 0), view=view, sightings=[Sighting("cow", (2, 0)), Sighting("tree", (5, 5))]))
    mem.observe(Percept(t=2, pose=Pose(0, 0), view=view, sightings=[Sighting("cow", (3, 0)), Sighting("tree", (5, 5))]))
    mem.observe(Percept(t=3, pose=Pose(0, 0), view=view, sightings=[Sighting("cow", (3, 1)), Sighting("tree", (5, 5))]))
    sp = mem.spatial
    assert len(sp.history("cow")) == 3  # each step out of tolerance: a new belief, the old one invalidated
    now = sp.follow("cow", (2, 0), 1, reach=1.0)
    assert now is not None and now.position == (3.0, 1.0, 0.0) and now.valid_to is None
    assert sp.follow("cow", (3, 0), 2.5, reach=1.0).position == (3.0, 1.0, 0.0)
    assert sp.follow("cow", (2, 0), 1) is None  # default reach (match_tolerance 0.5): a one-cell move is a loss
    assert sp.follow("cow", (2, 0), 2, reach=1.0) is None  # no cow believed there at t=2
    assert sp.follow("tree", (5, 5), 1).position == (5.0, 5.0, 0.0)
    mem.observe(Percept(t=4, pose=Pose(0, 0), view=view, sightings=[Sighting("cow", (6, 6))]))  # too far: not it
    assert sp.follow("cow", (2, 0), 1, reach=1.0) is None and sp.follow("tree", (5, 5), 1) is None  # both gone
    assert sp.follow("cow", (6, 6), 4).position == (6.0, 6.0, 0.0)
    with pytest.raises(ValueError, match="reach"):
        sp.follow("cow", (2, 0), 1, reach=-1)


def test_follow_an_instance_that_moved():
    mem = Memory()
    mem.observe(Percept(t=1, sightings=[Sighting("key", (0, 0), instance="k1")]))
    mem.observe(Percept(t=2, sightings=[Sighting("key", (7, 0), instance="k1")]))
    mem.observe(Percept(t=3, sightings=[Sighting("key", (9, 9), instance="k1")]))
    assert mem.spatial.follow("key", (0, 0), 1).position == (9.0, 9.0, 0.0)


def test_frontier_is_the_free_cells_next_to_unknown_ones():
    rng = np.random.default_rng(5)
    mem = Memory()
    for t in range(60):
        free = rng.integers(-6, 7, size=(12, 2)).astype(float)
        blocked = rng.integers(-6, 7, size=(3, 2)).astype(float)
        mem.observe(Percept(t=t, free=free, blocked=blocked))
    sp = mem.spatial
    g, (ix0, iy0) = sp.occupancy_grid()
    known = {(ix0 + ix, iy0 + iy): int(g[iy, ix]) for iy, ix in zip(*np.nonzero(g))}
    want = sorted(c for c, v in known.items() if v == 1 and any(
        n not in known for n in ((c[0] + 1, c[1]), (c[0] - 1, c[1]), (c[0], c[1] + 1), (c[0], c[1] - 1))))
    assert [sp.cell_of(p) for p in sp.frontiers()] == want and want


@pytest.mark.parametrize("seed", range(4))
def test_nearest_equals_brute_force_over_locate(seed: int) -> None:
    # hundreds of beliefs (the hashed ring search), ties on a lattice, beliefs ended by negative
    # evidence and instances that moved: nearest must be locate()'s closest, most recent on ties
    rng = np.random.default_rng(seed)
    mem = Memory({"spatial": {"index_cell": float(rng.choice([1.0, 4.0, 7.5]))}})
    t = 0.0
    for _ in range(30):
        t += 1.0
        pts = rng.integers(-40, 40, size=(12, 2)).astype(float)
        sightings = [Sighting("stone", (x, y)) for x, y in pts]
        sightings += [Sighting("cup", tuple(rng.uniform(-40, 40, 2)), instance=f"cup-{rng.integers(5)}")]
        view = View.disc(tuple(rng.uniform(-40, 40, 2)), 3.0) if rng.random() < 0.5 else None
        mem.observe(Percept(t=t, sightings=sightings, view=view))
    assert len(mem.spatial.locate("stone")) > 64
    for q in list(rng.uniform(-60, 60, size=(40, 2))) + [(0.5, 0.5), (100.0, -100.0)]:
        for label in ("stone", "cup"):
            locs = mem.spatial.locate(label)
            want = min(locs, key=lambda loc: (math.dist(loc.position, (q[0], q[1], 0.0)), -loc.last_seen,
                                              loc.object_id))
            got = mem.spatial.nearest(label, (q[0], q[1]))
            assert got == want


def test_disc_views_end_the_same_beliefs_as_any_view_of_the_same_area():
    """Negative evidence under a disc view (spatial's row-by-row path) ends exactly the beliefs the
    same disc ends through the generic view test (a masked view without holes), on a stream with
    objects just inside and just outside the rim, late percepts from a second source, and moves."""
    from embodied_mem.percept import MaskedView

    rng = np.random.default_rng(3)
    objs = [(f"l{i % 4}", float(x), float(y)) for i, (x, y) in enumerate(rng.uniform(-6, 6, (40, 2)))]
    objs += [("rim", 3.0, 0.0), ("rim", 0.0, -3.0), ("rim", 3.0 + 1e-12, 0.0), ("rim", 2.9999999, 0.0)]
    stream = []
    for step in range(120):
        cx, cy = (float(v) for v in rng.uniform(-3, 3, 2)) if step % 5 else (0.0, 0.0)  # the rim: on it
        seen = [Sighting(lab, (x, y)) for lab, x, y in objs
                if (x - cx) ** 2 + (y - cy) ** 2 <= 9 and rng.random() < 0.7]
        src, t = ("a", float(step)) if step % 7 else ("b", float(step) - 3.5)
        stream.append((t, src, (cx, cy), seen))
    answers = []
    for masked in (False, True):
        mem = Memory()
        for t, src, c, seen in stream:
            view = View.disc(c, 3.0)
            mem.observe(Percept(t=t, source=src, sightings=seen, view=MaskedView(view, ()) if masked else view))
        answers.append(sorted((e["valid_from"], e["valid_to"] or -1.0, e["position"], e["last_seen"])
                              for _, _, _, e in mem.graph.edges(relation="located_at")))
    assert answers[0] == answers[1] and any(a[1] != -1.0 for a in answers[0])
