"""Temporal memory's tiered label index (sorted runs sealed at ingest, merged as they fill) and its
bounded per-name state (names no entry in RAM refers to move out to ``lt_tlabels`` under a RAM
budget, and come back on a query or a new sighting): every query equals a plain-list scan across
run merges, with and without a tiny budget, with ``fit``, and after reopening with and without a
snapshot."""

from __future__ import annotations

import math
import random

import pytest

from embodied_mem import Memory, Percept, Pose, Sighting
from embodied_mem.memory import longterm, temporal
from embodied_mem.memory.snapshot import snapshot_path
from embodied_mem.memory.temporal import TemporalMemory

from .test_temporal_index import Naive as _Naive

STEADY = ["cup", "key", "rang"]  # seen all life long ("rang" is also an event text)


def stream(seed: int, n: int) -> list[Percept]:
    """Two-three sources (some percepts late), labels that come and go (``obj<k>``: seen for a
    while, then never again, now and then once more much later), event texts that name them."""
    rng = random.Random(seed)
    t = {"a": 0.0, "b": 0.0, "c": 0.0}
    out = []
    for k in range(n):
        src = rng.choice("aaaabc")
        t[src] += rng.choice([0.0, 0.0, 0.5, 1.0, 3.0, 17.0])
        era = k // 15
        labels = STEADY + [f"obj{era}", f"obj{era + 1}"] + ([f"obj{rng.randrange(era + 1)}"] if rng.random() < 0.1 else [])
        sightings = [Sighting(rng.choice(labels), (rng.uniform(0, 9), rng.uniform(0, 9), rng.choice([0.0, 0.0, 1.5])))
                     for _ in range(rng.randrange(0, 5))]
        events = [rng.choice(["rang", f"found obj{era}"])] if rng.random() < 0.15 else []
        out.append(Percept(t=t[src], pose=Pose(1, 1), sightings=sightings, events=events, source=src))
    return out


class Naive(_Naive):
    """test_temporal_index's plain-list reference, plus the labels ever sighted."""

    def labels(self) -> list[str]:
        return sorted({r[3] for r in self.rows if r[2] == "sighting"})


def check(tm: TemporalMemory, ref: Naive, rng: random.Random, n_labels: int = 6) -> None:
    hi = max((r[0] for r in ref.rows), default=0.0)
    known = ref.labels()
    probe = list(dict.fromkeys(STEADY + ["never", "found obj0"] + rng.sample(known, min(n_labels, len(known)))))
    for lbl in probe:
        ts = ref.times(lbl)
        assert tm.first_seen(lbl) == (ts[0] if ts else None)
        assert tm.last_seen(lbl) == (ts[-1] if ts else None)
        assert tm.count(lbl) == len(ts) and tm.seen_times(lbl) == ts
        assert tm.longest_gap(lbl) == ref.gap(lbl, None, None)
        for _ in range(2):
            a = rng.uniform(-1, hi + 1)
            b = a + rng.choice([0.0, 1.0, 20.0, hi])
            before = ref.times(lbl, None, a)
            assert tm.last_seen(lbl, at=a) == (before[-1] if before else None)
            assert tm.first_seen(lbl, at=a) == (ts[0] if before else None)
            assert tm.seen_times(lbl, a, b) == ref.times(lbl, a, b)
            assert tm.seen_times(lbl, None, a) == before and tm.seen_times(lbl, a) == ref.times(lbl, a)
            assert tm.count(lbl, a, b) == len(ref.times(lbl, a, b))
            assert tm.longest_gap(lbl, a, b) == ref.gap(lbl, a, b)
    a = rng.uniform(-1, hi)
    b = a + rng.choice([0.0, 5.0, 60.0, hi])
    for kind in (None, "sighting", "event"):
        got = [(e.t, e.kind, e.label or e.text, e.source, e.position) for e in tm.between(a, b, kind=kind)]
        assert got == ref.between(a, b, kind)
    assert tm.labels() == known
    assert tm.order(probe) == sorted((lbl for lbl in probe if ref.times(lbl)), key=lambda lbl: (ref.times(lbl)[0], lbl))
    assert len(tm) == len(ref.rows)


@pytest.fixture
def tiny_tiers(monkeypatch):
    """Runs sealed every few entries and merged up to a few dozen, the tail scanned up to 3."""
    monkeypatch.setattr(temporal, "_SEAL", 9)
    monkeypatch.setattr(temporal, "_RUN_MAX", 70)
    monkeypatch.setattr(temporal, "_TAIL_MIN", 3)


@pytest.fixture
def tiny_budget(monkeypatch):
    monkeypatch.setattr(longterm, "working_set_sizes", lambda mb: {"temporal": 50, "poses": 30})


@pytest.mark.parametrize("budget", [None, 1])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_query_equals_a_scan_across_run_merges(request, tiny_tiers, seed, budget):
    if budget is not None:
        request.getfixturevalue("tiny_budget")
    rng = random.Random(seed)
    mem, ref = Memory({} if budget is None else {"ram_budget_mb": budget}), Naive()
    for k, p in enumerate(stream(seed, 900)):
        mem.observe(p)
        ref.observe(p)
        if k % rng.choice([7, 60, 200]) == 0:
            check(mem.temporal, ref, rng)
    tm = mem.temporal
    if budget is None:
        assert len(tm._runs) > 1 and max(r.n for r in tm._runs) > temporal._SEAL  # sealed and merged
    else:
        assert tm.n_in_ram < len(tm) / 4
        # the names kept in RAM are the working set's (and those queried since the last move), not
        # every name ever met (labels, event texts, sources)
        assert len(tm._ids) < len({r[3] for r in ref.rows} | {r[4] for r in ref.rows}) / 3
    check(tm, ref, rng, n_labels=40)


