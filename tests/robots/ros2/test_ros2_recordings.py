"""Real robot recordings of every shape the bridge is known to meet, built at test time from the
real bags in ../shared/data/ros2_bags with rosbags (skipped when absent): a corrupted odometry
message, a TF glitch, no /tf at all (ROS 1 .bag and its rosbags-convert conversion), a static
map -> odom that arrives seconds in, a TF-only robot on base_footprint, zstd-compressed MCAP, and
files that are no recording at all."""

from __future__ import annotations

import logging
import math
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rosbags")

from embodied_mem.robots.ros2 import messages as M  # noqa: E402
from embodied_mem.robots.ros2.bag import RecordingError, check_recording, open_reader  # noqa: E402
from embodied_mem.robots.ros2.bridge import DirectTransport, Ros2Bridge  # noqa: E402
from embodied_mem.robots.ros2.convert import OccupancyMirror  # noqa: E402
from embodied_mem.robots.ros2.testing import convert_recording, copy_recording  # noqa: E402


def replay(path, **cfg):
    b = Ros2Bridge({"transport": "bag", **cfg}, bag=path)
    b.connect()
    result = b.transport.run()
    return b, result


def length(traj):
    return sum(math.dist((a.x, a.y), (b.x, b.y)) for (_, a), (_, b) in zip(traj, traj[1:]))


def odometry(path, topic="/odom"):
    """(stamp, x, y) of every odometry message, read with rosbags alone."""
    r = open_reader(path)
    r.open()
    try:
        out = []
        for c, _, raw in r.messages(connections=[c for c in r.connections if c.topic == topic]):
            m = r.deserialize(raw, c.msgtype)
            out.append((m.header.stamp.sec + m.header.stamp.nanosec * 1e-9, m.pose.pose.position.x,
                        m.pose.pose.position.y))
        return out
    finally:
        r.close()


@pytest.fixture(scope="module")
def real(request) -> Path:
    d = request.getfixturevalue("shared_data") / "ros2_bags"
    if not d.is_dir():
        pytest.skip(f"no ros2_bags in {d.parent}")
    return d


@pytest.fixture(scope="module")
def turtlebot(real) -> Path:
    return real / "turtlebot4_real_macfirst_floor" / "bag"


@pytest.fixture(scope="module")
def turtlebot_odom(turtlebot):
    odom = odometry(turtlebot)
    return odom, sum(math.dist(a[1:], c[1:]) for a, c in zip(odom, odom[1:]))


# ------------------------------------------------------------------ 1. glitches: jumps and far cells
def test_one_corrupted_odometry_message_is_refused_not_stored(turtlebot, turtlebot_odom, tmp_path):
    odom, odom_length = turtlebot_odom
    hit = {"n": 0}

    def corrupt(topic, t, msg):
        hit["n"] += 1
        if hit["n"] == 400:  # one message, mid-run: 1.7 km off
            msg.pose.pose.position.x += 1200.0
            msg.pose.pose.position.y += 1200.0
        return msg

    path = copy_recording(turtlebot, tmp_path / "corrupt", edit=lambda tp, t, m: corrupt(tp, t, m) if tp == "/odom"
                          else m)
    b, _ = replay(path)
    try:
        assert b.skipped["implausible_jump"] == 1
        traj = b.memory.spatial.trajectory()
        assert length(traj) == pytest.approx(odom_length, rel=0.01)  # not a 3.4 km path
        assert max(math.hypot(p.x, p.y) for _, p in traj) < 20.0
        assert (traj[-1][1].x, traj[-1][1].y) == pytest.approx(odom[-1][1:], abs=1e-9)
    finally:
        b.disconnect()


def test_a_real_relocalisation_is_accepted_after_a_few_agreeing_poses():
    with Ros2Bridge(transport=DirectTransport()) as b:
        b.converter.lock_world("odom")
        for i in range(10):
            b.handle("odom", "/odom", M.odometry(100.0 + 0.1 * i, 0.05 * i, 0.0), None)
        for i in range(10, 25):  # the localiser jumps 30 m and stays there: a real relocalisation
            b.handle("odom", "/odom", M.odometry(100.0 + 0.1 * i, 30.0 + 0.05 * i, 0.0), None)
        assert b.skipped["implausible_jump"] == 10  # relocalize_after = 1 s: the pose 1 s into the jump is taken
        assert b.memory.spatial.pose().x == pytest.approx(31.2)


