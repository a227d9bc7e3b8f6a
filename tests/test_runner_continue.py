"""`embodied-mem run memory.path=PATH`: one memory continued across episodes and runs (real Crafter).
Each Crafter world gets its own map (world id ``crafter:<seed>``); facts and episodic memory carry over."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("crafter")


def _run(tmp_path: Path, name: str, life: Path) -> dict:
    env = {**os.environ, "MPLBACKEND": "Agg", "HYDRA_FULL_ERROR": "1"}
    r = subprocess.run([sys.executable, "-m", "embodied_mem.cli", "run", "episodes=2", "steps=150", "seed=3",
                        "progress=false", "plots=false", f"memory.path={life}", f"hydra.run.dir={tmp_path / name}"],
                       cwd=tmp_path, env=env, text=True, capture_output=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads((tmp_path / name / "metrics.json").read_text())


def test_two_runs_continue_one_memory(tmp_path: Path) -> None:
    from embodied_mem import Memory

    life = tmp_path / "life.db"
    _run(tmp_path, "r1", life)
    assert not list((tmp_path / "r1").glob("memory*.db"))  # the run wrote into the named memory only
    with Memory.open(life, readonly=True) as mem:
        assert mem.worlds() == ["crafter:3000", "crafter:3001"]
        first = mem.stats()
        priors = [f for f in mem.semantic.facts() if f.source == "prior"]
        chunks = set(mem.episodic.chunks())
        maps = {}
        for w in mem.worlds():
            mem.enter_world(w)
            maps[w] = mem.spatial.trajectory()
            assert 30 <= len(maps[w]) <= 151  # one world's walk only, its clock from the start
        assert maps["crafter:3000"] != maps["crafter:3001"]
    assert priors and first["episodic.episodes"] == 2
    with Memory.open(life) as mem:  # an outcome learned between runs: a chunk's utility
        useful = sorted(chunks)[len(chunks) // 2]
        probe = mem.episodic.chunk_items(useful)[0].text
        u = mem.episodic.reinforce(useful, 1.0)
    _run(tmp_path, "r2", life)
    with Memory.open(life, readonly=True) as mem:
        assert mem.snapshot_status == "ok"
        # the same seeds again are new worlds (a reset world starts over), the old maps are kept
        assert mem.worlds() == ["crafter:3000", "crafter:3000#2", "crafter:3001", "crafter:3001#2"]
        assert mem.stats()["percepts"] > first["percepts"]
        assert mem.stats()["episodic.episodes"] == 4
        assert chunks <= set(mem.episodic.chunks())  # experience of the first run is still there
        assert len([f for f in mem.semantic.facts() if f.source == "prior"]) == len(priors)  # loaded once
        mem.enter_world("crafter:3000")
        assert mem.spatial.trajectory() == maps["crafter:3000"]
        # the utility learned before this run is still there (episodic memory is not scoped by world)
        hit = [c for c in mem.episodic.recall(probe, k=len(chunks) + 100, strengthen=False) if c.id == useful]
        assert hit and hit[0].utility == pytest.approx(u) and u > 0
        # the world entered after crafter:3001 starts with its own map, none of 3001's beliefs
        def beliefs() -> set:
            return {(loc.label, tuple(loc.position), loc.first_seen) for lbl in mem.temporal.labels()
                    for loc in mem.spatial.locate(lbl)}
        mem.enter_world("crafter:3001")
        previous = beliefs()
        mem.enter_world("crafter:3000#2")
        assert previous and beliefs() and not (beliefs() & previous)
        assert mem.spatial.trajectory()[0][0] <= 1.0  # its clock starts again
