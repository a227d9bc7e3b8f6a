"""Persistence: Memory.open (new, 0-byte, foreign, newer schema), reopening answers exactly as before,
batch durability, and SIGKILL of a writer mid-stream losing no acknowledged percept."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from embodied_mem import Memory, Percept, Pose, Sighting, StoreError, View
from embodied_mem.store import SCHEMA_VERSION


def answers(mem: Memory) -> str:
    """Every query of the API contract, as one comparable string."""
    out: dict = {}
    for label in ("key", "apple", "tree", "cup", "unicorn"):
        for at in (None, 0.5, 2, 3.5, 7, 100):
            out[f"locate {label} {at}"] = [repr(x) for x in mem.spatial.locate(label, at=at)]
            out[f"last {label} {at}"] = mem.temporal.last_seen(label, at=at)
            out[f"first {label} {at}"] = mem.temporal.first_seen(label, at=at)
        out[f"nearest {label}"] = repr(mem.spatial.nearest(label, (0, 0)))
        out[f"history {label}"] = [repr(x) for x in mem.spatial.history(label)]
    out["between"] = [repr(e) for e in mem.temporal.between(0, 100)]
    out["order"] = mem.temporal.order(["tree", "key", "apple", "unicorn"])
    out["places"] = [repr(p) for p in mem.spatial.places()]
    out["trajectory"] = [repr(p) for p in mem.spatial.trajectory()]
    out["path"] = mem.spatial.path((0, 0), (3, 0))
    out["frontiers"] = mem.spatial.frontiers()
    out["recall"] = [repr(c) for c in mem.episodic.recall("key kitchen", k=5, strengthen=False)]
    out["facts"] = [repr(f) for f in mem.semantic.facts()]
    out["facts at"] = [repr(f) for f in mem.semantic.facts(at=2)]
    out["ops"] = [repr(o) for o in mem.semantic.operations]
    out["stats"] = mem.stats()
    out["graph"] = mem.graph.to_dict()
    return json.dumps(out, sort_keys=True, default=str)


def feed(mem: Memory) -> None:
    mem.load_priors({"facts": [["tree", "gives", "wood"]]})
    mem.observe(Percept(t=1, pose=Pose(0, 0), region="kitchen", free=[[0, 0], [1, 0], [2, 0], [3, 0]],
                        sightings=[Sighting("apple", (1, 0)), Sighting("key", (0.5, 0.5), instance="key-1")]))
    mem.observe(Percept(t=2, pose=Pose(10, 0), region="hall", sightings=[Sighting("key", (10.5, 0), instance="key-1"),
                                                                         Sighting("tree", (12, 0))]))
    mem.retrieve("where is the key?")  # strengthens recalled chunks: journaled
    mem.observe(Percept(t=3, pose=Pose(0, 0), region="kitchen", view=View.disc((0, 0), 3), events=["ate apple"],
                        action="do", target="apple"))
    mem.observe(Percept(t=2.5, source="camera", sightings=[Sighting("cup", (0, 2))]))  # late, other source
    mem.new_episode()
    mem.observe(Percept(t=7, pose=Pose(10, 0), region="hall", blocked=[[11, 0]], sightings=[Sighting("tree", (12, 0))]))
    mem.semantic.assert_fact("key", "located_in", "hall", t=7)
    mem.semantic.retract("tree", "gives", "wood", t=7)
    mem.reinforce(mem.episodic.chunks()[0], 1.0)
    mem.consolidate()


@pytest.mark.parametrize("durability", ["percept", "batch"])
def test_reopening_answers_every_query_exactly_as_before(tmp_path, durability):
    path = tmp_path / "m.db"
    mem = Memory.open(path, durability=durability, config={"spatial": {"place_radius": 2.5}})
    feed(mem)
    before = answers(mem)
    mem.close()
    again = Memory.open(path, readonly=True)
    assert again.config.spatial.place_radius == 2.5  # the stored config is used
    assert answers(again) == before
    again.close()
    # and an in-memory Memory fed the same way answers the same (persistence adds nothing)
    ram = Memory({"spatial": {"place_radius": 2.5}})
    feed(ram)
    strip = json.loads(before)
    ram_answers = json.loads(answers(ram))
    for d in (strip, ram_answers):  # wall-clock recorded_at differs between the two runs
        d.pop("graph")
    assert ram_answers == strip


def test_writes_after_reopening_continue_the_journal(tmp_path):
    path = tmp_path / "m.db"
    with Memory.open(path) as mem:
        a = mem.observe(Percept(t=1, sightings=[Sighting("key", (0, 0))]))
    with Memory.open(path) as mem:
        with pytest.raises(ValueError, match="backwards"):
            mem.observe(Percept(t=0.5))  # time order per source survives reopening
        b = mem.observe(Percept(t=2, sightings=[Sighting("key", (0, 0))]))
    assert b > a
    with Memory.open(path, readonly=True) as mem:
        assert mem.temporal.seen_times("key") == [1, 2]


def test_missing_and_zero_byte_files_make_a_new_memory(tmp_path):
    missing = tmp_path / "new" / "memory.db"
    with Memory.open(missing) as mem:
        assert mem.stats()["percepts"] == 0 and mem.path == missing
    empty = tmp_path / "empty.db"
    empty.touch()
    with Memory.open(empty) as mem:
        mem.observe(Percept(t=1))
    with Memory.open(empty, readonly=True) as mem:
        assert mem.stats()["percepts"] == 1


def test_foreign_and_newer_files_are_refused_naming_the_file(tmp_path):
    foreign = tmp_path / "photo.jpg"
    foreign.write_bytes(b"\xff\xd8\xff\xe0 not a database")
    with pytest.raises(StoreError, match="photo.jpg"):
        Memory.open(foreign)
    assert foreign.read_bytes().startswith(b"\xff\xd8")
    newer = tmp_path / "newer.db"
    Memory.open(newer).close()
    c = sqlite3.connect(newer)
    c.execute(f"PRAGMA user_version={SCHEMA_VERSION + 5}")
    c.commit()
    c.close()
    with pytest.raises(StoreError, match="newer.db.*newer"):
        Memory.open(newer)
    Memory.open(tmp_path / "ok.db").close()  # a refusal leaves no lock behind
    with Memory.open(tmp_path / "ok.db"):
        pass


def test_batch_mode_is_queryable_at_once_and_durable_after_flush(tmp_path):
    path = tmp_path / "b.db"
    mem = Memory.open(path, durability="batch")
    mem.observe(Percept(t=1, sightings=[Sighting("key", (0, 0))]))
    assert mem.spatial.locate("key")  # queryable at once
    with Memory.open(path, readonly=True) as reader:
        assert reader.stats()["percepts"] == 0  # not yet durable
    mem.flush()
    with Memory.open(path, readonly=True) as reader:
        assert reader.spatial.locate("key")
    mem.close()


WRITER = textwrap.dedent("""
    import sys
    from embodied_mem import Memory, Percept, Pose, Sighting
    path, durability = sys.argv[1], sys.argv[2]
    mem = Memory.open(path, durability=durability)
    i = 0
    while True:
        pid = mem.observe(Percept(t=float(i), pose=Pose(i % 50, 0), sightings=[Sighting(f"thing{i}", (i % 50, 1))]))
        if durability == "batch" and i % 7 == 6:
            mem.flush()
            sys.stdout.write(f"flushed {pid}\\n")
        elif durability == "percept":
            sys.stdout.write(f"ack {pid} {i}\\n")
        sys.stdout.flush()
        i += 1
