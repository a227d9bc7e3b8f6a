"""Temporal memory's positions (rows of a positions table, cached while recent; plain x/y columns
once positions rarely repeat) and events (~slot in the label column) against a plain list of every
entry: objects seen again and again at the same place, 0.0 beside -0.0, fresh (noisy) positions,
a cache emptied often, late percepts, the switch to plain columns mid-stream, paging under a tiny
budget (the table compacted), ``observe_many``, and a snapshot reopened and continued. Positions are
compared byte for byte (``struct``), so -0.0 and 0.0 differ."""

from __future__ import annotations

import pickle
import random
import struct

import pytest

from embodied_mem import Memory, Percept, Pose, Sighting
from embodied_mem.memory import longterm, temporal

from .test_temporal_index import Naive, check

LABELS = ["cup", "key", "tree", "lamp", "box", "rang"]
SPECIAL = [(0.0, 3.0), (-0.0, 3.0), (2.0, 0.0), (2.0, -0.0), (0.0, 0.0), (-0.0, -0.0), (1e-300, 5.0)]


def stream(seed: int, n: int, noise: float) -> list[Percept]:
    """Percepts of three sources (one often late) seeing objects of a fixed pool at their places
    (repeats), the special positions, and with probability ``noise`` a fresh random position."""
    rng = random.Random(seed)
    pool = [(rng.choice(LABELS), (rng.uniform(-9, 9), rng.uniform(-9, 9))) for _ in range(40)]
    t = {"a": 0.0, "b": 0.0, "c": 0.0}
    out = []
    for _ in range(n):
        src = rng.choice("aaaabc")
        t[src] += rng.choice([0.0, 0.0, 0.5, 1.0, 3.0])
        ss = []
        for _ in range(rng.randrange(0, 5)):
            u = rng.random()
            if u < noise:
                lbl, xy = rng.choice(LABELS), (rng.uniform(-9, 9), rng.uniform(-9, 9))
            elif u < noise + 0.1:
                lbl, xy = rng.choice(LABELS), rng.choice(SPECIAL)
            else:
                lbl, xy = rng.choice(pool)
            ss.append(Sighting(lbl, (xy[0], xy[1], rng.choice([0.0, 0.0, 0.0, 1.5]))))
        events = ["rang"] if rng.random() < 0.1 else []
        out.append(Percept(t=t[src], pose=Pose(1, 1), sightings=ss, events=events, source=src))
    return out


def exact(tm: temporal.TemporalMemory) -> list:
    """Every entry as between() gives it, positions as their bytes."""
    return [(e.t, e.kind, e.label or e.text, e.source,
             None if e.position is None else struct.pack("<3d", *e.position))
            for e in tm.between(-1e9, 1e9)]


def ref_exact(ref: Naive) -> list:
    return [(r[0], r[2], r[3], r[4], None if r[5] is None else struct.pack("<3d", *r[5])) for r in ref.rows]


@pytest.mark.parametrize("pcache", [8, 4096])
@pytest.mark.parametrize("noise", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("seed", [1, 2])
def test_positions_answer_like_a_plain_list(monkeypatch, seed, noise, pcache):
    monkeypatch.setattr(temporal, "_PCACHE", pcache)  # 8: the cache emptied often (and plain columns soon)
    monkeypatch.setattr(temporal, "_SEAL", 64)  # the plain-columns check at every seal
    monkeypatch.setattr(temporal, "_TAIL_MIN", 7)
    rng = random.Random(seed)
    tm, ref = temporal.TemporalMemory(), Naive()
    ps = stream(seed, 900, noise)
    k = 0
    while k < len(ps):
        m = rng.choice([1, 1, 7, 40])
        if m == 1:
            tm.observe(ps[k])
        else:
            tm.observe_many(ps[k:k + m])
        for p in ps[k:k + m]:
            ref.observe(p)
        k += m
        if rng.random() < 0.1:
            check(tm, ref, rng)
            assert exact(tm) == ref_exact(ref)
        if k > 450 and rng.random() < 0.02:  # a snapshot's state (__getstate__), continued
            tm = pickle.loads(pickle.dumps(tm))
    check(tm, ref, rng)
    assert exact(tm) == ref_exact(ref)
    if noise == 1.0:
        assert tm._pid is None  # noqa: SLF001 - plain columns: positions did not repeat
    elif noise == 0.0 and pcache > 8:
        assert tm._pid is not None and len(tm._x) < len(tm) / 4  # noqa: SLF001 - repeats share rows


@pytest.mark.parametrize("noise", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("budget", [None, 1])
def test_positions_reopen_and_page_like_a_plain_list(tmp_path, monkeypatch, noise, budget):
    monkeypatch.setattr(temporal, "_PCACHE", 8)
    monkeypatch.setattr(temporal, "_SEAL", 64)
    monkeypatch.setattr(longterm, "working_set_sizes", lambda mb: {"temporal": 60, "poses": 30})
    cfg = {} if budget is None else {"ram_budget_mb": budget}
    ps = stream(7, 800, noise)
    ref = Naive()
    for p in ps:
        ref.observe(p)
    path = tmp_path / "m.db"
    with Memory.open(path, config=cfg) as mem:
        for p in ps[:500]:
            mem.observe(p)
    with Memory.open(path) as mem:  # from the snapshot written at close; continued
        assert mem.snapshot_status == "ok" and mem.replayed_entries == 0
        mem.observe_many(ps[500:650])
        for p in ps[650:]:
            mem.observe(p)
        check(mem.temporal, ref, random.Random(3))
        assert exact(mem.temporal) == ref_exact(ref)
        if budget is not None:
            assert mem.temporal.n_in_ram < len(mem.temporal) / 4  # most of it was paged out


@pytest.mark.parametrize("damage", ["row past the table", "negative row", "wide row column", "table row 0 moved"])
def test_a_damaged_positions_state_is_refused(damage: str) -> None:
    """A temporal state whose positions disagree with its entries (a row number outside the table, a
    row column of another type, row 0 not the events' (0, 0)) is refused with a clear error, never
    loaded into wrong answers."""
    from array import array

    tm = temporal.TemporalMemory()
    for p in stream(3, 60, 0.0):
        tm.observe(p)
    state = tm.__getstate__()
    cols = list(state["columns"])
    i_pid, i_x = temporal.TemporalMemory._COLUMNS.index("_pid"), temporal.TemporalMemory._COLUMNS.index("_x")
    pid = array("i", cols[i_pid])
    if damage == "row past the table":
        pid[-1] = len(cols[i_x])
    elif damage == "negative row":
        pid[0] = -1
    elif damage == "wide row column":
        pid = array("q", pid)
    else:
        x = array("d", cols[i_x])
        x[0] = 1.0
        cols[i_x] = x
    cols[i_pid] = pid
    state["columns"] = type(state["columns"])(cols)
    fresh = temporal.TemporalMemory.__new__(temporal.TemporalMemory)
    with pytest.raises(ValueError, match="temporal state: the position"):
        fresh.__setstate__(state)
