"""``Ros2Bridge``: ROS 2 messages in, memory answers, RViz markers and Nav2 goals out.

The bridge is transport-agnostic: a transport (``dds``, ``rclpy`` or ``bag``) delivers messages
with ``bridge.handle(kind, topic, msg, recv_t)`` and publishes what the bridge hands back through
``transport.publish(key, msg, type_name)`` (rosbags message objects; every transport can send
them, as CDR bytes are the same everywhere).

Message kinds: ``odom`` (nav_msgs/Odometry), ``tf`` / ``tf_static`` (tf2_msgs/TFMessage),
``pose`` (geometry_msgs/PoseStamped or PoseWithCovarianceStamped), ``scan``
(sensor_msgs/LaserScan), ``cloud`` (sensor_msgs/PointCloud2), ``detections``
(vision_msgs/Detection3DArray), ``detections_json`` and ``query`` (std_msgs/String, JSON), and
``clock`` (rosgraph_msgs/Clock, only with ``use_sim_time``), ``task`` (std_msgs/String, JSON task
request: handed to the ``on_task`` callbacks, i.e. the task runner, ``task_runner.py``).

Time: ``bridge.now()`` is the bridge's clock, seconds: the wall clock, or with ``use_sim_time`` the
latest ``/clock`` (like a ROS node's clock with ``use_sim_time:=true``; bag replay without a
recorded ``/clock`` sets it from the recorded times, like ``ros2 bag play --clock``). It stamps
the map, stands in for a message's zero header stamp, and paces the marker and map periods (with
``use_sim_time``, seconds of simulated/recorded time; a jump back, e.g. a looping bag, restarts
them); markers and goals carry memory's latest time (message stamps). Before the first ``/clock``
no marker or map is published and zero-stamped messages are skipped as ``no_clock``. Memory
flushes stay on the wall clock.

Outputs: ``/memory/answer``, ``/memory/markers`` (every ``marker_period`` s), ``/goal_pose`` and
``/memory/map`` (nav_msgs/OccupancyGrid every ``map_period`` s, transient local: see
``outputs.occupancy_grid`` for its bounds and values); with a task runner attached also
``/memory/task_status`` (JSON), ``/memory/plan`` (MarkerArray) and ``/cmd_vel`` (Twist).

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
from .topics import KINDS, LATCHED, TYPES

__all__ = ["Ros2Bridge", "Transport", "DirectTransport", "KINDS", "TYPES", "LATCHED"]

log = logging.getLogger("embodied_mem.robots.ros2")



class _Wait(Exception):
    """A message needs a transform TF does not hold yet (``limit``: s it may wait; ``reason`` if dropped)."""

    def __init__(self, reason: str, limit: float, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.limit = limit


def _size_of(msg: Any) -> int:
    """Rough bytes of a message's bulk data (what waiting for TF costs)."""
    for name in ("data", "ranges", "detections"):
        v = getattr(msg, name, None)
        if v is not None:
            try:
                return 256 + len(v) * (4 if name == "ranges" else 1 if name == "data" else 512)
            except TypeError:
                pass
    return 256


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
        self.on_task: list[Callable[[str], None]] = []  # JSON task requests from topics.task (the task runner)
        self.on_tick: list[Callable[[], None]] = []  # called on every tick(), on the transport's thread
        self._last_tick = {"markers": -math.inf, "map": -math.inf, "flush": time.monotonic()}
        self.sim_time: float | None = None  # latest /clock (s) with use_sim_time; None before the first
        self._log_budget: Counter[str] = Counter()
        # topic -> messages waiting for TF: (kind, message, receive time, newest TF stamp on arrival)
        self._waiting: dict[str, deque[tuple[str, Any, float | None, float | None]]] = {}
        self._waiting_bytes = 0
        self._waiting_newest: dict[str, float] = {}  # topic -> newest stamp queued
        self._pose_seen: float | None = None  # newest stamp (s) of a pose message received (odom / pose topic)

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
            if kind == "clock" and not c.use_sim_time:
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
        counted in ``skipped`` and dropped, leaving memory unchanged (a bad query gets an error
        answer). Returns the percepts observed.

        A sensor message stamped after the newest transform it needs waits (like tf2's message
        filter) until TF catches up, at most ``frames.tf_wait`` s of TF time; one whose frame has no
        chain to the world yet (the static ``map -> odom`` comes a little later, TF just started)
        waits up to ``frames.tf_chain_wait`` s. At most ``frames.max_waiting`` messages per topic
        and ``frames.max_waiting_bytes`` in all wait; later messages of a topic queue behind its
        first, so each topic keeps its time order."""
        self.require_connected("handle()")
        with self._lock:
            self.received[kind] += 1
            if kind not in KINDS:
                raise ValueError(f"unknown message kind {kind!r}; known: {sorted(KINDS)}")
            try:
                return self._handle(kind, topic, msg, recv_t)
            except Exception as exc:  # a bug or an input no check foresaw: count it, keep the bridge running
                if self.skipped["error"] < 3:  # the traceback of the first few (rate-limited like skips)
                    log.exception("error handling a %s message on %s", kind, topic)
                self._skip("error", f"{type(exc).__name__}: {exc}", topic)
                if kind == "query":
                    self._reply({"id": None, "op": None, "ok": False, "error": f"internal error: {type(exc).__name__}"})
                return []

    def _handle(self, kind: str, topic: str, msg: Any, recv_t: float | None) -> list[Percept]:
        if kind == "clock":
            self._on_clock(msg, topic)
            return []
        if self.config.use_sim_time:
            recv_t = self.sim_time  # the transport's wall-clock receive time means nothing in simulation
            if recv_t is None and kind not in ("tf", "tf_static", "query", "detections_json") and _stamp_or_none(msg) in (None, 0.0):
                self._skip("no_clock", "a zero-stamped message before the first /clock (use_sim_time is on)", topic)
                return []
        if kind == "task":
            self._on_task(msg, topic)
            return []
        if kind in ("odom", "pose") and self.converter.pose_source in (kind, "auto"):
            self._note_pose_message(msg, recv_t)
        if kind == "query":
            text = getattr(msg, "data", None)
            if not isinstance(text, str):
                self._skip("malformed", f"a query must be a std_msgs/String, got {type(msg).__name__}", topic)
                self._reply({"id": None, "op": None, "ok": False, "error": "a query must be a std_msgs/String"})
                return []
            self._answer(text, topic)
            return []
        if kind in ("tf", "tf_static"):
            out = self._convert(kind, topic, msg, recv_t)
            return out + self._retry_waiting()
        queue = self._waiting.get(topic)
        arrival = self.converter.tf.newest_stamp()
        if queue:
            self._enqueue(topic, (kind, msg, recv_t, arrival))
            head = _stamp_or_none(queue[0][1])
            fr = self.config.frames
            if head is not None and self._waiting_newest.get(topic, head) - head > min(fr.tf_wait, fr.tf_chain_wait):
                return self._retry_topic(topic)  # the topic moved on: its first may have waited long enough
            return []
        try:
            return self._convert(kind, topic, msg, recv_t, may_wait=True)
        except _Wait:
            self._enqueue(topic, (kind, msg, recv_t, arrival))
            return []

    def _note_pose_message(self, msg: Any, recv_t: float | None) -> None:
        st = _stamp_or_none(msg)
        if st == 0.0:
            st = recv_t
        if st is not None and math.isfinite(st):
            self._pose_seen = st if self._pose_seen is None else max(self._pose_seen, st)

    def pose_lag(self) -> float | None:
        """How many seconds (message time) memory's robot pose lags behind what the robot has sent;
        0.0 when it is current, None before the first pose.

        The reference is the newest pose message received (odometry or the pose topic, converted
        or not) and, with a pose source that publishes continuously (odometry, TF), the newest
        ``/tf`` transform, capped at memory's clock (so one message stamped in the future cannot make
        the pose look stale for good); the pose's time is that of the newest pose the converter
        accepted (a pose held back by keyframing is within ``min_pose_distance`` of memory's). Pose
        messages waiting for a transform, dropped or refused make the lag grow; a robot standing
        still whose pose topic publishes only on movement (AMCL's ``/amcl_pose``) has none."""
        with self._lock:
            conv = self.converter
            if conv is None or conv.pose_stamp is None:
                return None
            ref = self._pose_seen
            if conv.pose_source in ("odom", "tf", "auto"):
                tf = conv.tf.newest_stamp()
                if tf is not None:
                    ref = tf if ref is None else max(ref, tf)
            now = self.memory.now if self.memory is not None else None
            if ref is None:
                return 0.0
            if now is not None and math.isfinite(now):
                ref = min(ref, now)
            return max(0.0, ref - conv.pose_stamp)

    def _on_task(self, msg: Any, topic: str) -> None:
        text = getattr(msg, "data", None)
        if not isinstance(text, str):
            self._skip("malformed", f"a task must be a std_msgs/String, got {type(msg).__name__}", topic)
            return
        if len(text) > self.config.limits.max_json_bytes:
            self._skip("too_large", f"a task of {len(text)} characters", topic)
            text = "{}"  # answered as a bad task below
        if not self.on_task:
            self._skip("no_task_runner", "a task came but no task runner is attached", topic)
            self.publish_json("task_status", {"id": None, "state": "error",
                                              "error": "this bridge runs no task runner (embodied-mem robot run tasks=true)"})
            return
        for cb in self.on_task:
            cb(text)

    def _enqueue(self, topic: str, entry: tuple[str, Any, float | None, float | None]) -> None:
        """Queue a message behind its topic's waiting ones; drop the oldest beyond the bounds."""
        fr = self.config.frames
        queue = self._waiting.setdefault(topic, deque())
        queue.append(entry)
        size = _size_of(entry[1])
        self._waiting_bytes += size
        st = _stamp_or_none(entry[1])
        if st is not None:
            self._waiting_newest[topic] = max(st, self._waiting_newest.get(topic, st))
            if st > 0:
                self.converter.note_time(st)
        while queue and (len(queue) > fr.max_waiting or self._waiting_bytes > fr.max_waiting_bytes):
            old = queue.popleft()
            self._waiting_bytes -= _size_of(old[1])
            self._skip("tf_timeout", f"more than {fr.max_waiting} messages or {fr.max_waiting_bytes} bytes waiting "
                                     f"for a transform", topic)
        if not queue:
            del self._waiting[topic]
            self._waiting_newest.pop(topic, None)

    def _convert(self, kind: str, topic: str, msg: Any, recv_t: float | None, may_wait: bool = False) -> list[Percept]:
        conv = self.converter
        assert conv is not None
        fr = self.config.frames
        try:
            if kind in ("tf", "tf_static"):
                percepts, problems = conv.on_tf(msg, static=kind == "tf_static", recv_t=recv_t)
                for pr in problems:
                    self._skip(pr.reason if isinstance(pr, MalformedMessage) else "tf", str(pr), topic)
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
            if may_wait and exc.reason == "tf_wait":
                raise _Wait("tf_timeout", fr.tf_wait, str(exc)) from None
            if may_wait and exc.wait:
                raise _Wait(exc.reason, fr.tf_chain_wait, str(exc)) from None
            self._skip("tf" if exc.reason == "tf_wait" else exc.reason, str(exc), topic)
            return []
        except (PerceptError, PerceptTypeError, AttributeError, TypeError, ValueError, OverflowError,
                RecursionError) as exc:
            self._skip("malformed", f"{type(exc).__name__}: {exc}", topic)
            return []
        out = []
        for p in percepts:
            if p is not None and self._observe(p):
                out.append(p)
        return out

    def _retry_waiting(self) -> list[Percept]:
        """After new TF: convert waiting messages in order; drop those whose wait ran out."""
        out: list[Percept] = []
        for topic in list(self._waiting):
            out += self._retry_topic(topic)
        return out

    def _retry_topic(self, topic: str) -> list[Percept]:
        """Convert ``topic``'s waiting messages in order; drop those whose wait ran out (TF moved on
        past their limit, or their topic did)."""
        out: list[Percept] = []
        queue = self._waiting.get(topic)
        newest = self.converter.tf.newest_stamp() if self.converter else None
        while queue:
            kind, msg, recv_t, arrival = queue[0]
            try:
                out += self._convert(kind, topic, msg, recv_t, may_wait=True)
            except _Wait as w:
                st = _stamp_or_none(msg)
                moved_on = newest is not None and arrival is not None and newest - arrival > w.limit
                far_ahead = newest is not None and st is not None and st - newest > w.limit
                topic_on = st is not None and self._waiting_newest.get(topic, st) - st > w.limit
                if not (moved_on or far_ahead or topic_on):
                    break  # keep waiting (and keep the topic's order)
                queue.popleft()
                self._waiting_bytes -= _size_of(msg)
                where = f"stamp {st:.3f}" if st is not None else "its stamp"
                self._skip(w.reason, f"no transform for {where} within {w.limit} s: {w}", topic)
                continue
            queue.popleft()
            self._waiting_bytes -= _size_of(msg)
        if not queue:
            self._waiting.pop(topic, None)
            self._waiting_newest.pop(topic, None)
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

    def skip(self, reason: str, detail: str, topic: str) -> None:
        """Count a message dropped for ``reason`` (and log it, rate-limited); transports call this too."""
        self._skip(reason, detail, topic)

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
                for kind, msg, recv_t, _ in queue:
                    try:  # one last try; what still fails is counted under its own reason
                        self._convert(kind, topic, msg, recv_t, may_wait=True)
                    except _Wait as w:
                        self._skip(w.reason, f"still waiting for a transform at the end: {w}", topic)
            self._waiting.clear()
            self._waiting_newest.clear()
            self._waiting_bytes = 0
            for p in self.converter.finish() if self.converter else []:
                self._observe(p)

    # ------------------------------------------------------------------ time
    def _on_clock(self, msg: Any, topic: str) -> None:
        try:
            st = msg.clock
            t = float(st.sec) + float(st.nanosec) * 1e-9
        except (AttributeError, TypeError, ValueError) as exc:
            self._skip("malformed", f"a /clock message must be rosgraph_msgs/Clock: {exc}", topic)
            return
        if not math.isfinite(t) or t < 0:
            self._skip("bad_stamp", f"/clock {t}", topic)
            return
        self.set_sim_time(t)

    def set_sim_time(self, t: float) -> None:
        """Advance the simulated clock to ``t`` s (``/clock``, or a bag's recorded time). A jump back
        (a looping bag, a restarted simulation) restarts the marker and map periods."""
        if self.sim_time is not None and t < self.sim_time:
            log.warning("/clock jumped back from %.3f to %.3f s: restarting periodic output", self.sim_time, t)
            self._last_tick["markers"] = self._last_tick["map"] = -math.inf
        self.sim_time = float(t)

    def now(self) -> float | None:
        """The bridge's clock in seconds: wall time, or the latest /clock with ``use_sim_time`` (None before it)."""
        return self.sim_time if self.config.use_sim_time else time.time()

    # ------------------------------------------------------------------ periodic work
    def tick(self, now: float | None = None) -> None:
        """Publish markers and the map when their periods have passed on the bridge's clock (``now``:
        that clock's time, default ``now()``), and flush memory every ``flush_period`` s of wall time
        (transports call this often)."""
        if not self.is_connected:
            return
        c = self.config
        now = self.now() if now is None else now
        if now is not None:
            if c.marker_period > 0 and now - self._last_tick["markers"] >= c.marker_period:
                self._last_tick["markers"] = now
                self.publish_markers()
            if c.map_period > 0 and c.topics.map and now - self._last_tick["map"] >= c.map_period:
                self._last_tick["map"] = now
                self.publish_map()
        for cb in self.on_tick:
            try:
                cb()
            except Exception:  # a task runner's bug must not stop the bridge
                self.skipped["tick_error"] += 1
                if self.skipped["tick_error"] <= 3:
                    log.exception("error in a tick callback (task runner)")
        wall = time.monotonic()
        if wall - self._last_tick["flush"] >= c.flush_period:
            self._last_tick["flush"] = wall
            with self._lock:
                self.memory.flush()

    def publish_map(self) -> Any:
        """Publish memory's occupancy as nav_msgs/OccupancyGrid on ``topics.map`` (bounded by
        ``map_window``, stamped ``now()``); returns it, or None while no cell is known."""
        from .outputs import occupancy_grid

        with self._lock:
            msg = occupancy_grid(self.memory, self.converter.world_frame(), self.now(), window=self.config.map_window)
        if msg is not None:
            self._transport.publish("map", msg, TYPES["map"][1])
        return msg

    def publish_markers(self) -> Any:
        from .outputs import marker_array

        with self._lock:
            msg = marker_array(self.memory, self.converter.world_frame(), stamp=self.memory.now)
        self._transport.publish("markers", msg, TYPES["markers"][1])
        return msg

    def publish(self, key: str, msg: Any) -> None:
        """Publish ``msg`` (a rosbags message object) on the output ``key`` of ``topics.TYPES``
        (answer, markers, goal, map, task_status, plan, cmd_vel); nothing when its topic is off."""
        if key not in TYPES:
            raise ValueError(f"unknown output {key!r}; outputs: {sorted(TYPES)}")
        if getattr(self.config.topics, TYPES[key][0]):
            self._transport.publish(key, msg, TYPES[key][1])

    def publish_json(self, key: str, obj: Mapping[str, Any]) -> None:
        """Publish ``obj`` as JSON text (std_msgs/String) on output ``key``."""
        from .outputs import string_msg

        self.publish(key, string_msg(json.dumps(obj, allow_nan=False, default=str)))

    @property
    def lock(self) -> threading.RLock:
        """The lock that serialises message handling and memory access (hold it to read memory from
        another thread)."""
        return self._lock

    def use_memory(self, memory: Any) -> Any:
        """Write into ``memory`` from now on (e.g. a fresh one per task for a memoryless baseline);
        returns the memory used so far (its owner closes it)."""
        from .convert import OccupancyMirror

        with self._lock:
            old, self.memory = self.memory, memory
            if self.converter is not None:  # it sends only changed cells: the new memory needs them all
                self.converter.mirror = OccupancyMirror()
            return old

    # ------------------------------------------------------------------ queries
    def answer(self, request: str | Mapping[str, Any]) -> dict[str, Any]:
        """Answer one query (JSON text or mapping) from memory; see the module docstring for ops."""
        from .outputs import answer_query

        self.require_connected("answer()")
        with self._lock:
            return answer_query(self, request)

    def _answer(self, text: str, topic: str) -> None:
        limit = self.config.limits.max_json_bytes
        if len(text) > limit:
            self._skip("too_large", f"a query of {len(text)} characters (limit {limit})", topic)
            self._reply({"id": None, "op": None, "ok": False,
                         "error": f"request of {len(text)} characters is longer than {limit}"})
            return
        reply = self.answer(text)
        if not reply.get("ok"):
            self._skip("bad_query", str(reply.get("error")), topic)
        self._reply(reply)

    def _reply(self, reply: dict[str, Any]) -> None:
        from .outputs import string_msg

        try:
            text = json.dumps(reply, allow_nan=False)
        except (TypeError, ValueError, OverflowError, RecursionError) as exc:
            text = json.dumps({"id": None, "op": reply.get("op") if isinstance(reply.get("op"), str) else None,
                               "ok": False, "error": f"the answer cannot be sent as JSON: {type(exc).__name__}"})
        self.answers += 1
        self._transport.publish("answer", string_msg(text), TYPES["answer"][1])

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
