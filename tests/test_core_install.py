"""A core-only install (``pip install embodied_mem``, no extras) runs the memory, the demo and the CLI,
and every missing extra is one line naming the command that installs it (exit 2), never a traceback.

The venv is built in a temporary folder with no access to this environment's site-packages: the
project's wheel is unpacked into it and only the distributions its core requirements need (their
closure, read from the installed metadata) are linked in -- no network, no torch, no crafter, no
Hydra launcher plugins.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]


def _core_closure() -> list[md.Distribution]:
    """The installed distributions that embodied_mem's core requirements need (no extras)."""
    todo, seen, out = ["embodied_mem"], set(), []
    env = {"extra": ""}
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        seen.add(name)
        dist = md.distribution(name)
        if name != "embodied-mem":
            out.append(dist)
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate(env):
                todo.append(req.name)
    return out


@pytest.fixture(scope="module")
def core_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("core")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    for dist in _core_closure():
        base = Path(dist.locate_file(""))
        for top in {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}:
            if (base / top).exists() and not (site / top).exists():
                (site / top).symlink_to(base / top)
    wheel_dir = root / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(wheel_dir), str(REPO)], check=True, timeout=300, capture_output=True)
    (whl,) = wheel_dir.glob("embodied_mem-*.whl")
    with zipfile.ZipFile(whl) as z:
        z.extractall(site)
    return py


def _run(py: Path, *args: str, cwd: Path, code: str | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [str(py), "-c", code] if code is not None else [str(py), "-m", "embodied_mem.cli", *args]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HYDRA_FULL_ERROR")}
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300, env={**env, "MPLBACKEND": "Agg"})


def test_the_core_install_has_no_extras(core_python: Path, tmp_path: Path) -> None:
    r = _run(core_python, cwd=tmp_path, code=(
        "import importlib.util as u, embodied_mem; print(embodied_mem.__file__); "
        "print([m for m in ('torch', 'crafter', 'open3d', 'rosbags', 'joblib', 'hydra_plugins') if u.find_spec(m)])"))
    assert r.returncode == 0, r.stderr
    where, missing = r.stdout.splitlines()
    assert str(core_python.parents[1]) in where and missing == "[]"


def test_core_install_runs_the_memory_the_demo_and_the_memory_cli(core_python: Path, tmp_path: Path) -> None:
    r = _run(core_python, "demo", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    (db,) = tmp_path.glob("runs/demo/*/memory.db")
    r = _run(core_python, "memory", "query", str(db), "locate", "key", cwd=tmp_path)
    assert r.returncode == 0 and "key" in r.stdout, r.stderr
    r = _run(core_python, cwd=tmp_path, code=(
        "from embodied_mem import Memory, Percept, Pose, Sighting\n"
        "m = Memory()\n"
        "m.observe(Percept(t=1.0, pose=Pose(0, 0, 0), sightings=[Sighting('key', (1.0, 2.0, 0.0))]))\n"
        "print(m.spatial.locate('key')[0].position)"))
    assert r.returncode == 0 and "(1.0, 2.0, 0.0)" in r.stdout, r.stderr


@pytest.mark.parametrize(("args", "hint"), [
    (["run", "steps=5"], 'pip install "embodied_mem[crafter]"'),
    (["run", "-m", "seed=0,1", "steps=5"], 'pip install "embodied_mem[sweeps]"'),
    (["run", "-m", "seed=0,1", "hydra/launcher=ray_local"], 'pip install "embodied_mem[ray]"'),
    (["train-encoder", "train.steps=1"], "pip install torch --index-url https://download.pytorch.org/whl/cpu"),
    (["run", "experiment=indoor3d", "steps=5"], 'pip install "embodied_mem[3d]"'),
])
def test_a_missing_extra_is_one_line_naming_its_install_command(core_python: Path, tmp_path: Path,
                                                                 args: list[str], hint: str) -> None:
    r = _run(core_python, *args, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and hint in lines[0], r.stderr
    assert "Traceback" not in r.stderr
