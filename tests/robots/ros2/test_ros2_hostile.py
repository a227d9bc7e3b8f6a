"""Hostile input to the bridge's handlers (in process; test_ros2_dds.py does the same over real DDS):
every message is bounded in time and size, every failure is a counted skip (a query also gets an
error answer), and the bridge keeps answering."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

pytest.importorskip("rosbags")

from embodied_mem.robots.ros2 import messages as M  # noqa: E402
from embodied_mem.robots.ros2.bridge import DirectTransport, Ros2Bridge  # noqa: E402
from embodied_mem.robots.ros2.tf import TfBuffer  # noqa: E402

T0 = 100.0


@pytest.fixture
def bridge():
    b = Ros2Bridge({"marker_period": 0}, transport=DirectTransport())
    b.connect()
    b.handle("tf", "/tf", M.tf_message([("map", "odom", T0, 0.0, 0.0, 0.0, 0.0),
                                        ("odom", "base_link", T0, 1.0, 0.0, 0.0, 0.0),
                                        ("base_link", "camera_link", T0, 0.1, 0.0, 0.3, 0.0)]), None)
    yield b
    if b.is_connected:
        b.disconnect()


def query(b, text):
    n = len(b.transport.published)
    b.handle("query", "/memory/query", M.string(text), None)
    (key, msg), = b.transport.published[n:]
    assert key == "answer"
    return json.loads(msg.data)


def still_answers(b):
    a = query(b, json.dumps({"id": "ping", "op": "stats"}))
    assert a["ok"] and a["id"] == "ping"


@pytest.mark.parametrize("field, value", [("range", 1e7), ("range", -1.0), ("fov", 100.0), ("range", "far")])
def test_a_camera_cone_out_of_bounds_is_refused(bridge, field, value):
    d = {"stamp": T0, "frame_id": "map", "sensor_frame": "camera_link", field: value,
         "detections": [{"label": "cup", "position": [1.0, 1.0, 0.0]}]}
    n = bridge.memory.stats()["percepts"]
    assert bridge.handle("detections_json", "/detections_json", M.string(json.dumps(d)), None) == []
    assert bridge.skipped["bad_json"] == 1 and bridge.memory.stats()["percepts"] == n
    still_answers(bridge)


def test_oversized_messages_are_refused(bridge):
    big = json.dumps({"stamp": T0, "detections": [{"label": "cup", "position": [1.0, 1.0]}] * 1001})
    bridge.handle("detections_json", "/detections_json", M.string(big), None)
    bridge.handle("tf", "/tf", M.tf_message([("odom", f"f{i}", T0, 0.0, 0.0, 0.0, 0.0) for i in range(10_001)]), None)
    a = query(bridge, json.dumps({"op": "stats", "pad": "x" * (1 << 20)}))
    assert a["ok"] is False and "longer than" in a["error"]
    assert bridge.skipped["too_large"] == 3
    still_answers(bridge)


@pytest.mark.parametrize("text, error", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"op": "between", "t0": 0, "t1": 1, "limit": Infinity}', "'limit' must be a whole number"),
    ('{"op": "between", "t0": 0, "t1": 1, "limit": 1e400}', "'limit' must be a whole number"),
    ('{"op": "between", "t0": 0, "t1": 1, "limit": -1}', "'limit' must be a whole number"),
    ('{"op": "between", "t0": NaN, "t1": 1}', "'t0' must be a finite number"),
    ('{"op": "path", "start": [0, 0], "goal": [Infinity, 0]}', "'goal' must be"),
    ('{"id": {"x": [1]}, "op": "stats"}', None),  # an id that is no scalar is not echoed
])
def test_hostile_queries_get_an_error_answer_and_are_counted(bridge, text, error):
    a = query(bridge, text)
    if error is None:
        assert a["id"] is None
    else:
        assert a["ok"] is False and error in a["error"], a
        assert bridge.skipped["bad_query"] == 1
    still_answers(bridge)


def test_an_unforeseen_failure_in_a_handler_is_counted_not_raised(bridge):
    class Exploding:
        @property
        def header(self):
            raise RuntimeError("boom")

    assert bridge.handle("odom", "/odom", Exploding(), None) == []
    assert bridge.handle("query", "/memory/query", SimpleNamespace(data=None), None) == []
    assert bridge.skipped["error"] == 1 and bridge.skipped["malformed"] == 1
    still_answers(bridge)


def test_tf_frames_are_bounded_and_stale_ones_dropped():
    tf = TfBuffer(cache_time=5.0, max_frames=1000)
    for i in range(5000):  # a new frame id every 10 ms: each goes stale 5 s later and is dropped
        tf.set_transform("odom", f"f{i}", 100.0 + 0.01 * i, (0, 0, 0), (0, 0, 0, 1))
    assert len(tf.frames()) <= 1000
    assert tf.has_frame("f4999") and not tf.has_frame("f0")
    tf2 = TfBuffer(max_frames=100)
    for i in range(99):
        tf2.set_transform("odom", f"g{i}", 100.0, (0, 0, 0), (0, 0, 0, 1))
    with pytest.raises(ValueError, match="max_frames"):
        tf2.set_transform("odom", "one_too_many", 100.0, (0, 0, 0), (0, 0, 0, 1))
    tf2.set_transform("odom", "g5", 100.5, (1, 0, 0), (0, 0, 0, 1))  # known frames keep updating
    assert tf2.lookup("odom", "g5", 100.5).p[0] == pytest.approx(1.0)
