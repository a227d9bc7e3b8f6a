"""ROS 2 messages -> ``Percept`` in the world (map) frame.

The converter reads messages by their ROS field names only, so rosbags objects, rclpy messages
and cyclonedds samples all work. Times are header stamps in seconds (``sec + nanosec·1e-9``);
a zero stamp falls back to the receive time passed in. Positions are metres in
``frames.world_frame`` (``map``), resolved through the TF buffer (map -> odom -> base_link -> sensor,
REP 105); with no map frame yet and ``odom_fallback`` on, ``odom`` stands in for the world.

Each percept gets the source ``"<name>:<topic>"`` so every topic keeps its own time order.

Bad messages raise ``MalformedMessage`` (a ``ValueError``) with the reason: NaN or zero
quaternion poses, unknown frames or transforms out of range, stamps going backwards on a topic,
truncated or inconsistent point clouds and scans, unparsable JSON. The bridge logs and skips them;
the converter's state is unchanged by a refused message.

Occupancy: a LaserScan marks the cells at its hits blocked and the cells along its rays free
(up to ``scan.max_free_range``); a PointCloud2 marks obstacle points (between ``cloud.min_height``
and ``cloud.max_height`` above the world frame's x–y plane) blocked. Only cells whose state
*changes* relative to what this converter already sent are put in the percept (memory's occupancy
layer keeps the last observation of each cell, so re-sending an unchanged cell does nothing). This
assumes the converter is the only writer of occupancy into that memory, which is how the bridge
uses it.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import numpy as np

from embodied_mem.percept import ConeView, Percept, PerceptError, PerceptTypeError, Pose, Sighting

from .config import Ros2BridgeConfig
from .tf import TfBuffer, TfError, TfExtrapolationError, Transform, quat_to_matrix

__all__ = ["MalformedMessage", "MessageConverter", "stamp_of", "OccupancyMirror"]

FREE, BLOCKED = 1, 2
log = logging.getLogger("embodied_mem.robots.ros2")


class MalformedMessage(ValueError):
    """A message cannot become a percept; ``reason`` is a short category for counting."""

    def __init__(self, reason: str, detail: str, wait: bool = False) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.wait = wait  # the frame's chain to the world is not in TF yet: the message may wait for it


def stamp_of(header: Any, fallback: float | None = None) -> float:
    """Header stamp in seconds; a zero stamp gives ``fallback`` (receive time), NaN is refused."""
    st = header.stamp
    t = float(st.sec) + float(st.nanosec) * 1e-9
    if t == 0.0 and fallback is not None:
        return float(fallback)
    if not math.isfinite(t):
        raise MalformedMessage("bad_stamp", f"stamp {t}")
    return t


class OccupancyMirror:
    """What this converter has told memory about each cell: int8 tiles of 64 × 64 cells, only where
    something is known, and a dense working window over the cells of the current message.

    Cells are addressed by flat indices into the window ``grid`` (valid until the next ``fit``); two
    int32 scratch grids of the window's shape serve de-duplication and the per-scan hit margin in
    O(n). When a message falls outside the window, the window is written back to the tiles and
    re-centred on the message, so memory is 4 KiB per known tile plus 9 bytes per window cell
    (``window`` cells a side, at least twice the message's extent): a pose or TF glitch that puts
    one scan kilometres away costs a few tiles, not a grid over the whole bounding box.
    """

    TILE = 64

    def __init__(self, window: int = 1024) -> None:
        self.side = max(self.TILE, int(window) // self.TILE * self.TILE)
        self.tiles: dict[tuple[int, int], np.ndarray] = {}
        self.grid = np.zeros((0, 0), np.int8)
        self.mark = np.zeros((0, 0), np.int32)
        self.scratch = np.zeros((0, 0), np.int32)
        self.x0 = 0
        self.y0 = 0
        self.stamp = 0

    def fit(self, xmin: int, xmax: int, ymin: int, ymax: int) -> None:
        """Move the window (if needed) so cells in [xmin, xmax] × [ymin, ymax] have an index."""
        h, w = self.grid.shape
        if h and xmin >= self.x0 and ymin >= self.y0 and xmax < self.x0 + w and ymax < self.y0 + h:
            return
        self._store()
        T = self.TILE
        side_x = max(self.side, -(-2 * (xmax - xmin + 1) // T) * T)
        side_y = max(self.side, -(-2 * (ymax - ymin + 1) // T) * T)
        x0 = ((xmin + xmax) // 2 - side_x // 2) // T * T
        y0 = ((ymin + ymax) // 2 - side_y // 2) // T * T
        g = np.zeros((side_y, side_x), np.int8)
        for (tx, ty), tile in self.tiles.items():
            ox, oy = tx * T - x0, ty * T - y0
            if 0 <= ox < side_x and 0 <= oy < side_y:
                g[oy:oy + T, ox:ox + T] = tile
        self.grid, self.x0, self.y0 = g, x0, y0
        if self.mark.shape != g.shape:
            self.mark = np.zeros(g.shape, np.int32)
            self.scratch = np.zeros(g.shape, np.int32)

    def _store(self) -> None:
        """Write the window back into tiles (tiles with something known only)."""
        h, w = self.grid.shape
        if not h:
            return
        T = self.TILE
        blocks = self.grid.reshape(h // T, T, w // T, T)
        known = blocks.any(axis=(1, 3))
        tx0, ty0 = self.x0 // T, self.y0 // T
        for by, bx in zip(*np.nonzero(known)):
            self.tiles[(tx0 + int(bx), ty0 + int(by))] = blocks[by, :, bx, :].copy()

    @property
    def nbytes(self) -> int:
        """Bytes held: tiles plus the window and its two scratch grids."""
        return len(self.tiles) * self.TILE ** 2 + self.grid.nbytes + self.mark.nbytes + self.scratch.nbytes

    def flat(self, ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
        return (iy - self.y0) * self.grid.shape[1] + (ix - self.x0)

    def cells(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        iy, ix = np.divmod(flat, self.grid.shape[1])
        return ix + self.x0, iy + self.y0

    def changed(self, flat: np.ndarray, state: int) -> np.ndarray:
        """The distinct cells among ``flat`` whose state differs from ``state``."""
        flat = flat[self.grid.ravel()[flat] != state]
        return flat[self.first(flat)]

    def first(self, flat: np.ndarray) -> np.ndarray:
        """Mask keeping one occurrence of each index (O(n): last write wins on the scratch grid)."""
        order = np.arange(flat.size, dtype=np.int32)
        sc = self.scratch.ravel()
        sc[flat] = order
        return sc[flat] == order

    def commit(self, ix: np.ndarray, iy: np.ndarray, state: int) -> None:
        self.fit(int(ix.min()), int(ix.max()), int(iy.min()), int(iy.max()))
        self.grid.ravel()[self.flat(ix, iy)] = state


def _finite_pose(pos: Any, q: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    p = np.array([float(pos.x), float(pos.y), float(pos.z)])
    r = np.array([float(q.x), float(q.y), float(q.z), float(q.w)])
    if not (np.isfinite(p).all() and np.isfinite(r).all()):
        raise MalformedMessage("nan_pose", f"{what} holds NaN or inf")
    if float(r @ r) < 1e-12:
        raise MalformedMessage("nan_pose", f"{what} has a zero quaternion")
    return p, r


class MessageConverter:
    """Turns ROS 2 messages into percepts. Not thread-safe: the bridge calls it under its lock."""

    def __init__(self, config: Ros2BridgeConfig | None = None, cell_size: float = 0.05) -> None:
        self.config = config or Ros2BridgeConfig()
        if not (cell_size > 0 and math.isfinite(cell_size)):
            raise ValueError(f"cell_size must be a positive number of metres, got {cell_size!r}")
        self.cs = float(cell_size)
        fr = self.config.frames
        self.tf = TfBuffer(tolerance=fr.tf_tolerance, max_frames=fr.max_frames)
        self.mirror = OccupancyMirror()
        self.tf_expected = True  # False: no TF will ever come (a recording without /tf), so never wait for it
        self._base: str | None = None  # the base frame of a TF trajectory, once decided
        self._warned_base = False
        # source -> (t, position, speed of the step before) of the last plausible position
        self._motion: dict[str, tuple[float, np.ndarray, float]] = {}
        self._refused: dict[str, list[tuple[float, np.ndarray]]] = {}
        self._last_stamp: dict[str, float] = {}
        self._last_pose: dict[str, tuple[float, Pose]] = {}
        self._pending_pose: dict[str, Percept] = {}
        self.pose_stamp: float | None = None  # s: newest pose accepted (written, or held back by keyframing)
        self._last_scan_t = -math.inf
        self._pending_scan: set[str] = set()
        self._world: str | None = None
        self._t_first: float | None = None
        self._t_latest: float | None = None
        self._ray_cache: dict[tuple[int, float, float], tuple[np.ndarray, np.ndarray, np.ndarray, int]] = {}
        self.pose_source = self.config.pose_source

    # ------------------------------------------------------------------ frames and time
    def source(self, topic: str) -> str:
        return f"{self.config.name}:{topic}"

    def _check_order(self, source: str, t: float) -> None:
        prev = self._last_stamp.get(source)
        if prev is not None and t < prev:
            raise MalformedMessage("out_of_order", f"{source}: stamp {t:.6f} is older than {prev:.6f}")

    def _accept(self, source: str, t: float) -> None:
        self._last_stamp[source] = t

    def set_base_frame(self, frame: str) -> None:
        """Fix the robot's base frame for a TF trajectory (bag replay decides from the recording)."""
        self._base = frame.lstrip("/")

    def base_frame(self) -> str:
        """The base frame of a TF trajectory: the configured one; when TF has no such frame but has
        ``base_footprint`` (REP 105 allows either), that one, with a warning naming the frames seen."""
        if self._base is not None:
            return self._base
        want = self.config.frames.base_frame.lstrip("/")
        if self.tf.has_frame(want):
            self._base = want
        elif self.tf.has_frame("base_footprint"):
            log.warning("no %r frame in TF; using 'base_footprint' (REP 105) for the trajectory. Frames seen: %s",
                        want, ", ".join(sorted(self.tf.frames())[:20]))
            self._base = "base_footprint"
        elif not self._warned_base and self.tf.n_dynamic() > 0:
            self._warned_base = True
            log.warning("no %r frame in TF yet, so no trajectory from TF; frames seen: %s (set "
                        "robot.frames.base_frame)", want, ", ".join(sorted(self.tf.frames())[:20]))
        return self._base or want

    def lock_world(self, frame: str) -> None:
        """Fix the world frame for the rest of the session (bag replay decides from the recording)."""
        self._world = frame

    def world_frame(self) -> str:
        """The frame memory positions are in (the configured world frame until a fallback is decided)."""
        return self._world or self.config.frames.world_frame

    def note_time(self, t: float | None) -> None:
        """Message time has reached ``t`` (s): counts toward ``odom_fallback_after`` even for a
        message that is only queued (waiting for the world frame)."""
        if t is not None and math.isfinite(t):
            if self._t_first is None:
                self._t_first = t
            self._t_latest = t if self._t_latest is None else max(self._t_latest, t)

    def _resolve_world(self, t: float) -> str:
        if self._world is not None:
            return self._world
        fr = self.config.frames
        if self.tf.has_frame(fr.world_frame) or not fr.odom_fallback:
            self._world = fr.world_frame
            return self._world
        self.note_time(t)
        if self._t_latest - self._t_first >= fr.odom_fallback_after:
            log.warning("no %r frame in TF after %.1f s: using %r as the world frame", fr.world_frame,
                        fr.odom_fallback_after, fr.odom_frame)
            self._world = fr.odom_frame
            return self._world
        # the message waits (bounded) until the world frame is decided, then is placed
        raise MalformedMessage("waiting_for_world", f"no {fr.world_frame!r} frame in TF yet (fallback to "
                                                    f"{fr.odom_frame!r} after {fr.odom_fallback_after} s)", wait=True)

    def to_world(self, frame: str, t: float) -> Transform:
        """``T_world_frame`` at ``t``; raises ``MalformedMessage("unknown_frame"|"tf"|"waiting_for_world", ...)``."""
        frame = (frame or "").lstrip("/")
        if not frame:
            raise MalformedMessage("unknown_frame", "empty frame_id")
        world = self._resolve_world(t)
        if frame == world:
            return Transform.identity()
        try:
            return self.tf.lookup(world, frame, t)
        except TfExtrapolationError as exc:
            raise MalformedMessage("tf_wait", str(exc)) from None
        except TfError as exc:
            text = str(exc)
            reason = "unknown_frame" if "unknown frame" in text else "tf"
            # the chain may still come: the world frame is not in TF yet, or the frame's tree is not
            # joined to the world's yet (e.g. the static map -> odom arrives seconds in)
            wait = self.tf_expected and (not self.tf.has_frame(world) or "not connected" in text)
            raise MalformedMessage(reason, text, wait=wait) from None

    # ------------------------------------------------------------------ TF
    def on_tf(self, msg: Any, static: bool, recv_t: float | None = None) -> tuple[list[Percept], list[Any]]:
        """Feed a TFMessage into the buffer. Returns (pose percepts if pose_source is "tf", problems:
        texts, or ``MalformedMessage`` for a refused pose).

        With ``pose_source: tf`` a pose of the base frame is made at the stamp of every transform
        that moves it: the base frame's own, or that of a frame it hangs below through static
        transforms only (odom -> base_footprint -> base_link)."""
        problems: list[Any] = []
        percepts: list[Percept] = []
        stamps: dict[str, float] = {}
        transforms = msg.transforms
        if len(transforms) > self.config.limits.max_transforms:
            raise MalformedMessage("too_large", f"{len(transforms)} transforms in one message "
                                                f"(limit {self.config.limits.max_transforms})")
        for tr in transforms:
            try:
                t = stamp_of(tr.header, recv_t)
                v, q = tr.transform.translation, tr.transform.rotation
                self.tf.set_transform(tr.header.frame_id, tr.child_frame_id, t, (v.x, v.y, v.z),
                                      (q.x, q.y, q.z, q.w), static=static)
            except (ValueError, MalformedMessage) as exc:
                problems.append(str(exc))
                continue
            if self.pose_source == "tf" and not static:
                child = str(tr.child_frame_id).lstrip("/")
                stamps[child] = max(t, stamps.get(child, t))
        if stamps:
            base = self.base_frame()
            movers = self.tf.static_ancestors(base)
            for t in sorted({t for f, t in stamps.items() if f in movers}):
                try:
                    T = self.to_world(base, t)
                    p = self._pose_percept(self.source("tf"), t, T)
                except MalformedMessage as exc:
                    problems.append(exc)  # counted under its reason (e.g. implausible_jump)
                    continue
                except (PerceptError, PerceptTypeError) as exc:
                    problems.append(str(exc))
                    continue
                if p is not None:
                    percepts.append(p)
        return percepts, problems

    # ------------------------------------------------------------------ poses
    def check_motion(self, source: str, t: float, p: np.ndarray) -> None:
        """Refuse (``MalformedMessage("implausible_jump")``) a position of ``source`` at ``t`` that is
        farther from its last plausible one than ``config.motion`` allows; otherwise record it.

        Refused positions in a row that are plausible among themselves for ``relocalize_after``
        seconds are accepted as a real jump (a relocalisation), so one bad start never locks a
        source out, while a glitch shorter than that never gets in."""
        m = self.config.motion
        topic = source.split(":", 1)[1] if ":" in source else source
        vmax, amax, tol = m.limits(topic)
        last = self._motion.get(source)

        def plausible(t0: float, p0: np.ndarray, v0: float) -> tuple[bool, float, float]:
            dt = max(0.0, t - t0)
            d = float(np.linalg.norm(p[:2] - p0[:2]))
            if vmax <= 0:
                return True, d, dt
            allowed = vmax * dt
            if amax > 0:
                allowed = min(allowed, (v0 + amax * dt) * dt)
            return d <= allowed + tol, d, dt

        if last is not None:
            ok, d, dt = plausible(*last)
            if not ok:
                run = self._refused.setdefault(source, [])
                if run and not plausible(run[-1][0], run[-1][1], vmax)[0]:
                    run.clear()
                run.append((t, p.copy()))
                if len(run) < 2 or run[-1][0] - run[0][0] < m.relocalize_after:
                    raise MalformedMessage("implausible_jump", f"{source} moved {d:.1f} m in {dt:.3f} s (max_speed "
                                                              f"{vmax} m/s, max_acceleration {amax} m/s², tolerance "
                                                              f"{tol} m)")
                log.warning("%s: %d positions over %.1f s agree after a jump of %.1f m: taking it as a "
                            "relocalisation", source, len(run), run[-1][0] - run[0][0], d)
        self._refused.pop(source, None)
        v = 0.0
        if last is not None and t > last[0]:
            v = float(np.linalg.norm(p[:2] - last[1][:2])) / (t - last[0])
        self._motion[source] = (t, p.copy(), v)

    def _pose_percept(self, source: str, t: float, T: Transform) -> Percept | None:
        self._check_order(source, t)
        pose = Pose(float(T.p[0]), float(T.p[1]), float(T.p[2]), T.yaw)
        self.check_motion(source, t, T.p)
        self._accept(source, t)
        # memory's pose is current up to t: a pose held back below is within min_pose_distance of it
        self.pose_stamp = t if self.pose_stamp is None else max(self.pose_stamp, t)
        last = self._last_pose.get(source)
        c = self.config
        percept = Percept(t=t, pose=pose, source=source)
        if last is not None:
            lt, lp = last
            d = math.hypot(pose.x - lp.x, pose.y - lp.y)
            dyaw = abs((pose.yaw - lp.yaw + math.pi) % (2 * math.pi) - math.pi)
            if d < c.min_pose_distance and dyaw < c.min_pose_rotation and t - lt < c.max_pose_interval:
                self._pending_pose[source] = percept  # kept back; emitted by finish() if it is the last
                return None
        self._last_pose[source] = (t, pose)
        self._pending_pose.pop(source, None)
        return percept

    def odometry(self, msg: Any, topic: str, recv_t: float | None = None) -> Percept | None:
        """nav_msgs/Odometry -> pose percept (the child frame's pose in the world), or None (keyframing)."""
        t = stamp_of(msg.header, recv_t)
        p, q = _finite_pose(msg.pose.pose.position, msg.pose.pose.orientation, "odometry pose")
        T = self.to_world(msg.header.frame_id, t) @ Transform(quat_to_matrix(*q), p)
        return self._pose_percept(self.source(topic), t, T)

    def pose_stamped(self, msg: Any, topic: str, recv_t: float | None = None) -> Percept | None:
        """geometry_msgs/PoseStamped or PoseWithCovarianceStamped -> pose percept, or None."""
        t = stamp_of(msg.header, recv_t)
        pose = msg.pose.pose if hasattr(msg.pose, "covariance") else msg.pose
        p, q = _finite_pose(pose.position, pose.orientation, "pose")
        T = self.to_world(msg.header.frame_id, t) @ Transform(quat_to_matrix(*q), p)
        return self._pose_percept(self.source(topic), t, T)

    def finish(self) -> list[Percept]:
        """Poses held back by keyframing that are the latest of their source (call at the end)."""
        out = list(self._pending_pose.values())
        self._pending_pose.clear()
        for p in out:
            self._last_pose[p.source] = (p.t, p.pose)  # type: ignore[assignment]
        return out

    # ------------------------------------------------------------------ occupancy
    def _cells(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = np.floor(xy / self.cs + 0.5).astype(np.int64)
        return c[:, 0], c[:, 1]

    def _occupancy_percept(self, source: str, t: float, free: tuple[np.ndarray, np.ndarray] | None,
                           blocked: tuple[np.ndarray, np.ndarray] | None) -> Percept:
        """A percept of the cells whose state *changes* (given cells may repeat); the mirror is
        updated by ``commit(percept)`` once memory took it.

        Rays grazing a wall pass through the cells next to where they or their neighbours hit;
        clearing those would erode walls and flip cells scan after scan, so free cells within one
        cell of this scan's hits are left alone (a hit cell itself always stays blocked)."""
        m = self.mirror
        have_b = blocked is not None and blocked[0].size > 0
        have_f = free is not None and free[0].size > 0
        parts = ([blocked] if have_b else []) + ([free] if have_f else [])
        fb = np.zeros((0, 2))
        bb = np.zeros((0, 2))
        if not parts:
            return Percept(t=t, free=fb, blocked=bb, source=source)
        m.fit(min(int(p[0].min()) for p in parts) - 1, max(int(p[0].max()) for p in parts) + 1,
              min(int(p[1].min()) for p in parts) - 1, max(int(p[1].max()) for p in parts) + 1)
        cs = self.cs
        if have_b:
            hits = m.flat(*blocked)
            bx, by = m.cells(m.changed(hits, BLOCKED))
            bb = np.stack([bx, by], 1) * cs
        if have_f:
            ff = m.changed(m.flat(*free), FREE)
            if have_b and ff.size:
                m.stamp += 1
                mark, w = m.mark.ravel(), m.grid.shape[1]
                for off in (-w - 1, -w, -w + 1, -1, 0, 1, w - 1, w, w + 1):
                    mark[hits + off] = m.stamp
                ff = ff[mark[ff] != m.stamp]
            fx, fy = m.cells(ff)
            fb = np.stack([fx, fy], 1) * cs
        return Percept(t=t, free=fb, blocked=bb, source=source)

    def commit(self, percept: Percept) -> None:
        """Record that memory accepted ``percept``'s cells (call after ``Memory.observe`` succeeded)."""
        for arr, state in ((percept.free, FREE), (percept.blocked, BLOCKED)):
            if arr is not None and len(arr):
                ix, iy = self._cells(arr)
                self.mirror.commit(ix, iy, state)
        if percept.source in self._pending_scan:
            self._last_scan_t = percept.t
            self._pending_scan.discard(percept.source)

    def _rays(self, n: int, a0: float, inc: float, k: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Cached per scan geometry: (n, 3) ray directions in the sensor frame, and the (ray, j) sample
        pairs (j cells out; every max(1, 1 / (j · increment))-th ray, sorted by ray) up to K cells."""
        key = (n, a0, inc)
        hit = self._ray_cache.get(key)
        if hit is not None and hit[3] >= k:
            return hit
        k = max(k, int(math.ceil(self.config.scan.max_free_range / self.cs)) + 1)
        ang = a0 + inc * np.arange(n)
        cos_sin = np.stack([np.cos(ang), np.sin(ang), np.zeros(n)], 1)
        j = np.arange(k, dtype=np.float64)
        stride = np.maximum(1, np.floor(1.0 / (np.maximum(j, 1.0) * max(abs(inc), 1e-6)))).astype(np.int64)
        ri, si = np.nonzero((np.arange(n)[:, None] % stride[None, :]) == 0)
        if len(self._ray_cache) > 8:
            self._ray_cache.clear()
        self._ray_cache[key] = hit = (cos_sin, ri, si.astype(np.float64), k)
        return hit

    def scan(self, msg: Any, topic: str, recv_t: float | None = None) -> Percept | None:
        """sensor_msgs/LaserScan -> occupancy percept (changed cells only), or None when throttled."""
        t = stamp_of(msg.header, recv_t)
        source = self.source(topic)
        self._check_order(source, t)
        sc = self.config.scan
        if sc.min_interval > 0 and t - self._last_scan_t < sc.min_interval:
            self._accept(source, t)
            return None
        if len(msg.ranges) > self.config.limits.max_points:
            raise MalformedMessage("too_large", f"{len(msg.ranges)} ranges (limit {self.config.limits.max_points})")
        r = np.asarray(msg.ranges, dtype=np.float32).astype(np.float64)
        n = r.size
        inc, a0 = float(msg.angle_increment), float(msg.angle_min)
        rmin, rmax = float(msg.range_min), float(msg.range_max)
        if n == 0:
            raise MalformedMessage("bad_scan", "no ranges")
        if not all(math.isfinite(v) for v in (inc, a0, rmin, rmax)) or rmax <= 0:
            raise MalformedMessage("bad_scan", f"angle/range limits not finite or range_max <= 0 ({a0}, {inc}, {rmax})")
        a1 = float(msg.angle_max)
        if inc != 0 and math.isfinite(a1) and abs((a1 - a0) / inc + 1 - n) > 2:
            raise MalformedMessage("bad_scan", f"{n} ranges but angle_min/max/increment imply {(a1 - a0) / inc + 1:.0f}")
        T = self.to_world(msg.header.frame_id, t)
        self.check_motion(source, t, T.p)
        cos_sin, ray_i, ray_j, k_max = self._rays(n, a0, inc)
        d = cos_sin @ T.R.T  # ray directions in the world
        dxy = d[:, :2]
        o = T.p[:2]
        hit = np.isfinite(r) & (r >= rmin) & (r < rmax) & (r <= sc.max_hit_range)
        free_len = np.where(hit, np.minimum(r, sc.max_free_range), 0.0)
        if sc.inf_is_free:
            free_len = np.where(np.isposinf(r) | (np.isfinite(r) & (r >= rmax)), min(rmax, sc.max_free_range), free_len)
        hits = o + r[hit, None] * dxy[hit]
        # Sample each ray once per cell length, in cell units, stopping half a cell before its end so the
        # hit cell is not also marked free. Near the sensor neighbouring rays cross the same cells, so at
        # j cells out only every max(1, 1 / (j · increment))-th ray is sampled (spacing stays <= 1 cell).
        lc = free_len / self.cs - 0.5
        k = int(math.ceil(float(lc.max(initial=0.0))))
        if k > 0:
            if k > k_max:
                cos_sin, ray_i, ray_j, k_max = self._rays(n, a0, inc, k)
            keep = ray_j < lc[ray_i]
            ri, sv = ray_i[keep], ray_j[keep]
            oc = o / self.cs + 0.5
            fx = np.floor(oc[0] + dxy[ri, 0] * sv).astype(np.int64)
            fy = np.floor(oc[1] + dxy[ri, 1] * sv).astype(np.int64)
            free_cells = (fx, fy)
        else:
            free_cells = None
        blocked_cells = self._cells(hits) if len(hits) else None
        p = self._occupancy_percept(source, t, free_cells, blocked_cells)
        self._accept(source, t)
        self._pending_scan.add(source)
        return p

    def cloud(self, msg: Any, topic: str, recv_t: float | None = None) -> Percept | None:
        """sensor_msgs/PointCloud2 (float32/float64 x, y, z) -> blocked cells of obstacle points."""
        t = stamp_of(msg.header, recv_t)
        source = self.source(topic)
        self._check_order(source, t)
        if int(msg.width) * int(msg.height) > self.config.limits.max_points:
            raise MalformedMessage("too_large", f"{int(msg.width) * int(msg.height)} points "
                                                f"(limit {self.config.limits.max_points})")
        pts = cloud_points(msg)
        T = self.to_world(msg.header.frame_id, t)
        self.check_motion(source, t, T.p)
        cc = self.config.cloud
        near = np.einsum("ij,ij->i", pts, pts) <= cc.max_range ** 2
        w = T.apply(pts[near])
        band = (w[:, 2] >= cc.min_height) & (w[:, 2] <= cc.max_height)
        cells = self._cells(w[band, :2]) if band.any() else None
        p = self._occupancy_percept(source, t, None, cells)
        self._accept(source, t)
        return p

    # ------------------------------------------------------------------ detections
    def _cone(self, frame: str, t: float, fov: float, rng: float) -> ConeView | None:
        """Cone view from a sensor frame: forward is +z for optical frames (REP 103), else +x."""
        if not self.config.detection.view or rng <= 0:
            return None
        if frame.lstrip("/") == self.world_frame():
            return None
        T = self.to_world(frame, t)
        fwd = T.R[:, 2] if frame.endswith("optical_frame") else T.R[:, 0]
        if math.hypot(fwd[0], fwd[1]) < 1e-6:
            return None  # looking straight up or down: no horizontal cone
        return ConeView(float(T.p[0]), float(T.p[1]), math.atan2(fwd[1], fwd[0]), float(rng), float(fov))

    def detections3d(self, msg: Any, topic: str, recv_t: float | None = None) -> Percept | None:
        """vision_msgs/Detection3DArray -> sightings (best hypothesis per detection) in the world frame."""
        t = stamp_of(msg.header, recv_t)
        source = self.source(topic)
        self._check_order(source, t)
        dc = self.config.detection
        sightings = []
        frame = msg.header.frame_id
        if len(msg.detections) > self.config.limits.max_detections:
            raise MalformedMessage("too_large", f"{len(msg.detections)} detections "
                                                f"(limit {self.config.limits.max_detections})")
        for i, det in enumerate(msg.detections):
            if not det.results:
                continue
            best = max(det.results, key=lambda h: float(h.hypothesis.score))
            label, score = str(best.hypothesis.class_id), float(best.hypothesis.score)
            if not math.isfinite(score):
                raise MalformedMessage("bad_detection", f"detection {i} score {score}")
            if score < dc.min_score or not label.strip():
                continue
            c = det.bbox.center.position
            hp = best.pose.pose.position
            src = c if (c.x, c.y, c.z) != (0.0, 0.0, 0.0) else hp
            p, _ = _finite_pose(src, det.bbox.center.orientation if src is c else best.pose.pose.orientation,
                                f"detection {i}")
            dframe = det.header.frame_id or frame
            w = self.to_world(dframe, t).apply(p[None, :])[0]
            sightings.append(Sighting(label, tuple(w.tolist()), instance=det.id or None,
                                      confidence=min(1.0, max(0.0, score))))
        view = self._cone(frame, t, dc.fov, dc.range) if frame else None
        p = Percept(t=t, sightings=tuple(sightings), view=view, source=source)
        self._accept(source, t)
        return p

    def detections_json(self, text: str, topic: str, recv_t: float | None = None) -> Percept | None:
        """std_msgs/String JSON detections -> sightings. Format::

            {"stamp": 12.5,                  # s; optional (receive time)
             "frame_id": "base_link",        # frame of the positions (default: the world frame)
             "sensor_frame": "camera_link",  # optional: cone View from this frame (fov, range below)
             "fov": 1.2, "range": 3.0,       # optional, default from the detection config
             "detections": [{"label": "cup", "position": [x, y, z], "id": "cup-1", "score": 0.9}]}
        """
        lim = self.config.limits
        if isinstance(text, str) and len(text) > lim.max_json_bytes:
            raise MalformedMessage("too_large", f"{len(text)} characters of JSON (limit {lim.max_json_bytes})")
        try:
            d = json.loads(text)
        except (json.JSONDecodeError, TypeError) as exc:
            raise MalformedMessage("bad_json", f"not JSON: {exc}") from None
        except RecursionError:
            raise MalformedMessage("bad_json", "JSON nested too deeply") from None
        if not isinstance(d, dict) or not isinstance(d.get("detections"), list):
            raise MalformedMessage("bad_json", "expected an object with a 'detections' list")
        if len(d["detections"]) > lim.max_detections:
            raise MalformedMessage("too_large", f"{len(d['detections'])} detections (limit {lim.max_detections})")
        stamp = d.get("stamp", recv_t)
        if stamp is None or isinstance(stamp, bool) or not isinstance(stamp, (int, float)) or not math.isfinite(stamp):
            raise MalformedMessage("bad_json", f"stamp must be a finite number of seconds, got {stamp!r}")
        t = float(stamp)
        source = self.source(topic)
        self._check_order(source, t)
        frame = str(d.get("frame_id") or self.world_frame())
        T = self.to_world(frame, t)
        dc = self.config.detection
        sightings = []
        try:
            for i, det in enumerate(d["detections"]):
                if not isinstance(det, dict):
                    raise MalformedMessage("bad_json", f"detections[{i}] must be an object")
                score = float(det.get("score", 1.0))
                if score < dc.min_score:
                    continue
                pos = det.get("position")
                if not isinstance(pos, list) or len(pos) not in (2, 3):
                    raise MalformedMessage("bad_json", f"detections[{i}].position must be [x, y] or [x, y, z]")
                p = np.array([float(v) for v in pos] + ([0.0] if len(pos) == 2 else []))
                if not np.isfinite(p).all():
                    raise MalformedMessage("nan_pose", f"detections[{i}].position holds NaN or inf")
                w = T.apply(p[None, :])[0]
                inst = det.get("id")
                sightings.append(Sighting(det.get("label"), tuple(w.tolist()), instance=str(inst) if inst else None,
                                          confidence=min(1.0, max(0.0, score))))
        except (PerceptError, PerceptTypeError, TypeError, ValueError) as exc:
            if isinstance(exc, MalformedMessage):
                raise
            raise MalformedMessage("bad_json", str(exc)) from None
        sensor = d.get("sensor_frame")
        view = None
        if sensor:
            fov, rng = d.get("fov", dc.fov), d.get("range", dc.range)
            for name, v, hi in (("fov", fov, 2 * math.pi), ("range", rng, lim.max_view_range)):
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= hi:
                    raise MalformedMessage("bad_json", f"'{name}' must be a number from 0 to {hi:g}, got {v!r}")
            view = self._cone(str(sensor), t, float(fov), float(rng))
        p = Percept(t=t, sightings=tuple(sightings), view=view, source=source)
        self._accept(source, t)
        return p


_PC2_TYPES = {1: np.int8, 2: np.uint8, 3: np.int16, 4: np.uint16, 5: np.int32, 6: np.uint32, 7: np.float32,
              8: np.float64}


def cloud_points(msg: Any) -> np.ndarray:
    """(N, 3) float64 finite x, y, z of a sensor_msgs/PointCloud2, in its header frame.

    Raises ``MalformedMessage("truncated_cloud", ...)`` when ``data`` is shorter than
    ``height · row_step`` or a point does not fit ``point_step``; ``"bad_cloud"`` when x, y or z is missing.
    """
    fields = {f.name: f for f in msg.fields}
    if not all(k in fields for k in ("x", "y", "z")):
        raise MalformedMessage("bad_cloud", f"PointCloud2 without x, y, z fields (has {sorted(fields)})")
    h, w, ps, rs = int(msg.height), int(msg.width), int(msg.point_step), int(msg.row_step)
    data = msg.data
    buf = data if isinstance(data, (bytes, bytearray, memoryview)) else np.asarray(data, dtype=np.uint8).tobytes()
    if h * w == 0:
        return np.zeros((0, 3))
    if ps <= 0 or rs < w * ps:
        raise MalformedMessage("truncated_cloud", f"point_step {ps} / row_step {rs} too small for width {w}")
    if len(buf) < h * rs:
        raise MalformedMessage("truncated_cloud", f"{len(buf)} bytes of data, {h} rows × {rs} bytes expected")
    end = ">" if msg.is_bigendian else "<"
    names, formats, offsets = [], [], []
    for k in ("x", "y", "z"):
        f = fields[k]
        if int(f.datatype) not in _PC2_TYPES:
            raise MalformedMessage("bad_cloud", f"field {k} has unknown datatype {f.datatype}")
        dt = np.dtype(_PC2_TYPES[int(f.datatype)]).newbyteorder(end)
        if int(f.offset) + dt.itemsize > ps:
            raise MalformedMessage("truncated_cloud", f"field {k} at offset {f.offset} does not fit point_step {ps}")
        names.append(k)
        formats.append(dt)
        offsets.append(int(f.offset))
    dtype = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": ps})
    rows = np.frombuffer(buf, dtype=np.uint8, count=h * rs).reshape(h, rs)[:, : w * ps]
    arr = np.ascontiguousarray(rows).view(dtype).reshape(-1)
    pts = np.stack([arr["x"], arr["y"], arr["z"]], 1).astype(np.float64)
    return pts[np.isfinite(pts).all(1)]
