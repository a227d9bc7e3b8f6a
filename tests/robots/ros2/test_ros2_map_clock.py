"""``/memory/map`` (nav_msgs/OccupancyGrid, transient local) and ``use_sim_time`` (``/clock``): in
process, over bag replay, over the rclpy contract fake and over real DDS (the last in a private
network namespace: ``bash scripts/test.sh .venv tests/robots/ros2/test_ros2_map_clock.py``)."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

pytest.importorskip("rosbags")

from embodied_mem.robots.ros2 import messages as M  # noqa: E402
from embodied_mem.robots.ros2.bridge import DirectTransport, Ros2Bridge  # noqa: E402
from embodied_mem.robots.ros2.config import Ros2BridgeConfig  # noqa: E402
from embodied_mem.robots.ros2.outputs import occupancy_grid  # noqa: E402
from embodied_mem.robots.ros2.rclpy_node import RclpyTransport  # noqa: E402
from embodied_mem.robots.ros2.testing import FakeRclpy, SimulatedRobot, write_bag  # noqa: E402
from embodied_mem.robots.ros2.types import typestore  # noqa: E402

ROBOT = SimulatedRobot()
KIND = {"/odom": "odom", "/tf": "tf", "/tf_static": "tf_static", "/scan": "scan", "/detections": "detections"}
STATE = {"unknown": -1, "free": 0, "blocked": 100}


def clock(t: float):
    return M.T("rosgraph_msgs/msg/Clock")(clock=M.stamp(t))


def check_grid(msg, memory, frame="map"):
    """The grid is well formed and each of its cells holds memory's state of the cell at its centre."""
    info = msg.info
    w, h, res = int(info.width), int(info.height), float(info.resolution)
    assert msg.header.frame_id == frame
    assert res == pytest.approx(memory.config.spatial.cell_size)
    assert w > 0 and h > 0 and len(msg.data) == w * h
    data = np.asarray(msg.data, np.int8).reshape(h, w)
    assert set(np.unique(data)) <= {-1, 0, 100}
    q = info.origin.orientation
    assert (q.x, q.y, q.z, q.w) == (0, 0, 0, 1)
    ox, oy = info.origin.position.x, info.origin.position.y
    sp = memory.spatial
    for r in range(h):  # row r lies at y = oy + (r + 0.5) res: rows run along +y
        for c in range(w):
            assert data[r, c] == STATE[sp.occupancy((ox + (c + 0.5) * res, oy + (r + 0.5) * res, 0.0))], (r, c)
    return data


@pytest.fixture(scope="module")
def robot_bridge():
    b = Ros2Bridge({"marker_period": 0, "map_period": 0}, transport=DirectTransport())
    b.connect()
    for topic, _typ, t, msg in ROBOT.messages(20.0):
        b.handle(KIND[topic], topic, msg, t)
    yield b
    b.disconnect()


def test_map_is_memory_occupancy_in_ros_convention(robot_bridge):
    b = robot_bridge
    msg = b.publish_map()
    key, sent = b.transport.published[-1]
    assert key == "map" and sent is msg
    data = check_grid(msg, b.memory)
    # the whole room fits the default 40 m window: every known cell is in the grid
    cells, states = b.memory.spatial.occupancy_cells()
    assert (data == 0).sum() == (states == 1).sum() > 1000
    assert (data == 100).sum() == (states == 2).sum() > 100
    # it is a valid ROS 2 message: CDR round trip as any subscriber decodes it
    store = typestore()
    back = store.deserialize_cdr(store.serialize_cdr(msg, "nav_msgs/msg/OccupancyGrid"), "nav_msgs/msg/OccupancyGrid")
    assert np.array_equal(np.asarray(back.data), np.asarray(msg.data)) and back.info.width == msg.info.width


def test_map_is_bounded_by_the_window_around_the_robot(robot_bridge):
    mem = robot_bridge.memory
    robot = mem.spatial.pose()
    msg = occupancy_grid(mem, "map", 1.0, window=2.0)
    cs = mem.config.spatial.cell_size
    assert msg.info.width <= 2.0 / cs + 1 and msg.info.height <= 2.0 / cs + 1
    ox, oy = msg.info.origin.position.x, msg.info.origin.position.y
    assert ox <= robot.x <= ox + msg.info.width * cs and oy <= robot.y <= oy + msg.info.height * cs
    check_grid(msg, mem)
    # a window centred far from every known cell still holds known cells (the nearest), never a huge grid
    far = occupancy_grid(mem, "map", 1.0, window=2.0, center=(5000.0, -3000.0))
    assert far.info.width <= 2.0 / cs + 1 and far.info.height <= 2.0 / cs + 1
    assert (np.asarray(far.data) >= 0).any()
    check_grid(far, mem)


