"""The Node.js processes against a real flying-squid server on 127.0.0.1: protocol, timeouts,
dropped connections, and no orphan processes."""

from __future__ import annotations

import os
import time

import pytest
from embodied_mem.envs.minecraft.sidecar import (
    ConnectionLost,
    FlyingSquidServer,
    MineflayerSidecar,
    SidecarError,
)

# a hay block hidden inside a closed stone box (never visible), and blocks in plain sight
BOX = [(x, y, z, "stone") for x in range(9, 12) for y in range(5, 8) for z in range(-1, 2) if (x, y, z) != (10, 6, 0)]
BLOCKS = [(3, 5, 0, "pumpkin"), (4, 5, 0, "sand"), (0, 5, 6, "stone"), (0, 6, 6, "stone"), (-6, 5, 0, "hay_block"),
          *BOX, (10, 6, 0, "hay_block"), (5, 5, 3, "hay_block")]
TERRAIN = ["grass_block", "dirt", "bedrock"]


def _gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def server(node_ready):
    srv = FlyingSquidServer(spawn=(0, 5, 0), blocks=BLOCKS)
    yield srv
    srv.close()
    assert _gone(srv.proc.pid)


@pytest.fixture
def bot(server):
    sc = MineflayerSidecar()
    sc.request("connect", port=server.port, username=f"t{os.getpid() % 10000}{int(time.time() * 1000) % 1000}",
               version=server.version)
    yield sc
    sc.close()
    assert _gone(sc.proc.pid)


def test_server_reports_port_and_placed_blocks(server):
    assert server.port > 0 and server.alive
    assert server.placed == len(BLOCKS)


def test_bot_sees_blocks_in_line_of_sight_walks_and_digs(bot):
    obs = bot.request("observe", radius=8, ignore=TERRAIN)
    assert obs["position"] == [0, 5, 0]
    seen = {tuple(b[:3]): b[3] for b in obs["blocks"]}
    assert seen[(3, 5, 0)] == "pumpkin" and seen[(4, 5, 0)] == "sand" and seen[(-6, 5, 0)] == "hay_block"
    assert (0, 5, 6) in seen  # the wall's near face is visible
    assert [0, 6] in obs["blocked"] and any(c[:2] == [1, 1] for c in obs["free"])
    assert obs["game_mode"] == "survival" and obs["health"] > 0
    res = bot.request("move_to", x=2.5, y=5, z=1.5, range=1)
    assert res["reached"], res
    res = bot.request("dig", x=3, y=5, z=0)
    assert res["dug"] and res["block"] == "pumpkin" and res["collected"] >= 1
    obs = bot.request("observe", radius=8, ignore=TERRAIN)
    assert obs["inventory"].get("pumpkin", 0) >= 1
    assert (3, 5, 0) not in {tuple(b[:3]) for b in obs["blocks"]}
    assert obs["odometer"] > 1.5


def test_occluded_block_is_not_seen(bot):
    obs = bot.request("observe", radius=12, ignore=TERRAIN)
    hay = {tuple(b[:3]) for b in obs["blocks"] if b[3] == "hay_block"}
    assert hay == {(5, 5, 3), (-6, 5, 0)}  # not (10, 6, 0), inside the box
    assert (9, 6, 0) in {tuple(b[:3]) for b in obs["blocks"]}  # the box's near face is seen


def test_bad_requests_raise_clear_errors(bot):
    with pytest.raises(SidecarError, match="unknown op"):
        bot.request("teleport")
    with pytest.raises(SidecarError, match="argument x must be a finite number"):
        bot.request("move_to", x="far", z=0)
    with pytest.raises(SidecarError, match="unknown control"):
        bot.request("control", controls={"fly": True})
    assert bot.request("ping")["connected"]  # still usable afterwards


def test_request_before_connect_is_refused(node_ready):
    with MineflayerSidecar() as sc:
        with pytest.raises(SidecarError, match="not connected"):
            sc.request("observe")


def test_dropped_connection_raises_instead_of_hanging(node_ready):
    srv = FlyingSquidServer(spawn=(0, 5, 0))
    sc = MineflayerSidecar()
    try:
        sc.request("connect", port=srv.port, version=srv.version)
        srv.close()  # the server goes away under the bot
        t0 = time.monotonic()
        with pytest.raises(ConnectionLost):
            for _ in range(100):
                sc.request("observe", radius=2, timeout=10)
                time.sleep(0.1)
        assert time.monotonic() - t0 < 30
        with pytest.raises(ConnectionLost):  # and stays lost
            sc.request("observe")
    finally:
        sc.close()
        srv.close()
    assert _gone(sc.proc.pid) and _gone(srv.proc.pid)


def test_dead_sidecar_raises_and_unanswered_request_times_out(node_ready):
    sc = MineflayerSidecar()
    try:
        os.killpg(sc.proc.pid, 9)
        sc.proc.wait(5)
        with pytest.raises(SidecarError, match="not running|gone|exited"):
            sc.request("ping", timeout=5)
    finally:
        sc.close()
    sc = MineflayerSidecar()
    try:
        os.killpg(sc.proc.pid, 19)  # SIGSTOP: alive but silent
        t0 = time.monotonic()
        with pytest.raises(SidecarError, match="no answer"):
            sc.request("ping", timeout=1.0)
        assert time.monotonic() - t0 < 5
        os.killpg(sc.proc.pid, 18)  # SIGCONT, so that it can be stopped quickly
    finally:
        sc.close()
    assert _gone(sc.proc.pid)


def test_connecting_to_a_closed_port_fails_fast(node_ready):
    with MineflayerSidecar() as sc:
        with pytest.raises(SidecarError):
            sc.request("connect", port=1, timeout_ms=5000, timeout=15)


def test_server_refuses_a_non_loopback_host_and_bad_port(node_ready):
    with pytest.raises(ValueError, match="port"):
        FlyingSquidServer(port=70000)
    with pytest.raises(SidecarError, match="unknown block name"):
        FlyingSquidServer(blocks=[(0, 5, 0, "unobtainium")])


def test_no_orphans_when_the_python_parent_is_killed(node_ready, tmp_path):
    import signal
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from embodied_mem.envs.minecraft.sidecar import FlyingSquidServer, MineflayerSidecar\n"
        "srv = FlyingSquidServer(spawn=(0, 5, 0))\n"
        "sc = MineflayerSidecar()\n"
        "sc.request('connect', port=srv.port, version=srv.version)\n"
        "print(srv.proc.pid, sc.proc.pid, flush=True)\n"
        "import time; time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        line = parent.stdout.readline()
        server_pid, sidecar_pid = (int(v) for v in line.split())
        os.kill(parent.pid, signal.SIGKILL)  # no atexit, no finalizers
        parent.wait(10)
        assert _gone(server_pid, 10) and _gone(sidecar_pid, 10)
    finally:
        if parent.poll() is None:
            parent.kill()
