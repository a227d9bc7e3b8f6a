"""``TemporalMemory.observe_many`` (what ``Memory.observe_many`` gives temporal memory) leaves exactly
the state ``observe`` one by one leaves: the same entries (byte for byte: heights of -0.0, the
height column made at the same entry), runs, name slots, first and latest times, and label-index
runs sealed at the same entries; late percepts (another source, older) and new names mid-batch
included. Queries are compared too."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embodied_mem import Memory, Percept, Pose, Sighting
from embodied_mem.memory import temporal as temporal_mod
from embodied_mem.memory.temporal import TemporalMemory

LABELS = ["key", "apple", "tree", "cup", "mug"]
EVENTS = ["door opened", "ate apple", "key"]  # an event text may be a label's name too


@st.composite
def streams(draw):
    t, out = 0.0, []
    for _ in range(draw(st.integers(1, 40))):
        step = draw(st.sampled_from([0.0, 0.5, 1.0, -3.0]))  # -3: a late percept (older than the newest)
        t = max(0.0, t + step)
        sights = tuple(Sighting(draw(st.sampled_from(LABELS)),
                                (draw(st.integers(-3, 3)) / 2, draw(st.integers(-3, 3)) / 2,
                                 draw(st.sampled_from([0.0, 0.0, 0.0, -0.0, 1.5]))))
                       for _ in range(draw(st.integers(0, 4))))
        events = tuple(draw(st.lists(st.sampled_from(EVENTS), max_size=2)))
        out.append(Percept(t=t, sightings=sights, events=events, source=draw(st.sampled_from(["cam", "lidar"])),
                           pose=Pose(0, 0) if draw(st.booleans()) else None))
    cuts = sorted(set(draw(st.lists(st.integers(0, len(out)), max_size=5))))
    return out, cuts


def state(tm: TemporalMemory) -> dict:
    """Every part of the state observe writes, arrays as bytes (NaN and -0.0 compared exactly)."""
    tm._seal(merge=False)  # noqa: SLF001 - also compares what a query would index next
    return {
        "runs": (bytes(tm._rt), bytes(tm._rs), bytes(tm._r0)),
        "entries": (bytes(tm._sym), bytes(tm._x), bytes(tm._y), None if tm._z is None else bytes(tm._z),
                    None if tm._pid is None else bytes(tm._pid)),
        "names": (list(tm._names), dict(tm._ids), bytes(tm._gid), tm._ngid),
        "times": (bytes(tm._first), bytes(tm._last)),
        "index": [(r.lab().tobytes(), r.glob().tobytes(), r.n, r.tlo, r.thi) for r in tm._runs],
        "ix_n": tm._ix_n,
    }


def answers(tm: TemporalMemory) -> list:
    out = [repr(e) for e in tm.between(-1, 1e9)]
    for lbl in LABELS:
        out.append((lbl, tm.first_seen(lbl), tm.last_seen(lbl), repr(tm.seen_times(lbl))))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(case=streams(), seal=st.sampled_from([2, 5, 16384]))
def test_observe_many_leaves_the_state_observe_leaves(case, seal, monkeypatch):
    monkeypatch.setattr(temporal_mod, "_SEAL", seal)  # a seal inside most batches
    ps, cuts = case
    one, many = TemporalMemory(), TemporalMemory()
    for p in ps:
        one.observe(p)
    a = 0
    for b in [*cuts, len(ps)]:
        many.observe_many(ps[a:b])
        a = max(a, b)
    assert answers(many) == answers(one)
    assert state(many) == state(one)


def test_memory_observe_many_gives_temporal_memory_the_batch():
    ps = [Percept(t=float(i), sightings=[Sighting(LABELS[i % 5], (i, 0, -0.0 if i < 3 else 2.0))],
                  events=("door opened",) if i % 4 == 0 else (), source="cam" if i % 3 else "lidar")
          for i in range(20)]
    one, many = Memory(), Memory()
    for p in ps:
        one.observe(p)
    many.observe_many(ps[:7])
    many.observe_many(ps[7:])
    assert state(many.temporal) == state(one.temporal)
    assert answers(many.temporal) == answers(one.temporal)
    z = np.frombuffer(many.temporal._z, np.float64)
    assert math.copysign(1.0, z[0]) == 1.0 and math.copysign(1.0, z[2]) == 1.0  # made at entry 3: 0.0 before
    assert z[-1] == 2.0


def test_a_batch_that_starts_late_and_a_disabled_module():
    tm = TemporalMemory()
    tm.observe(Percept(t=5.0, sightings=[Sighting("cup", (1, 1))]))
    ref = TemporalMemory()
    ref.observe(Percept(t=5.0, sightings=[Sighting("cup", (1, 1))]))
    batch = [Percept(t=2.0, sightings=[Sighting("mug", (0, 0))], source="b"),
             Percept(t=6.0, sightings=[Sighting("cup", (2, 2)), Sighting("new", (3, 3))])]
    tm.observe_many(batch)
    for p in batch:
        ref.observe(p)
    assert state(tm) == state(ref)
    off = TemporalMemory(type(tm.config)(enabled=False))
    off.observe_many(batch)
    assert len(off._sym) == 0


@pytest.mark.parametrize("n", [0, 1])
def test_empty_batches(n):
    tm = TemporalMemory()
    tm.observe_many([Percept(t=1.0)] * n)
    assert len(tm._sym) == 0 and tm._names == (["default"] if n else [])
