"""``Ros2Bridge``: ROS 2 messages in, memory answers, RViz markers and Nav2 goals out.

The bridge is transport-agnostic: a transport (``dds``, ``rclpy`` or ``bag``) delivers messages
with ``bridge.handle(kind, topic, msg, recv_t)`` and publishes what the bridge hands back through
``transport.publish(key, msg, type_name)`` (rosbags message objects; every transport can send
them, as CDR bytes are the same everywhere).

Message kinds: ``odom`` (nav_msgs/Odometry), ``tf`` / ``tf_static`` (tf2_msgs/TFMessage),
``pose`` (geometry_msgs/PoseStamped or PoseWithCovarianceStamped), ``scan``
(sensor_msgs/LaserScan), ``cloud`` (sensor_msgs/PointCloud2), ``detections``
(vision_msgs/Detection3DArray), ``detections_json`` and ``query`` (std_msgs/String, JSON).

Queries (``/memory/query`` -> ``/memory/answer``, std_msgs/String JSON; ``id`` is echoed back)::

    {"id": 1, "op": "locate", "label": "cup", "at": null}   -> {"ok": true, "locations": [...]}
    {"op": "last_seen", "label": "cup"}                     -> {"t": 12.5, "position": [x, y, z]}
    {"op": "first_seen", "label": "cup"}
    {"op": "between", "t0": 10.0, "t1": 20.0}               -> {"events": [{"t", "kind", "label"|"text", "position"}]}
    {"op": "path", "goal": [x, y] | "label": "cup", "start": [x, y] (default: robot)} -> {"waypoints": [[x, y, z], ...] | null}
    {"op": "goto", "label": "cup"}    -> publishes geometry_msgs/PoseStamped on /goal_pose; {"goal": {...}}
    {"op": "places"} / {"op": "stats"}

A bad request gets ``{"ok": false, "error": "..."}``; the bridge keeps running. Malformed sensor
messages are logged (rate-limited) and counted in ``stats()["skipped"]`` by reason.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from embodied_mem.percept import Percept, PerceptError, PerceptTypeError

from ..base import RobotBridge
from .config import Ros2BridgeConfig, robot_memory_config
from .convert import MalformedMessage, MessageConverter
from .topics import KINDS, TYPES

__all__ = ["Ros2Bridge", "Transport", "DirectTransport", "KINDS", "TYPES"]

log = logging.getLogger("embodied_mem.robots.ros2")



class _Wait(Exception):
    """A message needs a transform newer than TF holds yet."""


def _stamp_or_none(msg: Any) -> float | None:
    try:
        st = msg.header.stamp
        return float(st.sec) + float(st.nanosec) * 1e-9
    except AttributeError:
        return None


class Transport(Protocol):
    """What a transport offers the bridge."""

    def start(self, bridge: Ros2Bridge) -> None: ...

    def stop(self) -> None: ...

    def publish(self, key: str, msg: Any, type_name: str) -> None: ...


class DirectTransport:
    """In-process transport: your code calls ``bridge.handle(...)`` with message objects (e.g. from
    your own ROS 2 node) and reads what the bridge published from ``published`` (key, message)."""

    def __init__(self) -> None:
        self.published: list[tuple[str, Any]] = []
        self.running = False

    def start(self, bridge: Ros2Bridge) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False

    def publish(self, key: str, msg: Any, type_name: str) -> None:
        self.published.append((key, msg))


class Ros2Bridge(RobotBridge):
    """Feeds memory from ROS 2 messages and answers queries; see the module docstring.

    ``memory``: a ``Memory`` to write into (kept open on disconnect); else one is opened at
    ``memory_path`` (``durability="batch"``, flushed every ``flush_period`` s and on disconnect) or
    kept in RAM, with ``memory_config`` (default: ``robot_memory_config()``, 5 cm cells).
    ``transport``: a ready transport object; else one is made from ``config.transport``
    (``bag`` needs ``bag=PATH``).
    """

    name = "ros2"

    def __init__(self, config: Ros2BridgeConfig | Mapping[str, Any] | None = None, *, memory: Any = None,
                 memory_path: str | Path | None = None, memory_config: Any = None, transport: Any = None,
                 bag: str | Path | None = None, realtime: float = 0.0) -> None:
        super().__init__()
        self.config = Ros2BridgeConfig.from_dict(config)
        self.memory = memory
        self._own_memory = memory is None
        self._memory_path = memory_path
        self._memory_config = memory_config
        self._transport = transport
        self._bag = bag
        self._realtime = realtime
        self._lock = threading.RLock()
        self.converter: MessageConverter | None = None
        self.received: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.observed = 0
        self.answers = 0
        self.on_observed: list[Callable[[Percept, float], None]] = []  # (percept, perf_counter when in memory)
        self._last_tick = {"markers": -math.inf, "flush": time.monotonic()}
        self._log_budget: Counter[str] = Counter()
        # topic -> messages waiting for TF: (kind, message, receive time, newest TF stamp on arrival)
        self._waiting: dict[str, deque[tuple[str, Any, float | None, float | None]]] = {}

    # ------------------------------------------------------------------ lifecycle
    def _connect(self) -> None:
        from embodied_mem.memory import Memory

        if self.memory is None:
            cfg = self._memory_config if self._memory_config is not None else robot_memory_config()
            self.memory = (Memory.open(self._memory_path, config=cfg, durability="batch")
                           if self._memory_path is not None else Memory(cfg))
        self.converter = MessageConverter(self.config, cell_size=self.memory.config.spatial.cell_size)
        if self._transport is None:
            self._transport = make_transport(self.config, bag=self._bag, realtime=self._realtime)
        try:
            self._transport.start(self)
        except BaseException:
            if self._own_memory and self.memory is not None:
                self.memory.close()
                self.memory = None
            raise

    def _disconnect(self) -> None:
        try:
            self._transport.stop()
        finally:
            with self._lock:
                for p in self.converter.finish() if self.converter else []:
                    self._observe(p)
                if self.memory is not None:
                    self.memory.flush()
                    if self._own_memory:
                        self.memory.close()
                        self.memory = None

    @property
    def transport(self) -> Any:
        return self._transport

    # ------------------------------------------------------------------ input
    def topic(self, kind: str) -> str:
        """The configured topic of a message kind or output key ("" when switched off)."""
        key = KINDS[kind][0] if kind in KINDS else TYPES[kind][0]
        return getattr(self.config.topics, key)

    def subscriptions(self) -> dict[str, tuple[str, str]]:
        """kind -> (topic, ROS 2 type) of every input the bridge listens to (per pose_source)."""
        c = self.config
        out = {}
        for kind, (key, typ) in KINDS.items():
            topic = getattr(c.topics, key)
            if not topic:
                continue
            if kind == "odom" and c.pose_source not in ("auto", "odom"):
                continue
            if kind == "pose":
                if c.pose_source != "pose":
                    continue
                typ = c.topics.pose_type
            out[kind] = (topic, typ)
        return out

    def handle(self, kind: str, topic: str, msg: Any, recv_t: float | None = None) -> list[Percept]:
        """Convert one message and write it into memory. Never raises for a bad message: it is logged,
        counted in ``skipped`` and dropped, leaving memory unchanged. Returns the percepts observed.

        A sensor message stamped after the newest transform it needs waits (like tf2's message
        filter) until TF catches up, at most ``frames.tf_wait`` seconds of TF time or 100 messages per
        topic; later messages of that topic queue behind it, so each topic keeps its time order."""
        self.require_connected("handle()")
        with self._lock:
            self.received[kind] += 1
            if kind == "query":
                text = getattr(msg, "data", None)
                if not isinstance(text, str):
                    self._skip("malformed", f"a query must be a std_msgs/String, got {type(msg).__name__}", topic)
                    return []
                self._answer(text)
                return []
            if kind in ("tf", "tf_static"):
                out = self._convert(kind, topic, msg, recv_t)
                return out + self._retry_waiting()
            if kind not in KINDS:
                raise ValueError(f"unknown message kind {kind!r}; known: {sorted(KINDS)}")
            queue = self._waiting.get(topic)
            arrival = self.converter.tf.newest_stamp()
            if queue:
                queue.append((kind, msg, recv_t, arrival))
                if len(queue) > 100:
                    queue.popleft()
                    self._skip("tf_timeout", "more than 100 messages waiting for a transform", topic)
                return []
            try:
                return self._convert(kind, topic, msg, recv_t, may_wait=True)
            except _Wait:
                self._waiting.setdefault(topic, deque()).append((kind, msg, recv_t, arrival))
                return []

    def _convert(self, kind: str, topic: str, msg: Any, recv_t: float | None, may_wait: bool = False) -> list[Percept]:
        conv = self.converter
        assert conv is not None
        try:
            if kind in ("tf", "tf_static"):
                percepts, problems = conv.on_tf(msg, static=kind == "tf_static", recv_t=recv_t)
                for pr in problems:
                    self._skip("tf", pr, topic)
            elif kind == "odom":
                percepts = [conv.odometry(msg, topic, recv_t)]
            elif kind == "pose":
                percepts = [conv.pose_stamped(msg, topic, recv_t)]
            elif kind == "scan":
                percepts = [conv.scan(msg, topic, recv_t)]
            elif kind == "cloud":
                percepts = [conv.cloud(msg, topic, recv_t)]
            elif kind == "detections":
                percepts = [conv.detections3d(msg, topic, recv_t)]
            else:
                percepts = [conv.detections_json(msg.data, topic, recv_t)]
        except MalformedMessage as exc:
            if exc.reason == "tf_wait" and may_wait:
                raise _Wait() from None
            self._skip("tf" if exc.reason == "tf_wait" else exc.reason, str(exc), topic)
            return []
        except (PerceptError, PerceptTypeError, AttributeError, TypeError, ValueError) as exc:
            self._skip("malformed", f"{type(exc).__name__}: {exc}", topic)
            return []
        out = []
        for p in percepts:
            if p is not None and self._observe(p):
                out.append(p)
        return out

    def _retry_waiting(self) -> list[Percept]:
        """After new TF: convert waiting messages in order; drop those TF did not reach within tf_wait."""
        out: list[Percept] = []
        newest = self.converter.tf.newest_stamp() if self.converter else None
        for topic, queue in list(self._waiting.items()):
            while queue:
                kind, msg, recv_t, arrival = queue[0]
                try:
                    out += self._convert(kind, topic, msg, recv_t, may_wait=True)
                except _Wait:
                    st = _stamp_or_none(msg)
                    wait = self.config.frames.tf_wait
                    moved_on = newest is not None and arrival is not None and newest - arrival > wait
                    far_ahead = newest is not None and st is not None and st - newest > wait
                    if not (moved_on or far_ahead):
                        break  # keep waiting (and keep the topic's order)
                    queue.popleft()
                    where = f"stamp {st:.3f}" if st is not None else "its stamp"
                    self._skip("tf_timeout", f"no transform for {where}; TF moved on to {newest:.3f}", topic)
                    continue
                queue.popleft()
            if not queue:
                del self._waiting[topic]
        return out

    def _observe(self, p: Percept) -> bool:
        try:
            self.memory.observe(p)
        except (ValueError, TypeError) as exc:  # e.g. TimeOrderError: memory refused it, nothing changed
            self._skip("refused", str(exc), p.source)
            return False
        self.converter.commit(p)
        self.observed += 1
        if self.on_observed:
            now = time.perf_counter()
            for cb in self.on_observed:
                cb(p, now)
        return True

    def _skip(self, reason: str, detail: str, topic: str) -> None:
        self.skipped[reason] += 1
        n = self.skipped[reason]
        if n <= 5 or n % 100 == 0:
            log.warning("skipped a message on %s (%s, %d so far): %s", topic, reason, n, detail)

    def finish(self) -> None:
        """Write poses held back by keyframing (the latest pose of each source) into memory; messages
        still waiting for a transform are dropped (counted as ``tf_timeout``)."""
        with self._lock:
            for topic, queue in self._waiting.items():
                for _ in queue:
                    self._skip("tf_timeout", "still waiting for a transform at the end", topic)
            self._waiting.clear()
            for p in self.converter.finish() if self.converter else []:
                self._observe(p)

    # ------------------------------------------------------------------ periodic work
    def tick(self, now: float | None = None) -> None:
        """Publish markers and flush memory when their periods have passed (transports call this)."""
        if not self.is_connected:
            return
        now = time.monotonic() if now is None else now
        c = self.config
        if c.marker_period > 0 and now - self._last_tick["markers"] >= c.marker_period:
            self._last_tick["markers"] = now
            self.publish_markers()
        if now - self._last_tick["flush"] >= c.flush_period:
            self._last_tick["flush"] = now
            with self._lock:
                self.memory.flush()

    def publish_markers(self) -> Any:
        from .outputs import marker_array

        with self._lock:
            msg = marker_array(self.memory, self.converter.world_frame(), stamp=self.memory.now)
        self._transport.publish("markers", msg, TYPES["markers"][1])
        return msg

    # ------------------------------------------------------------------ queries
    def answer(self, request: str | Mapping[str, Any]) -> dict[str, Any]:
        """Answer one query (JSON text or mapping) from memory; see the module docstring for ops."""
        from .outputs import answer_query

        self.require_connected("answer()")
        with self._lock:
            return answer_query(self, request)

    def _answer(self, text: str) -> None:
        from .outputs import string_msg

        reply = self.answer(text)
        self.answers += 1
        self._transport.publish("answer", string_msg(json.dumps(reply)), TYPES["answer"][1])

    def goal_for(self, label: str) -> Any:
        """geometry_msgs/PoseStamped next to where ``label`` was last seen, facing it; None if never seen."""
        from .outputs import goal_pose

        with self._lock:
            return goal_pose(self.memory, label, self.converter.world_frame())

    # ------------------------------------------------------------------ RobotBridge
    def get_observation(self) -> dict[str, Any]:
        """The robot's latest pose in memory (world frame) and the bridge's counters."""
        self.require_connected("get_observation()")
        with self._lock:
            pose = self.memory.spatial.pose()
            return {"t": self.memory.now, "pose": pose, "world_frame": self.converter.world_frame(),
                    **self.stats()}

    def send_action(self, action: Any) -> Any:
        """``{"goto": label}`` or a label: publish the Nav2 goal next to where it was last seen.

        Returns the PoseStamped really sent; raises ``LookupError`` when the label was never seen.
        """
        self.require_connected("send_action()")
        label = action.get("goto") if isinstance(action, Mapping) else action
        if not isinstance(label, str) or not label.strip():
            raise TypeError(f"send_action takes {{'goto': label}} or a label, got {action!r}")
        msg = self.goal_for(label)
        if msg is None:
            raise LookupError(f"never saw {label!r}: no goal to send")
        self._transport.publish("goal", msg, TYPES["goal"][1])
        return msg

    def stats(self) -> dict[str, Any]:
        return {"received": dict(self.received), "skipped": dict(self.skipped), "observed": self.observed,
                "answers": self.answers}


def make_transport(config: Ros2BridgeConfig, *, bag: str | Path | None = None, realtime: float = 0.0) -> Any:
    """The transport named by ``config.transport``; imports its middleware only now."""
    if config.transport == "dds":
        from .dds import DdsTransport

        return DdsTransport(config)
    if config.transport == "rclpy":
        from .rclpy_node import RclpyTransport

        return RclpyTransport(config)
    if config.transport == "bag":
        if bag is None:
            raise ValueError("transport 'bag' needs bag=PATH (a rosbag2 folder, .db3 or .mcap file)")
        from .bag import BagTransport

        return BagTransport(bag, realtime=realtime)
    raise ValueError(f"unknown transport {config.transport!r}; use dds, rclpy or bag")
