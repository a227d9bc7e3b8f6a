"""The fleet memory's PostgreSQL schema: versioned tables, roles and row-level security.

Everything lives in the schema ``embodied_mem`` of one database:

- ``schema_info``: ``application = embodied_mem`` and ``schema_version`` (what makes a database ours).
- ``robots``: (fleet, robot) and the login role that robot uses (NULL for robots written by an
  operator's own connection).
- Private to each robot: ``journal`` (every percept and memory operation, idempotent by
  (fleet, robot, seq) and, for percepts, by their id ``digest``), ``meta`` (config, memory id),
  ``snapshots`` (the snapshot blob of ``memory/snapshot.py``).
- Shared within a fleet: ``sightings`` (what each robot saw, bi-temporal: ``t`` and ``recorded_at``),
  ``beliefs`` (each robot's latest position of each object, with source and confidence), and (v2)
  ``places``/``place_edges`` (each robot's topological place graph) and ``facts`` (its semantic facts,
  valid ``valid_from``..``valid_to`` in the robot's clock, ``recorded_at``/``closed_at`` wall clock).

Isolation is the server's job: every robot role is a member of ``embodied_mem_robot`` and
row-level security lets it read and write only its own private rows, read only its own fleet's
shared rows, and write shared rows only as itself. The schema owner (an operator) bypasses RLS.

Migrations: ``MIGRATIONS[v]`` turns version ``v - 1`` into ``v``; ``ensure_schema`` applies the
missing ones under an advisory lock (concurrent first opens are safe). A database at a newer
version, or a schema ``embodied_mem`` that is not ours, is refused with ``StoreError``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

from ..store import StoreError

__all__ = ["SCHEMA", "SCHEMA_VERSION", "MIN_SERVER_VERSION", "ROBOT_GROUP", "ensure_schema", "add_robot",
           "robot_role_name"]

SCHEMA = "embodied_mem"
SCHEMA_VERSION = 2
MIN_SERVER_VERSION = 130000  # PostgreSQL 13
ROBOT_GROUP = "embodied_mem_robot"
_LOCK_KEY = 0x454D454D  # advisory lock id for migrations ("EMEM")

_V1 = f"""
CREATE SCHEMA {SCHEMA};
CREATE TABLE {SCHEMA}.schema_info (key text PRIMARY KEY, value text NOT NULL);
INSERT INTO {SCHEMA}.schema_info VALUES ('application', 'embodied_mem'), ('schema_version', '0');
CREATE TABLE {SCHEMA}.robots (
  fleet text NOT NULL, robot text NOT NULL, role name UNIQUE, created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (fleet, robot));
CREATE TABLE {SCHEMA}.meta (
  fleet text NOT NULL, robot text NOT NULL, key text NOT NULL, value text NOT NULL,
  PRIMARY KEY (fleet, robot, key));
CREATE TABLE {SCHEMA}.journal (
  fleet text NOT NULL, robot text NOT NULL, seq bigint NOT NULL, kind text NOT NULL,
  recorded_at double precision NOT NULL, payload text NOT NULL, digest bytea NOT NULL,
  PRIMARY KEY (fleet, robot, seq));
CREATE UNIQUE INDEX journal_percept_id ON {SCHEMA}.journal (fleet, robot, digest) WHERE kind = 'percept';
CREATE TABLE {SCHEMA}.snapshots (
  fleet text NOT NULL, robot text NOT NULL, upto bigint NOT NULL, blob bytea NOT NULL,
  written_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (fleet, robot));
CREATE TABLE {SCHEMA}.sightings (
  fleet text NOT NULL, robot text NOT NULL, seq bigint NOT NULL, idx int NOT NULL, t double precision NOT NULL,
  label text NOT NULL, key text NOT NULL, instance text, x double precision NOT NULL, y double precision NOT NULL,
  z double precision NOT NULL, confidence real NOT NULL, region text, source text NOT NULL,
  recorded_at double precision NOT NULL, PRIMARY KEY (fleet, robot, seq, idx));
