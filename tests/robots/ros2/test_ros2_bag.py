"""rosbag2 replay: bags written here with rosbags (sqlite3 and mcap), and the real recordings in
../shared/data/ros2_bags (skipped when absent). The trajectory in memory must match the odometry."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

pytest.importorskip("rosbags")

from embodied_mem.robots.ros2 import messages as M  # noqa: E402
from embodied_mem.robots.ros2.bag import BagTransport, open_reader  # noqa: E402
from embodied_mem.robots.ros2.bridge import Ros2Bridge  # noqa: E402
from embodied_mem.robots.ros2.testing import write_bag  # noqa: E402


def replay(path, **cfg):
    b = Ros2Bridge({"transport": "bag", **cfg}, bag=path)
    b.connect()
    result = b.transport.run()
    return b, result


def length(traj):
    return sum(math.dist((a.x, a.y), (b.x, b.y)) for (_, a), (_, b) in zip(traj, traj[1:]))


def odometry_in_bag(path, topic="/odom"):
    """(stamp, x, y) of every odometry message, read directly with rosbags (independent of the bridge)."""
    r = open_reader(path)
    r.open()
    try:
        out = []
        for c, _, raw in r.messages(connections=[c for c in r.connections if c.topic == topic]):
            m = r.deserialize(raw, c.msgtype)
            p = m.pose.pose.position
            out.append((m.header.stamp.sec + m.header.stamp.nanosec * 1e-9, p.x, p.y))
        return out
    finally:
        r.close()


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_simulated_recording_trajectory_and_objects(sim_bags, sim_robot, storage):
    b, result = replay(sim_bags[storage])
    try:
        assert result["pose_source"] == "odom" and b.converter.world_frame() == "map"
        assert dict(b.skipped) == {}
        traj = b.memory.spatial.trajectory()
        # duration and end points: the first and last odometry, placed in the map frame through TF
        assert traj[0][0] == pytest.approx(sim_robot.t0) and traj[-1][0] == pytest.approx(sim_robot.t0 + 30.0)
        x, y, yaw = sim_robot.pose_at(sim_robot.speed * 30.0)
        assert (traj[-1][1].x, traj[-1][1].y) == pytest.approx((x, y), abs=1e-9)
        assert (traj[0][1].x, traj[0][1].y) == pytest.approx(sim_robot.pose_at(0.0)[:2], abs=1e-9)
        # length: keyframes cut no corner by more than a few cm on a 15 m loop
        assert length(traj) == pytest.approx(sim_robot.path_length(30.0), rel=0.01)
        for label, pos in sim_robot.objects.items():
            (loc,) = b.memory.spatial.locate(label)
            assert loc.position == pytest.approx(pos, abs=1e-9)
        assert result["messages"] == 1 + 601 * 2 + 151 + 61
        assert result["x_realtime"] > 1.0
    finally:
        b.disconnect()


def test_corrupt_and_malformed_messages_in_a_recording(tmp_path, sim_robot):
    msgs = list(sim_robot.messages(4.0))
    t = sim_robot.t0 + 2.01
    bad = [
        ("/odom", "nav_msgs/msg/Odometry", t, M.odometry(t, float("nan"), 0.0)),
        ("/odom", "nav_msgs/msg/Odometry", t + 0.001, M.odometry(sim_robot.t0 + 0.5, 1.0, 1.0)),  # old stamp
        ("/scan", "sensor_msgs/msg/LaserScan", t, M.laser_scan(t, "ghost_frame", [1.0] * 36)),
        ("/scan", "sensor_msgs/msg/LaserScan", t + 0.002, b"\x00\x01\x00\x00\x07"),  # truncated CDR
    ]
    path = write_bag(tmp_path / "bad", iter(sorted(msgs + bad, key=lambda m: m[2])))
    b, result = replay(path)
    try:
        assert dict(b.skipped) == {"nan_pose": 1, "out_of_order": 1, "unknown_frame": 1, "undecodable": 1}
        traj = b.memory.spatial.trajectory()
        good = [m for m in msgs if m[0] == "/odom"]
        assert traj[-1][0] == pytest.approx(good[-1][2])
        assert all(math.isfinite(p.x) for _, p in traj)
        assert [t for t, _ in traj] == sorted(t for t, _ in traj)
        assert b.memory.stats()["percepts"] == b.observed
    finally:
        b.disconnect()


def test_realtime_pacing(sim_bags):
    b = Ros2Bridge({"transport": "bag"}, transport=BagTransport(sim_bags["sqlite3"], realtime=4.0))
    with b:
        r = b.transport.run(duration=2.0)  # 2 s of recording at 4x: about 0.5 s of wall time
    assert 0.45 <= r["wall_s"] <= 1.5


def test_bad_paths_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="no rosbag2 recording"):
        open_reader(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="not a rosbag2 folder"):
        open_reader(tmp_path / "empty")
    with pytest.raises(ValueError, match="realtime"):
        BagTransport(tmp_path, realtime=-1)
    with pytest.raises(ValueError, match="needs bag=PATH"):
        Ros2Bridge({"transport": "bag"}).connect()


# --------------------------------------------------------------------------------- real recordings
@pytest.fixture(scope="module")
def bags(request) -> Path:
    d = request.getfixturevalue("shared_data") / "ros2_bags"
    if not d.is_dir():
        pytest.skip(f"no ros2_bags in {d.parent}")
    return d


def test_real_turtlebot4_recording(bags):
    """Real TurtleBot 4: 720-ray /scan, /odom 920, no map frame (odom is the world): 46.2 s, ~8.35 m."""
    path = bags / "turtlebot4_real_macfirst_floor" / "bag"
    odom = odometry_in_bag(path)
    assert len(odom) == 920
    b, result = replay(path)
    try:
        assert b.converter.world_frame() == "odom"
        assert result["bag_duration_s"] == pytest.approx(46.2, abs=0.05)
        assert b.received["scan"] == 357 and b.received["odom"] == 920
        traj = b.memory.spatial.trajectory()
        assert traj[0][0] == pytest.approx(odom[0][0]) and traj[-1][0] == pytest.approx(odom[-1][0])
        assert (traj[0][1].x, traj[0][1].y) == pytest.approx(odom[0][1:], abs=1e-9)
        assert (traj[-1][1].x, traj[-1][1].y) == pytest.approx(odom[-1][1:], abs=1e-9)
        odom_length = sum(math.dist(a[1:], c[1:]) for a, c in zip(odom, odom[1:]))
        assert odom_length == pytest.approx(8.35, abs=0.05)
        assert length(traj) == pytest.approx(odom_length, rel=0.005)
        # scans built an occupancy map: thousands of cells, the robot's own cells free
        sp = b.memory.spatial
        assert sp.n_known_cells > 10_000
        assert all(sp.occupancy((p.x, p.y)) == "free" for _, p in traj[::20])
        # only the first scans were skipped: they wait for odom -> base_link, whose first stamps lag
        # theirs by ~4.7 s, so they time out
        assert sum(b.skipped.values()) <= 5 and set(b.skipped) <= {"unknown_frame", "tf", "tf_timeout"}
    finally:
        b.disconnect()


def test_real_sim_nav2_mcap_without_metadata(bags):
    """Simulated TurtleBot 4 under Nav2, a bare MCAP file: odometry 97.4 s / ~34.3 m; map -> odom from AMCL."""
    path = bags / "turtlebot4_sim_nav2" / "nav2_turtlebot.mcap"
    odom = odometry_in_bag(path)
    odom_length = sum(math.dist(a[1:], c[1:]) for a, c in zip(odom, odom[1:]))
    assert odom_length == pytest.approx(34.3, abs=0.1)
    b, _ = replay(path, frames={"world_frame": "odom"})  # odometry frame: must equal the odometry exactly
    try:
        traj = b.memory.spatial.trajectory()
        assert traj[-1][0] - traj[0][0] == pytest.approx(odom[-1][0] - odom[0][0])
        assert (traj[-1][1].x, traj[-1][1].y) == pytest.approx(odom[-1][1:], abs=1e-9)
        assert length(traj) == pytest.approx(odom_length, rel=0.005)
    finally:
        b.disconnect()
    b, _ = replay(path)  # map frame through AMCL's map -> odom: the same path, corrected by localisation
    try:
        assert b.converter.world_frame() == "map"
        traj = b.memory.spatial.trajectory()
        assert length(traj) == pytest.approx(odom_length, rel=0.03)
        amcl = odometry_in_bag(path, "/amcl_pose")
        assert math.dist((traj[-1][1].x, traj[-1][1].y), amcl[-1][1:]) < 0.1  # ends where AMCL last put it
    finally:
        b.disconnect()


def test_real_tf_only_recording(bags):
    """tf_example: only /tf odom -> base_footprint (51.7 s): the trajectory comes from TF."""
    b, result = replay(bags / "tf_example", frames={"base_frame": "base_footprint"})
    try:
        assert result["pose_source"] == "tf" and b.converter.world_frame() == "odom"
        traj = b.memory.spatial.trajectory()
        assert traj[-1][0] - traj[0][0] == pytest.approx(51.6, abs=0.2)
        assert len(traj) > 50 and dict(b.skipped) == {}
    finally:
        b.disconnect()
