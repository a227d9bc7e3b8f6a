"""Test and demo helpers for the ROS 2 bridge: a simulated robot, bag writing, and an rclpy contract fake.

``SimulatedRobot``: a differential-drive robot in a rectangular room (walls at x = 0, x = width,
y = 0, y = height of the *map* frame) with known objects. It produces exactly the messages a
ROS 2 robot would (TurtleBot 4 layout): ``/odom`` (odom -> base_link), ``/tf`` (map -> odom as a
localiser would publish, odom -> base_link), ``/tf_static`` (base_link -> laser rotated by
``laser_yaw``, base_link -> camera_link), ``/scan`` (ray-cast against the walls: exact ranges) and
``/detections`` (vision_msgs, only objects inside the camera's field of view, in the camera frame).
The robot sees only what its sensors can: nothing outside the camera cone is reported.

``write_bag(path, messages)`` writes (topic, type, t, msg) tuples to a rosbag2 recording (sqlite3
or mcap) with rosbags.

``FakeRclpy``: a *contract fake* of the parts of rclpy the rclpy transport uses (``init``/``ok``/
``shutdown``, ``create_node``, ``Node.declare_parameter``/``has_parameter``/``get_parameter``/``create_subscription``
(``raw=True``)/``create_publisher``/``create_timer`` (with ``clock=``)/``get_clock``/``destroy_node``,
``rclpy.clock.Clock``/``ClockType``,
``QoSProfile`` and its policies, ``SingleThreadedExecutor``, ``get_message``), written against the
real API's names and semantics (a RELIABLE subscription does not match a BEST_EFFORT publisher;
``Publisher.publish`` takes the message type or serialized ``bytes``). rclpy cannot be installed
with pip, so this is how the transport is exercised where ROS 2 is absent; with ROS 2 sourced the
real rclpy is used instead.
"""

from __future__ import annotations

import enum
import math
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from . import messages as M

__all__ = ["SimulatedRobot", "DrivenRobot", "write_bag", "copy_recording", "convert_recording", "play_over_dds",
           "ask_memory", "FakeRclpy"]


