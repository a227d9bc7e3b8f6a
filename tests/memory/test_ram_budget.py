"""A RAM budget (``memory.ram_budget_mb``) changes where memory lives, never what it answers.

The heart of it: a budgeted memory with tiny working sets (so nearly everything is paged out to the
long-term tables) and an unbudgeted one, fed the same random stream — two sources with their own
clocks (so percepts arrive late, older than what is in RAM), equal times, events, z, episodes,
worlds left and re-entered — answer every query identically: locate/last_seen/seen_times/count/
longest_gap/between at many times, ``at=`` (as of) answers and ``graph.as_of``, trajectory and
walks, recall, stats. Also across a snapshot reopen, a reopen after a crash that left table rows
written after the last snapshot, and a read-only reopen.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embodied_mem import Memory, MemoryConfig, Percept, Pose, Sighting, View
from embodied_mem.memory import longterm

from .conftest import (
    TINY_SIZES,
    assert_same,
    budgeted,
    fed_pair,
    feed,
    reopens_answer_as_before,
    same_in_every_world,
    sizes_of,
)

__all__ = ["LABELS", "PROBES", "answers", "assert_same", "budgeted", "feed", "stream", "tiny"]

LABELS = ["key", "apple", "tree", "cup"]
PROBES = [-1.0, 0.0, 0.5, 1.0, 2.0, 3.5, 5.0, 8.0, 13.0, 21.0, 34.0, 55.0, 89.0, 1e9]
coord = st.integers(0, 12).map(lambda v: v / 2)
tiny = sizes_of(TINY_SIZES)  # working sets of a few items: almost everything is paged out


@st.composite
def stream(draw):
    """Operations: ("p", Percept), ("episode", None), ("world", id). Two sources, each with its own
    non-decreasing clock, interleaved at random: the other source's percepts often arrive late."""
    clocks = {"cam": 0.0, "lidar": 0.0}
    out = []
    for _ in range(draw(st.integers(1, 60))):
        op = draw(st.integers(0, 19))
        if op == 0:
            out.append(("episode", None))
            continue
        if op == 1:
            out.append(("world", draw(st.sampled_from(["w1", "w2"]))))
            continue
        src = draw(st.sampled_from(sorted(clocks)))
        clocks[src] += draw(st.sampled_from([0.0, 0.5, 1.0, 2.0, 5.0]))
        pose = Pose(draw(coord), draw(coord), draw(st.sampled_from([0.0, 0.0, 1.5, -0.0])),
                    draw(st.sampled_from([0.0, 1.0]))) if draw(st.booleans()) else None
        view = View.disc((draw(coord), draw(coord)), draw(st.sampled_from([0.5, 2.0]))) if draw(st.booleans()) else None
        sights = tuple(Sighting(lbl, (draw(coord), draw(coord), draw(st.sampled_from([0.0, 0.0, 2.5]))),
                                instance=draw(st.sampled_from([None, None, f"{lbl}-1"])))
                       for lbl in draw(st.lists(st.sampled_from(LABELS), max_size=4)))
        out.append(("p", Percept(t=clocks[src], pose=pose, view=view, source=src, sightings=sights,
                                 events=tuple(draw(st.lists(st.sampled_from(["door opened", "ate apple"]),
                                                            max_size=1))),
                                 region=draw(st.sampled_from([None, "kitchen", "hall"])))))
    return out


def _edges(g) -> list:
    """Every edge, without the wall-clock ``recorded_at`` (two live memories record at other times)."""
    return sorted(repr((a, b, k, sorted((x, y) for x, y in d.items() if x != "recorded_at")))
                  for a, b, k, d in g.nx.edges(keys=True, data=True))


