"""Temporal memory's lean label index (each sighting held as the number of its percept run, the
time read back from the runs' times): answers equal a plain-list scan when late percepts insert
runs in the middle of indexed history (numbers shift), land at the very start of an indexed run,
join a run of the same time and source, or tie in time with other sources; across a pickled copy
(the index rebuilt from times, ties mapped to one run) continued with more late percepts; under a
tiny RAM budget (runs moved out, numbers rebased). And the footprint an entry takes stays small."""

from __future__ import annotations

import pickle
import random

import pytest

from embodied_mem import Memory, Percept, Pose, Sighting
from embodied_mem.memory import longterm, temporal
from embodied_mem.memory.temporal import TemporalMemory

from .test_temporal_index import LABELS, Naive, check


def tied_stream(seed: int, n: int) -> list[Percept]:
    """Four sources on whole-number clocks (many percepts share a time, each source's time never
    goes back): "a" leads, "b" and "c" follow a few steps behind, "d" lags far behind (its percepts
    land inside the indexed history); a source often repeats its own time (the same run)."""
    rng = random.Random(seed)
    clock = {"a": 0.0, "b": 0.0, "c": 0.0, "d": 0.0}
    out: list[Percept] = []
    for _ in range(n):
        src = rng.choice("aaabbcd")
        lag = {"a": 0, "b": 3, "c": 8, "d": 60}[src]
        clock[src] = max(clock[src], clock["a"] - lag - rng.choice([0, 0, 1, 5]))
        clock[src] += rng.choice([0.0, 0.0, 1.0, 2.0])
        sightings = [Sighting(rng.choice(LABELS), (rng.uniform(-9, 9), rng.uniform(-9, 9), rng.choice([0.0, 0.7])))
                     for _ in range(rng.randrange(0, 4))]
        events = ["rang"] if rng.random() < 0.1 else []
        out.append(Percept(t=clock[src], pose=Pose(1, 1), sightings=sightings, events=events, source=src))
    return out


@pytest.fixture
def tiny_tiers(monkeypatch):
    monkeypatch.setattr(temporal, "_SEAL", 7)
    monkeypatch.setattr(temporal, "_RUN_MAX", 50)
    monkeypatch.setattr(temporal, "_TAIL_MIN", 2)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_late_and_tied_percepts_inside_indexed_runs_equal_a_scan(tiny_tiers, seed):
    rng = random.Random(seed)
    tm, ref = TemporalMemory(), Naive()
    for k, p in enumerate(tied_stream(seed, 700)):
        tm.observe(p)
        ref.observe(p)
        if k % rng.choice([5, 40, 150]) == 0:
            check(tm, ref, rng)
    assert len(tm._runs) > 1
    check(tm, ref, rng)


@pytest.mark.parametrize("seed", [5, 6])
def test_a_pickled_copy_continued_with_late_tied_percepts_equals_a_scan(tiny_tiers, seed):
    rng = random.Random(seed)
    ps = tied_stream(seed, 900)
    tm, ref = TemporalMemory(), Naive()
    for k, p in enumerate(ps):
        if k in (300, 600):  # the index comes back as one run, each sighting in its time's first run
            tm = pickle.loads(pickle.dumps(tm))
            check(tm, ref, rng)
        tm.observe(p)
        ref.observe(p)
        if k % 97 == 0:
            check(tm, ref, rng)
    check(tm, ref, rng)


@pytest.mark.parametrize("seed", [7, 8])
def test_under_a_tiny_budget_late_percepts_and_moved_runs_equal_a_scan(tiny_tiers, monkeypatch, seed):
    monkeypatch.setattr(longterm, "working_set_sizes", lambda mb: {"temporal": 60, "poses": 30})
    rng = random.Random(seed)
    mem, ref = Memory({"ram_budget_mb": 1}), Naive()
    for k, p in enumerate(tied_stream(seed, 800)):
        mem.observe(p)
        ref.observe(p)
        if k % rng.choice([9, 70]) == 0:
            check(mem.temporal, ref, rng)
    assert mem.temporal.n_in_ram < len(mem.temporal) / 3
    check(mem.temporal, ref, rng)


def test_an_entry_takes_under_30_bytes_once_indexed():
    """Ten sightings a percept, one source, labels that recur: kind, label, x, y (21 bytes), the
    percept's run (20 bytes over ten entries) and the label index (4 bytes a sighting)."""
    rng = random.Random(0)
    tm = TemporalMemory()
    labels = [f"obj{i}" for i in range(300)]
    n = 60_000
    for k in range(n // 10):
        tm.observe(Percept(t=float(k), sightings=[Sighting(rng.choice(labels), (rng.random(), rng.random()))
                                                  for _ in range(10)]))
    tm.seen_times("obj1")  # every entry indexed
    assert tm._ix_n == n
    per = tm.ram_bytes() / n
    assert 25 <= per < 30, per


def test_label_index_run_widens_its_narrow_column_before_it_would_overflow():
    """A run's percept-run numbers are uint16 while their span allows; a shift or an insert that
    would outgrow it widens the column first (never a silent wrap-around)."""
    import numpy as np

    from embodied_mem.memory.temporal import _Run

    lab = np.array([3, 3, 5, 5], np.int32)
    g = np.array([10, 10 + 65535, 10, 11], np.int64)
    r = _Run(lab, g, 4, 0.0, 1.0)
    assert r.ri.dtype == np.uint16
    r.shift(11)  # the numbers from 11 on grow by one: 65535 + 1 no longer fits uint16
    assert r.glob().tolist() == [10, 10 + 65536, 10, 12] and r.ri.dtype != np.uint16
    r2 = _Run(lab, np.array([10, 20, 10, 11], np.int64), 4, 0.0, 1.0)
    assert r2.ri.dtype == np.uint16
    r2.insert(5, 10 + 70000)
    r2.insert(4, 3)  # before g0: rebased
    assert r2.lab().tolist() == [3, 3, 4, 5, 5, 5]
    assert r2.glob().tolist() == [10, 20, 3, 10, 11, 10 + 70000]