@dataclass
class SimulatedRobot:
    """A robot driving ``waypoints`` (map frame, metres) at ``speed`` m/s in a ``width`` × ``height`` room."""

    width: float = 6.0
    height: float = 4.0
    waypoints: Sequence[tuple[float, float]] = ((1.0, 1.0), (5.0, 1.0), (5.0, 3.0), (1.0, 3.0))
    speed: float = 0.5
    objects: dict[str, tuple[float, float, float]] = field(
        default_factory=lambda: {"cup": (5.5, 2.0, 0.4), "chair": (0.5, 2.0, 0.3)})
    map_to_odom: tuple[float, float, float] = (0.5, -0.3, 0.1)  # x, y, yaw of odom in map
    laser_yaw: float = math.pi / 2  # the TurtleBot 4's RPLIDAR is mounted turned by 90°
    laser_offset: tuple[float, float, float] = (-0.04, 0.0, 0.2)
    camera_offset: tuple[float, float, float] = (0.1, 0.0, 0.3)
    camera_fov: float = 1.2
    camera_range: float = 3.0
    n_rays: int = 360
    odom_rate: float = 20.0
    scan_rate: float = 5.0
    detection_rate: float = 2.0
    t0: float = 1000.0

    def pose_at(self, s: float) -> tuple[float, float, float]:
        """Map-frame (x, y, yaw) after driving ``s`` metres along the closed waypoint loop."""
        pts = list(self.waypoints) + [self.waypoints[0]]
        seg = [math.dist(a, b) for a, b in zip(pts, pts[1:])]
        s = s % sum(seg)
        for (a, b), L in zip(zip(pts, pts[1:]), seg):
            if s <= L:
                f = s / L if L else 0.0
                return (a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), math.atan2(b[1] - a[1], b[0] - a[0]))
            s -= L
        return (*pts[0], 0.0)

    def odom_pose(self, x: float, y: float, yaw: float) -> tuple[float, float, float]:
        """Map pose -> odom-frame pose (inverse of map -> odom)."""
        ox, oy, oyaw = self.map_to_odom
        dx, dy = x - ox, y - oy
        c, s = math.cos(-oyaw), math.sin(-oyaw)
        return (c * dx - s * dy, s * dx + c * dy, yaw - oyaw)

    def ranges(self, x: float, y: float, yaw: float) -> np.ndarray:
        """Exact ranges (m) from the laser at map pose (x, y, yaw) of the base to the room's walls."""
        lx, ly, _ = self.laser_offset
        sx, sy = x + math.cos(yaw) * lx - math.sin(yaw) * ly, y + math.sin(yaw) * lx + math.cos(yaw) * ly
        ang = yaw + self.laser_yaw + (-math.pi + np.arange(self.n_rays) * 2 * math.pi / self.n_rays)
        dx, dy = np.cos(ang), np.sin(ang)
        with np.errstate(divide="ignore", invalid="ignore"):
            tx = np.where(dx > 0, (self.width - sx) / dx, np.where(dx < 0, -sx / dx, np.inf))
            ty = np.where(dy > 0, (self.height - sy) / dy, np.where(dy < 0, -sy / dy, np.inf))
        return np.minimum(tx, ty)

    def visible(self, x: float, y: float, yaw: float) -> list[tuple[str, tuple[float, float, float]]]:
        """Objects inside the camera cone, as (label, position in camera_link)."""
        cx, cy, cz = self.camera_offset
        camx, camy = x + math.cos(yaw) * cx - math.sin(yaw) * cy, y + math.sin(yaw) * cx + math.cos(yaw) * cy
        out = []
        for label, (px, py, pz) in self.objects.items():
            dx, dy = px - camx, py - camy
            r = math.hypot(dx, dy)
            bearing = (math.atan2(dy, dx) - yaw + math.pi) % (2 * math.pi) - math.pi
            if r <= self.camera_range and abs(bearing) <= self.camera_fov / 2:
                c, s = math.cos(-yaw), math.sin(-yaw)
                out.append((label, (c * dx - s * dy, s * dx + c * dy, pz - cz)))
        return out

    def messages(self, duration: float) -> Iterator[tuple[str, str, float, Any]]:
        """(topic, ROS 2 type, t, message) in time order for ``duration`` seconds of driving."""
        yield ("/tf_static", "tf2_msgs/msg/TFMessage", self.t0, M.tf_message([
            ("base_link", "laser", self.t0, *self.laser_offset, self.laser_yaw),
            ("base_link", "camera_link", self.t0, *self.camera_offset, 0.0)]))
        n = int(duration * self.odom_rate)
        scan_every = max(1, round(self.odom_rate / self.scan_rate))
        det_every = max(1, round(self.odom_rate / self.detection_rate))
        mx, my, myaw = self.map_to_odom
        for i in range(n + 1):
            t = self.t0 + i / self.odom_rate
            x, y, yaw = self.pose_at(self.speed * (t - self.t0))
            ox, oy, oyaw = self.odom_pose(x, y, yaw)
            yield ("/tf", "tf2_msgs/msg/TFMessage", t, M.tf_message([
                ("map", "odom", t, mx, my, 0.0, myaw), ("odom", "base_link", t, ox, oy, 0.0, oyaw)]))
            yield ("/odom", "nav_msgs/msg/Odometry", t, M.odometry(t, ox, oy, oyaw))
            if i % scan_every == 0:
                yield ("/scan", "sensor_msgs/msg/LaserScan", t,
                       M.laser_scan(t, "laser", self.ranges(x, y, yaw), angle_min=-math.pi,
                                    angle_increment=2 * math.pi / self.n_rays, range_max=12.0))
            if i % det_every == 0:
                dets = [(label, p, 0.9, "") for label, p in self.visible(x, y, yaw)]
                yield ("/detections", "vision_msgs/msg/Detection3DArray", t,
                       M.detection3d_array(t, "camera_link", dets))

    def path_length(self, duration: float) -> float:
        """Length (m) of the map-frame path driven in ``duration`` s, sampled like ``/odom``."""
        pts = [self.pose_at(self.speed * i / self.odom_rate) for i in range(int(duration * self.odom_rate) + 1)]
        return sum(math.dist(a[:2], b[:2]) for a, b in zip(pts, pts[1:]))


