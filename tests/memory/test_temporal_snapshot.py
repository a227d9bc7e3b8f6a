"""Temporal memory's columnar snapshot form: a memory reopened from a snapshot (and continued)
answers every temporal query exactly as one that was never closed, late percepts and paging
included."""

import random

import pytest

from embodied_mem import Memory, Percept, Pose, Sighting
from embodied_mem.memory import longterm
from embodied_mem.memory.temporal import TemporalMemory

LABELS = ["cup", "key", "tree", "lamp", "box"]


def stream(seed: int, n: int, t0: float = 0.0):
    """Two sources, the second one sometimes late (older than the first's newest percept)."""
    rng = random.Random(seed)
    t = {"a": t0, "b": t0}
    out = []
    for _ in range(n):
        src = "a" if rng.random() < 0.7 else "b"
        t[src] += rng.choice([0.0, 0.5, 1.0, 3.0, 17.0])
        sightings = [Sighting(rng.choice(LABELS), (rng.uniform(0, 9), rng.uniform(0, 9), rng.choice([0.0, 1.5])))
                     for _ in range(rng.randrange(0, 4))]
        events = ["rang"] if rng.random() < 0.1 else []
        out.append(Percept(t=t[src], pose=Pose(1, 1), sightings=sightings, events=events, source=src))
    return out


def temporal_answers(tm: TemporalMemory) -> list:
    out = []
    span = tm.span() or (0.0, 0.0)
    lo, hi = span
    probes = [None, lo, (lo + hi) / 3, (lo + hi) / 2, hi]
    for lbl in LABELS + ["never"]:
        out.append((tm.first_seen(lbl), tm.last_seen(lbl), tm.count(lbl), tm.longest_gap(lbl), tm.seen_times(lbl)))
        for a in probes:
            out.append((tm.last_seen(lbl, at=a), tm.first_seen(lbl, at=a)))
            for b in probes:
                if a is not None and b is not None and b >= a:
                    out.append((tm.longest_gap(lbl, a, b), tm.count(lbl, a, b), tm.seen_times(lbl, a, b)))
    out.append([str(e) for e in tm.between(lo, hi)])
    out.append((len(tm), tm.labels(), tm.order(LABELS)))
    return out


@pytest.mark.parametrize("budget", [None, 1])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_reopened_temporal_memory_answers_and_continues_like_one_never_closed(tmp_path, monkeypatch, seed, budget):
    cfg = {} if budget is None else {"ram_budget_mb": budget}
    # a tiny working set: most entries are paged out to the long-term table, before and after the snapshot
    monkeypatch.setattr(longterm, "working_set_sizes", lambda mb: {"temporal": 40, "poses": 30})
    ps = stream(seed, 600)
    cut = random.Random(seed).randrange(100, 500)
    ref = Memory(cfg)
    for p in ps:
        ref.observe(p)
    path = tmp_path / "m.db"
    with Memory.open(path, config=cfg) as mem:
        for p in ps[:cut]:
            mem.observe(p)
    with Memory.open(path) as mem:  # from the snapshot written at close; continued
        assert mem.snapshot_status == "ok" and mem.replayed_entries == 0
        for p in ps[cut:]:
            mem.observe(p)
        assert temporal_answers(mem.temporal) == temporal_answers(ref.temporal)
    if budget is not None:
        assert ref.temporal.n_in_ram < len(ref.temporal) / 4  # most of it was paged out
    with Memory.open(path, readonly=True) as mem:  # (a read-only open with a budget replays in full)
        assert (mem.snapshot_status == "ok") == (budget is None)
        assert temporal_answers(mem.temporal) == temporal_answers(ref.temporal)


def test_gap_hierarchy_built_at_once_equals_the_one_built_by_appending():
    from array import array

    from embodied_mem.memory.temporal import _Gaps

    rng = random.Random(5)
    for n in (0, 1, 2, 3, 64, 65, 129, 130, 4097, 70_000):
        ts = array("d", sorted(rng.choice([0.0, 1.0, rng.uniform(0, 1e4)]) for _ in range(n)))
        step = _Gaps()
        for a, b in zip(ts, ts[1:]):
            step.append(b - a)
        built = _Gaps.build(ts)
        assert [list(lv) for lv in built.levels] == [list(lv) for lv in step.levels]
        assert built.best == step.best


