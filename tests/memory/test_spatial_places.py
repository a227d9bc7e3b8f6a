"""Spatial memory's places as one columnar table: the place grid's sorted part (older places, found by
bisection) answers as its dict part (the newest places) does, place ids are parsed strictly, a
snapshot round trip keeps every place answer, and ``ram_bytes()`` counts what spatial memory holds.
"""

from __future__ import annotations

import json
from unittest import mock

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embodied_mem import Memory, MemoryConfig, Percept, Pose, Sighting, View
from embodied_mem.memory import longterm, spatial

from .test_ram_budget import assert_same, feed
from .test_ram_budget_spatial import answers, budgeted, small_sets, world_stream

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                          HealthCheck.function_scoped_fixture])
POINTS = [(x / 2, y / 2) for x in range(-26, 27, 3) for y in range(-26, 27, 5)]


def place_answers(mem: Memory) -> str:
    """Every place answer: the places, the place at many points, neighbours, regions, the region of
    each belief's place (``answers`` of the budget tests covers beliefs, cells and paths)."""
    sp = mem.spatial
    places = sp.places()
    out = {"places": [repr(p) for p in places], "at": [repr(sp.place_of(q)) for q in POINTS],
           "neighbours": [sp.neighbours(p.id) for p in places], "regions": sp.regions(),
           "current": sp.current_place, "all": answers(mem)}
    return json.dumps(out, sort_keys=True, default=repr)


@SETTINGS
@given(world_stream())
def test_the_sorted_part_of_the_place_grid_answers_as_the_dict_part(ops):
    """With every place merged into the sorted part at once (``_GRID_MERGE`` 0), or never (the
    default keeps a few thousand in the dict), every spatial answer is the same."""
    plain = Memory()
    feed(plain, ops)
    with mock.patch.object(spatial, "_GRID_MERGE", 0):
        merged = Memory()
        feed(merged, ops)
        for w in [None, *plain.worlds()]:
            if w is not None:
                plain.enter_world(w)
                merged.enter_world(w)
            assert_same(place_answers(merged), place_answers(plain))
            if len(merged.spatial.places()) > 1:
                assert len(merged.spatial._pl.gkeys) >= len(merged.spatial.places()) - 1  # noqa: SLF001
    plain.close()
    merged.close()


@SETTINGS
@given(world_stream())
def test_a_budgeted_memory_with_sorted_place_grid_answers_as_an_unbudgeted_one(ops):
    """Labels, tiles, sightings and poses paged under a tiny budget while every place is in the
    grid's sorted part: every answer, places included, is the unbudgeted memory's."""
    plain = Memory()
    feed(plain, ops)
    with mock.patch.object(spatial, "_GRID_MERGE", 0), mock.patch.object(spatial, "_TILE", 1), \
            mock.patch.object(longterm, "working_set_sizes", small_sets):
        small = budgeted()
        feed(small, ops)
        for w in [None, *plain.worlds()]:
            if w is not None:
                plain.enter_world(w)
                small.enter_world(w)
            assert_same(place_answers(small), place_answers(plain))
    plain.close()
    small.close()


def grid_walk(n: int, seed: int = 3) -> list[Percept]:
    """A random walk over a 60 x 60 area: places in shared cells, revisits, regions, things near places."""
    rng = np.random.default_rng(seed)
    out, x, y = [], 0.0, 0.0
    for i in range(n):
        x, y = float(np.clip(x + rng.normal(0, 2.5), -30, 30)), float(np.clip(y + rng.normal(0, 2.5), -30, 30))
        out.append(Percept(t=float(i), pose=Pose(x, y), view=View.disc((x, y), 2.0),
                           region="hall" if x < 0 else ("kitchen" if y < 0 else "yard"),
                           sightings=(Sighting(f"thing{int(x // 7)}", (x + 0.5, y)),)))
    return out


