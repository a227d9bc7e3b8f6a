"""Check a memory database file, and salvage what can be read from a damaged one.

``check_file(path)`` never changes the file. It reports, in a ``CheckReport``: whether the file is
an embodied_mem memory database, the state of its write-ahead log (a damaged frame makes SQLite
silently drop every later commit), SQLite's ``integrity_check``, the journal's row counts per kind,
the journal rows that cannot be decoded, the last good percept (seq, time, when recorded), and,
with ``replay=True``, the rows a replay would skip (``Memory.replay_problems``).

``repair_wal(path)`` keeps what a damaged WAL still holds before the damage (SQLite's own reading),
writes it into the database and moves the damaged log aside as ``PATH-wal.damaged-<time>``.
``salvage(path, out)`` copies every journal row that can still be read and decoded into a new
memory database ``out`` (the original is not changed); opening ``out`` replays them.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .store import APPLICATION_ID, SCHEMA_VERSION, MemoryStore, StoreError, decode_row, wal_problem

__all__ = ["CheckReport", "check_file", "repair_wal", "salvage"]


@dataclass
class CheckReport:
    path: str
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    bad_rows: list[str] = field(default_factory=list)
    last_good_percept: dict[str, Any] | None = None
    integrity: str = "not checked"
    wal: str = "none"
    replay_problems: list[str] | None = None
    counts_tables: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        self.ok = False
        self.problems.append(text)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def lines(self) -> list[str]:
        out = [f"memory database {self.path}: " + ("OK" if self.ok else f"{len(self.problems)} problem(s)")]
        out.append(f"  integrity: {self.integrity}; write-ahead log: {self.wal}")
        if self.counts:
            out.append("  journal rows: " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.counts.items())))
        if self.last_good_percept:
            lp = self.last_good_percept
            out.append(f"  last good percept: seq {lp['seq']}, t={lp['t']:g}, source {lp['source']!r}, "
                       f"recorded {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(lp['recorded_at']))} UTC")
        for p in self.problems:
            out.append(f"  problem: {p}")
        for r in self.bad_rows[:20]:
            out.append(f"  bad row: {r}")
        if len(self.bad_rows) > 20:
            out.append(f"  ... {len(self.bad_rows) - 20} more bad rows")
        for r in (self.replay_problems or [])[:20]:
            out.append(f"  replay skips: {r}")
        return out


def _ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)


def check_file(path: str | Path, replay: bool = True) -> CheckReport:
    """Check ``path`` without changing it (see the module docstring). Raises ``StoreError`` only
    when there is no file to check (missing, a directory, unreadable)."""
    path = Path(path)
    rep = CheckReport(str(path))
    try:
        st = path.stat()
    except OSError as exc:
        raise StoreError(f"{path}: cannot check ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise StoreError(f"{path} is not a regular file")
    if st.st_size == 0:
        rep.problem("the file is empty (0 bytes): an empty memory, opening it for writing starts a new one")
        return rep
    with open(path, "rb") as fh:
        if fh.read(16) != b"SQLite format 3\x00":
            rep.problem("not an SQLite file: not a memory database")
            return rep
    wal = wal_problem(path)
    rep.wal = "absent or empty" if not Path(f"{path}-wal").exists() else "sound"
    if wal is not None:
        rep.wal = "DAMAGED"
        rep.problem(wal + f"; `embodied-mem memory check {path} --repair-wal` keeps the commits before the damage")
    try:
        c = _ro(path)
        c.text_factory = lambda b: b.decode("utf-8", "surrogateescape")
    except sqlite3.Error as exc:
        rep.problem(f"SQLite cannot open it: {exc}")
        return rep
    try:
        _check_db(c, rep)
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
        rep.problem(f"SQLite error while checking: {exc}; `embodied-mem memory check {path} --salvage NEW.db` copies "
                    "the readable journal rows into a new file")
    finally:
        c.close()
    if replay and wal is None and rep.integrity == "ok" and "journal" in rep.counts_tables:
        rep.replay_problems = replay_problems(path, rep)
    return rep


def _check_db(c: sqlite3.Connection, rep: CheckReport) -> None:
    app = c.execute("PRAGMA application_id").fetchone()[0]
    if app != APPLICATION_ID:
        rep.problem(f"an SQLite file but not an embodied_mem memory database (application_id {app:#x})")
        return
    ver = c.execute("PRAGMA user_version").fetchone()[0]
    if ver > SCHEMA_VERSION:
        rep.problem(f"schema version {ver} is newer than this embodied_mem reads ({SCHEMA_VERSION})")
        return
    res = [r[0] for r in c.execute("PRAGMA integrity_check(20)")]
    rep.integrity = "ok" if res == ["ok"] else "FAILED"
    if res != ["ok"]:
        rep.problem("SQLite integrity_check failed: " + "; ".join(res[:5]))
    tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    rep.counts_tables = sorted(tables)
    for t in ("meta", "journal"):
        if t not in tables:
            rep.problem(f"no {t} table: a half-created or damaged memory database")
    if "journal" not in tables:
        return
    for kind, n in c.execute("SELECT kind, COUNT(*) FROM journal GROUP BY kind"):
        rep.counts[str(kind)] = n
    last = -1
    while True:
        rows = c.execute("SELECT seq, kind, recorded_at, payload FROM journal WHERE seq > ? ORDER BY seq LIMIT 4096",
                         (last,)).fetchall()
        if not rows:
            break
        for seq, kind, rec, payload in rows:
            last = seq
            try:
                d = decode_row(kind, rec, payload)
            except ValueError as exc:
                rep.bad_rows.append(f"seq {seq}: {exc}")
                continue
            if kind == "percept":
                t = d.get("t")
                if isinstance(t, (int, float)) and abs(t) <= 1e15:
                    rep.last_good_percept = {"seq": seq, "t": float(t), "source": str(d.get("source", "default")),
                                             "recorded_at": float(rec)}
                else:
                    rep.bad_rows.append(f"seq {seq}: percept time {t!r} is not a finite number in range")
    if rep.bad_rows:
        rep.problem(f"{len(rep.bad_rows)} journal row(s) cannot be decoded; opening the file skips them "
                    "(Memory.replay_problems names them)")


def replay_problems(target: Path | str, rep: CheckReport, what: str = "file", **open_kw: Any) -> list[str] | None:
    """Open ``target`` (a file path or a database URL, with ``open_kw`` for ``Memory.open``) read-only
    and return the journal rows its replay skips, adding a problem to ``rep`` for rows that decode but
    fail to replay (rows ``rep.bad_rows`` already names are not counted twice); None when it cannot
    be opened (also a problem in ``rep``)."""
    import warnings

    from .memory import Memory

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mem = Memory.open(target, readonly=True, **open_kw)
    except StoreError as exc:
        rep.problem(f"cannot be opened: {exc}")
        return None
    try:
        probs = list(mem.replay_problems)
    finally:
        mem.close()
    extra = [p for p in probs if not any(p.startswith(f"journal row {b.split(':')[0]}") for b in rep.bad_rows)]
    if extra:
        rep.problem(f"{len(extra)} journal row(s) decode but fail to replay; opening the {what} skips them")
    return probs


def repair_wal(path: str | Path) -> str:
    """Keep the commits a damaged write-ahead log holds before its damage; move the log aside.

    The commits after the damaged frame cannot be recovered by SQLite (their content stays in the
    moved-aside copy). Refuses while another process has the memory open for writing."""
    path = Path(path)
    wal = Path(f"{path}-wal")
    if wal_problem(path) is None:
        return f"{path}: the write-ahead log is sound; nothing to repair"
    aside = Path(f"{wal}.damaged-{time.strftime('%Y%m%dT%H%M%S')}")
    shutil.copy2(wal, aside)
    store_lock = os.open(path, os.O_RDWR)
    try:
        import fcntl

        try:
            fcntl.flock(store_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreError(f"{path} is open for writing by another process; close it first") from None
        c = sqlite3.connect(str(path), isolation_level=None)
        try:
            c.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # SQLite applies the frames before the damage
        finally:
            c.close()
        fcntl.flock(store_lock, fcntl.LOCK_UN)
    finally:
        os.close(store_lock)
    if wal.exists() and wal.stat().st_size:
        wal.write_bytes(b"")
    return f"{path}: kept the commits before the damage; the damaged log was moved to {aside}"


def salvage(path: str | Path, out: str | Path) -> tuple[int, int]:
    """Copy every readable, decodable journal row of ``path`` into a new memory database ``out``,
    keeping their sequence numbers (percept ids) and the stored config.

    Returns (rows copied, rows lost). ``out`` must not exist. The original is not changed."""
    path, out = Path(path), Path(out)
    if out.exists():
        raise StoreError(f"{out} exists; salvage writes a new file")
    MemoryStore(out).close()  # a new, empty memory database
    c = _ro(path)
    c.text_factory = lambda b: b.decode("utf-8", "surrogateescape")
    dst = sqlite3.connect(str(out), isolation_level=None)
    copied = lost = 0
    try:
        dst.execute("BEGIN")
        try:
            cfg = c.execute("SELECT value FROM meta WHERE key='config'").fetchone()
            if cfg is not None:
                json.loads(cfg[0])
                dst.execute("INSERT OR REPLACE INTO meta VALUES ('config', ?)", (cfg[0],))
        except (sqlite3.DatabaseError, ValueError):
            pass
        try:
            hi = c.execute("SELECT MAX(seq) FROM journal").fetchone()[0]
        except sqlite3.DatabaseError:
            hi = None
        hi = (1 << 40) if hi is None else hi
        seq, misses = -1, 0
        while seq < hi and misses < 100_000:
            try:
                rows = c.execute("SELECT seq, kind, recorded_at, payload FROM journal WHERE seq > ? ORDER BY seq "
                                 "LIMIT 1024", (seq,)).fetchall()
            except (sqlite3.DatabaseError, UnicodeDecodeError):
                rows = None
            if rows is None:  # a damaged page: step over it row by row
                seq += 1
                try:
                    rows = c.execute("SELECT seq, kind, recorded_at, payload FROM journal WHERE seq = ?",
                                     (seq,)).fetchall()
                except (sqlite3.DatabaseError, UnicodeDecodeError):
                    lost += 1
                    misses += 1
                    continue
                if not rows:
                    misses += 1
                    continue
                misses = 0
            if not rows:
                break
            for s, kind, rec, payload in rows:
                seq = s
                try:
                    decode_row(kind, rec, payload)
                except ValueError:
                    lost += 1
                    continue
                dst.execute("INSERT INTO journal VALUES (?, ?, ?, ?)", (s, kind, float(rec), payload))
                copied += 1
        dst.execute("COMMIT")
    finally:
        c.close()
        dst.close()
    return copied, lost
