"""Pick the storage backend of a memory from where it lives.

``open_store(location, ...)``: a file path gives the embedded SQLite journal (``store.MemoryStore``);
a ``postgresql://`` (or ``postgres://``) URL gives a robot's journal in a fleet memory server
(``fleet.store.PgMemoryStore``, imported only then: psycopg stays out of ``import embodied_mem``).
Both offer the same interface (append/flush/entries/get_meta/set_meta/count/next_seq/close).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .fleet import is_database_url
from .store import MemoryStore

__all__ = ["open_store", "is_database_url", "default_robot_name"]


def default_robot_name() -> str:
    """A writer name unique to this process (``host-pid``), for a run that names no ``memory.robot``."""
    import os
    import socket

    return f"{socket.gethostname()}-{os.getpid()}"


def open_store(location: str | Path, *, robot: str | None = None, fleet: str | None = None,
               durability: str = "percept", synchronous: str = "normal", readonly: bool = False) -> Any:
    """The store at ``location``. ``robot``/``fleet`` name whose memory it is in a fleet database and
    are refused for a file (``ValueError`` naming them)."""
    if is_database_url(location):
        try:
            from .fleet.store import PgMemoryStore
        except ImportError as exc:  # psycopg missing
            raise ImportError(f"a fleet memory ({str(location).split(':', 1)[0]}://) needs psycopg: "
                              f"pip install 'embodied_mem[fleet]' ({exc})") from None
        return PgMemoryStore(str(location), robot=robot, fleet=fleet, durability=durability, readonly=readonly)
    if robot is not None or fleet is not None:
        raise ValueError(f"robot= and fleet= name a robot in a fleet memory (a postgresql:// URL); {location!s} is a "
                         "file, one memory per file")
    return MemoryStore(location, durability=durability, synchronous=synchronous, readonly=readonly)
