"""``PgMemoryStore``: the journal of one robot's memory in a PostgreSQL fleet database.

The same interface as ``store.MemoryStore`` (``append``/``flush``/``entries``/``get_meta``/``set_meta``/
``count``/``next_seq``/``close``, payloads as decoded dicts), so ``Memory`` works unchanged on top of
it; ``Memory.open("postgresql://…", robot="tb4-2")`` picks it (``stores.open_store``).

- One robot, one writer: a session advisory lock on (fleet, robot) is held while open for writing
  (re-taken after a reconnect); a second writer of the same robot is refused, as with SQLite's flock.
- Durable on return: with ``durability="percept"`` every ``append`` is its own committed statement
  (``synchronous_commit`` on: in the server's WAL, fsynced) before it returns. ``"batch"``: ``flush()``.
- Idempotent: journal rows are keyed by (fleet, robot, seq), and a percept also by its id (the
  SHA-256 of its journaled form: source, time, pose, sightings...). A write retried after a dropped
  connection is stored once (``INSERT … ON CONFLICT DO NOTHING``, then the stored row is compared);
  observing a percept already in the journal returns its first id (``known_percept``).
- Reconnect with backoff: a lost connection is re-opened (50 ms doubling to 1 s) for up to
  ``retry_for`` seconds, then ``StoreError`` says the entry was not acknowledged.
- Fleet-shared rows: each percept's sightings go to ``sightings`` (history) and ``beliefs`` (latest
  position per object and robot) in the same transaction as its journal row (``fleet.view``); the
  memory's place graph and facts (``fleet.share``, after ``share_from``) are folded into the same
  commit when they are due (each batch, every ``share_every`` percepts, each fact operation).
- Cheap writes: a single entry is one statement (one round trip, rows as JSON parsed by the server);
  a batch of ``STAGED_FROM`` or more is a binary COPY into session-private staging tables and one
  statement moving the new rows on, then one commit (one WAL flush for the whole batch).
- Snapshots live in the ``snapshots`` table; ``snapshot_file``/``snapshot_saved`` move the blob
  between the table and a private local file that ``memory/snapshot.py`` reads and writes.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from ..store import StoreError
from .schema import ROBOT_GROUP, SCHEMA, SCHEMA_VERSION, check_name, ensure_schema
from .share import write_rows
from .urls import is_database_url, redact_url

__all__ = ["PgMemoryStore", "is_database_url", "redact_url", "percept_digest", "BELIEF_TOLERANCE"]

BELIEF_TOLERANCE = 0.5  # map units: label-level sightings share a belief row per cell of this size
T = TypeVar("T")


def _dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), allow_nan=False)


def percept_digest(kind: str, payload_text: str) -> bytes:
    """The id of a journal entry's content: SHA-256 (16 bytes) of its kind and payload text."""
    return hashlib.sha256(kind.encode() + b"\x1f" + payload_text.encode()).digest()[:16]


def belief_key(label: str, instance: str | None, pos: list[float], tol: float = BELIEF_TOLERANCE) -> str:
    """One object's key in ``beliefs``: its instance id, or its label's cell on a ``tol`` grid."""
    if instance is not None:
        return "#" + instance
    return "@" + ",".join(str(math.floor(v / tol + 0.5)) for v in pos)


_S = ("seq bigint, idx int, t float8, label text, key text, instance text, x float8, y float8, z float8, "
      "confidence real, region text, source text, recorded_at float8")
_B = ("label text, key text, instance text, x float8, y float8, z float8, x0 float8, y0 float8, z0 float8, "
      "anchored bool, first_seen float8, t float8, confidence real, region text, source text, seq bigint, "
      "recorded_at float8")
