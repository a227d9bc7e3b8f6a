"""Fleet memory on PostgreSQL: many robots and workers share one memory server, isolated by it.

``Memory.open("postgresql://user:pw@host/db", robot="tb4-2")`` keeps the journal, meta data and
snapshot of that robot in the database (``store.PgMemoryStore``); ``mem.fleet.locate(label,
fleet=True)`` asks what every robot of the fleet saw (``view.FleetView``), ``mem.fleet.places()``
and ``mem.fleet.facts()`` what their place graphs and semantic facts hold (``share.FleetSharer``). ``add_robot`` (or
``embodied-mem fleet add-robot``) gives a robot its own login role, limited by row-level security
(``schema``). ``local_server.LocalPostgres`` runs a throw-away server for tests and benchmarks.
psycopg is imported only when a fleet memory is opened.
"""

from __future__ import annotations

from typing import Any

from .urls import is_database_url, redact_url

__all__ = ["is_database_url", "redact_url", "add_robot", "PgMemoryStore", "FleetView", "FleetLocation", "FleetPlace", "FleetFact",
           "LocalPostgres"]


def __getattr__(name: str) -> Any:  # lazy: psycopg only when used
    if name == "add_robot":
        from .schema import add_robot
        return add_robot
    if name == "PgMemoryStore":
        from .store import PgMemoryStore
        return PgMemoryStore
    if name in ("FleetView", "FleetLocation", "FleetPlace", "FleetFact"):
        from . import view
        return getattr(view, name)
    if name == "LocalPostgres":
        from .local_server import LocalPostgres
        return LocalPostgres
    raise AttributeError(name)
