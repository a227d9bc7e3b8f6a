"""Hostile percepts (issue 18, items 6, 7, 10, 13): refused before the journal sees them, naming
the field; never a file that cannot be reopened; huge views and late percepts cost what they change."""

from __future__ import annotations

import json
import sqlite3
import warnings
from decimal import Decimal

import numpy as np
import pytest

from embodied_mem import Memory, Percept, Pose, Sighting, View
from embodied_mem.memory.snapshot import snapshot_path
from embodied_mem.memory.temporal import _Gaps  # noqa: PLC2701
from embodied_mem.percept import (
    MAX_COORD,
    MAX_EVENTS,
    MAX_HOLES,
    MAX_LABEL_LEN,
    MAX_POINTS,
    MAX_SIGHTINGS,
    MAX_TEXT_LEN,
    MAX_TIME,
)


def rows(path) -> int:
    c = sqlite3.connect(path)
    try:
        return c.execute("SELECT COUNT(*) FROM journal").fetchone()[0]
    finally:
        c.close()


# ---------------------------------------------------------------- item 6: poison values
@pytest.mark.parametrize("value", [10**400, -(10**400), 1e200, -1e10, MAX_COORD * 1.0000001])
def test_out_of_range_coordinates_refused_naming_the_field(value):
    with pytest.raises(ValueError, match=r"Sighting\.position\[0\].*out of range"):
        Sighting("key", (value, 0))
    with pytest.raises(ValueError, match=r"Pose\.x.*out of range"):
        Pose(value, 0)
    with pytest.raises(ValueError, match=r"Percept\.free.*out of range"):
        Percept(t=0, free=[[value, 0]])


@pytest.mark.parametrize("value", ["1.0", b"1", Decimal("1"), True, np.bool_(True), None, [1.0], 1j])
def test_non_numbers_refused_not_coerced(value):
    for make, field in ((lambda: Pose(value, 0), "Pose.x"), (lambda: Percept(t=value), "Percept.t"),
                        (lambda: Sighting("key", (0, value)), r"Sighting.position\[1\]"),
                        (lambda: View.disc((0, 0), value), "View.radius")):
        with pytest.raises(TypeError, match=field):
            make()
    if value is not None:  # free=None means "no free cells"
        with pytest.raises(TypeError, match=r"Percept\.free"):
            Percept(t=0, free=[[0.0, value]])
        with pytest.raises(TypeError, match=r"Percept\.blocked"):
            Percept(t=0, blocked=np.array([[0.0, value]], dtype=object))


def test_time_range():
    assert Percept(t=MAX_TIME).t == MAX_TIME
    with pytest.raises(ValueError, match=r"Percept\.t.*out of range"):
        Percept(t=MAX_TIME * 10)
    with pytest.raises(ValueError, match=r"Percept\.t.*out of range"):
        Percept(t=10**400)


def test_poison_instance_jump_refused_before_journal_and_file_reopens(tmp_path):
    """Issue: an instance at 1 m then at 1e200 m raised OverflowError after being journaled, and the
    file could never be opened again."""
    path = tmp_path / "m.db"
    with Memory.open(path) as mem:
        mem.observe(Percept(t=0, sightings=(Sighting("key", (1, 0), instance="k1"),)))
        with pytest.raises(ValueError, match=r"Sighting\.position\[0\]"):
            mem.observe(Percept(t=1, sightings=(Sighting("key", (1e200, 0), instance="k1"),)))
        assert mem.stats()["percepts"] == 1
    assert rows(path) == 1  # the refused percept never reached the journal
    with Memory.open(path) as mem:
        assert [loc.position for loc in mem.spatial.locate("key")] == [(1.0, 0.0, 0.0)]


