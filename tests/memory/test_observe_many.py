"""``Memory.observe_many``: a batch answers like the same percepts observed one by one, is all or
none (a bad percept or a write error anywhere refuses the whole batch and changes nothing), and
is durable on return with ``durability="percept"`` (it survives the process being killed)."""

from __future__ import annotations

import json
import math
import re
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embodied_mem import Memory, Percept, Pose, Sighting, View
from embodied_mem.memory import TimeOrderError
from embodied_mem.store import MemoryStore, StoreError

LABELS = ["key", "apple", "tree", "cup"]
REGIONS = ["kitchen", "hall", "bedroom"]
coord = st.integers(0, 12).map(lambda v: v / 2)


@st.composite
def streams(draw):
    """Percepts in time order (two sources, ties allowed), a few fact assertions between them, and
    where the stream is cut into batches."""
    t, out = 0.0, []
    for _ in range(draw(st.integers(1, 30))):
        t += draw(st.sampled_from([0.0, 0.5, 1.0, 2.0]))
        if draw(st.integers(0, 7)) == 0:
            out.append(("fact", (draw(st.sampled_from(LABELS)), "located_in", draw(st.sampled_from(REGIONS)), t)))
            continue
        pose = Pose(draw(coord), draw(coord)) if draw(st.booleans()) else None
        view = View.disc((draw(coord), draw(coord)), draw(st.sampled_from([0.5, 1.5, 3.0]))) if draw(st.booleans()) else None
        sights = tuple(Sighting(draw(st.sampled_from(LABELS)), (draw(coord), draw(coord)),
                                instance=draw(st.sampled_from([None, None, "key-1"])),
                                confidence=draw(st.sampled_from([0.5, 1.0])))
                       for _ in range(draw(st.integers(0, 4))))
        out.append(("percept", Percept(
            t=t, pose=pose, view=view, sightings=sights, source=draw(st.sampled_from(["cam", "lidar"])),
            events=tuple(draw(st.lists(st.sampled_from(["door opened", "ate apple"]), max_size=1))),
            region=draw(st.sampled_from([None, *REGIONS])),
            free=[[draw(coord), draw(coord)]] if draw(st.booleans()) else None,
            action=draw(st.sampled_from([None, "do"])), target=draw(st.sampled_from([None, "tree"])))))
    cuts = draw(st.lists(st.integers(0, len(out)), max_size=6))
    return out, sorted(set(cuts))


def feed(mem: Memory, stream, cuts=None) -> None:
    """One by one (cuts None), else observe_many per run of percepts between cuts and facts."""
    batch: list[Percept] = []
    for i, (kind, item) in enumerate(stream):
        if cuts is not None and i in cuts and batch:
            mem.observe_many(batch)
            batch = []
        if kind == "percept":
            if cuts is None:
                mem.observe(item)
            else:
                batch.append(item)
            continue
        if batch:
            mem.observe_many(batch)
            batch = []
        s, r, o, t = item
        mem.semantic.assert_fact(s, r, o, t=t)
    if batch:
        mem.observe_many(batch)


def everything(mem: Memory) -> str:
    out = {
        "locate": {lbl: [repr(x) for x in mem.spatial.locate(lbl)] for lbl in LABELS},
        "history": {lbl: [repr(x) for x in mem.spatial.history(lbl)] for lbl in LABELS},
        "last": {lbl: mem.temporal.last_seen(lbl) for lbl in LABELS},
        "between": [repr(e) for e in mem.temporal.between(-1, 1e9)],
        "trajectory": repr(mem.spatial.trajectory()),
        "places": [repr(p) for p in mem.spatial.places()],
        "frontiers": mem.spatial.frontiers(),
        "recall": [repr(c) for c in mem.episodic.recall("key apple kitchen door", k=5, strengthen=False)],
        "facts": [repr(f) for f in mem.semantic.facts()],
        "stats": mem.stats(),
        "graph": mem.graph.to_dict(),
    }
    # recorded_at is the wall clock of each write (two memories fed apart differ in it)
    return re.sub(r'"recorded_at": [0-9.e+-]+', '"recorded_at": _', json.dumps(out, sort_keys=True, default=str))


def journal(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as c:
        return c.execute("SELECT seq, kind, payload FROM journal ORDER BY seq").fetchall()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(), st.sampled_from([None, "percept", "batch"]))
