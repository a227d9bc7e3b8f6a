"""The test robot as a separate process over real DDS on loopback (private network namespace):
a peer drives it to a goal and sees it arrive through TF and odometry alone, sees an unreachable
goal make no progress, and the bridge (`embodied-mem robot run`, another process, sim time) builds
memory from it: the robot's poses and the objects it saw, where they really are."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("cyclonedds")
pytest.importorskip("rosbags")
pytest.importorskip("open3d")

from embodied_mem.robots.ros2 import messages as M  # noqa: E402
from embodied_mem.robots.ros2.dds import DdsPeer  # noqa: E402
from embodied_mem.robots.ros2.testbot import TestbotConfig, TestbotSim  # noqa: E402
from embodied_mem.robots.ros2.testing import ask_memory as ask  # noqa: E402

pytestmark = pytest.mark.netns

BIN = Path(sys.executable).parent
SEED = 3


@pytest.fixture(scope="module")
def twin():
    """The robot's world and start pose, made here from the same seeds (ground truth for checks)."""
    return TestbotSim(TestbotConfig(world_seed=SEED))


def free_point(sim, min_dist, k=0):
    cells = np.argwhere(sim.clearance >= 0.3)
    for i in np.random.default_rng(k).permutation(len(cells)):
        x, y = sim.world.nav_center(*cells[i])
        if math.dist((x, y), sim.pose[:2]) >= min_dist:
            return float(x), float(y)
    raise AssertionError("no free point")


