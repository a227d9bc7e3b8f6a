"""`embodied-mem report` on hand-made sweep directories: the table a researcher reads."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from embodied_mem.sweeps.report import main, write_report


def _job(root: Path, num: int, ablation: str, seed: int, score: float | None, rates: dict[str, float] | None = None,
         status: str = "ok") -> Path:
    d = root / f"{num}_{ablation}_s{seed}"
    (d / ".hydra").mkdir(parents=True)
    (d / ".hydra" / "overrides.yaml").write_text(f"- ablation={ablation}\n- seed={seed}\n")
    if status == "missing":
        return d
    m: dict = {"status": status, "ablation": ablation, "seed": seed}
    if status == "ok":
        m.update({"crafter_score": score, "success_rates": rates or {}, "timing": {"agent_ms_per_step": 1.0}})
    else:
        m["error"] = "RuntimeError: boom"
    (d / "metrics.json").write_text(json.dumps(m))
    return d


def test_report_means_stds_and_delta_to_full(tmp_path: Path) -> None:
    _job(tmp_path, 0, "full", 0, 20.0, {"collect_wood": 100.0, "place_table": 80.0})
    _job(tmp_path, 1, "full", 1, 30.0, {"collect_wood": 100.0, "place_table": 100.0})
    _job(tmp_path, 2, "no_spatial", 0, 10.0, {"collect_wood": 90.0, "place_table": 10.0})
    _job(tmp_path, 3, "no_spatial", 1, 14.0, {"collect_wood": 100.0, "place_table": 30.0})
    out = write_report(tmp_path)
    rows = {r["configuration"]: r for r in out["rows"]}
    assert rows["full"]["score"][0] == pytest.approx(25.0)
    assert rows["full"]["score"][1] == pytest.approx(7.0710678)  # sample std of 20, 30
    assert rows["no_spatial"]["delta"] == pytest.approx(12.0 - 25.0)
    assert rows["no_spatial"]["place_table"][0] == pytest.approx(20.0)
    md = (tmp_path / "ablation.md").read_text()
    assert "| full | 2 | 25.0 ± 7.1 | +0.0 |" in md
    assert "| no_spatial | 2 | 12.0 ± 2.8 | -13.0 |" in md
    with open(tmp_path / "ablation.csv") as f:
        table = list(csv.DictReader(f))
    assert table[0]["configuration"] == "full" and float(table[1]["delta_to_full"]) == pytest.approx(-13.0)
    png = (tmp_path / "ablation.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_lists_failed_and_missing_jobs_instead_of_failing(tmp_path: Path) -> None:
    _job(tmp_path, 0, "full", 0, 20.0)
    _job(tmp_path, 1, "no_critic", 0, None, status="failed")
    _job(tmp_path, 2, "no_prior", 0, None, status="missing")
    (tmp_path / "multirun.yaml").write_text(
        "hydra:\n  sweeper:\n    params:\n      ablation: full,no_critic,no_prior,no_spatial\n      seed: '0'\n"
        "  overrides:\n    task: []\n")
    out = write_report(tmp_path)
    assert out["failed"] == 1
    assert out["missing"] == 2  # no_prior wrote nothing; no_spatial never started
    md = (tmp_path / "ablation.md").read_text()
    assert "failed: `ablation=no_critic seed=0`" in md and "RuntimeError: boom" in md
    assert "never ran: `ablation=no_spatial seed=0`" in md


def test_command_line_narrows_an_experiments_sweep_and_fixed_values_match_hydras_spelling(tmp_path: Path) -> None:
    # `run -m experiment=crafter_ablation ablation=full,no_critic progress=false`: the experiment's
    # params sweep all ablations, the command line narrows them; Hydra records progress=False
    for num, (ab, seed) in enumerate([("full", 0), ("full", 1), ("no_critic", 0)]):
        d = _job(tmp_path, num, ab, seed, 20.0)
        (d / ".hydra" / "overrides.yaml").write_text(
            f"- ablation={ab}\n- seed={seed}\n- experiment=crafter_ablation\n- progress=False\n")
    (tmp_path / "multirun.yaml").write_text(
        "hydra:\n  sweeper:\n    params:\n      ablation: full,no_spatial,no_critic\n      seed: 0,1\n"
        "  overrides:\n    task:\n    - experiment=crafter_ablation\n    - ablation=full,no_critic\n"
        "    - progress=false\n")
    out = write_report(tmp_path)
    assert out["missing"] == 1  # only no_critic seed 1; no_spatial was not asked for
    md = (tmp_path / "ablation.md").read_text()
    assert "never ran: `ablation=no_critic experiment=crafter_ablation progress=false seed=1`" in md
    assert "no_spatial" not in md.split("## Jobs without results")[1]


def test_report_cli_refuses_a_missing_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nope")]) == 2
    assert "is not a directory" in capsys.readouterr().err
    assert main([str(tmp_path)]) == 2  # an empty directory is not a sweep folder
    assert "is not a sweep folder" in capsys.readouterr().err


def test_report_refuses_a_folder_that_is_not_a_sweep_without_scanning_it(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    # `report /tmp` used to glob the whole tree and crash: a folder whose job folders are deeper
    # down (or absent) is refused in one line, exit 2, and nothing is written into it
    deep = tmp_path / "a" / "b" / "0_full_s0" / ".hydra"
    deep.mkdir(parents=True)
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "is not a sweep folder" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "ablation.md").exists()


def test_rows_are_labelled_by_agent_and_ablation_and_small_n_is_flagged(tmp_path: Path) -> None:
    # an agent=reactive sweep: its rows are "reactive", not "full" (the ablation default)
    for num, (agent, seed) in enumerate([("reactive", 0), ("reactive", 1), ("robomemory", 0), ("robomemory", 1)]):
        d = tmp_path / f"{num}_{agent}_full_s{seed}"
        (d / ".hydra").mkdir(parents=True)
        (d / ".hydra" / "overrides.yaml").write_text(f"- agent={agent}\n- seed={seed}\n")
        (d / "metrics.json").write_text(json.dumps({
            "status": "ok", "agent": agent, "ablation": "full", "seed": seed, "episodes": [{"length": 10}],
            "crafter_score": 3.0 + seed, "success_rates": {}, "timing": {}}))
    out = write_report(tmp_path)
    assert sorted(r["configuration"] for r in out["rows"]) == ["full", "reactive"]
    md = (tmp_path / "ablation.md").read_text()
    assert "| reactive | 2 |" in md and "| full | 2 |" in md
    assert "Small n: as few as 2 seed(s) × 1 episode(s) per row" in md and "not comparable" in md
