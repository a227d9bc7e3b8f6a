"""JSON memory queries, RViz markers and Nav2 goals produced by the bridge."""

from __future__ import annotations

import json
import math

import pytest

pytest.importorskip("rosbags")

from embodied_mem.robots import DeviceNotConnectedError  # noqa: E402
from embodied_mem.robots.ros2 import messages as M  # noqa: E402
from embodied_mem.robots.ros2.bridge import DirectTransport, Ros2Bridge  # noqa: E402
from embodied_mem.robots.ros2.testing import SimulatedRobot  # noqa: E402
from embodied_mem.robots.ros2.types import typestore  # noqa: E402

ROBOT = SimulatedRobot()
KIND = {"/odom": "odom", "/tf": "tf", "/tf_static": "tf_static", "/scan": "scan", "/detections": "detections"}


@pytest.fixture(scope="module")
def bridge():
    b = Ros2Bridge({"marker_period": 0}, transport=DirectTransport())
    b.connect()
    for topic, _typ, t, msg in ROBOT.messages(20.0):  # sees the cup (~t0+2..7 s), then drives to (4, 3)
        b.handle(KIND[topic], topic, msg, t)
    yield b
    b.disconnect()


def ask(b, **req):
    b.handle("query", "/memory/query", M.string(json.dumps(req)), None)
    key, msg = b.transport.published[-1]
    assert key == "answer"
    return json.loads(msg.data)


def test_locate_last_seen_first_seen(bridge):
    a = ask(bridge, id=7, op="locate", label="cup")
    assert a["id"] == 7 and a["ok"] and len(a["locations"]) == 1
    assert a["locations"][0]["position"] == pytest.approx(list(ROBOT.objects["cup"]))
    last = ask(bridge, op="last_seen", label="cup")
    first = ask(bridge, op="first_seen", label="cup")
    assert ROBOT.t0 < first["t"] < last["t"] <= ROBOT.t0 + 20.0
    assert ask(bridge, op="last_seen", label="unicorn") == {"id": None, "op": "last_seen", "ok": True, "t": None,
                                                            "position": None}


def test_between_returns_sightings_in_time_order(bridge):
    a = ask(bridge, op="between", t0=ROBOT.t0, t1=ROBOT.t0 + 20.0)
    ts = [e["t"] for e in a["events"]]
    assert ts == sorted(ts) and len(ts) > 3
    assert {e["label"] for e in a["events"]} <= {"cup", "chair"}
    assert all(ROBOT.t0 <= t <= ROBOT.t0 + 20.0 for t in ts)


def test_path_over_known_free_space(bridge):
    a = ask(bridge, op="path", label="cup")
    wps = a["waypoints"]
    pose = bridge.memory.spatial.pose()
    assert wps and math.dist(wps[0][:2], (pose.x, pose.y)) < 0.05
    assert math.dist(wps[-1][:2], ROBOT.objects["cup"][:2]) < 0.1  # ends next to the cup
    for x, y, _ in wps:
        assert bridge.memory.spatial.occupancy((x, y)) == "free"
    b = ask(bridge, op="path", start=[1.0, 1.0], goal=[3.0, 1.0])
    assert b["ok"] and b["waypoints"][-1][:2] == pytest.approx([3.0, 1.0])


def test_goto_publishes_a_nav2_goal_next_to_the_object(bridge):
    n = len(bridge.transport.published)
    a = ask(bridge, op="goto", label="cup")
    assert a["ok"] and a["topic"] == "/goal_pose"
    goals = [m for k, m in bridge.transport.published[n:] if k == "goal"]
    assert len(goals) == 1
    g = goals[0]
    assert g.header.frame_id == "map"
    cx, cy, _ = ROBOT.objects["cup"]
    gx, gy = g.pose.position.x, g.pose.position.y
    assert 0 < math.dist((gx, gy), (cx, cy)) < 0.1
    yaw = 2 * math.atan2(g.pose.orientation.z, g.pose.orientation.w)
    assert abs((yaw - math.atan2(cy - gy, cx - gx) + math.pi) % (2 * math.pi) - math.pi) < 1e-6  # faces it
    assert bridge.memory.spatial.occupancy((gx, gy)) == "free"
    typestore().serialize_cdr(g, "geometry_msgs/msg/PoseStamped")  # a valid ROS 2 message