def start_robot(env, *args):
    return subprocess.Popen([sys.executable, "-m", "embodied_mem.robots.ros2.testbot", "--world-seed", str(SEED),
                             "--loopback", "--quiet", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def stop(proc, timeout=30):
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def stamp(h):
    return h.stamp.sec + h.stamp.nanosec * 1e-9


class PoseWatcher:
    """The robot's map pose as any ROS 2 node would get it: /tf map -> odom composed with odom -> base_link."""

    def __init__(self, peer):
        self.peer = peer
        peer.subscribe("/tf", "tf2_msgs/msg/TFMessage", depth=1000)
        self.poses: list[tuple[float, float, float]] = []  # (t, x, y)

    def poll(self):
        for msg in self.peer.read("/tf"):
            tr = {(x.header.frame_id, x.child_frame_id): x for x in msg.transforms}
            mo, ob = tr.get(("map", "odom")), tr.get(("odom", "base_link"))
            if mo is None or ob is None:
                continue
            q = mo.transform.rotation
            yaw = 2 * math.atan2(q.z, q.w)
            a, b = mo.transform.translation, ob.transform.translation
            x = a.x + math.cos(yaw) * b.x - math.sin(yaw) * b.y
            y = a.y + math.sin(yaw) * b.x + math.cos(yaw) * b.y
            self.poses.append((stamp(ob.header), x, y))
        return self.poses[-1] if self.poses else None


def test_goal_reached_and_unreachable_goal_makes_no_progress_over_dds(dds_env, twin):
    peer = DdsPeer()
    watch = PoseWatcher(peer)
    peer.subscribe("/odom", "nav_msgs/msg/Odometry", depth=1000)
    peer.subscribe("/scan", "sensor_msgs/msg/LaserScan", reliability="best_effort")
    peer.subscribe("/testbot/goal_status", "std_msgs/msg/String", durability="transient_local")
    robot = start_robot(dds_env, "--rate", "20", "--wait-for", "/tf", "--wait-for", "/odom", "--wait-for", "/scan")
    try:
        deadline = time.monotonic() + 60
        while watch.poll() is None:
            assert time.monotonic() < deadline and robot.poll() is None, robot.stderr.read() if robot.poll() else ""
            time.sleep(0.02)
        t0, x0, y0 = watch.poll()
        assert (x0, y0) == pytest.approx(twin.pose[:2], abs=1e-6)  # same seed, same start
        scans = peer.wait_for("/scan", timeout=10)
        assert scans and scans[0].header.frame_id == "laser" and len(scans[0].ranges) == 360

        gx, gy = free_point(twin, 4.0)
        peer.publish("/goal_pose", M.pose_stamped(0.0, gx, gy, 0.5), "geometry_msgs/msg/PoseStamped")
        reached = None
        deadline = time.monotonic() + 60
        while reached is None and time.monotonic() < deadline:
            t, x, y = watch.poll()
            if math.dist((x, y), (gx, gy)) <= 0.16:
                reached = t
            time.sleep(0.02)
        assert reached is not None, f"not at ({gx:.2f}, {gy:.2f}): {watch.poses[-1]}"
        assert reached - t0 < 4 * math.dist((x0, y0), (gx, gy)) / 0.5 + 10  # simulated seconds, plausible speed
        time.sleep(1.0)
        status = [json.loads(s.data) for s in peer.read("/testbot/goal_status")]
        assert status[-1]["state"] == "succeeded" and status[-1]["id"] == 1, status

        # an unreachable goal (beyond the outer wall): the odometry stops changing, nothing else tells
        x_lo, y_lo, _, y_hi = twin.world.bounds
        peer.publish("/goal_pose", M.pose_stamped(0.0, x_lo - 3.0, (y_lo + y_hi) / 2), "geometry_msgs/msg/PoseStamped")
        time.sleep(0.5)
        peer.read("/odom")
        odoms = []
        deadline = time.monotonic() + 20
        while (not odoms or stamp(odoms[-1].header) - stamp(odoms[0].header) < 3.0) and time.monotonic() < deadline:
            odoms += peer.read("/odom")
            time.sleep(0.02)
        xy = np.array([(o.pose.pose.position.x, o.pose.pose.position.y) for o in odoms])
        assert len(xy) > 40 and np.ptp(xy, axis=0).max() < 1e-9  # 3 s of odometry without progress
        status = [json.loads(s.data) for s in peer.read("/testbot/goal_status")]
        assert status[-1]["state"] == "rejected" and status[-1]["id"] == 2, status
        # bad commands are logged and skipped; the robot keeps running
        peer.publish("/testbot/doors", M.string("{not json"), "std_msgs/msg/String")
        peer.publish("/testbot/doors", M.string(json.dumps({"closed": [0]})), "std_msgs/msg/String")
        peer.publish("/goal_pose", M.pose_stamped(0.0, float("nan"), 1.0), "geometry_msgs/msg/PoseStamped")
        time.sleep(1.0)
        assert robot.poll() is None
    finally:
        rc, out, err = stop(robot)
        peer.close()
    assert rc == 0, err[-3000:]
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["goal"]["state"] == "rejected" and "NaN" in summary["goal"]["reason"]
    assert summary["commands"] == {"goal_pose": 3, "doors": 1} and summary["ignored"] == {"doors": 1}
    assert math.dist(summary["pose"][:2], (gx, gy)) <= 0.16


def wait_status(peer, goal_id, timeout=60.0):
    """The robot's (non-standard) goal status once goal ``goal_id`` is no longer active."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for s in peer.read("/testbot/goal_status"):
            st = json.loads(s.data)
            if st["id"] == goal_id and st["state"] != "active":
                return st
        time.sleep(0.02)
    raise TimeoutError(f"goal {goal_id} still active after {timeout} s")


def test_bridge_builds_memory_from_the_test_robot_and_its_goal_drives_it(tmp_path, dds_env, twin):
    """The bridge remembers the robot's true path and the objects it saw where they are; its
    `goto` answer (a /goal_pose) drives the robot to the object: the bridge cannot tell it from a robot."""
    run_dir = tmp_path / "run"
    bridge = subprocess.Popen(
        [str(BIN / "embodied-mem"), "robot", "run", "robot=ros2", "transport=dds", "loopback=true", "duration=120",
         "robot.use_sim_time=true", "robot.marker_period=0", "robot.map_period=0", f"hydra.run.dir={run_dir}"],
        env=dds_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    robot = None
    try:
        peer = DdsPeer()
        peer.subscribe("/memory/answer", "std_msgs/msg/String")
        peer.subscribe("/detections", "vision_msgs/msg/Detection3DArray", depth=1000)
        peer.subscribe("/testbot/goal_status", "std_msgs/msg/String", durability="transient_local")
        assert ask(peer, {"id": 0, "op": "stats"}, timeout=60)["ok"]
        gx, gy = free_point(twin, 6.0, k=1)
        # the robot waits for the bridge's readers (and the bridge's /goal_pose writer), then runs at 10x
        peer.writer("/goal_pose", "geometry_msgs/msg/PoseStamped")
        robot = start_robot(dds_env, "--rate", "10", "--wait-for", "/odom", "--wait-for", "/detections",
                            "--wait-for", "/tf", "--wait-for", "/goal_pose")
        deadline = time.monotonic() + 60
        while peer.matched("/goal_pose") == 0:  # the robot's reader: the goal is not lost to discovery
            assert time.monotonic() < deadline and robot.poll() is None
            time.sleep(0.02)
        peer.publish("/goal_pose", M.pose_stamped(0.0, gx, gy), "geometry_msgs/msg/PoseStamped")
        assert wait_status(peer, 1)["state"] == "succeeded"
        seen = {d.results[0].hypothesis.class_id for m in peer.read("/detections") for d in m.detections}
        assert seen, "the robot saw nothing on its way"
        time.sleep(0.5)

        truth = {b.category: b.center for b in twin.world.objects("object")}
        for i, label in enumerate(sorted(seen)):
            a = ask(peer, {"id": 10 + i, "op": "locate", "label": label})
            assert a["ok"] and a["locations"], (label, a)
            assert math.dist(a["locations"][0]["position"][:2], truth[label][:2]) < 0.2, (label, a)
        # "go to where you last saw it": the bridge publishes the goal, the robot drives there
        label = max(seen, key=lambda lb: math.dist(truth[lb][:2], (gx, gy)))
        goto = ask(peer, {"id": 50, "op": "goto", "label": label})
        assert goto["ok"], goto
        st = wait_status(peer, 2)
        assert st["state"] == "succeeded" and st["goal"][:2] == pytest.approx([goto["goal"]["x"], goto["goal"]["y"]],
                                                                             abs=1e-3), st
    finally:
        rc, out, err = stop(robot) if robot is not None else (None, "", "")
        if bridge.poll() is None:
            bridge.send_signal(signal.SIGINT)
        bout, _ = bridge.communicate(timeout=30)
    assert rc == 0, err[-3000:]
    summary = json.loads(out.strip().splitlines()[-1])
    assert math.dist(summary["pose"][:2], truth[label][:2]) <= twin.config.goal_snap + twin.config.goal_tolerance
    assert summary["commands"] == {"goal_pose": 2}  # one from the test, one from the bridge
    assert bridge.returncode == 0, bout[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    stats = metrics["run"]
    assert stats["skipped"] == {}, stats["skipped"]  # every message well-formed
    for kind in ("odom", "tf", "tf_static", "detections", "scan", "clock"):
        assert stats["received"].get(kind, 0) > 0, (kind, stats["received"])
    assert stats["received"]["odom"] == summary["published"]["/odom"]  # reliable: nothing lost
    from embodied_mem.memory import Memory

    with Memory.open(run_dir / "memory.db", readonly=True) as mem:
        traj = mem.spatial.trajectory()
        assert (traj[0][1].x, traj[0][1].y) == pytest.approx(twin.pose[:2], abs=1e-6)
        t_end, end = traj[-1]
        assert t_end == pytest.approx(summary["t"], abs=0.06)
        assert (end.x, end.y) == pytest.approx(summary["pose"][:2], abs=0.03)  # the true pose, not odometry's
        assert summary["travelled_m"] > 3.0
