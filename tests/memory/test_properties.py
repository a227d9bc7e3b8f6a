"""Property-based tests (hypothesis) over random percept streams.

- ``at=t`` answers of a memory equal the current answers of a fresh memory fed only the percepts
  (and fact assertions) with timestamp <= t;
- a persisted memory reopens answering exactly as before;
- a refused percept (time going backwards, bad values) changes nothing.

Streams are in time order across sources (ties allowed); percepts arriving late from another
source are covered by example tests in test_spatial.py/test_temporal.py — for them the bi-temporal
record is "what was believed when", which a replay in time order need not reproduce.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embodied_mem import Memory, Percept, Pose, Sighting, View

LABELS = ["key", "apple", "tree", "cup"]
REGIONS = ["kitchen", "hall", "bedroom"]
coord = st.integers(0, 12).map(lambda v: v / 2)  # a 6×6 world on a half-unit lattice: many near-matches


@st.composite
def sightings(draw):
    label = draw(st.sampled_from(LABELS))
    instance = draw(st.sampled_from([None, None, f"{label}-1", f"{label}-2"]))
    return Sighting(label, (draw(coord), draw(coord)), instance=instance,
                    confidence=draw(st.sampled_from([0.5, 0.9, 1.0])))


@st.composite
def steps(draw):
    """A stream of ("percept", Percept) and ("fact", (s, r, o, confidence, t)) in time order."""
    n = draw(st.integers(1, 18))
    t = 0.0
    out = []
    for _ in range(n):
        t += draw(st.sampled_from([0.0, 0.5, 1.0, 2.0]))
        if draw(st.integers(0, 5)) == 0:
            s = draw(st.sampled_from(LABELS))
            out.append(("fact", (s, draw(st.sampled_from(["located_in", "is"])), draw(st.sampled_from(REGIONS)),
                                 draw(st.sampled_from([0.5, 1.0])), t)))
            continue
        pose = Pose(draw(coord), draw(coord)) if draw(st.booleans()) else None
        view = None
        kind = draw(st.integers(0, 3))
        if kind == 1:
            view = View.disc((draw(coord), draw(coord)), draw(st.sampled_from([0.5, 1.5, 3.0])))
        elif kind == 2:
            x0, y0 = draw(coord), draw(coord)
            view = View.rect(x0, y0, x0 + draw(st.sampled_from([0.0, 1.0, 2.5])), y0 + 2.0)
        elif kind == 3 and pose is not None:
            view = View.cone(Pose(pose.x, pose.y, yaw=draw(st.sampled_from([0.0, math.pi / 2, -2.0]))), 3.0, 1.5)
        out.append(("percept", Percept(
            t=t, pose=pose, view=view, source=draw(st.sampled_from(["cam", "lidar"])),
            sightings=tuple(draw(st.lists(sightings(), max_size=4))),
            events=tuple(draw(st.lists(st.sampled_from(["door opened", "ate apple"]), max_size=1))),
            region=draw(st.sampled_from([None, *REGIONS])),
            free=[[draw(coord), draw(coord)]] if draw(st.booleans()) else None,
        )))
    return out


def feed(mem: Memory, stream, until: float | None = None) -> None:
    for kind, item in stream:
        if kind == "percept":
            if until is None or item.t <= until:
                mem.observe(item)
        else:
            s, r, o, c, t = item
            if until is None or t <= until:
                mem.semantic.assert_fact(s, r, o, confidence=c, t=t)


def fact_key(f):
    return (f.subject, f.relation, f.object, f.confidence, f.support, f.valid_from, f.source)


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(steps())
def test_at_t_equals_a_fresh_memory_fed_up_to_t(stream):
    full = Memory()
    feed(full, stream)
    times = sorted({item.t if kind == "percept" else item[4] for kind, item in stream})
    probes = times + [t + 0.25 for t in times] + [times[0] - 1]
    for t in probes:
        fresh = Memory()
        feed(fresh, stream, until=t)
        for label in LABELS:
            assert full.spatial.locate(label, at=t) == fresh.spatial.locate(label), (label, t)
            assert full.temporal.last_seen(label, at=t) == fresh.temporal.last_seen(label), (label, t)
            assert full.temporal.first_seen(label, at=t) == fresh.temporal.first_seen(label), (label, t)
            assert full.temporal.count(label, None, t) == fresh.temporal.count(label)
            assert full.spatial.count(label, at=t) == fresh.spatial.count(label), (label, t)
            assert full.temporal.longest_gap(label, None, t) == fresh.temporal.longest_gap(label), (label, t)
            near = full.spatial.nearest(label, (3, 3), at=t)
            assert near == fresh.spatial.nearest(label, (3, 3)), (label, t)
        assert full.temporal.between(-1, t) == fresh.temporal.between(-1, math.inf)
        assert full.spatial.trajectory(None, t) == fresh.spatial.trajectory()
        assert [fact_key(f) for f in full.semantic.facts(at=t)] == [fact_key(f) for f in fresh.semantic.facts()]
        assert full.graph.as_of(t).nx.number_of_edges() >= 0


def everything(mem: Memory) -> str:
    out = {
        "locate": {lbl: [repr(x) for x in mem.spatial.locate(lbl)] for lbl in LABELS},
        "history": {lbl: [repr(x) for x in mem.spatial.history(lbl)] for lbl in LABELS},
        "last": {lbl: mem.temporal.last_seen(lbl) for lbl in LABELS},
        "between": [repr(e) for e in mem.temporal.between(-1, 1e9)],
        "order": mem.temporal.order(LABELS),
        "places": [repr(p) for p in mem.spatial.places()],
        "frontiers": mem.spatial.frontiers(),
        "recall": [repr(c) for c in mem.episodic.recall("key apple kitchen", k=5, strengthen=False)],
        "facts": [repr(f) for f in mem.semantic.facts()],
        "stats": mem.stats(),
        "graph": mem.graph.to_dict(),
    }
    return json.dumps(out, sort_keys=True, default=str)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps(), st.sampled_from(["percept", "batch"]))
def test_persistence_round_trip(stream, durability):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.db"
        mem = Memory.open(path, durability=durability)
        feed(mem, stream)
        mem.retrieve("where is the key?")  # a recall strengthens chunks: journaled too
        before = everything(mem)
        mem.close()
        with Memory.open(path, readonly=True) as again:
            assert everything(again) == before


@SETTINGS
@given(steps(), st.data())
def test_refused_percepts_change_nothing(stream, data):
    with tempfile.TemporaryDirectory() as d:
        mem = Memory.open(Path(d) / "m.db")
        feed(mem, stream)
        before = everything(mem)
        journal = mem._store.count()
        last = {src: t for src, t in mem._last_t.items()}
        if last:
            src = data.draw(st.sampled_from(sorted(last)))
            bad = Percept(t=last[src] - data.draw(st.sampled_from([0.5, 1e-9, 100.0])), source=src,
                          sightings=[Sighting("key", (1, 1))], view=View.disc((0, 0), 100))
            with pytest.raises(ValueError, match="backwards"):
                mem.observe(bad)
        field = data.draw(st.sampled_from(["t", "label", "position", "type"]))
        with pytest.raises((ValueError, TypeError)):
            if field == "t":
                mem.observe(Percept(t=float("nan")))
            elif field == "label":
                mem.observe(Percept(t=1e9, sightings=[Sighting("", (0, 0))]))
            elif field == "position":
                mem.observe(Percept(t=1e9, sightings=[Sighting("key", (0, math.inf))]))
            else:
                mem.observe({"t": 1e9})  # type: ignore[arg-type]
        assert everything(mem) == before and mem._store.count() == journal
        mem.close()
