"""MemoryStore: the SQLite journal — schema stamp, refusals naming the file, durability modes, one writer."""

from __future__ import annotations

import sqlite3

import pytest

from embodied_mem import StoreError
from embodied_mem.store import APPLICATION_ID, SCHEMA_VERSION, MemoryStore


def test_new_store_is_stamped_and_in_wal_mode(tmp_path):
    path = tmp_path / "sub" / "m.db"  # parent folders are created
    s = MemoryStore(path)
    assert s.append("percept", 1.0, {"t": 1}) == 0
    assert s.append("episode", 2.0, {"t": 1}) == 1
    s.close()
    c = sqlite3.connect(path)
    assert c.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert c.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    c.close()
    s = MemoryStore(path, readonly=True)
    assert [(seq, kind, p) for seq, kind, _, p in s.entries()] == [(0, "percept", {"t": 1}), (1, "episode", {"t": 1})]
    assert s.next_seq == 2 and s.count() == 2 and s.count("percept") == 1
    s.close()


def test_zero_byte_file_is_a_new_store(tmp_path):
    path = tmp_path / "empty.db"
    path.touch()
    s = MemoryStore(path)
    assert s.next_seq == 0 and s.count() == 0
    s.close()


def test_foreign_files_are_refused_naming_the_file(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a database")
    with pytest.raises(StoreError, match="notes.txt") as info:
        MemoryStore(text)
    assert "not an SQLite file" in str(info.value)
    assert text.read_text() == "hello, this is not a database"  # untouched

    other = tmp_path / "other.sqlite"
    c = sqlite3.connect(other)
    c.execute("CREATE TABLE t (x)")
    c.commit()
    c.close()
    with pytest.raises(StoreError, match="other.sqlite.*not an embodied_mem memory database"):
        MemoryStore(other)


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "future.db"
    MemoryStore(path).close()
    c = sqlite3.connect(path)
    c.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    c.commit()
    c.close()
    with pytest.raises(StoreError, match=r"future\.db.*schema version") as info:
        MemoryStore(path)
    assert "upgrade" in str(info.value)
    with pytest.raises(StoreError):
        MemoryStore(path, readonly=True)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="durability"):
        MemoryStore(tmp_path / "a.db", durability="sometimes")
    with pytest.raises(ValueError, match="synchronous"):
        MemoryStore(tmp_path / "a.db", synchronous="off")
    with pytest.raises(StoreError, match="no memory database"):
        MemoryStore(tmp_path / "missing.db", readonly=True)
    assert not (tmp_path / "missing.db").exists()


def test_one_writer_per_file_and_readonly_refuses_writes(tmp_path):
    path = tmp_path / "m.db"
    w = MemoryStore(path)
    with pytest.raises(StoreError, match="already open for writing"):
        MemoryStore(path)
    r = MemoryStore(path, readonly=True)  # readers need no lock
    with pytest.raises(StoreError, match="read-only"):
        r.append("percept", 0.0, {})
    r.close()
    w.close()
    MemoryStore(path).close()  # the lock is released on close


def test_batch_mode_commits_on_flush_and_at_batch_size(tmp_path):
    path = tmp_path / "b.db"
    s = MemoryStore(path, durability="batch", batch_size=3)
    s.append("percept", 0.0, {"i": 0})
    s.append("percept", 0.0, {"i": 1})

    def committed() -> int:
        c = sqlite3.connect(path)
        try:
            return c.execute("SELECT COUNT(*) FROM journal").fetchone()[0]
        finally:
            c.close()

    assert committed() == 0 and s.count() == 2  # buffered, but counted
    s.append("percept", 0.0, {"i": 2})  # reaches batch_size
    assert committed() == 3
    s.append("percept", 0.0, {"i": 3})
    s.flush()
    assert committed() == 4
    s.close()
    s.close()  # idempotent


def test_percept_mode_commits_on_append(tmp_path):
    path = tmp_path / "p.db"
    s = MemoryStore(path)
    s.append("percept", 0.0, {"i": 0})
    c = sqlite3.connect(path)
    assert c.execute("SELECT COUNT(*) FROM journal").fetchone()[0] == 1
    c.close()
    s.close()


def test_nan_payload_is_refused(tmp_path):
    s = MemoryStore(tmp_path / "n.db")
    with pytest.raises(ValueError):
        s.append("percept", 0.0, {"t": float("nan")})
    assert s.count() == 0 and s.next_seq == 0
    s.close()