def answers(mem: Memory, wall_clock: bool = True) -> str:
    """Every public answer the paged modules give, over all labels and many times and ranges."""
    sp, tm = mem.spatial, mem.temporal
    out: dict = {"labels": tm.labels(), "span": tm.span(), "len": len(tm), "stats": mem.stats(),
                 "order": tm.order(LABELS), "world": mem.world}
    for lbl in LABELS:
        d = out[lbl] = {}
        d["first"] = [tm.first_seen(lbl, at=a) for a in [None, *PROBES]]
        d["last"] = [tm.last_seen(lbl, at=a) for a in [None, *PROBES]]
        d["seen"] = [tm.seen_times(lbl, a, b) for a in [None, *PROBES[::3]] for b in [None, *PROBES[1::3]]]
        d["count"] = [tm.count(lbl, a, b) for a in [None, *PROBES[::2]] for b in [None, *PROBES[1::2]]]
        d["gap"] = [tm.longest_gap(lbl, a, b) for a in [None, *PROBES[::2]] for b in [None, *PROBES[1::2]]
                    if a is None or b is None or b >= a]
        d["locate"] = [[repr(x) for x in sp.locate(lbl, at=a)] for a in [None, *PROBES]]
        d["history"] = [repr(x) for x in sp.history(lbl)]
        d["count_obj"] = [sp.count(lbl, at=a) for a in [None, *PROBES]]
        d["nearest"] = [repr(sp.nearest(lbl, (1.0, 1.0), at=a)) for a in [None, *PROBES[::2]]]
        d["follow"] = [repr(sp.follow(lbl, q, a)) for q in [(0.0, 0.0), (2.0, 1.5), (4.0, 4.0)] for a in PROBES[::2]]
    out["between"] = [[repr(e) for e in tm.between(a, b, kind=k, limit=n)]
                      for a in PROBES[::2] for b in PROBES[1::3] for k in (None, "sighting", "event")
                      for n in (None, 0, 3)]
    out["traj"] = [repr(sp.trajectory(a, b)) for a in [None, *PROBES[::3]] for b in [None, *PROBES[1::3]]]
    out["walks"] = repr(sp.walks())
    out["pose"] = repr(sp.pose())
    out["places"] = [repr(p) for p in sp.places()]
    cells, states = sp.occupancy_cells()
    out["occupancy"] = [cells.tolist(), states.tolist(), sp.n_known_cells, sp.frontiers(),
                        sp.frontiers(near=(1.0, 1.0), limit=3),
                        [sp.occupancy((x, y)) for x in (-3.0, 0.0, 2.0, 5.0, 9.0) for y in (-1.0, 0.0, 3.0, 6.0)],
                        sp.path((0.0, 0.0), (5.0, 5.0)), sp.path((1.0, 1.0), (4.0, 0.0), adjacent=True)]
    out["recall"] = [repr(c) for c in mem.episodic.recall("key apple door kitchen", k=5, strengthen=False)]
    if wall_clock:
        out["graph"] = _edges(mem.graph)
        out["as_of"] = [(sorted(mem.graph.as_of(a).nx.nodes), _edges(mem.graph.as_of(a))) for a in PROBES[::2]]
    return json.dumps(out, sort_keys=True, default=repr)


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(stream())
def test_budgeted_and_unbudgeted_memories_answer_identically(ops):
    plain, small = Memory(), budgeted()
    with mock.patch.object(longterm, "working_set_sizes", tiny):  # worlds entered later get tiny sets too
        feed(plain, ops)
        feed(small, ops)
    # every world: leaving and re-entering brings its (paged) memories back
    same_in_every_world(small, plain, answers)


def test_paging_really_happens_and_ram_holds_the_working_set():
    ops = [("p", Percept(t=float(i), pose=Pose(i, 0), sightings=(Sighting("cup", (i, 1)),), events=("tick",)))
           for i in range(200)]
    small, plain = fed_pair(ops, budgeted(), Memory())
    assert len(small.temporal) == 400 and small.temporal.n_in_ram <= 4
    assert small.spatial.stats()["poses"] == 200
    assert small.temporal.seen_times("cup") == [float(i) for i in range(200)]
    assert small.temporal.between(10, 12) == plain.temporal.between(10, 12)
    assert small.spatial.trajectory(0, 2) == [(float(i), Pose(i, 0)) for i in range(3)]
    rows = small.temporal.pages.store.execute("SELECT COUNT(*) FROM lt_events").fetchone()[0]
    assert rows == 400 - small.temporal.n_in_ram


