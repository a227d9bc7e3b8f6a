"""The Minecraft world on the shared AgentLoop: the env's declared description, the frame, the task
planner, the skills (collect / explore: spiral, frontier, heading) and the critic on synthetic
percepts (memory frame), and short episodes on a real flying-squid server."""

from __future__ import annotations

import math

import numpy as np
import pytest

from embodied_mem import envs
from embodied_mem.agent.config import AgentConfig
from embodied_mem.agent.factory import make_agent
from embodied_mem.agent.loop import AgentLoop
from embodied_mem.agent.protocols import EnvDescription
from embodied_mem.agent.worlds import describe
from embodied_mem.agent.worlds.minecraft.executor import SpiralSweep
from embodied_mem.agent.worlds.minecraft.frames import Frame
from embodied_mem.memory import Memory, MemoryConfig
from embodied_mem.percept import Percept, Pose, Sighting, View

TASK = {"order": ["sand", "pumpkin"], "count": 2, "progress": {"sand": 0, "pumpkin": 0}, "current": "sand",
        "done": False}


@pytest.fixture(scope="module")
def desc() -> EnvDescription:
    env = envs.make("minecraft", task={"order": ["sand", "pumpkin"], "count": 2})  # no server until reset()
    return describe(env)


def _info(t, x, y, sightings=(), free_radius=6, task=TASK, ok=True, inventory=None):
    free = np.array([(x + dx, y + dy) for dx in range(-free_radius, free_radius + 1)
                     for dy in range(-free_radius, free_radius + 1) if dx * dx + dy * dy <= free_radius ** 2], float)
    p = Percept(t=t, pose=Pose(x, y, 5.0, 0.0), sightings=tuple(Sighting(lbl, pos) for lbl, pos in sightings),
                view=View.disc((x, y, 5.0), 3.0), source="minecraft", free=free, action="move_to")
    return {"percept": p, "task": dict(task), "inventory": inventory or {}, "action_ok": ok, "result": {}}


def _agent(desc, cfg=None, seed=0):
    return make_agent(cfg or {}, None, seed, desc=desc)


def test_the_env_declares_what_the_agent_needs(desc):
    assert desc.world == "minecraft" and "noop" in desc.actions
    assert {"move_to", "dig"} <= set(desc.extra["primitives"])
    assert desc.extra["drops"]["sand"] == "sand" and desc.extra["task"]["order"] == ["sand", "pumpkin"]
    agent = _agent(desc)
    assert isinstance(agent, AgentLoop) and agent.task.goals == ("collect sand", "collect pumpkin")
    bad = EnvDescription("minecraft", desc.labels, desc.inventory, desc.actions,
                         {k: v for k, v in desc.extra.items() if k != "drops"})
    with pytest.raises(ValueError, match="drop table"):
        _agent(bad)
    bad = EnvDescription("minecraft", desc.labels, desc.inventory, desc.actions, {**desc.extra, "primitives": ["look"]})
    with pytest.raises(ValueError, match="move_to"):
        _agent(bad)


def test_declared_frame_matches_the_envs_conversions(desc):
    from embodied_mem.envs.minecraft import frames as env_frames

    f = Frame.from_declared(desc.extra["frame"])
    for b in [(0, 5, 0), (-3, 7, 12), (20, 5, -21)]:
        m = env_frames.block_to_memory(*b)
        assert f.block(*m) == b == env_frames.memory_to_block(*m)
    for xy in [(0.0, 0.0), (3.2, -7.9)]:
        ex, _, ez = env_frames.memory_to_feet(*xy, None)
        assert f.ground(*xy) == pytest.approx((ex, ez))
    with pytest.raises(ValueError, match="permutation"):
        Frame.from_declared({"axes": ["x", "y", "z"], "offset": [0, 0, 0]})


def test_plans_the_tasks_order_and_waits_when_done(desc):
    agent = _agent(desc)
    agent.reset(None)
    agent.act(None, _info(0, 0, 0))
    assert agent.record()["subgoal"] == "collect sand sand>=2"
    agent.act(None, _info(1, 0, 0, task={**TASK, "progress": {"sand": 2, "pumpkin": 0}}))
    assert agent.record()["subgoal"] == "collect pumpkin pumpkin>=2"
    a = agent.act(None, _info(2, 0, 0, task={**TASK, "progress": {"sand": 2, "pumpkin": 2}, "done": True}))
    assert a == desc.actions.index("noop") and agent.record()["subgoal"] == "wait"
    with pytest.raises(ValueError, match="not Minecraft resource kinds"):
        _agent(desc, {"planner": {"goals": ["diamond_sword"]}})


