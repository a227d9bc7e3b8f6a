"""TurtleBot 4 recordings for the memory QA benchmark: odometry percepts and questions from the raw messages.

A recording (rosbag2 folder, ``.db3`` inside one, or a bare ``.mcap``) is read with ``rosbags``;
its ``nav_msgs/Odometry`` messages (default topic ``/odom``) become, in header-stamp order, one
``Percept`` each: ``t`` = seconds since the first message, pose (x, y, yaw) in the odometry frame
(metres, radians), source ``odom``. The ground truth of the questions comes from the same raw
message fields through separate numpy code (``Odometry`` arrays), not from any memory.

Question types: ``robot_position`` (where were you at t?), ``distance`` (how far did you travel
between t0 and t1?), ``standstill`` (how long did you stand still between t0 and t1? — still:
speed below ``max_speed`` m/s and turn rate below ``max_turn_rate`` rad/s between consecutive
messages) and ``closest_time`` (when were you closest to a point?).

A missing file raises ``FileNotFoundError``; a recording without the odometry topic raises
``ValueError`` naming the topics it has.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..percept import Percept, Pose
from .questions import Question

__all__ = ["Odometry", "read_odometry", "odometry_percepts", "robot_questions", "MAX_SPEED", "MAX_TURN_RATE"]

MAX_SPEED = 0.01  # m/s: slower than this between two odometry messages counts as standing still
MAX_TURN_RATE = 0.02  # rad/s


@dataclass
class Odometry:
    """Odometry of one recording: ``t`` (s since the first message), ``x``, ``y`` (m), ``yaw`` (rad)."""

    name: str
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    yaw: np.ndarray
    frame: str
    t0: float  # header stamp of the first message (s, ROS time)

    def __len__(self) -> int:
        return len(self.t)


def _reader(path: Path):  # noqa: ANN202 - rosbags type
    from embodied_mem.deps import require

    require("rosbags", "reading rosbag2 recordings")
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    if not path.exists():
        raise FileNotFoundError(f"no rosbag2 recording at {path}")
    if path.is_file() and path.suffix == ".db3":
        path = path.parent
    if path.is_dir() and not (path / "metadata.yaml").exists():
        mcaps = sorted(path.glob("*.mcap"))
        if len(mcaps) != 1:
            raise ValueError(f"{path} is not a rosbag2 folder (no metadata.yaml) nor holds exactly one .mcap file")
        path = mcaps[0]
    return AnyReader([path], default_typestore=get_typestore(Stores.ROS2_HUMBLE))


def read_odometry(path: str | Path, topic: str = "/odom", name: str | None = None) -> Odometry:
    """Every odometry message of ``topic`` in the recording at ``path``, sorted by header stamp."""
    path = Path(path)
    rows = []
    frame = ""
    with _reader(path) as reader:
        conns = [c for c in reader.connections if c.topic == topic]
        if not conns:
            raise ValueError(f"{path} has no {topic!r} topic; it has {sorted({c.topic for c in reader.connections})}")
        for conn, bag_ns, raw in reader.messages(connections=conns):
            m = reader.deserialize(raw, conn.msgtype)
            stamp = m.header.stamp.sec + m.header.stamp.nanosec * 1e-9
            if stamp == 0:
                stamp = bag_ns * 1e-9
            p, q = m.pose.pose.position, m.pose.pose.orientation
            yaw = math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))
            rows.append((stamp, p.x, p.y, yaw))
            frame = m.header.frame_id
    if not rows:
        raise ValueError(f"{path}: topic {topic!r} holds no messages")
    a = np.array(sorted(rows), float)
    name = name or (path.stem if path.is_file() else path.name)
    return Odometry(name, a[:, 0] - a[0, 0], a[:, 1], a[:, 2], a[:, 3], frame, float(a[0, 0]))


def odometry_percepts(odom: Odometry) -> list[Percept]:
    """One Percept per odometry message (pose only; the odometry frame is the world frame)."""
    return [Percept(t=float(t), pose=Pose(x=float(x), y=float(y), yaw=float(w)), source="odom")
            for t, x, y, w in zip(odom.t, odom.x, odom.y, odom.yaw)]


def _still_seconds(t: np.ndarray, x: np.ndarray, y: np.ndarray, yaw: np.ndarray, t0: float, t1: float) -> float:
    m = (t >= t0) & (t <= t1)
    t, x, y, yaw = t[m], x[m], y[m], yaw[m]
    dt = np.diff(t)
    ok = dt > 0
    speed = np.hypot(np.diff(x), np.diff(y))[ok] / dt[ok]
    turn = np.abs((np.diff(yaw) + np.pi) % (2 * np.pi) - np.pi)[ok] / dt[ok]
    return float(dt[ok][(speed < MAX_SPEED) & (turn < MAX_TURN_RATE)].sum())


def robot_questions(odom: Odometry, per_type: int = 10, seed: int = 0) -> list[Question]:
    """``per_type`` questions of each robot type about the whole recording, answers from the raw odometry."""
    rng = np.random.default_rng([seed, len(odom)])
    t, x, y, yaw = odom.t, odom.x, odom.y, odom.yaw
    T = float(t[-1])
    n = len(odom)
    diag = float(math.hypot(np.ptp(x), np.ptp(y))) or 1.0
    path_len = float(np.hypot(np.diff(x), np.diff(y)).sum())
    qs: list[Question] = []

    def add(qtype: str, text: str, answer: object, units: str, **params: object) -> None:
        k = sum(q.type == qtype for q in qs)
        qs.append(Question(id=f"{odom.name}-{qtype}-{k}", world=odom.name, length=n, type=qtype, text=text,
                           answer=answer, units=units, params=params))

    for _ in range(per_type):
        s = round(float(rng.uniform(0, T)), 2)
        i = int(np.searchsorted(t, s, side="right")) - 1
        add("robot_position", f"Where were you at t = {s:.2f} s?", [float(x[i]), float(y[i])], "m", t=s,
            tolerance=0.01, miss_penalty=diag)
    for _ in range(per_type):
        a, b = sorted(round(float(v), 2) for v in rng.uniform(0, T, 2))
        m = (t >= a) & (t <= b)
        d = float(np.hypot(np.diff(x[m]), np.diff(y[m])).sum()) if m.sum() >= 2 else 0.0
        add("distance", f"How far did you travel between t = {a:.2f} s and t = {b:.2f} s?", d, "m", t0=a, t1=b,
            tolerance=0.01, miss_penalty=path_len)
    for k in range(per_type):
        a, b = (0.0, T) if k == 0 else sorted(round(float(v), 2) for v in rng.uniform(0, T, 2))
        add("standstill", f"How long did you stand still between t = {a:.2f} s and t = {b:.2f} s?",
            _still_seconds(t, x, y, yaw, a, b), "s", t0=a, t1=b, max_speed=MAX_SPEED, max_turn_rate=MAX_TURN_RATE,
            tolerance=0.05, miss_penalty=T)
    for _ in range(per_type):
        i = int(rng.integers(n))
        px, py = round(float(x[i] + rng.normal(0, 0.3)), 2), round(float(y[i] + rng.normal(0, 0.3)), 2)
        j = int(np.argmin(np.hypot(x - px, y - py)))
        add("closest_time", f"When were you closest to ({px:.2f}, {py:.2f})?", float(t[j]), "s", point=[px, py],
            tolerance=0.05, miss_penalty=T)
    return qs
