"""Spatial memory under a RAM budget: cold labels' belief rows and far occupancy tiles leave RAM
(``lt_beliefs``/``lt_bcells``, ``lt_tiles``), and every spatial answer stays what an unbudgeted
memory gives.

The streams wander over a wide world (so tiles and labels go cold and come back), with many labels,
instances seen under a second label, late percepts from a second source, views (negative
evidence), free and blocked cells. Tiles are patched down to 2 x 2 cells and the working sets to a
few items, so nearly everything moves out and back many times.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
from types import SimpleNamespace
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embodied_mem import Memory, Percept, Pose, Sighting, View
from embodied_mem.memory import longterm, spatial

from .conftest import assert_same, fed_pair, feed, reopens_answer_as_before, same_in_every_world
from .conftest import budgeted as _budgeted

LABELS = [f"l{i}" for i in range(8)]
SIZES = {"temporal": 4, "poses": 3, "sightings": 4, "beliefs": 3, "cells": 6}
PROBES = [-1.0, 0.0, 1.0, 3.0, 7.0, 15.0, 30.0, 60.0, 1e9]
wide = st.integers(-24, 24).map(lambda v: v / 2)


def small_sets(_mb: float) -> dict[str, int]:
    return dict(SIZES)


@st.composite
def world_stream(draw):
    clocks = {"cam": 0.0, "late": 0.0}
    out = []
    for _ in range(draw(st.integers(1, 50))):
        if draw(st.integers(0, 24)) == 0:
            out.append(("world", draw(st.sampled_from(["w1", "w2"]))))
            continue
        src = draw(st.sampled_from(["cam", "cam", "cam", "late"]))
        clocks[src] += draw(st.sampled_from([0.0, 1.0, 2.0, 4.0]))
        cx, cy = draw(wide), draw(wide)
        pose = Pose(cx, cy) if draw(st.booleans()) else None
        view = View.disc((cx, cy), draw(st.sampled_from([1.0, 3.0]))) if draw(st.booleans()) else None
        sights = tuple(Sighting(lbl, (cx + draw(st.integers(-3, 3)) / 2, cy + draw(st.integers(-3, 3)) / 2),
                                confidence=draw(st.sampled_from([0.5, 1.0])),
                                instance=draw(st.sampled_from([None, None, None, "i1", "i2"])))
                       for lbl in draw(st.lists(st.sampled_from(LABELS), max_size=3)))
        free = blocked = None
        if draw(st.booleans()):
            pts = [(cx + dx, cy + dy) for dx in (-1.0, 0.0, 1.0) for dy in (-1.0, 0.0, 1.0)]
            free = np.array(pts[: draw(st.integers(1, 9))])
        if draw(st.booleans()):
            blocked = np.array([(cx + draw(st.integers(-2, 2)), cy + draw(st.integers(-2, 2)))])
        out.append(("p", Percept(t=clocks[src], pose=pose, view=view, source=src, sightings=sights, free=free,
                                 blocked=blocked, region=draw(st.sampled_from([None, "hall", "yard"])))))
    return out


def answers(mem: Memory) -> str:
    sp = mem.spatial
    out: dict = {"stats": sp.stats(), "labels": sp.labels(), "places": [repr(p) for p in sp.places()]}
    for lbl in LABELS:
        d = out[lbl] = {}
        d["locate"] = [repr(sp.locate(lbl, at=a)) for a in [None, *PROBES]]
        d["history"] = repr(sp.history(lbl))
        d["count"] = [sp.count(lbl, at=a) for a in [None, *PROBES]]
        d["nearest"] = [repr(sp.nearest(lbl, q, at=a)) for q in [(0.0, 0.0), (-9.0, 7.0)] for a in [None, *PROBES[::3]]]
        d["follow"] = [repr(sp.follow(lbl, q, a, reach=r)) for q in [(0.0, 0.0), (5.0, -5.0), (-10.0, 10.0)]
                       for a in PROBES[::2] for r in (None, 3.0)]
    out["region_counts"] = sorted(sp.region_counts().items())
    out["label_counts"] = sorted(sp.label_counts().items())
    cells, states = sp.occupancy_cells()
    out["occ"] = [cells.tolist(), states.tolist(), sp.n_known_cells, sp.frontiers(),
                  sp.frontiers(near=(3.0, -2.0), limit=5)]
    out["occupancy"] = [sp.occupancy((x, y)) for x in range(-12, 13, 3) for y in range(-12, 13, 4)]
    out["path"] = [repr(sp.path(a, b, adjacent=adj)) for a, b in [((0.0, 0.0), (6.0, 6.0)), ((-8.0, 3.0), (9.0, -4.0))]
                   for adj in (False, True)]
    out["grid"] = repr(sp.occupancy_grid(window=(-14, -14, 14, 14))[0].tolist())
    return json.dumps(out, sort_keys=True, default=repr)


def budgeted(path=None, **kw) -> Memory:
    return _budgeted(path, sizes=SIZES, **kw)


SMALL = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                          HealthCheck.function_scoped_fixture])


@pytest.fixture(autouse=True)
def tiny_tiles_and_sets():
    with mock.patch.object(spatial, "_TILE", 1), mock.patch.object(longterm, "working_set_sizes", small_sets):
        yield


@SMALL
@given(world_stream())
def test_budgeted_spatial_memory_answers_every_query_as_an_unbudgeted_one(ops):
    small, plain = fed_pair(ops, budgeted(), Memory())
    # asking twice: again after the queries paged labels and tiles in and out
    same_in_every_world(small, plain, answers, twice=True)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(world_stream(), st.integers(0, 50))
def test_reopen_with_and_without_snapshot_answers_as_before(tmp_path_factory, ops, cut):
    path = tmp_path_factory.mktemp("rs") / "m.db"
    mem = budgeted(path)
    feed(mem, ops[:cut])
    mem.checkpoint()
    feed(mem, ops[cut:])
    before = answers(mem)  # of the world it is in (the default world cannot be re-entered)
    mem.close()
    reopens_answer_as_before(path, budgeted, {answers: before}, readonly=False)


def walk(n: int) -> list[tuple[str, Percept]]:
    """A corridor walked out and back: labels and tiles left behind go cold, and come back."""
    ops = []
    for i in range(n):
        x = float(i if i < n // 2 else n - i)
        ops.append(("p", Percept(t=float(i), pose=Pose(x, 0.0), view=View.disc((x, 0.0), 2.0),
                                 free=np.array([(x, 1.0), (x, -1.0)]), blocked=np.array([(x, 2.0)]),
                                 sightings=(Sighting(f"thing{int(x) // 3}", (x, 1.0)),
                                            Sighting(f"door{int(x) // 10}", (x, -1.0), instance=f"d{int(x) // 10}")))))
    return ops


def test_cold_labels_and_tiles_really_leave_ram_and_a_revisit_brings_them_back():
    ops = walk(120)
    small, plain = budgeted(), Memory()
    feed(small, ops[:60])
    feed(plain, ops[:60])
    sp = small.spatial
    lp, tl = sp._b.lp, sp._tiles  # noqa: SLF001 - where the rows are is the point of this test
    # RAM holds the labels the last percept saw (they stay whole) and at most the row budget more
    hot = len(plain.spatial.history("door5")) + len(plain.spatial.history("thing19"))
    assert lp.n_rows > 100 and len(sp._b.lab) <= hot + SIZES["beliefs"]  # noqa: SLF001
    assert tl.n_occ > 100 and len(sp._occ) + len(sp._walked) <= 2 * SIZES["cells"] + 40  # noqa: SLF001
    thing0 = sp._b.paged_label("thing0")  # noqa: SLF001 - its name moved out with its rows (lt_slabels)
    assert thing0 is not None and thing0 in lp.paged and "thing0" not in sp._b.lab_id  # noqa: SLF001
    lt = sp.pages.store
    assert lt.execute("SELECT COUNT(*) FROM lt_beliefs").fetchone()[0] > 0
    assert lt.execute("SELECT COUNT(*) FROM lt_tiles").fetchone()[0] > 0
    feed(small, ops[60:])  # back along the corridor: the first labels and tiles come back
    feed(plain, ops[60:])
    assert thing0 not in lp.paged and (0, 0) not in tl.paged
    assert sp.stats() == plain.spatial.stats()
    for lbl in plain.spatial.labels():
        assert sp.locate(lbl) == plain.spatial.locate(lbl)
        assert sp.history(lbl) == plain.spatial.history(lbl)
    assert sp.path((0.0, 0.0), (55.0, 0.0)) == plain.spatial.path((0.0, 0.0), (55.0, 0.0))
    assert sp.occupancy((30.0, 2.0)) == "blocked"


def test_a_crafted_page_cannot_run_code():
    """Pages are read by an unpickler that resolves no class or function: a crafted lt_beliefs or
    lt_tiles row is refused, never executed."""
    with pytest.raises(pickle.UnpicklingError, match="damaged or crafted"):
        spatial._load_page(pickle.dumps(SimpleNamespace(a=1)))  # noqa: SLF001
    with pytest.raises(pickle.UnpicklingError):
        spatial._load_page(pickle.dumps(os.getcwd))  # noqa: SLF001
    assert spatial._load_page(pickle.dumps({"a": [(1, 2)], "b": b"x"}, protocol=5)) == {"a": [(1, 2)], "b": b"x"}


def test_bad_input_under_a_budget_changes_nothing():
    mem = budgeted()
    feed(mem, walk(40))
    before = answers(mem)
    with pytest.raises(ValueError):
        mem.observe(Percept(t=100.0, sightings=(Sighting("x", (float("nan"), 0.0)),)))
    with pytest.raises(ValueError):
        mem.spatial.follow("thing0", (0.0, 0.0), 5.0, reach=-1.0)
    with pytest.raises(ValueError):
        mem.spatial.nearest("thing0", (0.0, float("inf")))
    assert answers(mem) == before


CRASH = textwrap.dedent("""
    import os, sys
    import numpy as np
    from unittest import mock
    from embodied_mem import Memory, MemoryConfig, Percept, Pose, Sighting, View
    from embodied_mem.memory import longterm, spatial
    sizes = {"temporal": 4, "poses": 3, "sightings": 4, "beliefs": 3, "cells": 6}
    with mock.patch.object(spatial, "_TILE", 1), mock.patch.object(longterm, "working_set_sizes", lambda mb: sizes):
        mem = Memory.open(sys.argv[1], config=MemoryConfig.from_dict({"ram_budget_mb": 1}))
        for i in range(120):
            if i == 50:
                mem.checkpoint()
            x = float(i if i < 60 else 120 - i)
            mem.observe(Percept(t=float(i), pose=Pose(x, 0.0), view=View.disc((x, 0.0), 2.0),
                                free=np.array([(x, 1.0)]), sightings=(Sighting(f"thing{int(x) // 3}", (x, 1.0)),)))
    os._exit(0)  # a crash: rows moved out after the checkpoint stay in the tables
