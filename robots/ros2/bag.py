"""Offline transport: replay a rosbag2 recording (sqlite3 or mcap) into the bridge, through rosbags.

``BagTransport(path, realtime=0)`` reads a rosbag2 folder (with ``metadata.yaml``), a ``.db3`` file
inside one, or a bare ``.mcap`` file. Message types come from the bag's embedded definitions when it
has them, else from the standard ROS 2 Humble type store (plus vision_msgs). ``realtime=0`` replays
as fast as possible; ``realtime=k`` paces messages at k × the recorded speed. Each message's receive
time is its bag timestamp (s), used when a header stamp is zero. With ``use_sim_time`` the bridge's
clock follows the recording: its ``/clock`` topic when it has one, else each message's bag
timestamp (what ``ros2 bag play --clock`` publishes), and markers and maps come out every
``marker_period`` / ``map_period`` s of recorded time, stamped with it, at any replay speed.

With ``pose_source: auto`` the trajectory comes from the odometry topic when the bag has it, else
from the pose topic (e.g. /amcl_pose), else from TF (``frames.odom_frame`` -> ``frames.base_frame``).
The world frame is decided before replay: ``frames.world_frame`` if the recording's TF mentions it
anywhere, else ``frames.odom_frame`` (with ``odom_fallback``). What the bridge publishes during replay (answers to recorded queries, markers) is kept in
``published`` (the last 1000) instead of being sent anywhere.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from pathlib import Path
from typing import Any

from embodied_mem.deps import require

__all__ = ["BagTransport", "open_reader", "check_recording", "RecordingError"]

log = logging.getLogger("embodied_mem.robots.ros2")


class RecordingError(ValueError):
    """The file is not a readable recording (not a bag, truncated, damaged); the message names it."""


def open_reader(path: str | Path) -> Any:
    """A rosbags ``AnyReader`` (not yet opened) for a rosbag2 folder, .db3 or .mcap file, or a ROS 1 .bag."""
    require("rosbags", "rosbag2 replay")
    from rosbags.highlevel import AnyReader

    from .types import typestore

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no rosbag2 recording at {p}")
    if p.is_file() and p.suffix == ".db3":
        if not (p.parent / "metadata.yaml").exists():
            raise ValueError(f"{p} is a .db3 file without a metadata.yaml beside it; pass the bag folder")
        p = p.parent
    if p.is_dir() and not (p / "metadata.yaml").exists():
        mcaps = sorted(p.glob("*.mcap"))
        if len(mcaps) == 1:
            p = mcaps[0]
        else:
            raise ValueError(f"{p} is not a rosbag2 folder (no metadata.yaml, {len(mcaps)} .mcap files)")
    try:
        return AnyReader([p], default_typestore=typestore())
    except Exception as exc:  # rosbags refuses a file it does not recognise
        raise RecordingError(f"{path} is not a readable ROS recording (rosbag2 folder, .db3, .mcap or ROS 1 "
                             f".bag): {type(exc).__name__}: {exc}") from None


def _open(path: str | Path) -> Any:
    """``open_reader(path)``, opened; any failure of a file that is no readable recording -> RecordingError."""
    reader = open_reader(path)
    try:
        reader.open()
    except Exception as exc:  # rosbags raises its own errors, struct/yaml/sqlite errors on damaged files
        raise RecordingError(f"{path} is not a readable ROS recording (rosbag2 folder, .db3, .mcap or ROS 1 "
                             f".bag): {type(exc).__name__}: {exc}") from None
    return reader


def check_recording(path: str | Path) -> None:
    """Open and close the recording at ``path``; raises ``FileNotFoundError`` / ``ValueError``
    (``RecordingError`` for a file that is not a readable recording) with one clear line."""
    _open(path).close()


class BagTransport:
    """Replays a recording; ``run()`` feeds every message to the bridge in bag order."""

    def __init__(self, path: str | Path, realtime: float = 0.0, progress: bool = False) -> None:
        if realtime < 0:
            raise ValueError(f"realtime must be >= 0 (0: as fast as possible), got {realtime}")
        self.path = Path(path)
        self.realtime = float(realtime)
        self.progress = progress
        self.reader: Any = None
        self.bridge: Any = None
        self.published: deque[tuple[str, Any]] = deque(maxlen=1000)
        self.n_published = 0
        self.routes: dict[str, str] = {}  # topic -> kind
        self.clock_from_stamps = False  # use_sim_time and no /clock recorded: the clock follows bag times
        self.duration = 0.0
        self.n_messages = 0
        self.wall = 0.0

    def start(self, bridge: Any) -> None:
        self.bridge = bridge
        self.reader = _open(self.path)
        self.duration = self.reader.duration * 1e-9
        cfg = bridge.config
        topics = {c.topic: c for c in self.reader.connections}
        t = cfg.topics
        source = cfg.pose_source
        if source == "auto":
            source = "odom" if t.odom in topics else "pose" if t.pose in topics else "tf"
        bridge.converter.pose_source = source
        routes = {}
        for kind, key in (("tf", t.tf), ("tf_static", t.tf_static), ("scan", t.scan), ("cloud", t.cloud),
                          ("detections", t.detections), ("detections_json", t.detections_json), ("query", t.query)):
            if key and key in topics:
                routes[key] = kind
        self.clock_from_stamps = cfg.use_sim_time and not (t.clock and t.clock in topics)
        if cfg.use_sim_time and not self.clock_from_stamps:
            routes[t.clock] = "clock"
        if source == "odom" and t.odom in topics:
            routes[t.odom] = "odom"
        if source == "pose" and t.pose in topics:
            routes[t.pose] = "pose"
        self.routes = routes
        self.pose_source = source
        tf_conns = [topics[k] for k in (t.tf, t.tf_static) if k and k in topics]
        self.tf_frames, mentions_world = self._scan_tf(cfg, tf_conns)
        self.world_frame = self._decide_world(cfg, tf_conns, mentions_world, topics)
        bridge.converter.lock_world(self.world_frame)
        bridge.converter.tf_expected = bool(tf_conns)
        if source == "tf":
            bridge.converter.set_base_frame(self._decide_base(cfg))

    def _scan_tf(self, cfg: Any, tf_conns: list[Any]) -> tuple[set[str], bool]:
        """(every frame the recording's TF names, whether it mentions the world frame); reads TF once."""
        frames: set[str] = set()
        if not tf_conns:  # rosbags reads connections=[] as "every message": never pass an empty list
            return frames, False
        for conn, _, raw in self._messages(tf_conns):
            if isinstance(conn, Exception):
                break  # a damaged recording: run() reports it where the replay reaches it
            try:
                msg = self.reader.deserialize(raw, conn.msgtype)
                for tr in msg.transforms:
                    frames.add(str(tr.header.frame_id).lstrip("/"))
                    frames.add(str(tr.child_frame_id).lstrip("/"))
            except Exception:  # an undecodable record is counted during the replay itself
                continue
            if len(frames) > 10_000:
                break
        frames.discard("")
        return frames, cfg.frames.world_frame in frames

    def _decide_world(self, cfg: Any, tf_conns: list[Any], mentions_world: bool, topics: dict[str, Any]) -> str:
        """The world frame if the recording's TF ever mentions it, else odom (with odom_fallback).

        A recording without /tf and /tf_static (odometry only, e.g. converted from ROS 1) uses the
        frame of its first odometry (or pose) message as the world frame."""
        fr = cfg.frames
        if not tf_conns:
            frame = self._first_pose_frame(cfg, topics)
            if frame and frame != fr.world_frame:
                log.warning("%s has no /tf or /tf_static: using the odometry frame %r as the world frame",
                            self.path.name, frame)
                return frame
        if not fr.odom_fallback:
            return fr.world_frame
        return fr.world_frame if mentions_world else fr.odom_frame

    def _first_pose_frame(self, cfg: Any, topics: dict[str, Any]) -> str | None:
        key = cfg.topics.odom if self.pose_source == "odom" else cfg.topics.pose if self.pose_source == "pose" else ""
        conn = topics.get(key) if key else None
        if conn is None:
            return None
        for c, _, raw in self._messages([conn]):
            if isinstance(c, Exception):
                return None
            try:
                return str(self.reader.deserialize(raw, c.msgtype).header.frame_id).lstrip("/") or None
            except Exception:
                continue
        return None

    def _decide_base(self, cfg: Any) -> str:
        """The robot's base frame for a TF trajectory: the configured one, else base_footprint (REP 105)."""
        base = cfg.frames.base_frame
        if base in self.tf_frames:
            return base
        seen = ", ".join(sorted(self.tf_frames)[:20]) or "none"
        if "base_footprint" in self.tf_frames:
            log.warning("%s: no %r frame in TF; using 'base_footprint' (REP 105) for the trajectory. Frames "
                        "seen: %s", self.path.name, base, seen)
            return "base_footprint"
        log.warning("%s: no %r frame in TF, so no trajectory from TF; set robot.frames.base_frame to one of: %s",
                    self.path.name, base, seen)
        return base

    def stop(self) -> None:
        if self.reader is not None:
            self.reader.close()
            self.reader = None

    def publish(self, key: str, msg: Any, type_name: str) -> None:
        self.published.append((key, msg))
        self.n_published += 1

    def _messages(self, conns: list[Any]) -> Any:
        """The reader's messages; a read error (a damaged file) ends the stream with the exception."""
        if not conns:
            return
        it = self.reader.messages(connections=conns)
        while True:
            try:
                item = next(it)
            except StopIteration:
                return
            except Exception as exc:
                yield exc, 0, b""
                return
            yield item

    def run(self, duration: float | None = None) -> dict[str, Any]:
        """Feed the recording (or its first ``duration`` seconds) to the bridge; returns counts and timing."""
        if self.reader is None:
            raise RuntimeError("BagTransport.run() before start(): connect the bridge first")
        conns = [c for c in self.reader.connections if c.topic in self.routes]
        total = sum(c.msgcount for c in conns)
        bar = None
        if self.progress:
            from tqdm import tqdm

            bar = tqdm(total=total, desc=f"replay {self.path.name}", unit="msg", mininterval=0.5)
        t_start = time.perf_counter()
        first = None
        n = 0
        handle = self.bridge.handle
        sim_time = self.bridge.config.use_sim_time
        sim_clock = sim_time and self.clock_from_stamps
        deser = self.reader.deserialize
        damage = None
        try:
            for conn, ts, raw in self._messages(conns):
                if isinstance(conn, Exception):
                    damage = conn
                    break
                t = ts * 1e-9
                if first is None:
                    first = t
                if duration is not None and t - first > duration:
                    break
                if self.realtime > 0:
                    wait = (t - first) / self.realtime - (time.perf_counter() - t_start)
                    if wait > 0:
                        time.sleep(wait)
                try:
                    msg = deser(raw, conn.msgtype)
                except Exception as exc:  # a corrupt record: count it, keep going
                    self.bridge.skip("undecodable", f"{type(exc).__name__}: {exc}", conn.topic)
                    continue
                if sim_clock:
                    self.bridge.set_sim_time(t)
                handle(self.routes[conn.topic], conn.topic, msg, t)
                n += 1
                if bar is not None and n % 200 == 0:
                    bar.update(200)
                if sim_time or (self.realtime > 0 and n % 20 == 0):
                    self.bridge.tick()  # with sim time: periods of recorded time, whatever the speed
        finally:
            if bar is not None:
                bar.update(n - bar.n)
                bar.close()
        self.bridge.finish()
        self.wall = time.perf_counter() - t_start
        self.n_messages = n
        if damage is not None:
            self.bridge.skip("damaged_recording", f"{type(damage).__name__}: {damage}", str(self.path))
            raise RecordingError(f"{self.path} is damaged after {n} messages ({type(damage).__name__}: {damage}); "
                                 f"memory keeps what came before")
        return {"messages": n, "wall_s": self.wall, "bag_duration_s": self.duration,
                "messages_per_s": n / self.wall if self.wall else None,
                "x_realtime": self.duration / self.wall if self.wall else None, "pose_source": self.pose_source}
