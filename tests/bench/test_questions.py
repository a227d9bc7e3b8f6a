"""Scoring on hand-made cases, the JSON form of questions, and aggregation."""

from __future__ import annotations

import math

import pytest

from embodied_mem.bench.questions import Question, aggregate, load_questions, percentile, save_questions, score


def q(qtype: str, answer, **params) -> Question:
    return Question(id="q", world="w", length=10, type=qtype, text="?", answer=answer, units="u", params=params)


def test_position_scoring_is_l2_with_tolerance_and_penalty() -> None:
    pos = q("position", [3.0, 4.0], tolerance=0.5, miss_penalty=90.0)
    assert score(pos, [3.0, 4.0]) == {"error": 0.0, "correct": True}
    assert score(pos, [0.0, 0.0]) == {"error": 5.0, "correct": False}
    assert score(pos, [3.3, 4.0])["correct"]
    assert score(pos, None) == {"error": 90.0, "correct": False}
    gone = q("change", None, miss_penalty=90.0)
    assert score(gone, None) == {"error": 0.0, "correct": True}
    assert score(gone, [1.0, 1.0]) == {"error": 90.0, "correct": False}


def test_scalar_count_binary_order_scoring() -> None:
    t = q("time", 12.0, tolerance=0.0, miss_penalty=100.0)
    assert score(t, 12.0)["correct"] and score(t, 15.0) == {"error": 3.0, "correct": False}
    assert score(t, None)["error"] == 100.0
    d = q("distance", 2.5, tolerance=0.01)
    assert score(d, 2.505)["correct"] and not score(d, 2.6)["correct"]
    c = q("count", 7)
    assert score(c, 7) == {"error": 0.0, "correct": True}
    assert score(c, 4) == {"error": 3.0, "correct": False}
    assert score(c, None) == {"error": 7.0, "correct": False}
    b = q("binary", False)
    assert score(b, False)["correct"] and not score(b, True)["correct"] and not score(b, None)["correct"]
    o = q("order", ["a", "b", "c"])
    assert score(o, ["a", "b", "c"])["correct"]
    assert not score(o, ["b", "a", "c"])["correct"]
    assert not score(o, ["a", "b"])["correct"]


def test_malformed_questions_and_answers_are_refused() -> None:
    with pytest.raises(ValueError, match="type"):
        q("colour", 1)
    with pytest.raises(ValueError, match="Question.answer"):
        q("position", [1.0])
    with pytest.raises(ValueError, match="Question.answer"):
        q("binary", 1)
    with pytest.raises(ValueError, match="Question.answer"):
        q("time", math.nan)
    with pytest.raises(ValueError, match="length"):
        Question(id="q", world="w", length=0, type="time", text="?", answer=1.0, units="s")
    with pytest.raises(ValueError, match="answer"):
        score(q("count", 3), "three")
    with pytest.raises(ValueError, match="answer"):
        score(q("position", [0.0, 0.0]), [math.inf, 0.0])


def test_questions_round_trip_through_json(tmp_path) -> None:
    qs = [q("position", [1.0, 2.0], label="cow"), q("change", None, label="tree"), q("order", ["a", "b"]),
          q("binary", True, a="x", b="y"), q("count", 3)]
    path = save_questions(qs, tmp_path / "sub" / "questions.json")
    back = load_questions(path)
    assert [x.to_dict() for x in back] == [x.to_dict() for x in qs]
    (tmp_path / "bad.json").write_text('{"not": "a list"}')
    with pytest.raises(ValueError, match="list"):
        load_questions(tmp_path / "bad.json")
    (tmp_path / "missing.json").write_text('[{"id": "x"}]')
    with pytest.raises(ValueError, match="missing"):
        load_questions(tmp_path / "missing.json")


def test_percentile_and_aggregate() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 50) == 3.0
    assert percentile([0.0, 10.0], 99) == pytest.approx(9.9)
    assert math.isnan(percentile([], 50))
    rows = [{"world": "w", "length": 10, "answerer": "a", "type": "time", "error": e, "correct": e == 0,
             "latency_s": 1e-3 * (i + 1)} for i, e in enumerate([0.0, 0.0, 4.0, 0.0])]
    (agg,) = aggregate(rows)
    assert agg["n"] == 4 and agg["accuracy"] == 0.75 and agg["mean_error"] == 1.0
    assert agg["latency_p50_ms"] == pytest.approx(2.5)