def test_remembered_resource_is_reached_with_memory_and_forgotten_without(desc):
    far = (30.0, 0.0, 5.5)
    for spatial in (True, False):
        mem = Memory(MemoryConfig.from_dict({"spatial": {"enabled": spatial}}))
        agent = _agent(desc)
        agent.reset(mem, seed=0)
        agent.act(None, _info(0, 24, 0, sightings=[("sand", far)]))  # seen once, in view
        a = agent.act(None, _info(1, 0, 0))  # walked away: not in view any more
        assert a["op"] == "move_to"
        if spatial:  # it goes back, at most a stride per step
            assert agent.executor.target() == ("sand", (30, 0, 5)) and a["x"] > 0.5
            assert math.hypot(a["x"] - 0.5, a["z"] - 0.5) <= agent.config.minecraft.stride + 1.0
        else:  # no map: it explores (the spiral's first leg heads east from where it started)
            assert agent.executor.target_pos is None
        assert mem.temporal.first_seen("sand") == 0.0  # memory still recorded the sighting


def test_digs_a_block_in_reach_in_minecraft_coordinates_and_writes_no_memory_when_reactive(desc):
    mem = Memory(MemoryConfig())
    agent = _agent(desc, {"name": "reactive"})
    agent.reset(mem)
    a = agent.act(None, _info(0, 0.0, 0.0, sightings=[("sand", (2.0, -1.0, 5.5))]))
    assert a == {"op": "dig", "x": 2, "y": 5, "z": -1}
    assert agent.uses_memory is False and mem.stats()["percepts"] == 0


def test_a_target_that_keeps_failing_is_put_aside(desc):
    agent = _agent(desc, {"minecraft": {"fail_limit": 2}})
    agent.reset(None, seed=0)
    sand = [("sand", (7.0, 0.0, 5.5))]
    agent.act(None, _info(0, 0, 0, sightings=sand))
    assert agent.executor.target() == ("sand", (7, 0, 5))
    for t in (1, 2):  # the move towards it fails twice
        agent.act(None, _info(t, 0, 0, sightings=sand, ok=False))
    assert agent.world.is_aside("sand", (7, 0, 5))
    a = agent.act(None, _info(3, 0, 0, sightings=sand))
    assert agent.executor.target() != ("sand", (7, 0, 5)) and a["op"] == "move_to"


def test_the_critic_judges_minecraft_progress_and_no_critic_switches_it_off(desc):
    def run(cfg):
        agent = _agent(desc, cfg)
        agent.reset(Memory(MemoryConfig()), seed=0)
        verdicts = []
        for t in range(30):  # stuck: every move fails, the bot never leaves its cell, nothing gained
            agent.act(None, _info(t, 0, 0, ok=False, free_radius=0))
            verdicts.append(agent.record()["verdict"])
        return verdicts

    on = run({"critic": {"stall_steps": 10, "loop_window": 8, "loop_cells": 1}})
    assert {"stalled", "loop"} & set(on)
    off = run({"critic": {"enabled": False}})
    assert set(off) == {"off"}


def test_spiral_sweep_passes_lie_spacing_apart_and_it_starts_over_after_misses():
    sw = SpiralSweep(spacing=10.0, step=4.0, misses=3)
    sw.reset((2.0, -1.0))
    pts = [sw.point(i) for i in range(80)]
    assert pts[0] == (2.0, -1.0)
    assert all(math.dist(a, b) <= 4.0 + 1e-9 for a, b in zip(pts, pts[1:]))
    corners = [p for a, p, b in zip(pts, pts[1:], pts[2:])
               if (p[0] - a[0]) * (b[1] - p[1]) != (p[1] - a[1]) * (b[0] - p[0])]
    assert [(round(x - 2.0), round(y + 1.0)) for x, y in corners[:6]] == [(10, 0), (10, 10), (-10, 10), (-10, -10),
                                                                          (20, -10), (20, 20)]
    sw.advance(missed=False)
    sw.advance(missed=True)
    sw.advance(missed=True)
    assert sw.index == 3
    sw.advance(missed=True)  # the third miss in a row: back to the origin
    assert sw.index == 0 and sw.current() == (2.0, -1.0)
    with pytest.raises(ValueError, match="spacing"):
        SpiralSweep(spacing=0.0, step=4.0, misses=3)


def test_memoryless_sweep_walks_the_spiral_and_collects_only_what_it_sees(desc):
    agent = _agent(desc, {"name": "reactive"})
    agent.reset(None, seed=0)
    a = agent.act(None, _info(0, 0.0, 0.0))  # nothing in view: the first leg goes east (+x = Minecraft +x)
    assert a["op"] == "move_to" and a["x"] > 0.5 + 3.0 and abs(a["z"] - 0.5) < 1e-9
    a = agent.act(None, _info(1, 5.0, 0.0, sightings=[("sand", (7.0, 1.0, 5.5))]))
    assert a == {"op": "dig", "x": 7, "y": 5, "z": 1}  # what it sees on the way, it collects
    a = agent.act(None, _info(2, 5.0, 0.0))  # out of view again: forgotten, the sweep goes on
    assert a["op"] == "move_to" and agent.executor.target_pos is None
    agent.act(None, _info(3, 10.0, 0.0, free_radius=0))  # the next waypoint is in view but not free
    assert agent.executor.sweep.misses >= 1


