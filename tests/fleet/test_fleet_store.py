"""A robot's memory in PostgreSQL: same answers as SQLite, reopen, durability, idempotence, errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import psycopg
import pytest

from embodied_mem import Memory, Percept, Pose, Sighting, View
from embodied_mem.store import StoreError


def stream(n: int, source: str = "cam") -> list[Percept]:
    out = []
    for i in range(n):
        s = [Sighting("tree", (float(i % 7), 3.0, 0.0)), Sighting("key", (i * 0.8, 1.0, 0.0), instance="key-1",
                                                                      confidence=0.9)]
        out.append(Percept(t=float(i), pose=Pose(i * 0.8, 0.0, 0.0, 0.0), sightings=s,
                           view=View.disc((i * 0.8, 0.0, 0.0), 2.0) if i % 5 == 0 else None,
                           events=["step"] if i % 10 == 0 else (), region="hall" if i < n // 2 else "lab",
                           source=source))
    return out


def answers(mem: Memory) -> tuple:
    return (mem.spatial.locate("key"), mem.spatial.locate("tree"), mem.spatial.locate("key", at=7.0),
            mem.temporal.between(0.0, 1e9), mem.spatial.trajectory(), mem.stats(), mem.semantic.facts())


def test_fleet_memory_answers_as_sqlite_and_reopens(pg_url: str, tmp_path) -> None:
    ps = stream(60)
    with Memory.open(tmp_path / "m.db") as lite, Memory.open(pg_url, robot="tb4-1") as pg:
        for p in ps:
            assert lite.observe(p) == pg.observe(p)
        want = answers(lite)
        assert answers(pg) == want
    with Memory.open(pg_url, robot="tb4-1") as again:  # from the snapshot kept in the database
        assert again.snapshot_status == "ok" and again.replayed_entries == 0
        assert answers(again) == want
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute("DELETE FROM embodied_mem.snapshots")
    with Memory.open(pg_url, robot="tb4-1", readonly=True) as again:  # the whole journal replayed
        assert again.snapshot_status == "no snapshot" and again.replayed_entries == 60
        assert answers(again) == want


def test_same_percept_is_stored_once(pg_url: str) -> None:
    ps = stream(10)
    with Memory.open(pg_url, robot="r") as mem:
        ids = [mem.observe(p) for p in ps]
        assert [mem.observe(p) for p in ps[3:6]] == ids[3:6]  # re-sent: same ids, nothing added
        assert mem.stats()["percepts"] == 10
    with Memory.open(pg_url, robot="r") as mem:  # a restarted writer re-sending its stream
        assert [mem.observe(p) for p in ps] == ids
        assert mem.observe_many(ps[:4]) == ids[:4]
        assert mem.stats()["percepts"] == 10
    with psycopg.connect(pg_url) as c:
        assert c.execute("SELECT count(*) FROM embodied_mem.journal WHERE kind = 'percept'").fetchone()[0] == 10


def test_dropped_connection_is_retried_without_duplicates(pg_url: str) -> None:
    ps = stream(40)
    with Memory.open(pg_url, robot="r") as mem, psycopg.connect(pg_url, autocommit=True) as admin:
        for i, p in enumerate(ps):
            if i % 10 == 5:  # the server drops this robot's connection
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
                              "'embodied_mem' AND pid <> pg_backend_pid()")
            assert mem.observe(p) == i
        assert mem._store.reconnects >= 4
    with psycopg.connect(pg_url) as c:
        rows = c.execute("SELECT seq FROM embodied_mem.journal ORDER BY seq").fetchall()
    assert [r[0] for r in rows] == list(range(40))


def test_server_restart_mid_stream_loses_and_doubles_nothing(pg_server, pg_url: str) -> None:
    ps = stream(150)
    acked: list[int] = []
    with Memory.open(pg_url, robot="r") as mem:
        def write() -> None:
            for p in ps:
                acked.append(mem.observe(p))
                time.sleep(0.002)
        th = threading.Thread(target=write)
        th.start()
        time.sleep(0.1)
        pg_server.crash()  # immediate shutdown: recovery from the WAL
        pg_server.start()
        th.join(60)
        assert not th.is_alive()
        assert mem._store.reconnects >= 1
    assert acked == list(range(150))
    with Memory.open(pg_url, robot="r", readonly=True) as mem:
        assert mem.stats()["percepts"] == 150


WRITER = textwrap.dedent("""
    import sys
    from embodied_mem import Memory, Percept, Pose, Sighting
    mem = Memory.open(sys.argv[1], robot=sys.argv[2])
    for i in range(100000):
        mem.observe(Percept(t=float(i), pose=Pose(float(i), 0, 0, 0), sightings=[Sighting("cup", (float(i), 1, 0))]))
        print(i, flush=True)