@dataclass
class DrivenRobot:
    """A robot that obeys ``/goal_pose`` and ``/cmd_vel`` in a ``width`` × ``height`` room with wall
    segments inside (``walls``, map frame, metres; a list, so a test may close a door mid-run).

    ``goal(msg)`` takes a PoseStamped (map frame): the robot plans a path over the floor (0.1 m
    grid, 8-connected, cells at least ``radius`` from every wall) and follows it at ``speed``; a
    goal no path reaches leaves the robot standing (like a follower without a route), and a wall
    appearing across its path stops it where the wall comes within ``radius``. ``twist(msg)`` turns it in place at ``angular.z`` for 0.5 s.
    ``step(dt)`` advances it and returns the messages a robot publishes, as ``(kind, topic, msg)``
    for ``Ros2Bridge.handle``: ``/tf`` (map -> odom identity, odom -> base_link), ``/odom``, ``/scan``
    (ray-cast against the walls, every ``scan_every`` steps) and ``/detections`` (objects in the
    camera cone with a clear line of sight, in base_link). In-process, for unit tests of the task
    runner; the DDS test robot is a separate process.
    """

    width: float = 8.0
    height: float = 6.0
    walls: list[tuple[tuple[float, float], tuple[float, float]]] = field(default_factory=list)
    objects: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    x: float = 1.0
    y: float = 1.0
    yaw: float = 0.0
    speed: float = 0.5
    turn_rate: float = 1.5
    radius: float = 0.2
    camera_fov: float = 1.2
    camera_range: float = 3.0
    n_rays: int = 180
    scan_every: int = 2
    t: float = 1000.0

    def __post_init__(self) -> None:
        self._goal: tuple[float, float] | None = None
        self._route: list[tuple[float, float]] = []
        self._spin: tuple[float, float] | None = None  # (rate, until t)
        self._i = 0
        self.path = 0.0

    def segments(self) -> np.ndarray:
        w, h = self.width, self.height
        room = [((0, 0), (w, 0)), ((w, 0), (w, h)), ((w, h), (0, h)), ((0, h), (0, 0))]
        return np.array([[a[0], a[1], b[0], b[1]] for a, b in room + list(self.walls)], dtype=float)

    def goal(self, msg: Any) -> None:
        self._goal = (float(msg.pose.position.x), float(msg.pose.position.y))
        self._route = self.plan((self.x, self.y), self._goal)

    def plan(self, a: tuple[float, float], b: tuple[float, float], cell: float = 0.1) -> list[tuple[float, float]]:
        """Waypoints from ``a`` to ``b`` over cells clear of walls (empty: no path)."""
        import heapq

        nx, ny = int(self.width / cell), int(self.height / cell)
        xs, ys = (np.arange(nx) + 0.5) * cell, (np.arange(ny) + 0.5) * cell
        gx, gy = np.meshgrid(xs, ys, indexing="ij")
        pts = np.stack([gx.ravel(), gy.ravel()], 1)
        seg = self.segments()
        sa, ab = seg[:, :2], seg[:, 2:] - seg[:, :2]
        clear = np.full(len(pts), np.inf)
        for k in range(len(seg)):
            tt = np.clip(((pts - sa[k]) @ ab[k]) / max(float(ab[k] @ ab[k]), 1e-12), 0, 1)
            clear = np.minimum(clear, np.hypot(*(sa[k] + tt[:, None] * ab[k] - pts).T))
        ok = (clear > self.radius + 0.02).reshape(nx, ny)

        def cell_of(p: tuple[float, float]) -> tuple[int, int]:
            return (min(nx - 1, max(0, int(p[0] / cell))), min(ny - 1, max(0, int(p[1] / cell))))

        s0, g0 = cell_of(a), cell_of(b)
        if not ok[g0]:
            return []
        ok[s0] = True
        dist, prev, heap = {s0: 0.0}, {}, [(0.0, s0)]
        while heap:
            d, c = heapq.heappop(heap)
            if c == g0:
                break
            if d > dist.get(c, np.inf):
                continue
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    n = (c[0] + dx, c[1] + dy)
                    if (dx or dy) and 0 <= n[0] < nx and 0 <= n[1] < ny and ok[n] and ok[c[0] + dx, c[1]] \
                            and ok[c[0], c[1] + dy]:
                        nd = d + math.hypot(dx, dy)
                        if nd < dist.get(n, np.inf):
                            dist[n], prev[n] = nd, c
                            heapq.heappush(heap, (nd, n))
        if g0 not in dist:
            return []
        route, c = [b], g0
        while c in prev:
            c = prev[c]
            route.append(((c[0] + 0.5) * cell, (c[1] + 0.5) * cell))
        return route[::-1][1:] if len(route) > 1 else route

    def twist(self, msg: Any) -> None:
        rate = float(msg.angular.z)
        self._spin = (rate, self.t + 0.5) if rate else None

    def _clearance(self, x: float, y: float) -> float:
        seg = self.segments()
        a, b = seg[:, :2], seg[:, 2:]
        ab = b - a
        tt = np.clip(((np.array([x, y]) - a) * ab).sum(1) / np.maximum((ab * ab).sum(1), 1e-12), 0, 1)
        return float(np.min(np.hypot(*(a + ab * tt[:, None] - np.array([x, y])).T)))

    def _cast(self, ox: float, oy: float, ang: np.ndarray) -> np.ndarray:
        seg = self.segments()
        dx, dy = np.cos(ang)[:, None], np.sin(ang)[:, None]
        ex, ey = (seg[:, 2] - seg[:, 0])[None], (seg[:, 3] - seg[:, 1])[None]
        den = dx * ey - dy * ex
        with np.errstate(divide="ignore", invalid="ignore"):
            qx, qy = seg[:, 0][None] - ox, seg[:, 1][None] - oy
            r = (qx * ey - qy * ex) / den
            u = (qx * dy - qy * dx) / den
            hit = (np.abs(den) > 1e-12) & (r > 1e-9) & (u >= 0) & (u <= 1)
        return np.where(hit, r, np.inf).min(1)

    def step(self, dt: float = 0.1) -> list[tuple[str, str, Any]]:
        self.t += dt
        if self._spin is not None and self.t <= self._spin[1]:
            self.yaw += self._spin[0] * dt
        elif self._route:
            gx, gy = self._route[0]
            d = math.hypot(gx - self.x, gy - self.y)
            if d <= 0.05 or (len(self._route) > 1 and d <= 0.15):
                self._route.pop(0)
            else:
                want = math.atan2(gy - self.y, gx - self.x)
                err = (want - self.yaw + math.pi) % (2 * math.pi) - math.pi
                turn = max(-self.turn_rate * dt, min(self.turn_rate * dt, err))
                self.yaw += turn
                if abs(err) < 0.3:
                    step = min(d, self.speed * dt)
                    nx, ny = self.x + step * math.cos(self.yaw), self.y + step * math.sin(self.yaw)
                    if self._clearance(nx, ny) > self.radius:
                        self.path += math.hypot(nx - self.x, ny - self.y)
                        self.x, self.y = nx, ny
        self.yaw = (self.yaw + math.pi) % (2 * math.pi) - math.pi
        t, out = self.t, []
        out.append(("tf", "/tf", M.tf_message([("map", "odom", t, 0.0, 0.0, 0.0, 0.0),
                                               ("odom", "base_link", t, self.x, self.y, 0.0, self.yaw)])))
        out.append(("odom", "/odom", M.odometry(t, self.x, self.y, self.yaw)))
        if self._i % self.scan_every == 0:
            inc = 2 * math.pi / self.n_rays
            ang = self.yaw - math.pi + np.arange(self.n_rays) * inc
            out.append(("scan", "/scan", M.laser_scan(t, "base_link", self._cast(self.x, self.y, ang),
                                                      angle_min=-math.pi, angle_increment=inc, range_max=12.0)))
            out.append(("detections", "/detections", M.detection3d_array(t, "base_link", self.visible())))
        self._i += 1
        return out

    def visible(self) -> list[tuple[str, tuple[float, float, float], float, str]]:
        """Objects in the camera cone with a clear line of sight, as (label, base_link xyz, score, id)."""
        out = []
        c, s = math.cos(-self.yaw), math.sin(-self.yaw)
        for label, (px, py, pz) in self.objects.items():
            dx, dy = px - self.x, py - self.y
            r = math.hypot(dx, dy)
            bearing = (math.atan2(dy, dx) - self.yaw + math.pi) % (2 * math.pi) - math.pi
            if r > self.camera_range or abs(bearing) > self.camera_fov / 2:
                continue
            if self._cast(self.x, self.y, np.array([math.atan2(dy, dx)]))[0] < r - 0.05:
                continue  # a wall in between
            out.append((label, (c * dx - s * dy, s * dx + c * dy, pz), 0.9, ""))
        return out


