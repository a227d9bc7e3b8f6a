"""The MineRL adapter against the documented contract fake (``envs/minecraft/testing.py``):
observation and action dicts of MineRL 0.4.x and 1.0 -> Percepts and back."""

from __future__ import annotations

import math

import numpy as np
import pytest
from embodied_mem.envs.minecraft.env import LOW_LEVEL
from embodied_mem.envs.minecraft.minerl import (
    MineRLAdapter,
    MineRLPerceptor,
    action_from_primitive,
    detect_version,
    memory_yaw_to_notch,
    noop_action,
    notch_yaw_to_memory,
    parse_observation,
    primitive_from_action,
    steer_towards,
)
from embodied_mem.envs.minecraft.testing import FakeMineRLEnv

from embodied_mem.deps import DependencyNotInstalled, available

VERSIONS = ("0.4", "1.0")


@pytest.mark.parametrize("version", VERSIONS)
def test_fake_reproduces_minerl_spaces(version):
    env = FakeMineRLEnv(version)
    obs = env.reset()
    assert env.observation_space.contains(obs)
    assert env.action_space.contains(env.action_space.noop())
    assert set(noop_action(version)) == set(env.action_space)  # the adapter knows every key
    assert obs["pov"].shape == ((64, 64, 3) if version == "0.4" else (360, 640, 3))
    with pytest.raises(ValueError, match="action space"):
        env.step({"forward": 1})


@pytest.mark.parametrize("version", VERSIONS)
def test_every_low_level_action_is_a_valid_minerl_action(version):
    env = FakeMineRLEnv(version)
    env.reset()
    for name in LOW_LEVEL:
        a = action_from_primitive(name, version)
        assert env.action_space.contains(a), name
        env.step(a)


@pytest.mark.parametrize("version", VERSIONS)
def test_parse_and_detect(version):
    obs = FakeMineRLEnv(version).reset()
    assert detect_version(obs) == version
    f = parse_observation(obs)
    assert f["position"] == (0.5, 64.0, 0.5) and f["yaw"] == 0.0
    if version == "0.4":
        assert f["compass"] is not None and f["health"] is None
    else:
        assert f["health"] == 20.0 and f["compass"] is None


def test_percept_pose_follows_the_player_in_memory_frame():
    env = FakeMineRLEnv("1.0")
    per = MineRLPerceptor()
    obs = env.reset()
    p0 = per.percept(obs)
    assert p0.view is None and p0.source == "minerl" and p0.t == 0.0
    assert (p0.pose.x, p0.pose.y, p0.pose.z) == (0.0, 0.0, 64.0)  # feet (0.5, 64, 0.5) -> memory
    for turn in (0.0, 37.0, 90.0, -120.0):
        a = noop_action("1.0")
        a["camera"] = np.array([0.0, turn], np.float32)
        obs, *_ = env.step(a)
        before = per.percept(obs).pose
        fwd = noop_action("1.0")
        fwd["forward"] = 1
        for _ in range(8):
            obs, *_ = env.step(fwd)
        after = per.percept(obs, action=fwd).pose
        moved = math.atan2(after.y - before.y, after.x - before.x)
        # the memory yaw is the direction the player actually walks in, in memory's frame
        assert math.cos(moved - after.yaw) == pytest.approx(1.0, abs=1e-6)


def test_inventory_gains_become_events_and_actions_are_named():
    env = FakeMineRLEnv("0.4", attack_steps=2)
    per = MineRLPerceptor()
    per.percept(env.reset())
    hit = action_from_primitive("attack", "0.4")
    env.step(hit)
    obs, reward, done, _ = env.step(hit)
    p = per.percept(obs, action=hit)
    assert reward == 1.0 and "collected 1 log" in p.events and p.action == "attack"
    assert any(e.startswith("compass") for e in p.events)


