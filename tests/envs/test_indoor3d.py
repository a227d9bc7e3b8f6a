"""The embedded 3D indoor world: Gymnasium conformance, task rules, the object-search agent, runner hooks."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("open3d")
pytest.importorskip("gymnasium")

from embodied_mem.envs.indoor3d import hooks  # noqa: E402
from embodied_mem.envs.indoor3d.env import GOAL_CATEGORIES, Indoor3DEnv  # noqa: E402
from embodied_mem.envs.indoor3d.world import generate_apartment  # noqa: E402
from gymnasium.utils.env_checker import check_env  # noqa: E402

from embodied_mem import Memory, Percept, envs  # noqa: E402


@pytest.fixture(scope="module")
def env():
    e = envs.make("indoor3d", scene_seed=1, width=64, height=64, max_steps=400)
    yield e
    e.close()


def test_check_env_passes():
    e = Indoor3DEnv(scene_seed=2, width=48, height=32)
    check_env(e, skip_render_check=True)


def test_apartments_are_deterministic_and_sane():
    a, b = generate_apartment(5), generate_apartment(5)
    assert [x.category for x in a.boxes] == [x.category for x in b.boxes]
    assert np.array_equal(a.navigable, b.navigable)
    assert len(a.rooms) >= 6 and len(a.objects("object")) >= 8
    cats = [o.category for o in a.objects("object")]
    assert len(cats) == len(set(cats))  # "the X" is unambiguous
    # every room's floor is reachable (doors connect all rooms)
    for r in a.rooms:
        sub = a.cells_near((r.xmin + r.xmax) / 2, (r.ymin + r.ymax) / 2, 3.0)
        assert sub.any(), r.name
    with pytest.raises(ValueError, match="agent_radius"):
        generate_apartment(0, agent_radius=0.6)
    with pytest.raises(TypeError, match="seed"):
        generate_apartment("x")  # type: ignore[arg-type]


def test_observations_percept_and_frames(env):
    obs, info = env.reset(seed=3)
    assert obs["rgb"].shape == (64, 64, 3) and obs["rgb"].dtype == np.uint8
    assert obs["depth"].shape == (64, 64, 1) and obs["depth"].max() <= env.max_depth
    assert obs["semantic"].dtype == np.uint32
    assert GOAL_CATEGORIES[obs["objectgoal"]] == info["goal"]
    p = info["percept"]
    assert isinstance(p, Percept) and p.pose is not None and p.source == "indoor3d"
    assert math.isclose(p.pose.x, float(obs["gps"][0]), abs_tol=1e-5)
    # the Habitat agent state is the same pose in Habitat's frame (y up, -z forward)
    st = info["agent_state"]
    assert math.isclose(st["position"][0], p.pose.x, abs_tol=1e-5)
    assert math.isclose(st["position"][2], -p.pose.y, abs_tol=1e-5)
    from embodied_mem.mapping3d.frames import yaw_from_habitat_rotation

    assert math.isclose(math.cos(yaw_from_habitat_rotation(st["rotation"]) - p.pose.yaw), 1.0, abs_tol=1e-9)
    # sightings name only what is in the semantic image
    visible = {info["labels"][i] for i in np.unique(obs["semantic"]).tolist() if i}
    assert {s.label for s in p.sightings} <= visible


def test_actions_move_turn_collide_and_stop(env):
    obs, info = env.reset(seed=4)
    p0 = info["percept"].pose
    obs, _, _, _, info = env.step(2)  # turn left 30 degrees
    p1 = info["percept"].pose
    assert (p1.x, p1.y) == (p0.x, p0.y)
    assert math.isclose(math.cos(p1.yaw - p0.yaw - math.radians(30)), 1.0, abs_tol=1e-9)
    moved = collided = False
    prev = p1
    for _ in range(60):  # walk straight until something is in the way
        obs, _, term, trunc, info = env.step(1)
        p = info["percept"].pose
        if info["collided"]:
            collided = True
            assert (p.x, p.y) == (prev.x, prev.y)
            break
        moved = True
        prev = p
    assert moved or collided
    assert collided, "walking straight must hit a wall within 15 m"
    with pytest.raises(ValueError, match="action"):
        env.step(7)
    obs, r, term, trunc, info = env.step(0)
    assert term and not trunc
    assert set(hooks.episode_metrics(info)) == {"goal", "success", "spl", "path_length", "shortest_path"}
    assert 0.0 <= info["spl"] <= 1.0 and info["shortest_path"] >= env.min_start_distance - 1e-6
    with pytest.raises(RuntimeError, match="reset"):
        env.step(1)


def test_stop_at_the_goal_succeeds_with_spl_one_for_a_shortest_path():
    """An oracle that teleports is not allowed, so check the rule directly: stopping within the
    success distance of the goal counts, stopping elsewhere does not."""
    e = Indoor3DEnv(scene_seed=1, width=32, height=32)
    e.reset(seed=0)
    goal_box = next(b for b in e.apartment.objects("object") if b.category == e.goal)
    e.x, e.y = e.apartment.nav_center(*np.argwhere(e.apartment.cells_near(goal_box.center[0], goal_box.center[1],
                                                                         0.9))[0])
    *_, info = e.step(0)
    assert info["success"] and info["spl"] == pytest.approx(1.0)  # no path travelled, shortest >= it
    e.reset(seed=0)
    *_, info = e.step(0)
    assert not info["success"] and info["spl"] == 0.0


def test_tour_and_bad_options(env):
    _, info = env.reset(seed=1, options={"tour": True})
    assert info["goal"] not in env.goal_categories
    with pytest.raises(ValueError, match="goal"):
        env.reset(seed=1, options={"goal": "unicorn"})
    with pytest.raises(ValueError, match="width"):
        Indoor3DEnv(width=0)


def test_runner_hooks_summarize_and_plot(tmp_path):
    eps = [{"success": True, "spl": 0.5}, {"success": False, "spl": 0.0}]
    s = hooks.summarize(eps)
    assert s["success_rate"] == 0.5 and s["spl"] == 0.25 and s["n_episodes"] == 2
    assert hooks.summarize([])["n_episodes"] == 0
    mem = Memory()
    e = Indoor3DEnv(scene_seed=1, width=48, height=48)
    obs, info = e.reset(seed=0)
    for a in (2, 2, 1, 1):
        mem.observe(info["percept"])
        obs, *_, info = e.step(a)
    paths = hooks.plot(tmp_path, mem, eps, s)
    assert [p.name for p in paths] == ["map.png"]  # from memory's public API; nothing the agent wrote
    assert all(p.stat().st_size > 10_000 for p in paths)


def test_embodied_mem_run_env_indoor3d_writes_3d_plots(tmp_path):
    """`embodied-mem run env=indoor3d`: the closed loop with 3D memory and its top-down plots."""
    import json
    import os
    import subprocess
    import sys

    run_dir = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "embodied_mem.cli", "run", "env=indoor3d", "episodes=2", "steps=40",
                        "env.kwargs.width=64", "env.kwargs.height=64", "progress=false", f"hydra.run.dir={run_dir}"],
                       cwd=tmp_path, env={**os.environ, "MPLBACKEND": "Agg", "HYDRA_FULL_ERROR": "1"}, text=True,
                       capture_output=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "ok" and metrics["env"] == "indoor3d"
    assert len(metrics["episodes"]) == 2 and {"success", "spl", "goal"} <= set(metrics["episodes"][0])
    assert metrics["n_episodes"] == 2 and 0.0 <= metrics["spl"] <= 1.0
    assert set(metrics["plots"]) == {"map.png", "fused_topdown.png", "fused.ply"}  # fused_*: the agent's artefacts
    assert not list(run_dir.glob("*.npz"))  # no side file between agent and plot hook
    assert b"element vertex" in (run_dir / "fused.ply").read_bytes()[:200]  # the fused surface as a point cloud
    with Memory.open(run_dir / "memory.db") as mem:  # one memory for both episodes (same apartment)
        traj = mem.spatial.trajectory()
        assert len(traj) == sum(e["length"] for e in metrics["episodes"])
        assert mem.spatial.labels() and mem.spatial.places()