def test_a_snapshot_keeps_every_place_answer_with_both_grid_parts(tmp_path):
    """Some places in the sorted part, some in the dict part: a reopen (the grid rebuilt from the
    positions, all in the sorted part) answers as before, and goes on as a memory never closed."""
    ps = grid_walk(400)
    with mock.patch.object(spatial, "_GRID_MERGE", 16):
        with Memory.open(tmp_path / "m.db") as mem:
            for p in ps[:300]:
                mem.observe(p)
            pl = mem.spatial._pl  # noqa: SLF001
            assert len(pl.gkeys) and pl.gfirst and pl.gmore is not None
            before = place_answers(mem)
        with Memory.open(tmp_path / "m.db") as again, Memory() as never:
            assert again.snapshot_status == "ok"
            assert_same(place_answers(again), before)
            for p in ps[300:]:
                again.observe(p)
            for p in ps:
                never.observe(p)
            assert_same(place_answers(again), place_answers(never))


def test_place_ids_are_parsed_strictly():
    mem = Memory()
    for p in grid_walk(60):
        mem.observe(p)
    sp = mem.spatial
    ids = [p.id for p in sp.places()]
    assert len(ids) > 3 and all(sp.neighbours(i) for i in ids)
    for bad in ("place:01", "place:-1", f"place:{len(ids)}", "place:", "place:1 ", "w/place:1", "place:１", 7, None):
        assert sp.neighbours(bad) == []  # type: ignore[arg-type]
    mem.enter_world("w")
    for p in grid_walk(30):
        mem.observe(p)
    assert all(i.startswith("w/place:") for i in mem.spatial.neighbours("w/place:0"))
    assert mem.spatial.neighbours("place:0") == []


def test_ram_bytes_counts_what_spatial_memory_holds():
    """Zero-ish when empty, grows with what is observed, and a RAM budget (labels, tiles, sightings
    and poses paged out) holds less; cheap enough to call at every percept."""
    plain, small = Memory(), Memory(MemoryConfig.from_dict({"ram_budget_mb": 1}))
    empty = plain.spatial.ram_bytes()
    assert 0 < empty < 10_000
    sizes = []
    for i, p in enumerate(grid_walk(3000, seed=5)):
        q = Percept(t=p.t, pose=p.pose, view=p.view, region=p.region, free=np.array([(p.pose.x, p.pose.y + 1)]),
                    sightings=tuple(Sighting(f"l{i % 500}_{j}", (p.pose.x + j, p.pose.y)) for j in range(4)))
        plain.observe(q)
        small.observe(q)
        if i % 1000 == 999:
            sizes.append(plain.spatial.ram_bytes())
    assert sizes == sorted(sizes) and sizes[0] > 50 * empty
    assert small.spatial.ram_bytes() < plain.spatial.ram_bytes()
    plain.close()
    small.close()


@settings(max_examples=10, deadline=None)
@given(st.lists(st.tuples(st.integers(-10**9, 10**9), st.integers(-10**9, 10**9)), min_size=1, max_size=12))
def test_places_far_out_keep_to_the_dict_part_and_still_answer(points):
    """Places in grid cells beyond int32 (a place radius of 1 cm and poses a million km out) stay in
    the dict part; the places are found either way."""
    cfg = MemoryConfig.from_dict({"spatial": {"place_radius": 0.01}})
    merged, plain = Memory(cfg), Memory(cfg)
    for i, (x, y) in enumerate(points):
        for mem in (merged, plain):
            with mock.patch.object(spatial, "_GRID_MERGE", 0 if mem is merged else 4096):
                mem.observe(Percept(t=float(i), pose=Pose(float(x), float(y))))
    for mem in (merged, plain):
        sp = mem.spatial
        assert [sp.place_of(p.position) for p in sp.places()] == sp.places()
    assert [repr(p) for p in merged.spatial.places()] == [repr(p) for p in plain.spatial.places()]