def test_send_action_returns_what_was_sent(bridge):
    sent = bridge.send_action({"goto": "cup"})
    assert bridge.transport.published[-1] == ("goal", sent)
    with pytest.raises(LookupError, match="never saw 'unicorn'"):
        bridge.send_action("unicorn")
    with pytest.raises(TypeError, match="goto"):
        bridge.send_action({"go": 3})


@pytest.mark.parametrize("req, error", [
    ("{nope", "not JSON"),
    ("[1, 2]", "JSON object"),
    ('{"op": "teleport"}', "unknown op 'teleport'"),
    ('{"op": "locate"}', "'label' must be a non-empty string"),
    ('{"op": "between", "t0": 5, "t1": 1}', "before t0"),
    ('{"op": "between", "t0": "a", "t1": 1}', "'t0' must be a finite number"),
    ('{"op": "path", "goal": [1]}', "'goal' must be"),
    ('{"op": "goto", "label": "unicorn"}', "never saw 'unicorn'"),
])
def test_bad_requests_get_an_error_answer(bridge, req, error):
    before = bridge.skipped["bad_query"]
    bridge.handle("query", "/memory/query", M.string(req), None)
    a = json.loads(bridge.transport.published[-1][1].data)
    assert a["ok"] is False and error in a["error"]
    assert bridge.skipped["bad_query"] == before + 1


def test_places_and_stats(bridge):
    places = ask(bridge, op="places")["places"]
    assert len(places) == len(bridge.memory.spatial.places()) >= 2
    stats = ask(bridge, op="stats")
    assert stats["stats"]["percepts"] == bridge.observed


def test_markers(bridge):
    msg = bridge.publish_markers()
    assert bridge.transport.published[-1] == ("markers", msg)
    Marker = typestore().types["visualization_msgs/msg/Marker"]
    ms = msg.markers
    assert ms[0].action == Marker.DELETEALL
    by_ns = {}
    for m in ms[1:]:
        by_ns.setdefault(m.ns, []).append(m)
        assert m.header.frame_id == "map"
    assert len(by_ns["places"][0].points) == len(bridge.memory.spatial.places())
    assert by_ns["trajectory"][0].type == Marker.LINE_STRIP
    texts = {m.text for m in by_ns["labels"]}
    assert "cup" in texts
    cube = by_ns["objects"][[m.text for m in by_ns["labels"]].index("cup")]
    assert (cube.pose.position.x, cube.pose.position.y) == pytest.approx(ROBOT.objects["cup"][:2])
    raw = typestore().serialize_cdr(msg, "visualization_msgs/msg/MarkerArray")
    assert len(typestore().deserialize_cdr(raw, "visualization_msgs/msg/MarkerArray").markers) == len(ms)


def test_disconnected_bridge_refuses_clearly():
    b = Ros2Bridge(transport=DirectTransport())
    with pytest.raises(DeviceNotConnectedError, match="connect"):
        b.handle("odom", "/odom", M.odometry(1.0, 0, 0))
    with pytest.raises(DeviceNotConnectedError):
        b.answer('{"op": "stats"}')
    with pytest.raises(DeviceNotConnectedError):
        b.send_action("cup")


def test_non_string_query_is_skipped_and_unknown_kind_refused():
    with Ros2Bridge(transport=DirectTransport()) as b:
        assert b.handle("query", "/memory/query", M.odometry(1.0, 0, 0)) == []
        assert b.skipped["malformed"] == 1
        (key, msg), = b.transport.published  # an error answer, so the asker is not left waiting
        assert key == "answer" and json.loads(msg.data)["ok"] is False
        with pytest.raises(ValueError, match="unknown message kind 'teleport'"):
            b.handle("teleport", "/x", M.string("{}"))
