"""Telling a fleet-memory URL from a file path, and showing it without its password."""

from __future__ import annotations

from typing import Any

__all__ = ["is_database_url", "redact_url"]


def is_database_url(location: Any) -> bool:
    """True for ``postgresql://…`` / ``postgres://…`` (a fleet memory), False for a file path."""
    return isinstance(location, str) and location.split("://", 1)[0].lower() in ("postgresql", "postgres")


def redact_url(url: str) -> str:
    """The URL without its password (for messages and ``Memory.path``)."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        d = conninfo_to_dict(url)
    except Exception:  # noqa: BLE001 - a malformed URL: show only its scheme
        return url.split("://", 1)[0] + "://…"
    host = d.get("host", "localhost")
    return f"postgresql://{d.get('user', '')}@{host}:{d.get('port', 5432)}/{d.get('dbname', '')}"


