"""The habitat-sim adapter: its contract on the documented fake, the install hint without habitat_sim,
and (where habitat_sim is installed) the real simulator."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("open3d")  # the fake renders with the embedded world
pytest.importorskip("gymnasium")

from embodied_mem.envs.habitat.testing import fake_habitat_sim  # noqa: E402

from embodied_mem import envs  # noqa: E402
from embodied_mem.deps import DependencyNotInstalled, available  # noqa: E402
from embodied_mem.mapping3d.frames import habitat_to_memory, yaw_from_habitat_rotation  # noqa: E402

GOALS = ("plant", "box", "basket", "toy_car", "teddy_bear", "lamp", "backpack", "clock")


@pytest.fixture(scope="module")
def env():
    from embodied_mem.envs.habitat.env import HabitatEnv

    e = HabitatEnv("indoor3d:2", habitat_sim_module=fake_habitat_sim(), width=48, height=40, goal_categories=GOALS)
    yield e
    e.close()


def test_fake_reproduces_habitat_sim_observations_and_state():
    hs = fake_habitat_sim()
    sim_cfg = hs.SimulatorConfiguration()
    sim_cfg.scene_id = "indoor3d:1"
    specs = []
    for uuid, kind in (("color_sensor", hs.SensorType.COLOR), ("depth_sensor", hs.SensorType.DEPTH),
                       ("semantic_sensor", hs.SensorType.SEMANTIC)):
        s = hs.CameraSensorSpec()
        s.uuid, s.sensor_type, s.resolution, s.position = uuid, kind, [30, 40], [0.0, 1.5, 0.0]
        specs.append(s)
    agent_cfg = hs.agent.AgentConfiguration()
    agent_cfg.sensor_specifications = specs
    agent_cfg.action_space = {"move_forward": hs.agent.ActionSpec("move_forward", hs.agent.ActuationSpec(amount=0.25)),
                              "turn_left": hs.agent.ActionSpec("turn_left", hs.agent.ActuationSpec(amount=10.0))}
    sim = hs.Simulator(hs.Configuration(sim_cfg, [agent_cfg]))
    agent = sim.initialize_agent(0)
    state = hs.AgentState()
    state.position = sim.pathfinder.get_random_navigable_point()
    agent.set_state(state)
    obs = sim.get_sensor_observations()
    assert obs["color_sensor"].shape == (30, 40, 4) and obs["color_sensor"].dtype == np.uint8
    assert obs["depth_sensor"].shape == (30, 40) and obs["depth_sensor"].dtype == np.float32
    assert obs["semantic_sensor"].dtype == np.uint32
    ids = {o.semantic_id for o in sim.semantic_scene.objects}
    assert set(np.unique(obs["semantic_sensor"]).tolist()) - {0} <= ids
    # identity rotation faces -z: move_forward decreases z by the actuation amount (or collides)
    p0 = agent.get_state().position.copy()
    sim.step("move_forward")
    p1 = agent.get_state().position
    if not sim.previous_step_collided:
        assert np.allclose(p1 - p0, [0.0, 0.0, -0.25], atol=1e-5)
    r0 = agent.get_state().rotation
    sim.step("turn_left")  # +10 degrees about +y
    r1 = agent.get_state().rotation
    d = yaw_from_habitat_rotation(r1) - yaw_from_habitat_rotation(r0)
    assert math.isclose(math.cos(d - math.radians(10)), 1.0, abs_tol=1e-9)
    with pytest.raises(ValueError, match="action"):
        sim.step("fly")
    bad = hs.SimulatorConfiguration()
    bad.scene_id = "/data/scene.glb"
    with pytest.raises(ValueError, match="scene_id"):
        hs.Simulator(hs.Configuration(bad, [agent_cfg]))


def test_adapter_passes_check_env(env):
    from gymnasium.utils.env_checker import check_env

    check_env(env, skip_render_check=True)


def test_adapter_turns_habitat_state_into_memory_frame_percepts(env):
    obs, info = env.reset(seed=5)
    st = info["agent_state"]
    pose = info["percept"].pose
    m = habitat_to_memory(np.asarray(st["position"], float))
    assert math.isclose(pose.x, m[0], abs_tol=1e-5) and math.isclose(pose.y, m[1], abs_tol=1e-5)
    assert math.isclose(pose.yaw, yaw_from_habitat_rotation(st["rotation"]), abs_tol=1e-9)
    assert obs["rgb"].shape == (40, 48, 3) and obs["depth"].shape == (40, 48, 1)
    assert env.goal_names[obs["objectgoal"]] == info["goal"] in env.available_goals
    labels = info["labels"]
    assert {s.label for s in info["percept"].sightings} <= set(labels.values())
    # move_forward moves along the memory-frame yaw
    for _ in range(4):
        p0 = info["percept"].pose
        obs, _, _, _, info = env.step(1)
        p1 = info["percept"].pose
        if not info["collided"]:
            assert math.isclose(math.hypot(p1.x - p0.x, p1.y - p0.y), env.forward_step, abs_tol=1e-4)
            assert math.isclose(math.atan2(p1.y - p0.y, p1.x - p0.x), p0.yaw, abs_tol=1e-3)
        else:
            assert (p1.x, p1.y) == (p0.x, p0.y)
    obs, r, term, trunc, info = env.step(0)
    assert term and {"success", "spl", "path_length", "shortest_path"} <= set(info)
    with pytest.raises(ValueError, match="action"):
        env.reset(seed=1)
        env.step(-1)


def test_object_search_agent_runs_on_the_adapter(env):
    from embodied_mem import Memory
    from embodied_mem.agent.factory import make_robomemory
    from embodied_mem.agent.worlds import describe

    desc = describe(env)  # the same declaration as the embedded world's
    assert desc.world == "objectnav" and desc.actions == ("stop", "move_forward", "turn_left", "turn_right")
    agent = make_robomemory({"objectnav": {"fuse": False}}, env, seed=0)
    mem = Memory()
    agent.reset(mem, seed=0)
    obs, info = env.reset(seed=0)
    for _ in range(40):
        action = agent.act(obs, info)
        assert env.action_space.contains(action)
        obs, _, term, trunc, info = env.step(action)
        if term or trunc:
            break
    assert mem.spatial.trajectory() and mem.spatial.labels()


def test_make_without_habitat_sim_names_the_install_route():
    if available("habitat_sim"):
        pytest.skip("habitat_sim is installed here")
    with pytest.raises(DependencyNotInstalled, match="conda install habitat-sim"):
        envs.make("habitat", scene="x.glb")


def test_bad_arguments_are_refused():
    from embodied_mem.envs.habitat.env import HabitatEnv

    with pytest.raises(ValueError, match="scene"):
        HabitatEnv("", habitat_sim_module=fake_habitat_sim())
    with pytest.raises(ValueError, match="goal_categories"):
        HabitatEnv("indoor3d:0", habitat_sim_module=fake_habitat_sim(), goal_categories=())


def test_real_habitat_sim_if_installed():
    """Runs only where habitat_sim is installed (conda), on its bundled test scene if present."""
    pytest.importorskip("habitat_sim")
    import os

    scene = os.environ.get("EMBODIED_MEM_HABITAT_SCENE")
    if not scene:
        pytest.skip("set EMBODIED_MEM_HABITAT_SCENE to a scene with semantic annotations")
    e = envs.make("habitat", scene=scene, width=64, height=64)
    obs, info = e.reset(seed=0)
    assert obs["depth"].shape == (64, 64, 1) and info["percept"].pose is not None
    e.close()
