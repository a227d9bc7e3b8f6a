"""Check the robots' memories in a fleet memory database (``embodied-mem memory check URL``).

``check_url(url, robot=, fleet=)`` never changes anything (a read-only session). One
``memory_check.CheckReport`` per robot in scope: ``robot=`` (with ``fleet=``) names one; a robot's
own credentials give that robot; an operator's URL without ``robot=`` gives every robot it can see.
Each report holds the journal's row counts per kind, the rows that do not decode or whose stored
percept id (SHA-256 of kind and payload) no longer matches their payload, gaps in the sequence
numbers (lost rows), a snapshot that claims more than the journal holds, shared rows (sightings)
whose journal row is missing, the last good percept, and, with ``replay=True``, the rows a replay
skips (``Memory.replay_problems``).

Failure: ``StoreError`` naming the server when it is unreachable, too old, not an embodied_mem
fleet memory (or a newer schema), or refuses the role -- the same errors as ``Memory.open``.
"""

from __future__ import annotations

import json
from typing import Any

from .fleet.schema import SCHEMA, ensure_schema
from .fleet.store import percept_digest
from .fleet.urls import redact_url
from .memory_check import CheckReport, replay_problems
from .store import StoreError

__all__ = ["check_url"]


def check_url(url: str, *, robot: str | None = None, fleet: str | None = None,
              replay: bool = True) -> list[CheckReport]:
    """Check the memories of the robots in scope at ``url`` (see the module docstring)."""
    import psycopg

    where = redact_url(url)
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=5, application_name="embodied_mem check")
    except psycopg.OperationalError as exc:
        raise StoreError(f"{where}: cannot reach the fleet memory server ({' '.join(str(exc).split())[:300]})") from None
    with conn:
        conn.execute("SET default_transaction_read_only = on")
        version = ensure_schema(conn, where, create=False)
        server = conn.execute("SHOW server_version").fetchone()[0]
        own = conn.execute(f"SELECT fleet, robot FROM {SCHEMA}.robots WHERE role = current_user").fetchone()
        if own is not None:
            if (robot is not None and robot != own[1]) or (fleet is not None and fleet != own[0]):
                raise StoreError(f"{where}: these credentials belong to robot {own[1]!r} of fleet {own[0]!r}")
            scope = [tuple(own)]
        else:
            q, args = f"SELECT DISTINCT fleet, robot FROM {SCHEMA}.journal", []
            conds = []
            if robot is not None:
                conds.append("robot = %s")
                args.append(robot)
            if fleet is not None:
                conds.append("fleet = %s")
                args.append(fleet)
            if conds:
                q += " WHERE " + " AND ".join(conds)
            scope = [tuple(r) for r in conn.execute(q + " ORDER BY 1, 2", args).fetchall()]
            if not scope and robot is not None:
                raise StoreError(f"{where}: no robot {robot!r}" + (f" in fleet {fleet!r}" if fleet else "")
                                 + " has a journal here")
        reports = []
        for f, r in scope:
            rep = CheckReport(f"{where}#{f}/{r}")
            rep.integrity = f"PostgreSQL {server}, fleet schema version {version}"
            rep.wal = "kept by the server"
            rep.counts_tables = ["journal", "meta", "snapshots", "sightings", "beliefs", "places", "place_edges",
                                 "facts"]
            _check_robot(conn, f, r, rep)
            reports.append(rep)
    if replay:
        for rep, (f, r) in zip(reports, scope):
            if rep.counts:
                rep.replay_problems = _replay_problems(url, f, r, rep, own is not None)
    return reports


def _check_robot(conn: Any, fleet: str, robot: str, rep: CheckReport) -> None:
    key = (fleet, robot)
    for kind, n in conn.execute(f"SELECT kind, count(*) FROM {SCHEMA}.journal WHERE fleet = %s AND robot = %s "
                                "GROUP BY kind", key):
        rep.counts[str(kind)] = int(n)
    last, expect, gaps = -1, 0, []
    while True:
        rows = conn.execute(f"SELECT seq, kind, recorded_at, payload, digest FROM {SCHEMA}.journal WHERE fleet = %s "
                            "AND robot = %s AND seq > %s ORDER BY seq LIMIT 4096", (*key, last)).fetchall()
        if not rows:
            break
        for seq, kind, rec, payload, digest in rows:
            last = seq
            if seq != expect:
                gaps.append(f"{expect}..{seq - 1}" if seq - 1 > expect else str(expect))
            expect = seq + 1
            if bytes(digest) != percept_digest(kind, payload):
                rep.bad_rows.append(f"seq {seq}: the payload does not match its stored percept id (changed after "
                                    "it was written)")
                continue
            try:
                d = json.loads(payload)
                if not isinstance(d, dict):
                    raise ValueError(f"payload is a JSON {type(d).__name__}, not an object")
            except ValueError as exc:
                rep.bad_rows.append(f"seq {seq}: {exc}")
                continue
            if kind == "percept":
                t = d.get("t")
                if isinstance(t, (int, float)) and abs(t) <= 1e15:
                    rep.last_good_percept = {"seq": int(seq), "t": float(t), "source": str(d.get("source", "default")),
                                             "recorded_at": float(rec)}
                else:
                    rep.bad_rows.append(f"seq {seq}: percept time {t!r} is not a finite number in range")
    if gaps:
        rep.problem(f"journal sequence numbers missing (rows lost): {', '.join(gaps[:10])}"
                    + (f" and {len(gaps) - 10} more gaps" if len(gaps) > 10 else ""))
    if rep.bad_rows:
        rep.problem(f"{len(rep.bad_rows)} journal row(s) cannot be used; opening the memory skips them "
                    "(Memory.replay_problems names them)")
    snap = conn.execute(f"SELECT upto FROM {SCHEMA}.snapshots WHERE fleet = %s AND robot = %s", key).fetchone()
    if snap is not None and snap[0] > expect:
        rep.problem(f"the snapshot covers entries up to {snap[0]} but the journal ends at {expect}: the snapshot "
                    "is ignored and the journal replayed")
    orphans = conn.execute(f"SELECT count(*) FROM {SCHEMA}.sightings s WHERE s.fleet = %s AND s.robot = %s AND NOT "
                           f"EXISTS (SELECT 1 FROM {SCHEMA}.journal j WHERE j.fleet = s.fleet AND j.robot = s.robot "
                           "AND j.seq = s.seq)", key).fetchone()[0]
    if orphans:
        rep.problem(f"{orphans} shared sighting row(s) have no journal row (the fleet sees what this robot's "
                    "memory does not hold)")


def _replay_problems(url: str, fleet: str, robot: str, rep: CheckReport, own: bool) -> list[str] | None:
    """The journal rows a replay of this robot's memory skips (``memory_check.replay_problems``)."""
    return replay_problems(url, rep, "memory", **({} if own else {"robot": robot, "fleet": fleet}))
