"""Message -> Percept conversion through the bridge: poses via TF, scans to cells, clouds, detections,
and malformed messages that are logged, skipped and leave memory consistent."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

pytest.importorskip("rosbags")

from embodied_mem.robots.ros2 import messages as M  # noqa: E402
from embodied_mem.robots.ros2.bridge import DirectTransport, Ros2Bridge  # noqa: E402
from embodied_mem.robots.ros2.testing import SimulatedRobot  # noqa: E402

ROBOT = SimulatedRobot()


@pytest.fixture
def bridge():
    b = Ros2Bridge({"marker_period": 0}, transport=DirectTransport())
    b.connect()
    yield b
    if b.is_connected:
        b.disconnect()


def feed(b, msgs):
    for topic, _typ, t, msg in msgs:
        kind = {"/odom": "odom", "/tf": "tf", "/tf_static": "tf_static", "/scan": "scan",
                "/detections": "detections"}[topic]
        b.handle(kind, topic, msg, t)


def test_scan_marks_walls_blocked_and_room_free(bridge):
    feed(bridge, ROBOT.messages(2.0))
    sp = bridge.memory.spatial
    grid, (ix0, iy0) = sp.occupancy_grid()
    cs = sp.config.cell_size
    ys, xs = np.nonzero(grid == 2)
    bx, by = (xs + ix0) * cs, (ys + iy0) * cs
    assert len(bx) > 50
    # every blocked cell lies on a wall of the 6 x 4 m room (map frame), through map->odom->base->laser
    on_wall = np.minimum.reduce([np.abs(bx), np.abs(bx - 6.0), np.abs(by), np.abs(by - 4.0)])
    assert on_wall.max() <= cs / 2 + 1e-9
    ys, xs = np.nonzero(grid == 1)
    fx, fy = (xs + ix0) * cs, (ys + iy0) * cs
    assert ((fx > -cs / 2) & (fx < 6 + cs / 2) & (fy > -cs / 2) & (fy < 4 + cs / 2)).all()
    assert sp.occupancy((2.0, 1.5)) == "free"
    assert sp.occupancy((6.0, 1.0)) == "blocked"
    assert sp.occupancy((8.0, 1.0)) == "unknown"
    assert bridge.converter.world_frame() == "map"


def test_repeated_scan_sends_only_changes(bridge):
    msgs = list(ROBOT.messages(0.0))  # tf_static, tf, odom, scan, detections at t0
    feed(bridge, msgs)
    scan = next(m for topic, _, _, m in msgs if topic == "/scan")
    t1 = ROBOT.t0 + 0.01
    scan2 = M.laser_scan(t1, "laser", np.asarray(scan.ranges), angle_min=scan.angle_min,
                         angle_increment=scan.angle_increment)
    before = bridge.memory.spatial.n_known_cells
    out = bridge.handle("scan", "/scan", scan2, t1)
    assert len(out) == 1 and len(out[0].free) == 0 and len(out[0].blocked) == 0
    assert bridge.memory.spatial.n_known_cells == before


def test_odometry_is_placed_in_the_map_frame(bridge):
    feed(bridge, ROBOT.messages(4.0))
    pose = bridge.memory.spatial.pose()
    x, y, yaw = ROBOT.pose_at(ROBOT.speed * 4.0)
    assert (pose.x, pose.y) == pytest.approx((x, y), abs=1e-9)
    assert pose.yaw == pytest.approx(yaw, abs=1e-9)


def test_detections_become_sightings_and_cone_gives_negative_evidence(bridge):
    feed(bridge, ROBOT.messages(5.5))  # driving along y=1 towards +x, the cup at (5.5, 2) comes into view
    locs = bridge.memory.spatial.locate("cup")
    assert len(locs) == 1
    assert locs[0].position == pytest.approx(ROBOT.objects["cup"], abs=1e-9)
    assert bridge.memory.spatial.locate("chair") == []  # never in the camera cone so far
    # the camera looks at the cup's place again and sees nothing: the cup is gone
    t = ROBOT.t0 + 5.55
    empty = M.detection3d_array(t, "camera_link", [])
    bridge.handle("detections", "/detections", empty, t)
    assert bridge.memory.spatial.locate("cup") == []
    assert bridge.memory.spatial.locate("cup", at=t - 0.1)  # the bi-temporal record keeps the belief


def test_json_detections(bridge):
    feed(bridge, ROBOT.messages(1.0))
    t = ROBOT.t0 + 1.0
    d = {"stamp": t, "frame_id": "base_link", "detections": [
        {"label": "key", "position": [1.0, 0.0, 0.0], "id": "key-1", "score": 0.8},
        {"label": "noise", "position": [1.0, 0.0], "score": 0.1}]}
    (p,) = bridge.handle("detections_json", "/detections_json", M.string(json.dumps(d)), t)
    x, y, yaw = ROBOT.pose_at(ROBOT.speed * 1.0)
    (loc,) = bridge.memory.spatial.locate("key")
    assert loc.position[:2] == pytest.approx((x + math.cos(yaw), y + math.sin(yaw)), abs=1e-6)
    assert loc.instance == "key-1" and loc.confidence == pytest.approx(0.8)
    assert bridge.memory.spatial.locate("noise") == []  # below min_score


def test_point_cloud_obstacles(bridge):
    feed(bridge, ROBOT.messages(0.0))
    t = ROBOT.t0 + 0.05
    pts = np.array([[1.0, 0.0, 0.3], [1.0, 0.5, 0.3], [2.0, 0.0, -0.5], [np.nan, 0, 0]])  # in camera_link
    (p,) = bridge.handle("cloud", "/points", M.point_cloud(t, "camera_link", pts), t)
    assert len(p.blocked) == 2  # the point below the floor band and the NaN point are dropped
    x, y, yaw = ROBOT.pose_at(0.0)
    cam = (x + 0.1 * math.cos(yaw), y + 0.1 * math.sin(yaw))
    assert bridge.memory.spatial.occupancy((cam[0] + 1.0, cam[1])) == "blocked"


def test_malformed_messages_are_skipped_and_memory_stays_consistent(bridge, caplog):
    feed(bridge, ROBOT.messages(1.0))
    mem = bridge.memory
    n_before, traj_before = mem.stats()["percepts"], mem.spatial.trajectory()
    t = ROBOT.t0 + 1.5
    bad_nan = M.odometry(t, float("nan"), 0.0)
    bad_quat = M.odometry(t, 1.0, 1.0)
    bad_quat.pose.pose.orientation.w = 0.0
    old = M.odometry(ROBOT.t0 + 0.2, 1.0, 1.0)  # stamp older than the last odometry
    unknown = M.laser_scan(t, "no_such_frame", np.ones(10))
    bad_scan = M.laser_scan(t, "laser", np.ones(10))
    bad_scan.angle_increment = 0.001  # 10 ranges cannot span angle_min..angle_max
    truncated = M.point_cloud(t, "camera_link", np.ones((10, 3)), truncate=5)
    with caplog.at_level("WARNING", logger="embodied_mem.robots.ros2"):
        for kind, topic, msg in [("odom", "/odom", bad_nan), ("odom", "/odom", bad_quat), ("odom", "/odom", old),
                                 ("scan", "/scan", unknown), ("scan", "/scan", bad_scan),
                                 ("cloud", "/points", truncated),
                                 ("detections_json", "/detections_json", M.string("{not json")),
                                 ("detections_json", "/detections_json", M.string('{"detections": 3}'))]:
            assert bridge.handle(kind, topic, msg, t) == []
    assert dict(bridge.skipped) == {"nan_pose": 2, "out_of_order": 1, "unknown_frame": 1, "bad_scan": 1,
                                    "truncated_cloud": 1, "bad_json": 2}
    assert "truncated_cloud" in caplog.text and "/points" in caplog.text
    assert mem.stats()["percepts"] == n_before
    assert mem.spatial.trajectory() == traj_before
    # the bridge keeps running: the next good message goes in
    good = M.odometry(t, *ROBOT.odom_pose(3.0, 1.0, 0.0))
    bridge.handle("tf", "/tf", M.tf_message([("map", "odom", t, *ROBOT.map_to_odom[:2], 0.0, ROBOT.map_to_odom[2])]), t)
    assert len(bridge.handle("odom", "/odom", good, t)) == 1
    assert mem.spatial.pose().x == pytest.approx(3.0)


def test_odom_fallback_waits_then_locks(caplog):
    b = Ros2Bridge({"frames": {"odom_fallback_after": 1.0}}, transport=DirectTransport())
    with b:
        for i in range(30):  # 1.5 s of odometry with no map frame in TF
            t = 100.0 + 0.05 * i
            b.handle("odom", "/odom", M.odometry(t, 0.1 * i, 0.0), t)
        # the first second waited for the decision and was then placed: the trajectory keeps its start
        assert dict(b.skipped) == {}
        assert b.converter.world_frame() == "odom"
        traj = b.memory.spatial.trajectory()
        assert traj[0][0] == pytest.approx(100.0) and traj[-1][0] == pytest.approx(101.45)
        # a map frame appearing later does not move the world frame (the map stays consistent)
        b.handle("tf", "/tf", M.tf_message([("map", "odom", 102.0, 5.0, 0.0, 0.0, 0.0)]), 102.0)
        b.handle("odom", "/odom", M.odometry(102.0, 4.0, 0.0), 102.0)
        assert b.memory.spatial.pose().x == pytest.approx(4.0)


def test_messages_ahead_of_tf_wait_for_it_in_order(bridge):
    msgs = list(ROBOT.messages(1.0))
    feed(bridge, msgs)
    scan = next(m for topic, _, _, m in msgs if topic == "/scan")
    ranges = np.asarray(scan.ranges)
    t_tf = ROBOT.t0 + 1.0  # newest transform
    s1, s2 = (M.laser_scan(t, "laser", ranges, angle_min=scan.angle_min, angle_increment=scan.angle_increment)
              for t in (t_tf + 0.8, t_tf + 0.9))
    assert bridge.handle("scan", "/scan", s1, None) == []  # 0.8 s ahead of TF (> 0.5 s tolerance): waits
    assert bridge.handle("scan", "/scan", s2, None) == []  # queues behind it
    x, y, yaw = ROBOT.pose_at(ROBOT.speed * 1.9)
    ox, oy, oyaw = ROBOT.odom_pose(x, y, yaw)
    mx, my, myaw = ROBOT.map_to_odom
    t = t_tf + 0.9
    out = bridge.handle("tf", "/tf", M.tf_message([("map", "odom", t, mx, my, 0.0, myaw),
                                                  ("odom", "base_link", t, ox, oy, 0.0, oyaw)]), t)
    assert [p.t for p in out] == pytest.approx([t_tf + 0.8, t_tf + 0.9])  # both, in order
    assert dict(bridge.skipped) == {}
    # a scan whose transform never comes is dropped once TF has moved tf_wait (1 s) past it
    s3 = M.laser_scan(t + 0.7, "laser", ranges, angle_min=scan.angle_min, angle_increment=scan.angle_increment)
    assert bridge.handle("scan", "/scan", s3, None) == []
    for i in range(1, 4):  # TF continues, but only the map -> odom edge (odom -> base_link is stale)
        tt = t + 0.8 * i
        bridge.handle("tf", "/tf", M.tf_message([("map", "odom", tt, mx, my, 0.0, myaw)]), tt)
    assert bridge.skipped["tf_timeout"] == 1
    assert not bridge._waiting