def write_bag(path: str | Path, messages: Iterator[tuple[str, str, float, Any]], storage: str = "sqlite3",
              raw: dict[str, bytes] | None = None) -> Path:
    """Write (topic, type, t, msg) tuples into a new rosbag2 recording at ``path`` (sqlite3 or mcap).

    A message may be ``bytes`` (already CDR, e.g. deliberately corrupt) instead of an object.
    """
    from rosbags.rosbag2 import StoragePlugin, Writer

    from .types import typestore

    store = typestore()
    plugin = {"sqlite3": StoragePlugin.SQLITE3, "mcap": StoragePlugin.MCAP}[storage]
    conns: dict[str, Any] = {}
    path = Path(path)
    with Writer(path, version=8, storage_plugin=plugin) as w:
        for topic, typ, t, msg in messages:
            if topic not in conns:
                conns[topic] = w.add_connection(topic, typ, typestore=store)
            data = msg if isinstance(msg, (bytes, bytearray)) else store.serialize_cdr(msg, typ)
            w.write(conns[topic], int(round(t * 1e9)), bytes(data))
    return path


def copy_recording(src: str | Path, dst: str | Path, *, edit: Any = None, topics: Sequence[str] | None = None,
                   extra: Sequence[tuple[str, str, float, Any]] = (), storage: str = "sqlite3",
                   compress: bool = False) -> Path:
    """Copy a real recording into a new rosbag2 one, changing what a test needs.

    ``topics``: keep only these (default: all). ``edit(topic, t, msg)`` (message objects of the
    topics it is asked about) returns the message to write, or None to drop it; messages it leaves
    alone are copied byte for byte. ``extra``: (topic, type, t, msg) tuples to add. ``compress``:
    zstd (chunks of an MCAP file; whole file for sqlite3).
    """
    from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer

    from .bag import open_reader
    from .types import typestore

    store = typestore()
    plugin = {"sqlite3": StoragePlugin.SQLITE3, "mcap": StoragePlugin.MCAP}[storage]
    dst = Path(dst)
    reader = open_reader(src)
    reader.open()
    try:
        keep = [c for c in reader.connections if topics is None or c.topic in topics]
        out: list[tuple[int, str, bytes]] = []
        types: dict[str, str] = {}
        for conn, ts, raw in reader.messages(connections=keep):
            types[conn.topic] = conn.msgtype
            data = bytes(raw)
            if edit is not None:
                msg = edit(conn.topic, ts * 1e-9, reader.deserialize(raw, conn.msgtype))
                if msg is None:
                    continue
                data = bytes(store.serialize_cdr(msg, conn.msgtype))
            out.append((ts, conn.topic, data))
    finally:
        reader.close()
    for topic, typ, t, msg in extra:
        types[topic] = typ
        out.append((int(round(t * 1e9)), topic, bytes(store.serialize_cdr(msg, typ))))
    out.sort(key=lambda m: m[0])
    w = Writer(dst, version=8, storage_plugin=plugin)
    if compress:
        w.set_compression(CompressionMode.STORAGE if storage == "mcap" else CompressionMode.FILE,
                          CompressionFormat.ZSTD)
    with w:
        conns = {topic: w.add_connection(topic, typ, typestore=store) for topic, typ in types.items()}
        for ts, topic, data in out:
            w.write(conns[topic], ts, data)
    return dst