CREATE INDEX sightings_label ON {SCHEMA}.sightings (fleet, label, t);
CREATE TABLE {SCHEMA}.beliefs (
  fleet text NOT NULL, robot text NOT NULL, label text NOT NULL, key text NOT NULL, instance text,
  x double precision NOT NULL, y double precision NOT NULL, z double precision NOT NULL, region text,
  first_seen double precision NOT NULL, last_seen double precision NOT NULL, confidence real NOT NULL,
  source text NOT NULL, seq bigint NOT NULL, recorded_at double precision NOT NULL,
  PRIMARY KEY (fleet, robot, label, key));
CREATE INDEX beliefs_label ON {SCHEMA}.beliefs (fleet, label, last_seen DESC);

DO $$ BEGIN CREATE ROLE {ROBOT_GROUP} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;

-- who am I: evaluated with the caller's current_user, read with the owner's rights (no RLS recursion)
CREATE FUNCTION {SCHEMA}.fleet_of(r name) RETURNS text LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog AS $f$ SELECT fleet FROM {SCHEMA}.robots WHERE role = r $f$;
CREATE FUNCTION {SCHEMA}.robot_of(r name) RETURNS text LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog AS $f$ SELECT robot FROM {SCHEMA}.robots WHERE role = r $f$;
REVOKE ALL ON FUNCTION {SCHEMA}.fleet_of(name), {SCHEMA}.robot_of(name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION {SCHEMA}.fleet_of(name), {SCHEMA}.robot_of(name) TO {ROBOT_GROUP};

REVOKE ALL ON SCHEMA {SCHEMA} FROM PUBLIC;
GRANT USAGE ON SCHEMA {SCHEMA} TO {ROBOT_GROUP};
GRANT SELECT ON {SCHEMA}.schema_info, {SCHEMA}.robots TO {ROBOT_GROUP};
GRANT SELECT, INSERT ON {SCHEMA}.journal, {SCHEMA}.sightings TO {ROBOT_GROUP};
GRANT SELECT, INSERT, UPDATE ON {SCHEMA}.meta, {SCHEMA}.snapshots, {SCHEMA}.beliefs TO {ROBOT_GROUP};
"""

_MINE = (f"fleet = (SELECT {SCHEMA}.fleet_of(current_user)) AND robot = (SELECT {SCHEMA}.robot_of(current_user))")
_MY_FLEET = f"fleet = (SELECT {SCHEMA}.fleet_of(current_user))"
_RLS = [f"ALTER TABLE {SCHEMA}.{t} ENABLE ROW LEVEL SECURITY"
        for t in ("robots", "meta", "journal", "snapshots", "sightings", "beliefs")]
_RLS += [f"CREATE POLICY robots_fleet ON {SCHEMA}.robots FOR SELECT TO {ROBOT_GROUP} USING ({_MY_FLEET})"]
for _t in ("meta", "journal", "snapshots"):  # private: own rows only, both ways
    _RLS.append(f"CREATE POLICY {_t}_own ON {SCHEMA}.{_t} FOR ALL TO {ROBOT_GROUP} USING ({_MINE}) WITH CHECK ({_MINE})")
for _t in ("sightings", "beliefs"):  # shared: read the fleet's, write only as oneself
    _RLS.append(f"CREATE POLICY {_t}_read ON {SCHEMA}.{_t} FOR SELECT TO {ROBOT_GROUP} USING ({_MY_FLEET})")
    _RLS.append(f"CREATE POLICY {_t}_insert ON {SCHEMA}.{_t} FOR INSERT TO {ROBOT_GROUP} WITH CHECK ({_MINE})")
_RLS.append(f"CREATE POLICY beliefs_update ON {SCHEMA}.beliefs FOR UPDATE TO {ROBOT_GROUP} USING ({_MINE}) "
            f"WITH CHECK ({_MINE})")

# Version 2: the place graph and semantic facts shared fleet-wide (published from each robot's
# in-RAM memory, ``fleet.share``); sightings lose their primary key (a sighting is inserted only in
# the statement that inserts its journal row, which is unique: the key only cost index upkeep).
_V2 = f"""
ALTER TABLE {SCHEMA}.sightings DROP CONSTRAINT sightings_pkey;
CREATE TABLE {SCHEMA}.places (
  fleet text NOT NULL, robot text NOT NULL, place text NOT NULL, x double precision NOT NULL,
  y double precision NOT NULL, z double precision NOT NULL, region text, visits int NOT NULL,
  first_visit double precision, last_visit double precision, recorded_at double precision NOT NULL,
  updated_at double precision NOT NULL, PRIMARY KEY (fleet, robot, place));
CREATE TABLE {SCHEMA}.place_edges (
  fleet text NOT NULL, robot text NOT NULL, a text NOT NULL, b text NOT NULL, recorded_at double precision NOT NULL,
  PRIMARY KEY (fleet, robot, a, b));
CREATE TABLE {SCHEMA}.facts (
  fleet text NOT NULL, robot text NOT NULL, subject text NOT NULL, relation text NOT NULL, object text NOT NULL,
  valid_from double precision NOT NULL, valid_to double precision, confidence real NOT NULL, support int NOT NULL,
  source text NOT NULL, recorded_at double precision NOT NULL, closed_at double precision,
  PRIMARY KEY (fleet, robot, subject, relation, object, valid_from));
CREATE INDEX facts_subject ON {SCHEMA}.facts (fleet, subject, relation);
GRANT SELECT, INSERT, UPDATE ON {SCHEMA}.places, {SCHEMA}.place_edges, {SCHEMA}.facts TO {ROBOT_GROUP};
"""
_RLS2 = []
for _t in ("places", "place_edges", "facts"):  # shared: read the fleet's, write only as oneself
    _RLS2 += [f"ALTER TABLE {SCHEMA}.{_t} ENABLE ROW LEVEL SECURITY",
              f"CREATE POLICY {_t}_read ON {SCHEMA}.{_t} FOR SELECT TO {ROBOT_GROUP} USING ({_MY_FLEET})",
              f"CREATE POLICY {_t}_insert ON {SCHEMA}.{_t} FOR INSERT TO {ROBOT_GROUP} WITH CHECK ({_MINE})",
              f"CREATE POLICY {_t}_update ON {SCHEMA}.{_t} FOR UPDATE TO {ROBOT_GROUP} USING ({_MINE}) "
              f"WITH CHECK ({_MINE})"]

MIGRATIONS: dict[int, list[str]] = {1: [_V1, *_RLS], 2: [_V2, *_RLS2]}


def server_problem(conn: Any) -> str | None:
    """Why this server cannot hold a fleet memory (too old), or None."""
    v = conn.info.server_version
    if v < MIN_SERVER_VERSION:
        return (f"PostgreSQL {v // 10000}.{v % 10000} is too old: the fleet memory needs PostgreSQL "
                f"{MIN_SERVER_VERSION // 10000} or newer")
    return None


def schema_version(conn: Any, where: str) -> int | None:
    """The fleet schema version in this database; None when there is none. Refuses a schema that is not ours."""
    has = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (SCHEMA,)).fetchone()
    if has is None:
        return None
    try:
        if conn.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.schema_info",)).fetchone()[0] is None:
            raise StoreError(f"{where}: the database has a schema {SCHEMA!r} that is not an embodied_mem fleet "
                             "memory (no schema_info table)")
        info = dict(conn.execute(f"SELECT key, value FROM {SCHEMA}.schema_info").fetchall())
    except StoreError:
        raise
    except Exception as exc:  # psycopg.Error: a role that is neither the owner nor a robot, a damaged schema
        raise StoreError(f"{where}: cannot read {SCHEMA}.schema_info ({' '.join(str(exc).split())}): this role is "
                         "neither the database owner nor a robot (`embodied-mem fleet add-robot`)") from None
    if info.get("application") != "embodied_mem" or not str(info.get("schema_version", "")).isdigit():
        raise StoreError(f"{where}: the schema {SCHEMA!r} in this database is not an embodied_mem fleet memory "
                         f"(schema_info: {dict(list(info.items())[:4])})")
    return int(info["schema_version"])


def ensure_schema(conn: Any, where: str, *, create: bool = True) -> int:
    """Check (and with ``create``, create or migrate) the schema; returns its version.

    ``conn`` is an autocommit psycopg connection. Raises ``StoreError`` for a newer or foreign
    schema, a server that is too old, or a missing schema that this role may not create."""
    problem = server_problem(conn)
    if problem:
        raise StoreError(f"{where}: {problem}")
    v = schema_version(conn, where)
    if v is not None and v > SCHEMA_VERSION:
        raise StoreError(f"{where}: fleet memory schema version {v} is newer than this embodied_mem reads "
                         f"({SCHEMA_VERSION}); upgrade embodied_mem")
    if v == SCHEMA_VERSION:
        return v
    if not create:
        raise StoreError(f"{where}: the database has {'no fleet memory schema' if v is None else f'schema version {v}'}; "
                         f"the database owner sets it up with `embodied-mem fleet init URL`")
    import psycopg

    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            v = schema_version(conn, where)  # another process may have migrated meanwhile
            for target in range((v or 0) + 1, SCHEMA_VERSION + 1):
                for stmt in MIGRATIONS[target]:
                    conn.execute(stmt)
                conn.execute(f"UPDATE {SCHEMA}.schema_info SET value = %s WHERE key = 'schema_version'", (str(target),))
    except psycopg.errors.InsufficientPrivilege as exc:
        raise StoreError(f"{where}: the database has no fleet memory schema (version {v or 0} of {SCHEMA_VERSION}) and "
                         f"this role may not create it ({str(exc).strip()}); the database owner sets it up with "
                         "`embodied-mem fleet init URL`") from None
    return SCHEMA_VERSION


def robot_role_name(fleet: str, robot: str) -> str:
    """The login role of a robot: ``em_<fleet>_<robot>`` (lower-case, safe characters, at most 63 bytes)."""
    base = re.sub(r"[^a-z0-9_]+", "_", f"em_{fleet}_{robot}".lower())[:50]
    return f"{base}_{hashlib.sha256(f'{fleet}/{robot}'.encode()).hexdigest()[:8]}"


def check_name(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {type(value).__name__}")
    if not value.strip() or len(value) > 200 or any(ord(c) < 32 for c in value):
        raise ValueError(f"{what} must be a non-empty name of at most 200 printable characters, got {value!r}")
    return value


def add_robot(admin_url: str, fleet: str, robot: str, password: str | None = None) -> dict[str, str]:
    """Create (or re-key) the login role of ``robot`` in ``fleet``; returns ``{"role", "password", "url"}``.

    Run with the database owner's (or a superuser's) URL; creates the schema when missing. The
    returned ``url`` is ``admin_url`` with the robot's credentials in it."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    check_name(fleet, "fleet")
    check_name(robot, "robot")
    password = password or secrets.token_urlsafe(18)
    role = robot_role_name(fleet, robot)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        ensure_schema(conn, "fleet memory")
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))
            conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(ROBOT_GROUP), sql.Identifier(role)))
            conn.execute(f"INSERT INTO {SCHEMA}.robots (fleet, robot, role) VALUES (%s, %s, %s) "
                         "ON CONFLICT (fleet, robot) DO UPDATE SET role = EXCLUDED.role", (fleet, robot, role))
    params = conninfo_to_dict(admin_url)
    params.update(user=role, password=password)
    host, port, db = params.get("host", "localhost"), params.get("port", "5432"), params.get("dbname", "")
    from urllib.parse import quote

    url = f"postgresql://{quote(role)}:{quote(password)}@{host}:{port}/{quote(db)}"
    return {"role": role, "password": password, "url": url, "conninfo": make_conninfo(**params)}
