"""SQLite persistence for memory: an append-only journal, replayed on open.

Every percept and every operation that changes memory (new episode, recall strengthening,
reinforcement, asserted or retracted facts, priors, consolidation) is one row of the ``journal``
table, in the order it was applied. Memory state is a pure function of that journal, so reopening
answers every query exactly as before, and nothing acknowledged is ever rewritten.

- WAL mode; one writer per file (an exclusive ``flock`` on the database file; readers need none).
- ``durability="percept"``: each ``append`` commits before returning — the row survives a SIGKILL of
  the process (``synchronous="full"`` also fsyncs, for power loss).
- ``durability="batch"``: rows are buffered and committed by ``flush()`` (and ``close()``), or every
  ``batch_size`` rows.
- The file is stamped with ``PRAGMA application_id`` and a schema version (``user_version``, mirrored
  in the ``meta`` table); foreign files and newer schema versions are refused, naming the file.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["MemoryStore", "StoreError", "SCHEMA_VERSION", "APPLICATION_ID"]

SCHEMA_VERSION = 1
APPLICATION_ID = 0x454D454D  # "EMEM"
_SQLITE_HEADER = b"SQLite format 3\x00"


class StoreError(ValueError):
    """The file cannot be used as a memory database (foreign, newer schema, locked, read-only)."""


class MemoryStore:
    def __init__(self, path: str | Path, *, durability: str = "percept", synchronous: str = "normal",
                 readonly: bool = False, batch_size: int = 10_000) -> None:
        if durability not in ("percept", "batch"):
            raise ValueError(f"durability must be 'percept' or 'batch', got {durability!r}")
        if synchronous not in ("normal", "full"):
            raise ValueError(f"synchronous must be 'normal' or 'full', got {synchronous!r}")
        self.path = Path(path)
        self.durability = durability
        self.readonly = readonly
        self.batch_size = int(batch_size)
        self._pending: list[tuple[int, str, float, str]] = []
        self._lock_fd: int | None = None
        new = not self.path.exists() or self.path.stat().st_size == 0
        if readonly and new:
            raise StoreError(f"{self.path}: no memory database there to open read-only")
        if not new:
            with open(self.path, "rb") as f:
                head = f.read(16)
            if head != _SQLITE_HEADER:
                raise StoreError(f"{self.path} is not an embodied_mem memory database (not an SQLite file)")
        if new:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        if not readonly:
            self._lock_fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(self._lock_fd)
                self._lock_fd = None
                raise StoreError(f"{self.path} is already open for writing by another Memory "
                                 "(one writer per file; open it with readonly=True to read)") from None
        try:
            if readonly:
                self.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None,
                                            check_same_thread=False)
            else:
                self.conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            self._check_or_create(new, synchronous)
        except sqlite3.DatabaseError as exc:
            self._release()
            raise StoreError(f"{self.path} is not a usable embodied_mem memory database: {exc}") from None
        except BaseException:
            self._release()
            raise
        row = self.conn.execute("SELECT COALESCE(MAX(seq), -1) FROM journal").fetchone()
        self._next_seq = int(row[0]) + 1

    def _check_or_create(self, new: bool, synchronous: str) -> None:
        c = self.conn
        if new:
            c.execute("PRAGMA journal_mode=WAL")
            c.execute(f"PRAGMA application_id={APPLICATION_ID}")
            c.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            c.execute("BEGIN")
            c.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            c.execute("CREATE TABLE journal (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, "
                      "recorded_at REAL NOT NULL, payload TEXT NOT NULL)")
            c.execute("INSERT INTO meta VALUES ('schema_version', ?), ('created_at', ?)",
                      (str(SCHEMA_VERSION), repr(time.time())))
            c.execute("COMMIT")
        else:
            app = c.execute("PRAGMA application_id").fetchone()[0]
            if app != APPLICATION_ID:
                raise StoreError(f"{self.path} is an SQLite file but not an embodied_mem memory database "
                                 f"(application_id {app:#x})")
            ver = c.execute("PRAGMA user_version").fetchone()[0]
            if ver > SCHEMA_VERSION:
                raise StoreError(f"{self.path} has memory schema version {ver}, newer than this embodied_mem "
                                 f"reads ({SCHEMA_VERSION}); upgrade embodied_mem to open it")
            if not self.readonly:
                c.execute("PRAGMA journal_mode=WAL")
        c.execute(f"PRAGMA synchronous={synchronous.upper()}")

    # ------------------------------------------------------------------ meta
    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        self._writable()
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # ------------------------------------------------------------------ journal
    def append(self, kind: str, recorded_at: float, payload: dict[str, Any]) -> int:
        """Journal one entry; returns its sequence number (the percept id for percepts)."""
        self._writable()
        seq = self._next_seq
        row = (seq, kind, recorded_at, json.dumps(payload, separators=(",", ":"), allow_nan=False))
        if self.durability == "percept":
            self.conn.execute("INSERT INTO journal VALUES (?, ?, ?, ?)", row)
        else:
            self._pending.append(row)
            if len(self._pending) >= self.batch_size:
                self.flush()
        self._next_seq = seq + 1
        return seq

    def flush(self) -> None:
        """Commit buffered entries (batch mode); after it returns they survive a crash."""
        if not self._pending or self.readonly:
            return
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            c.executemany("INSERT INTO journal VALUES (?, ?, ?, ?)", self._pending)
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        self._pending.clear()

    def entries(self, start: int = 0) -> Iterator[tuple[int, str, float, dict[str, Any]]]:
        """Committed journal entries with ``seq >= start``, in order: (seq, kind, recorded_at, payload)."""
        cur = self.conn.execute("SELECT seq, kind, recorded_at, payload FROM journal WHERE seq >= ? ORDER BY seq",
                                (int(start),))
        for seq, kind, rec, payload in cur:
            yield seq, kind, rec, json.loads(payload)

    def raw_entry(self, seq: int) -> tuple[int, str, float, str] | None:
        """One committed entry as stored (payload text not decoded), or None when there is none."""
        row = self.conn.execute("SELECT seq, kind, recorded_at, payload FROM journal WHERE seq=?",
                                (int(seq),)).fetchone()
        return None if row is None else (int(row[0]), row[1], float(row[2]), row[3])

    def checksum(self, stop: int) -> int:
        """CRC-32 of the committed entries with ``seq < stop``, as stored (seq, kind, time, payload)."""
        import zlib

        crc, crc32 = 0, zlib.crc32
        cur = self.conn.execute("SELECT seq, kind, recorded_at, CAST(payload AS BLOB) FROM journal WHERE seq < ? "
                                "ORDER BY seq", (int(stop),))
        while True:
            rows = cur.fetchmany(4096)
            if not rows:
                return crc
            for seq, kind, rec, payload in rows:  # the payload's stored bytes, not decoded
                crc = crc32(payload, crc32(b"%d\x1f%s\x1f%r\x1e" % (seq, kind.encode(), rec), crc))

    @property
    def committed_next_seq(self) -> int:
        """One past the last committed entry (buffered batch rows not counted)."""
        return self._next_seq - len(self._pending)

    def count(self, kind: str | None = None) -> int:
        if kind is None:
            return self.conn.execute("SELECT COUNT(*) FROM journal").fetchone()[0] + len(self._pending)
        n = self.conn.execute("SELECT COUNT(*) FROM journal WHERE kind=?", (kind,)).fetchone()[0]
        return n + sum(1 for r in self._pending if r[1] == kind)

    @property
    def next_seq(self) -> int:
        return self._next_seq

    def _writable(self) -> None:
        if self.readonly:
            raise StoreError(f"{self.path} was opened read-only")
        if self.conn is None:
            raise StoreError(f"{self.path}: the memory is closed")

    def close(self) -> None:
        if getattr(self, "conn", None) is None:
            return
        try:
            self.flush()
            if not self.readonly:
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self.conn.close()
            self.conn = None  # type: ignore[assignment]
            self._release()

    def _release(self) -> None:
        if self._lock_fd is not None:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            finally:
                os.close(self._lock_fd)
                self._lock_fd = None
