"""Object search (indoor3d / habitat) on the shared AgentLoop: the env's declared description, the
lifelong memory agent going to what it saw in an earlier episode, the memoryless baseline, the
critic and the ablations acting in this world, and the agent's own artefact."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("open3d")

from embodied_mem.envs.indoor3d.env import Indoor3DEnv  # noqa: E402

from embodied_mem import Memory  # noqa: E402
from embodied_mem.agent.factory import make_random, make_reactive, make_robomemory  # noqa: E402
from embodied_mem.agent.loop import AgentLoop  # noqa: E402
from embodied_mem.agent.protocols import EnvDescription  # noqa: E402
from embodied_mem.agent.worlds import describe  # noqa: E402


@pytest.fixture(scope="module")
def env():
    return Indoor3DEnv(scene_seed=1, width=64, height=64, max_steps=300)


def _run(agent, env, seed, options=None, steps=300):
    obs, info = env.reset(seed=seed, options=options)
    records = []
    for _ in range(steps):
        a = agent.act(obs, info)
        assert env.action_space.contains(a)  # actions follow the env's action space
        records.append(agent.record())
        obs, _, term, trunc, info = env.step(a)
        if term or trunc:
            break
    return info, records


def test_the_env_declares_what_the_agent_needs(env):
    desc = describe(env)
    assert desc.world == "objectnav" and desc.labels == tuple(env.goal_names)
    assert desc.extra["camera"]["width"] == 64 and math.isclose(desc.extra["turn"], env.turn)
    bad = EnvDescription("objectnav", desc.labels, (), ("stop", "forward"), desc.extra)
    with pytest.raises(ValueError, match="actions"):
        AgentLoop.for_world(make_robomemory({}, env).config, bad)
    bad = EnvDescription("objectnav", desc.labels, (), desc.actions, {k: v for k, v in desc.extra.items() if k != "camera"})
    with pytest.raises(ValueError, match="camera"):
        AgentLoop.for_world(make_robomemory({}, env).config, bad)
    with pytest.raises(ValueError, match="goals"):
        make_robomemory({"planner": {"goals": ["chair"]}}, env)


def test_memory_agent_goes_to_what_it_saw_in_an_earlier_episode(env, tmp_path):
    agent = make_robomemory({"objectnav": {"fuse": True}}, env, seed=0)
    mem = Memory()
    assert agent.uses_memory
    agent.reset(mem, seed=0)  # episode 1: a tour (the goal is absent): it explores, memory fills up
    _run(agent, env, 0, {"tour": True})
    seen = [label for label in mem.spatial.labels() if label in env.goal_categories]
    assert len(seen) >= 3, f"the tour should see several goal objects, saw {seen}"
    agent.reset(mem, seed=1)  # episode 2: search for something seen during the tour
    info, records = _run(agent, env, 1, {"goal": seen[0]})
    assert records[0]["subgoal"] == f"search {seen[0]}" and records[0]["goal"] == f"find {seen[0]}"
    assert agent.executor.mode in ("remembered", "seen")
    assert info["success"] and info["spl"] > 0.5, info
    traj = mem.spatial.trajectory()  # memory's time keeps increasing across episodes
    assert all(t1 > t0 for (t0, _), (t1, _) in zip(traj, traj[1:]))
    paths = agent.artefacts(tmp_path, mem)  # the agent draws its own fused map (no side file)
    assert [p.name for p in paths] == ["fused_topdown.png", "fused.ply"] and paths[0].stat().st_size > 10_000


def test_memoryless_baseline_knows_only_this_episode(env):
    agent = make_reactive({}, env, seed=0)
    mem = Memory()
    agent.reset(mem, seed=0)  # given a memory, it keeps none
    assert not agent.uses_memory and agent.memory is None
    _run(agent, env, 0, {"tour": True}, steps=60)
    known = int(np.count_nonzero(agent.pre.map.nav.grid))
    assert known > 0 and mem.stats()["percepts"] == 0
    agent.reset(None, seed=1)  # a new episode starts with an empty working map
    assert int(np.count_nonzero(agent.pre.map.nav.grid)) == 0
    info, records = _run(agent, env, 1, steps=5)
    assert {r["verdict"] for r in records} == {"off"}  # no critic
    r = make_random({}, env, seed=0)
    r.reset(None, seed=0)
    obs, info = env.reset(seed=2)
    assert r.act(obs, info) in range(4)


def test_the_critic_acts_here_and_no_critic_switches_it_off(env):
    """A frozen sensor (the same frame every step: the agent gets nowhere, sees nothing new) is a
    stall the critic must call; with the critic off the loop never judges."""
    import dataclasses

    def verdicts(cfg):
        agent = make_robomemory({"objectnav": {"fuse": False, "spin_first": False}, **cfg}, env, seed=0)
        agent.reset(Memory(), seed=3)
        obs, info = env.reset(seed=3)
        out = []
        for t in range(40):
            agent.act(obs, {**info, "percept": dataclasses.replace(info["percept"], t=float(t))})
            out.append(agent.record()["verdict"])
        return out

    on = verdicts({"critic": {"stall_steps": 8, "loop_window": 10, "loop_cells": 1}})
    assert {"stalled", "loop"} & set(on), on
    assert set(verdicts({"critic": {"enabled": False}})) == {"off"}


def test_ablations_act_in_this_world(env):
    """no_spatial: nothing is remembered where; the agent still searches (its map of this episode)."""
    from embodied_mem.memory import MemoryConfig

    mem = Memory(MemoryConfig.from_dict({"spatial": {"enabled": False}}))
    agent = make_robomemory({"objectnav": {"fuse": False}}, env, seed=0)
    agent.reset(mem, seed=0)
    _run(agent, env, 0, {"tour": True}, steps=40)
    assert mem.spatial.labels() == [] and mem.stats()["percepts"] > 0
    for goal in env.goal_names:  # whatever it knows of a goal, it saw this episode; nothing is remembered
        assert agent.world.goal_position(goal, (0.0, 0.0))[1] in ("seen", "explore")


def test_ablations_no_decision_reads_are_refused_by_the_runner(tmp_path):
    """`embodied-mem run env=indoor3d ablation=no_temporal` stops before any episode with a clear error."""
    import os
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "embodied_mem.cli", "run", "env=indoor3d", "ablation=no_temporal",
                        "episodes=1", "steps=5", "env.kwargs.width=32", "env.kwargs.height=32", "progress=false",
                        f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path, env={**os.environ, "MPLBACKEND": "Agg"},
                       text=True, capture_output=True, timeout=300)
    assert r.returncode != 0
    assert "ablation 'no_temporal' cannot act in the 'objectnav' world" in r.stderr
    assert not (tmp_path / "run" / "metrics.json").exists()
