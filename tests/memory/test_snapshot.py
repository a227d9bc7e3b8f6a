"""Snapshots: reopening from a snapshot plus the journal tail answers exactly as a full replay, and a
torn, damaged, stale, foreign or crafted snapshot is detected and ignored (full replay), never trusted."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import pickle
import shutil
import struct
import tempfile
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embodied_mem import Memory, Percept, Pose, Sighting
from embodied_mem.memory.snapshot import MAGIC, snapshot_path


def _sibling(name: str):
    """The tests' own helpers (the suite runs with --import-mode=importlib: no sibling imports)."""
    spec = importlib.util.spec_from_file_location(f"_snapshot_{name}", Path(__file__).with_name(f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_persistence, _properties = _sibling("test_persistence"), _sibling("test_properties")
answers, feed = _persistence.answers, _persistence.feed
everything, steps = _properties.everything, _properties.steps


def replay_both(path: Path) -> tuple[str, str, str]:
    """(answers from snapshot + tail, answers from a full replay, the snapshot status of the first)."""
    with Memory.open(path, readonly=True) as m:
        fast, status = answers(m), m.snapshot_status
    snap = snapshot_path(path)
    hidden = snap.with_name(snap.name + ".hidden")
    if snap.exists():
        snap.rename(hidden)
    try:
        with Memory.open(path, readonly=True) as m:
            assert m.snapshot_status == "no snapshot"
            full = answers(m)
    finally:
        if hidden.exists():
            hidden.rename(snap)
    return fast, full, status


def test_close_writes_a_snapshot_and_reopen_replays_nothing(tmp_path):
    path = tmp_path / "m.db"
    with Memory.open(path) as mem:
        feed(mem)
        before = answers(mem)
    assert snapshot_path(path).exists()
    fast, full, status = replay_both(path)
    assert status == "ok"
    with Memory.open(path, readonly=True) as m:
        assert m.replayed_entries == 0
    assert fast == full == before


def test_snapshot_older_than_the_journal_is_used_with_the_tail(tmp_path):
    path = tmp_path / "m.db"
    mem = Memory.open(path)
    feed(mem)
    mem.checkpoint()
    mem.observe(Percept(t=9, pose=Pose(2, 2), sightings=[Sighting("key", (2, 3), instance="key-1")]))
    mem.new_episode()
    mem.observe(Percept(t=10, pose=Pose(3, 0), sightings=[Sighting("apple", (3, 1))], events=["found apple"]))
    mem.flush()
    before = answers(mem)
    with Memory.open(path, readonly=True) as again:  # the writer is still open: its snapshot is older
        assert again.snapshot_status == "ok"
        assert answers(again) == before
    mem.close()


def _write_snapshot_pair(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "m.db"
    with Memory.open(path) as mem:
        feed(mem)
        before = answers(mem)
    return path, before


@pytest.mark.parametrize("damage", ["truncate_payload", "truncate_header", "flip_payload", "flip_header",
                                    "empty", "garbage"])
def test_a_torn_or_damaged_snapshot_is_ignored(tmp_path, damage):
    path, before = _write_snapshot_pair(tmp_path)
    snap = snapshot_path(path)
    blob = bytearray(snap.read_bytes())
    if damage == "truncate_payload":
        blob = blob[:-100]
    elif damage == "truncate_header":
        blob = blob[:20]
    elif damage == "flip_payload":
        blob[len(blob) // 2 + 300] ^= 0x40
    elif damage == "flip_header":
        blob[len(MAGIC) + 30] ^= 0x01
    elif damage == "empty":
        blob = bytearray()
    else:
        blob = bytearray(os.urandom(4096))
    snap.write_bytes(bytes(blob))
    with Memory.open(path, readonly=True) as m:
        assert m.snapshot_status not in ("ok", "no snapshot")
        assert answers(m) == before
    with Memory.open(path) as m:  # a writer replaces the bad snapshot at close
        assert answers(m) == before
    with Memory.open(path, readonly=True) as m:
        assert m.snapshot_status == "ok"
        assert answers(m) == before


def test_snapshot_of_another_memory_is_ignored(tmp_path):
    a, before = _write_snapshot_pair(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    b = other / "m.db"
    with Memory.open(b) as mem:
        feed(mem)  # the same stream: only the file identity tells them apart
        mem.observe(Percept(t=20, sightings=[Sighting("unicorn", (1, 1))]))
    shutil.copy(snapshot_path(b), snapshot_path(a))
    with Memory.open(a, readonly=True) as m:
        assert m.snapshot_status == "snapshot of another memory database"
        assert answers(m) == before


def test_snapshot_newer_than_the_journal_or_of_a_diverged_journal_is_ignored(tmp_path):
    path = tmp_path / "m.db"
    mem = Memory.open(path)
    feed(mem)
    mem.close()
    copy = tmp_path / "copy.db"
    shutil.copy(path, copy)  # the same memory (same id), as it was before the next percepts
    with Memory.open(path) as mem:
        mem.observe(Percept(t=30, sightings=[Sighting("cup", (4, 4))]))
    shutil.copy(snapshot_path(path), snapshot_path(copy))  # ends past copy's journal
    with Memory.open(copy, readonly=True) as m:
        assert "past the journal's end" in m.snapshot_status
        full = answers(m)
    # the copy goes its own way (more entries than the snapshot, but different ones)
    with Memory.open(copy) as m:
        m.observe(Percept(t=31, sightings=[Sighting("tree", (5, 5))]))
        m.observe(Percept(t=32, sightings=[Sighting("tree", (5, 6))]))
        diverged = answers(m)
        assert answers(m) != full
    shutil.copy(snapshot_path(path), snapshot_path(copy))
    with Memory.open(copy, readonly=True) as m:
        assert "diverged" in m.snapshot_status
        assert answers(m) == diverged


def test_other_settings_ignore_the_snapshot(tmp_path):
    path, _ = _write_snapshot_pair(tmp_path)
    cfg = {"spatial": {"match_tolerance": 2.0}}
    with Memory.open(path, config=cfg, readonly=True) as m:
        assert "other memory settings" in m.snapshot_status
        got = answers(m)
    fresh = Memory(cfg)
    feed(fresh)
    assert got.count("key") == answers(fresh).count("key")


class _Boom:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_crafted_payload_with_a_valid_checksum_cannot_run_code(tmp_path, monkeypatch):
    import json

    path, before = _write_snapshot_pair(tmp_path)
    snap = snapshot_path(path)
    blob = snap.read_bytes()
    (hlen,) = struct.unpack_from("<I", blob, len(MAGIC))
    header = json.loads(blob[len(MAGIC) + 4:len(MAGIC) + 4 + hlen])
    payload = pickle.dumps({"graph": _Boom()}, protocol=5)
    header.update(payload_len=len(payload), payload_crc=zlib.crc32(payload), pickle_len=len(payload), buffers=[])
    h = json.dumps(header).encode()
    snap.write_bytes(MAGIC + struct.pack("<I", len(h)) + h + struct.pack("<I", zlib.crc32(h)) + payload)
    monkeypatch.chdir(tmp_path)
    with Memory.open(path, readonly=True) as m:
        assert "may not contain" in m.snapshot_status
        assert answers(m) == before
    assert not (tmp_path / "pwned").exists()


def test_periodic_snapshots_bound_the_replayed_tail(tmp_path):
    path = tmp_path / "m.db"
    mem = Memory.open(path, config={"snapshot_every": 5})
    for i in range(23):
        mem.observe(Percept(t=float(i), pose=Pose(i % 4, 0), sightings=[Sighting("tree", (i % 4, 1))]))
    # no close: as after a crash, the latest periodic snapshot and the journal are on disk
    with Memory.open(path, readonly=True) as m:
        assert m.snapshot_status == "ok"
        assert m.replayed_entries == 3  # 23 entries, the last snapshot after the 20th
        assert answers(m) == answers(mem)
    mem.close()


@st.composite
def lifelong(draw):
    """A stream over several worlds with episodes, recalls and reinforcement between the percepts."""
    parts = draw(st.lists(st.tuples(steps(), st.sampled_from([None, "w1", "w2"]), st.booleans()),
                          min_size=1, max_size=3))
    return parts, draw(st.integers(0, 40))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lifelong(), st.sampled_from(["percept", "batch"]))
def test_snapshot_plus_tail_equals_full_replay(stream, durability):
    parts, cut = stream
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.db"
        mem = Memory.open(path, durability=durability)
        n = 0
        offset = 0.0
        wrote = False
        for items, world, episode in parts:
            if world is not None:
                mem.enter_world(world)
            if episode:
                mem.new_episode()
            base = offset  # each part's clock continues after everything before it
            for kind, item in items:
                if n == cut:
                    wrote = mem.checkpoint() is not None  # None: nothing journaled yet
                n += 1
                if kind == "percept":
                    mem.observe(dataclasses.replace(item, t=item.t + base))
                    offset = max(offset, item.t + base)
                else:
                    s, r, o, c, t = item
                    mem.semantic.assert_fact(s, r, o, confidence=c, t=t + base)
                    offset = max(offset, t + base)
            mem.retrieve("where is the key apple?")
            chunks = mem.episodic.chunks()
            if chunks:
                mem.reinforce(chunks[-1], 1.0)
        mem.flush()
        live = everything(mem)
        with Memory.open(path, readonly=True) as fast:
            status = fast.snapshot_status
            fast_answers = everything(fast)
        os.replace(snapshot_path(path), Path(d) / "aside") if snapshot_path(path).exists() else None
        with Memory.open(path, readonly=True) as full:
            full_answers = everything(full)
        mem.close()
        assert status == ("ok" if wrote else "no snapshot")
        assert fast_answers == full_answers == live


SNAPSHOTTING_WRITER = """
import sys
from embodied_mem import Memory, Percept, Pose, Sighting
mem = Memory.open(sys.argv[1], config={"snapshot_every": 3})
i = 0
while True:
    pid = mem.observe(Percept(t=float(i), pose=Pose(i % 50, 0), sightings=[Sighting(f"thing{i}", (i % 50, 1))]))
    sys.stdout.write(f"ack {pid}\\n")
    sys.stdout.flush()
    i += 1
"""


def test_sigkill_while_snapshotting_loses_nothing_and_reopens_exactly(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "crash.db"
    script = tmp_path / "writer.py"
    script.write_text(SNAPSHOTTING_WRITER)
    proc = subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True)
    acked: list[int] = []
    deadline = time.monotonic() + 60
    try:
        while len(acked) < 200 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            acked.append(int(line.split()[1]))
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # a snapshot is written every 3 percepts: often mid-write
        proc.wait(timeout=30)
        proc.stdout.close()
    assert len(acked) >= 20
    fast, full, status = replay_both(path)
    assert status == "ok"  # the last complete snapshot (a half-written one is a temporary file)
    assert fast == full
    with Memory.open(path) as mem:
        assert mem.stats()["percepts"] >= acked[-1] + 1
        assert mem.temporal.last_seen(f"thing{acked[-1]}") == float(acked[-1])
    assert [p.name for p in tmp_path.glob("crash.db.snapshot*")] == ["crash.db.snapshot"]  # no temporary left


def test_a_snapshot_of_another_module_version_is_ignored(tmp_path, monkeypatch):
    from embodied_mem.memory.temporal import TemporalMemory

    path, before = _write_snapshot_pair(tmp_path)
    real_init = TemporalMemory.__init__

    def init_with_a_new_field(self, *a, **k):
        real_init(self, *a, **k)
        self._new_index = {}  # as if a later version added state

    monkeypatch.setattr(TemporalMemory, "__init__", init_with_a_new_field)
    with Memory.open(path, readonly=True) as m:
        assert m.snapshot_status.startswith("snapshot state unusable")
        assert m.replayed_entries > 0
        monkeypatch.undo()
        assert answers(m) == before


def test_working_memory_mode_and_instance_wrappers_round_trip(tmp_path):
    path = tmp_path / "m.db"
    cfg = {"long_term": {"enabled": False, "working_memory_size": 2}}
    with Memory.open(path, config=cfg) as mem:
        feed(mem)
        mem.enter_world("w")
        mem.observe(Percept(t=0.5, pose=Pose(1, 1), sightings=[Sighting("cup", (1, 2))]))
        raw_locate, raw_nodes = mem.spatial.locate, mem.graph.nodes
        mem.spatial.locate = lambda *a, **k: raw_locate(*a, **k)  # wrappers on instances (locks, journaling)
        mem.graph.nodes = lambda *a, **k: raw_nodes(*a, **k)
        before = answers(mem)
    fast, full, status = replay_both(path)
    assert status == "ok"
    assert fast == full == before


def test_an_earlier_journal_row_changed_after_the_snapshot_means_full_replay(tmp_path):
    import sqlite3

    path, _ = _write_snapshot_pair(tmp_path)
    c = sqlite3.connect(path)
    c.execute("UPDATE journal SET recorded_at = recorded_at + 1 WHERE seq = 1")  # not the last entry
    c.commit()
    c.close()
    with Memory.open(path, readonly=True) as m:
        assert "changed since the snapshot" in m.snapshot_status
        assert m.replayed_entries > 1
