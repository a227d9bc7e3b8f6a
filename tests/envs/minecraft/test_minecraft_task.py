"""The resource task without a server: world generation, task progress, runner hooks."""

from __future__ import annotations

import math

import pytest
from embodied_mem.envs.minecraft.frames import (
    block_to_memory,
    feet_to_memory,
    memory_to_block,
    memory_to_feet,
    yaw_from_memory,
    yaw_to_memory,
)
from embodied_mem.envs.minecraft.task import TaskSpec, episode_metrics, resource_world, summarize


def test_world_is_a_pure_function_of_the_seed():
    a, b, c = resource_world(4), resource_world(4), resource_world(5)
    assert a.blocks == b.blocks and a.deposits == b.deposits
    assert a.blocks != c.blocks


def test_world_has_every_kind_walled_and_away_from_spawn():
    w = resource_world(1, size=32, kinds=("oak_log", "sand"), deposits_per_kind=2, deposit_size=3)
    assert set(w.deposits) == {"oak_log", "sand"}
    assert all(len(d) == 3 for ds in w.deposits.values() for d in ds)
    walls = {(x, z) for x, _, z, n in w.blocks if n == "stone"}
    for i in range(-16, 17):
        assert (i, -16) in walls and (16, i) in walls
    for ds in w.deposits.values():
        for d in ds:
            x, _, z = d[0]
            assert math.hypot(x, z) >= 10 - 1e-9
            assert all((bx, bz) not in walls for bx, _, bz in d)


def test_world_refuses_bad_arguments():
    with pytest.raises(ValueError, match="size"):
        resource_world(0, size=4)
    with pytest.raises(ValueError, match="unknown resource kind"):
        resource_world(0, kinds=("unobtainium",))


def test_task_progress_order_and_refusals():
    t = TaskSpec(order=("oak_log", "melon"), count=2)
    assert t.current({}) == "oak_log"
    assert t.current({"oak_log": 5}) == "melon"  # melon drops melon_slice
    assert t.progress({"oak_log": 5, "melon_slice": 1}) == {"oak_log": 2, "melon": 1}
    assert t.done({"oak_log": 2, "melon_slice": 2}) and t.current({"oak_log": 2, "melon_slice": 2}) is None
    with pytest.raises(ValueError, match="order"):
        TaskSpec(order="oak_log")
    with pytest.raises(ValueError, match="count"):
        TaskSpec(count=0)


def test_runner_hooks():
    info = {"task": {"done": True, "progress": {"oak_log": 2}, "order_kept": True}, "steps": 12, "distance": 40.5}
    m = episode_metrics(info)
    assert m == {"success": True, "steps": 12, "distance": 40.5, "collected": {"oak_log": 2}, "order_kept": True}
    s = summarize([m, {**m, "success": False, "steps": 30}])
    assert s["success_rate"] == 0.5 and s["mean_steps"] == 21 and s["mean_steps_success"] == 12


def test_frames_round_trip_and_yaw_convention():
    assert block_to_memory(3, 5, -7) == (3.0, -7.0, 5.5)
    assert memory_to_block(*block_to_memory(3, 5, -7)) == (3, 5, -7)
    x, y, z = feet_to_memory(3.5, 5.0, -6.5)  # standing in the middle of block (3, 5, -6)
    assert (x, y, z) == (3.0, -7.0, 5.0)
    assert memory_to_feet(x, y, z) == (3.5, 5.0, -6.5)
    # Mineflayer yaw 0 faces -z (north) = memory -y; yaw pi/2 faces -x (west) = memory yaw pi
    assert yaw_to_memory(0.0) == pytest.approx(-math.pi / 2)
    assert abs(yaw_to_memory(math.pi / 2)) == pytest.approx(math.pi)
    for theta in (-2.0, -0.3, 0.0, 1.0, 3.0):
        assert yaw_to_memory(yaw_from_memory(theta)) == pytest.approx(theta)