# One statement (so one transaction) per write: the journal rows, then, for the rows that were new,
# their sightings and the beliefs they change. A retried write finds its rows there and adds nothing.
# ``{j}``/``{s}``/``{b}``: where the rows come from (three JSON documents for a small write, the
# session's staging tables filled by binary COPY for a batch).
_INSERT_T = f"""
WITH j AS (
  INSERT INTO {SCHEMA}.journal (fleet, robot, seq, kind, recorded_at, payload, digest)
  SELECT %(fleet)s, %(robot)s, u.seq, u.kind, u.recorded_at, u.payload, {{jdigest}}
  FROM {{j}}
  ON CONFLICT DO NOTHING RETURNING seq),
s AS (
  INSERT INTO {SCHEMA}.sightings (fleet, robot, seq, idx, t, label, key, instance, x, y, z, confidence, region, source,
                                  recorded_at)
  SELECT %(fleet)s, %(robot)s, u.* FROM {{s}}
  WHERE u.seq IN (SELECT seq FROM j)
  RETURNING 1),
b AS (
  INSERT INTO {SCHEMA}.beliefs AS o (fleet, robot, label, key, instance, x, y, z, region, first_seen, last_seen,
                                     confidence, source, seq, recorded_at)
  SELECT %(fleet)s, %(robot)s, u.label, u.key, u.instance, u.x, u.y, u.z, u.region,
         CASE WHEN u.anchored AND p.key IS NOT NULL AND (p.x - u.x0) ^ 2 + (p.y - u.y0) ^ 2 + (p.z - u.z0) ^ 2 <= %(tol2)s
              THEN p.first_seen ELSE u.first_seen END,
         u.t, u.confidence, u.source, u.seq, u.recorded_at
  FROM {{b}}
  LEFT JOIN LATERAL (SELECT p.key, p.x, p.y, p.z, p.first_seen FROM {SCHEMA}.beliefs p WHERE p.fleet = %(fleet)s
                     AND p.robot = %(robot)s AND p.label = u.label AND p.key = u.key LIMIT 1) p ON true
  WHERE u.seq IN (SELECT seq FROM j)
  ON CONFLICT (fleet, robot, label, key) DO UPDATE SET
    first_seen = EXCLUDED.first_seen, instance = EXCLUDED.instance, x = EXCLUDED.x, y = EXCLUDED.y, z = EXCLUDED.z,
    region = EXCLUDED.region, last_seen = EXCLUDED.last_seen, confidence = EXCLUDED.confidence,
    source = EXCLUDED.source, seq = EXCLUDED.seq, recorded_at = EXCLUDED.recorded_at
  WHERE o.last_seen <= EXCLUDED.last_seen
  RETURNING 1)
SELECT count(*) FROM j
"""
_J = "seq bigint, kind text, recorded_at float8, payload text, digest text"
_INSERT = _INSERT_T.format(
    jdigest="decode(u.digest, 'hex')", j=f"json_to_recordset(%(j)s::json) AS u({_J})",
    s=f"json_to_recordset(%(s)s::json) AS u({_S})", b=f"json_to_recordset(%(b)s::json) AS u({_B})")
# a batch: rows COPYed (binary) into this session's temporary staging tables, emptied at each commit
_STAGE = ("em_stage_j", "em_stage_s", "em_stage_b")
_STAGE_DDL = [f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE[0]} ({_J.replace('digest text', 'digest bytea')}) "
              "ON COMMIT DELETE ROWS",
              f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE[1]} ({_S}) ON COMMIT DELETE ROWS",
              f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE[2]} ({_B}) ON COMMIT DELETE ROWS"]
_INSERT_STAGED = _INSERT_T.format(jdigest="u.digest", j=f"pg_temp.{_STAGE[0]} u", s=f"pg_temp.{_STAGE[1]} u",
                                  b=f"pg_temp.{_STAGE[2]} u")
_COPY_TYPES = (["int8", "text", "float8", "text", "bytea"],
               ["int8", "int4", "float8", "text", "text", "text", "float8", "float8", "float8", "float4", "text",
                "text", "float8"],
               ["text", "text", "text", "float8", "float8", "float8", "float8", "float8", "float8", "bool", "float8",
                "float8", "float4", "text", "text", "int8", "float8"])
STAGED_FROM = 8  # writes of at least this many entries go through COPY (fewer: one statement, one round trip)


