"""Spatial memory's compact per-label columns (``count()``'s first-belief times and label-level
objects' first positions, ``_LabelSeqs``): the same items (times in the same order) as the list of one
array per label they replaced, through adds (in time order and late), page out / in and snapshots;
and ``count()`` answers alike with and without a RAM budget and across reopens, for labels small
enough to be chained and large enough to hold an array of their own."""

from __future__ import annotations

import json
import pickle
from array import array
from bisect import bisect_right
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embodied_mem import Memory, Percept, Pose, Sighting, View
from embodied_mem.memory import longterm, spatial

from .conftest import budgeted as _budgeted
from .conftest import fed_pair, feed, reopens_answer_as_before, same_in_every_world

SIZES = {"temporal": 4, "poses": 3, "sightings": 4, "beliefs": 3, "cells": 6}
small = st.integers(-6, 6).map(float)
ops_st = st.lists(st.tuples(st.sampled_from(["add", "add", "add", "pop", "put"]), st.integers(0, 4),
                            st.tuples(small, small, small)), max_size=80)


def _model_apply(model: dict[int, array], op: str, li: int, item: tuple, width: int) -> array | None:
    """What a list of arrays per label did (the reference)."""
    if op == "add":
        a = model.setdefault(li, array("d"))
        if width == 1 and a and item[0] < a[-1]:
            a.insert(bisect_right(a, item[0]), item[0])
        else:
            a.extend(item[:width])
    elif op == "pop":
        return model.pop(li, None) or None
    return None


@settings(max_examples=60, deadline=None)
@given(ops_st, st.sampled_from([1, 3]), st.sampled_from([1, 2, 32]))
def test_label_sequences_hold_what_one_array_per_label_held(ops, width, small_max):
    with mock.patch.object(spatial, "_SEQ_SMALL", small_max):
        seqs = spatial._LabelSeqs(width, ordered=width == 1)  # noqa: SLF001 - the storage class is the point of this test
        model: dict[int, array] = {}
        popped: dict[int, array] = {}
        for op, li, item in ops:
            if op == "put":
                if li in popped and li not in model:  # page in what was paged out
                    seqs.put(li, popped[li])
                    model[li] = popped.pop(li)
                continue
            if op == "pop":
                got, want = seqs.pop(li), _model_apply(model, op, li, item, width)
                assert (got is None) == (want is None)
                if got is not None:
                    assert sorted(got) == sorted(want)  # (times: equal; positions: the same, any order)
                    popped[li] = got
                continue
            if li in popped:
                continue
            seqs.add(li, item[:width])
            _model_apply(model, op, li, item, width)
            for k in range(6):
                want = model.get(k) or None
                got = seqs.get(k)
                if width == 1:  # times: in order
                    assert got == want
                else:  # positions: the same ones, in any order
                    assert (got is None) == (want is None)
                    if got is not None:
                        assert sorted(zip(*[iter(got)] * 3)) == sorted(zip(*[iter(want)] * 3))
                if width == 1:
                    n = 0 if want is None else len(want)
                    assert seqs.size(k) == n
                    for at in (-7.0, -1.0, 0.0, 2.5, 7.0):
                        assert seqs.size(k, at) == (0 if want is None else bisect_right(want, at))
                else:
                    for q in ((0.0, 0.0, 0.0), (3.0, -2.0, 1.0)):
                        near = want is not None and any(
                            (want[i] - q[0]) ** 2 + (want[i + 1] - q[1]) ** 2 + (want[i + 2] - q[2]) ** 2 <= 4.0
                            for i in range(0, len(want), 3))
                        assert seqs.any_near(k, q, 4.0) == near
        again = pickle.loads(pickle.dumps(seqs))
        rebuilt = spatial._LabelSeqs.of(width, list(seqs), ordered=width == 1)  # noqa: SLF001 - as a snapshot rebuilds it
        assert list(again) == list(seqs) == list(rebuilt)
        assert seqs.nbytes() > 0


