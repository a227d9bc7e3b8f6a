"""Fallback and bookkeeping of LLM decisions, against a scripted OpenAI-compatible endpoint.

The endpoint (conftest ``server``) is a real HTTP server on loopback that replays scripted
chat-completion bodies: a stand-in for a misbehaving model, which a real small model does not
produce on demand. The tests against the real llama.cpp server are test_llm_server.py and
test_llm_episodes.py.
"""

from __future__ import annotations

import json
import time

import pytest

from embodied_mem import Memory, Percept, Pose, Sighting, View
from embodied_mem.agent.llm import LLMConfig, LLMDecider, SkillCall

SKILLS = {"collect": ("wood", "stone"), "place": ("table",), "explore": ()}


def good(*steps):
    return json.dumps({"plan": [{"skill": a, "target": b} for a, b in steps]})


def test_valid_answer_and_request_shape(server, monkeypatch):
    monkeypatch.setenv("EM_TEST_KEY", "sk-test")
    cfg = LLMConfig(base_url=server.url, model="m", api_key_env="EM_TEST_KEY", max_tokens=64, cache=False)
    dec = LLMDecider(cfg, SKILLS)
    server.reply(good(("collect", "wood"), ("place", "table")))
    d = dec.decide("get a table", None, state={"inventory": {"wood": 0}}, now=5.0)
    assert d.calls == [SkillCall("collect", "wood"), SkillCall("place", "table")] and d.fallback is None
    req = server.requests[0]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer sk-test"
    body = req["body"]
    assert body["model"] == "m" and body["max_tokens"] == 64 and body["temperature"] == 0.0
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == dec.schema
    assert "get a table" in body["messages"][1]["content"] and "collect" in body["messages"][0]["content"]
    assert d.prompt_tokens == 100 and d.completion_tokens == 12 and d.latency_s > 0


@pytest.mark.parametrize("reply,reason", [
    (dict(content='{"plan": [{"skill": "coll'), "json"),
    (dict(content='{"plan": [{"skill": "coll', finish="length"), "length"),
    (dict(content=good(("fly", None))), "skill"),
    (dict(content=good(("collect", "diamond"))), "target"),
    (dict(content=None, refusal="I can't help with that"), "refusal"),
    (dict(content="x", finish="content_filter"), "refusal"),
    (dict(status=500, raw={"error": "boom"}), "error"),
    (dict(raw="<html>not json</html>"), "error"),
])
def test_bad_answers_fall_back_and_are_counted(server, reply, reason):
    dec = LLMDecider(LLMConfig(base_url=server.url, cache=False), SKILLS)
    server.reply(**reply)
    d = dec.decide("task", None)
    assert d.calls is None and d.fallback == reason and d.error
    s = dec.summary()
    assert s["decisions"] == 1 and s["fallbacks"] == 1 and s["fallback_reasons"] == {reason: 1}
    assert s["invalid"] == (0 if reason in ("refusal", "error") else 1)


def test_timeout_falls_back_in_time(server):
    dec = LLMDecider(LLMConfig(base_url=server.url, timeout_s=0.3, cache=False), SKILLS)
    server.reply(good(("explore", None)), delay=2.0)
    t0 = time.perf_counter()
    d = dec.decide("task", None)
    assert time.perf_counter() - t0 < 1.5
    assert d.calls is None and d.fallback == "timeout" and "0.3 s" in d.error
    server.reply(good(("explore", None)))
    assert dec.decide("task", None, now=1.0).calls == [SkillCall("explore")]  # the run goes on
    s = dec.summary()
    assert s["decisions"] == 2 and s["fallbacks"] == 1 and s["fallback_reasons"] == {"timeout": 1}
    assert s["fallback_rate"] == 0.5


def test_unreachable_server_falls_back():
    dec = LLMDecider(LLMConfig(base_url="http://127.0.0.1:9/v1", timeout_s=2, cache=False), SKILLS)
    d = dec.decide("task", None)
    assert d.calls is None and d.fallback == "error" and "127.0.0.1:9" in d.error


