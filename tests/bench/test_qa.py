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


def test_report_plots_any_number_of_answerers(tmp_path) -> None:
    """More answerers than the palette's first colours (e.g. two sentence stores beside the rest) still plot."""
    pytest.importorskip("crafter")
    pytest.importorskip("matplotlib")
    from embodied_mem.bench.report import write_report

    result = run_qa({"lengths": [60, 120], "per_type": 1, "progress": False, "plots": False, "bags": [],
                     "sentence_embedders": []}, tmp_path, log=lambda *a: None)
    for extra in ("fifo_10", "fifo_20", "vector_top4", "vector_top8", "zz_other"):  # 4 + 5 = 9 answerers
        result["aggregates"] += [{**a, "answerer": extra} for a in result["aggregates"] if a["answerer"] == "full_log"]
        result["latency"] += [{**x, "answerer": extra} for x in result["latency"] if x["answerer"] == "full_log"]
        for pl in result["crafter"]["per_length"].values():
            pl["footprint_bytes"][extra] = pl["footprint_bytes"]["full_log"]
            pl["ingest_us_per_percept"][extra] = pl["ingest_us_per_percept"]["full_log"]
    (tmp_path / "report").mkdir()
    paths = write_report(result, tmp_path / "report", plots=True)
    pngs = [p for p in paths if p.suffix == ".png"]
    assert {p.name for p in pngs} >= {"qa_error.png", "qa_latency.png"}
    assert all(p.stat().st_size > 0 for p in pngs)
    assert "zz_other" in (tmp_path / "report" / "qa.md").read_text()
