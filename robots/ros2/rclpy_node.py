"""rclpy transport: the bridge as a real ROS 2 node (Humble or Jazzy, with ROS 2 sourced).

The node subscribes with ``raw=True`` (serialized CDR bytes) and decodes them with rosbags' type
store, and publishes CDR bytes (``Publisher.publish`` accepts ``bytes``), so the converter sees the
same message objects as with the DDS and bag transports. Message classes for subscriptions and
publishers come from ``rosidl_runtime_py.utilities.get_message``.

Parameters (declared on the node, so ``--ros-args -p world_frame:=map`` works):
``world_frame``, ``odom_frame``, ``base_frame``, ``marker_period``, ``map_period``, ``flush_period``;
and rclpy's own ``use_sim_time`` (``-p use_sim_time:=true`` turns on the bridge's ``use_sim_time``:
its time then comes from ``/clock``). QoS: sensor topics (scan, cloud) and ``/clock`` use
``qos.sensor_reliability`` (best effort by default, like ``qos_profile_sensor_data``),
``/tf_static`` is transient local, everything else ``qos.reliability``, all KEEP_LAST with
``qos.depth``; ``/memory/map`` is published reliable, transient local, depth 1 (like map_server).
A ``SingleThreadedExecutor`` spins the node on a background thread; a timer calls ``bridge.tick()``
(markers, map, memory flush) every 0.1 s.

Without rclpy, ``RclpyTransport(...)`` raises ``DependencyNotInstalled`` saying to source ROS 2
(or to use ``transport=dds``).
"""

from __future__ import annotations

import functools
import threading
import time
from typing import Any

from embodied_mem.deps import require

from .types import typestore

__all__ = ["RclpyTransport"]


