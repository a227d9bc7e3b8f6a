"""Publish a robot's place graph and semantic facts to its fleet (the ``places``, ``place_edges``
and ``facts`` tables), so that other robots of the fleet can ask ``mem.fleet.places()/facts()``.

What is shared is derived from the robot's own journal by its in-RAM memory: a ``FleetSharer``
reads the memory's public queries (``spatial.places()``, ``spatial.neighbours()``,
``semantic.facts()``, ``semantic.operations``) and writes what changed since its last publish.
``PgMemoryStore`` publishes after every batch it commits (``flush``), every ``share_every`` percepts
in percept mode, after every fact operation, and on close; a memory re-opened after a crash
publishes its whole state again (idempotent upserts), so the shared rows catch up with the journal.

Bi-temporal, as in the robot's own memory: places carry first/last visit (the robot's clock) and
``recorded_at``/``updated_at`` (wall clock, when published); facts carry ``valid_from``/``valid_to``
(the robot's clock) and ``recorded_at``/``closed_at`` (wall clock). A fact is keyed by
(subject, relation, object, valid_from), so a memory that re-derives it publishes the same row.

Failure: publishing runs through the store's reconnecting ``_retry``; a server that stays away
raises ``StoreError`` like any write (the journal, which is what ``observe`` acknowledges, is
already committed by then, and the next publish re-sends what is missing).
"""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Callable
from typing import Any

from .schema import SCHEMA

__all__ = ["FleetSharer", "write_rows"]

_PLACE = f"""INSERT INTO {SCHEMA}.places AS o (fleet, robot, place, x, y, z, region, visits, first_visit, last_visit,
  recorded_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
  ON CONFLICT (fleet, robot, place) DO UPDATE SET x = EXCLUDED.x, y = EXCLUDED.y, z = EXCLUDED.z,
  region = EXCLUDED.region, visits = EXCLUDED.visits, first_visit = EXCLUDED.first_visit,
  last_visit = EXCLUDED.last_visit, updated_at = EXCLUDED.updated_at"""
_EDGE = f"""INSERT INTO {SCHEMA}.place_edges (fleet, robot, a, b, recorded_at) VALUES (%s, %s, %s, %s, %s)
  ON CONFLICT DO NOTHING"""
_FACT = f"""INSERT INTO {SCHEMA}.facts AS o (fleet, robot, subject, relation, object, valid_from, valid_to,
  confidence, support, source, recorded_at, closed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
  ON CONFLICT (fleet, robot, subject, relation, object, valid_from) DO UPDATE SET valid_to = EXCLUDED.valid_to,
  confidence = EXCLUDED.confidence, support = EXCLUDED.support, source = EXCLUDED.source,
  closed_at = CASE WHEN EXCLUDED.valid_to IS NULL THEN NULL ELSE COALESCE(o.closed_at, EXCLUDED.closed_at) END"""
# a fact no longer believed: its open version(s) end at t
_CLOSE = f"""UPDATE {SCHEMA}.facts SET valid_to = GREATEST(%s, valid_from), closed_at = %s
  WHERE fleet = %s AND robot = %s AND subject = %s AND relation = %s AND object = %s AND valid_to IS NULL
  AND valid_from <= %s"""


def write_rows(conn: Any, rows: list[tuple[str, tuple[Any, ...]]]) -> None:
    """Run the statements in order, pipelined (one round trip), in the caller's transaction."""
    if not rows:
        return
    with conn.pipeline():
        cur = conn.cursor()
        for sql, args in rows:
            cur.execute(sql, args)