def test_query_after_a_long_ingest_reads_runs_not_a_whole_history(tiny_tiers):
    """No query pays for indexing what was ingested before it: at most _SEAL entries are unindexed,
    and the runs stay few (sizes merge up)."""
    tm, ref = TemporalMemory(), Naive()
    for p in stream(4, 3000):
        tm.observe(p)
        ref.observe(p)
    assert len(tm._sym) - tm._ix_n <= temporal._SEAL
    assert len(tm._runs) <= 3 * len(tm._sym) / temporal._RUN_MAX + 2 * math.log2(len(tm._sym)) + 2
    check(tm, ref, random.Random(4), n_labels=60)


@pytest.mark.parametrize("with_snapshot", [True, False])
@pytest.mark.parametrize("budget", [None, 1])
def test_reopened_memory_answers_and_continues_like_one_never_closed(tmp_path, tiny_tiers, tiny_budget,
                                                                    with_snapshot, budget):
    cfg = {} if budget is None else {"ram_budget_mb": budget}
    ps = stream(5, 800)
    ref, naive = Memory(cfg), Naive()
    for p in ps:
        ref.observe(p)
        naive.observe(p)
    path = tmp_path / "m.db"
    with Memory.open(path, config=cfg) as mem:
        for p in ps[:450]:
            mem.observe(p)
    if not with_snapshot:
        snapshot_path(path).unlink()
    with Memory.open(path, config=cfg) as mem:
        assert (mem.snapshot_status == "ok") == with_snapshot
        for p in ps[450:]:
            mem.observe(p)
        rng = random.Random(5)
        check(mem.temporal, naive, rng, n_labels=40)
        check(ref.temporal, naive, random.Random(5), n_labels=40)
    with Memory.open(path, config=cfg) as mem:  # reopened once more, nothing added
        check(mem.temporal, naive, random.Random(6), n_labels=40)


def test_fit_pages_out_to_the_bytes_given_and_answers_stay_exact(tiny_tiers, monkeypatch):
    monkeypatch.setattr(longterm, "working_set_sizes", lambda mb: {"temporal": 100_000, "poses": 30})
    mem, ref = Memory({"ram_budget_mb": 1}), Naive()
    ps = stream(7, 1500)
    for p in ps[:1000]:
        mem.observe(p)
        ref.observe(p)
    tm = mem.temporal
    assert tm.n_in_ram == len(tm)  # the share holds it all
    tm.longest_gap("cup")
    before = tm.ram_bytes()
    tm.fit(before // 3)
    assert tm.ram_bytes() <= before // 3 and tm.n_in_ram < len(tm)
    for p in ps[1000:]:  # kept within it from now on
        mem.observe(p)
        ref.observe(p)
        assert tm.ram_bytes() <= before // 3 + 4096
    check(tm, ref, random.Random(8), n_labels=40)  # brings names back and builds gap hierarchies
    tm.fit(before // 3)
    assert tm.ram_bytes() <= before // 3
    check(tm, ref, random.Random(7), n_labels=40)
    tm.fit(0)  # best effort: the newest entries stay
    assert 0 < tm.n_in_ram < 300
    check(tm, ref, random.Random(9), n_labels=40)


def test_fit_refuses_bad_sizes_and_does_nothing_without_a_budget():
    tm = TemporalMemory()
    for p in stream(8, 200):
        tm.observe(p)
    before = (tm.ram_bytes(), tm.n_in_ram)
    for bad in (-1, 1.5, "10", None, True):
        with pytest.raises(ValueError, match="max_bytes"):
            tm.fit(bad)  # type: ignore[arg-type]
    tm.fit(0)  # no long-term store: nothing to page out to
    assert (tm.ram_bytes(), tm.n_in_ram) == before


def test_names_kept_in_ram_stay_bounded_over_a_long_life(tiny_budget):
    """Labels that come and go: what temporal memory holds stays within its share however many
    labels it has met, and a label met long ago still answers exactly."""
    mem = Memory({"ram_budget_mb": 1})
    tm = mem.temporal
    peak = []
    for k in range(6000):
        mem.observe(Percept(t=float(k), sightings=[Sighting(f"thing{k // 3}", (k, 0)), Sighting("cup", (0, 0))],
                            events=[f"met thing{k // 3}"] if k % 3 == 0 else []))
        if k % 1000 == 999:
            peak.append((len(tm._ids), tm.ram_bytes()))
    assert max(n for n, _ in peak) < 200  # 2000 labels and 2000 texts met
    assert peak[-1][1] <= 1.5 * peak[0][1]
    assert tm.seen_times("thing7") == [21.0, 22.0, 23.0] and tm.first_seen("thing7") == 21.0
    assert tm.count("cup") == 6000 and tm.last_seen("thing0", at=1e9) == 2.0
    assert [e.text for e in tm.between(21, 21, kind="event")] == ["met thing7"]
    assert len(tm.labels()) == 2001
