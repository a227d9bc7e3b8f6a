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
