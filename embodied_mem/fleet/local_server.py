"""A throw-away local PostgreSQL server (tests, benchmarks, a laptop demo).

``LocalPostgres`` runs ``initdb`` into a temporary data directory and starts the server with
``pg_ctl`` on a free loopback port (``127.0.0.1``) and a Unix socket inside that directory; nothing
listens on any other address. PostgreSQL refuses to run as root, so when this process is root the
server runs as the ``postgres`` system user (``runuser -u postgres --``) and the data directory
belongs to it. The superuser is ``postgres`` with a random password (scram-sha-256 over TCP).

Binaries are looked for in ``$EMBODIED_MEM_PG_BIN``, ``/usr/lib/postgresql/<newest>/bin`` and
``PATH``; ``find_pg_bin()`` returns None when there are none (callers skip or explain).
Failure: ``RuntimeError`` with the server's log tail.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

__all__ = ["LocalPostgres", "find_pg_bin"]


def find_pg_bin() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, or None when PostgreSQL is not installed."""
    env = os.environ.get("EMBODIED_MEM_PG_BIN")
    cands = [Path(env)] if env else []
    cands += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                                      key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
                                      reverse=True)]
    which = shutil.which("initdb")
    if which:
        cands.append(Path(which).parent)
    for c in cands:
        if (c / "initdb").is_file() and (c / "pg_ctl").is_file():
            return c
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalPostgres:
    """One temporary PostgreSQL cluster. ``start()``, ``stop()``, ``restart()``, ``crash()``, ``url()``.

    ``fsync`` stays on (durability is what the tests check)."""

    def __init__(self, bin_dir: Path | None = None, *, base: str | Path | None = None) -> None:
        self.bin = bin_dir or find_pg_bin()
        if self.bin is None:
            raise RuntimeError("PostgreSQL binaries (initdb, pg_ctl) not found: install postgresql-15 "
                               "(apt-get install postgresql-15) or set EMBODIED_MEM_PG_BIN")
        self.root = Path(tempfile.mkdtemp(prefix="embodied-mem-pg-", dir=base))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = _free_port()
        self.password = secrets.token_hex(12)
        self.user = "postgres"
        self._as_root = os.geteuid() == 0
        self._initdb()

    def _cmd(self, *args: str) -> list[str]:
        return (["runuser", "-u", "postgres", "--"] if self._as_root else []) + list(args)

    def _initdb(self) -> None:
        pw = self.root / "pw"
        pw.write_text(self.password + "\n")
        if self._as_root:
            ent = pwd.getpwnam("postgres")
            os.chmod(self.root, 0o700)
            os.chown(self.root, ent.pw_uid, ent.pw_gid)
            os.chown(pw, ent.pw_uid, ent.pw_gid)
        r = subprocess.run(self._cmd(str(self.bin / "initdb"), "-D", str(self.data), "-U", self.user,
                                     f"--pwfile={pw}", "--auth-host=scram-sha-256", "--auth-local=trust",
                                     "-E", "UTF8", "--locale=C.UTF-8" if _has_c_utf8() else "--no-locale"),
                           capture_output=True, text=True)
        pw.unlink()
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed: {r.stderr.strip()[-2000:]}")
        with open(self.data / "postgresql.conf", "a") as f:
            f.write(f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                    f"unix_socket_directories = '{self.root}'\nmax_connections = 200\n"
                    "shared_buffers = 64MB\nlog_min_messages = warning\nrecovery_init_sync_method = syncfs\n")

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(self._cmd(str(self.bin / "pg_ctl"), "-D", str(self.data), *args),
                           capture_output=True, text=True)
        if check and r.returncode != 0:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"pg_ctl {' '.join(args)} failed: {r.stderr.strip()[-1000:]}\n{tail}")
        return r

    def start(self) -> LocalPostgres:
        self._pg_ctl("-l", str(self.log), "-w", "-t", "60", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``mode="immediate"``: no shutdown checkpoint, recovery from WAL at the next start)."""
        self._pg_ctl("-m", mode, "-w", "stop", check=False)

    def crash(self) -> None:
        """Stop like a power cut of the server (immediate shutdown: WAL replay on the next start)."""
        self.stop("immediate")

    def restart(self, mode: str = "immediate") -> None:
        self.stop(mode)
        self.start()

    @property
    def running(self) -> bool:
        return self._pg_ctl("status", check=False).returncode == 0

    def url(self, user: str | None = None, password: str | None = None, dbname: str = "postgres") -> str:
        """``postgresql://user:password@127.0.0.1:PORT/dbname`` (the superuser by default)."""
        user = user or self.user
        password = self.password if password is None else password
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{dbname}"

    def close(self) -> None:
        """Stop the server and delete its data directory."""
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _has_c_utf8() -> bool:
    try:
        out = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout
    except OSError:
        return False
    return any(x.lower() in ("c.utf8", "c.utf-8") for x in out.split())
