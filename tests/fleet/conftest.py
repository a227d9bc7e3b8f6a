"""A real PostgreSQL server for the fleet-memory tests, started once per session.

The server (``embodied_mem.fleet.local_server.LocalPostgres``) runs from a temporary data
directory on a free 127.0.0.1 port (as the ``postgres`` user when the tests run as root). Each
test gets its own fresh database (``pg_url``). Tests skip, saying why, only when the PostgreSQL
binaries are not installed (``scripts/setup.sh`` installs postgresql-15 on a fresh machine).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

psycopg = pytest.importorskip("psycopg", reason="psycopg not installed: pip install 'embodied_mem[fleet]'")

from embodied_mem.fleet.local_server import LocalPostgres, find_pg_bin  # noqa: E402

_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[LocalPostgres]:
    if find_pg_bin() is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed: apt-get install postgresql-15")
    server = LocalPostgres()
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def pg_url(pg_server: LocalPostgres) -> str:
    """The superuser URL of a new, empty database on the session's server."""
    if not pg_server.running:
        pg_server.start()
    name = f"t{next(_counter)}"
    with psycopg.connect(pg_server.url(), autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    return pg_server.url(dbname=name)
