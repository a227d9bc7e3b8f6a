"""Fuzzing the bridge's handlers and the bag reader (hypothesis, a small fixed budget): whatever
arrives, ``handle()`` returns, never raises; a query always gets exactly one JSON answer; memory
changes by at most one percept per message; a damaged recording raises ``RecordingError`` or
replays with counted skips."""

from __future__ import annotations

import json
import math

import pytest

pytest.importorskip("rosbags")
hypothesis = pytest.importorskip("hypothesis")

from embodied_mem.robots.ros2 import messages as M  # noqa: E402
from embodied_mem.robots.ros2.bag import BagTransport, RecordingError  # noqa: E402
from embodied_mem.robots.ros2.bridge import DirectTransport, Ros2Bridge  # noqa: E402
from embodied_mem.robots.ros2.testing import SimulatedRobot, write_bag  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])
T0 = 100.0
nasty_floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(
    [0.0, -0.0, 1e7, -1e7, 1e300, -1e300, 5e-324, 2.0 ** 63, float("nan"), float("inf")]))
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10 ** 30), max_value=10 ** 30),
                         nasty_floats, st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                                st.dictionaries(st.text(max_size=8), kids, max_size=4)),
                           max_leaves=20)


@pytest.fixture(scope="module")
def bridge():
    b = Ros2Bridge({"marker_period": 0}, transport=DirectTransport())
    b.connect()
    robot = SimulatedRobot()
    for topic, _typ, t, msg in robot.messages(1.0):
        kind = {"/odom": "odom", "/tf": "tf", "/tf_static": "tf_static", "/scan": "scan",
                "/detections": "detections"}[topic]
        b.handle(kind, topic, msg, t)
    yield b
    b.disconnect()


def answers_once(b, text):
    n = len(b.transport.published)
    assert b.handle("query", "/memory/query", M.string(text), None) == []
    (key, msg), = b.transport.published[n:]
    a = json.loads(msg.data)  # valid JSON (no NaN / Infinity)
    assert key == "answer" and isinstance(a["ok"], bool)
    return a


@FUZZ
@given(req=st.dictionaries(st.sampled_from(["id", "op", "label", "t0", "t1", "limit", "at", "goal", "start"]),
                           json_values, max_size=6),
       op=st.sampled_from(["locate", "last_seen", "first_seen", "between", "path", "goto", "places", "stats", "x"]))
def test_any_query_gets_one_json_answer(bridge, req, op):
    req.setdefault("op", op)
    answers_once(bridge, json.dumps(req))


@FUZZ
@given(text=st.one_of(st.text(max_size=200), st.builds(lambda n: "[" * n + "]" * n, st.integers(0, 50_000))))
def test_any_text_as_a_query_gets_one_json_answer(bridge, text):
    answers_once(bridge, text)


@FUZZ
@given(d=st.fixed_dictionaries({}, optional={
    "stamp": json_scalars, "frame_id": st.sampled_from(["map", "odom", "camera_link", "nowhere", ""]),
    "sensor_frame": st.sampled_from(["camera_link", "map", "laser"]), "fov": json_scalars, "range": json_scalars,
    "detections": st.lists(st.fixed_dictionaries({}, optional={
        "label": json_scalars, "position": st.lists(nasty_floats, max_size=4), "id": json_scalars,
        "score": json_scalars}), max_size=5)}))
def test_any_json_detections_message(bridge, d):
    n = bridge.memory.stats()["percepts"]
    assert isinstance(bridge.handle("detections_json", "/detections_json", M.string(json.dumps(d)), None), list)
    assert bridge.memory.stats()["percepts"] - n <= 1
    answers_once(bridge, '{"op": "stats"}')


@FUZZ
@given(x=nasty_floats, y=nasty_floats, yaw=nasty_floats, dt=st.one_of(nasty_floats, st.floats(0, 5)),
       kind=st.sampled_from(["odom", "tf", "scan"]), rng=nasty_floats, inc=nasty_floats)
def test_any_pose_tf_or_scan_numbers(bridge, x, y, yaw, dt, kind, rng, inc):
    t = bridge.memory.now + (dt if math.isfinite(dt) else 0.1)
    n = bridge.memory.stats()["percepts"]
    try:
        if kind == "odom":
            msg = M.odometry(t, x, y, yaw if math.isfinite(yaw) else 0.0)
        elif kind == "tf":
            msg = M.tf_message([("odom", "base_link", t, x, y, 0.0, yaw if math.isfinite(yaw) else 0.0)])
        else:
            msg = M.laser_scan(t, "laser", [rng] * 36, angle_min=-math.pi,
                               angle_increment=inc if math.isfinite(inc) else 0.1, range_max=12.0)
    except (ValueError, OverflowError):
        return  # the message cannot even be built
    waiting = sum(len(q) for q in bridge._waiting.values())  # new TF may release these
    assert isinstance(bridge.handle(kind, f"/{kind}", msg, None), list)
    assert bridge.memory.stats()["percepts"] - n <= 2 + waiting
    assert bridge.converter.mirror.nbytes < 64 << 20


@pytest.fixture(scope="module")
def small_bag(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzzbag")
    msgs = list(SimulatedRobot().messages(3.0))
    return {s: write_bag(d / s, iter(msgs), s) for s in ("sqlite3", "mcap")}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(storage=st.sampled_from(["sqlite3", "mcap"]), flips=st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)),
                                                                       min_size=1, max_size=8))
def test_a_damaged_recording_raises_recording_error_or_replays(small_bag, tmp_path_factory, storage, flips):
    import shutil

    src = small_bag[storage]
    dst = tmp_path_factory.mktemp("damaged") / "bag"
    shutil.copytree(src, dst)
    f = next(p for p in dst.iterdir() if p.suffix in (".db3", ".mcap"))
    data = bytearray(f.read_bytes())
    for where, xor in flips:
        data[min(len(data) - 1, int(where * len(data)))] ^= xor
    f.write_bytes(bytes(data))
    b = Ros2Bridge({"transport": "bag"}, transport=BagTransport(dst))
    try:
        b.connect()
    except RecordingError:
        return
    try:
        b.transport.run()
    except RecordingError:
        pass
    finally:
        b.disconnect()
