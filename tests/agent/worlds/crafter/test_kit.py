"""The Crafter world kit: built from the env's declared description, refusing a vocabulary it
was not written for; the agent runs on the shared loop and its critic acts in real episodes."""

from __future__ import annotations

import dataclasses
import re

import pytest

from embodied_mem import Memory
from embodied_mem.agent.config import AgentConfig
from embodied_mem.agent.factory import make_robomemory
from embodied_mem.agent.loop import AgentLoop
from embodied_mem.agent.worlds import describe
from embodied_mem.agent.worlds.crafter.kit import KIT

pytest.importorskip("crafter")


def _env():
    from embodied_mem import envs

    return envs.make("crafter", length=10_000)


def test_the_env_declares_its_world_and_the_kit_builds_from_it():
    desc = describe(_env())
    assert desc.world == "crafter" and "tree" in desc.labels and desc.actions[5] == "do"
    names = {s.name for s in KIT.skills(desc)}
    assert {"collect", "make", "place", "explore"} <= names
    collect = next(s for s in KIT.skills(desc) if s.name == "collect").json_schema()
    assert "tree" in collect["properties"]["target"]["enum"] and "player" not in collect["properties"]["target"]["enum"]
    assert KIT.task((), desc).goals[0] == "collect_wood"
    assert KIT.task(["eat_cow"], desc).goals == ("eat_cow",)


def test_a_vocabulary_it_was_not_written_for_is_refused():
    desc = describe(_env())
    with pytest.raises(ValueError, match="declares Crafter actions"):
        AgentLoop.for_world(AgentConfig(), dataclasses.replace(desc, actions=desc.actions[::-1]))
    with pytest.raises(ValueError, match="lack 'tree'"):
        AgentLoop.for_world(AgentConfig(), dataclasses.replace(desc, labels=("unknown", "grass")))


def test_another_worlds_section_is_refused():
    desc = dataclasses.replace(describe(_env()), world="crafter")
    cfg = AgentConfig.from_dict({"crafter": {"dig": False}})
    AgentLoop.for_world(cfg, desc)  # its own world: fine
    from embodied_mem.agent.config import check_world_sections

    with pytest.raises(ValueError, match="agent.crafter configures the 'crafter' world"):
        check_world_sections(cfg, "minecraft")


def test_the_critic_intervenes_in_real_crafter_and_what_it_puts_aside_is_skipped():
    env = _env()
    agent = make_robomemory({"critic": {"stall_steps": 30}}, env=env, seed=3)
    mem = Memory()
    mem.load_priors("crafter")
    mem.new_episode()
    agent.reset(mem, seed=3)
    obs, info = env.reset(seed=3)
    interventions = []
    for _ in range(1500):
        a = agent.act(obs, info)
        rec = agent.record()
        if "critic" in rec:
            interventions.append((info["step"], rec["critic"], dict(agent.world.blacklist),
                                  dict(agent.planner.cooldown)))
        obs, _, term, trunc, info = env.step(a)
        if term or trunc:
            break
    assert interventions, "the critic never intervened in 1500 steps"
    assert any("put aside" in what for _, what, _, _ in interventions)
    for t, what, blacklist, cooldown in interventions:
        assert what.split(":")[0] in ("stalled", "loop")
        if "put aside goal" in what:
            goal = what.rsplit("put aside goal ", 1)[1]
            assert cooldown.get(goal, -1) > t
        elif "dropped" not in what:
            m = re.search(r"put aside (\w+) at \((-?\d+), (-?\d+)\)", what)
            assert m, what
            key = (m.group(1), (int(m.group(2)), int(m.group(3))))
            assert blacklist.get(key, -1) > t, f"{what}: {key} not put aside in the world model"