def test_motion_limits_are_configurable_per_source():
    cfg = {"motion": {"per_source": {"/odom": {"max_speed": 1.0, "tolerance": 0.0}}}}
    with Ros2Bridge(cfg, transport=DirectTransport()) as b:
        b.converter.lock_world("odom")
        b.handle("odom", "/odom", M.odometry(100.0, 0.0, 0.0), None)
        b.handle("odom", "/odom", M.odometry(101.0, 2.0, 0.0), None)  # 2 m/s > 1 m/s on /odom
        assert b.skipped["implausible_jump"] == 1
    with pytest.raises(ValueError, match="max_speed"):
        Ros2Bridge({"motion": {"per_source": {"/odom": {"max_speed": -1}}}})
    with pytest.raises(ValueError, match="unknown key"):
        Ros2Bridge({"motion": {"per_source": {"/odom": {"speed": 1}}}})


def test_a_tf_glitch_costs_tiles_not_a_grid_over_the_bounding_box(turtlebot, tmp_path):
    """TF putting the robot 10 km away for 0.3 s: its poses and scans are refused as jumps, and no
    structure (mirror, occupancy views) grows with the glitch's distance."""
    n = {"tf": 0}

    def glitch(topic, t, msg):
        if topic == "/tf":
            n["tf"] += 1
            if 300 <= n["tf"] < 306:
                for tr in msg.transforms:
                    if tr.child_frame_id == "base_link":
                        tr.transform.translation.x += 10_000.0
        return msg

    path = copy_recording(turtlebot, tmp_path / "tf_glitch", edit=glitch, topics=["/tf", "/tf_static", "/scan"])
    b, _ = replay(path)
    try:
        assert b.skipped["implausible_jump"] >= 6  # TF poses and scans
        assert max(abs(p.x) for _, p in b.memory.spatial.trajectory()) < 100.0
        cells, _ = b.memory.spatial.occupancy_cells()
        assert np.abs(cells).max() * 0.05 < 100.0
        assert b.converter.mirror.nbytes < 32 << 20
    finally:
        b.disconnect()


