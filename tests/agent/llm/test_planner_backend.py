"""The ``llm`` planner backend inside the shared loop (Crafter), against the scripted endpoint.

What a user relies on: the backend is chosen by ``agent.planner.backend=llm``; its config is
checked before anything runs; a valid answer becomes the loop's subgoals (skill, target, item,
level); the LLM is asked at most once per ``min_interval_steps`` (in between the symbolic
planner plans); any unusable answer falls back to the symbolic plan and is counted.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("crafter")

from embodied_mem import Memory, envs  # noqa: E402
from embodied_mem.agent.config import AgentConfig, check_planner_sections  # noqa: E402
from embodied_mem.agent.factory import make_robomemory  # noqa: E402
from embodied_mem.agent.llm.planner import LLMPlanner, state_summary, task_text  # noqa: E402
from embodied_mem.agent.protocols import Subgoal, Task  # noqa: E402


def agent_for(url, **llm):
    cfg = {"planner": {"backend": "llm", "llm": {"base_url": url, "cache": False, **llm}}}
    env = envs.make("crafter", length=300)
    return make_robomemory(cfg, env=env, seed=0), env


def plan(*steps):
    return json.dumps({"plan": [dict(s) for s in steps]})


def run_steps(agent, env, n, mem=None):
    agent.reset(mem, seed=0)
    obs, info = env.reset(seed=0)
    for _ in range(n):
        obs, _, term, trunc, info = env.step(agent.act(obs, info))
        if term or trunc:
            break


def test_backend_is_chosen_by_config_and_checked_before_running(server):
    agent, _ = agent_for(server.url)
    assert isinstance(agent.planner, LLMPlanner)
    with pytest.raises(ValueError, match="timeout_s"):
        agent_for(server.url, timeout_s=-1)
    with pytest.raises(ValueError, match="unknown key.*agent.planner.llm"):
        AgentConfig.from_dict({"planner": {"llm": {"base_ur": "http://x"}}})
    with pytest.raises(ValueError, match="agent.planner.llm"):  # settings of a backend that does not run
        check_planner_sections(AgentConfig.from_dict({"planner": {"llm": {"model": "gpt-4o"}}}))


def test_answer_becomes_subgoals_and_the_llm_is_rate_limited(server):
    agent, env = agent_for(server.url, min_interval_steps=1000, max_subgoals=2)
    server.reply(plan({"skill": "collect", "target": "tree", "item": "wood", "level": 2},
                      {"skill": "place", "target": "table"}))
    with Memory() as mem:
        mem.load_priors("crafter")
        run_steps(agent, env, 120, mem)
    p = agent.planner.metrics()
    assert len(server.requests) == 1 == p["decisions"]  # once per min_interval_steps, not every replan
    assert p["plans"]["llm"] == 1 and p["plans"]["symbolic"] >= 1 and p["plans"]["fallback"] == 0
    body = server.requests[0]["body"]
    user = body["messages"][1]["content"]
    assert "unlock Crafter achievements" in user and "collect_wood" in user and "State: t=0" in user
    assert "Known facts (semantic memory)" in user  # the recall reached the prompt
    assert "- collect:" in body["messages"][0]["content"]  # skills sit in the cached system prefix


def test_first_llm_subgoal_is_what_the_loop_runs(server):
    agent, env = agent_for(server.url, min_interval_steps=1000)
    server.reply(plan({"skill": "explore", "target": "water"}))
    agent.reset(None, seed=0)
    obs, info = env.reset(seed=0)
    agent.act(obs, info)
    assert agent.subgoal == Subgoal("explore", "water")
    assert agent.record()["planner"] == "llm"


@pytest.mark.parametrize("reply,reason", [
    (dict(content=plan({"skill": "fly", "target": "tree"})), "skill"),
    (dict(content=plan({"skill": "collect", "target": "unicorn"})), "target"),
    (dict(content='{"plan": [{"skill": "coll', finish="length"), "length"),
    (dict(content=None, refusal="no"), "refusal"),
    (dict(status=503, raw={"error": "overloaded"}), "error"),
])
def test_unusable_answer_uses_the_symbolic_plan(server, reply, reason):
    agent, env = agent_for(server.url, min_interval_steps=1000)
    server.reply(**reply)
    agent.reset(None, seed=0)
    obs, info = env.reset(seed=0)
    agent.act(obs, info)
    p = agent.planner.metrics()
    assert p["fallback_reasons"] == {reason: 1} and p["plans"]["fallback"] == 1
    assert agent.record()["planner"] == f"fallback({reason})"
    # the loop runs what the symbolic planner would have run on its own
    ref, env2 = agent_for(server.url)
    ref.planner = ref.planner.fallback
    ref.reset(None, seed=0)
    obs2, info2 = env2.reset(seed=0)
    ref.act(obs2, info2)
    assert agent.subgoal == ref.subgoal


def test_task_text_lists_open_goals_and_the_suggestion():
    class S:
        t = 5.0
        pos = (3, 4)
        inventory = {"wood": 2, "stone": 0}

        def unlocked(self, g):
            return g == "collect_wood"

    task = Task(("collect_wood", "place_table"), "unlock Crafter achievements: collect_wood, place_table")
    text = task_text(task, S(), [Subgoal("place", "table", goal="place_table")])
    assert text.startswith("unlock Crafter achievements. Goals not reached yet, in order: place_table")
    assert '{"skill": "place", "target": "table"}' in text
    assert state_summary(S()) == {"t": 5.0, "position": (3.0, 4.0), "inventory": {"wood": 2}}