def _tables(rows: list[dict[str, Any]]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The rows of one write of ``rows`` (``PgMemoryStore._row``) as tuples: journal rows, sightings,
    and the last sighting of each object with when its current position was first seen (``first_seen``:
    the start of the last run of sightings within ``BELIEF_TOLERANCE`` of each other; ``anchored``
    when that run began with this write's first sighting of the object, so that an older belief at
    the same place keeps its ``first_seen``). Column orders: ``_J``, ``_S``, ``_B``."""
    jrows = [(r["seq"], r["kind"], r["rec"], r["payload"], r["digest"]) for r in rows]
    srows: list[tuple[Any, ...]] = []
    objs: dict[tuple[str, str], list[Any]] = {}
    tol2 = BELIEF_TOLERANCE ** 2
    for r in rows:
        seq, t, region, source, rec = r["seq"], r["t"], r["region"], r["source"], r["rec"]
        for i, (label, inst, pos, conf) in enumerate(r["sightings"]):
            key = belief_key(label, inst, pos)
            x, y, z = pos
            srows.append((seq, i, t, label, key, inst, x, y, z, conf, region, source, rec))
            o = objs.get((label, key))
            if o is None:  # label key instance x y z x0 y0 z0 anchored first_seen t conf region source seq rec
                objs[(label, key)] = [label, key, inst, x, y, z, x, y, z, True, t, t, conf, region, source, seq, rec]
                continue
            if (o[3] - x) ** 2 + (o[4] - y) ** 2 + (o[5] - z) ** 2 > tol2:
                o[9], o[10] = False, t  # moved within this write
            o[2:6] = [inst, x, y, z]
            o[11:17] = [t, conf, region, source, seq, rec]
    return jrows, srows, [tuple(o) for o in objs.values()]


_JK, _SK, _BK = (tuple(c.split()[0] for c in cols.split(", ")) for cols in (_J, _S, _B))


def _params(fleet: str, robot: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The parameters of ``_INSERT`` (one statement) for ``rows``."""
    jrows, srows, brows = _tables(rows)
    return {"fleet": fleet, "robot": robot, "tol2": BELIEF_TOLERANCE ** 2,
            "j": json.dumps([dict(zip(_JK, (*r[:4], r[4].hex()))) for r in jrows]),
            "s": json.dumps([dict(zip(_SK, r)) for r in srows]), "b": json.dumps([dict(zip(_BK, r)) for r in brows])}


class PgMemoryStore:
    """The journal, meta data and snapshot of robot ``robot`` of fleet ``fleet`` in a PostgreSQL database.

    ``robot``/``fleet``: with a robot's own credentials (``fleet.add_robot``) they come from the
    server and, when given, must match; with an operator's (schema owner's) credentials ``robot``
    is required and ``fleet`` defaults to ``"default"``. Raises ``StoreError`` naming the server
    when it cannot be reached, is too old, holds a foreign or newer schema, or refuses the role.
    """

    def __init__(self, url: str, *, robot: str | None = None, fleet: str | None = None,
                 durability: str = "percept", readonly: bool = False, batch_size: int = 10_000,
                 retry_for: float = 30.0, connect_timeout: float = 5.0, share_every: int = 50) -> None:
        if durability not in ("percept", "batch"):
            raise ValueError(f"durability must be 'percept' or 'batch', got {durability!r}")
        if robot is not None:
            check_name(robot, "robot")
        if fleet is not None:
            check_name(fleet, "fleet")
        if not is_database_url(url):
            raise ValueError(f"url must be a postgresql:// URL, got {url!r}")
        self.url = url
        self.where = redact_url(url)
        self.durability = durability
        self.readonly = readonly
        self.batch_size = int(batch_size)
        self.retry_for = float(retry_for)
        self.connect_timeout = float(connect_timeout)
        self.last_error: str | None = None
        self.reconnects = 0
        self._pending: list[dict[str, Any]] = []
        self._digests: dict[bytes, int] = {}
        self._snap_dir: str | None = None
        self._view: Any = None
        self._staged_on: Any = None  # the connection whose staging tables exist
        self._memo: tuple[dict[str, Any], str, bytes] | None = None  # the last percept known_percept encoded
        self._sharer: Any = None  # publishes the memory's place graph and facts (``share_from``)
        self.share_every = max(1, int(share_every))
        self._unshared = 0  # percepts appended since the last publish (percept mode)
        self.conn: Any = None
        self.fleet, self.robot = fleet, robot
        try:
            self.conn = self._connect(first=True)
            self.path = f"{self.where}#{self.fleet}/{self.robot}"
            row = self.conn.execute(f"SELECT COALESCE(MAX(seq), -1) FROM {SCHEMA}.journal WHERE fleet = %s AND robot = %s",
                                    (self.fleet, self.robot)).fetchone()
            self._next_seq = int(row[0]) + 1
            for digest, seq in self.conn.execute(f"SELECT digest, seq FROM {SCHEMA}.journal WHERE fleet = %s AND "
                                                 "robot = %s AND kind = 'percept'", (self.fleet, self.robot)):
                self._digests[bytes(digest)] = int(seq)
            if not readonly and self.get_meta("created_at") is None:
                self.set_meta("created_at", repr(time.time()))
        except BaseException:
            self._drop()
            raise

    # ------------------------------------------------------------------ connection
    def _connect(self, first: bool = False) -> Any:
        import psycopg

        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=max(1, int(self.connect_timeout)),
                                   application_name="embodied_mem")
        except psycopg.OperationalError as exc:
            raise StoreError(f"{self.where}: cannot reach the fleet memory server ({_one_line(exc)})") from None
        try:
            if first:
                self._identify(conn)
            else:
                ensure_schema(conn, self.where, create=False)
            if self.readonly:
                conn.execute("SET default_transaction_read_only = on")
            else:
                got = conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))",
                                   (f"embodied_mem/{self.fleet}/{self.robot}",)).fetchone()[0]
                if not got:
                    raise StoreError(f"{self.where}: robot {self.robot!r} of fleet {self.fleet!r} is already open for "
                                     "writing by another process (one writer per robot; open it with readonly=True "
                                     "to read)")
        except BaseException:
            conn.close()
            raise
        return conn

    def _identify(self, conn: Any) -> None:
        """Schema checks, then who this connection writes as (from the server for a robot role)."""
        # a direct member of the robots' group role (a superuser "has" every role, but is an operator)
        is_robot = conn.execute("SELECT EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
                                "JOIN pg_roles u ON u.oid = m.member WHERE g.rolname = %s AND u.rolname = current_user)",
                                (ROBOT_GROUP,)).fetchone()[0]
        ensure_schema(conn, self.where, create=not is_robot and not self.readonly)
        row = conn.execute(f"SELECT fleet, robot FROM {SCHEMA}.robots WHERE role = current_user").fetchone()
        if row is not None:
            fleet, robot = row
            if self.robot is not None and self.robot != robot:
                raise StoreError(f"{self.where}: these credentials belong to robot {robot!r} of fleet {fleet!r}, "
                                 f"not {self.robot!r} (a robot writes only as itself)")
            if self.fleet is not None and self.fleet != fleet:
                raise StoreError(f"{self.where}: these credentials belong to fleet {fleet!r}, not {self.fleet!r}")
            self.fleet, self.robot = fleet, robot
            return
        if is_robot:
            raise StoreError(f"{self.where}: role {conn.info.user!r} is not registered as a robot of any fleet")
        if self.robot is None:
            raise StoreError(f"{self.where}: robot= is required (the name of the robot or worker whose memory this is)")
        self.fleet = self.fleet or "default"
        if not self.readonly:
            conn.execute(f"INSERT INTO {SCHEMA}.robots (fleet, robot) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                         (self.fleet, self.robot))

    def _retry(self, what: str, fn: Callable[[Any], T]) -> T:
        """Run ``fn(conn)``; after a lost connection reconnect with backoff and run it again (``fn``
        must be idempotent), for up to ``retry_for`` seconds."""
        import psycopg

        if self.conn is None:
            raise StoreError(f"{self.path}: the memory is closed")
        deadline = time.monotonic() + self.retry_for
        delay = 0.05
        while True:
            try:
                return fn(self.conn)
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                if isinstance(exc, psycopg.errors.QueryCanceled):
                    raise
                self.last_error = _one_line(exc)
            except StoreError as exc:  # a reconnect that failed (server still down)
                self.last_error = str(exc)
            if time.monotonic() + delay > deadline:
                raise StoreError(f"{self.path}: could not {what} for {self.retry_for:g} s ({self.last_error}); "
                                 "not acknowledged") from None
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
            try:
                old, self.conn = self.conn, None
                try:
                    old.close()
                except Exception:  # noqa: BLE001 - a broken connection may fail to close
                    pass
                self.conn = self._connect()
                self.reconnects += 1
            except StoreError as exc:
                # "already open for writing" may be this writer's own old session after a network cut,
                # held until the server notices it is gone: retried like an unreachable server
                self.conn = old  # keep a (broken) handle so the next attempt reconnects again
                self.last_error = str(exc)

    # ------------------------------------------------------------------ meta
    def get_meta(self, key: str) -> str | None:
        if key == "schema_version":  # the database's fleet schema (one for all robots)
            return str(SCHEMA_VERSION)
        row = self._retry("read meta data", lambda c: c.execute(
            f"SELECT value FROM {SCHEMA}.meta WHERE fleet = %s AND robot = %s AND key = %s",
            (self.fleet, self.robot, key)).fetchone())
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        self._writable()
        self._retry("write meta data", lambda c: c.execute(
            f"INSERT INTO {SCHEMA}.meta VALUES (%s, %s, %s, %s) ON CONFLICT (fleet, robot, key) DO UPDATE "
            "SET value = EXCLUDED.value", (self.fleet, self.robot, key, value)))

    # ------------------------------------------------------------------ journal
    def known_percept(self, percept: Any) -> int | None:
        """The id this robot's journal already gave the same percept (same content), else None."""
        d = percept.to_dict()
        text = _dumps(d)
        digest = percept_digest("percept", text)
        self._memo = (d, text, digest)  # observe() appends this same payload next: encode it once
        return self._digests.get(digest)

    def _row(self, seq: int, kind: str, recorded_at: float, payload: dict[str, Any]) -> dict[str, Any]:
        memo, self._memo = self._memo, None
        if memo is not None and kind == "percept" and memo[0] == payload:
            text, digest = memo[1], memo[2]
        else:
            text = _dumps(payload)
            digest = percept_digest(kind, text)
        sights = []
        if kind == "percept":
            for sg in payload.get("sightings") or ():
                sights.append((sg["label"], sg.get("instance"), [float(v) for v in sg["position"]],
                               float(sg.get("confidence", 1.0))))
        return {"seq": seq, "kind": kind, "rec": float(recorded_at), "payload": text,
                "digest": digest, "t": float(payload.get("t", 0.0)) if kind == "percept" else 0.0,
                "region": payload.get("region"), "source": payload.get("source", "default"), "sightings": sights}

    def append(self, kind: str, recorded_at: float, payload: dict[str, Any]) -> int:
        """Journal one entry; returns its sequence number (the percept id for percepts).

        Durable when it returns (``durability="percept"``). On a lost connection it retries (see the
        module docstring); ``StoreError`` when the server stays unreachable: the entry was not acknowledged."""
        self._writable()
        seq = self._next_seq
        row = self._row(seq, kind, recorded_at, payload)
        if self.durability == "percept":
            extra, done = [], None
            if self._sharer is not None:  # the fleet's copy of places and facts, in the same commit when due
                self._unshared += kind == "percept"
                if kind != "percept" or self._unshared >= self.share_every:
                    extra, done = self._sharer.collect()
                    self._unshared = 0
            self._retry("write the journal", lambda c: self._insert(c, [row], extra))
            if done is not None:
                done()
        else:
            self._pending.append(row)
            if len(self._pending) >= self.batch_size:
                self.flush()
        if kind == "percept":
            self._digests.setdefault(row["digest"], seq)
        self._next_seq = seq + 1
        return seq

    # ------------------------------------------------------------------ fleet sharing
    def share_from(self, memory: Any) -> None:
        """Publish ``memory``'s place graph and facts to the fleet now and from then on (after each
        committed batch, every ``share_every`` percepts, each fact operation and on close)."""
        if self.readonly:
            return
        from .share import FleetSharer

        self._sharer = FleetSharer(self, memory)
        self.share()

    def share(self) -> int:
        """Publish what changed in the place graph and facts since the last time; rows written."""
        self._unshared = 0
        return 0 if self._sharer is None or self.conn is None else self._sharer.publish()

    def _insert(self, conn: Any, rows: list[dict[str, Any]], extra: list[tuple[str, Any]] = ()) -> None:
        """Insert rows idempotently (one transaction, with the ``extra`` statements after them); a row
        already there must be the same entry."""
        import psycopg

        try:
            if len(rows) >= STAGED_FROM:
                n = self._insert_staged(conn, rows, extra)
            elif extra:
                with conn.transaction():
                    n = conn.execute(_INSERT, _params(self.fleet, self.robot, rows)).fetchone()[0]
                    write_rows(conn, list(extra))
            else:  # one statement: one transaction, one round trip
                n = conn.execute(_INSERT, _params(self.fleet, self.robot, rows)).fetchone()[0]
            if n == len(rows):
                return  # all new
            have = dict(conn.execute(f"SELECT seq, digest FROM {SCHEMA}.journal WHERE fleet = %s AND robot = %s "
                                     "AND seq = ANY(%s)", (self.fleet, self.robot, [r["seq"] for r in rows])).fetchall())
            for r in rows:
                got = have.get(r["seq"])
                if got is None or bytes(got) != r["digest"]:
                    raise StoreError(f"{self.path}: journal entry {r['seq']} could not be stored: "
                                     + ("the same percept is already stored under another id" if got is None
                                        else "another process wrote a different entry there"))
        except psycopg.errors.InsufficientPrivilege as exc:
            raise StoreError(f"{self.path}: the server refused the write ({_one_line(exc)})") from None

    def _insert_staged(self, conn: Any, rows: list[dict[str, Any]], extra: list[tuple[str, Any]] = ()) -> int:
        """One transaction: binary COPY of the rows into this session's staging tables, one statement
        moving the new ones into the fleet's tables, one commit (one WAL flush). Returns how many were new."""
        if self._staged_on is not conn:  # temporary tables live as long as the session
            for ddl in _STAGE_DDL:
                conn.execute(ddl)
            self._staged_on = conn
        tables = _tables(rows)
        with conn.transaction():
            cur = conn.cursor()
            for name, types, data in zip(_STAGE, _COPY_TYPES, tables):
                with cur.copy(f"COPY pg_temp.{name} FROM STDIN (FORMAT BINARY)") as cp:
                    cp.set_types(types)
                    for r in data:
                        cp.write_row(r)
            n = int(cur.execute(_INSERT_STAGED, {"fleet": self.fleet, "robot": self.robot,
                                                 "tol2": BELIEF_TOLERANCE ** 2}).fetchone()[0])
            write_rows(conn, list(extra))
            return n

    def flush(self) -> None:
        """Commit buffered entries (batch mode) in one transaction; durable when it returns.
        A lost connection is retried; on failure the entries stay buffered for the next flush."""
        if self.readonly or self.conn is None:
            return
        if not self._pending:
            self.share()  # the place graph and facts, for the fleet
            return
        rows = self._pending
        extra, done = self._sharer.collect() if self._sharer is not None else ([], None)
        self._retry("flush the journal", lambda c: self._insert(c, rows, extra))  # one commit for both
        self._pending = []
        self.last_error = None
        self._unshared = 0
        if done is not None:
            done()

    def entries(self, problems: list[str] | None = None, start: int = 0) -> Iterator[tuple[int, str, float, dict[str, Any]]]:
        """Committed entries with ``seq >= start`` in order: (seq, kind, recorded_at, payload dict).
        A row that does not decode is skipped and named in ``problems`` (else ``StoreError``)."""
        last = int(start) - 1
        while True:
            rows = self._retry("read the journal", lambda c, last=last: c.execute(
                f"SELECT seq, kind, recorded_at, payload FROM {SCHEMA}.journal WHERE fleet = %s AND robot = %s "
                "AND seq > %s ORDER BY seq LIMIT 4096", (self.fleet, self.robot, last)).fetchall())
            if not rows:
                return
            for seq, kind, rec, payload in rows:
                last = seq
                try:
                    d = json.loads(payload)
                    if not isinstance(d, dict):
                        raise ValueError(f"payload is a JSON {type(d).__name__}, not an object")
                except ValueError as exc:
                    msg = f"journal row seq {seq}: {exc}"
                    if problems is None:
                        raise StoreError(f"{self.path}: {msg}") from None
                    problems.append(msg)
                    continue
                yield int(seq), kind, float(rec), d

    def raw_entry(self, seq: int) -> tuple[int, str, float, str] | None:
        row = self._retry("read the journal", lambda c: c.execute(
            f"SELECT seq, kind, recorded_at, payload FROM {SCHEMA}.journal WHERE fleet = %s AND robot = %s AND seq = %s",
            (self.fleet, self.robot, int(seq))).fetchone())
        return None if row is None else (int(row[0]), str(row[1]), float(row[2]), row[3])

    def checksum(self, stop: int) -> int:
        """CRC-32 of the committed entries with ``seq < stop`` (seq, kind, time, payload text)."""
        import zlib

        crc, last = 0, -1
        while True:  # in pages by seq: nothing held open between them
            rows = self._retry("read the journal", lambda c, last=last: c.execute(
                f"SELECT seq, kind, recorded_at, payload FROM {SCHEMA}.journal WHERE fleet = %s AND robot = %s AND "
                "seq > %s AND seq < %s ORDER BY seq LIMIT 8192", (self.fleet, self.robot, last, int(stop))).fetchall())
            if not rows:
                return crc
            for seq, kind, rec, payload in rows:
                crc = zlib.crc32(payload.encode(), zlib.crc32(b"%d\x1f%s\x1f%r\x1e" % (seq, kind.encode(), rec), crc))
            last = rows[-1][0]

    @property
    def committed_next_seq(self) -> int:
        return self._next_seq - len(self._pending)

    @property
    def next_seq(self) -> int:
        return self._next_seq

    def count(self, kind: str | None = None) -> int:
        q = f"SELECT COUNT(*) FROM {SCHEMA}.journal WHERE fleet = %s AND robot = %s"
        args: tuple[Any, ...] = (self.fleet, self.robot)
        if kind is not None:
            q += " AND kind = %s"
            args += (kind,)
        n = self._retry("read the journal", lambda c: c.execute(q, args).fetchone()[0])
        return int(n) + sum(1 for r in self._pending if kind is None or r["kind"] == kind)

    # ------------------------------------------------------------------ snapshots
    def snapshot_file(self) -> Path:
        """A private local file holding this robot's snapshot from the server (absent when there is none)."""
        if self._snap_dir is None:
            self._snap_dir = tempfile.mkdtemp(prefix="embodied-mem-snap-")
        path = Path(self._snap_dir) / "memory.snapshot"
        row = self._retry("read the snapshot", lambda c: c.execute(
            f"SELECT blob FROM {SCHEMA}.snapshots WHERE fleet = %s AND robot = %s", (self.fleet, self.robot)).fetchone())
        if row is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(bytes(row[0]))
        return path

    def snapshot_saved(self, path: str | Path, upto: int) -> None:
        """Store the snapshot file just written at ``path`` (state after entries ``< upto``) on the server."""
        self._writable()
        blob = Path(path).read_bytes()
        try:
            self._retry("store the snapshot", lambda c: c.execute(
                f"INSERT INTO {SCHEMA}.snapshots (fleet, robot, upto, blob) VALUES (%s, %s, %s, %s) ON CONFLICT "
                "(fleet, robot) DO UPDATE SET upto = EXCLUDED.upto, blob = EXCLUDED.blob, written_at = now()",
            (self.fleet, self.robot, int(upto), blob)))
        except StoreError as exc:  # like a full disk for a file snapshot: the journal holds everything
            raise OSError(str(exc)) from None

    # ------------------------------------------------------------------ fleet queries
    def fleet_view(self) -> Any:
        """Queries across the robots of this fleet (``fleet.view.FleetView``), on their own connection."""
        if self._view is None:
            from .view import FleetView

            self._view = FleetView(self.url, fleet=self.fleet, robot=self.robot)
        return self._view

    # ------------------------------------------------------------------ lifecycle
    def _writable(self) -> None:
        if self.readonly:
            raise StoreError(f"{self.path} was opened read-only")
        if self.conn is None:
            raise StoreError(f"{self.path}: the memory is closed")

    def close(self) -> None:
        """Flush and close (the writer lock goes with the session). If the flush fails, ``StoreError``
        is raised and the store stays open with its entries buffered."""
        if self.conn is None:
            return
        self.flush()
        self._drop()

    def _drop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # noqa: BLE001
                pass
            self.conn = None
        if self._view is not None:
            self._view.close()
            self._view = None
        if self._snap_dir is not None:
            import shutil

            shutil.rmtree(self._snap_dir, ignore_errors=True)
            self._snap_dir = None

    def __del__(self) -> None:  # pragma: no cover - best effort at interpreter exit
        try:
            if self._snap_dir is not None and os.path.isdir(self._snap_dir):
                import shutil

                shutil.rmtree(self._snap_dir, ignore_errors=True)
        except Exception:  # noqa: BLE001
            pass


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]
