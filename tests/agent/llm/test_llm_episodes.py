"""Episodes with ``agent.planner.backend=llm`` through ``embodied-mem run`` and the real llama.cpp server.

No mock: the SmolLM2-135M-Instruct GGUF on llama-cpp-python's OpenAI-compatible server. The LLM is
consulted on replans only, at most once per ``min_interval_steps``, so an episode costs a few
requests. Checks what a user relies on: the run completes, every decision is counted in
metrics.json and cached beside the memory, a rerun from that cache takes the same actions without
asking the server, and an unusable answer falls back to the symbolic planner while the run goes on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("crafter")

# a few LLM requests per episode: seconds each on an idle machine, much longer on a busy shared one
pytestmark = pytest.mark.timeout(900)


def run(run_dir: Path, *overrides: str, env: str = "crafter", steps: int = 120) -> dict:
    cmd = [sys.executable, "-m", "embodied_mem.cli", "run", f"env={env}", f"steps={steps}", "seed=3", "progress=false",
           "plots=false", "agent.planner.backend=llm", "agent.planner.llm.response_format=json_object",
           "agent.planner.llm.timeout_s=300", "agent.planner.llm.images=false", *overrides,
           f"hydra.run.dir={run_dir}"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                       env={**os.environ, "MPLBACKEND": "Agg", "HYDRA_FULL_ERROR": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads((run_dir / "metrics.json").read_text())


def actions(run_dir: Path) -> list:
    return [json.loads(line)["action"] for line in (run_dir / "episodes.jsonl").read_text().splitlines()]


def test_crafter_episode_plans_with_the_llm_and_reruns_from_the_cache(llama_server, tmp_path):
    first = tmp_path / "first"
    m = run(first, f"agent.planner.llm.base_url={llama_server}", "agent.planner.llm.max_tokens=64",
            "agent.planner.llm.min_interval_steps=100")
    (ep,) = m["episodes"]
    p = ep["planner"]
    assert ep["length"] == 120
    assert 1 <= p["decisions"] <= 3 and p["plans"]["llm"] >= 1  # the grammar keeps answers valid
    assert p["fallbacks"] == sum(p["fallback_reasons"].values()) == p["decisions"] - p["plans"]["llm"]
    assert p["latency_ms_p50"] > 0 and p["prompt_tokens"] > 100 and p["completion_tokens"] > 0
    cached = [json.loads(line) for line in (first / "llm_decisions.jsonl").read_text().splitlines()]
    assert len(cached) == p["decisions"] - p["fallback_reasons"].get("timeout", 0)
    steps = [json.loads(line) for line in (first / "episodes.jsonl").read_text().splitlines()]
    assert {s["planner"] for s in steps} >= {"llm"}  # each step says which planner made its plan
    # A rerun from the first run's cache: same decisions, no request (the endpoint is unreachable).
    again = tmp_path / "again"
    m2 = run(again, "agent.planner.llm.base_url=http://127.0.0.1:9/v1", "agent.planner.llm.max_tokens=64",
             "agent.planner.llm.min_interval_steps=100", f"agent.planner.llm.cache_dir={first}")
    p2 = m2["episodes"][0]["planner"]
    assert p2["cached"] == p2["decisions"] == p["decisions"] and p2["plans"] == p["plans"]
    assert actions(again) == actions(first)


def test_unusable_answers_fall_back_and_the_episode_goes_on(llama_server, tmp_path):
    m = run(tmp_path / "run", f"agent.planner.llm.base_url={llama_server}", "agent.planner.llm.max_tokens=4",
            "agent.planner.llm.min_interval_steps=50", steps=80)
    (ep,) = m["episodes"]
    p = ep["planner"]
    assert ep["length"] == 80  # the run went on
    assert p["decisions"] >= 1 and p["fallbacks"] == p["decisions"] == p["invalid"]
    assert p["fallback_reasons"] == {"length": p["decisions"]} and p["plans"]["llm"] == 0
    assert p["fallback_rate"] == 1.0 and p["plans"]["fallback"] == p["decisions"]


def test_indoor3d_episode_plans_with_the_llm(llama_server, tmp_path):
    pytest.importorskip("open3d")
    m = run(tmp_path / "run", f"agent.planner.llm.base_url={llama_server}", "agent.planner.llm.max_tokens=48",
            "agent.planner.llm.min_interval_steps=40", env="indoor3d", steps=50)
    (ep,) = m["episodes"]
    p = ep["planner"]
    assert ep["length"] >= 1 and "spl" in ep  # stops early on success, else runs its 50 steps
    assert p["decisions"] >= 1 and p["plans"]["llm"] + p["plans"]["fallback"] == p["decisions"]
    assert p["plans"]["llm"] >= 1 and p["fallbacks"] == 0  # answers inside the schema: search/explore a category
    decided = [json.loads(line) for line in (tmp_path / "run" / "llm_decisions.jsonl").read_text().splitlines()]
    assert all(json.loads(d["content"])["plan"][0]["skill"] in ("search", "explore") for d in decided)
