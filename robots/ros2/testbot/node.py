"""The test robot as a ROS 2 process over DDS (cyclonedds, ROS 2 wire types; no ROS installation).

``TestbotNode(sim).run(duration)`` steps ``TestbotSim`` in simulated time, ``rate`` × faster than
real time (0: as fast as it can), publishes what each step produces and reads ``/goal_pose``
(geometry_msgs/PoseStamped), ``/cmd_vel`` (geometry_msgs/Twist) and ``/testbot/doors`` (non-standard,
a test harness's control: std_msgs/String ``{"closed": [door indices]}``) between steps. QoS as on a
real robot: ``/scan`` and camera images best effort, ``/tf_static`` and ``/testbot/goal_status``
transient local (late joiners get the last one), everything else reliable; ``/cmd_vel`` is read
best effort (so any publisher matches), ``/goal_pose`` reliable. A malformed command is logged and
ignored; the robot keeps running. Stops after ``duration`` s of simulated time, or on SIGINT/SIGTERM.
"""

from __future__ import annotations

import json
import logging
import math
import signal
import threading
import time
from collections import Counter
from typing import Any

from .sim import TOPICS, TestbotSim

__all__ = ["TestbotNode"]

log = logging.getLogger("embodied_mem.robots.ros2.testbot")

_QOS: dict[str, dict[str, Any]] = {
    "/tf_static": {"durability": "transient_local", "depth": 1},
    "/testbot/goal_status": {"durability": "transient_local", "depth": 1},
    "/scan": {"reliability": "best_effort", "depth": 5},
    "/camera/image_raw": {"reliability": "best_effort", "depth": 2},
    "/camera/depth/image_raw": {"reliability": "best_effort", "depth": 2},
    "/camera/camera_info": {"reliability": "best_effort", "depth": 2},
}


def _yaw(q: Any) -> float:
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


class TestbotNode:
    """Publishes ``sim``'s messages on DDS domain ``domain_id`` and feeds it the commands it receives."""

    __test__ = False

    def __init__(self, sim: TestbotSim, domain_id: int = 0, rate: float = 1.0, depth: int = 50) -> None:
        from ..dds import DdsPeer

        if not (math.isfinite(rate) and rate >= 0):
            raise ValueError(f"rate must be >= 0 (times real time; 0: as fast as possible), got {rate}")
        self.sim = sim
        self.rate = float(rate)
        self.peer = DdsPeer(domain_id)
        self.counts: Counter[str] = Counter()
        self.commands: Counter[str] = Counter()
        self.ignored: Counter[str] = Counter()
        self._stop = threading.Event()
        for topic, typ in TOPICS.items():
            self.peer.writer(topic, typ, **{"depth": depth, **_QOS.get(topic, {})})
        self.peer.subscribe("/goal_pose", "geometry_msgs/msg/PoseStamped", reliability="reliable")
        self.peer.subscribe("/cmd_vel", "geometry_msgs/msg/Twist", reliability="best_effort")
        self.peer.subscribe("/testbot/doors", "std_msgs/msg/String", reliability="reliable")

    def stop(self) -> None:
        self._stop.set()

    def wait_for_readers(self, topics: tuple[str, ...] | list[str], timeout: float = 30.0) -> None:
        """Hold simulated time until each of ``topics`` has a peer: a reader of a topic the robot
        publishes, a writer of one it reads (``/goal_pose``, ``/cmd_vel``); TimeoutError after ``timeout`` s."""
        def missing() -> list[str]:
            return [t for t in topics
                    if (self.peer.matched_publishers(t) if t in ("/goal_pose", "/cmd_vel") else self.peer.matched(t)) == 0]

        for t in topics:
            if t not in TOPICS and t not in ("/goal_pose", "/cmd_vel"):
                raise ValueError(f"--wait-for {t!r}: not a topic of the test robot ({sorted(TOPICS)}, /goal_pose, /cmd_vel)")
        t0 = time.monotonic()
        while missing():
            if self._stop.is_set():
                return
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"no DDS peer matched {missing()} within {timeout} s")
            time.sleep(0.02)

    def _commands(self) -> None:
        for s in self.peer.read("/goal_pose"):
            try:
                p, q = s.pose.position, s.pose.orientation
                has_yaw = any((q.x, q.y, q.z, q.w))  # an all-zero quaternion: no yaw asked for
                g = self.sim.set_goal(float(p.x), float(p.y), _yaw(q) if has_yaw else None, frame=s.header.frame_id)
                self.commands["goal_pose"] += 1
                log.info("goal %d (%s): %s %s", g.id, s.header.frame_id, g.state, g.reason)
            except Exception as exc:  # a robot logs and skips a bad message, and keeps running
                self.ignored["goal_pose"] += 1
                log.warning("ignored a /goal_pose message: %s: %s", type(exc).__name__, exc)
        for s in self.peer.read("/cmd_vel"):
            try:
                v, w = float(s.linear.x), float(s.angular.z)
                if not (math.isfinite(v) and math.isfinite(w)):
                    raise ValueError(f"cmd_vel holds NaN or inf: linear.x {v}, angular.z {w}")
                self.sim.set_cmd_vel(v, w)
                self.commands["cmd_vel"] += 1
            except Exception as exc:
                self.ignored["cmd_vel"] += 1
                log.warning("ignored a /cmd_vel message: %s: %s", type(exc).__name__, exc)

        for s in self.peer.read("/testbot/doors"):
            try:
                req = json.loads(s.data)
                if not isinstance(req, dict) or not isinstance(req.get("closed"), list):
                    raise ValueError('expected {"closed": [door indices]}')
                self.sim.set_doors(req["closed"])
                self.commands["doors"] += 1
                log.info("doors closed now: %s", list(self.sim.closed_doors))
            except Exception as exc:
                self.ignored["doors"] += 1
                log.warning("ignored a /testbot/doors message: %s: %s", type(exc).__name__, exc)

    def run(self, duration: float | None = None) -> dict[str, Any]:
        """Step for ``duration`` s of simulated time (None: until ``stop()``/a signal); returns a summary."""
        sim = self.sim
        t_start, w_start = sim.t, time.monotonic()
        while not self._stop.is_set() and (duration is None or sim.t - t_start < duration - 1e-9):
            self._commands()
            for topic, typ, msg in sim.step():
                self.peer.publish(topic, msg, typ, **_QOS.get(topic, {}))
                self.counts[topic] += 1
            if self.rate > 0:
                wait = w_start + (sim.t - t_start) / self.rate - time.monotonic()
                if wait > 0:
                    self._stop.wait(wait)
        time.sleep(0.3)  # let reliable writers deliver the last messages
        wall = time.monotonic() - w_start
        return {**sim.summary(), "wall_s": wall, "x_realtime": (sim.t - t_start) / wall if wall > 0 else None,
                "published": dict(self.counts), "commands": dict(self.commands), "ignored": dict(self.ignored)}

    def install_signal_handlers(self) -> None:
        """SIGINT / SIGTERM stop the loop (the summary is still returned)."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stop())

    def close(self) -> None:
        self.peer.close()