def _num(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


class FleetSharer:
    """Publishes one memory's place graph and facts for ``store`` (a ``PgMemoryStore``)."""

    def __init__(self, store: Any, memory: Any) -> None:
        self.store = store
        self._mem = weakref.ref(memory)
        self._places: dict[str, tuple[Any, ...]] = {}  # published state, to send only what changed
        self._edges: set[tuple[str, str]] = set()
        self._semantic: Any = None  # the semantic module whose operations were followed
        self._ops = 0  # how many of its operations are published
        self.published = 0  # rows written, for tests and benchmarks

    def publish(self) -> int:
        """Write what changed since the last publish (one transaction); returns the number of rows written."""
        rows, done = self.collect()
        if rows:
            def write(conn: Any) -> None:
                with conn.transaction():
                    write_rows(conn, rows)
            self.store._retry("publish the place graph and facts", write)
        done()
        return len(rows)

    def collect(self) -> tuple[list[tuple[str, tuple[Any, ...]]], Callable[[], None]]:
        """The statements that publish what changed, and what to call once they are committed (the
        store folds them into the transaction of a journal write: one commit for both)."""
        mem = self._mem()
        if mem is None:
            return [], lambda: None
        fleet, robot, now = self.store.fleet, self.store.robot, time.time()
        rows: list[tuple[str, tuple[Any, ...]]] = []
        places: dict[str, tuple[Any, ...]] = {}
        for p in mem.spatial.places():
            state = (tuple(float(v) for v in p.position), p.region, int(p.visits), _num(p.first_visit),
                     _num(p.last_visit))
            places[p.id] = state
            if self._places.get(p.id) != state:
                (x, y, z), region, visits, first, last = state
                rows.append((_PLACE, (fleet, robot, p.id, x, y, z, region, visits, first, last, now, now)))
        edges = set()
        for pid in places:
            for other in mem.spatial.neighbours(pid):
                edge = (pid, other) if pid < other else (other, pid)
                if edge not in self._edges and edge not in edges:
                    edges.add(edge)
                    rows.append((_EDGE, (fleet, robot, edge[0], edge[1], now)))
        sem = mem.semantic
        ops = getattr(sem, "operations", None)
        if sem is not self._semantic or ops is None or len(ops) < self._ops:
            rows += self._reconcile(sem, now)  # first publish, or the module was rebuilt
        else:
            for op in ops[self._ops:]:
                rows += self._fact_rows(op, now)
        def done() -> None:
            self._places.update(places)
            self._edges |= edges
            self._semantic, self._ops = sem, len(ops or ())
            self.published += len(rows)
        return rows, done

    def _fact_rows(self, op: Any, now: float) -> list[tuple[str, tuple[Any, ...]]]:
        f, fleet, robot = op.fact, self.store.fleet, self.store.robot
        if op.op == "DELETE":
            return [(_CLOSE, (float(op.t), now, fleet, robot, f.subject, f.relation, f.object, float(op.t)))]
        if op.op not in ("ADD", "UPDATE"):
            return []
        out = []
        if op.op == "UPDATE":  # the older version ends where this one starts
            out.append((_CLOSE, (float(f.valid_from), now, fleet, robot, f.subject, f.relation, f.object,
                                 float(f.valid_from) - 1e-9)))
        out.append((_FACT, (fleet, robot, f.subject, f.relation, f.object, float(f.valid_from), _num(f.valid_to),
                            float(f.confidence), int(f.support), f.source, now, None)))
        return out

    def _reconcile(self, sem: Any, now: float) -> list[tuple[str, tuple[Any, ...]]]:
        """Every current fact, and an end (at the memory's latest time) for published open facts that
        the memory no longer believes."""
        fleet, robot = self.store.fleet, self.store.robot
        current = sem.facts() if getattr(sem, "enabled", True) else []
        out = [(_FACT, (fleet, robot, f.subject, f.relation, f.object, float(f.valid_from), None,
                        float(f.confidence), int(f.support), f.source, now, None)) for f in current]
        keep = {(f.subject, f.relation, f.object, float(f.valid_from)) for f in current}
        open_rows = self.store._retry("read the published facts", lambda c: c.execute(
            f"SELECT subject, relation, object, valid_from FROM {SCHEMA}.facts WHERE fleet = %s AND robot = %s AND "
            "valid_to IS NULL", (fleet, robot)).fetchall())
        end = _num(getattr(sem, "now", None)) or 0.0
        for s, r, o, vf in open_rows:
            if (s, r, o, float(vf)) not in keep:
                out.append((_CLOSE, (end, now, fleet, robot, s, r, o, float(vf))))
        return out
