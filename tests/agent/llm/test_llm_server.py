"""LLM decisions against the real llama.cpp server (SmolLM2-135M-Instruct), no mock anywhere."""

from __future__ import annotations

import json
import urllib.request

from embodied_mem import Memory, Percept, Pose, Sighting, View
from embodied_mem.agent.llm import LLMConfig, LLMDecider

SKILLS = {"collect": ("tree", "stone", "water"), "place": ("table",), "explore": ()}


def cfg(url, **kw):
    base = dict(base_url=url, model="smollm2", response_format="json_object", max_tokens=64, timeout_s=60, cache=False)
    return LLMConfig(**{**base, **kw})


def test_server_speaks_openai_chat(llama_server):
    with urllib.request.urlopen(llama_server + "/models", timeout=10) as r:
        assert r.status == 200 and json.loads(r.read())["data"]


def test_schema_constrained_answer_is_a_valid_plan(llama_server, tmp_path):
    mem = Memory()
    mem.observe(Percept(t=3.0, pose=Pose(0, 0, 0), sightings=[Sighting("tree", (2.0, 0.0, 0.0))],
                        view=View.disc((0, 0, 0), 4.0), source="crafter"))
    dec = LLMDecider(cfg(llama_server, cache=True), SKILLS, cache_dir=tmp_path)
    recall = mem.retrieve("tree wood", k=3)
    d = dec.decide("collect wood from a tree", recall, state={"inventory": {"wood": 0}}, now=5.0)
    assert d.fallback is None, d.error  # the grammar keeps even a 135M model inside the schema
    assert d.calls and all(c.skill in SKILLS for c in d.calls)
    assert d.latency_s > 0 and d.prompt_tokens > 50 and d.completion_tokens > 0
    again = LLMDecider(cfg(llama_server, cache=True), SKILLS, cache_dir=tmp_path).decide(
        "collect wood from a tree", recall, state={"inventory": {"wood": 0}}, now=5.0)
    assert again.cached and again.calls == d.calls  # the rerun takes the same decision without asking
    mem.close()


def test_truncated_answer_falls_back(llama_server):
    dec = LLMDecider(cfg(llama_server, max_tokens=3), SKILLS)
    d = dec.decide("collect wood", None)
    assert d.calls is None and d.fallback == "length"
    assert dec.summary()["fallback_reasons"] == {"length": 1} and dec.summary()["invalid"] == 1


def test_timeout_falls_back(llama_server):
    dec = LLMDecider(cfg(llama_server, timeout_s=0.001), SKILLS)
    d = dec.decide("collect wood", None)
    assert d.calls is None and d.fallback == "timeout"
