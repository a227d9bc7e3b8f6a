"""``embodied-mem fleet``: set up a fleet memory database and give robots their credentials.

    embodied-mem fleet init URL                      create or migrate the schema (database owner's URL)
    embodied-mem fleet add-robot URL FLEET ROBOT     a login role for ROBOT; prints its URL (with password)
    embodied-mem fleet status URL                    schema version, fleets, robots, journal rows

Exit status 0 on success, 2 on a refused argument or an unusable server (the message says why).
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["main"]

PROG = "embodied-mem fleet"


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=PROG, description="Set up a fleet memory on PostgreSQL.")
    sub = ap.add_subparsers(dest="command", required=True, metavar="{init,add-robot,status}")
    p = sub.add_parser("init", help="create or migrate the fleet schema")
    p.add_argument("url")
    p = sub.add_parser("add-robot", help="create (or re-key) a robot's login role")
    p.add_argument("url")
    p.add_argument("fleet")
    p.add_argument("robot")
    p.add_argument("--password", default=None, help="default: a random one")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("status", help="schema version, fleets, robots and journal rows")
    p.add_argument("url")
    p.add_argument("--json", action="store_true")
    return ap


def main(argv: list[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    from ..store import StoreError
    from .urls import is_database_url, redact_url

    if not is_database_url(a.url):
        print(f"{PROG}: error: URL must start with postgresql://, got {a.url!r}", file=sys.stderr)
        return 2
    try:
        import psycopg

        from .schema import SCHEMA, add_robot, ensure_schema

        where = redact_url(a.url)
        if a.command == "add-robot":
            creds = add_robot(a.url, a.fleet, a.robot, a.password)
            print(json.dumps(creds) if a.json else f"robot {a.robot!r} of fleet {a.fleet!r}: role {creds['role']}\n"
                  f"  Memory.open({creds['url']!r})")
            return 0
        try:
            conn = psycopg.connect(a.url, autocommit=True)
        except psycopg.OperationalError as exc:
            raise StoreError(f"{where}: cannot reach the server ({' '.join(str(exc).split())})") from None
        with conn:
            v = ensure_schema(conn, where, create=a.command == "init")
            if a.command == "init":
                print(f"{where}: fleet memory schema version {v}")
                return 0
            rows = conn.execute(f"SELECT r.fleet, r.robot, r.role, (SELECT count(*) FROM {SCHEMA}.journal j WHERE "
                                "j.fleet = r.fleet AND j.robot = r.robot) FROM "
                                f"{SCHEMA}.robots r ORDER BY 1, 2").fetchall()
        d = {"server": where, "schema_version": v,
             "robots": [{"fleet": f, "robot": r, "role": role, "journal_rows": n} for f, r, role, n in rows]}
        if a.json:
            print(json.dumps(d, indent=2))
        else:
            print(f"{where}: schema version {v}, {len(rows)} robot(s)")
            for f, r, role, n in rows:
                print(f"  {f}/{r}: {n:,} journal rows" + (f" (role {role})" if role else " (operator-written)"))
        return 0
    except (StoreError, ValueError, TypeError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"{PROG}: error: needs psycopg: pip install 'embodied_mem[fleet]' ({exc})", file=sys.stderr)
        return 2