def test_camera_signs_and_round_trip():
    # Mineflayer's dyaw > 0 turns left: MineRL's camera yaw < 0; dpitch > 0 looks up: camera pitch < 0
    a = action_from_primitive({"op": "control", "controls": {"forward": True}, "dyaw": math.radians(10),
                               "dpitch": math.radians(5), "attack": True})
    assert a["forward"] == 1 and a["attack"] == 1
    assert a["camera"].tolist() == pytest.approx([-5.0, -10.0])
    back = primitive_from_action(a)
    assert back["controls"] == {"forward": True} and back["attack"]
    assert back["dyaw"] == pytest.approx(math.radians(10)) and back["dpitch"] == pytest.approx(math.radians(5))
    assert primitive_from_action(noop_action("1.0"))["name"] == "noop"
    assert action_from_primitive({"op": "craft", "item": "planks"}, "0.4")["craft"] == "planks"


def test_yaw_conversions_agree():
    for deg in (-179.0, -90.0, 0.0, 45.0, 90.0, 180.0):
        assert math.cos(math.radians(memory_yaw_to_notch(notch_yaw_to_memory(deg)) - deg)) == pytest.approx(1.0)
    assert notch_yaw_to_memory(0.0) == pytest.approx(math.pi / 2)  # facing +z = memory +y


@pytest.mark.parametrize("version", VERSIONS)
def test_steer_towards_reaches_a_target(version):
    env = FakeMineRLEnv(version)
    obs = env.reset()
    target = (-6.0, 9.0)
    for _ in range(200):
        a = steer_towards(obs, target)
        if a is None:
            break
        obs, *_ = env.step(a)
    assert a is None
    f = parse_observation(obs)
    assert math.hypot(f["position"][0] - target[0], f["position"][2] - target[1]) <= 1.0


def test_bad_input_is_refused_naming_the_field():
    with pytest.raises(TypeError, match="dict"):
        parse_observation([1, 2])
    with pytest.raises(ValueError, match="pov"):
        parse_observation({"inventory": {}})
    with pytest.raises(ValueError, match="location_stats has no 'yaw'"):
        parse_observation({"pov": np.zeros((64, 64, 3), np.uint8), "location_stats": {"xpos": 0, "ypos": 0, "zpos": 0,
                                                                                     "pitch": 0}})
    with pytest.raises(ValueError, match="finite"):
        parse_observation({"pov": np.zeros((64, 64, 3), np.uint8),
                           "location_stats": {"xpos": float("nan"), "ypos": 0, "zpos": 0, "pitch": 0, "yaw": 0}})
    with pytest.raises(ValueError, match="unknown low-level"):
        action_from_primitive("fly")
    with pytest.raises(ValueError, match="steer_towards"):
        action_from_primitive({"op": "move_to", "x": 1, "z": 2})
    with pytest.raises(ValueError, match="location_stats"):
        steer_towards(FakeMineRLEnv("0.4", location_stats=False).reset(), (1.0, 1.0))
    with pytest.raises(ValueError, match="version"):
        noop_action("2.0")


@pytest.mark.parametrize("version", VERSIONS)
def test_adapter_over_the_fake(version):
    ad = MineRLAdapter(env=FakeMineRLEnv(version, max_steps=3))
    obs, info = ad.reset(seed=1)
    assert ad.version == version and info["percept"].pose is not None
    obs, r, term, trunc, info = ad.step("forward")
    assert info["percept"].action == "forward" and not term and not trunc
    ad.step({"op": "control", "controls": {"jump": True}})
    *_, term, trunc, info = ad.step(noop_action(version))
    assert term and not trunc  # MineRL's done -> terminated
    ad.close()
    assert ad.env.closed


def test_adapter_without_minerl_says_how_to_install():
    if available("minerl"):
        pytest.skip("minerl is installed here")
    with pytest.raises(DependencyNotInstalled, match="Java 8"):
        MineRLAdapter("MineRLNavigateDense-v0")
