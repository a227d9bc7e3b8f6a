"""``FleetView``: what the robots of one fleet saw, queried on the server (``mem.fleet``).

Each robot's journal (trajectory, observations) stays its own; these queries read the rows every
robot shares with its fleet: ``beliefs`` (each robot's latest position of each object),
``sightings`` (the history, for ``at=``), ``places``/``place_edges`` (each robot's place graph) and
``facts`` (its semantic facts, bi-temporal), the last three published by ``fleet.share``. Scope: ``robots=[...]`` (those robots), ``fleet=True``
(every robot of the fleet), neither (this robot only). Row-level security on the server limits a
robot's credentials to its own fleet whatever is asked.

Objects: a sighting with an ``instance`` is that object wherever it was seen last; label-level
sightings share one row per cell of ``BELIEF_TOLERANCE`` (0.5 map units). Unlike ``mem.spatial``,
the shared view does not apply negative evidence (an object taken away stays at its last sighting
until seen elsewhere). Positions are in the world frame each robot reports (a fleet shares one map frame).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..store import StoreError
from .schema import SCHEMA
from .urls import redact_url

__all__ = ["FleetView", "FleetLocation", "FleetPlace", "FleetFact"]


@dataclass(frozen=True)
class FleetLocation:
    """Where one robot last saw one object. Times in the robots' clock (``t`` of percepts);
    ``recorded_at`` is wall-clock seconds (Unix time) when it was stored; ``seq`` is the percept id
    in that robot's journal (the provenance)."""

    label: str
    instance: str | None
    position: tuple[float, float, float]
    region: str | None
    first_seen: float
    last_seen: float
    confidence: float
    robot: str
    source: str
    seq: int
    recorded_at: float

    def __str__(self) -> str:
        x, y, z = self.position
        name = self.instance or self.label
        return (f"{name} at ({x:.2f}, {y:.2f}, {z:.2f}) seen by {self.robot} t={self.last_seen:g} "
                f"conf {self.confidence:.2f}")


@dataclass(frozen=True)
class FleetPlace:
    """A node of one robot's topological place graph (``mem.spatial.places()``), shared with its fleet.
    ``first_visit``/``last_visit`` in the robot's clock; ``recorded_at``/``updated_at``: wall-clock
    seconds (Unix time) when the server first got it and last got a change."""

    robot: str
    id: str
    position: tuple[float, float, float]
    region: str | None
    visits: int
    first_visit: float | None
    last_visit: float | None
    recorded_at: float
    updated_at: float


@dataclass(frozen=True)
class FleetFact:
    """A semantic fact as robot ``robot`` believes (believed) it: valid from ``valid_from`` to
    ``valid_to`` (None: still believed) in the robot's clock; ``recorded_at``/``closed_at``: wall-clock
    seconds when the server learned it began/ended. ``source``: how the robot came by it (observed,
    consolidated, asserted, prior)."""

    robot: str
    subject: str
    relation: str
    object: str
    confidence: float
    support: int
    source: str
    valid_from: float
    valid_to: float | None
    recorded_at: float
    closed_at: float | None

    def __str__(self) -> str:
        return (f"{self.subject} {self.relation} {self.object} (conf {self.confidence:.2f}, {self.source}, "
                f"by {self.robot})")