def test_batches_answer_like_one_by_one(case, durability):
    stream, cuts = case
    with tempfile.TemporaryDirectory() as d:
        if durability is None:
            one, many = Memory(), Memory()
        else:
            one = Memory.open(Path(d) / "one.db", durability=durability)
            many = Memory.open(Path(d) / "many.db", durability=durability)
        feed(one, stream)
        feed(many, stream, cuts)
        assert everything(many) == everything(one)
        if durability is None:
            return
        one.close()
        many.close()
        assert journal(Path(d) / "many.db") == journal(Path(d) / "one.db")  # the same rows, byte for byte
        with Memory.open(Path(d) / "many.db", readonly=True) as again, \
                Memory.open(Path(d) / "one.db", readonly=True) as ref:
            assert everything(again) == everything(ref)


def _scene(mem: Memory) -> None:
    mem.observe_many([Percept(t=1, pose=Pose(0, 0), region="kitchen", sightings=[Sighting("apple", (1, 0))]),
                      Percept(t=2, pose=Pose(5, 0), region="hall", sightings=[Sighting("key", (5, 1))])])


@pytest.mark.parametrize("bad, exc, match", [
    (lambda: "not a percept", TypeError, r"percepts\[2\] must be a Percept"),
    (lambda: Percept(t=1.5, sightings=[Sighting("cup", (0, 0))]), TimeOrderError, r"percepts\[2\].*backwards"),
])
@pytest.mark.parametrize("durability", ["percept", "batch"])
def test_a_bad_percept_mid_batch_refuses_the_whole_batch(tmp_path, bad, exc, match, durability):
    mem = Memory.open(tmp_path / "m.db", durability=durability)
    _scene(mem)
    before, rows = everything(mem), mem._store.count()  # noqa: SLF001
    batch = [Percept(t=3, sightings=[Sighting("tree", (1, 1))]), Percept(t=4), bad(), Percept(t=5)]
    with pytest.raises(exc, match=match):
        mem.observe_many(batch)
    assert everything(mem) == before and mem._store.count() == rows  # noqa: SLF001 - the good ones too
    assert mem.spatial.locate("tree") == []
    assert mem.observe_many([Percept(t=3)]) == [2]  # ids continue: none was consumed
    mem.close()
    with Memory.open(tmp_path / "m.db") as again:
        assert again.stats()["percepts"] == 3


def test_a_payload_that_cannot_be_encoded_journals_nothing(tmp_path):
    store = MemoryStore(tmp_path / "m.db")
    store.append("percept", 0.0, {"t": 0.0})
    with pytest.raises(ValueError, match=r"entry 1 of the batch.*nan.*nothing was journaled"):
        store.append_many("assert", 0.0, [{"t": 1.0}, {"t": math.nan}, {"t": 2.0}])
    with pytest.raises(TypeError, match="entry 0 of the batch"):
        store.append_many("assert", 0.0, [{"t": object()}])
    assert store.count() == 1 and store.next_seq == 1
    assert store.append_many("assert", 0.0, iter([{"t": 1.0}, {"t": 2.0}])) == 1 and store.next_seq == 3
    store.close()


@pytest.mark.parametrize("durability", ["percept", "batch"])
def test_disk_full_refuses_the_whole_batch_and_it_goes_in_later(tmp_path, durability):
    """SQLite's max_page_count makes the database 'full' deterministically."""
    path = tmp_path / "m.db"
    mem = Memory.open(path, durability=durability)
    _scene(mem)
    mem.flush()
    store = mem._store  # noqa: SLF001 - the test simulates a full disk on the store's own connection
    store.batch_size = 5
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count={pages + 1}")
    before, rows = everything(mem), store.count()
    batch = [Percept(t=10 + i, events=("x" * 3000,), sightings=(Sighting("cup", (i, 0)),)) for i in range(8)]
    with pytest.raises(StoreError, match="is full"):
        mem.observe_many(batch)
    assert everything(mem) == before and store.count() == rows  # none of the batch was taken
    store.conn.execute("PRAGMA max_page_count=1073741823")  # space returns
    assert mem.observe_many(batch) == list(range(2, 10))
    mem.close()
    with Memory.open(path) as again:
        assert again.stats()["percepts"] == 10 and again.spatial.count("cup") == 8


def test_a_batch_is_durable_on_return_and_survives_a_kill(tmp_path):
    """durability="percept": once observe_many returns, a killed process loses none of the batch."""
    path = tmp_path / "m.db"
    code = textwrap.dedent(f"""
        import os
        from embodied_mem import Memory, Percept, Sighting
        mem = Memory.open({str(path)!r})
        ids = mem.observe_many([Percept(t=i, sightings=[Sighting("key", (i, 0))]) for i in range(50)])
        print(ids[-1], flush=True)
        os._exit(0)  # no close, no flush
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "49"
    with Memory.open(path) as mem:
        assert mem.stats()["percepts"] == 50 and mem.temporal.last_seen("key") == 49.0