""")


def test_acknowledged_percepts_survive_client_sigkill_and_server_crash(pg_server, pg_url: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, pg_url, "w1"], stdout=subprocess.PIPE, text=True)
    acked = -1
    for line in proc.stdout:
        acked = int(line)
        if acked >= 80:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    pg_server.crash()
    pg_server.start()
    with Memory.open(pg_url, robot="w1") as mem:
        n = mem.stats()["percepts"]
        assert n >= acked + 1  # everything acknowledged (at most one more: committed, not yet printed)
        assert n <= acked + 2
        assert mem.spatial.trajectory()[-1][0] == n - 1


def test_one_writer_per_robot(pg_url: str) -> None:
    with Memory.open(pg_url, robot="r") as mem:
        mem.observe(stream(1)[0])
        with pytest.raises(StoreError, match="already open for writing"):
            Memory.open(pg_url, robot="r")
        with Memory.open(pg_url, robot="r", readonly=True) as ro:  # readers need no lock
            assert ro.stats()["percepts"] == 1
        with Memory.open(pg_url, robot="other") as other:  # other robots write at the same time
            other.observe(stream(1)[0])


def test_clear_errors(pg_server, pg_url: str, tmp_path) -> None:
    with pytest.raises(StoreError, match="cannot reach"):
        Memory.open(f"postgresql://postgres:x@127.0.0.1:{pg_server.port + 1 if pg_server.port < 65535 else 1}/none",
                    robot="r")
    with pytest.raises(ValueError, match="robot= and fleet="):
        Memory.open(tmp_path / "m.db", robot="r")
    with pytest.raises(ValueError, match="fleet queries need a fleet memory"):
        _ = Memory().fleet
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute("CREATE SCHEMA embodied_mem")
    with pytest.raises(StoreError, match="not an embodied_mem fleet memory"):
        Memory.open(pg_url, robot="r")
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute("DROP SCHEMA embodied_mem")
    with pytest.raises(StoreError, match="robot= is required"):
        Memory.open(pg_url)
    Memory.open(pg_url, robot="r").close()
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute("UPDATE embodied_mem.schema_info SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="schema version 99 is newer"):
        Memory.open(pg_url, robot="r")


def test_shared_beliefs_are_the_same_whether_written_one_by_one_or_in_batches(pg_url: str) -> None:
    ps = stream(80)
    with Memory.open(pg_url, robot="one") as a, Memory.open(pg_url, robot="batched", durability="batch") as b:
        for i, p in enumerate(ps):
            a.observe(p)
            b.observe(p)
            if i % 7 == 3 or i % 11 == 0:  # flushes of uneven sizes
                b.flush()
    with psycopg.connect(pg_url) as c:
        rows = {r: c.execute("SELECT label, key, instance, x, y, z, region, first_seen, last_seen, confidence, seq "
                             "FROM embodied_mem.beliefs WHERE robot = %s ORDER BY label, key", (r,)).fetchall()
                for r in ("one", "batched")}
    assert rows["one"] == rows["batched"] and len(rows["one"]) == 8  # key-1 and 7 tree cells
    key = [r for r in rows["one"] if r[0] == "key"][0]
    assert key[7] == key[8] == 79.0 and key[3] == pytest.approx(79 * 0.8)  # it moved every step: seen there since 79
    tree = [r for r in rows["one"] if r[1] == "@0,6,0"][0]
    assert (tree[7], tree[8]) == (0.0, 77.0)  # the tree at (0, 3) never moved: first seen at t=0, last at t=77
