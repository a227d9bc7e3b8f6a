"""What a command-line user meets: one-line refusals (exit 2) before anything runs, each command's own
help, and shell completion. Runs without crafter (every refusal happens before the world is made)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from embodied_mem.cli import completion_script, main
from embodied_mem.config_schema import ConfigValueError
from embodied_mem.deps import DependencyNotInstalled, as_dependency_error

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("args", "expect"), [
    (["steps=-5"], "steps must be an integer >= 1, got -5"),  # ran with exit 0 and wrong results before
    (["memory.spatial.place_radius=-1"], "place_radius must be a finite number > 0, got -1"),  # was a traceback
    (["episodes=0"], "episodes must be an integer >= 1"),
    (["-m", "seed=0,-1"], "seed must be an integer >= 0, got -1"),  # every value of a sweep is checked
    (["memory.spatial.connectivity=5"], "connectivity must be 4 or 8"),
    (["memory.episodic.utility_rate=2"], "utility_rate must be in [0, 1]"),
    (["memory.episodic.encoder=transformer"], "episodic.encoder must be one of hashing, place_transformer"),
    (["+foo=1"], "'+' adds a key"),  # was accepted silently
    (["memory.spatial.radius=3"], "valid keys"),
    (["env=nope"], "Available options in 'env': crafter, habitat, household, indoor3d, minecraft"),
    (["steps=abc"], "steps must be an integer"),
])
def test_run_refuses_bad_input_in_one_line_before_anything_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                args: list[str], expect: str) -> None:
    code = main(["run", *args, f"hydra.run.dir={tmp_path / 'run'}", f"hydra.sweep.dir={tmp_path / 'sweep'}"])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("embodied-mem run: ") and expect in lines[0], err
    assert "\tschema" not in err and ", schema" not in lines[0]  # internal schema entries are not offered as choices
    assert not (tmp_path / "run").exists() and not (tmp_path / "sweep").exists()


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    with pytest.raises(ConfigValueError, match="steps"):
        main(["run", "steps=-5", "--debug", f"hydra.run.dir={tmp_path / 'run'}"])
    with pytest.raises(ConfigValueError, match="steps"):  # before the command too
        main(["--debug", "run", "steps=-5", f"hydra.run.dir={tmp_path / 'run'}"])


def test_additions_are_allowed_in_free_form_sections_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # env.kwargs is passed to the env constructor as given: '+' may add to it (habitat's dataset)
    code = main(["run", "env=habitat", "env.kwargs.scene=x.glb", "+env.kwargs.dataset=y.json",
                 f"hydra.run.dir={tmp_path / 'run'}"])
    err = capsys.readouterr().err
    assert code == 2 and "'+' adds a key" not in err
    assert "habitat_sim is not installed" in err and "conda install habitat-sim" in err  # the real missing simulator
    assert len(err.strip().splitlines()) == 1


def test_a_missing_launcher_plugin_names_the_extra(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import embodied_mem.deps as deps

    real = deps.available
    monkeypatch.setattr(deps, "available", lambda m: False if m.startswith("hydra_plugins.") else real(m))
    assert main(["run", "-m", "seed=0,1", f"hydra.sweep.dir={tmp_path / 'sweep'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and 'pip install "embodied_mem[sweeps]"' in err and "hydra/launcher=basic" in err
    assert main(["run", "-m", "seed=0,1", "hydra/launcher=ray_local"]) == 2
    assert 'pip install "embodied_mem[ray]"' in capsys.readouterr().err


def test_missing_node_for_minecraft_is_one_line_naming_the_install_script(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from embodied_mem.envs.minecraft import sidecar

    monkeypatch.setattr(sidecar.shutil, "which", lambda name: None)  # no node on PATH
    code = main(["run", "experiment=minecraft", "episodes=1", "steps=5", f"hydra.run.dir={tmp_path / 'run'}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "Node.js >= 18" in err and "Traceback" not in err


def test_a_missing_optional_module_maps_to_its_extra() -> None:
    dep = as_dependency_error(ModuleNotFoundError("No module named 'torch'", name="torch"))
    assert isinstance(dep, DependencyNotInstalled) and "embodied_mem[encoders]" in str(dep)
    assert "cpu" in str(dep)  # the CPU wheel route, not a multi-GB CUDA build
    assert as_dependency_error(ModuleNotFoundError("x", name="safetensors.torch")) is not None
    # a core or internal module missing is a bug, not the user's to install
    assert as_dependency_error(ModuleNotFoundError("x", name="numpy")) is None
    assert as_dependency_error(ModuleNotFoundError("x", name="embodied_mem.nope")) is None
    assert as_dependency_error(ValueError("x")) is None


def test_each_command_has_its_own_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--help"]) == 0
    run_help = capsys.readouterr().out
    assert "env: crafter, habitat, household, indoor3d, minecraft" in run_help and "agent: random, reactive, robomemory" in run_help
    assert not re.search(r"\bschema\b", run_help) and "steps: 10000" in run_help  # no internal schema option
    assert main(["train-encoder", "--help"]) == 0
    train_help = capsys.readouterr().out
    assert main(["eval-encoder", "--help"]) == 0
    eval_help = capsys.readouterr().out
    assert train_help != eval_help
    assert "checkpoint" in eval_help and "room_ballet" not in eval_help and "encoder:" not in eval_help
    assert "memory.kind" in train_help or "kind: place" in train_help


def test_robot_replay_help_is_help_not_a_missing_bag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["robot", "replay", "--help"]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("usage: embodied-mem robot replay BAG_PATH") and "no rosbag2 recording" not in out.err
    assert "bag: '???'" in out.out or "bag: ???" in out.out  # the config it composes, the bag still to give


def test_robot_choice_fields_are_refused_before_anything_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["robot", "run", "robot.transport=zmq"]) == 2
    assert "robot.transport must be dds, rclpy or bag, got 'zmq'" in capsys.readouterr().err
    assert main(["robot", "run", "robot.qos.reliability=sometimes"]) == 2
    assert "reliable or best_effort" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completion_completes_commands_keys_and_choices(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "embodied-mem").write_text(f"#!/bin/sh\nexec {sys.executable} -m embodied_mem.cli \"$@\"\n")
    (bindir / "embodied-mem").chmod(0o755)
    script = completion_script("bash")

    def complete(*words: str) -> list[str]:
        line = " ".join(words)
        prog = (f'{script}\nCOMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; COMP_LINE="{line}"\n'
                '_embodied_mem_complete; printf "%s\\n" "${COMPREPLY[@]}"\n')
        r = subprocess.run(["bash", "-c", prog], capture_output=True, text=True, timeout=120,
                           env={**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"})
        return r.stdout.split()

    assert complete("embodied-mem", "tra") == ["train-encoder"]
    assert complete("embodied-mem", "run", "env=cr") == ["env=crafter"]
    assert complete("embodied-mem", "train-encoder", "memory.ki") == ["memory.kind="]
    r = subprocess.run([sys.executable, "-m", "embodied_mem.cli", "run", "--shell-completion", "install=bash"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "complete -o nospace -o default -F _embodied_mem_complete embodied-mem" in r.stdout


def test_output_into_a_closed_pipe_ends_quietly() -> None:
    """`embodied-mem ... | head`: the reader goes away before the output is written."""
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-m", "embodied_mem.cli", "--shell-completion", "install=bash"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()  # closed before the command has started writing
    err = p.stderr.read().decode()
    p.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert p.returncode == 1
