"""MineflayerEnv on a real local flying-squid server: Gymnasium conformance, the Percept frame,
actions and their refusals, task reward and termination."""

from __future__ import annotations

import math

import numpy as np
import pytest
from embodied_mem.envs.minecraft.env import LOW_LEVEL, MineflayerEnv

from embodied_mem import envs
from embodied_mem.percept import Percept

SMALL = {"size": 16, "deposits_per_kind": 1, "deposit_size": 2, "obstacles": 0, "min_spawn_distance": 3.0}


@pytest.fixture(scope="module")
def env(node_ready):
    e = envs.make("minecraft", world=SMALL, task={"order": ["sand"], "count": 1}, max_steps=30)
    yield e
    e.close()
    assert e.server is None and e.sidecar is None


def test_registered_and_constructed_without_starting_anything():
    e = envs.make("minecraft")
    assert isinstance(e, MineflayerEnv) and e.server is None and e.sidecar is None
    e.close()


def test_constructor_refusals():
    with pytest.raises(ValueError, match="radius"):
        MineflayerEnv(radius=0)
    with pytest.raises(ValueError, match="host and port"):
        MineflayerEnv(host="127.0.0.1")
    with pytest.raises(ValueError, match="order"):
        MineflayerEnv(task={"order": ["unobtainium"]})
    with pytest.raises(TypeError, match="task"):
        MineflayerEnv(task=3)


def test_reset_observation_and_percept_frame(env):
    obs, info = env.reset(seed=7)
    assert env.observation_space.contains(obs)
    p = info["percept"]
    assert isinstance(p, Percept) and p.source == "minecraft" and p.t == 0.0
    # spawn at Minecraft (0, 5, 0) feet -> memory (-0.5, -0.5, 5)
    assert (p.pose.x, p.pose.y, p.pose.z) == (-0.5, -0.5, 5.0)
    assert obs["position"].tolist() == [0.0, 5.0, 0.0]
    dep = env.world_layout.deposits["sand"][0]
    seen = {s.position for s in p.sightings if s.label == "sand"}
    for bx, by, bz in dep:  # every deposit block within radius is sighted, at memory (bx, bz, by + 0.5)
        if math.hypot(bx + 0.5, bz + 0.5) <= env.radius - 1:
            assert (float(bx), float(bz), by + 0.5) in seen
    assert all(s.label not in env.terrain for s in p.sightings)
    assert p.view.radius == env.view_radius and p.free is not None and len(p.free) > 20
    assert info["task"]["current"] == "sand" and not info["task"]["done"]


def test_the_world_survives_the_bot_reconnecting(env):
    # reset() with the same seed reuses the server and reconnects the bot; flying-squid used to
    # unload a column when its last viewer left and regenerate it flat: the placed blocks vanished
    for _ in range(12):
        obs, info = env.reset(seed=7)
        seen = {s.position for s in info["percept"].sightings if s.label == "sand"}
        assert {(float(bx), float(bz), by + 0.5) for bx, by, bz in env.world_layout.deposits["sand"][0]} <= seen


def test_actions_reward_and_termination(env):
    obs, info = env.reset(seed=7)
    (bx, by, bz) = env.world_layout.deposits["sand"][0][0]
    obs, r, term, trunc, info = env.step({"op": "move_to", "x": bx + 0.5, "y": by, "z": bz + 0.5, "range": 2})
    assert info["action_ok"] and r == 0.0 and not term
    assert info["distance"] > 0.1 and info["percept"].action == "move_to"
    moved = info["result"]
    obs, r, term, trunc, info = env.step({"op": "dig", "x": bx, "y": by, "z": bz})
    assert info["result"]["dug"], (moved, info["result"], obs["position"].tolist())
    assert r == 1.0 and term and not trunc
    assert info["inventory"]["sand"] == 1 and info["task"]["done"] and info["task"]["order_kept"]
    assert "dug sand" in info["percept"].events and info["percept"].target == "sand"
    obs, r, term, trunc, info = env.step(LOW_LEVEL.index("turn_left"))
    assert env.observation_space.contains(obs)


def test_failed_primitive_is_reported_not_raised(env):
    env.reset(seed=7)
    _, _, _, _, info = env.step({"op": "dig", "x": 0, "y": 5, "z": 0})  # air: nothing to dig
    assert info["action_ok"] is False and info["result"]["dug"] is False


def test_malformed_actions_raise_naming_the_field(env):
    env.reset(seed=7)
    with pytest.raises(ValueError, match="op"):
        env.step({"op": "fly"})
    with pytest.raises(ValueError, match="needs field 'z'"):
        env.step({"op": "move_to", "x": 1.0})
    with pytest.raises(TypeError, match="'x' must be a number"):
        env.step({"op": "dig", "x": "a", "y": 5, "z": 0})
    with pytest.raises(ValueError, match="finite"):
        env.step({"op": "move_to", "x": float("nan"), "z": 0})
    with pytest.raises(ValueError, match="unknown field"):
        env.step({"op": "chat", "text": "hi", "volume": 3})
    with pytest.raises(ValueError, match="action must be in"):
        env.step(len(LOW_LEVEL))
    with pytest.raises(TypeError, match="action must be"):
        env.step(1.5)


def test_truncates_after_max_steps(env):
    env.reset(seed=7)
    env.max_steps = 2
    try:
        assert env.step(0)[3] is False
        _, _, term, trunc, _ = env.step(0)
        assert trunc and not term
    finally:
        env.max_steps = 30


def test_check_env(node_ready):
    from gymnasium.utils.env_checker import check_env

    e = MineflayerEnv(world=SMALL, task={"order": ["sand"], "count": 1}, max_steps=20)
    try:
        check_env(e, skip_render_check=True)
    finally:
        e.close()


def test_step_before_reset_is_refused():
    with pytest.raises(RuntimeError, match="reset"):
        MineflayerEnv().step(0)


def test_voxels_hold_visible_blocks(env):
    obs, info = env.reset(seed=7)
    idx = env.block_vocab.index("sand")
    assert (obs["voxels"] == idx).sum() == sum(1 for n, _ in info["blocks"]
                                               if n == "sand" and _in_box(env, info, _))
    assert np.isin(obs["occupancy"], (0, 1, 2)).all()


def _in_box(env, info, p):
    fx, fy, fz = (math.floor(v) for v in info["position"])
    return abs(p[0] - fx) <= env.radius and abs(p[2] - fz) <= env.radius and -env.below <= p[1] - fy <= env.above


def test_missing_node_says_how_to_install(monkeypatch):
    from embodied_mem.envs.minecraft.sidecar import NodeNotAvailable

    monkeypatch.setenv("PATH", "/nonexistent")
    e = MineflayerEnv()
    with pytest.raises(NodeNotAvailable, match="Node.js"):
        e.reset(seed=0)
    e.close()
