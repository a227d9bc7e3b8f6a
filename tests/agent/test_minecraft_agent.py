"""The Minecraft agent: planner, critic and executor on synthetic percepts (memory frame), and one
short episode on a real flying-squid server with and without spatial memory."""

from __future__ import annotations

import math

import numpy as np
import pytest

from embodied_mem.agent.minecraft import (
    Critic,
    MinecraftAgent,
    MinecraftAgentConfig,
    Planner,
    Preprocessor,
    SpiralSweep,
    make_agent,
    make_reactive,
    make_robomemory,
    make_sweep,
)
from embodied_mem.memory import Memory, MemoryConfig
from embodied_mem.percept import Percept, Pose, Sighting, View

TASK = {"order": ["sand", "pumpkin"], "count": 2, "progress": {"sand": 0, "pumpkin": 0}, "current": "sand",
        "done": False}


def _info(t, x, y, sightings=(), free_radius=6, task=TASK, ok=True, inventory=None):
    free = np.array([(x + dx, y + dy) for dx in range(-free_radius, free_radius + 1)
                     for dy in range(-free_radius, free_radius + 1) if dx * dx + dy * dy <= free_radius ** 2], float)
    p = Percept(t=t, pose=Pose(x, y, 5.0, 0.0), sightings=tuple(Sighting(lbl, pos) for lbl, pos in sightings),
                view=View.disc((x, y, 5.0), 3.0), source="minecraft", free=free, action="move_to")
    return {"percept": p, "task": dict(task), "inventory": inventory or {}, "action_ok": ok, "result": {}}


def test_planner_follows_the_order():
    pl = Planner()
    st = Preprocessor().state(_info(0, 0, 0))
    assert str(pl.plan(st)) == "collect sand sand>=2"
    st = Preprocessor().state(_info(0, 0, 0, task={**TASK, "current": "pumpkin"}))
    assert pl.plan(st).target == "pumpkin"
    st = Preprocessor().state(_info(0, 0, 0, task={**TASK, "current": None, "done": True}))
    assert pl.plan(st).kind == "done"


def test_remembered_resource_is_reached_with_memory_and_forgotten_without():
    far = (30.0, 0.0, 5.5)
    for spatial in (True, False):
        mem = Memory(MemoryConfig.from_dict({"spatial": {"enabled": spatial}}))
        agent = make_robomemory({}, None, seed=0)
        agent.reset(mem, seed=0)
        agent.act(None, _info(0, 24, 0, sightings=[("sand", far)]))  # seen once, in view
        a = agent.act(None, _info(1, 0, 0))  # walked away: not in view any more
        if spatial:  # it goes back, at most a stride per step, along known free space
            assert a["op"] == "move_to" and a["x"] > 0.5 and agent.executor.target == far
            assert math.hypot(a["x"] - 0.5, a["z"] - 0.5) <= agent.cfg.stride + 1.0
        else:  # no map: it explores
            assert agent.record()["subgoal"] == "collect sand sand>=2" and a["op"] == "move_to"
            assert agent.executor.target is None
        assert mem.temporal.first_seen("sand") == 0.0  # temporal memory still knows it saw sand


def test_digs_a_block_in_reach_in_minecraft_coordinates():
    agent = make_reactive({}, None, seed=0)
    agent.reset(None)
    a = agent.act(None, _info(0, 0.0, 0.0, sightings=[("sand", (2.0, -1.0, 5.5))]))
    assert a == {"op": "dig", "x": 2, "y": 5, "z": -1}
    assert agent.uses_memory is False


def test_critic_puts_a_failing_target_aside_and_detects_loops():
    cfg = MinecraftAgentConfig(fail_limit=2, loop_window=4, loop_cells=1, blacklist_steps=50)
    c = Critic(cfg)
    st = Preprocessor().state(_info(0, 0, 0))
    sub = Planner().plan(st)
    target = (10.0, 0.0, 5.5)
    assert c.judge(st, sub, target) == "ok"
    for t in (1, 2):
        v = c.judge(Preprocessor().state(_info(t, 0, 0, ok=False)), sub, target)
        assert v == "failed"
    assert c.is_aside(target, 3) and not c.is_aside(target, 60)
    c.reset()
    c.judge(st, sub, None)
    verdicts = [c.judge(Preprocessor().state(_info(t, 0, 0)), sub, target) for t in range(1, 6)]
    assert "loop" in verdicts


