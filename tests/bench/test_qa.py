"""run_qa on a tiny stream: outputs, the SQLite-backed memory option, latency summaries."""

from __future__ import annotations

import json

import pytest

from embodied_mem.bench.qa import latency_summary, recording_name, run_qa


def test_durable_run_journals_embodied_mem_to_sqlite(tmp_path) -> None:
    pytest.importorskip("crafter")
    from embodied_mem import Memory

    result = run_qa({"lengths": [120], "per_type": 2, "progress": False, "plots": False, "footprint": False,
                     "bags": [], "durable": True, "sentence_embedders": []}, tmp_path, log=lambda *a: None)
    db = tmp_path / "memory-crafter.db"
    assert db.stat().st_size > 0
    with Memory.open(db, readonly=True) as mem:  # the journal replays into the same memory
        assert mem.stats()["percepts"] == 120
    assert result["robots"] == {}
    rows = [json.loads(line) for line in (tmp_path / "answers.jsonl").read_text().splitlines()]
    assert rows and all({"question", "answerer", "answer", "truth", "error", "correct", "latency_s"} <= set(r)
                        for r in rows)
    em = [r for r in rows if r["answerer"] == "embodied_mem" and r["type"] in ("time", "binary", "order", "count")]
    assert em and all(r["correct"] for r in em)


def test_latency_summary_and_recording_names(tmp_path) -> None:
    rows = [{"world": "w", "length": 5, "answerer": "a", "latency_s": s} for s in (0.001, 0.002, 0.003)]
    (s,) = latency_summary(rows)
    assert s["p50_ms"] == pytest.approx(2.0) and s["max_ms"] == pytest.approx(3.0) and s["n"] == 3
    assert recording_name(tmp_path / "turtlebot4_real_macfirst_floor" / "bag") == "turtlebot4_real_macfirst_floor"
    assert recording_name(tmp_path / "turtlebot4_sim_nav2" / "nav2_turtlebot.mcap") == "turtlebot4_sim_nav2"
    assert recording_name(tmp_path / "tf_example") == "tf_example"
