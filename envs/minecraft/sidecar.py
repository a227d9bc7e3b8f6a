"""Node.js processes behind the Minecraft env: the Mineflayer sidecar and a local flying-squid server.

Both run ``node`` on a script shipped in this package, with ``NODE_PATH`` pointing at the npm
packages installed by ``scripts/install_minecraft.sh`` (mineflayer, mineflayer-pathfinder,
flying-squid, pinned in ``package.json``). Each process runs in its own process group and is
stopped (SIGTERM, then SIGKILL after a grace period) on ``close()``, on garbage collection and at
interpreter exit, so a failing test leaves no orphans.

Protocol with the sidecar: one JSON object per line on its stdin (``{"id": n, "op": ..., ...}``),
one reply per request on its stdout (``{"id": n, "ok": true, "result": ...}`` or ``"ok": false``
with ``"error"``), plus unsolicited events (``{"event": "end" | "kicked" | "death" | "error"}``).
Every wait has a timeout: a dead process or a dropped server connection raises
``SidecarError`` / ``ConnectionLost``, never hangs.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "SidecarError",
    "ConnectionLost",
    "NodeNotAvailable",
    "node_modules_dir",
    "node_available",
    "MineflayerSidecar",
    "FlyingSquidServer",
]

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
REQUIRED_PACKAGES = ("mineflayer", "mineflayer-pathfinder", "flying-squid")
INSTALL_HINT = "run scripts/install_minecraft.sh (needs Node.js >= 18 and npm, once, with internet access)"


class SidecarError(RuntimeError):
    """The Node.js process failed, refused a request, or did not answer in time."""


class ConnectionLost(SidecarError):
    """The bot's connection to the Minecraft server ended (server stopped, kicked, network)."""


class NodeNotAvailable(SidecarError):
    """Node.js or the npm packages of the sidecar are missing; the message says how to install them."""

    user_facing = True  # the CLI reports it in one line (exit 2), like a missing pip extra


def node_modules_dir() -> Path | None:
    """Where the sidecar's npm packages are: ``$EMBODIED_MEM_MC_NODE_MODULES``, else
    ``<repo>/.cache/minecraft-node/node_modules``, else ``~/.cache/embodied_mem/minecraft-node/node_modules``;
    None when none of them holds all of mineflayer, mineflayer-pathfinder and flying-squid."""
    candidates = []
    env = os.environ.get("EMBODIED_MEM_MC_NODE_MODULES")
    if env:
        candidates.append(Path(env))
    candidates.append(REPO / ".cache" / "minecraft-node" / "node_modules")
    candidates.append(Path.home() / ".cache" / "embodied_mem" / "minecraft-node" / "node_modules")
    for c in candidates:
        if all((c / p / "package.json").is_file() for p in REQUIRED_PACKAGES):
            return c
    return None


def node_available() -> tuple[bool, str]:
    """(True, "") when node >= 18 and the npm packages are present, else (False, reason)."""
    node = shutil.which("node")
    if node is None:
        return False, "node (Node.js >= 18) is not on PATH"
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
        major = int(out.lstrip("v").split(".")[0])
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        return False, f"could not run node --version: {exc}"
    if major < 18:
        return False, f"Node.js >= 18 needed, found {out}"
    if node_modules_dir() is None:
        return False, f"the sidecar's npm packages ({', '.join(REQUIRED_PACKAGES)}) are not installed: {INSTALL_HINT}"
    return True, ""


_LIVE: weakref.WeakSet[_NodeProcess] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for p in list(_LIVE):
        p.close()


def _kill_group(proc: subprocess.Popen, grace: float) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)


