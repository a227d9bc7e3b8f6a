"""Command line and runs on a fleet memory: `embodied-mem fleet`, `memory inspect/query URL`, and
`embodied-mem run memory.url=…` workers writing into one server at the same time (real Crafter)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from embodied_mem import Memory, Percept, Pose, Sighting
from embodied_mem.fleet.schema import SCHEMA_VERSION


def cli(*args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MPLBACKEND": "Agg", "HYDRA_FULL_ERROR": "1"}
    r = subprocess.run([sys.executable, "-m", "embodied_mem.cli", *args], capture_output=True, text=True, env=env,
                       cwd=cwd, timeout=600)
    if check:
        assert r.returncode == 0, r.stderr[-3000:]
    return r


def test_fleet_cli_and_memory_queries_by_url(pg_url: str) -> None:
    assert cli("fleet", "init", pg_url).stdout.strip().endswith(f"schema version {SCHEMA_VERSION}")
    creds = json.loads(cli("fleet", "add-robot", pg_url, "house", "tb4-1", "--json").stdout)
    other = json.loads(cli("fleet", "add-robot", pg_url, "house", "tb4-2", "--json").stdout)
    for c, x in ((creds, 1.0), (other, 4.0)):
        with Memory.open(c["url"]) as mem:
            mem.observe(Percept(t=2.0, pose=Pose(x, 0, 0, 0), sightings=[Sighting("mug", (x, 1.0, 0.0))]))
    out = cli("memory", "inspect", creds["url"], "--json").stdout
    d = json.loads(out)
    assert d["percepts"] == 1 and d["schema_version"] == SCHEMA_VERSION and "mug" in d["labels"]
    assert creds["password"] not in d["path"]
    mine = json.loads(cli("memory", "query", creds["url"], "locate", "mug", "--json").stdout)
    assert [m["position"] for m in mine] == [[1.0, 1.0, 0.0]]
    fleet = json.loads(cli("memory", "query", creds["url"], "locate", "mug", "--fleet-wide", "--json").stdout)
    assert sorted(m["robot"] for m in fleet) == ["tb4-1", "tb4-2"]
    status = json.loads(cli("fleet", "status", pg_url, "--json").stdout)
    assert [(r["robot"], r["journal_rows"]) for r in status["robots"]] == [("tb4-1", 1), ("tb4-2", 1)]
    bad = cli("memory", "query", creds["url"], "--robot", "tb4-2", "locate", "mug", check=False)
    assert bad.returncode == 2 and "belong to robot 'tb4-1'" in bad.stderr
    bad = cli("memory", "inspect", pg_url.rsplit(":", 1)[0] + ":1/x", "--robot", "r", check=False)
    assert bad.returncode == 2 and "cannot reach" in bad.stderr


def test_run_workers_share_one_fleet_memory(pg_url: str, tmp_path: Path) -> None:
    pytest.importorskip("crafter")
    procs = [subprocess.Popen([sys.executable, "-m", "embodied_mem.cli", "run", "episodes=1", "steps=60",
                               f"seed={i}", "progress=false", "plots=false", f"memory.url={pg_url}",
                               f"memory.robot=worker-{i}", f"hydra.run.dir={tmp_path / str(i)}"],
                              cwd=tmp_path, env={**os.environ, "MPLBACKEND": "Agg"}, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    for p in procs:
        assert p.wait(600) == 0, p.stderr.read()[-3000:]
    metrics = json.loads((tmp_path / "0" / "metrics.json").read_text())
    assert metrics["memory"]["path"].endswith("#default/worker-0")
    seen = {}
    for i in range(2):
        with Memory.open(pg_url, robot=f"worker-{i}", readonly=True) as mem:
            seen[i] = mem.stats()["percepts"]
            assert 30 <= seen[i] <= 61
            labels = mem.fleet.labels(fleet=True)
    assert labels and not list(tmp_path.glob("*/memory*.db"))  # written into the server only
    with Memory.open(pg_url, robot="console", readonly=True) as mem:
        robots = {loc.robot for lbl in labels for loc in mem.fleet.locate(lbl, fleet=True)}
    assert robots == {"worker-0", "worker-1"}


def test_memory_check_by_url_finds_damage_and_refuses_what_is_not_ours(pg_url: str) -> None:
    import psycopg

    for robot, n in (("a", 12), ("b", 5)):
        with Memory.open(pg_url, robot=robot) as mem:
            for i in range(n):
                mem.observe(Percept(t=float(i), pose=Pose(i, 0, 0, 0), sightings=[Sighting("mug", (i, 1.0, 0.0))]))
            mem.semantic.assert_fact("mug", "found_in", f"{robot}-room", confidence=0.7, t=1.0)
    ok = cli("memory", "check", pg_url)
    assert "default/a: OK" in ok.stdout and "default/b: OK" in ok.stdout
    one = json.loads(cli("memory", "check", pg_url, "--robot", "a", "--json").stdout)
    assert len(one) == 1 and one[0]["ok"] and one[0]["counts"] == {"percept": 12, "assert": 1}
    assert one[0]["last_good_percept"]["seq"] == 11 and one[0]["replay_problems"] == []
    facts = json.loads(cli("memory", "query", pg_url, "--robot", "a", "facts", "--fleet-wide", "--json").stdout)
    assert sorted((f["robot"], f["object"]) for f in facts) == [("a", "a-room"), ("b", "b-room")]
    with psycopg.connect(pg_url, autocommit=True) as c:  # damage: a changed row, a lost row
        c.execute("UPDATE embodied_mem.journal SET payload = '{\"t\": 2' WHERE robot = 'a' AND seq = 2")
        c.execute("DELETE FROM embodied_mem.journal WHERE robot = 'a' AND seq IN (5, 6)")
    bad = cli("memory", "check", pg_url, "--robot", "a", check=False)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "seq 2: the payload does not match its stored percept id" in bad.stdout
    assert "sequence numbers missing (rows lost): 5..6" in bad.stdout
    assert "shared sighting row(s) have no journal row" in bad.stdout
    assert cli("memory", "check", pg_url, "--robot", "b").returncode == 0  # the other robot is sound
    refused = cli("memory", "check", pg_url, "--salvage", "x.db", check=False)
    assert refused.returncode == 2 and "for a memory file" in refused.stderr
    down = cli("memory", "check", pg_url.rsplit(":", 1)[0] + ":1/x", check=False)
    assert down.returncode == 2 and "cannot reach" in down.stderr
    admin = pg_url.rsplit("/", 1)[0]
    with psycopg.connect(admin + "/postgres", autocommit=True) as c:
        for db in ("empty_db", "foreign_db"):
            c.execute(f"DROP DATABASE IF EXISTS {db}")
            c.execute(f"CREATE DATABASE {db}")
    with psycopg.connect(admin + "/foreign_db", autocommit=True) as c:
        c.execute("CREATE SCHEMA embodied_mem")
        c.execute("CREATE TABLE embodied_mem.journal (x int)")
    empty = cli("memory", "check", admin + "/empty_db", check=False)
    assert empty.returncode == 2 and "no fleet memory schema" in empty.stderr
    foreign = cli("memory", "check", admin + "/foreign_db", check=False)
    assert foreign.returncode == 2 and "not an embodied_mem fleet memory" in foreign.stderr