def test_config_is_checked_before_anything_runs(desc):
    cfg = AgentConfig.from_dict({"minecraft": {"stride": 6.0, "explore": "frontier"}})
    assert cfg.minecraft.stride == 6.0
    with pytest.raises(ValueError, match="unknown key"):
        AgentConfig.from_dict({"minecraft": {"strid": 3}})
    with pytest.raises(ValueError, match="explore"):
        AgentConfig.from_dict({"minecraft": {"explore": "zigzag"}})
    crafter = EnvDescription("crafter")
    with pytest.raises(ValueError, match="agent.minecraft"):
        AgentLoop.for_world(cfg, crafter)


@pytest.mark.parametrize("cfg,spatial", [({"name": "robomemory"}, True),
                                         ({"name": "robomemory", "minecraft": {"explore": "heading"}}, False),
                                         ({"name": "robomemory", "minecraft": {"explore": "frontier"}}, True),
                                         ({"name": "reactive"}, False)])
def test_short_episode_on_a_real_server(cfg, spatial):
    from embodied_mem.envs.minecraft.sidecar import node_available

    ok, why = node_available()
    if not ok:
        pytest.skip(f"Minecraft sidecar unavailable: {why}")
    env = envs.make("minecraft", world={"size": 16, "deposits_per_kind": 1, "deposit_size": 2, "obstacles": 1,
                                        "min_spawn_distance": 4.0},
                    task={"order": ["sand", "pumpkin"], "count": 1}, max_steps=60)
    try:
        mem = Memory(MemoryConfig.from_dict({"spatial": {"enabled": spatial}}))
        agent = make_agent(cfg, env, seed=2)
        agent.reset(mem, seed=2)
        obs, info = env.reset(seed=2)
        for _ in range(60):
            action = agent.act(obs, info)
            assert env.action_space.contains(action)  # a primitive command or a low-level id: both in the space
            obs, r, term, trunc, info = env.step(action)
            if term or trunc:
                break
        assert info["task"]["done"] and info["task"]["order_kept"], info["task"]
        if cfg["name"] == "reactive":
            assert mem.stats()["percepts"] == 0
        else:
            assert mem.stats()["percepts"] >= info["steps"] // 2
        if spatial:
            assert mem.spatial.history("sand") and mem.spatial.trajectory()
    finally:
        env.close()


@pytest.mark.parametrize("name", ["full", "no_critic", "no_spatial", "no_long_term"])
def test_ablations_that_act_here_are_accepted(desc, name):
    _agent(desc).check_ablation(name)


@pytest.mark.parametrize("name", ["no_temporal", "no_episodic", "no_semantic", "no_prior"])
def test_ablations_no_decision_reads_are_refused(desc, name):
    with pytest.raises(ValueError, match=f"ablation '{name}' cannot act in the 'minecraft' world.*spatial"):
        _agent(desc).check_ablation(name)


def test_the_envs_action_space_holds_what_the_agent_returns():
    from embodied_mem.envs.minecraft.env import LOW_LEVEL

    space = envs.make("minecraft").action_space
    assert space.n == len(LOW_LEVEL) and space.contains(space.sample())
    assert space.contains({"op": "move_to", "x": 1.5, "z": -2.5, "range": 1.0, "timeout_ms": 6000})
    assert space.contains({"op": "dig", "x": 2, "y": 5, "z": -1})
    assert not space.contains({"op": "dig", "x": 2})  # missing fields
    assert not space.contains({"op": "teleport"}) and not space.contains(len(LOW_LEVEL))


def test_embodied_mem_run_env_minecraft_on_the_shared_loop(tmp_path):
    """`embodied-mem run env=minecraft ...`: the runner builds the loop from configs/env/minecraft.yaml,
    accepts an agent.minecraft setting and refuses an ablation no decision reads."""
    import json
    import os
    import subprocess
    import sys

    from embodied_mem.envs.minecraft.sidecar import node_available

    ok, why = node_available()
    if not ok:
        pytest.skip(f"Minecraft sidecar unavailable: {why}")
    small = ["env.kwargs.world.size=16", "env.kwargs.world.deposits_per_kind=1", "env.kwargs.world.deposit_size=2",
             "env.kwargs.world.obstacles=1", "+env.kwargs.world.min_spawn_distance=4.0",
             "env.kwargs.task.order=[sand,pumpkin]", "env.kwargs.task.count=1", "progress=false"]

    def run(*extra):
        run_dir = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
        r = subprocess.run([sys.executable, "-m", "embodied_mem.cli", "run", "env=minecraft", "episodes=1", "steps=40",
                            *small, *extra, f"hydra.run.dir={run_dir}"], cwd=tmp_path, text=True, capture_output=True,
                           env={**os.environ, "MPLBACKEND": "Agg"}, timeout=300)
        return r, run_dir

    r, run_dir = run("agent.minecraft.explore=frontier")
    assert r.returncode == 0, r.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "ok" and metrics["episodes"][0]["success"] and "map.png" in metrics["plots"]
    r, run_dir = run("ablation=no_temporal")
    assert r.returncode != 0 and "ablation 'no_temporal' cannot act in the 'minecraft' world" in r.stderr
