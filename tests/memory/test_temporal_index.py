"""Temporal memory's label index (sighting times grouped by label, merged from the columns on a
query, the newest entries scanned) against a plain list of every entry: queries interleaved with
percepts, late percepts from a second source, paging under a tiny budget and a pickled copy continued,
with merges forced often (a tiny scan limit)."""

from __future__ import annotations

import math
import pickle
import random

import pytest

from embodied_mem import Memory, Percept, Pose, Sighting
from embodied_mem.memory import longterm, temporal
from embodied_mem.memory.temporal import TemporalMemory

LABELS = ["cup", "key", "tree", "lamp", "box", "rang"]  # "rang" is also an event text


def stream(seed: int, n: int) -> list[Percept]:
    rng = random.Random(seed)
    t = {"a": 0.0, "b": 0.0, "c": 0.0}
    out = []
    for _ in range(n):
        src = rng.choice("aaaabc")
        t[src] += rng.choice([0.0, 0.0, 0.5, 1.0, 3.0, 17.0])
        sightings = [Sighting(rng.choice(LABELS), (rng.uniform(0, 9), rng.uniform(0, 9), rng.choice([0.0, 0.0, 1.5])))
                     for _ in range(rng.randrange(0, 5))]
        events = ["rang"] if rng.random() < 0.1 else []
        out.append(Percept(t=t[src], pose=Pose(1, 1), sightings=sightings, events=events, source=src))
    return out


class Naive:
    """Every entry in a list, in time order with ties in arrival order; answers by scanning."""

    def __init__(self) -> None:
        self.rows: list[tuple] = []  # (t, seq, kind, name, source, position)

    def observe(self, p: Percept) -> None:
        for s in p.sightings:
            x, y, z = (tuple(s.position) + (0.0,))[:3]
            self.rows.append((p.t, len(self.rows), "sighting", s.label, p.source, (float(x), float(y), float(z))))
        for e in p.events:
            self.rows.append((p.t, len(self.rows), "event", e, p.source, None))
        self.rows.sort(key=lambda r: (r[0], r[1]))

    def times(self, lbl: str, t0: float | None = None, t1: float | None = None) -> list[float]:
        lo, hi = -math.inf if t0 is None else t0, math.inf if t1 is None else t1
        return [r[0] for r in self.rows if r[2] == "sighting" and r[3] == lbl and lo <= r[0] <= hi]

    def gap(self, lbl: str, t0: float | None, t1: float | None) -> float | None:
        ts = self.times(lbl, t0, t1)
        if len(ts) < 2 or ts[0] == ts[-1]:
            return None
        return max(b - a for a, b in zip(ts, ts[1:]))

    def between(self, t0: float, t1: float, kind: str | None) -> list[tuple]:
        return [(r[0], r[2], r[3], r[4], r[5]) for r in self.rows if t0 <= r[0] <= t1 and kind in (None, r[2])]


def check(tm: TemporalMemory, ref: Naive, rng: random.Random) -> None:
    hi = max((r[0] for r in ref.rows), default=0.0)
    for lbl in LABELS + ["never"]:
        ts = ref.times(lbl)
        assert tm.first_seen(lbl) == (ts[0] if ts else None)
        assert tm.last_seen(lbl) == (ts[-1] if ts else None)
        assert tm.count(lbl) == len(ts) and tm.seen_times(lbl) == ts
        assert tm.longest_gap(lbl) == ref.gap(lbl, None, None)
        for _ in range(3):
            a = rng.uniform(-1, hi + 1)
            b = a + rng.choice([0.0, 1.0, 20.0, hi])
            before = ref.times(lbl, None, a)
            assert tm.last_seen(lbl, at=a) == (before[-1] if before else None)
            assert tm.first_seen(lbl, at=a) == (ts[0] if before else None)
            assert tm.seen_times(lbl, a, b) == ref.times(lbl, a, b)
            assert tm.count(lbl, a, b) == len(ref.times(lbl, a, b)) and tm.count(lbl, None, a) == len(before)
            assert tm.longest_gap(lbl, a, b) == ref.gap(lbl, a, b)
            assert tm.longest_gap(lbl, None, a) == ref.gap(lbl, None, a)
    a = rng.uniform(-1, hi)
    b = a + rng.choice([0.0, 5.0, hi])
    for kind in (None, "sighting", "event"):
        got = [(e.t, e.kind, e.label or e.text, e.source, e.position) for e in tm.between(a, b, kind=kind)]
        assert got == ref.between(a, b, kind)
    order = sorted({r[3] for r in ref.rows if r[2] == "sighting"}, key=lambda lbl: (ref.times(lbl)[0], lbl))
    assert tm.order(LABELS + ["never"]) == order and tm.labels() == sorted(order)
    assert len(tm) == len(ref.rows)


