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
- Encoding (schema version 2): each payload is one MessagePack map stored as a BLOB (about 3/4 of
  the JSON size, about 7x faster to encode). Version-1 files hold JSON text payloads; they open
  and replay as before, and a writable open upgrades them in place (later rows are MessagePack:
  a row's SQLite type, TEXT or BLOB, says how it is encoded).
- Edit tracking (version 2): triggers count every UPDATE and DELETE of a journal row, and every
  insert that would replace one, in ``meta.journal_edits``, in the same transaction. A snapshot
  records that count, so checking that the journal before it is unchanged costs one read
  (``edit_count``) instead of re-reading every row. Damage below SQL (a flipped bit on disk) is
  not counted: ``embodied-mem memory check`` reads every row; a full replay reports damaged rows.
- Structure check on open: SQLite's ``quick_check`` (a damaged file is refused with ``StoreError``),
  skipped when the file is exactly as a writer of this library left it after a check: ``close()``
  records the file's device, inode, size and modification/change times in ``PATH.checked``, and any
  later write to the file changes them (``structure_check`` says which check ran).
"""

from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import re
import sqlite3
import stat
import struct
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .percept import journal_dict

__all__ = ["MemoryStore", "StoreError", "SCHEMA_VERSION", "APPLICATION_ID", "decode_row", "encode_payload",
           "wal_problem"]

SCHEMA_VERSION = 2
_EDITS_KEY = "journal_edits"
_TRIGGERS = {
    "journal_edit_update": "AFTER UPDATE ON journal",
    "journal_edit_delete": "AFTER DELETE ON journal",
    # INSERT OR REPLACE deletes the old row without firing delete triggers: count it before
    "journal_edit_replace": "BEFORE INSERT ON journal WHEN EXISTS (SELECT 1 FROM journal WHERE seq = NEW.seq)",
}
APPLICATION_ID = 0x454D454D  # "EMEM"
_SQLITE_HEADER = b"SQLite format 3\x00"


class StoreError(ValueError):
    """The file cannot be used as a memory database (foreign, newer schema, locked, read-only,
    damaged), or the journal could not be written (disk full). The message names the file."""


_TABLES = {"meta": ["key", "value"], "journal": ["seq", "kind", "recorded_at", "payload"]}


def _no_constant(name: str) -> Any:
    raise ValueError(f"payload holds {name} (not valid JSON)")


def _text(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


_packer: Any = None
_packer_surrogates: Any = None


def encode_payload(payload: dict[str, Any]) -> bytes:
    """A payload as stored by schema version 2: one MessagePack map (floats as 64-bit, exact).

    ``ValueError`` for NaN or infinity anywhere in a payload other than a percept's (percepts are
    checked when built), ``TypeError`` for values MessagePack cannot hold."""
    global _packer, _packer_surrogates
    if _packer is None:
        import msgpack

        # strict UTF-8 is msgpack's fast path (it reuses each str's cached UTF-8); a text with lone
        # surrogates (never a percept's: they are refused when built) is packed again with
        # surrogatepass, so any Python str round-trips (as JSON's \udcff escapes did): the bytes
        # are the same either way for every text strict UTF-8 can encode
        _packer = msgpack.Packer(use_bin_type=True, datetime=False)
        _packer_surrogates = msgpack.Packer(use_bin_type=True, datetime=False, unicode_errors="surrogatepass")
    try:
        return _packer.pack(payload)
    except UnicodeEncodeError:
        _packer.reset()
        return _packer_surrogates.pack(payload)


def _check_finite(obj: Any, where: str = "payload") -> None:
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise ValueError(f"{where} holds {obj!r} (times and values must be finite)")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _check_finite(v, f"{where}.{k}")
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _check_finite(v, where)


# MessagePack float64 (0xcb) whose exponent bits are all ones (NaN, +-inf); a necessary condition,
# so the exact check runs only when these bytes occur (rarely, inside other values)
_MAYBE_NONFINITE = re.compile(rb"\xcb[\x7f\xff][\xf0-\xff]")


def _unpack(payload: bytes) -> Any:
    import msgpack

    return msgpack.unpackb(payload, raw=False, strict_map_key=False, use_list=True, timestamp=0,
                           unicode_errors="surrogatepass")


def decode_row(kind: Any, rec: Any, payload: Any) -> dict[str, Any]:
    """One journal row's payload (MessagePack BLOB or, in files of schema version 1, JSON text),
    or ``ValueError`` saying what is wrong with the row."""
    if not isinstance(kind, str) or not kind.isascii():
        raise ValueError(f"kind is {kind!r}, not a journal entry kind")
    if not isinstance(rec, (int, float)) or not math.isfinite(rec):
        raise ValueError(f"recorded_at is {rec!r}, not a finite number")
    if isinstance(payload, bytes):
        try:
            d = _unpack(payload)
        except RecursionError:
            raise ValueError("payload is nested too deeply") from None
        except Exception as exc:  # noqa: BLE001 - msgpack raises several types for damaged bytes
            raise ValueError(f"payload is not valid MessagePack ({type(exc).__name__}: {exc})"[:300]) from None
        if not isinstance(d, dict):
            raise ValueError(f"payload is a MessagePack {type(d).__name__}, not a map")
        if _MAYBE_NONFINITE.search(payload) is not None:  # as JSON refused NaN/Infinity: never written
            _check_finite(d)
        return d
    if not isinstance(payload, str):
        raise ValueError(f"payload is {type(payload).__name__}, not MessagePack bytes or JSON text")
    if not payload.isascii():
        raise ValueError("payload holds bytes that are not ASCII (the journal writes ASCII JSON): damaged")
    try:
        d = json.loads(payload, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("payload is nested too deeply") from None
    except ValueError as exc:
        raise ValueError(f"payload is not valid JSON ({exc})") from None
    if not isinstance(d, dict):
        raise ValueError(f"payload is a JSON {type(d).__name__}, not an object")
    return d


def wal_problem(path: str | Path) -> str | None:
    """Check the write-ahead log next to ``path`` (``PATH-wal``) frame by frame; None when sound.

    SQLite stops reading a WAL at the first frame whose checksum fails and silently drops every
    commit after it. This finds that case (a flipped bit, a damaged sector) before SQLite opens the
    file and says how many later commits would be lost. A torn last frame after a crash, and stale
    frames of an earlier WAL generation, are normal and not reported.
    """
    wal = Path(str(path) + "-wal")
    try:
        size = wal.stat().st_size
    except OSError:
        return None
    if size < 32:
        return None
    with open(wal, "rb") as fh:
        data = fh.read()
    magic, _ver, page_size, _ckpt, salt1, salt2, c1, c2 = struct.unpack(">8I", data[:32])
    if magic not in (0x377F0682, 0x377F0683):
        return f"its write-ahead log {wal.name} has a damaged header (bad magic number)"
    order = ">" if magic & 1 else "<"
    s0, s1 = _wal_checksum(data[:24], order, 0, 0)
    frame = 24 + page_size
    n_frames = (len(data) - 32) // frame
    if (s0, s1) != (c1, c2):
        commits = sum(1 for i in range(n_frames) if struct.unpack_from(">I", data, 32 + i * frame + 4)[0])
        if commits:
            return (f"its write-ahead log {wal.name} has a damaged header: SQLite would silently ignore all "
                    f"{n_frames} frames ({commits} commits) in it")
        return None
    for i in range(n_frames):
        off = 32 + i * frame
        _pg, _commit, fs1, fs2, fc1, fc2 = struct.unpack_from(">6I", data, off)
        if (fs1, fs2) != (salt1, salt2):
            return None  # the end of this WAL generation
        s0, s1 = _wal_checksum(data[off:off + 8], order, s0, s1)
        s0, s1 = _wal_checksum(data[off + 24:off + frame], order, s0, s1)
        if (s0, s1) != (fc1, fc2):
            later = [j for j in range(i + 1, n_frames)
                     if struct.unpack_from(">2I", data, 32 + j * frame + 8) == (salt1, salt2)]
            if not later:
                return None  # a torn last frame: the commit it belonged to never completed
            commits = sum(1 for j in later if struct.unpack_from(">I", data, 32 + j * frame + 4)[0])
            return (f"its write-ahead log {wal.name} is damaged at frame {i} (checksum mismatch): SQLite would "
                    f"silently drop the {commits} commit(s) in the {len(later)} frames after it")
    return None


def _wal_checksum(buf: bytes, order: str, s0: int, s1: int) -> tuple[int, int]:
    """SQLite's WAL checksum (two cumulative 32-bit sums over pairs of words)."""
    words = struct.unpack(f"{order}{len(buf) // 4}I", buf)
    m = 0xFFFFFFFF
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & m
        s1 = (s1 + words[i + 1] + s0) & m
    return s0, s1


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
        self._pending: list[tuple[int, str, float, bytes]] = []
        self._lock_fd: int | None = None
        self._tracked = False
        self.conn: sqlite3.Connection | None = None
        self.last_error: str | None = None
        # how the B-tree structure was checked on open: "quick_check", "unchanged since checked"
        # (the file is byte for byte as a writer of this library left it after checking it: see
        # _unchanged_since_checked), or "new file"
        self.structure_check = "new file"
        self._stamp: dict[str, int] | None = None
        try:
            new = self._check_path()
            if not readonly:
                self._lock(new)
            self._connect(new, synchronous)
            row = self.conn.execute("SELECT COALESCE(MAX(seq), -1) FROM journal").fetchone()  # type: ignore[union-attr]
            self._next_seq = int(row[0]) + 1
        except BaseException as exc:
            # every failure path closes the connection and releases the writer lock
            if self.conn is not None:
                try:
                    self.conn.close()
                except sqlite3.Error:
                    pass
                self.conn = None
            self._release()
            if isinstance(exc, (sqlite3.DatabaseError, UnicodeDecodeError)):  # the latter: a garbled error text
                why = "SQLite reports damage in a garbled message" if isinstance(exc, UnicodeDecodeError) else exc
                raise StoreError(f"{self.path} is not a usable embodied_mem memory database: {why}; "
                                 f"run `embodied-mem memory check {self.path}`") from None
            if isinstance(exc, OSError) and not isinstance(exc, StoreError):
                raise StoreError(f"{self.path}: cannot open ({exc.strerror or exc})") from None
            raise

    def _check_path(self) -> bool:
        """Refuse what cannot be a memory file (naming it); True when a new file is to be made."""
        p = self.path
        try:
            st = p.stat()
        except FileNotFoundError:
            if p.is_symlink():
                raise StoreError(f"{p} is a dangling symbolic link") from None
            st = None
        except OSError as exc:  # a symlink loop (ELOOP), a path through a file (ENOTDIR), ...
            raise StoreError(f"{p}: cannot open ({exc.strerror or exc})") from None
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise StoreError(f"{p} is a directory, not a memory database file")
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise StoreError(f"{p} is not a regular file (a device, pipe or socket), not a memory database")
        new = st is None or st.st_size == 0
        if self.readonly and new:
            raise StoreError(f"{p}: no memory database there to open read-only")
        if not new:
            with open(p, "rb") as fh:
                head = fh.read(16)
            if head != _SQLITE_HEADER:
                raise StoreError(f"{p} is not an embodied_mem memory database (not an SQLite file)")
            problem = wal_problem(p)
            if problem is not None:
                raise StoreError(f"{p}: {problem}; nothing was changed. Run `embodied-mem memory check {p}` "
                                 "(README, 'Recovering a damaged memory file')")
            self._stamp = self._file_stamp() if self._unchanged_since_checked() else None
        else:
            parent = p.parent
            if not parent.exists():
                parent.mkdir(parents=True, exist_ok=True)
            elif not parent.is_dir():
                raise StoreError(f"{p}: its parent {parent} is not a directory")
        return new

    # ------------------------------------------------------------------ "checked" stamp
    def _stamp_file(self) -> Path:
        """``PATH.checked``: the file's identity when a writer closed it after a check (JSON)."""
        return self.path.with_name(self.path.name + ".checked")

    def _file_stamp(self) -> dict[str, int] | None:
        """Identity of the database file now: device, inode, size, modification and change times (ns).
        None when it has a write-ahead log with content (its pages are not all in the file)."""
        try:
            if os.stat(f"{self.path}-wal").st_size > 0:
                return None
        except OSError:
            pass
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return {"dev": st.st_dev, "ino": st.st_ino, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                "ctime_ns": st.st_ctime_ns}

    def _unchanged_since_checked(self) -> bool:
        """True when ``PATH.checked`` names exactly the file as it is now (see ``_file_stamp``).

        The stamp is written by ``close()`` of a writer whose session began with a passing
        ``quick_check`` (or with a new file, or with a file itself unchanged since checked), after its
        last write: every later write to the file, through SQLite or any other program, changes its
        change time, which no program can set back (``utime`` sets it to now), so a file that still
        matches holds only pages SQLite wrote on a checked B-tree. What neither check sees -- damage
        below the file system, a flipped bit in a row's bytes -- is what ``embodied-mem memory check``
        reads every row for."""
        try:
            with open(self._stamp_file(), encoding="ascii") as fh:
                saved = json.loads(fh.read(4096))
        except (OSError, ValueError):
            return False
        now = self._file_stamp()
        return now is not None and isinstance(saved, dict) and saved == now

    def _write_stamp(self) -> None:
        """After a checked session's last write (connection closed, write-ahead log folded in): record
        the file's identity in ``PATH.checked`` so the next open can skip ``quick_check``. Best effort:
        without it the next open checks the file."""
        target = self._stamp_file()
        stamp = self._file_stamp()
        try:
            if stamp is None:
                target.unlink(missing_ok=True)
                return
            tmp = target.with_name(target.name + f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(stamp), encoding="ascii")
            os.replace(tmp, target)
        except OSError:
            pass

    def _lock(self, new: bool) -> None:
        p = self.path
        try:
            self._lock_fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise StoreError(f"{p} is not writable ({exc.strerror}); open it with readonly=True to read it") from None
            raise
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreError(f"{p} is already open for writing by another Memory "
                             "(one writer per file; open it with readonly=True to read)") from None
        if not os.access(p.parent, os.W_OK):
            # SQLite needs the directory to create its -wal and -shm files next to the database
            raise StoreError(f"{p}: its directory {p.parent} is not writable; open it with readonly=True to read it")

    def _connect(self, new: bool, synchronous: str) -> None:
        if self.readonly:
            uri = f"file:{self.path}?mode=ro"
            if self._read_only_fs():
                # SQLite cannot make the -shm file there; with no WAL left, the file cannot change
                wal = Path(f"{self.path}-wal")
                if wal.exists() and wal.stat().st_size > 0:
                    raise StoreError(f"{self.path} is on a read-only file system with an un-checkpointed "
                                     "write-ahead log; copy the file and its -wal to a writable directory to read it")
                uri += "&immutable=1"
            self.conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        else:
            self.conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        # damaged text (invalid UTF-8) must not fail a whole page of rows: undecodable bytes become
        # lone surrogates, and decode_row refuses a payload that is not ASCII (json.dumps writes ASCII)
        self.conn.text_factory = _text
        self._check_or_create(new, synchronous)

    def _read_only_fs(self) -> bool:
        parent = self.path.parent
        try:
            return bool(os.statvfs(parent).f_flag & os.ST_RDONLY)
        except OSError:
            return False

    def _check_or_create(self, new: bool, synchronous: str) -> None:
        c = self.conn
        assert c is not None
        if new:
            # One transaction, committed through a rollback journal: a crash leaves either an empty
            # file (a new memory) or a complete one; then the file switches to WAL.
            c.execute("BEGIN IMMEDIATE")
            c.execute(f"PRAGMA application_id={APPLICATION_ID}")
            c.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            c.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            c.execute("CREATE TABLE journal (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, "
                      "recorded_at REAL NOT NULL, payload TEXT NOT NULL)")
            c.execute("INSERT INTO meta VALUES ('schema_version', ?), ('created_at', ?)",
                      (str(SCHEMA_VERSION), repr(time.time())))
            self._create_edit_tracking()
            c.execute("COMMIT")
            c.execute("PRAGMA journal_mode=WAL")
            self._tracked = True
        else:
            app = c.execute("PRAGMA application_id").fetchone()[0]
            if app != APPLICATION_ID:
                raise StoreError(f"{self.path} is an SQLite file but not an embodied_mem memory database "
                                 f"(application_id {app:#x})")
            ver = c.execute("PRAGMA user_version").fetchone()[0]
            if ver > SCHEMA_VERSION:
                raise StoreError(f"{self.path} has memory schema version {ver}, newer than this embodied_mem "
                                 f"reads ({SCHEMA_VERSION}); upgrade embodied_mem to open it")
            tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            for table, cols in _TABLES.items():
                if table not in tables:
                    raise StoreError(f"{self.path} has no {table} table: a half-created or damaged memory "
                                     "database (it holds no journal to replay); delete it to start a new memory")
                have = [r[1] for r in c.execute(f"PRAGMA table_info({table})")]
                if have[:len(cols)] != cols:
                    raise StoreError(f"{self.path}: table {table} has columns {have}, expected {cols} "
                                     "(a damaged or foreign memory database)")
            # B-tree structure (a page swapped, zeroed or cut off would otherwise drop rows silently);
            # C speed, about 1.5 ms per MB: as much as reading every row, so it is skipped when the
            # file is exactly as a writer of this library left it after checking it (same inode,
            # size, modification and change times to the nanosecond, no write-ahead log; see
            # _unchanged_since_checked): anything that wrote to it since, through SQLite or not,
            # changes its change time (which no program can set back), and it is checked again
            if self._stamp is not None and self._stamp == self._file_stamp():
                res = ["ok"]
                self.structure_check = "unchanged since checked"
            else:
                res = [r[0] for r in c.execute("PRAGMA quick_check(5)")]
                self.structure_check = "quick_check"
            if res != ["ok"]:
                raise StoreError(f"{self.path} is damaged (SQLite quick_check: {'; '.join(res)[:300]}); "
                                 f"`embodied-mem memory check {self.path} --salvage NEW.db` copies the readable "
                                 "journal rows into a new file")
            if not self.readonly:
                c.execute("PRAGMA journal_mode=WAL")
                if ver < SCHEMA_VERSION:
                    self._upgrade(ver)
            have = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='trigger'")}
            self._tracked = set(_TRIGGERS) <= have and self.get_meta(_EDITS_KEY) is not None
            if not self._tracked and not self.readonly:  # triggers dropped by hand: put them back
                self._upgrade(ver, repair=True)
                self._tracked = True
        c.execute(f"PRAGMA synchronous={synchronous.upper()}")

    def _create_edit_tracking(self, repair: bool = False) -> None:
        c = self.conn
        assert c is not None
        if repair:  # edits may have happened while they were not counted: no earlier count matches
            c.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (_EDITS_KEY, str(1 + int(time.time() * 1e3))))
        else:
            c.execute("INSERT OR REPLACE INTO meta VALUES (?, '0')", (_EDITS_KEY,))
        bump = (f"UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = '{_EDITS_KEY}'; ")
        for name, when in _TRIGGERS.items():
            c.execute(f"CREATE TRIGGER IF NOT EXISTS {name} {when} BEGIN {bump}END")

    def _upgrade(self, ver: int, repair: bool = False) -> None:
        """Schema version 1 -> 2 in one transaction: later rows are MessagePack, edits are counted.
        Earlier (JSON) rows stay as they are; a reader older than version 2 then refuses the file.
        ``repair``: a version-2 file whose triggers were dropped gets them back, with a new count."""
        c = self.conn
        assert c is not None
        c.execute("BEGIN IMMEDIATE")
        try:
            for name in _TRIGGERS:
                c.execute(f"DROP TRIGGER IF EXISTS {name}")
            self._create_edit_tracking(repair=repair)
            if not repair:
                c.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                c.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                c.execute("INSERT OR REPLACE INTO meta VALUES ('upgraded_from', ?)", (str(ver),))
            c.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    # ------------------------------------------------------------------ meta
    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        self._writable()
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # ------------------------------------------------------------------ journal
    #: a percept's payload for ``append("percept", ...)``: ``Percept.to_dict()``'s keys and values with
    #: tuples for lists, which encode to the same bytes (``percept.journal_dict``), built faster
    percept_payload = staticmethod(journal_dict)

    def append(self, kind: str, recorded_at: float, payload: dict[str, Any]) -> int:
        """Journal one entry; returns its sequence number (the percept id for percepts).

        On a write error (disk full, I/O error) nothing is journaled and ``StoreError`` is raised;
        in batch mode the entries buffered before stay buffered for the next ``flush()``."""
        self._writable()
        seq = self._next_seq
        blob = encode_payload(payload)
        if _MAYBE_NONFINITE.search(blob) is not None:  # a float64 with an all-ones exponent, or bytes like it
            _check_finite(payload)
        row = (seq, kind, recorded_at, blob)
        if self.durability == "percept":
            try:
                self.conn.execute("INSERT INTO journal VALUES (?, ?, ?, ?)", row)  # type: ignore[union-attr]
            except sqlite3.Error as exc:
                self._rollback()
                raise self._write_error(exc, "") from None
        else:
            self._pending.append(row)
            if len(self._pending) >= self.batch_size:
                try:
                    self.flush()
                except StoreError:
                    self._pending.pop()  # refused: this entry is not taken; the earlier ones wait
                    raise StoreError(f"{self.path}: could not write the journal: {self.last_error}; this entry "
                                     f"was refused, the {len(self._pending)} unflushed entries before it are "
                                     "kept in memory and written by the next flush()") from None
        self._next_seq = seq + 1
        return seq

    def append_many(self, kind: str, recorded_at: float, payloads: Iterable[dict[str, Any]]) -> int:
        """Journal several entries of one kind at once, all or none; returns the first's sequence
        number (the others follow it). ``payloads`` may be a generator: each is encoded as it comes.

        Every payload is encoded (and checked) before anything is written: ``ValueError`` /
        ``TypeError`` for a bad one, naming its index, and nothing is journaled. With
        ``durability="percept"`` the entries are written in one transaction (durable together on
        return); in batch mode they join the buffer, flushed when it reaches ``batch_size``. On a
        write error ``StoreError`` is raised and none of these entries is taken (in batch mode the
        entries buffered before them stay buffered)."""
        self._writable()
        seq = self._next_seq
        rows = []
        search = _MAYBE_NONFINITE.search
        for i, payload in enumerate(payloads):
            try:
                blob = encode_payload(payload)
                if search(blob) is not None:
                    _check_finite(payload)
            except (ValueError, TypeError) as exc:
                raise type(exc)(f"entry {i} of the batch: {exc}; nothing was journaled") from None
            rows.append((seq + i, kind, recorded_at, blob))
        if not rows:
            return seq
        if self.durability == "percept":
            c = self.conn
            try:
                c.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]
                c.executemany("INSERT INTO journal VALUES (?, ?, ?, ?)", rows)  # type: ignore[union-attr]
                c.execute("COMMIT")  # type: ignore[union-attr]
            except sqlite3.Error as exc:
                self._rollback()
                raise self._write_error(exc, f"; none of these {len(rows)} entries was written") from None
        else:
            before = len(self._pending)
            self._pending.extend(rows)
            if len(self._pending) >= self.batch_size:
                try:
                    self.flush()
                except StoreError:
                    del self._pending[before:]  # refused: these entries are not taken; the earlier ones wait
                    raise StoreError(f"{self.path}: could not write the journal: {self.last_error}; these "
                                     f"{len(rows)} entries were refused, the {before} unflushed entries before "
                                     "them are kept in memory and written by the next flush()") from None
        self._next_seq = seq + len(rows)
        return seq

    def flush(self) -> None:
        """Commit buffered entries (batch mode); after it returns they survive a crash.

        On a write error (disk full, I/O error) raises ``StoreError`` saying so; the transaction
        is rolled back, the entries stay buffered, and a later ``flush()`` writes them."""
        if not self._pending or self.readonly or self.conn is None:
            return
        c = self.conn
        try:
            c.execute("BEGIN IMMEDIATE")
            c.executemany("INSERT INTO journal VALUES (?, ?, ?, ?)", self._pending)
            c.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise self._write_error(exc, f"; {len(self._pending)} unflushed entries are kept in memory and "
                                         "written by the next flush()") from None
        self._pending.clear()
        self.last_error = None

    def _rollback(self) -> None:
        """Undo a failed write; SQLite may already have rolled back itself (disk full)."""
        c = self.conn
        if c is not None and c.in_transaction:
            try:
                c.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def _write_error(self, exc: sqlite3.Error, tail: str) -> StoreError:
        code = getattr(exc, "sqlite_errorname", "") or ""
        if code.startswith("SQLITE_IOERR"):
            what = "an I/O error"
        else:
            what = {"SQLITE_FULL": "the disk (or the database size limit) is full",
                    "SQLITE_READONLY": "the file became read-only",
                    "SQLITE_BUSY": "the database is busy"}.get(code, "a write error")
        self.last_error = f"{what} ({exc})"
        return StoreError(f"{self.path}: could not write the journal: {what} ({exc}){tail}")

    def entries(self, problems: list[str] | None = None, start: int = 0) -> Iterator[tuple[int, str, float, dict[str, Any]]]:
        """Committed journal entries with ``seq >= start``, in order: (seq, kind, recorded_at, payload).

        A row that cannot be decoded (bad JSON, NaN/Infinity, a payload that is not an object, a
        non-finite time) is skipped; with ``problems`` given, a line naming it is appended there,
        otherwise ``StoreError`` is raised."""
        c = self.conn
        assert c is not None
        last = int(start) - 1
        while True:  # in pages, so that no cursor stays open while the caller works
            try:
                rows = c.execute("SELECT seq, kind, recorded_at, payload FROM journal WHERE seq > ? ORDER BY seq "
                                 "LIMIT 4096", (last,)).fetchall()
            except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
                raise StoreError(f"{self.path}: the journal cannot be read after seq {last} ({exc}); "
                                 f"`embodied-mem memory check {self.path} --salvage NEW.db` copies the readable "
                                 "rows into a new file") from None
            if not rows:
                return
            for seq, kind, rec, payload in rows:
                last = seq
                try:
                    d = decode_row(kind, rec, payload)
                except ValueError as exc:
                    msg = f"journal row seq {seq}: {exc}"
                    if problems is None:
                        raise StoreError(f"{self.path}: {msg}") from None
                    problems.append(msg)
                    continue
                yield seq, kind, float(rec), d

    def raw_entry(self, seq: int) -> tuple[int, str, float, str | bytes] | None:
        """One committed entry as stored (payload bytes or text, not decoded), or None when there is none or
        it is damaged (then no snapshot is written against it, nor trusted)."""
        row = self.conn.execute("SELECT seq, kind, recorded_at, payload FROM journal WHERE seq=?",
                                (int(seq),)).fetchone()
        if row is None:
            return None
        try:
            return (int(row[0]), str(row[1]), float(row[2]), row[3])
        except (TypeError, ValueError):  # a damaged row: nothing to fingerprint a snapshot against
            return None

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

    def edit_count(self) -> int | None:
        """How many journal rows were ever updated, deleted or replaced (schema version 2 counts
        them with triggers, in the same transaction as the edit); None when this file does not
        count them (version 1 opened read-only, or the triggers were dropped)."""
        if not self._tracked:
            return None
        v = self.get_meta(_EDITS_KEY)
        try:
            return None if v is None else int(v)
        except ValueError:
            return None

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
        """Flush and close. If the flush fails (disk full) ``StoreError`` is raised and the store
        stays open with its entries buffered, so that ``close()`` can be retried once space returns."""
        if getattr(self, "conn", None) is None:
            return
        self.flush()
        try:
            if not self.readonly:
                # never wait for readers: a reader holding a transaction only defers the checkpoint
                self.conn.execute("PRAGMA busy_timeout=0")  # type: ignore[union-attr]
                try:
                    self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
                except sqlite3.Error:
                    pass  # the WAL stays; it is checkpointed at the next open
        finally:
            self.conn.close()  # type: ignore[union-attr]
            self.conn = None
            if not self.readonly and self._lock_fd is not None:  # still the only writer: stamp the file
                self._write_stamp()
            self._release()

    def _release(self) -> None:
        if self._lock_fd is not None:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            finally:
                os.close(self._lock_fd)
                self._lock_fd = None
