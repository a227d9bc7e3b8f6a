"""DDS transport: join a ROS 2 graph with cyclonedds alone (no ROS installation).

ROS 2 maps a topic ``/odom`` of type ``nav_msgs/msg/Odometry`` to the DDS topic ``rt/odom`` with
type name ``nav_msgs::msg::dds_::Odometry_`` and CDR-encoded data; ``types.idl_type`` builds the
matching cyclonedds types from rosbags' ROS 2 Humble definitions, so ROS 2 nodes on the same
domain (and tools like ``cyclonedds ls`` / ``subscribe``) see the bridge's topics as ROS 2 topics.

Cyclone DDS reads its configuration from ``CYCLONEDDS_URI``. ``LOOPBACK_URI`` is a loopback-only
configuration (no multicast, peer 127.0.0.1) for tests and single-machine use; Cyclone still binds
its discovery sockets to all addresses, so run tests in a private network namespace.

``DdsTransport`` (used by the bridge) reads every subscribed topic on one thread that waits on a
WaitSet, so a sample is handled as soon as it arrives; each wake-up reads ``/clock`` and TF first
(``reading_order``), so a backlog of odometry or scans finds the transforms that place it. ``DdsPeer`` is a small helper to publish and
read ROS 2 messages (rosbags objects) over DDS: a stand-in robot, a query client, a test peer.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from embodied_mem.deps import require

from .types import idl_type, ros_type_name, to_idl

__all__ = ["DdsTransport", "DdsPeer", "LOOPBACK_URI", "dds_topic", "reading_order"]

log = logging.getLogger("embodied_mem.robots.ros2.dds")

LOOPBACK_URI = (
    '<CycloneDDS><Domain Id="any"><General><Interfaces><NetworkInterface name="lo"/></Interfaces>'
    "<AllowMulticast>false</AllowMulticast></General><Discovery><Peers><Peer address=\"127.0.0.1\"/></Peers>"
    "<ParticipantIndex>auto</ParticipantIndex><MaxAutoParticipantIndex>50</MaxAutoParticipantIndex></Discovery>"
    "</Domain></CycloneDDS>"
)


def dds_topic(ros_topic: str) -> str:
    """``/memory/query`` -> ``rt/memory/query`` (ROS 2's DDS topic prefix for plain topics)."""
    if not ros_topic or not ros_topic.startswith("/"):
        raise ValueError(f"ROS 2 topic names must start with '/', got {ros_topic!r}")
    return "rt" + ros_topic


def _qos(reliability: str = "reliable", durability: str = "volatile", depth: int = 10) -> Any:
    from cyclonedds.core import Policy, Qos
    from cyclonedds.util import duration

    rel = (Policy.Reliability.Reliable(duration(seconds=1)) if reliability == "reliable"
           else Policy.Reliability.BestEffort)
    dur = Policy.Durability.TransientLocal if durability == "transient_local" else Policy.Durability.Volatile
    return Qos(rel, dur, Policy.History.KeepLast(depth))


# read first on every wake-up: the clock, then the transforms the other messages are placed with
_FIRST = ("clock", "tf_static", "tf")


def reading_order(subscriptions: dict[str, tuple[str, str]]) -> list[tuple[str, tuple[str, str]]]:
    """The order the transport reads its topics in: ``/clock`` and TF before the messages that
    need them. A backlog (the bridge busy, the CPU loaded) holds odometry, scans and detections
    stamped up to seconds after the newest transform the bridge has; read before the ``/tf`` that
    places them, they would wait for it and the ones the bridge gives up on (``frames.tf_wait``)
    would be dropped, freezing memory's pose while its clock runs on."""
    return sorted(subscriptions.items(), key=lambda kv: _FIRST.index(kv[0]) if kv[0] in _FIRST else len(_FIRST))


class DdsTransport:
    """The bridge's DDS link: readers for its inputs, writers for answers, markers and goals."""

    def __init__(self, config: Any, poll_period: float = 0.05) -> None:
        require("cyclonedds", "the DDS transport")
        self.config = config
        self.poll_period = float(poll_period)
        self.dp: Any = None
        self.readers: list[tuple[str, str, type, Any]] = []  # (kind, topic, sample type, reader)
        self.writers: dict[str, Any] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.bridge: Any = None
        self.errors = 0

    def start(self, bridge: Any) -> None:
        from cyclonedds.domain import DomainParticipant
        from cyclonedds.pub import DataWriter
        from cyclonedds.sub import DataReader
        from cyclonedds.topic import Topic

        from .topics import LATCHED, TYPES

        self.bridge = bridge
        c = self.config
        if c.pose_source == "auto":
            bridge.converter.pose_source = "odom"
        self.dp = DomainParticipant(int(c.domain_id))
        for kind, (topic, typ) in reading_order(bridge.subscriptions()):
            T = idl_type(typ)
            sensor = kind in ("scan", "cloud", "clock")  # /clock: best effort matches any publisher
            qos = _qos(c.qos.sensor_reliability if sensor else c.qos.reliability,
                       c.qos.tf_static_durability if kind == "tf_static" else "volatile", c.qos.depth)
            tp = Topic(self.dp, dds_topic(topic), T)
            self.readers.append((kind, topic, T, DataReader(self.dp, tp, qos=qos)))
        for key, (tkey, typ) in TYPES.items():
            topic = getattr(c.topics, tkey)
            if topic:
                tp = Topic(self.dp, dds_topic(topic), idl_type(typ))
                qos = (_qos("reliable", "transient_local", 1) if key in LATCHED
                       else _qos("reliable", "volatile", c.qos.depth))
                self.writers[key] = DataWriter(self.dp, tp, qos=qos)
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="embodied-mem-dds", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        from cyclonedds.core import InstanceState, ReadCondition, SampleState, ViewState, WaitSet
        from cyclonedds.util import duration

        ws = WaitSet(self.dp)
        mask = SampleState.NotRead | ViewState.Any | InstanceState.Any
        conds = []
        for _, _, _, r in self.readers:
            rc = ReadCondition(r, mask)
            ws.attach(rc)
            conds.append(rc)
        timeout = duration(seconds=self.poll_period)
        bridge = self.bridge
        while not self._stop.is_set():
            ws.wait(timeout)
            for kind, topic, T, reader in self.readers:
                try:
                    samples = reader.take(N=256)
                except Exception as exc:  # a sample cyclonedds cannot decode: count and go on
                    self.errors += 1
                    bridge.skip("undecodable", f"{type(exc).__name__}: {exc}", topic)
                    continue
                for s in samples:
                    if isinstance(s, T):  # take() also yields InvalidSample for instance state changes
                        try:
                            bridge.handle(kind, topic, s, time.time())
                        except Exception:  # never let one message kill the reader thread
                            self.errors += 1
                            log.exception("error while handling a message on %s", topic)
            try:
                bridge.tick()
            except Exception:
                self.errors += 1
                log.exception("error in periodic work (markers, flush)")
        for rc in conds:
            ws.detach(rc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        self.readers.clear()
        self.writers.clear()
        self.dp = None  # cyclonedds deletes entities when they are garbage collected

    def publish(self, key: str, msg: Any, type_name: str) -> None:
        w = self.writers.get(key)
        if w is None:
            return  # that output is switched off (empty topic name)
        w.write(to_idl(msg, type_name))

    def run(self, duration: float | None = None) -> dict[str, Any]:
        """Block for ``duration`` seconds (None: until KeyboardInterrupt); messages are handled meanwhile."""
        t0 = time.monotonic()
        try:
            while duration is None or time.monotonic() - t0 < duration:
                time.sleep(0.1)
        except KeyboardInterrupt:
            pass
        return {"wall_s": time.monotonic() - t0, **self.bridge.stats()}


class DdsPeer:
    """Publish and read ROS 2 messages over DDS without ROS: ``publish("/odom", msg, "nav_msgs/msg/Odometry")``.

    Messages are rosbags objects (``types.typestore().types[...]``); ``read(topic)`` returns the
    DDS samples received so far (attribute access like ROS messages).
    """

    def __init__(self, domain_id: int = 0) -> None:
        require("cyclonedds", "DDS")
        from cyclonedds.domain import DomainParticipant

        self.dp = DomainParticipant(int(domain_id))
        self._writers: dict[str, Any] = {}
        self._readers: dict[str, tuple[type, Any]] = {}

    def writer(self, topic: str, type_name: str, reliability: str = "reliable", durability: str = "volatile",
               depth: int = 10) -> Any:
        from cyclonedds.pub import DataWriter
        from cyclonedds.topic import Topic

        if topic not in self._writers:
            tp = Topic(self.dp, dds_topic(topic), idl_type(ros_type_name(type_name)))
            self._writers[topic] = DataWriter(self.dp, tp, qos=_qos(reliability, durability, depth))
        return self._writers[topic]

    def publish(self, topic: str, msg: Any, type_name: str, **qos: Any) -> None:
        """Publish a rosbags message; the writer (with ``qos``) is made on first use of ``topic``."""
        self.writer(topic, type_name, **qos).write(to_idl(msg, type_name))

    def subscribe(self, topic: str, type_name: str, reliability: str = "reliable", durability: str = "volatile",
                  depth: int = 100) -> None:
        from cyclonedds.sub import DataReader
        from cyclonedds.topic import Topic

        if topic not in self._readers:
            T = idl_type(ros_type_name(type_name))
            tp = Topic(self.dp, dds_topic(topic), T)
            self._readers[topic] = (T, DataReader(self.dp, tp, qos=_qos(reliability, durability, depth)))

    def read(self, topic: str) -> list[Any]:
        T, r = self._readers[topic]
        return [s for s in r.take(N=1000) if isinstance(s, T)]

    def matched(self, topic: str) -> int:
        """Number of remote readers matched by this peer's writer on ``topic`` (0 if none yet)."""
        w = self._writers.get(topic)
        if w is None:
            return 0
        try:
            return len(w.get_matched_subscriptions())
        except Exception:
            return 0

    def matched_publishers(self, topic: str) -> int:
        """Number of remote writers matched by this peer's reader on ``topic`` (0 if none yet)."""
        entry = self._readers.get(topic)
        if entry is None:
            return 0
        try:
            return len(entry[1].get_matched_publications())
        except Exception:
            return 0

    def wait_for(self, topic: str, timeout: float = 10.0, n: int = 1) -> list[Any]:
        """Read ``topic`` until ``n`` samples came or ``timeout`` s passed; returns what came."""
        out: list[Any] = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout and len(out) < n:
            out += self.read(topic)
            if len(out) < n:
                time.sleep(0.01)
        return out

    def close(self) -> None:
        self._writers.clear()
        self._readers.clear()
        self.dp = None