@pytest.mark.parametrize("tail", [0, 7, 4096])
@pytest.mark.parametrize("seed", [1, 2])
def test_label_index_answers_like_a_scan_with_queries_between_percepts(monkeypatch, seed, tail):
    monkeypatch.setattr(temporal, "_TAIL_MIN", tail)
    rng = random.Random(seed)
    tm, ref = TemporalMemory(), Naive()
    for k, p in enumerate(stream(seed, 700)):
        tm.observe(p)
        ref.observe(p)
        if k % rng.choice([1, 5, 40]) == 0:
            check(tm, ref, rng)
        if k == 350:  # a snapshot of it, continued (the index loaded as it was)
            tm = pickle.loads(pickle.dumps(tm))
    check(tm, ref, rng)


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_label_index_with_paging_answers_like_a_scan(monkeypatch, seed):
    monkeypatch.setattr(temporal, "_TAIL_MIN", 5)
    monkeypatch.setattr(longterm, "working_set_sizes", lambda mb: {"temporal": 60, "poses": 30})
    rng = random.Random(seed)
    mem, ref = Memory({"ram_budget_mb": 1}), Naive()
    for k, p in enumerate(stream(seed, 600)):
        mem.observe(p)
        ref.observe(p)
        if k % rng.choice([3, 30]) == 0:
            check(mem.temporal, ref, rng)
    check(mem.temporal, ref, rng)
    assert mem.temporal.n_in_ram < len(mem.temporal) / 4


def test_ram_bytes_counts_columns_and_per_label_structures(monkeypatch):
    monkeypatch.setattr(temporal, "_TAIL_MIN", 0)
    tm = TemporalMemory()
    empty = tm.ram_bytes()
    for p in stream(9, 400):
        tm.observe(p)
    grown = tm.ram_bytes()
    assert grown > empty + len(tm) * 20  # sym and a position row (4 + 4) and each position's x, y at least
    tm.seen_times("cup")  # seals the label index: 2 more bytes per sighting in RAM at least (its percept run)
    n_sightings = sum(1 for e in tm.between(-1, math.inf) if e.kind == "sighting")
    assert tm.ram_bytes() >= grown + 2 * n_sightings


def test_per_label_structures_count_against_the_share(monkeypatch):
    """Many labels: what is kept per label (kept forever) leaves fewer entries in RAM."""
    monkeypatch.setattr(longterm, "working_set_sizes", lambda mb: {"temporal": 4000, "poses": 30})
    few, many = Memory({"ram_budget_mb": 1}), Memory({"ram_budget_mb": 1})
    for i in range(6000):
        few.observe(Percept(t=float(i), sightings=[Sighting(f"cup{i % 3}", (0, 0))]))
        many.observe(Percept(t=float(i), sightings=[Sighting(f"cup{i}", (0, 0))]))
    assert many.temporal.n_in_ram < few.temporal.n_in_ram <= 4000
    assert many.temporal.seen_times("cup17") == [17.0] and many.temporal.count("cup5000") == 1


def test_an_empty_memory_pickles_and_continues():
    tm = pickle.loads(pickle.dumps(TemporalMemory()))
    ref = Naive()
    for p in stream(11, 50):
        tm.observe(p)
        ref.observe(p)
    check(tm, ref, random.Random(0))


def test_ram_bytes_estimate_of_gap_hierarchies_follows_their_sizes(monkeypatch):
    import sys

    tm, ref = TemporalMemory(), Naive()
    for p in stream(12, 3000):
        tm.observe(p)
        ref.observe(p)
    tm.seen_times("cup")  # the label index merged first: only the hierarchies come after
    before = tm.ram_bytes()
    for lbl in LABELS:
        assert tm.longest_gap(lbl, 0, 1e9) == ref.gap(lbl, 0, 1e9)
    actual = sum(sys.getsizeof(lv) for gp, _ in tm._gapc.values() for lv in gp.levels)
    assert 0.7 * actual <= tm.ram_bytes() - before <= 1.5 * actual + 200 * len(LABELS)