class RclpyTransport:
    """A ROS 2 node ``embodied_mem_bridge`` carrying the bridge's subscriptions and publishers."""

    def __init__(self, config: Any, node_name: str = "embodied_mem_bridge", *, rclpy_api: Any = None) -> None:
        """``rclpy_api``: an object with ``rclpy``, ``qos``, ``executors``, ``get_message`` and optionally
        ``clock`` (``rclpy.clock``; the contract fake in ``robots/ros2/testing.py``); None imports the
        real rclpy and rosidl_runtime_py."""
        if rclpy_api is None:
            self.rclpy = require("rclpy", "the rclpy transport")
            self.qos = require("rclpy.qos", "the rclpy transport")
            self.executors = require("rclpy.executors", "the rclpy transport")
            self.clock = require("rclpy.clock", "the rclpy transport")
            self.get_message = require("rosidl_runtime_py.utilities", "ROS 2 message classes").get_message
        else:
            self.rclpy, self.qos = rclpy_api.rclpy, rclpy_api.qos
            self.executors, self.get_message = rclpy_api.executors, rclpy_api.get_message
            self.clock = getattr(rclpy_api, "clock", None)
        self.config = config
        self.node_name = node_name
        self.node: Any = None
        self.executor: Any = None
        self.publishers: dict[str, Any] = {}
        self._thread: threading.Thread | None = None
        self._owns_context = False
        self.bridge: Any = None

    def _profile(self, qos: Any, reliability: str, durability: str, depth: int) -> Any:
        return qos.QoSProfile(
            history=qos.HistoryPolicy.KEEP_LAST, depth=int(depth),
            reliability=(qos.ReliabilityPolicy.RELIABLE if reliability == "reliable"
                         else qos.ReliabilityPolicy.BEST_EFFORT),
            durability=(qos.DurabilityPolicy.TRANSIENT_LOCAL if durability == "transient_local"
                        else qos.DurabilityPolicy.VOLATILE))

    def start(self, bridge: Any) -> None:
        from .topics import LATCHED, TYPES

        rclpy, qos, get_message = self.rclpy, self.qos, self.get_message
        self.bridge = bridge
        c = self.config
        if not rclpy.ok():
            rclpy.init(args=None)
            self._owns_context = True
        node = rclpy.create_node(self.node_name)
        self.node = node
        fr = c.frames
        for name, value in (("world_frame", fr.world_frame), ("odom_frame", fr.odom_frame),
                            ("base_frame", fr.base_frame), ("marker_period", float(c.marker_period)),
                            ("map_period", float(c.map_period)), ("flush_period", float(c.flush_period))):
            node.declare_parameter(name, value)
        fr.world_frame = node.get_parameter("world_frame").value
        fr.odom_frame = node.get_parameter("odom_frame").value
        fr.base_frame = node.get_parameter("base_frame").value
        c.marker_period = float(node.get_parameter("marker_period").value)
        c.map_period = float(node.get_parameter("map_period").value)
        c.flush_period = float(node.get_parameter("flush_period").value)
        if node.has_parameter("use_sim_time") and node.get_parameter("use_sim_time").value:
            c.use_sim_time = True  # rclpy declares use_sim_time on every node; --ros-args -p use_sim_time:=true
        if c.pose_source == "auto":
            bridge.converter.pose_source = "odom"
        store = typestore()
        for kind, (topic, typ) in bridge.subscriptions().items():
            sensor = kind in ("scan", "cloud", "clock")
            profile = self._profile(qos, c.qos.sensor_reliability if sensor else c.qos.reliability,
                                    c.qos.tf_static_durability if kind == "tf_static" else "volatile", c.qos.depth)
            cb = functools.partial(self._on_raw, kind, topic, typ, store)
            node.create_subscription(get_message(typ), topic, cb, profile, raw=True)
        for key, (tkey, typ) in TYPES.items():
            topic = getattr(c.topics, tkey)
            if topic:
                profile = (self._profile(qos, "reliable", "transient_local", 1) if key in LATCHED
                           else self._profile(qos, "reliable", "volatile", c.qos.depth))
                self.publishers[key] = node.create_publisher(get_message(typ), topic, profile)
        if self.clock is not None:  # a steady timer: with use_sim_time the node's clock stops when the
            # simulation pauses, but memory flushes must go on (tick paces markers and maps on sim time itself)
            node.create_timer(0.1, self._tick, clock=self.clock.Clock(clock_type=self.clock.ClockType.STEADY_TIME))
        else:
            node.create_timer(0.1, self._tick)
        self.executor = self.executors.SingleThreadedExecutor()
        self.executor.add_node(node)
        self._thread = threading.Thread(target=self._spin, name="embodied-mem-rclpy", daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:  # executor shut down (ExternalShutdownException) while spinning
            pass

    def _now(self) -> float:
        return self.node.get_clock().now().nanoseconds * 1e-9

    def _on_raw(self, kind: str, topic: str, typ: str, store: Any, raw: bytes) -> None:
        try:
            msg = store.deserialize_cdr(bytes(raw), typ)
        except Exception as exc:
            self.bridge.skip("undecodable", f"{type(exc).__name__}: {exc}", topic)
            return
        self.bridge.handle(kind, topic, msg, self._now())

    def _tick(self) -> None:
        self.bridge.tick()

    def publish(self, key: str, msg: Any, type_name: str) -> None:
        pub = self.publishers.get(key)
        if pub is not None:
            pub.publish(bytes(typestore().serialize_cdr(msg, type_name)))

    def stop(self) -> None:
        if self.executor is not None:
            self.executor.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        if self.node is not None:
            self.node.destroy_node()
            self.node = None
        if self._owns_context and self.rclpy.ok():
            self.rclpy.shutdown()
            self._owns_context = False

    def run(self, duration: float | None = None) -> dict[str, Any]:
        t0 = time.monotonic()
        try:
            while (duration is None or time.monotonic() - t0 < duration) and self.rclpy.ok():
                time.sleep(0.1)
        except KeyboardInterrupt:
            pass
        return {"wall_s": time.monotonic() - t0, **self.bridge.stats()}