""")


@pytest.mark.parametrize("durability", ["percept", "batch"])
def test_sigkill_mid_stream_loses_no_acknowledged_percept(tmp_path, durability):
    path = tmp_path / "crash.db"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    proc = subprocess.Popen([sys.executable, str(script), str(path), durability], stdout=subprocess.PIPE, text=True)
    acked: list[int] = []
    deadline = time.monotonic() + 60
    try:
        while len(acked) < 150 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            acked.append(int(line.split()[1]))
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # mid-stream: it was writing when killed
        proc.wait(timeout=30)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL and len(acked) >= 20
    with Memory.open(path) as mem:  # reopens for writing: the crashed writer's lock is gone
        times = [e.t for e in mem.temporal.between(-1, 1e9)]
        n = mem.stats()["percepts"]
        # every acknowledged percept is there (the ack was written after observe/flush returned) ...
        assert n >= acked[-1] + 1
        assert times == [float(i) for i in range(n)]  # ... in order, nothing torn or duplicated
        for i in (0, acked[-1]):
            assert mem.temporal.last_seen(f"thing{i}") == float(i)
        mem.observe(Percept(t=float(n), pose=Pose(0, 0)))  # and it goes on


def test_operations_before_any_percept_are_journaled(tmp_path):
    path = tmp_path / "early.db"
    with Memory.open(path) as mem:  # now is -inf: nothing may journal an infinite time
        assert mem.consolidate() == []
        mem.new_episode()
        mem.semantic.assert_fact("a", "is", "b")
        mem.semantic.retract("a", "is", "b")
        before = answers(mem)
    with Memory.open(path, readonly=True) as mem:
        assert answers(mem) == before
        assert [o.op for o in mem.semantic.operations] == ["ADD", "DELETE"]
