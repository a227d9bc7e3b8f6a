"""`embodied-mem run` end to end on real Crafter: the run directory a user gets, sweeps and reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("crafter")

REPO = Path(__file__).resolve().parents[1]


def _cli(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MPLBACKEND": "Agg", "HYDRA_FULL_ERROR": "1"}
    return subprocess.run([sys.executable, "-m", "embodied_mem.cli", *args], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=timeout)


def test_run_writes_the_run_directory(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    r = _cli("run", "episodes=1", "steps=120", "seed=3", "progress=false", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "ok" and metrics["agent"] == "robomemory"
    (ep,) = metrics["episodes"]
    assert ep["length"] == 120 and "achievements" in ep and ep["ended"] == "step_limit"
    # the end of the run says what happened, with its n and a caveat, and where the files are
    out = r.stdout
    assert "run finished: 1 episode of crafter with agent robomemory (ablation full, seed 3)" in out
    assert "episode 1 (seed 3000): 120 steps, ended: the run's step limit (steps=120)" in out
    assert f"Crafter score: {metrics['crafter_score']:.2f} % over 1 episode" in out and "n = 1:" in out
    assert f"files in {run_dir}: " in out and "metrics.json" in out and "memory.db" in out
    log = (run_dir / "run.log").read_text()  # Hydra's run log tells what happened
    assert "episode 1/1 ended after 120 steps (step_limit)" in log and "memory after episode 1" in log
    assert len(metrics["success_rates"]) == 22
    assert 0.0 <= metrics["crafter_score"] <= 100.0
    assert metrics["timing"]["steps"] == 120
    lines = (run_dir / "episodes.jsonl").read_text().splitlines()
    assert len(lines) == 120 and json.loads(lines[0])["step"] == 0
    cfg = (run_dir / "config.yaml").read_text()
    assert "steps: 120" in cfg and "${" not in cfg  # resolved
    from embodied_mem import Memory

    with Memory.open(run_dir / "memory.db", readonly=True) as mem:
        # one percept per step at most (the preprocessor skips a percept identical to the last one)
        assert 30 <= mem.stats()["percepts"] <= 121
        assert mem.spatial.trajectory()  # the agent's walk is remembered
    for png in metrics.get("plots", []):
        assert (run_dir / png).read_bytes()[:4] == b"\x89PNG"


def test_bad_override_fails_before_running(tmp_path: Path) -> None:
    r = _cli("run", "memory.spatial.radius=3", cwd=tmp_path)
    assert r.returncode == 2
    assert "valid keys" in r.stderr and "place_radius" in r.stderr
    assert not (tmp_path / "runs").exists()
    r = _cli("run", "steps=many", f"hydra.run.dir={tmp_path / 'x'}", cwd=tmp_path)
    assert r.returncode != 0 and "steps" in r.stderr


def _sweep(tmp_path: Path, *extra: str) -> Path:
    sweep = tmp_path / "sweep"
    r = _cli("run", "-m", "ablation=full,no_spatial", "seed=0", "episodes=1", "steps=100",
             f"hydra.sweep.dir={sweep}", *extra, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    # parallel jobs share the terminal: whole lines, one at start and one at the end of each job, no bars
    assert "\r" not in r.stdout + r.stderr and "step/s" not in r.stderr
    for num, name in ((0, "full"), (1, "no_spatial")):
        assert f"job {num} (ablation={name} seed=0 episodes=1 steps=100): started in" in r.stdout
        # (Ray prefixes a worker's lines with its process: "(pid=...) job 0 ...")
        assert any(f"job {num} (ablation={name}" in line and "Crafter score" in line and "over 1 episode(s)"
                   in line for line in r.stdout.splitlines())
    return sweep


def test_sweep_with_joblib_then_report(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path)
    r = _cli("report", str(sweep), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    md = (sweep / "ablation.md").read_text()
    assert "| full | 1 |" in md and "| no_spatial | 1 |" in md
    assert (sweep / "ablation.csv").exists() and (sweep / "ablation.png").exists()


def test_failed_job_is_recorded_and_the_sweep_goes_on(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    r = _cli("run", "-m", "agent.name=random,no_such_agent", "episodes=1", "steps=50", "progress=false",
             f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    statuses = sorted(json.loads(p.read_text())["status"] for p in sweep.rglob("metrics.json"))
    assert statuses == ["failed", "ok"]
    failed = next(json.loads(p.read_text()) for p in sweep.rglob("metrics.json")
                  if json.loads(p.read_text())["status"] == "failed")
    assert "no_such_agent" in failed["error"]


@pytest.mark.netns
def test_sweep_through_local_ray(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    pytest.importorskip("hydra_plugins.hydra_ray_launcher")
    sweep = _sweep(tmp_path, "hydra/launcher=ray_local")
    assert len(list(sweep.rglob("metrics.json"))) == 2
    r = _cli("report", str(sweep), cwd=tmp_path)
    assert r.returncode == 0, r.stderr


@pytest.mark.slow
def test_pip_install_into_a_fresh_venv_and_run_from_elsewhere(tmp_path: Path) -> None:
    """The configs ship inside the package: a non-editable install runs from any directory."""
    import sysconfig

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    # Reuse the already-installed dependencies (no network, no torch download): expose this
    # interpreter's site-packages through a .pth file, then install the project itself from source.
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    deps = sysconfig.get_paths()["purelib"]
    Path(purelib, "_deps.pth").write_text(deps + "\n")
    wheel_dir = tmp_path / "wheel"
    # Build with this interpreter's setuptools (the fresh venv's bundled one may predate bdist_wheel).
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(wheel_dir), str(REPO)], check=True, timeout=300)
    (whl,) = wheel_dir.glob("embodied_mem-*.whl")
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(whl)], check=True, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = subprocess.run([str(venv / "bin" / "embodied-mem"), "run", "steps=30", "progress=false", "plots=false",
                        f"hydra.run.dir={elsewhere / 'run'}"], cwd=elsewhere, capture_output=True, text=True,
                       timeout=300, env={**os.environ, "PYTHONPATH": ""})
    assert r.returncode == 0, r.stderr[-3000:]
    out = subprocess.run([str(py), "-c", "import embodied_mem; print(embodied_mem.__file__)"], capture_output=True,
                         text=True, cwd=elsewhere).stdout
    assert str(venv) in out  # the installed copy ran, not the source tree
    assert json.loads((elsewhere / "run" / "metrics.json").read_text())["episodes"][0]["length"] == 30


class _Agent:
    def __init__(self, name: str, uses_memory: bool, reads: frozenset[str]) -> None:
        self.name, self.uses_memory, self.reads_config = name, uses_memory, reads


def _refuse(agent: _Agent, agent_cfg: dict, memory: dict | None = None, *, knowledge: str | None = "crafter",
            ablation: str = "full") -> None:
    from embodied_mem.memory import MemoryConfig
    from embodied_mem.runner import refuse_inert_settings

    mem = MemoryConfig.from_dict({"semantic": {"prior": knowledge}, **(memory or {})})
    refuse_inert_settings(agent, agent_cfg, mem, env_id="w", knowledge=knowledge, ablation=ablation)


def test_settings_an_agent_does_not_act_on_are_refused() -> None:
    loop = _Agent("robomemory", True, frozenset({"agent.preprocessor", "agent.planner", "agent.critic"}))
    _refuse(loop, {"name": "robomemory", "critic": {"enabled": False}}, ablation="no_critic")  # acts: fine
    _refuse(loop, {"name": "robomemory"}, {"spatial": {"enabled": False}}, ablation="no_spatial")
    blind = _Agent("random", False, frozenset())
    with pytest.raises(ValueError, match=r"agent.critic.enabled: the 'random' agent in env 'w' does not act"):
        _refuse(blind, {"name": "random", "critic": {"enabled": False}}, ablation="no_critic")
    with pytest.raises(ValueError, match=r"memory.spatial.enabled: the 'random' agent"):
        _refuse(blind, {"name": "random"}, {"spatial": {"enabled": False}}, ablation="no_spatial")
    with pytest.raises(ValueError, match=r"agent.crafter.dig"):
        _refuse(_Agent("robomemory", True, frozenset({"agent.critic"})), {"crafter": {"dig": False}})
    with pytest.raises(ValueError, match="ablation 'no_prior' changes no setting"):
        _refuse(loop, {"name": "robomemory"}, {"semantic": {"prior": None}}, knowledge=None, ablation="no_prior")


def test_an_ablation_the_agent_ignores_is_refused_before_running(tmp_path: Path) -> None:
    r = _cli("run", "agent=random", "ablation=no_critic", "steps=20", "progress=false",
             f"hydra.run.dir={tmp_path / 'r'}", cwd=tmp_path)
    assert r.returncode == 2 and "does not act on this setting" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr  # a user error, not a bug
    assert not (tmp_path / "r" / "metrics.json").exists()