def test_old_sightings_of_a_belief_are_paged_out_and_read_back_exactly():
    """A thing seen at one place for a long time: all but its latest sightings leave RAM; asked
    as of an old time (its confidence then), a late sighting older than RAM, and where it moved."""
    ops = [("p", Percept(t=float(i), sightings=(Sighting("cup", (1.0, 1.0), confidence=0.5 + (i % 5) / 10),
                                                Sighting("key", (float(i // 50), -0.0, 0.0), instance="k"))))
           for i in range(200)]
    ops.append(("p", Percept(t=3.5, source="late", sightings=(Sighting("cup", (1.0, 1.0), confidence=0.99),
                                                                Sighting("key", (9.0, 9.0), instance="k")))))
    small, plain = fed_pair(ops, budgeted(), Memory())
    lt = small.spatial.pages.store
    paged = lt.execute("SELECT COUNT(*) FROM lt_sightings").fetchone()[0]
    assert paged > 300 and len(small.spatial._b.hv) < 50  # noqa: SLF001 - RAM holds the working set
    for at in (None, 0.0, 3.0, 3.5, 4.0, 60.0, 120.0, 199.0):
        assert small.spatial.locate("cup", at=at) == plain.spatial.locate("cup", at=at)
        assert small.spatial.locate("key", at=at) == plain.spatial.locate("key", at=at)
    assert small.spatial.locate("cup", at=3.5)[0].confidence == 0.99
    assert small.spatial.history("key") == plain.spatial.history("key")
    assert small.spatial.follow("key", (0.0, 0.0), 10.0) == plain.spatial.follow("key", (0.0, 0.0), 10.0)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream(), st.integers(0, 60))
def test_reopen_from_snapshot_and_tail_answers_as_before(tmp_path_factory, ops, cut):
    path = tmp_path_factory.mktemp("ram") / "m.db"
    mem = budgeted(path)
    with mock.patch.object(longterm, "working_set_sizes", tiny):
        feed(mem, ops[:cut])
        mem.checkpoint()
        feed(mem, ops[cut:])
    before = answers(mem)
    mem.close()  # writes a snapshot
    # from the snapshot; a full replay (no snapshot) rebuilds the same tables; read-only: pages go to a
    # scratch file, same answers
    reopens_answer_as_before(path, budgeted, {answers: before}, replayed=True)


CRASH = textwrap.dedent("""
    import os, sys
    from unittest import mock
    from embodied_mem import Memory, MemoryConfig, Percept, Pose, Sighting
    from embodied_mem.memory import longterm
    sizes = {"temporal": 4, "poses": 3, "sightings": 4, "beliefs": 2, "cells": 3, "chunk_items": 3}
    with mock.patch.object(longterm, "working_set_sizes", lambda mb: sizes):
        mem = Memory.open(sys.argv[1], config=MemoryConfig.from_dict({"ram_budget_mb": 1}))
        for i in range(int(sys.argv[2])):
            if i == 40:
                mem.checkpoint()
            mem.observe(Percept(t=float(i), pose=Pose(i % 7, i % 5), sightings=(Sighting("cup", (i % 3, 1)),)))
    os._exit(0)  # a crash: no close, no snapshot after the checkpoint; table rows written after it stay
""")


def test_crash_after_checkpoint_leaves_no_stray_rows(tmp_path):
    path = tmp_path / "m.db"
    subprocess.run([sys.executable, "-c", CRASH, str(path), "100"], check=True, timeout=120)
    plain = Memory()
    for i in range(100):
        plain.observe(Percept(t=float(i), pose=Pose(i % 7, i % 5), sightings=(Sighting("cup", (i % 3, 1)),)))
    mem = budgeted(path)
    assert mem.snapshot_status == "ok" and mem.replayed_entries == 60  # the tail after the checkpoint
    assert_same(answers(mem, wall_clock=False), answers(plain, wall_clock=False))
    # no duplicated rows: each paged entry is in the table once
    n = mem.temporal.pages.store.execute("SELECT COUNT(*) FROM lt_events").fetchone()[0]
    assert n == len(mem.temporal) - mem.temporal.n_in_ram
    mem.close()


def test_snapshot_holds_marks_not_paged_rows(tmp_path):
    ops = [("p", Percept(t=float(i), sightings=(Sighting("cup", (i, 1)),))) for i in range(3000)]
    sizes = {}
    for budget in (None, 1):
        path = tmp_path / f"m{budget}.db"
        mem = budgeted(path) if budget else Memory.open(path)
        with mock.patch.object(longterm, "working_set_sizes", tiny):
            feed(mem, ops)
        mem.close()
        sizes[budget] = os.path.getsize(str(path) + ".snapshot")
    assert sizes[1] < sizes[None] - 3000 * 30  # 3000 entries' columns are not in the snapshot


@pytest.mark.parametrize("bad", [0, -5, math.nan, "big", True])
def test_bad_budget_is_refused_naming_the_field(bad):
    with pytest.raises(ValueError, match="ram_budget_mb"):
        MemoryConfig.from_dict({"ram_budget_mb": bad})


def test_working_set_sizes_grow_with_the_budget():
    a, b = longterm.working_set_sizes(16), longterm.working_set_sizes(256)
    assert b["temporal"] == 16 * a["temporal"] and b["poses"] > a["poses"] >= 256


def test_the_budget_is_a_hydra_setting_of_every_command():
    from hydra import compose, initialize_config_module

    from embodied_mem.config_schema import check_overrides, register_configs

    check_overrides(["memory.ram_budget_mb=64"])
    register_configs()
    with initialize_config_module("embodied_mem.configs", version_base="1.3"):
        cfg = compose("run", overrides=["memory.ram_budget_mb=64"])
    assert MemoryConfig.from_dict(cfg.memory).ram_budget_mb == 64


def test_readers_in_other_threads_while_paging(tmp_path):
    """retrieve() (its modules run concurrently, recall journals on the same connection) and paged
    queries from reader threads while the writer pages out: no error, and the same final answers."""
    import random
    import threading

    mem, plain = budgeted(tmp_path / "m.db"), Memory()
    rng = random.Random(3)
    ops = [("p", Percept(t=float(i), pose=Pose(i % 9, i % 4), events=("tick",) if i % 5 == 0 else (),
                         sightings=tuple(Sighting(rng.choice(LABELS), (rng.randrange(6), rng.randrange(6)))
                                         for _ in range(3)))) for i in range(300)]
    errors, stop = [], threading.Event()

    def read() -> None:
        r = random.Random()
        while not stop.is_set():
            try:
                lbl = r.choice(LABELS)
                mem.retrieve(f"where is the {lbl}?", at=r.uniform(0, 300))
                mem.retrieve(f"where is the {lbl}?")
                mem.temporal.seen_times(lbl, 0, 100)
                mem.spatial.trajectory(0, 50)
            except Exception as exc:  # noqa: BLE001 - any error in a reader fails the test
                errors.append(exc)
                return

    readers = [threading.Thread(target=read) for _ in range(2)]
    for t in readers:
        t.start()
    try:
        feed(mem, ops)
    finally:
        stop.set()
        for t in readers:
            t.join()
    feed(plain, ops)
    assert not errors, errors
    assert mem.temporal.n_in_ram <= 4 < len(mem.temporal)
    a, b = json.loads(answers(mem, wall_clock=False)), json.loads(answers(plain, wall_clock=False))
    a.pop("recall"), b.pop("recall")  # readers' recalls strengthened chunks in one memory only
    assert a == b
    mem.close()