def crowd(n: int, late_every: int = 7) -> list:
    """Many objects of one label along a corridor (more than a chain holds), some reported late by a
    second source (their first-belief times arrive out of order), with a few other labels."""
    ops = []
    for i in range(n):
        x = 3.0 * i
        src, t = ("late", float(i) - 5.5) if i % late_every == 3 else ("cam", float(i))
        sights = (Sighting("rock", (x, 1.0)), Sighting(f"tree{i // 20}", (x, -1.0)),
                  Sighting("key", (x, 0.5), instance=f"k{i % 5}"))
        ops.append(("p", Percept(t=t, pose=Pose(x, 0.0), view=View.disc((x, 0.0), 2.0), source=src, sightings=sights)))
    return ops


def counts(mem: Memory) -> str:
    sp = mem.spatial
    labels = ["rock", "key", "none"] + [f"tree{j}" for j in range(4)]
    return json.dumps({lbl: [sp.count(lbl)] + [sp.count(lbl, at=a) for a in (-1.0, 0.0, 3.0, 17.5, 40.0, 1e9)]
                       for lbl in labels} | {"label_counts": sorted(sp.label_counts().items())}, sort_keys=True)


def budgeted(path=None, **kw) -> Memory:
    return _budgeted(path, sizes=SIZES, **kw)


def _sets(_mb: float) -> dict[str, int]:
    return dict(SIZES)


def test_counts_with_a_budget_equal_counts_without_one():
    with mock.patch.object(spatial, "_SEQ_SMALL", 4), mock.patch.object(longterm, "working_set_sizes", _sets):
        ops = crowd(70)
        small_mem, plain = fed_pair(ops, budgeted(), Memory())
        assert plain.spatial.count("rock") == 70  # every one a new object, late ones included
        same_in_every_world(small_mem, plain, counts, twice=True)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 60), st.sampled_from([4, 32]))
def test_counts_survive_reopen_with_and_without_snapshot(tmp_path_factory, cut, small_max):
    with mock.patch.object(spatial, "_SEQ_SMALL", small_max), mock.patch.object(longterm, "working_set_sizes", _sets):
        ops = crowd(60)
        plain = Memory()
        feed(plain, ops)
        want = counts(plain)
        plain.close()
        for open_mem in (budgeted, lambda p, **kw: Memory.open(p, **kw)):
            path = tmp_path_factory.mktemp("c") / "m.db"
            mem = open_mem(path)
            feed(mem, ops[:cut])
            mem.checkpoint()
            feed(mem, ops[cut:])
            assert counts(mem) == want
            mem.close()
            reopens_answer_as_before(path, open_mem, {counts: want}, readonly=False)


