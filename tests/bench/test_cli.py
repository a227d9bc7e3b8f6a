"""`embodied-mem bench qa` end to end (tiny run) and its config handling."""

from __future__ import annotations

import json

import pytest

from embodied_mem.bench.cli import main, settings_from_config
from embodied_mem.bench.qa import QASettings


def test_usage_and_unknown_suite(capsys) -> None:
    assert main([]) == 0
    assert "qa" in capsys.readouterr().out
    assert main(["nope"]) == 2
    assert "unknown suite" in capsys.readouterr().err


def test_quick_config_and_bad_settings() -> None:
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"lengths": [1000, 10000, 100000], "quick": True, "per_type": 10, "publish_dir": None})
    d = settings_from_config(cfg)
    assert d["lengths"] == [1000, 10000] and d["per_type"] == 5 and "quick" not in d
    with pytest.raises(ValueError, match="lengths"):
        QASettings(lengths=[0])
    with pytest.raises(ValueError, match="fifo_k"):
        QASettings(fifo_k=0)
    with pytest.raises(ValueError, match="unknown"):
        QASettings.from_mapping({"lenghts": [10]})


def test_bench_qa_writes_tables_plots_questions_and_publishes(tmp_path, shared_data, capsys) -> None:
    pytest.importorskip("crafter")
    pytest.importorskip("rosbags")
    run_dir, pub = tmp_path / "run", tmp_path / "pub"
    rc = main(["qa", "lengths=[150,300]", "per_type=2", "progress=false", f"hydra.run.dir={run_dir}",
               f"data_dir={shared_data}", "bags=[ros2_bags/turtlebot4_real_macfirst_floor/bag]",
               f"publish_dir={pub}", "sentence_embedders=[]"])  # tests/bench/test_sentence_store.py has them
    assert rc == 0
    for name in ("qa.md", "qa.csv", "qa.json", "questions.json", "answers.jsonl", "qa_error.png", "qa_latency.png",
                 "qa_footprint.png"):
        assert (run_dir / name).stat().st_size > 0, name
    result = json.loads((run_dir / "qa.json").read_text())
    assert {a["world"] for a in result["aggregates"]} == {"crafter", "turtlebot4_real_macfirst_floor"}
    assert {a["length"] for a in result["aggregates"] if a["world"] == "crafter"} == {150, 300}
    assert {a["answerer"] for a in result["aggregates"]} == {"embodied_mem", "fifo_500", "vector_top32", "full_log"}
    md = (run_dir / "qa.md").read_text()
    assert "## Crafter, 300 percepts in memory" in md and "ReMEmbR" in md and "**turtlebot4_real_macfirst_floor**" in md
    assert (pub / "qa.md").read_text() == md and (pub / "qa_questions.json").exists()
    # the terminal gets the result: accuracy with its n per answerer, latency, a small-n caveat, the files
    out = capsys.readouterr().out
    n = sum(a["n"] for a in result["aggregates"] if a["answerer"] == "embodied_mem")
    ok = sum(round(a["accuracy"] * a["n"]) for a in result["aggregates"] if a["answerer"] == "embodied_mem")
    (line,) = [row for row in out.splitlines() if row.strip().startswith("embodied_mem ")]
    assert f"{100 * ok / n:.1f} % ({ok}/{n})" in line and line.rstrip().endswith(" ms")
    assert "(as few as 2 questions per question type and world" in out and f"files in {run_dir}: " in out and "qa.md" in out
