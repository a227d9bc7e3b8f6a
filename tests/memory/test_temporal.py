"""Temporal memory: first/last seen (now and at=), inclusive between, order, counts, late percepts."""

from __future__ import annotations

import random

import pytest

from embodied_mem import Memory, Percept, Sighting


def fed() -> Memory:
    mem = Memory()
    mem.observe(Percept(t=1, sightings=[Sighting("key", (0, 0))], events=["woke up"]))
    mem.observe(Percept(t=2, sightings=[Sighting("apple", (1, 0)), Sighting("key", (0, 0))]))
    mem.observe(Percept(t=4, sightings=[Sighting("tree", (5, 0))], events=["chopped tree"]))
    mem.observe(Percept(t=6, sightings=[Sighting("key", (0, 0))]))
    return mem


def test_first_and_last_seen_now_and_at():
    tm = fed().temporal
    assert tm.first_seen("key") == 1 and tm.last_seen("key") == 6
    assert tm.last_seen("key", at=5.9) == 2 and tm.last_seen("key", at=6) == 6 and tm.last_seen("key", at=0.5) is None
    assert tm.first_seen("tree", at=3.9) is None and tm.first_seen("tree", at=4) == 4
    assert tm.first_seen("unicorn") is None and tm.last_seen("unicorn") is None
    assert tm.seen_times("key") == [1, 2, 6] and tm.seen_times("key", 2, 6) == [2, 6]
    assert tm.count("key") == 3 and tm.count("key", 1.5, 5) == 1 and tm.count("nothing") == 0


def test_between_is_inclusive_and_in_time_order():
    tm = fed().temporal
    evs = tm.between(2, 4)
    assert [(e.t, e.kind, e.label or e.text) for e in evs] == [
        (2, "sighting", "apple"), (2, "sighting", "key"), (4, "sighting", "tree"), (4, "event", "chopped tree")]
    assert "apple" in str(evs[0]) and "chopped tree" in str(evs[-1])
    assert evs[0].position == (1.0, 0.0, 0.0) and evs[-1].position is None
    assert [e.text for e in tm.between(0, 10, kind="event")] == ["woke up", "chopped tree"]
    assert len(tm.between(0, 10, limit=2)) == 2
    assert tm.between(4.5, 5.5) == [] and tm.between(7, 1) == []
    assert tm.span() == (1, 6) and len(tm) == 7


def test_order_leaves_out_unseen_labels_and_duplicates():
    tm = fed().temporal
    assert tm.order(["tree", "unicorn", "key", "apple", "key"]) == ["key", "apple", "tree"]
    assert tm.order([]) == [] and tm.order(["unicorn"]) == []


def test_late_percepts_are_slotted_in_time_order():
    mem = fed()
    mem.observe(Percept(t=3, source="camera", sightings=[Sighting("key", (0, 0)), Sighting("cat", (2, 2))]))
    mem.observe(Percept(t=0.5, source="radio", sightings=[Sighting("cat", (2, 2))]))
    tm = mem.temporal
    assert [e.t for e in tm.between(0, 10)] == sorted(e.t for e in tm.between(0, 10))
    assert tm.first_seen("cat") == 0.5 and tm.last_seen("cat") == 3 and tm.seen_times("key") == [1, 2, 3, 6]
    assert tm.last_seen("key", at=2.5) == 2 and tm.order(["key", "cat"]) == ["cat", "key"]
    assert [e.source for e in tm.between(3, 3)] == ["camera", "camera"]


def test_disabled_temporal_answers_empty():
    mem = Memory({"temporal": {"enabled": False}})
    mem.observe(Percept(t=1, sightings=[Sighting("key", (0, 0))], events=["x"]))
    tm = mem.temporal
    assert tm.first_seen("key") is None and tm.last_seen("key") is None and tm.between(0, 9) == []
    assert tm.order(["key"]) == [] and tm.count("key") == 0 and tm.seen_times("key") == [] and tm.labels() == []


def _brute_gap(ts, t0=None, t1=None):
    ts = sorted(t for t in ts if (t0 is None or t >= t0) and (t1 is None or t <= t1))
    gaps = [b - a for a, b in zip(ts, ts[1:])]
    return max(gaps) if gaps and ts[-1] > ts[0] else None


def test_longest_gap_unbounded_and_in_ranges():
    mem = Memory()
    for t in (1, 2, 2, 7, 8, 20, 21):  # two sightings at t=2 (one percept): not a gap
        mem.observe(Percept(t=t, sightings=[Sighting("key", (0, 0))]))
    tm = mem.temporal
    assert tm.longest_gap("key") == 12  # 8 -> 20
    assert tm.longest_gap("key", 0, 8) == 5 and tm.longest_gap("key", 2, 7) == 5
    assert tm.longest_gap("key", 7, 8) == 1
    assert tm.longest_gap("key", 2, 2) is None  # one distinct time: no gap
    assert tm.longest_gap("key", 9, 19) is None and tm.longest_gap("unicorn") is None
    with pytest.raises(ValueError, match="before t0"):
        tm.longest_gap("key", 5, 1)


def test_longest_gap_matches_a_brute_force_scan_over_long_histories_and_late_sightings():
    rng = random.Random(3)
    mem = Memory({"spatial": {"enabled": False}, "episodic": {"enabled": False}})
    t, ts = 0.0, []
    for _ in range(9000):  # > 64 * 64 gaps: three levels of block maxima
        t += rng.choice([0, 1, 1, 2, 5, 40 * rng.random()])
        mem.observe(Percept(t=t, sightings=[Sighting("key", (0, 0))]))
        ts.append(t)
    tm = mem.temporal
    for _ in range(300):
        a, b = sorted(rng.uniform(-5, t + 5) for _ in range(2))
        assert tm.longest_gap("key", a, b) == _brute_gap(ts, a, b)
    assert tm.longest_gap("key") == _brute_gap(ts)
    mem.observe(Percept(t=t / 2 + 0.123, source="radio", sightings=[Sighting("key", (0, 0))]))  # late
    ts.append(t / 2 + 0.123)
    for a, b in ((None, None), (0, t / 2 + 1), (t / 3, t)):
        assert tm.longest_gap("key", a, b) == _brute_gap(ts, a, b)
    mem.observe(Percept(t=t + 100, sightings=[Sighting("key", (0, 0))]))  # appends keep working after it
    ts.append(t + 100)
    assert tm.longest_gap("key") == _brute_gap(ts) and tm.longest_gap("key", t - 50, None) == _brute_gap(ts, t - 50)


def test_heights_are_kept_once_any_sighting_has_one_including_late_ones():
    mem = Memory()
    mem.observe(Percept(t=1, sightings=[Sighting("key", (0, 0))]))
    mem.observe(Percept(t=3, sightings=[Sighting("key", (1, 0, 2.5))]))
    mem.observe(Percept(t=2, source="radio", sightings=[Sighting("cup", (1, 1, -1.0))]))  # late, with a height
    mem.observe(Percept(t=4, sightings=[Sighting("key", (2, 0))]))
    assert [e.position for e in mem.temporal.between(0, 9)] == [
        (0.0, 0.0, 0.0), (1.0, 1.0, -1.0), (1.0, 0.0, 2.5), (2.0, 0.0, 0.0)]