class _NodeProcess:
    """``node SCRIPT ARGS`` in its own process group; stdout lines are read by a thread into a queue."""

    def __init__(self, script: str, args: Sequence[str] = (), *, cwd: Path | None = None, name: str = "node") -> None:
        ok, why = node_available()
        if not ok:
            raise NodeNotAvailable(why)
        modules = node_modules_dir()
        env = dict(os.environ, NODE_PATH=str(modules), CI="1", FORCE_COLOR="0")
        self.name = name
        self._stderr = tempfile.TemporaryFile(mode="w+b")
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.proc = subprocess.Popen(
            [shutil.which("node") or "node", str(HERE / script), *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, cwd=cwd, env=env,
            start_new_session=True, bufsize=0,
        )
        self._closed = False
        _LIVE.add(self)
        self._finalizer = weakref.finalize(self, _kill_group, self.proc, 1.0)
        self._reader = threading.Thread(target=self._read, name=f"{name}-stdout", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in iter(self.proc.stdout.readline, b""):
            self._lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
        self._lines.put(None)  # end of stream: the process exited

    def stderr_tail(self, n: int = 2000) -> str:
        try:
            self._stderr.flush()
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - n))
            return self._stderr.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""

    def _next_line(self, deadline: float, what: str) -> str:
        timeout = deadline - time.monotonic()
        if timeout <= 0:
            raise SidecarError(f"{self.name}: no answer to {what} within the timeout")
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise SidecarError(f"{self.name}: no answer to {what} within the timeout") from None
        if line is None:
            self._lines.put(None)
            code = self.proc.poll()
            raise SidecarError(f"{self.name} exited (code {code}) while waiting for {what}; stderr: {self.stderr_tail()}")
        return line

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self, grace: float = 3.0) -> None:
        """Stop the process group (SIGTERM, SIGKILL after ``grace`` seconds). Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
        except OSError:
            pass
        _kill_group(self.proc, grace)
        self._finalizer.detach()
        _LIVE.discard(self)
        try:
            self._stderr.close()
        except OSError:
            pass

    def __enter__(self) -> _NodeProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class FlyingSquidServer(_NodeProcess):
    """A local flying-squid Minecraft server on 127.0.0.1 (offline mode), for tests and the task.

    ``blocks``: ``[(x, y, z, "block_name"), ...]`` placed (Minecraft coordinates) before ``ready``.
    ``port=0`` picks a free port; the actual one is ``self.port``. ``generation`` is
    ``"superflat"`` (grass at y=4, the surface to stand on is y=5) or ``"diamond_square"``.
    Raises ``SidecarError`` if the server does not report ready within ``timeout`` seconds.
    """

    def __init__(self, *, version: str = "1.16.5", port: int = 0, generation: str = "superflat",
                 spawn: Sequence[float] | None = None, blocks: Sequence[Sequence[Any]] = (), seed: int = 1,
                 timeout: float = 60.0) -> None:
        if generation not in ("superflat", "diamond_square"):
            raise ValueError(f"generation must be 'superflat' or 'diamond_square', got {generation!r}")
        if not isinstance(port, int) or not 0 <= port < 65536:
            raise ValueError(f"port must be an int in [0, 65535], got {port!r}")
        self._dir = tempfile.TemporaryDirectory(prefix="embodied_mem_mc_")
        cfg = {"host": "127.0.0.1", "port": port, "version": version, "generation": generation, "seed": seed,
               "spawn": list(spawn) if spawn is not None else None, "blocks": [list(b) for b in blocks]}
        path = Path(self._dir.name) / "server.json"
        path.write_text(json.dumps(cfg))
        super().__init__("server.js", [str(path)], cwd=Path(self._dir.name), name="flying-squid")
        self.version = version
        self.port = 0
        deadline = time.monotonic() + timeout
        try:
            while True:
                line = self._next_line(deadline, "server start")
                at = line.find("@@em ")  # flying-squid's console may prefix a prompt
                if at < 0:
                    continue
                msg = json.loads(line[at + 5:])
                if msg.get("event") == "ready":
                    self.port = int(msg["port"])
                    self.placed = int(msg.get("placed", 0))
                    break
                if msg.get("event") == "error":
                    raise SidecarError(f"flying-squid failed to start: {msg.get('message')}")
        except BaseException:
            self.close()
            raise

    def close(self, grace: float = 3.0) -> None:
        super().close(grace)
        self._dir.cleanup()


class MineflayerSidecar(_NodeProcess):
    """The Mineflayer bot process. ``request(op, timeout=..., **args)`` returns the reply's result.

    Raises ``SidecarError`` when the sidecar refuses the request (the message is the JS error), does
    not answer within ``timeout`` seconds or exits, and ``ConnectionLost`` once the bot's server
    connection has ended (every later request raises it too).
    """

    def __init__(self) -> None:
        super().__init__("sidecar.js", name="mineflayer sidecar")
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.lost: str | None = None
        self._lock = threading.Lock()

    def request(self, op: str, *, timeout: float = 30.0, **args: Any) -> Any:
        with self._lock:
            if self.lost is not None and op not in ("quit", "ping", "connect", "disconnect"):
                raise ConnectionLost(f"the connection to the Minecraft server was lost ({self.lost})")
            if not self.alive:
                raise SidecarError(f"{self.name} is not running (code {self.proc.poll()}); stderr: {self.stderr_tail()}")
            self._next_id += 1
            rid = self._next_id
            line = json.dumps({"id": rid, "op": op, **args}, separators=(",", ":")) + "\n"
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(line.encode())
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError) as exc:
                raise SidecarError(f"{self.name} is gone ({exc}); stderr: {self.stderr_tail()}") from None
            deadline = time.monotonic() + timeout
            while True:
                raw = self._next_line(deadline, f"request {op!r}")
                try:
                    msg = json.loads(raw)
                except json.JSONDecodeError:
                    continue  # not a protocol line
                if "event" in msg:
                    self.events.append(msg)
                    if msg["event"] in ("end", "kicked") and op != "disconnect":
                        self.lost = f"{msg['event']}: {msg.get('reason', '')}"
                        if op not in ("quit", "ping"):
                            raise ConnectionLost(f"the connection to the Minecraft server was lost ({self.lost})")
                    continue
                if msg.get("id") != rid:
                    continue
                if msg.get("ok") and op in ("connect", "disconnect"):
                    self.lost = None  # a new connection (or none, on purpose)
                if not msg.get("ok"):
                    err = msg.get("error", "unknown error")
                    if self.lost is not None:
                        raise ConnectionLost(f"{op} failed after the connection was lost ({self.lost}): {err}")
                    raise SidecarError(f"{op} failed: {err}")
                return msg.get("result")

    def poll_events(self) -> list[dict[str, Any]]:
        """Read events that arrived between requests (non-blocking); marks a lost connection."""
        while True:
            try:
                raw = self._lines.get_nowait()
            except queue.Empty:
                break
            if raw is None:
                self._lines.put(None)
                break
            try:
                msg = json.loads(raw)
            except json.JSONDecodeError:
                continue
            if "event" in msg:
                self.events.append(msg)
                if msg["event"] in ("end", "kicked"):
                    self.lost = f"{msg['event']}: {msg.get('reason', '')}"
        return self.events

    def close(self, grace: float = 2.0) -> None:
        if not self._closed and self.alive:
            try:
                self.proc.stdin.close()  # type: ignore[union-attr]  # the sidecar quits on EOF
                self.proc.wait(timeout=grace)
            except (OSError, subprocess.TimeoutExpired):
                pass
        super().close(grace)
