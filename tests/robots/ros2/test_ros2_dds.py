"""Live over real DDS on loopback, in separate processes: a simulated robot publishes ROS 2 topics,
the bridge (``embodied-mem robot run``) builds memory, this test queries it over DDS, and the
``cyclonedds`` command-line tool, an independent peer, sees the bridge's topics under ROS 2 type
names and decodes its answers. Runs in a private network namespace (see tests/conftest.py)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("cyclonedds")
pytest.importorskip("rosbags")

from embodied_mem.robots.ros2 import messages as M  # noqa: E402
from embodied_mem.robots.ros2.dds import DdsPeer, dds_topic  # noqa: E402
from embodied_mem.robots.ros2.testing import SimulatedRobot  # noqa: E402
from embodied_mem.robots.ros2.testing import ask_memory as ask  # noqa: E402

pytestmark = pytest.mark.netns

BIN = Path(sys.executable).parent
ROBOT = SimulatedRobot()
PLAY = 12.0  # seconds of robot time, played at 3x
ROBOT_CODE = (
    "from embodied_mem.robots.ros2.testing import SimulatedRobot, play_over_dds; import json; "
    f"print(json.dumps(play_over_dds(SimulatedRobot(), {PLAY}, speed=3.0, "
    "wait_for=('/odom', '/tf', '/detections', '/tf_static'))))"
)


def test_live_bridge_over_dds_with_independent_peers(tmp_path, dds_env):
    run_dir = tmp_path / "run"
    bridge = subprocess.Popen(
        [str(BIN / "embodied-mem"), "robot", "run", "robot=ros2", "transport=dds", "loopback=true", "duration=120",
         "robot.marker_period=1.0", f"hydra.run.dir={run_dir}"],
        env=dds_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    robot = None
    try:
        peer = DdsPeer()
        peer.subscribe("/memory/answer", "std_msgs/msg/String")
        peer.subscribe("/goal_pose", "geometry_msgs/msg/PoseStamped")
        peer.subscribe("/memory/markers", "visualization_msgs/msg/MarkerArray")
        assert ask(peer, {"id": 0, "op": "stats"}, timeout=40)["ok"]  # the bridge is up

        robot = subprocess.run([sys.executable, "-c", ROBOT_CODE], env=dds_env, capture_output=True, text=True,
                               timeout=60)
        assert robot.returncode == 0, robot.stderr
        counts = json.loads(robot.stdout.strip().splitlines()[-1])
        assert counts["/odom"] == int(PLAY * ROBOT.odom_rate) + 1
        time.sleep(0.5)

        a = ask(peer, {"id": 1, "op": "locate", "label": "cup"})
        assert a["ok"] and len(a["locations"]) == 1
        assert a["locations"][0]["position"] == pytest.approx(list(ROBOT.objects["cup"]), abs=1e-6)
        last = ask(peer, {"id": 2, "op": "last_seen", "label": "cup"})
        assert ROBOT.t0 < last["t"] <= ROBOT.t0 + PLAY
        ev = ask(peer, {"id": 3, "op": "between", "t0": ROBOT.t0, "t1": ROBOT.t0 + PLAY})
        assert any(e["label"] == "cup" for e in ev["events"])
        path = ask(peer, {"id": 4, "op": "path", "label": "cup"})
        assert path["waypoints"] and len(path["waypoints"]) > 5
        stats = ask(peer, {"id": 5, "op": "stats"})
        assert stats["bridge"]["received"]["odom"] == counts["/odom"]  # reliable: nothing lost
        assert stats["bridge"]["skipped"] == {}
        goto = ask(peer, {"id": 6, "op": "goto", "label": "cup"})
        assert goto["ok"]
        goals = peer.wait_for("/goal_pose", timeout=5)
        assert goals and goals[-1].header.frame_id == "map"
        assert abs(goals[-1].pose.position.x - goto["goal"]["x"]) < 1e-9
        markers = peer.wait_for("/memory/markers", timeout=5)
        assert markers and any(m.ns == "objects" for m in markers[-1].markers)

        # the cyclonedds CLI, an independent DDS peer, lists the bridge's topics with ROS 2 type names
        ls = subprocess.run([str(BIN / "cyclonedds"), "ls", "-r", "2s", "--suppress-progress-bar", "--color", "none"],
                            env=dds_env, capture_output=True, text=True, timeout=60)
        assert ls.returncode == 0, ls.stderr
        for topic, typ in [("/odom", "nav_msgs::msg::dds_::Odometry_"),
                           ("/scan", "sensor_msgs::msg::dds_::LaserScan_"),
                           ("/memory/answer", "std_msgs::msg::dds_::String_"),
                           ("/memory/markers", "visualization_msgs::msg::dds_::MarkerArray_"),
                           ("/goal_pose", "geometry_msgs::msg::dds_::PoseStamped_")]:
            assert dds_topic(topic) in ls.stdout and typ in ls.stdout
        # ... and decodes the bridge's answers from the type information alone (XTypes)
        sub = subprocess.Popen([str(BIN / "cyclonedds"), "subscribe", "rt/memory/answer", "-r", "2s", "--qos",
                                "scan-random", "--suppress-progress-bar", "--color", "none"],
                               env=dds_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(4.0)
        ask(peer, {"id": 77, "op": "last_seen", "label": "cup"})
        time.sleep(1.0)
        sub.send_signal(signal.SIGINT)
        out, _ = sub.communicate(timeout=20)
        assert '\\"id\\": 77' in out or '"id": 77' in out, out[-2000:]
        peer.close()
    finally:
        if bridge.poll() is None:
            bridge.send_signal(signal.SIGINT)
        out, _ = bridge.communicate(timeout=30)
    assert bridge.returncode == 0, out[-3000:]
    # the bridge shut down cleanly: memory.db is durable and holds what the robot showed it
    from embodied_mem.memory import Memory

    assert (run_dir / "metrics.json").exists() and (run_dir / "map.png").exists()
    with Memory.open(run_dir / "memory.db", readonly=True) as mem:
        (loc,) = mem.spatial.locate("cup")
        assert loc.position == pytest.approx(ROBOT.objects["cup"], abs=1e-6)
        end = mem.spatial.trajectory()[-1]
        x, y, _ = ROBOT.pose_at(ROBOT.speed * PLAY)
        assert end[0] == pytest.approx(ROBOT.t0 + PLAY) and (end[1].x, end[1].y) == pytest.approx((x, y), abs=1e-6)


def test_live_bridge_keeps_answering_through_hostile_messages(tmp_path, dds_env):
    """Over real DDS: a cone of 10,000 km, a query nested 100,000 deep, "limit": Infinity, 20,000
    new TF frame ids, a JSON detections message of 2 MB. Each is refused and counted, every query
    gets an answer, the bridge keeps answering and stops on SIGINT."""
    run_dir = tmp_path / "run"
    bridge = subprocess.Popen(
        [str(BIN / "embodied-mem"), "robot", "run", "robot=ros2", "transport=dds", "loopback=true", "duration=120",
         "robot.marker_period=0", "robot.frames.max_frames=5000", f"hydra.run.dir={run_dir}"],
        env=dds_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        peer = DdsPeer()
        peer.subscribe("/memory/answer", "std_msgs/msg/String")
        assert ask(peer, {"id": 0, "op": "stats"}, timeout=40)["ok"]
        t = 100.0
        tf = M.tf_message([("map", "odom", t, 0.0, 0.0, 0.0, 0.0), ("odom", "base_link", t, 1.0, 0.0, 0.0, 0.0),
                           ("base_link", "camera_link", t, 0.1, 0.0, 0.3, 0.0)])
        peer.publish("/tf", tf, "tf2_msgs/msg/TFMessage")
        huge_cone = {"stamp": t, "frame_id": "map", "sensor_frame": "camera_link", "range": 1e7,
                     "detections": [{"label": "cup", "position": [1.0, 1.0, 0.0]}]}
        peer.publish("/detections_json", M.string(json.dumps(huge_cone)), "std_msgs/msg/String")
        peer.publish("/detections_json", M.string(json.dumps({"stamp": t, "detections": [], "pad": "x" * (2 << 20)})),
                     "std_msgs/msg/String")
        for i in range(40):  # 20,000 new frame ids in 40 messages
            peer.publish("/tf", M.tf_message([("odom", f"junk_{i}_{j}", t + 0.01 * i, 0.0, 0.0, 0.0, 0.0)
                                              for j in range(500)]), "tf2_msgs/msg/TFMessage")
        nested = '{"id": 10, "op": "between", "t0": ' + "[" * 100_000 + "]" * 100_000 + "}"
        peer.publish("/memory/query", M.string(nested), "std_msgs/msg/String")
        deadline, answers = time.monotonic() + 20, []
        while time.monotonic() < deadline and not any("nested" in str(a.get("error")) for a in answers):
            answers += [json.loads(s.data) for s in peer.read("/memory/answer")]
            time.sleep(0.05)
        assert any(a["ok"] is False and "nested too deeply" in a["error"] for a in answers), answers
        inf = ask(peer, {"id": 11, "op": "between", "t0": 0, "t1": 1e9, "limit": float("inf")})
        assert inf["ok"] is False and "limit" in inf["error"]
        good = ask(peer, {"id": 12, "op": "stats"})
        assert good["ok"]
        skipped = good["bridge"]["skipped"]
        assert skipped.get("bad_json", 0) >= 1 and skipped.get("too_large", 0) >= 1, skipped
        assert skipped.get("bad_query", 0) >= 2 and skipped.get("tf", 0) >= 1, skipped  # nested, limit; frames
        assert good["bridge"]["received"]["tf"] >= 41
        peer.close()
    finally:
        if bridge.poll() is None:
            bridge.send_signal(signal.SIGINT)
        out, _ = bridge.communicate(timeout=30)
    assert bridge.returncode == 0, out[-3000:]