def test_critic_off_never_blacklists():
    c = Critic(MinecraftAgentConfig(critic=False))
    sub = Planner().plan(Preprocessor().state(_info(0, 0, 0)))
    for t in range(6):
        c.judge(Preprocessor().state(_info(t, 0, 0, ok=False)), sub, (5.0, 0.0, 5.5))
    assert not c.aside


def test_config_from_the_runs_agent_section():
    cfg = MinecraftAgentConfig.from_agent_cfg({"name": "robomemory", "critic": {"enabled": False, "stall_steps": 9},
                                               "planner": {"goals": ["x"]}, "minecraft": {"stride": 6.0}})
    assert cfg.critic is False and cfg.stall_steps == 9 and cfg.stride == 6.0
    with pytest.raises(ValueError, match="unknown key"):
        MinecraftAgentConfig.from_agent_cfg({"minecraft": {"strid": 3}})
    with pytest.raises(ValueError, match="unknown Minecraft agent"):
        make_agent({"name": "oracle"})
    assert isinstance(make_agent({"name": "reactive"}), MinecraftAgent)


def test_spiral_sweep_passes_lie_spacing_apart_and_it_starts_over_after_misses():
    sw = SpiralSweep(spacing=10.0, step=4.0, misses=3)
    sw.reset((2.0, -1.0))
    pts = [sw.point(i) for i in range(80)]
    assert pts[0] == (2.0, -1.0)
    assert all(math.dist(a, b) <= 4.0 + 1e-9 for a, b in zip(pts, pts[1:]))
    corners = [p for a, p, b in zip(pts, pts[1:], pts[2:]) if (p[0] - a[0]) * (b[1] - p[1]) != (p[1] - a[1]) * (b[0] - p[0])]
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


def test_sweep_agent_walks_the_spiral_keeps_no_memory_and_collects_what_it_sees():
    mem = Memory(MemoryConfig())
    agent = make_sweep({}, None, seed=0)
    agent.reset(mem, seed=0)
    assert agent.uses_memory is False and agent.memory is None
    a = agent.act(None, _info(0, 0.0, 0.0))  # nothing in view: the first leg goes east (+x = Minecraft +x)
    assert a["op"] == "move_to" and a["x"] > 0.5 + 3.0 and abs(a["z"] - 0.5) < 1e-9
    a = agent.act(None, _info(1, 5.0, 0.0, sightings=[("sand", (7.0, 1.0, 5.5))]))
    assert a == {"op": "dig", "x": 7, "y": 5, "z": 1}  # what it sees on the way, it collects
    a = agent.act(None, _info(2, 5.0, 0.0))  # the sand is out of view again: it is forgotten, the sweep goes on
    assert a["op"] == "move_to" and agent.executor.target is None
    assert mem.stats()["percepts"] == 0
    a = agent.act(None, _info(3, 10.0, 0.0, free_radius=0))  # the next waypoint (10, 5) is in view but not free
    assert agent.executor.sweep.misses >= 1
    with pytest.raises(ValueError, match="explore"):
        MinecraftAgentConfig.from_agent_cfg({"minecraft": {"explore": "zigzag"}})


@pytest.mark.parametrize("name,spatial", [("robomemory", True), ("robomemory", False), ("sweep", False)])
def test_short_episode_on_a_real_server(name, spatial):
    from embodied_mem.envs.minecraft.sidecar import node_available

    ok, why = node_available()
    if not ok:
        pytest.skip(f"Minecraft sidecar unavailable: {why}")
    from embodied_mem import envs

    env = envs.make("minecraft", world={"size": 16, "deposits_per_kind": 1, "deposit_size": 2, "obstacles": 1,
                                        "min_spawn_distance": 4.0},
                    task={"order": ["sand", "pumpkin"], "count": 1}, max_steps=60)
    try:
        mem = Memory(MemoryConfig.from_dict({"spatial": {"enabled": spatial}}))
        agent = make_agent({"name": name}, env, seed=2)
        agent.reset(mem, seed=2)
        obs, info = env.reset(seed=2)
        for _ in range(60):
            obs, r, term, trunc, info = env.step(agent.act(obs, info))
            if term or trunc:
                break
        assert info["task"]["done"] and info["task"]["order_kept"], info["task"]
        if name == "sweep":
            assert mem.stats()["percepts"] == 0
        else:
            assert mem.stats()["percepts"] >= info["steps"]
        if spatial:
            assert mem.spatial.history("sand") and mem.spatial.trajectory()
        else:
            assert mem.spatial.locate("sand") == []
    finally:
        env.close()