def many_labels(n: int, t0: float = 0.0) -> list:
    """A corridor walked out and back with a new label every few steps: the labels left behind go
    cold (rows and names move out) and the way back sees them again (names and rows come back)."""
    ops = []
    for i in range(n):
        x = float(i if i < n // 2 else n - i)
        ops.append(("p", Percept(t=t0 + i, pose=Pose(x, 0.0), view=View.disc((x, 0.0), 2.0),
                                 sightings=(Sighting(f"thing{int(x) // 2}", (x, 1.0)),
                                            Sighting("door", (x, -1.0), instance=f"d{int(x) // 10}")))))
    return ops


def label_answers(mem: Memory) -> str:
    sp = mem.spatial
    out = {"labels": sp.labels(), "stats": sp.stats()}
    for lbl in sp.labels()[::3] + ["nothing"]:
        out[lbl] = [repr(sp.locate(lbl)), repr(sp.history(lbl)), sp.count(lbl), repr(sp.nearest(lbl, (3.0, 0.0)))]
    out["label_counts"] = sorted(sp.label_counts().items())
    out["region_counts"] = sorted(sp.region_counts().items())
    return json.dumps(out, sort_keys=True)


def test_cold_label_names_leave_ram_and_answers_do_not_change(tmp_path):
    with mock.patch.object(longterm, "working_set_sizes", _sets):
        ops = many_labels(120)
        mem = budgeted(tmp_path / "m.db")
        feed(mem, ops[:60])  # the way out: the first labels are cold by now
        B = mem.spatial._b  # noqa: SLF001 - which names are in RAM is the point of this test
        assert B.lp.n_names > 10 and sum(name is None for name in B.labels) == B.lp.n_names
        assert "thing0" not in B.lab_id
        est = mem.spatial.ram_bytes()
        plain = Memory()
        feed(plain, ops[:60])
        assert label_answers(mem) == label_answers(plain)  # names read from the table (labels() leaves them out)
        assert mem.spatial.ram_bytes() > est or B.lp.n_names < 10  # label_counts() paged every label in
        feed(mem, ops[60:])
        feed(plain, ops[60:])
        want = label_answers(plain)
        assert label_answers(mem) == want
        mem.checkpoint()
        feed(mem, many_labels(30, 200.0))
        feed(plain, many_labels(30, 200.0))
        want = label_answers(plain)
        assert label_answers(mem) == want
        mem.close()
        plain.close()
        reopens_answer_as_before(tmp_path / "m.db", budgeted, {label_answers: want}, readonly=False)


def test_the_estimate_tracks_traced_allocations_with_names_paged_out(tmp_path):
    """Under a budget that pages cold labels (and their names) out, spatial memory's ``ram_bytes()``
    stays within 25 % of what tracemalloc sees spatial.py allocate."""
    import tracemalloc

    from embodied_mem.memory.config import MemoryConfig

    from .test_ram_estimates import traced_by_module, wander

    tracemalloc.start()
    try:
        mem = Memory.open(tmp_path / "m.db", config=MemoryConfig.from_dict({"ram_budget_mb": 2}), durability="batch")
        wander(mem, 1500)
        traced, est = traced_by_module()["spatial"], mem.ram_bytes()["spatial"]
        n_names = mem.spatial._b.lp.n_names  # noqa: SLF001
        mem.close()
    finally:
        tracemalloc.stop()
    assert n_names > 0 and traced > 100_000
    assert 0.75 <= est / traced <= 1.25, (est, traced)


# ---------------------------------------------------------------- the frontier kept as its complement
def _reference_frontier(sp) -> list:
    """Every known free cell with an unknown 4-neighbour, from the occupancy cells (the definition)."""
    cells, states = sp.occupancy_cells()
    known = set(map(tuple, cells.tolist()))
    free = [tuple(c) for c, s in zip(cells.tolist(), states.tolist()) if s == 1]
    fr = [c for c in free if any(n not in known for n in ((c[0] + 1, c[1]), (c[0] - 1, c[1]),
                                                         (c[0], c[1] + 1), (c[0], c[1] - 1)))]
    return [sp.cell_center(c) for c in sorted(fr)]


def _occupancy_walk(seed: int, n: int, far: float = 0.0, cs: float = 1.0) -> list:
    """Poses, free and blocked cells (cells turn from free to blocked and back), ``far`` off the
    origin, on cells of ``cs`` metres."""
    import random

    import numpy as np

    rng = random.Random(seed)
    out = []
    for i in range(n):
        x, y = far + cs * (i * 0.7 + rng.uniform(-2, 2)), cs * rng.uniform(-3, 3)
        free = np.array([(x + cs * dx, y + cs * dy) for dx in (-2.0, -1.0, 0.0, 1.0) for dy in (-1.0, 0.0, 1.0)
                         if rng.random() < 0.7])
        blocked = (np.array([(x + cs * rng.randrange(-3, 4), y + cs * rng.choice([-2.0, 2.0]))])
                   if rng.random() < 0.4 else None)
        out.append(Percept(t=float(i), pose=Pose(x, y) if rng.random() < 0.8 else None,
                           free=free if len(free) else None, blocked=blocked))
    return out


def test_the_frontier_kept_as_inner_cells_is_the_definition_through_snapshots_and_old_states():
    from embodied_mem.graph import MemoryGraph

    for far, cs in ((0.0, 1.0), (9.9e8, 0.25)):  # int cell keys (the fast path); tuple keys past _CK_LIM
        sp = spatial.SpatialMemory(MemoryGraph(), spatial.SpatialConfig(cell_size=cs))
        for k, p in enumerate(_occupancy_walk(3, 120, far, cs)):
            sp.observe(p, k, p.t)
            if k % 10 == 0:
                assert sp.frontiers() == _reference_frontier(sp)
        want = sp.frontiers()
        assert want == _reference_frontier(sp) and len(want) > 20
        assert sp._inner and len(sp._inner) < len(sp._occ)  # noqa: SLF001 - the stored complement
        assert all(isinstance(k, tuple) == (far > 0) for k in sp._occ)  # noqa: SLF001
        near = sp.frontiers(near=(far + 30.0 * cs, 0.0), limit=9)
        st = pickle.loads(pickle.dumps(sp.__getstate__(), protocol=5))
        again = spatial.SpatialMemory.__new__(spatial.SpatialMemory)
        again.__setstate__(st)
        assert again.frontiers() == want and again.frontiers(near=(far + 30.0 * cs, 0.0), limit=9) == near
        # a state saved before inner cells lists the frontier instead: it opens to the same answers
        old = pickle.loads(pickle.dumps(sp.__getstate__(), protocol=5))
        packed = old["_packed"]
        inner = packed.pop("_inner")
        fr_keys = [spatial.key_cell(c) for c in sp._frontier_keys()]  # noqa: SLF001
        if inner[0]:
            packed["_frontier"] = (True, spatial._cells(fr_keys))  # noqa: SLF001
        else:
            packed["_frontier"] = (False, set(fr_keys))
        again = spatial.SpatialMemory.__new__(spatial.SpatialMemory)
        again.__setstate__(old)
        assert again._inner == sp._inner  # noqa: SLF001
        assert again.frontiers() == want


# ---------------------------------------------------------------- trajectory columns: one value while constant
col_ops_st = st.lists(st.tuples(st.sampled_from(["append", "append", "append", "insert", "del", "get", "slice"]),
                                st.integers(-3, 40), st.sampled_from([0.0, -0.0, 1.5, 2.0, float("nan")])),
                      max_size=60)


def _bits_of(xs) -> list:
    import struct

    return [struct.pack("<d", x) for x in xs]


@settings(max_examples=150, deadline=None)
@given(col_ops_st, st.sampled_from([0.0, -0.0, 1.5]))
def test_const_column_holds_what_an_array_holds(ops, first):
    col, ref = spatial._ConstCol(), array("d")  # noqa: SLF001 - the storage class is the point of this test
    col.append(first)
    ref.append(first)
    for op, i, x in ops:
        if op == "append":
            col.append(x)
            ref.append(x)
        elif op == "insert":
            col.insert(i, x)
            ref.insert(i, x)
        elif op == "del":
            del col[:i]
            del ref[:i]
        elif op == "get":
            if -len(ref) <= i < len(ref):
                assert _bits_of([col[i]]) == _bits_of([ref[i]])
            else:
                try:
                    col[i]
                except IndexError:
                    pass
                else:
                    raise AssertionError("no IndexError")
        else:
            assert _bits_of(col[i:]) == _bits_of(ref[i:]) and _bits_of(col[:i]) == _bits_of(ref[:i])
        assert len(col) == len(ref) and _bits_of(col[:]) == _bits_of(ref)
        assert spatial._abytes(col) <= spatial._abytes(ref)  # noqa: SLF001


def test_constant_z_and_yaw_take_one_value_and_an_old_state_converts():
    from embodied_mem.graph import MemoryGraph

    sp = spatial.SpatialMemory(MemoryGraph())
    for i in range(50):
        sp.observe(Percept(t=float(i), pose=Pose(i * 0.5, 0.0, 0.0, -0.0)), i, float(i))
    assert sp._traj_z.a is None and sp._traj_yaw.a is None  # noqa: SLF001
    sp.observe(Percept(t=50.0, pose=Pose(25.0, 0.0, 0.0, 0.0)), 50, 50.0)  # 0.0 is not -0.0: the yaw varies now
    assert sp._traj_z.a is None and sp._traj_yaw.a is not None  # noqa: SLF001
    want = repr(sp.trajectory()) + repr(sp.pose()) + repr(sp.trajectory(3, 17.5))
    st_ = sp.__getstate__()
    for name in ("_traj_z", "_traj_yaw"):  # a state from before the constant columns held arrays
        st_[name] = array("d", st_[name][:])
    again = spatial.SpatialMemory.__new__(spatial.SpatialMemory)
    again.__setstate__(pickle.loads(pickle.dumps(st_, protocol=5)))
    assert type(again._traj_z) is spatial._ConstCol and again._traj_z.a is None  # noqa: SLF001
    assert repr(again.trajectory()) + repr(again.pose()) + repr(again.trajectory(3, 17.5)) == want