class FleetView:
    """Fleet-wide queries for robot ``robot`` of ``fleet`` (its own connection; thread-safe)."""

    def __init__(self, url: str, *, fleet: str, robot: str | None) -> None:
        import psycopg

        self.fleet, self.robot = fleet, robot
        self._where = redact_url(url)
        self._lock = threading.Lock()
        try:
            self._conn = psycopg.connect(url, autocommit=True, application_name="embodied_mem fleet view")
        except psycopg.OperationalError as exc:
            raise StoreError(f"{self._where}: cannot reach the fleet memory server ({exc})") from None
        self._conn.execute("SET default_transaction_read_only = on")
        self._url = url

    def _scope(self, robots: Iterable[str] | None, fleet: bool) -> list[str] | None:
        if robots is not None and fleet:
            raise ValueError("give robots=[...] or fleet=True, not both")
        if fleet:
            return None
        if robots is None:
            if self.robot is None:
                raise ValueError("this view has no robot of its own: pass robots=[...] or fleet=True")
            return [self.robot]
        if isinstance(robots, str):
            raise TypeError("robots must be a list of robot names, not a str")
        out = list(robots)
        for r in out:
            if not isinstance(r, str):
                raise TypeError(f"robots must hold robot names (str), got {type(r).__name__}")
        return out

    def _query(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        import psycopg

        with self._lock:
            for attempt in (0, 1):  # one reconnect after a server restart
                try:
                    return self._conn.execute(sql, args).fetchall()
                except (psycopg.OperationalError, psycopg.InterfaceError):
                    if attempt:
                        raise StoreError(f"{self._where}: the fleet memory server is unreachable") from None
                    try:
                        self._conn.close()
                        self._conn = psycopg.connect(self._url, autocommit=True)
                        self._conn.execute("SET default_transaction_read_only = on")
                    except psycopg.OperationalError as exc:
                        raise StoreError(f"{self._where}: cannot reach the fleet memory server ({exc})") from None
        raise AssertionError("unreachable")

    def locate(self, label: str, *, robots: Iterable[str] | None = None, fleet: bool = False,
               at: float | None = None, k: int | None = None) -> list[FleetLocation]:
        """Where the robots in scope saw ``label`` last (``at=t``: as known from percepts with t <= at),
        most recently seen first; at most ``k``."""
        if not isinstance(label, str) or not label:
            raise ValueError(f"label must be a non-empty str, got {label!r}")
        who = self._scope(robots, fleet)
        limit = None if k is None else int(k)
        robot_clause = "" if who is None else " AND robot = ANY(%s)"
        args: tuple[Any, ...] = (self.fleet, label) + (() if who is None else (who,))
        if at is None:
            sql = (f"SELECT label, instance, x, y, z, region, first_seen, last_seen, confidence, robot, source, seq, "
                   f"recorded_at FROM {SCHEMA}.beliefs WHERE fleet = %s AND label = %s{robot_clause} "
                   "ORDER BY last_seen DESC, robot, key")
        else:
            sql = (f"SELECT label, instance, x, y, z, region, first_seen, t, confidence, robot, source, seq, recorded_at "
                   f"FROM (SELECT *, min(t) OVER (PARTITION BY robot, key) AS first_seen, row_number() OVER "
                   f"(PARTITION BY robot, key ORDER BY t DESC, seq DESC, idx DESC) AS n FROM {SCHEMA}.sightings "
                   f"WHERE fleet = %s AND label = %s{robot_clause} AND t <= %s) s WHERE n = 1 "
                   "ORDER BY t DESC, robot, key")
            args += (float(at),)
        if limit is not None:
            sql += f" LIMIT {max(0, limit)}"
        return [FleetLocation(r[0], r[1], (r[2], r[3], r[4]), r[5], r[6], r[7], float(r[8]), r[9], r[10], int(r[11]),
                              r[12]) for r in self._query(sql, args)]

    def places(self, *, robots: Iterable[str] | None = None, fleet: bool = False,
               at: float | None = None) -> list[FleetPlace]:
        """The place graph nodes of the robots in scope (``at=t``: those first visited by ``t``), by robot
        and id. Published by each robot after its batches, every few percepts and on close."""
        who = self._scope(robots, fleet)
        sql = (f"SELECT robot, place, x, y, z, region, visits, first_visit, last_visit, recorded_at, updated_at "
               f"FROM {SCHEMA}.places WHERE fleet = %s")
        args: tuple[Any, ...] = (self.fleet,)
        if who is not None:
            sql, args = sql + " AND robot = ANY(%s)", args + (who,)
        if at is not None:
            sql, args = sql + " AND first_visit <= %s", args + (float(at),)
        return [FleetPlace(r[0], r[1], (r[2], r[3], r[4]), r[5], int(r[6]), r[7], r[8], r[9], r[10])
                for r in self._query(sql + " ORDER BY robot, place", args)]

    def place_edges(self, *, robots: Iterable[str] | None = None,
                    fleet: bool = False) -> list[tuple[str, str, str]]:
        """The place graph's edges (robot, place, place) of the robots in scope (places a robot walked
        between directly; each edge once, its places in name order)."""
        who = self._scope(robots, fleet)
        sql, args = f"SELECT robot, a, b FROM {SCHEMA}.place_edges WHERE fleet = %s", (self.fleet,)
        if who is not None:
            sql, args = sql + " AND robot = ANY(%s)", args + (who,)
        return [(r[0], r[1], r[2]) for r in self._query(sql + " ORDER BY robot, a, b", args)]

    def facts(self, subject: str | None = None, relation: str | None = None, object: str | None = None, *,
              robots: Iterable[str] | None = None, fleet: bool = False, at: float | None = None) -> list[FleetFact]:
        """Semantic facts of the robots in scope matching the given fields: those believed now, or
        (``at=t``) those valid at ``t`` in the robots' clock. Most confident first."""
        who = self._scope(robots, fleet)
        sql = (f"SELECT robot, subject, relation, object, confidence, support, source, valid_from, valid_to, "
               f"recorded_at, closed_at FROM {SCHEMA}.facts WHERE fleet = %s")
        args: tuple[Any, ...] = (self.fleet,)
        for col, val in (("subject", subject), ("relation", relation), ("object", object)):
            if val is not None:
                if not isinstance(val, str):
                    raise TypeError(f"{col} must be a str, got {type(val).__name__}")
                sql, args = sql + f" AND {col} = %s", args + (val,)
        if who is not None:
            sql, args = sql + " AND robot = ANY(%s)", args + (who,)
        if at is None:
            sql += " AND valid_to IS NULL"
        else:
            sql, args = sql + " AND valid_from <= %s AND (valid_to IS NULL OR valid_to > %s)", args + (float(at),) * 2
        return [FleetFact(r[0], r[1], r[2], r[3], float(r[4]), int(r[5]), r[6], r[7], r[8], r[9], r[10])
                for r in self._query(sql + " ORDER BY confidence DESC, robot, subject, relation, object, valid_from",
                                     args)]

    def robots(self) -> list[str]:
        """The robots of this fleet (those the server lets these credentials see)."""
        return [r[0] for r in self._query(f"SELECT robot FROM {SCHEMA}.robots WHERE fleet = %s ORDER BY robot",
                                          (self.fleet,))]

    def labels(self, *, robots: Iterable[str] | None = None, fleet: bool = False) -> list[str]:
        """Object labels the robots in scope have seen."""
        who = self._scope(robots, fleet)
        clause = "" if who is None else " AND robot = ANY(%s)"
        return [r[0] for r in self._query(f"SELECT DISTINCT label FROM {SCHEMA}.beliefs WHERE fleet = %s{clause} "
                                          "ORDER BY label", (self.fleet,) + (() if who is None else (who,)))]

    def close(self) -> None:
        try:
            self._conn.close()
        except Exception:  # noqa: BLE001
            pass