def test_cache_on_disk_makes_a_rerun_reproducible(server, tmp_path):
    cfg = LLMConfig(base_url=server.url, cache=True)
    server.reply(good(("collect", "stone")))
    server.reply(good(("collect", "wood")))  # a sampling server would answer differently next time
    first = LLMDecider(cfg, SKILLS, cache_dir=tmp_path).decide("task", None, now=3.0)
    assert (tmp_path / "llm_decisions.jsonl").exists()
    again = LLMDecider(cfg, SKILLS, cache_dir=tmp_path)  # a rerun in the same run directory
    d = again.decide("task", None, now=3.0)
    assert d.cached and d.calls == first.calls == [SkillCall("collect", "stone")]
    assert len(server.requests) == 1 and again.summary()["cached"] == 1
    d2 = again.decide("other task", None, now=3.0)  # another prompt is asked
    assert not d2.cached and d2.calls == [SkillCall("collect", "wood")] and len(server.requests) == 2


def test_timeouts_are_not_cached(server, tmp_path):
    cfg = LLMConfig(base_url=server.url, timeout_s=0.3)
    server.reply(good(("explore", None)), delay=1.0)
    assert LLMDecider(cfg, SKILLS, cache_dir=tmp_path).decide("t", None).fallback == "timeout"
    server.reply(good(("explore", None)))
    assert LLMDecider(cfg, SKILLS, cache_dir=tmp_path).decide("t", None).calls == [SkillCall("explore")]


def test_prompt_carries_every_memory_module_and_the_frame(server):
    import numpy as np

    mem = Memory()
    mem.observe(Percept(t=1.0, pose=Pose(0, 0, 0), sightings=[Sighting("tree", (2.0, 1.0, 0.0))],
                        view=View.disc((0, 0, 0), 4.0), events=["collected wood"], source="crafter"))
    mem.observe(Percept(t=7.0, pose=Pose(5, 0, 0), sightings=[Sighting("water", (6.0, 0.0, 0.0))],
                        view=View.disc((5, 0, 0), 2.0), source="crafter"))
    mem.semantic.assert_fact("do tree", "yields", "+1 wood", t=1.0)
    recall = mem.retrieve("tree water wood", k=3)
    dec = LLMDecider(LLMConfig(base_url=server.url, cache=False), SKILLS)
    server.reply(good(("explore", None)))
    frame = np.zeros((8, 6, 3), np.uint8)
    dec.decide("find water", recall, now=10.0, frame=frame)
    user = server.requests[0]["body"]["messages"][1]["content"]
    text, image = user[0]["text"], user[1]
    assert "tree at (2, 1, 0)" in text and "last seen t=1, 9 ago" in text  # spatial, how long ago
    assert "water: first seen t=7, last seen t=7 (3 ago)" in text  # temporal
    assert "first seen in this order: tree, water" in text  # temporal order
    assert "collected wood" in text  # episodic
    assert "do tree yields +1 wood" in text  # semantic
    assert image["type"] == "image_url" and image["image_url"]["url"].startswith("data:image/png;base64,")
    mem.close()


def test_config_refuses_bad_values():
    for kw, field in [(dict(base_url="localhost:8080"), "base_url"), (dict(timeout_s=0), "timeout_s"),
                      (dict(max_tokens=0), "max_tokens"), (dict(response_format="xml"), "response_format"),
                      (dict(temperature=-1), "temperature")]:
        with pytest.raises(ValueError, match=field):
            LLMConfig(**kw)


def test_server_launcher_refuses_a_missing_model(tmp_path):
    from embodied_mem.agent.llm.server import start_llama_server

    with pytest.raises(FileNotFoundError, match="nope.gguf"):
        with start_llama_server(tmp_path / "nope.gguf"):
            pass