def test_a_poisoned_journal_row_is_skipped_and_reported_on_reopen(tmp_path):
    """A file written before the range checks (or tampered with) still opens; the bad row is named."""
    path = tmp_path / "m.db"
    with Memory.open(path) as mem:
        for i in range(4):
            mem.observe(Percept(t=i, sightings=(Sighting("key", (i, 0), instance="k1"),)))
    c = sqlite3.connect(path)
    bad = {"t": 2, "source": "default", "sightings": [{"label": "key", "position": [1e200, 0, 0], "instance": "k1"}]}
    c.execute("UPDATE journal SET payload=? WHERE seq=2", (json.dumps(bad),))  # the percept at t=2
    c.execute("UPDATE journal SET payload=? WHERE seq=1",  # the percept at t=1 (JSON text: as in a version-1 file)
              ('{"t":NaN,"source":"default"}',))
    assert c.execute("SELECT kind FROM journal WHERE seq IN (1, 2)").fetchall() == [("percept",), ("percept",)]
    c.commit()
    c.close()
    # the snapshot written at close() holds the state after those rows and is trusted while the
    # journal's last entry is unchanged: drop it so that open replays (and checks) the rows
    snapshot_path(path).unlink(missing_ok=True)
    with pytest.warns(RuntimeWarning, match="skipped 2 damaged journal row"):
        mem = Memory.open(path)
    try:
        assert len(mem.replay_problems) == 2
        assert any("NaN" in p for p in mem.replay_problems)
        assert any("out of range" in p for p in mem.replay_problems)
        assert mem.spatial.locate("key")[0].position == (3.0, 0.0, 0.0)
        mem.observe(Percept(t=5, sightings=(Sighting("key", (5, 0), instance="k1"),)))  # still writable
    finally:
        mem.close()


@pytest.mark.parametrize("label, what", [("a\x00b", "control character"), ("k\udcff", "lone surrogate"),
                                         ("x" * (MAX_LABEL_LEN + 1), "too long"), ("tab\there", "control")])
def test_labels_must_be_printable_and_bounded(label, what):
    with pytest.raises(ValueError, match=rf"Sighting\.label.*{what}"):
        Sighting(label, (0, 0))
    with pytest.raises(ValueError, match=rf"Percept\.source.*{what}"):
        Percept(t=0, source=label)


def test_event_text_allows_newlines_but_is_bounded():
    assert Percept(t=0, events=("line one\nline two\tend",)).events
    with pytest.raises(ValueError, match=r"Percept\.events\[0\].*too long"):
        Percept(t=0, events=("x" * (MAX_TEXT_LEN + 1),))
    with pytest.raises(ValueError, match=r"Percept\.events\[0\].*control"):
        Percept(t=0, events=("nul\x00",))


# ---------------------------------------------------------------- item 13: one percept's cost is bounded
def test_counts_per_percept_are_capped():
    s = Sighting("tree", (0, 0))
    with pytest.raises(ValueError, match=r"Percept\.sightings has too many"):
        Percept(t=0, sightings=[s] * (MAX_SIGHTINGS + 1))
    with pytest.raises(ValueError, match=r"Percept\.events has too many"):
        Percept(t=0, events=["e"] * (MAX_EVENTS + 1))
    with pytest.raises(ValueError, match=r"Percept\.free has too many points"):
        Percept(t=0, free=np.zeros((MAX_POINTS + 1, 2)))
    with pytest.raises(ValueError, match=r"View\.holes has too many points"):
        View.disc((0, 0), 5).without(np.zeros((MAX_HOLES + 1, 2)))


def test_an_endless_iterator_is_refused_not_drained():
    import itertools

    with pytest.raises(ValueError, match=r"Percept\.events has too many"):
        Percept(t=0, events=itertools.repeat("again"))