def convert_recording(src: str | Path, dst: str | Path, topics: Sequence[str] | None = None) -> Path:
    """Convert with rosbags-convert's own code: rosbag2 -> ROS 1 when ``dst`` ends in ``.bag``, else
    ROS 1 (or rosbag2) -> rosbag2 (sqlite3); ``topics`` keeps only those."""
    from rosbags.convert.converter import convert

    from .types import typestore

    dst = Path(dst)
    convert([Path(src)], dst, "sqlite3", 8, None, "file", typestore(), None, [], list(topics or []), [], [])
    return dst


def ask_memory(peer: Any, req: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
    """Send a query on ``/memory/query`` through a ``DdsPeer`` until its answer (matched by ``id``)
    arrives on ``/memory/answer``; re-sent every second, since the first ones may race discovery.
    Raises ``TimeoutError`` after ``timeout`` wall seconds."""
    import json

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        peer.publish("/memory/query", M.string(json.dumps(req)), "std_msgs/msg/String")
        t_send = time.monotonic()
        while time.monotonic() - t_send < 1.0:
            for s in peer.read("/memory/answer"):
                a = json.loads(s.data)
                if a.get("id") == req["id"]:
                    return a
            time.sleep(0.01)
    raise TimeoutError(f"no answer to {req} within {timeout} s")


def play_over_dds(robot: SimulatedRobot, duration: float, speed: float = 1.0, domain_id: int = 0,
                  wait_for: Sequence[str] = ("/odom",), match_timeout: float = 15.0,
                  log: list[tuple[str, float, float]] | None = None) -> dict[str, int]:
    """Publish ``robot.messages(duration)`` on DDS as a ROS 2 robot would, paced at ``speed`` × real time.

    Waits (up to ``match_timeout`` s) until a reader matched each topic in ``wait_for`` so nothing
    is lost to discovery; ``/tf_static`` is transient local (late joiners get it). Returns counts per
    topic; ``log`` receives (topic, stamp, wall-clock time just before ``write``) per message.
    """
    from .dds import DdsPeer
    from .types import to_idl

    peer = DdsPeer(domain_id)
    qos = {"/tf_static": {"durability": "transient_local"}, "/scan": {"reliability": "best_effort"}}
    types = {"/tf_static": "tf2_msgs/msg/TFMessage", "/tf": "tf2_msgs/msg/TFMessage",
             "/odom": "nav_msgs/msg/Odometry", "/scan": "sensor_msgs/msg/LaserScan",
             "/detections": "vision_msgs/msg/Detection3DArray"}
    for topic, typ in types.items():
        peer.writer(topic, typ, **qos.get(topic, {}), depth=1000)
    t_wait = time.monotonic()
    while any(peer.matched(t) == 0 for t in wait_for):
        if time.monotonic() - t_wait > match_timeout:
            raise TimeoutError(f"no DDS reader matched {list(wait_for)} within {match_timeout} s")
        time.sleep(0.05)
    counts: dict[str, int] = {}
    start = time.monotonic()
    for topic, typ, t, msg in robot.messages(duration):
        wait = (t - robot.t0) / speed - (time.monotonic() - start)
        if wait > 0:
            time.sleep(wait)
        if log is not None:
            sample = to_idl(msg, typ)  # convert first, so the logged time is that of the DDS write
            w = peer.writer(topic, typ, **qos.get(topic, {}), depth=1000)
            log.append((topic, t, time.time()))
            w.write(sample)
        else:
            peer.publish(topic, msg, typ, **qos.get(topic, {}), depth=1000)
        counts[topic] = counts.get(topic, 0) + 1
    time.sleep(0.5)  # let reliable writers deliver before the participant goes away
    peer.close()
    return counts


# ---------------------------------------------------------------------------------------------
# rclpy contract fake


class HistoryPolicy(enum.Enum):
    KEEP_LAST = 1
    KEEP_ALL = 2


class ReliabilityPolicy(enum.Enum):
    RELIABLE = 1
    BEST_EFFORT = 2


class DurabilityPolicy(enum.Enum):
    TRANSIENT_LOCAL = 1
    VOLATILE = 2


class QoSProfile:
    """``rclpy.qos.QoSProfile`` (keyword arguments, as in rclpy)."""

    def __init__(self, *, depth: int = 10, history: HistoryPolicy = HistoryPolicy.KEEP_LAST,
                 reliability: ReliabilityPolicy = ReliabilityPolicy.RELIABLE,
                 durability: DurabilityPolicy = DurabilityPolicy.VOLATILE) -> None:
        if history == HistoryPolicy.KEEP_LAST and depth < 1:
            raise ValueError("A zero depth with KEEP_LAST doesn't make sense; no data could be stored.")
        self.depth, self.history, self.reliability, self.durability = depth, history, reliability, durability


class _Graph:
    def __init__(self) -> None:
        self.subs: dict[str, list[Any]] = {}
        self.latched: dict[str, list[tuple[Any, bytes]]] = {}


class _Parameter:
    def __init__(self, name: str, value: Any) -> None:
        self.name, self.value = name, value


class _Time:
    def __init__(self, ns: int) -> None:
        self.nanoseconds = ns


class ClockType(enum.Enum):
    """``rclpy.clock.ClockType``."""

    ROS_TIME = 1
    SYSTEM_TIME = 2
    STEADY_TIME = 3


class _Clock:
    """``rclpy.clock.Clock(clock_type=...)``; a node's clock is ROS_TIME (here: wall time, no /clock)."""

    def __init__(self, *, clock_type: ClockType = ClockType.SYSTEM_TIME) -> None:
        self.clock_type = clock_type

    def now(self) -> _Time:
        return _Time(time.monotonic_ns() if self.clock_type == ClockType.STEADY_TIME else time.time_ns())


class _Publisher:
    def __init__(self, node: _Node, msg_type: type, topic: str, qos: QoSProfile) -> None:
        self.node, self.msg_type, self.topic, self.qos = node, msg_type, topic, qos
        self.sent: list[bytes] = []

    def publish(self, msg: Any) -> None:
        if isinstance(msg, bytes):
            data = msg
        elif isinstance(msg, self.msg_type):
            data = msg.serialize()
        else:
            raise TypeError(f"Expected {self.msg_type}, got {type(msg)}")
        self.sent.append(data)
        if self.qos.durability == DurabilityPolicy.TRANSIENT_LOCAL:
            # a transient-local writer keeps its last ``depth`` samples (KEEP_LAST) for late joiners
            kept = self.node.graph.latched.setdefault(self.topic, [])
            kept.append((self, data))
            own = [i for i, (p, _) in enumerate(kept) if p is self]
            for i in reversed(own[:-max(1, int(getattr(self.qos, "depth", 1) or 1))]):
                del kept[i]
        for sub in self.node.graph.subs.get(self.topic, []):
            sub.offer(self, data)

    def get_subscription_count(self) -> int:
        return len(self.node.graph.subs.get(self.topic, []))


class _Subscription:
    def __init__(self, node: _Node, msg_type: type, topic: str, cb: Any, qos: QoSProfile, raw: bool) -> None:
        self.node, self.msg_type, self.topic, self.cb, self.qos, self.raw = node, msg_type, topic, cb, qos, raw

    def offer(self, pub: _Publisher, data: bytes) -> None:
        if pub.msg_type.__name__ != self.msg_type.__name__:
            return  # different types never match on one topic
        if self.qos.reliability == ReliabilityPolicy.RELIABLE and pub.qos.reliability == ReliabilityPolicy.BEST_EFFORT:
            return  # DDS request/offer rule: a reliable reader does not match a best-effort writer
        self.node.queue.put((self.cb, data if self.raw else self.msg_type.deserialize(data)))


class _Node:
    def __init__(self, name: str, graph: _Graph) -> None:
        self.name, self.graph = name, graph
        self.params: dict[str, _Parameter] = {}
        self.queue: queue.Queue = queue.Queue()
        self.timers: list[list[Any]] = []
        self.timer_clocks: list[ClockType] = []  # the clock each timer runs on (the node's ROS_TIME by default)
        self.subscriptions: list[_Subscription] = []
        self.publishers: list[_Publisher] = []
        self.destroyed = False
        self.declare_parameter("use_sim_time", False)  # rclpy's TimeSource declares it on every node

    def get_name(self) -> str:
        return self.name

    def declare_parameter(self, name: str, value: Any = None) -> _Parameter:
        if name in self.params:
            raise RuntimeError(f"ParameterAlreadyDeclaredException: {name}")
        self.params[name] = _Parameter(name, value)
        return self.params[name]

    def has_parameter(self, name: str) -> bool:
        return name in self.params

    def get_parameter(self, name: str) -> _Parameter:
        if name not in self.params:
            raise RuntimeError(f"ParameterNotDeclaredException: {name}")
        return self.params[name]

    def create_subscription(self, msg_type: type, topic: str, callback: Any, qos_profile: QoSProfile | int, *,
                            raw: bool = False) -> _Subscription:
        qos = qos_profile if isinstance(qos_profile, QoSProfile) else QoSProfile(depth=int(qos_profile))
        sub = _Subscription(self, msg_type, topic, callback, qos, raw)
        self.graph.subs.setdefault(topic, []).append(sub)
        self.subscriptions.append(sub)
        if qos.durability == DurabilityPolicy.TRANSIENT_LOCAL:
            for pub, data in self.graph.latched.get(topic, []):
                sub.offer(pub, data)
        return sub

    def create_publisher(self, msg_type: type, topic: str, qos_profile: QoSProfile | int) -> _Publisher:
        qos = qos_profile if isinstance(qos_profile, QoSProfile) else QoSProfile(depth=int(qos_profile))
        pub = _Publisher(self, msg_type, topic, qos)
        self.publishers.append(pub)
        return pub

    def create_timer(self, period: float, callback: Any, callback_group: Any = None, clock: _Clock | None = None) -> Any:
        if clock is not None and not isinstance(clock, _Clock):
            raise TypeError(f"clock must be an rclpy.clock.Clock, got {type(clock).__name__}")
        self.timer_clocks.append(clock.clock_type if clock is not None else ClockType.ROS_TIME)
        t = [float(period), time.monotonic() + period, callback]
        self.timers.append(t)
        return t

    def get_clock(self) -> _Clock:
        return _Clock(clock_type=ClockType.ROS_TIME)

    def destroy_node(self) -> None:
        for sub in self.subscriptions:
            self.graph.subs.get(sub.topic, []).remove(sub)
        self.destroyed = True


class _Executor:
    def __init__(self) -> None:
        self.nodes: list[_Node] = []
        self._shutdown = threading.Event()

    def add_node(self, node: _Node) -> bool:
        self.nodes.append(node)
        return True

    def spin_once(self, timeout_sec: float = 0.01) -> None:
        now = time.monotonic()
        for node in self.nodes:
            for t in node.timers:
                if now >= t[1]:
                    t[1] = now + t[0]
                    t[2]()
            try:
                cb, data = node.queue.get(timeout=timeout_sec / max(1, len(self.nodes)))
            except queue.Empty:
                continue
            cb(data)

    def spin(self) -> None:
        while not self._shutdown.is_set():
            self.spin_once()

    def shutdown(self, timeout_sec: float | None = None) -> bool:
        self._shutdown.set()
        return True


class FakeRclpy:
    """One in-process ROS 2 graph; ``api`` plugs into ``RclpyTransport(config, rclpy_api=fake.api)``.

    ``node(name)`` makes another node on the same graph (a stand-in robot or query client);
    ``get_message(type)`` returns a message class whose ``serialize``/``deserialize`` use rosbags' CDR.
    """

    def __init__(self) -> None:
        self.graph = _Graph()
        self._ok = False
        self._classes: dict[str, type] = {}
        rclpy = SimpleNamespace(init=self.init, ok=self.ok, shutdown=self.shutdown, create_node=self.node)
        qos = SimpleNamespace(QoSProfile=QoSProfile, HistoryPolicy=HistoryPolicy, ReliabilityPolicy=ReliabilityPolicy,
                              DurabilityPolicy=DurabilityPolicy)
        executors = SimpleNamespace(SingleThreadedExecutor=_Executor)
        clock = SimpleNamespace(Clock=_Clock, ClockType=ClockType)
        self.api = SimpleNamespace(rclpy=rclpy, qos=qos, executors=executors, clock=clock, get_message=self.get_message)

    def init(self, args: Any = None) -> None:
        if self._ok:
            raise RuntimeError("Context.init() must only be called once")
        self._ok = True

    def ok(self) -> bool:
        return self._ok

    def shutdown(self) -> None:
        if not self._ok:
            raise RuntimeError("Context must be initialized before it can be shutdown")
        self._ok = False

    def node(self, name: str) -> _Node:
        if not self._ok:
            raise RuntimeError("rclpy.init() has not been called")
        return _Node(name, self.graph)

    def get_message(self, name: str) -> type:
        from .types import ros_type_name, typestore

        name = ros_type_name(name)
        if name not in self._classes:
            store = typestore()
            if name not in store.types:
                raise ValueError(f"The message type '{name}' is invalid")
            cls = store.types[name]

            def serialize(msg: Any, _n: str = name) -> bytes:
                return bytes(store.serialize_cdr(msg, _n))

            self._classes[name] = type(name.split("/")[-1], (), {
                "rosbags": cls, "serialize": staticmethod(serialize),
                "deserialize": staticmethod(lambda data, _n=name: store.deserialize_cdr(data, _n))})
        return self._classes[name]


# ---------------------------------------------------------------------------------------------
# Nav2 NavigateToPose contract fake


class _Future:
    """``rclpy.task.Future``: ``result()``, ``done()``, ``add_done_callback(cb)`` (called with the future)."""

    def __init__(self) -> None:
        self._result: Any = None
        self._done = False
        self._cbs: list[Any] = []

    def set_result(self, value: Any) -> None:
        self._result, self._done = value, True
        for cb in self._cbs:
            cb(self)

    def result(self) -> Any:
        return self._result

    def done(self) -> bool:
        return self._done

    def add_done_callback(self, cb: Any) -> None:
        if self._done:
            cb(self)
        else:
            self._cbs.append(cb)


def _ns(**kw: Any) -> SimpleNamespace:
    return SimpleNamespace(**kw)


class FakeNav2:
    """A *contract fake* of Nav2's ``NavigateToPose`` action as rclpy's ``ActionClient`` sees it
    (``rclpy.action.ActionClient(node, NavigateToPose, "navigate_to_pose")``: ``wait_for_server``,
    ``send_goal_async(goal, feedback_callback=)`` -> future of a goal handle with ``accepted``,
    ``get_result_async()`` (-> ``.result().status``) and ``cancel_goal_async()``;
    ``NavigateToPose.Goal()`` with ``pose`` a PoseStamped; feedback ``.feedback.distance_remaining``;
    ``action_msgs.msg.GoalStatus`` codes). ``api`` plugs into ``Nav2Navigator(..., action_api=)``.
    The test plays the server: ``goals`` holds what was sent; ``feedback(d)``, ``finish(status)``
    and ``reject_next`` act on the latest goal."""

    STATUS_SUCCEEDED, STATUS_CANCELED, STATUS_ABORTED = 4, 5, 6

    def __init__(self, server: bool = True) -> None:
        self.server = server
        self.goals: list[Any] = []
        self.cancels = 0
        self.reject_next = False
        self._live: list[tuple[Any, Any]] = []  # (feedback callback, result future) per goal
        fake = self

        class Goal:
            def __init__(self) -> None:
                self.pose = _ns(header=_ns(frame_id="", stamp=_ns(sec=0, nanosec=0)),
                                pose=_ns(position=_ns(x=0.0, y=0.0, z=0.0), orientation=_ns(x=0.0, y=0.0, z=0.0, w=1.0)))
                self.behavior_tree = ""

        class ActionClient:
            def __init__(self, node: Any, action_type: Any, action_name: str) -> None:
                self.node, self.action_type, self.action_name = node, action_type, action_name

            def wait_for_server(self, timeout_sec: float | None = None) -> bool:
                return fake.server

            def send_goal_async(self, goal: Any, feedback_callback: Any = None) -> _Future:
                fake.goals.append(goal)
                fut, res = _Future(), _Future()
                accepted = not fake.reject_next
                fake.reject_next = False

                def cancel() -> _Future:
                    fake.cancels += 1
                    f = _Future()
                    f.set_result(_ns(goals_canceling=[goal]))
                    if not res.done():
                        res.set_result(_ns(status=fake.STATUS_CANCELED, result=_ns()))
                    return f

                handle = _ns(accepted=accepted, get_result_async=lambda: res, cancel_goal_async=cancel)
                fake._live.append((feedback_callback, res))
                fut.set_result(handle)
                return fut

        self.api = _ns(ActionClient=ActionClient, NavigateToPose=_ns(Goal=Goal),
                       GoalStatus=_ns(STATUS_SUCCEEDED=4, STATUS_CANCELED=5, STATUS_ABORTED=6))

    def feedback(self, distance_remaining: float) -> None:
        cb, _ = self._live[-1]
        if cb is not None:
            cb(_ns(feedback=_ns(distance_remaining=float(distance_remaining))))

    def finish(self, status: int) -> None:
        _, res = self._live[-1]
        res.set_result(_ns(status=int(status), result=_ns()))
