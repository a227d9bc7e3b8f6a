"""TurtleBot 4 recordings: odometry read with rosbags, questions checked against brute force on the raw messages."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("rosbags")

from embodied_mem.bench.answerers import EmbodiedMemAnswerer, FifoAnswerer, FullLogAnswerer  # noqa: E402
from embodied_mem.bench.questions import ROBOT_TYPES, score  # noqa: E402
from embodied_mem.bench.robot_qa import (  # noqa: E402
    MAX_SPEED,
    MAX_TURN_RATE,
    odometry_percepts,
    read_odometry,
    robot_questions,
)

REAL = "ros2_bags/turtlebot4_real_macfirst_floor/bag"
SIM = "ros2_bags/turtlebot4_sim_nav2/nav2_turtlebot.mcap"


@pytest.fixture(scope="module")
def real(shared_data):
    return read_odometry(shared_data / REAL, name="turtlebot4_real")


def raw_odometry(path):
    """The recording's /odom messages as plain tuples, by a second, plain rosbags read."""
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    out = []
    with AnyReader([path], default_typestore=get_typestore(Stores.ROS2_HUMBLE)) as r:
        for c, _, raw in r.messages(connections=[c for c in r.connections if c.topic == "/odom"]):
            m = r.deserialize(raw, c.msgtype)
            q = m.pose.pose.orientation
            out.append((m.header.stamp.sec + 1e-9 * m.header.stamp.nanosec, m.pose.pose.position.x,
                        m.pose.pose.position.y, math.atan2(2 * (q.w * q.z + q.x * q.y), 1 - 2 * (q.y ** 2 + q.z ** 2))))
    out.sort()
    return [(t - out[0][0], x, y, w) for t, x, y, w in out]


def test_real_recording_matches_provenance(real) -> None:
    assert len(real) == 920  # PROVENANCE.md: /odom 920 messages
    assert real.t[0] == 0.0 and all(b >= a for a, b in zip(real.t, real.t[1:]))
    assert 45.0 < real.t[-1] < 47.0  # 46.2 s bag
    path = sum(math.hypot(real.x[i + 1] - real.x[i], real.y[i + 1] - real.y[i]) for i in range(len(real) - 1))
    assert path == pytest.approx(8.35, abs=0.05)  # "odometry path about 8.35 m"
    assert real.frame == "odom"


def test_answers_agree_with_brute_force_over_the_raw_messages(real, shared_data) -> None:
    msgs = raw_odometry(shared_data / REAL)
    qs = robot_questions(real, per_type=5, seed=2)
    assert {q.type for q in qs} == set(ROBOT_TYPES)
    for q in qs:
        p = q.params
        if q.type == "robot_position":
            _, x, y, _ = [m for m in msgs if m[0] <= p["t"]][-1]
            assert q.answer == pytest.approx([x, y])
        elif q.type == "distance":
            seg = [m for m in msgs if p["t0"] <= m[0] <= p["t1"]]
            d = sum(math.hypot(b[1] - a[1], b[2] - a[2]) for a, b in zip(seg, seg[1:]))
            assert q.answer == pytest.approx(d, abs=1e-9)
        elif q.type == "standstill":
            seg = [m for m in msgs if p["t0"] <= m[0] <= p["t1"]]
            still = 0.0
            for a, b in zip(seg, seg[1:]):
                dt = b[0] - a[0]
                turn = abs(math.remainder(b[3] - a[3], 2 * math.pi))
                if dt > 0 and math.hypot(b[1] - a[1], b[2] - a[2]) / dt < MAX_SPEED and turn / dt < MAX_TURN_RATE:
                    still += dt
            assert q.answer == pytest.approx(still, abs=1e-6)
        elif q.type == "closest_time":
            best = min(msgs, key=lambda m: (math.hypot(m[1] - p["point"][0], m[2] - p["point"][1]), m[0]))
            assert q.answer == pytest.approx(best[0])


def test_embodied_mem_exact_and_fifo_worse_on_the_simulated_recording(shared_data) -> None:
    odom = read_odometry(shared_data / SIM, name="turtlebot4_sim")
    assert len(odom) == 2639  # PROVENANCE.md
    em, full, fifo = EmbodiedMemAnswerer(), FullLogAnswerer(), FifoAnswerer(200)
    for p in odometry_percepts(odom):
        for a in (em, full, fifo):
            a.observe(p)
    qs = robot_questions(odom, per_type=5, seed=0)
    for q in qs:
        assert score(q, em.answer(q))["correct"], (q.text, em.answer(q), q.answer)
        assert score(q, full.answer(q))["correct"], (q.text, full.answer(q), q.answer)
    assert sum(score(q, fifo.answer(q))["correct"] for q in qs) < len(qs)


def test_bad_recordings_are_refused(shared_data, tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        read_odometry(tmp_path / "nothing")
    with pytest.raises(ValueError, match="/odom"):
        read_odometry(shared_data / "ros2_bags/tf_example")  # TF only, no odometry topic
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="rosbag2"):
        read_odometry(tmp_path / "empty")