def test_masked_view_with_many_holes_and_beliefs_stays_bounded():
    mem = Memory()
    mem.observe(Percept(t=0, sightings=tuple(Sighting("tree", (i % 100, i // 100)) for i in range(MAX_SIGHTINGS))))
    holes = np.stack([np.arange(MAX_HOLES) % 100 + 0.5, np.arange(MAX_HOLES) // 100 + 0.5], 1)
    mem.observe(Percept(t=1, view=View.rect(-1, -1, 101, 101).without(holes, radius=0.1)))
    assert mem.spatial.locate("tree") == []  # every tree inside the view, none hidden: all invalidated


# ---------------------------------------------------------------- item 7: huge views
@pytest.mark.timeout(60)
@pytest.mark.parametrize("view", [View.disc((0, 0), 1e7), View.rect(-1e9, -1e9, 1e9, 1e9),
                                  View.cone(Pose(0, 0), MAX_COORD, 1.0), View.disc((5e8, -5e8), 1e9)])
def test_huge_views_cost_the_beliefs_not_the_area(tmp_path, view):
    path = tmp_path / "m.db"
    with Memory.open(path) as mem:
        for i in range(50):
            mem.observe(Percept(t=i, sightings=(Sighting("tree", (i * 10.0, 3.0)),)))
        mem.observe(Percept(t=100, view=view))
        left = len(mem.spatial.locate("tree"))
        inside = sum(view.contains((i * 10.0, 3.0)) for i in range(50))
        assert inside > 0 and left == 50 - inside
    with Memory.open(path) as mem:  # and the file reopens (replays the view) without hanging
        assert len(mem.spatial.locate("tree")) == left


# ---------------------------------------------------------------- item 10: late percepts
def test_late_sighting_updates_gap_index_in_place(monkeypatch):
    mem = Memory()
    for i in range(3000):
        mem.observe(Percept(t=float(i), source="a", sightings=(Sighting("key", (1, 0)),)))
    assert mem.temporal.longest_gap("key") == 1.0  # its gap hierarchy is built by its first gap query

    def no_rebuild(*a, **k):
        raise AssertionError("a late percept rebuilt the whole gap index (O(n))")

    monkeypatch.setattr(_Gaps, "build", classmethod(no_rebuild))
    beliefs = mem.spatial._b  # the test counts its work: reads of the sightings log's back links
    calls = {"n": 0}

    class CountingLinks(list):
        def __getitem__(self, i):
            calls["n"] += 1
            return super().__getitem__(i)

    beliefs.hprev = CountingLinks(beliefs.hprev)
    mem.observe(Percept(t=2998.5, source="b", sightings=(Sighting("key", (1, 0)),)))
    assert calls["n"] < 10, f"a late sighting decoded {calls['n']} earlier sightings"
    assert mem.temporal.count("key") == 3001
    assert mem.temporal.longest_gap("key") == pytest.approx(1.0)


def test_late_percepts_answer_as_if_they_had_come_in_order():
    """Same answers as observing the same percepts sorted by time (within each label)."""
    rng = np.random.default_rng(3)
    ts = np.round(rng.uniform(0, 100, 400), 1)
    spots = [(0.0, 0.0), (1.0, 0.0), (5.0, 5.0)]
    late = Memory()
    ordered = Memory()
    for k, t in enumerate(ts):
        pos = spots[k % 3]
        late.observe(Percept(t=float(t), source=f"s{k}", sightings=(Sighting("key", pos, instance="k"),
                                                                     Sighting("tree", (2.0, 2.0)))))
    for k in np.argsort(ts, kind="stable"):
        ordered.observe(Percept(t=float(ts[k]), source="one", sightings=(Sighting("key", spots[k % 3], instance="k"),
                                                                         Sighting("tree", (2.0, 2.0)))))
    for label in ("key", "tree"):
        for at in (None, 10.0, 50.0, 99.0):
            assert late.temporal.last_seen(label, at=at) == ordered.temporal.last_seen(label, at=at)
            assert late.temporal.count(label, None, at) == ordered.temporal.count(label, None, at)
        assert late.temporal.longest_gap(label) == pytest.approx(ordered.temporal.longest_gap(label))
        for a, b in ((0, 30), (20, 80), (55.5, 99)):
            assert late.temporal.longest_gap(label, a, b) == pytest.approx(ordered.temporal.longest_gap(label, a, b))


def test_refused_percepts_change_nothing(tmp_path):
    path = tmp_path / "m.db"
    with Memory.open(path) as mem:
        mem.observe(Percept(t=0, sightings=(Sighting("key", (1, 0)),)))
        before = (rows(path), mem.stats())
        for bad in ({"t": 1, "sightings": [{"label": "key", "position": [1e300, 0]}]},
                    {"t": "1"}, {"t": 1, "free": [["1", 0]]}, {"t": 1, "source": "\udcff"}):
            with pytest.raises((ValueError, TypeError)):
                mem.observe(Percept.from_dict(bad))
        assert (rows(path), mem.stats()) == before
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Memory.open(path, readonly=True).close()
