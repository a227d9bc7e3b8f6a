"""The journal's encoding (schema version 2: MessagePack payloads, counted edits) and files of
version 1 (JSON text payloads): they open, answer exactly as before, and are upgraded in place by
a writer; a snapshot is checked against the journal's edit count without re-reading the journal,
and any edit of an earlier row (update, delete, replacing insert) still refuses it."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
from pathlib import Path

import pytest

from embodied_mem import Memory, Percept, Pose, Sighting
from embodied_mem.memory.snapshot import _READS, snapshot_path
from embodied_mem.memory_check import check_file, salvage
from embodied_mem.store import SCHEMA_VERSION, MemoryStore, StoreError, decode_row

READS = ", ".join(map(str, _READS))  # the formats this version reads, as its status line names them


def _sibling(name: str):
    spec = importlib.util.spec_from_file_location(f"_format_{name}", Path(__file__).with_name(f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


answers, feed = _sibling("test_persistence").answers, _sibling("test_persistence").feed


def to_version_1(path: Path) -> None:
    """Rewrite a closed memory file as embodied_mem wrote it before schema version 2: JSON text
    payloads, no edit-counting triggers, ``user_version`` 1."""
    c = sqlite3.connect(path)
    rows = c.execute("SELECT seq, payload FROM journal").fetchall()
    for seq, payload in rows:
        d = decode_row("percept", 0.0, payload)
        c.execute("UPDATE journal SET payload=? WHERE seq=?",
                  (json.dumps(d, separators=(",", ":"), allow_nan=False), seq))
    for (name,) in c.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall():
        c.execute(f"DROP TRIGGER {name}")
    c.execute("DELETE FROM meta WHERE key='journal_edits'")
    c.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    c.execute("PRAGMA user_version=1")
    c.commit()
    c.close()
    snapshot_path(path).unlink(missing_ok=True)


def kinds_of_payloads(path: Path) -> list[str]:
    c = sqlite3.connect(path)
    try:
        return [r[0] for r in c.execute("SELECT typeof(payload) FROM journal ORDER BY seq")]
    finally:
        c.close()


def test_new_files_store_messagepack_and_count_edits(tmp_path):
    path = tmp_path / "m.db"
    with Memory.open(path) as mem:
        feed(mem)
    assert set(kinds_of_payloads(path)) == {"blob"}
    c = sqlite3.connect(path)
    assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    assert c.execute("SELECT value FROM meta WHERE key='journal_edits'").fetchone()[0] == "0"
    c.execute("UPDATE journal SET recorded_at = recorded_at WHERE seq = 1")  # even a no-op update counts
    c.execute("DELETE FROM journal WHERE seq = 2")
    c.commit()
    assert c.execute("SELECT value FROM meta WHERE key='journal_edits'").fetchone()[0] == "2"
    c.close()


def test_payloads_round_trip_exactly(tmp_path):
    s = MemoryStore(tmp_path / "p.db")
    odd = {"f": [0.1, -0.0, 1e-300, 1.7976931348623157e308, 2.0 ** 0.5], "i": [0, -1, 2 ** 62], "n": None,
           "b": [True, False], "s": ["", "ä€😀", "nul\x00", "odd\udcffthing"], "nested": {"a": [{"b": [[]]}]}}
    s.append("assert", 12.5, odd)
    s.flush()
    (seq, kind, rec, d), = list(s.entries())
    assert (seq, kind, rec) == (0, "assert", 12.5) and d == odd
    assert json.dumps(d, sort_keys=True) == json.dumps(odd, sort_keys=True)  # floats bit-exact, types kept
    with pytest.raises(ValueError, match=r"payload\.x.*nan"):
        s.append("reinforce", 0.0, {"x": [1.0, float("nan")]})
    with pytest.raises(ValueError, match="inf"):
        s.append("percept", 0.0, {"t": 1.0, "pose": {"x": float("inf")}})
    assert s.count() == 1
    s.close()


def test_a_damaged_messagepack_row_is_skipped_named_and_salvaged(tmp_path):
    path = tmp_path / "m.db"
    with Memory.open(path) as mem:
        for i in range(5):
            mem.observe(Percept(t=i, pose=Pose(i, 0), sightings=[Sighting("tree", (i, 1))]))
    c = sqlite3.connect(path)
    blob = c.execute("SELECT payload FROM journal WHERE seq=1").fetchone()[0]
    c.execute("UPDATE journal SET payload=? WHERE seq=1", (blob[: len(blob) // 2],))  # cut short
    c.execute("UPDATE journal SET payload=? WHERE seq=2", (b"\x93\x01\x02\x03",))  # an array, not a map
    nan = b"\x82\xa1t\xcb\x7f\xf8" + bytes(6) + b"\xa6source\xa7default"  # {"t": NaN, "source": "default"}
    c.execute("UPDATE journal SET payload=? WHERE seq=3", (nan,))
    c.commit()
    c.close()
    with pytest.warns(RuntimeWarning, match="skipped 3 damaged journal row"):
        mem = Memory.open(path, readonly=True)  # the edits refuse the snapshot: a full replay finds them
    with mem:
        assert "changed since the snapshot" in mem.snapshot_status
        assert [p.split(":")[0] for p in mem.replay_problems] == [f"journal row seq {i}" for i in (1, 2, 3)]
        assert "MessagePack" in " ".join(mem.replay_problems) and "nan" in mem.replay_problems[2]
        assert mem.stats()["percepts"] == 2
    rep = check_file(path)
    assert not rep.ok and len(rep.bad_rows) == 3
    out = tmp_path / "salvaged.db"
    assert salvage(path, out) == (2, 3)
    assert check_file(out).ok
    with Memory.open(out, readonly=True) as m:
        assert m.stats()["percepts"] == 2


@pytest.mark.parametrize("durability", ["percept", "batch"])
def test_a_version_1_file_opens_read_only_and_answers_as_before(tmp_path, durability):
    path = tmp_path / "m.db"
    with Memory.open(path, durability=durability) as mem:
        feed(mem)
        before = answers(mem)
    to_version_1(path)
    assert set(kinds_of_payloads(path)) == {"text"}
    with Memory.open(path, readonly=True) as m:
        assert answers(m) == before
        assert m._store.edit_count() is None  # read-only: not upgraded, edits not counted
    c = sqlite3.connect(path)
    assert c.execute("PRAGMA user_version").fetchone()[0] == 1
    c.close()
    assert check_file(path).ok


def test_a_writer_upgrades_a_version_1_file_in_place(tmp_path):
    path = tmp_path / "m.db"
    with Memory.open(path) as mem:
        feed(mem)
    to_version_1(path)
    more = [Percept(t=9, pose=Pose(2, 2), sightings=[Sighting("key", (2, 3), instance="key-1")]),
            Percept(t=10, pose=Pose(3, 0), sightings=[Sighting("apple", (3, 1))], events=["found apple"])]
    with Memory.open(path) as mem:  # continued from a full replay of the JSON rows
        for q in more:
            mem.observe(q)
        want = answers(mem)
    kinds = kinds_of_payloads(path)
    assert kinds[-2:] == ["blob", "blob"] and set(kinds[:-2]) == {"text"}  # old rows untouched
    c = sqlite3.connect(path)
    assert c.execute("PRAGMA user_version").fetchone()[0] == 2
    assert c.execute("SELECT value FROM meta WHERE key='upgraded_from'").fetchone()[0] == "1"
    c.close()
    with Memory.open(path, readonly=True) as m:  # from the snapshot written at close
        assert m.snapshot_status == "ok" and m.replayed_entries == 0
        assert answers(m) == want
    snapshot_path(path).unlink()
    with Memory.open(path, readonly=True) as m:  # the mixed journal, replayed in full
        assert answers(m) == want
    assert check_file(path).ok


def test_snapshot_check_does_not_read_the_journal(tmp_path, monkeypatch):
    path = tmp_path / "m.db"
    with Memory.open(path) as mem:
        feed(mem)
        before = answers(mem)

    def no_full_read(self, stop):
        raise AssertionError("the snapshot check read the whole journal")

    monkeypatch.setattr(MemoryStore, "checksum", no_full_read)
    with Memory.open(path, readonly=True) as m:
        assert m.snapshot_status == "ok"
        assert answers(m) == before
        t = m.open_timings  # where the open's time went (wall seconds)
        assert set(t) == {"store", "snapshot", "replay", "total"} and min(t.values()) >= 0
        assert t["total"] >= t["store"] + t["snapshot"] + t["replay"] - 1e-6
    with Memory.open(path) as m:  # and writing the next snapshot does not either
        m.observe(Percept(t=20, sightings=[Sighting("cup", (4, 4))]))
    with Memory.open(path, readonly=True) as m:
        assert m.snapshot_status == "ok" and m.replayed_entries == 0


@pytest.mark.parametrize("edit", ["delete_and_reinsert", "insert_or_replace", "update_payload"])
def test_any_edit_of_an_earlier_row_refuses_the_snapshot(tmp_path, edit):
    path = tmp_path / "m.db"
    with Memory.open(path) as mem:
        feed(mem)
    c = sqlite3.connect(path)
    row = c.execute("SELECT seq, kind, recorded_at, payload FROM journal WHERE seq=1").fetchone()
    other = c.execute("SELECT payload FROM journal WHERE seq=3").fetchone()[0]
    if edit == "delete_and_reinsert":  # the journal ends up byte-identical: still counted
        c.execute("DELETE FROM journal WHERE seq=1")
        c.execute("INSERT INTO journal VALUES (?, ?, ?, ?)", row)
    elif edit == "insert_or_replace":  # REPLACE deletes without firing delete triggers
        c.execute("INSERT OR REPLACE INTO journal VALUES (?, ?, ?, ?)", (*row[:3], other))
    else:
        c.execute("UPDATE journal SET payload=? WHERE seq=1", (other,))
    c.commit()
    c.close()
    with Memory.open(path, readonly=True) as m:
        assert "changed since the snapshot" in m.snapshot_status
        assert m.replayed_entries > 1


def test_dropped_triggers_fall_back_to_the_full_checksum(tmp_path):
    """A file whose triggers were dropped no longer counts edits: its snapshot, which holds only an
    edit count, is refused; the next snapshot is written with the CRC of the journal instead."""
    path = tmp_path / "m.db"
    with Memory.open(path) as mem:
        feed(mem)
        before = answers(mem)
    c = sqlite3.connect(path)
    for (name,) in c.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall():
        c.execute(f"DROP TRIGGER {name}")
    c.commit()
    c.close()
    with Memory.open(path, readonly=True) as m:
        assert m._store.edit_count() is None
        assert "changed since the snapshot" in m.snapshot_status
        assert answers(m) == before
    with Memory.open(path) as m:  # a writer puts the triggers back
        assert m._store.edit_count() is not None
    with Memory.open(path, readonly=True) as m:
        assert m.snapshot_status == "ok"
        assert answers(m) == before


def test_a_newer_schema_is_still_refused(tmp_path):
    path = tmp_path / "m.db"
    MemoryStore(path).close()
    c = sqlite3.connect(path)
    c.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    c.commit()
    c.close()
    with pytest.raises(StoreError, match="newer than this embodied_mem reads"):
        Memory.open(path)


def test_a_snapshot_checked_by_journal_crc_is_used_and_an_older_format_is_ignored(tmp_path):
    """A snapshot that holds the CRC-32 of the journal before it instead of an edit count (as format
    1 did, and as for a journal that does not count edits) is checked by that CRC and used; the
    same snapshot stamped with an older format is ignored (full replay, same answers)."""
    import struct
    import zlib

    from embodied_mem.memory.snapshot import MAGIC

    path = tmp_path / "m.db"
    with Memory.open(path) as mem:
        feed(mem)
        before = answers(mem)
    to_version_1(path)
    with Memory.open(path) as mem:  # the writer upgrades, and writes a snapshot at close
        mem.observe(Percept(t=9, sightings=[Sighting("cup", (4, 4))]))
        before = answers(mem)
    snap = snapshot_path(path)
    blob = snap.read_bytes()
    (hlen,) = struct.unpack_from("<I", blob, len(MAGIC))
    h0 = len(MAGIC) + 4
    header = json.loads(blob[h0:h0 + hlen])
    store = MemoryStore(path, readonly=True)
    header.update(journal_crc=store.checksum(header["upto"]))
    store.close()
    del header["journal_edits"]

    def stamp(header: dict) -> None:
        hb = json.dumps(header, separators=(",", ":")).encode()
        snap.write_bytes(MAGIC + struct.pack("<I", len(hb)) + hb + struct.pack("<I", zlib.crc32(hb))
                         + blob[h0 + hlen + 4:])

    for old in (2, 3, 4, 5, 6, 7, 8):  # earlier formats (3: one object per pose; 4: places, cells as objects; 5: places as records, graph unblocked, episodic columns; 6: temporal names without slots; 7: spatial label names always in RAM; 8: temporal runs and label index rebuilt on load, graph blocks decoded and id index rebuilt): full replay
        stamp({**header, "format": old})
        with Memory.open(path, readonly=True) as m:
            assert m.snapshot_status == f"snapshot format {old}, this version reads {READS}" and m.replayed_entries > 0
            assert answers(m) == before
    stamp(header)
    with Memory.open(path, readonly=True) as m:
        assert m.snapshot_status == "ok" and m.replayed_entries == 0
        assert answers(m) == before
    c = sqlite3.connect(path)
    c.execute("UPDATE journal SET recorded_at = recorded_at + 1 WHERE seq = 1")
    c.commit()
    c.close()
    with Memory.open(path, readonly=True) as m:  # the CRC still catches an edit
        assert "changed since the snapshot" in m.snapshot_status