""")


def test_crash_after_checkpoint_reopens_to_the_same_answers(tmp_path):
    path = tmp_path / "m.db"
    subprocess.run([sys.executable, "-c", CRASH, str(path)], check=True, timeout=120)
    plain = Memory()
    for i in range(120):
        x = float(i if i < 60 else 120 - i)
        plain.observe(Percept(t=float(i), pose=Pose(x, 0.0), view=View.disc((x, 0.0), 2.0),
                              free=np.array([(x, 1.0)]), sightings=(Sighting(f"thing{int(x) // 3}", (x, 1.0)),)))
    mem = budgeted(path)
    assert mem.snapshot_status == "ok" and mem.replayed_entries == 70
    assert_same(answers(mem), answers(plain))
    mem.close()


def test_an_instance_seen_under_two_labels_in_one_percept():
    """The second label matches the instance's belief of the first label (no rows of its own): the
    trim after the percept must cope, and answers stay the unbudgeted ones."""
    ops = [("p", Percept(t=float(i), pose=Pose(float(i), 0.0), view=View.disc((float(i), 0.0), 1.0),
                         sightings=(Sighting(f"l{i % 4}", (float(i), 0.5)), Sighting("cup", (3.5, -9.0), instance="i1"),
                                    Sighting("mug", (3.5, -9.0), instance="i1"))))
           for i in range(30)]
    small, plain = fed_pair(ops, budgeted(), Memory())
    assert "mug" not in small.spatial.labels() and small.spatial._b.lp.n_rows > 0  # noqa: SLF001
    assert_same(answers(small), answers(plain))