def test_no_map_while_nothing_is_known():
    with Ros2Bridge({"marker_period": 0}, transport=DirectTransport()) as b:
        assert b.publish_map() is None
        b.tick()
        assert not any(k == "map" for k, _ in b.transport.published)


@pytest.mark.parametrize("bad", [{"map_period": -1}, {"map_window": 0}, {"map_window": float("nan")},
                                 {"use_sim_time": "yes"}])
def test_bad_map_or_clock_settings_are_refused(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        Ros2BridgeConfig.from_dict(bad)


def test_sim_time_comes_from_clock():
    cfg = {"use_sim_time": True, "marker_period": 0, "map_period": 2.0, "pose_source": "odom",
           "frames": {"odom_fallback_after": 0.0}}
    with Ros2Bridge(cfg, transport=DirectTransport()) as b:
        assert b.subscriptions()["clock"] == ("/clock", "rosgraph_msgs/msg/Clock")
        assert b.now() is None
        b.handle("odom", "/odom", M.odometry(0.0, 1.0, 1.0), time.time())  # zero stamp, no /clock yet
        assert b.skipped["no_clock"] == 1 and b.observed == 0
        b.handle("clock", "/clock", clock(500.25), time.time())
        assert b.now() == 500.25
        b.handle("odom", "/odom", M.odometry(0.0, 1.0, 1.0), time.time())  # zero stamp: /clock's time, not wall
        assert b.observed == 1 and b.memory.now == pytest.approx(500.25)
        b.handle("scan", "/scan", M.laser_scan(0.0, "base_link", [1.0] * 36), time.time())
        b.tick()
        maps = [m for k, m in b.transport.published if k == "map"]
        assert len(maps) == 1 and M.stamp(500.25) == maps[0].header.stamp
        time.sleep(0.05)
        b.tick()  # wall time passed, simulated time did not: no new map
        b.handle("clock", "/clock", clock(501.0), None)
        b.tick()
        assert len([k for k, _ in b.transport.published if k == "map"]) == 1
        b.handle("clock", "/clock", clock(502.3), None)
        b.tick()
        maps = [m for k, m in b.transport.published if k == "map"]
        assert len(maps) == 2 and maps[-1].header.stamp.sec == 502
        b.handle("clock", "/clock", clock(10.0), None)  # jumped back (simulation restarted): periods restart
        b.tick()
        assert len([k for k, _ in b.transport.published if k == "map"]) == 3
        b.handle("clock", "/clock", M.string("noon"), None)  # a bad /clock is skipped, the clock stays
        b.handle("clock", "/clock", M.T("rosgraph_msgs/msg/Clock")(clock=M.T("builtin_interfaces/msg/Time")(
            sec=-5, nanosec=0)), None)
        assert b.now() == 10.0 and b.skipped["malformed"] == 1 and b.skipped["bad_stamp"] == 1


def test_without_sim_time_clock_is_not_read_and_time_is_wall():
    with Ros2Bridge({"marker_period": 0}, transport=DirectTransport()) as b:
        assert "clock" not in b.subscriptions()
        assert b.now() == pytest.approx(time.time(), abs=1.0)


def _replay(tmp_path, use_sim_time, with_clock=False):
    msgs = list(ROBOT.messages(12.0))
    if with_clock:  # a simulator's /clock, 100 Hz of simulated time
        msgs += [("/clock", "rosgraph_msgs/msg/Clock", ROBOT.t0 + i * 0.01, clock(ROBOT.t0 + i * 0.01))
                 for i in range(1200)]
        msgs.sort(key=lambda m: m[2])
    bag = write_bag(tmp_path / ("bag_clock" if with_clock else "bag"), iter(msgs))
    cfg = {"transport": "bag", "use_sim_time": use_sim_time, "marker_period": 0, "map_period": 2.0}
    b = Ros2Bridge(cfg, bag=bag)
    with b:
        b.transport.run()
        maps = [m for k, m in b.transport.published if k == "map"]
        return b, maps


@pytest.mark.parametrize("with_clock", [False, True])
def test_bag_replay_with_sim_time_publishes_maps_on_recorded_time(tmp_path, with_clock):
    b, maps = _replay(tmp_path, True, with_clock)
    # 12 s of recording, a map every 2 s of recorded time, replayed as fast as possible
    assert 5 <= len(maps) <= 7
    stamps = [m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in maps]
    assert all(ROBOT.t0 <= s <= ROBOT.t0 + 12.01 for s in stamps)
    assert all(b2 - a >= 2.0 - 1e-6 for a, b2 in zip(stamps, stamps[1:]))
    assert b.skipped.get("no_clock", 0) == 0


def test_bag_replay_without_sim_time_publishes_no_maps_at_full_speed(tmp_path):
    _, maps = _replay(tmp_path, False)
    assert maps == []  # periods are wall time: a replay at full speed is over before one passed


def test_rclpy_node_latches_the_map_and_takes_use_sim_time_from_its_parameter():
    fake = FakeRclpy()
    cfg = Ros2BridgeConfig(transport="rclpy", marker_period=0, map_period=1.0, pose_source="odom")
    transport = RclpyTransport(cfg, rclpy_api=fake.api)
    fake.init()
    orig = fake.node

    def node_with_sim_time(name):  # as `--ros-args -p use_sim_time:=true` would
        n = orig(name)
        n.params["use_sim_time"].value = True
        return n

    fake.node = node_with_sim_time
    fake.api.rclpy.create_node = node_with_sim_time
    bridge = Ros2Bridge(cfg, transport=transport)
    store = typestore()
    qos = fake.api.qos
    with bridge:
        assert bridge.config.use_sim_time
        # the tick timer runs on a steady clock: a paused simulation must not stop memory flushes
        assert transport.node.timer_clocks == [fake.api.clock.ClockType.STEADY_TIME]
        pubs = {p.topic: p for p in transport.node.publishers}
        assert pubs["/memory/map"].qos.durability == qos.DurabilityPolicy.TRANSIENT_LOCAL
        subs = {s.topic: s for s in transport.node.subscriptions}
        assert subs["/clock"].qos.reliability == qos.ReliabilityPolicy.BEST_EFFORT
        robot = orig("robot")
        writers = {}
        for topic, typ, _t, msg in [("/clock", "rosgraph_msgs/msg/Clock", 0, clock(ROBOT.t0))] + list(ROBOT.messages(4.0)) \
                + [("/clock", "rosgraph_msgs/msg/Clock", 0, clock(ROBOT.t0 + 4.0))]:
            if topic not in writers:
                durability = (qos.DurabilityPolicy.TRANSIENT_LOCAL if topic == "/tf_static"
                              else qos.DurabilityPolicy.VOLATILE)
                writers[topic] = robot.create_publisher(fake.get_message(typ), topic,
                                                        qos.QoSProfile(depth=10, durability=durability))
            writers[topic].publish(bytes(store.serialize_cdr(msg, typ)))
        def last_map_stamp():
            sent = pubs["/memory/map"].sent
            st = store.deserialize_cdr(sent[-1], "nav_msgs/msg/OccupancyGrid").header.stamp if sent else None
            return st.sec + st.nanosec * 1e-9 if st else None

        deadline = time.monotonic() + 5.0  # the node's timer publishes once /clock reached t0 + 4
        while last_map_stamp() != ROBOT.t0 + 4.0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert last_map_stamp() == ROBOT.t0 + 4.0
        # a subscriber joining afterwards with transient local QoS gets the last map
        got = []
        late = orig("rviz")
        late.create_subscription(fake.get_message("nav_msgs/msg/OccupancyGrid"), "/memory/map", got.append,
                                 qos.QoSProfile(depth=1, durability=qos.DurabilityPolicy.TRANSIENT_LOCAL), raw=True)
        ex = fake.api.executors.SingleThreadedExecutor()
        ex.add_node(late)
        ex.spin_once(0.1)
        assert got
        grid = store.deserialize_cdr(got[-1], "nav_msgs/msg/OccupancyGrid")
        assert math.isclose(grid.header.stamp.sec + grid.header.stamp.nanosec * 1e-9, ROBOT.t0 + 4.0, abs_tol=1e-6)
        check_grid(grid, bridge.memory)  # the robot is quiet now: memory holds what the map was made from


QOS = {"/tf_static": {"durability": "transient_local"}, "/scan": {"reliability": "best_effort"},
       "/clock": {"reliability": "best_effort"}}  # rosbag2 / Gazebo publish /clock best effort


def stamp_s(msg) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


@pytest.mark.netns
def test_map_reaches_a_late_transient_local_subscriber_over_dds_on_sim_time(monkeypatch):
    """Real DDS on loopback (private network namespace): a robot peer drives the bridge on simulated
    time; a subscriber joining after the map went out, with transient local QoS as RViz's Map display
    uses, receives it and its cells match memory; a volatile one gets nothing old."""
    pytest.importorskip("cyclonedds")
    from embodied_mem.robots.ros2.dds import LOOPBACK_URI, DdsPeer

    monkeypatch.setenv("CYCLONEDDS_URI", LOOPBACK_URI)
    cfg = {"transport": "dds", "use_sim_time": True, "map_period": 1.0, "marker_period": 0}
    bridge = Ros2Bridge(cfg)
    sent: list[tuple[str, object]] = []
    with bridge:
        tr = bridge.transport
        publish = tr.publish
        tr.publish = lambda key, msg, typ: (sent.append((key, msg)), publish(key, msg, typ))
        robot = DdsPeer()
        msgs = list(ROBOT.messages(6.0))
        for topic, typ, _t, _m in msgs + [("/clock", "rosgraph_msgs/msg/Clock", 0, None)]:
            robot.writer(topic, typ, **QOS.get(topic, {}), depth=1000)
        deadline = time.monotonic() + 15.0
        while any(robot.matched(t) == 0 for t in ("/odom", "/tf", "/scan", "/clock")):
            assert time.monotonic() < deadline, "the bridge's readers never matched"
            time.sleep(0.05)
        t_last = ROBOT.t0
        for topic, typ, t, msg in msgs:  # the simulator's clock runs ahead of each message it sends
            if t > t_last:
                robot.publish("/clock", clock(t), "rosgraph_msgs/msg/Clock", **QOS["/clock"], depth=1000)
                t_last = t
            robot.publish(topic, msg, typ, **QOS.get(topic, {}), depth=1000)
            time.sleep(0.002)
        final = ROBOT.t0 + 8.0
        n_odom = sum(1 for m in msgs if m[0] == "/odom")
        deadline = time.monotonic() + 15.0
        while not any(k == "map" and stamp_s(m) == final for k, m in sent):
            assert time.monotonic() < deadline, f"no map stamped {final} (sim time) went out; sent {len(sent)}"
            if bridge.now() != final and bridge.received["odom"] == n_odom:
                robot.publish("/clock", clock(final), "rosgraph_msgs/msg/Clock", **QOS["/clock"], depth=1000)
            time.sleep(0.05)
        assert bridge.received["odom"] == n_odom
        assert bridge.skipped.get("no_clock", 0) == 0
        maps = [m for k, m in sent if k == "map"]
        assert all(ROBOT.t0 <= stamp_s(m) <= final for m in maps)  # stamped on /clock, not wall time
        # RViz joins now: transient local gets the last map at once; volatile gets nothing old
        rviz = DdsPeer()
        rviz.subscribe("/memory/map", "nav_msgs/msg/OccupancyGrid", durability="transient_local", depth=1)
        got = rviz.wait_for("/memory/map", timeout=10.0)
        assert got, "a late transient-local subscriber did not receive the map"
        grid = got[-1]
        assert stamp_s(grid) == final
        data = check_grid(grid, bridge.memory)  # the robot is quiet: memory holds what the map was made from
        assert (data == 0).sum() > 500 and (data == 100).sum() > 50
        ours = next(m for k, m in reversed(sent) if k == "map")
        assert np.array_equal(data.reshape(-1), np.asarray(ours.data)) and (data == -1).any()  # signed int8 on the wire
        late_volatile = DdsPeer()
        late_volatile.subscribe("/memory/map", "nav_msgs/msg/OccupancyGrid", depth=1)
        assert late_volatile.wait_for("/memory/map", timeout=1.5) == []
        for p in (robot, rviz, late_volatile):
            p.close()