@pytest.mark.parametrize("seed", [4, 5])
def test_temporal_answers_match_a_naive_scan_of_the_sightings(seed):
    """The in-order fast path and the late-percept path against a plain list of (t, label)."""
    ps = stream(seed, 500)
    mem = Memory()
    for p in ps:
        mem.observe(p)
    tm = mem.temporal
    seen = sorted((p.t, s.label) for p in ps for s in p.sightings)
    span = tm.span()
    assert span is not None
    for lbl in LABELS:
        ts = [t for t, x in seen if x == lbl]
        assert tm.seen_times(lbl) == ts and tm.count(lbl) == len(ts)
        assert (tm.first_seen(lbl), tm.last_seen(lbl)) == ((ts[0], ts[-1]) if ts else (None, None))
        for a, b in [(span[0], span[1]), (span[0], sum(span) / 2), (sum(span) / 3, span[1])]:
            inside = [t for t in ts if a <= t <= b]
            gaps = [y - x for x, y in zip(inside, inside[1:])]
            want = max(gaps) if gaps and inside[-1] != inside[0] else None
            assert tm.longest_gap(lbl, a, b) == want
    events = [(p.t, str(p.source)) for p in ps for _ in p.events]
    assert len(tm.between(span[0], span[1], kind="event")) == len(events)
    assert [e.t for e in tm.between(span[0], span[1])] == sorted(e.t for e in tm.between(span[0], span[1]))


@pytest.mark.parametrize("budget", [None, 1])
def test_snapshot_keeps_the_percept_runs_and_label_index_as_they_are(tmp_path, monkeypatch, budget):
    """Format 9 stores the percept runs and the label index's runs as they are: the reopened memory
    holds the same runs (entries left unsealed stay unsealed), its index arrays can still be updated
    in place (a late percept shifts them), and it answers like the live one."""
    import numpy as np

    from embodied_mem.memory import snapshot

    monkeypatch.setattr(longterm, "working_set_sizes", lambda mb: {"temporal": 40, "poses": 30})
    cfg = {} if budget is None else {"ram_budget_mb": budget}
    path = tmp_path / "m.db"
    ps = stream(11, 1000)
    mem = Memory.open(path, config=cfg)
    for p in ps[:700]:
        mem.observe(p)
    tm = mem.temporal
    live = (bytes(tm._rt), bytes(tm._rs), bytes(tm._r0), tm._rbase, tm._ix_n,
            [(r.ul.tolist(), r.off.tolist(), r.ri.tolist(), r.g0, r.n, r.lo, r.hi, r.tlo, r.thi) for r in tm._runs])
    want = temporal_answers(tm)
    state = mem._state()
    blob = tmp_path / "s.bin"
    snapshot.write_snapshot(blob, state, memory_id="x", upto=1, last_entry=[0, "percept", 0.0, 0],
                            config_fp="c", journal_edits=0)
    snap, why = snapshot.read_snapshot(blob, memory_id="x", config_fp="c", journal_next_seq=1,
                                       entry_at=lambda s: [0, "percept", 0.0, 0], journal_crc=None, journal_edits=0)
    assert why == "ok"
    back = TemporalMemory()
    back.__setstate__({**back.__getstate__(), **snap.state["temporal"]})
    got = (bytes(back._rt), bytes(back._rs), bytes(back._r0), back._rbase, back._ix_n,
           [(r.ul.tolist(), r.off.tolist(), r.ri.tolist(), r.g0, r.n, r.lo, r.hi, r.tlo, r.thi) for r in back._runs])
    assert got == live
    assert all(r.ri.flags.writeable and r.off.flags.writeable for r in back._runs)
    mem.close()
    with Memory.open(path, readonly=True) as m2:
        assert (m2.snapshot_status == "ok") == (budget is None)
        assert temporal_answers(m2.temporal) == want
    if budget is None:  # continued from the snapshot, late percepts included: answers like a never-closed memory
        ref = Memory(cfg)
        more = ps[700:]
        for p in ps:
            ref.observe(p)
        with Memory.open(path) as m3:
            assert m3.snapshot_status == "ok"
            for p in more:
                m3.observe(p)
            assert temporal_answers(m3.temporal) == temporal_answers(ref.temporal)
            assert np.array_equal(np.frombuffer(m3.temporal._rt), np.frombuffer(ref.temporal._rt))