def test_occupancy_mirror_memory_is_proportional_to_known_cells():
    m = OccupancyMirror()
    tracemalloc.start()
    try:
        for cx in (0, 200_000, -200_000):  # 10 km apart at 5 cm cells
            ix = np.arange(cx, cx + 300)
            m.commit(ix, np.full(300, cx // 2), 2)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20 and m.nbytes < 32 << 20
    # what was committed is still known after the window moved away and back
    m.fit(0, 299, 0, 0)
    assert (m.grid.ravel()[m.flat(np.arange(300), np.zeros(300, np.int64))] == 2).all()


def test_occupancy_views_stay_bounded_for_cells_far_apart(tmp_path):
    from embodied_mem.robots.ros2.config import robot_memory_config

    from embodied_mem.memory import Memory
    from embodied_mem.percept import Percept
    from embodied_mem.plots import plot_memory_map

    mem = Memory(robot_memory_config())
    mem.observe(Percept(t=1.0, blocked=np.array([[0.0, 0.0], [0.05, 0.0]]), free=np.array([[0.0, 0.05]])))
    mem.observe(Percept(t=2.0, blocked=np.array([[3000.0, -2000.0]])))
    sp = mem.spatial
    cells, states = sp.occupancy_cells()
    assert len(cells) == 4 and sorted(states.tolist()) == [1, 2, 2, 2]
    with pytest.raises(ValueError, match="max_cells"):
        sp.occupancy_grid()  # 60,000 x 40,000 cells: refused, not allocated
    g, (ix0, iy0) = sp.occupancy_grid(window=(-1, -1, 2, 2))
    assert g.shape == (4, 4) and g[0 - iy0, 0 - ix0] == 2 and g[1 - iy0, 0 - ix0] == 1
    tracemalloc.start()
    try:
        img, (x0, x1, y0, y1) = sp.occupancy_image(max_side=512)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert max(img.shape) <= 512 and (img == 2).sum() == 2 and peak < 16 << 20
    assert x0 <= 0.0 and x1 >= 3000.0 and y0 <= -2000.0 and y1 >= 0.0
    plot_memory_map(mem, tmp_path / "map.png")  # draws the bounded picture (the dense view would be refused)
    assert (tmp_path / "map.png").stat().st_size > 0


# ------------------------------------------------------------------ 2. no /tf and /tf_static
def test_odometry_only_recordings_ros1_and_converted(turtlebot, turtlebot_odom, tmp_path):
    odom, odom_length = turtlebot_odom
    ros1 = convert_recording(turtlebot, tmp_path / "odom.bag", topics=["/odom", "/scan"])  # a real ROS 1 bag
    back = convert_recording(ros1, tmp_path / "odom_ros2")  # as rosbags-convert makes of a ROS 1 bag
    for path in (ros1, back):
        b, result = replay(path)
        try:
            assert result["pose_source"] == "odom" and b.converter.world_frame() == "odom"
            traj = b.memory.spatial.trajectory()
            assert traj[0][0] == pytest.approx(odom[0][0]) and traj[-1][0] == pytest.approx(odom[-1][0])
            assert (traj[-1][1].x, traj[-1][1].y) == pytest.approx(odom[-1][1:], abs=1e-9)
            assert length(traj) == pytest.approx(odom_length, rel=0.005)
            # scans cannot be placed without TF: counted, not waited for
            assert dict(b.skipped) == {"unknown_frame": 357}
        finally:
            b.disconnect()


# ------------------------------------------------------------------ 3. the TF chain arrives late
def test_static_map_to_odom_arriving_late_keeps_the_trajectory_start(turtlebot, turtlebot_odom, tmp_path):
    odom, odom_length = turtlebot_odom
    t_late = odom[0][0] + 2.6
    path = copy_recording(turtlebot, tmp_path / "late_map", extra=[
        ("/tf_static", "tf2_msgs/msg/TFMessage", t_late, M.tf_message([("map", "odom", t_late, 2.0, 1.0, 0.0, 0.0)]))])
    b, _ = replay(path)
    try:
        assert b.converter.world_frame() == "map"
        traj = b.memory.spatial.trajectory()
        assert traj[0][0] == pytest.approx(odom[0][0])  # the first 2.6 s were placed, not dropped
        assert (traj[0][1].x, traj[0][1].y) == pytest.approx((odom[0][1] + 2.0, odom[0][2] + 1.0), abs=1e-9)
        assert length(traj) == pytest.approx(odom_length, rel=0.005)
        assert "unknown_frame" not in b.skipped
        assert b.memory.spatial.n_known_cells > 10_000
    finally:
        b.disconnect()


def test_waiting_for_a_chain_is_bounded():
    """A frame whose chain never comes: each message waits at most tf_chain_wait s of its topic's
    time (or max_waiting messages), then is counted under its own reason."""
    cfg = {"frames": {"tf_chain_wait": 1.0, "max_waiting": 5}}
    with Ros2Bridge(cfg, transport=DirectTransport()) as b:
        b.handle("tf", "/tf", M.tf_message([("map", "odom", 100.0, 0.0, 0.0, 0.0, 0.0),
                                            ("elsewhere", "base_link_parent", 100.0, 0.0, 0.0, 0.0, 0.0)]), None)
        for i in range(40):  # base_link_parent's tree never joins the world's
            b.handle("odom", "/odom", M.odometry(100.0 + 0.1 * i, 0.0, 0.0, frame="base_link_parent"), None)
            assert len(b._waiting.get("/odom", ())) <= 5
        assert sum(b.skipped.values()) >= 34
        b.finish()
        assert sum(b.skipped.values()) == 40 and b.observed == 0


# ------------------------------------------------------------------ 4. the robot's base frame
def test_tf_only_robot_with_base_footprint(real, tmp_path, caplog):
    """tf_example: odom -> base_footprint on /tf, base_footprint -> base_link on /tf_static."""
    b, result = replay(real / "tf_example")  # base_link below base_footprint: moves with it
    try:
        assert result["pose_source"] == "tf"
        traj = b.memory.spatial.trajectory()
        assert len(traj) > 50 and traj[-1][0] - traj[0][0] == pytest.approx(51.6, abs=0.2)
        full = length(traj)
        assert full > 1.0
    finally:
        b.disconnect()
    no_static = copy_recording(real / "tf_example", tmp_path / "footprint_only", topics=["/tf"])
    with caplog.at_level(logging.WARNING, logger="embodied_mem.robots.ros2"):
        b, _ = replay(no_static)  # no base_link at all: base_footprint, with a warning naming the frames
    try:
        assert "base_footprint" in caplog.text and "Frames seen: base_footprint, odom" in caplog.text
        traj = b.memory.spatial.trajectory()
        assert len(traj) > 50 and length(traj) == pytest.approx(full, rel=0.01)
    finally:
        b.disconnect()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="embodied_mem.robots.ros2"):
        b, _ = replay(real / "tf_example", frames={"base_frame": "chassis"})
    try:
        assert "no 'chassis' frame" in caplog.text and "base_footprint, base_link, odom" in caplog.text
    finally:
        b.disconnect()


def test_live_bridge_picks_base_footprint_when_base_link_is_absent(caplog):
    with caplog.at_level(logging.WARNING, logger="embodied_mem.robots.ros2"):
        with Ros2Bridge({"pose_source": "tf"}, transport=DirectTransport()) as b:
            b.converter.lock_world("odom")
            for i in range(20):
                t = 100.0 + 0.1 * i
                b.handle("tf", "/tf", M.tf_message([("odom", "base_footprint", t, 0.1 * i, 0.0, 0.0, 0.0)]), None)
            assert len(b.memory.spatial.trajectory()) >= 10
    assert "base_footprint" in caplog.text


# ------------------------------------------------------------------ storage shapes and bad files
def test_zstd_compressed_mcap(turtlebot, turtlebot_odom, tmp_path):
    odom, odom_length = turtlebot_odom
    path = copy_recording(turtlebot, tmp_path / "zstd", storage="mcap", compress=True)
    meta = (path / "metadata.yaml").read_text()
    assert "zstd" in meta
    b, _ = replay(path)
    try:
        traj = b.memory.spatial.trajectory()
        assert (traj[-1][1].x, traj[-1][1].y) == pytest.approx(odom[-1][1:], abs=1e-9)
        assert length(traj) == pytest.approx(odom_length, rel=0.005)
    finally:
        b.disconnect()


def test_files_that_are_no_recording_are_refused_in_one_line(turtlebot, tmp_path, capsys):
    from embodied_mem.robots.cli import main

    readme = Path(__file__).resolve().parents[3] / "README.md"
    mcap = copy_recording(turtlebot, tmp_path / "m", storage="mcap", topics=["/odom"])
    f = next(mcap.glob("*.mcap"))
    truncated = tmp_path / "truncated.mcap"
    truncated.write_bytes(f.read_bytes()[: f.stat().st_size // 3])
    garbage = tmp_path / "garbage.bag"
    garbage.write_bytes(b"#ROSBAG V2.0\n" + bytes(range(256)) * 4)
    for bad in (readme, truncated, garbage):
        with pytest.raises(RecordingError, match="not a readable ROS recording"):
            check_recording(bad)
        capsys.readouterr()
        assert main(["replay", str(bad), f"hydra.run.dir={tmp_path / 'run'}"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err and str(bad.name) in err, err


def test_a_recording_damaged_part_way_stops_with_one_line_and_keeps_what_came_before(turtlebot, tmp_path, capsys):
    from embodied_mem.robots.cli import main

    from embodied_mem.memory import Memory

    path = copy_recording(turtlebot, tmp_path / "zstd", storage="mcap", compress=True)
    f = next(path.glob("*.mcap"))
    data = bytearray(f.read_bytes())
    at = int(len(data) * 0.6)
    data[at:at + 64] = bytes(b ^ 0x5A for b in data[at:at + 64])  # one damaged zstd chunk, 60 % in
    f.write_bytes(bytes(data))
    run = tmp_path / "run"
    assert main(["replay", str(path), f"hydra.run.dir={run}", "plot=false"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("embodied-mem robot replay: ")
    assert "is damaged after" in err
    with Memory.open(run / "memory.db", readonly=True) as mem:
        assert len(mem.spatial.trajectory()) > 50  # what came before the damage is in memory
