"""The test robot's simulation, without any middleware: a differential-drive robot in a world.

``TestbotSim`` steps simulated time by ``dt`` seconds. Each step it moves the robot (a goal's path
follower or a velocity command), integrates noisy wheel odometry, and returns the ROS 2 messages a
robot would publish at that instant (rosbags objects, ROS 2 Humble types):

- every step: ``/clock``; ``/odom`` (odom -> base_link, with drift and noise); ``/tf`` with
  ``map -> odom`` (what a localiser publishes: it corrects the drift, so ``map -> base_link`` is
  the true pose) and ``odom -> base_link``;
- every ``1 / scan_rate`` s: ``/scan`` (360° LaserScan ray-cast against the world's meshes at the
  laser's height; +inf where nothing is within ``range_max``);
- every ``1 / detection_rate`` s: ``/detections`` (vision_msgs/Detection3DArray in ``camera_link``:
  only objects with at least ``min_pixels`` pixels in the rendered camera image, within
  ``detection_range``; each with its class label, a score growing with its pixel count and its
  box centre, with Gaussian noise);
- with ``image_rate`` > 0: ``/camera/image_raw`` (rgb8), ``/camera/depth/image_raw`` (32FC1,
  metres) and ``/camera/camera_info`` in ``camera_optical_frame``;
- ``/tf_static`` once (base_link -> laser, camera_link, camera_optical_frame) and
  ``/testbot/goal_status`` whenever the goal's state changes (non-standard; std_msgs/String JSON).

Units: metres, radians, seconds of simulated time; ``map`` is the world's frame. Commands:
``set_goal`` (a ``/goal_pose``: plans a path over the world's navigable floor grid and follows it)
and ``set_cmd_vel`` (a ``/cmd_vel``: drives for ``cmd_vel_timeout`` s, cancelling any goal).
A goal with no navigable floor within ``goal_snap`` metres is *rejected*: the robot does not move.
A robot blocked for ``stuck_timeout`` s gives up (*aborted*) and stops where it got stuck. The
simulation is deterministic in (world, world seed, seed) and the sequence of commands.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .. import messages as M
from .world import check_world, load_world

__all__ = ["TestbotConfig", "TestbotSim", "GoalState", "TOPICS"]

# topic -> ROS 2 type of everything the robot publishes
TOPICS: dict[str, str] = {
    "/clock": "rosgraph_msgs/msg/Clock",
    "/odom": "nav_msgs/msg/Odometry",
    "/tf": "tf2_msgs/msg/TFMessage",
    "/tf_static": "tf2_msgs/msg/TFMessage",
    "/scan": "sensor_msgs/msg/LaserScan",
    "/detections": "vision_msgs/msg/Detection3DArray",
    "/camera/image_raw": "sensor_msgs/msg/Image",
    "/camera/depth/image_raw": "sensor_msgs/msg/Image",
    "/camera/camera_info": "sensor_msgs/msg/CameraInfo",
    "/testbot/goal_status": "std_msgs/msg/String",
}


@dataclass
class TestbotConfig:
    """Everything about the test robot. Metres, radians, seconds (simulated), Hz of simulated time."""

    __test__ = False  # not a pytest class

    world: str = "indoor3d"  # registered world or "module:function(seed)"
    world_seed: int = 0
    seed: int | None = None  # odometry/sensor noise and the start pose; None: the world seed
    start: tuple[float, float, float] | None = None  # (x, y, yaw) in map; None: a random free spot
    t0: float = 1.0  # simulated time of step 0 (a zero stamp means "no stamp" in ROS)
    dt: float = 0.05  # s per step (odometry, TF and /clock rate = 1/dt)
    # driving
    max_speed: float = 0.5  # m/s
    max_turn: float = 1.5  # rad/s
    max_accel: float = 1.0  # m/s²
    max_turn_accel: float = 4.0  # rad/s²
    goal_tolerance: float = 0.15  # m: the goal counts as reached this close (x–y) ...
    yaw_tolerance: float = 0.15  # rad: ... and then turned to the goal's yaw this closely
    goal_snap: float = 1.0  # m: planner tolerance: a goal off the navigable floor (on furniture) ends on free floor this close, else it is rejected
    stuck_timeout: float = 5.0  # s without progress while following a goal: aborted
    cmd_vel_timeout: float = 0.5  # s a /cmd_vel command lasts
    # odometry error (wheel odometry): std grows with sqrt(distance), plus systematic scale and yaw drift
    odom_noise: float = 0.01  # m per sqrt(m)
    odom_turn_noise: float = 0.01  # rad per sqrt(rad)
    odom_scale_error: float = 0.01  # std of the fixed distance scale error (drawn once per seed)
    odom_yaw_drift: float = 0.005  # std of the fixed yaw drift in rad per metre (drawn once per seed)
    # laser
    scan_rate: float = 5.0
    scan_rays: int = 360
    scan_height: float = 0.2  # m above the floor
    scan_range: float = 12.0
    scan_noise: float = 0.01  # m
    # camera and detector
    detection_rate: float = 2.0
    camera_width: int = 128
    camera_height: int = 128
    camera_hfov: float = math.pi / 2
    camera_z: float = 1.0  # m above the floor, at the robot's centre ...
    camera_pitch: float = 0.55  # rad, tilted down (REP 103: positive pitch looks down): sees the floor from 0.25 m
    detection_range: float = 5.0  # m
    min_pixels: int = 20  # pixels of an object in the image for it to be detected
    detect: str = "objects"  # "objects" (small objects) | "all" (also furniture)
    detection_noise: float = 0.03  # m std of the reported centre
    instance_ids: bool = False  # Detection3D.id = "<label>-<instance>" (a tracker's ids) instead of ""
    closed_doors: tuple[int, ...] = ()  # indices into the world's doors closed from the start
    world_period: float = 1.0  # s between asks of a changing world (one with world_at(t)) for its state
    image_rate: float = 0.0  # Hz of camera images (0: off)
    frames: dict[str, str] = field(default_factory=lambda: {
        "map": "map", "odom": "odom", "base": "base_link", "laser": "laser", "camera": "camera_link",
        "optical": "camera_optical_frame"})

    def __post_init__(self) -> None:
        if self.start is not None:
            self.start = tuple(float(v) for v in self.start)  # type: ignore[assignment]
            if len(self.start) != 3 or not all(math.isfinite(v) for v in self.start):
                raise ValueError(f"start must be finite (x, y, yaw), got {self.start}")
        positive = ("dt", "max_speed", "max_turn", "max_accel", "max_turn_accel", "goal_tolerance", "yaw_tolerance",
                    "stuck_timeout", "cmd_vel_timeout", "scan_range", "camera_hfov", "detection_range", "world_period")
        for name in positive:
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"testbot {name} must be a positive number, got {v!r}")
        nonneg = ("goal_snap", "odom_noise", "odom_turn_noise", "odom_scale_error", "odom_yaw_drift", "scan_rate",
                  "scan_height", "scan_noise", "detection_rate", "camera_z", "detection_noise", "image_rate", "t0")
        for name in nonneg:
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"testbot {name} must be a number >= 0, got {v!r}")
        for name in ("scan_rays", "camera_width", "camera_height", "min_pixels"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"testbot {name} must be a positive int, got {v!r}")
        if isinstance(self.closed_doors, int) or not all(isinstance(d, int) and d >= 0 for d in self.closed_doors):
            raise ValueError(f"testbot closed_doors must be door indices (ints >= 0), got {self.closed_doors!r}")
        self.closed_doors = tuple(self.closed_doors)
        if self.detect not in ("objects", "all"):
            raise ValueError(f"testbot detect must be 'objects' or 'all', got {self.detect!r}")
        if not (isinstance(self.camera_pitch, (int, float)) and abs(self.camera_pitch) < math.pi / 2):
            raise ValueError(f"testbot camera_pitch must be within ±π/2 rad, got {self.camera_pitch!r}")
        if not self.camera_hfov < math.pi:
            raise ValueError(f"testbot camera_hfov must be below π, got {self.camera_hfov}")


@dataclass
class GoalState:
    """The current goal: ``state`` is idle | active | succeeded | rejected | aborted | canceled."""

    state: str = "idle"
    goal: tuple[float, float, float] | None = None  # as asked, in map (x, y, yaw; yaw NaN: any)
    target: tuple[float, float] | None = None  # where the robot drives to: the goal, or free floor near it
    reason: str = ""
    id: int = 0  # counts goals received
    t: float = 0.0  # simulated time of the last change

    def to_json(self) -> str:
        def clean(v: Any) -> Any:
            return None if v is None else [None if math.isnan(x) else round(x, 4) for x in v]

        return json.dumps({"id": self.id, "state": self.state, "goal": clean(self.goal), "target": clean(self.target),
                           "reason": self.reason, "t": round(self.t, 6)})


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


def _compose(a: tuple[float, float, float], b: tuple[float, float, float]) -> tuple[float, float, float]:
    """Planar pose composition a ∘ b (b expressed in a's frame)."""
    c, s = math.cos(a[2]), math.sin(a[2])
    return (a[0] + c * b[0] - s * b[1], a[1] + s * b[0] + c * b[1], _wrap(a[2] + b[2]))


def _inverse(a: tuple[float, float, float]) -> tuple[float, float, float]:
    c, s = math.cos(a[2]), math.sin(a[2])
    return (-(c * a[0] + s * a[1]), -(-s * a[0] + c * a[1]), _wrap(-a[2]))


class TestbotSim:
    """A simulated robot in ``config.world``; ``step()`` advances ``dt`` and returns (topic, type, message)s."""

    __test__ = False

    def __init__(self, config: TestbotConfig | None = None, world: Any = None) -> None:
        self.config = c = config or TestbotConfig()
        self.seed = int(c.world_seed if c.seed is None else c.seed)
        self._odom_rng = np.random.default_rng([self.seed, 1])
        self._sensor_rng = np.random.default_rng([self.seed, 2])
        self.scale_error = float(np.random.default_rng([self.seed, 3]).normal(0.0, c.odom_scale_error))
        self.yaw_drift = float(np.random.default_rng([self.seed, 4]).normal(0.0, c.odom_yaw_drift))
        self.world: Any = None
        self.map: Any = None  # the robot's map for planning: the world as given (doors open)
        self.closed_doors: tuple[int, ...] = ()
        world = world if world is not None else load_world(c.world, int(c.world_seed))
        # a changing world (world_at(t)) is asked for its state every world_period s
        self.changing = world if callable(getattr(world, "world_at", None)) else None
        self._asked_at = float(c.t0)
        self.set_world(check_world(self.changing.world_at(float(c.t0))) if self.changing else check_world(world))
        if c.closed_doors:
            self.set_doors(c.closed_doors)
        self.step_index = 0
        self.t = float(c.t0)
        self.pose = self._start_pose()  # true pose in map
        self.odom = (0.0, 0.0, 0.0)  # the odometry's estimate of the pose, in odom
        self.v = self.w = 0.0  # true body velocities
        self.goal = GoalState(t=self.t)
        self._goal_changed = True
        self._path: list[tuple[float, float]] = []
        self._path_i = 1
        self._cmd: tuple[float, float, float] | None = None  # (v, w, until t)
        self._dist: np.ndarray | None = None  # cost to go to the goal's cell, per cell of the map
        self._progress = (self.t, math.inf)
        self._replanned = False
        self.blocked_steps = 0
        self.resent_goals = 0  # goals identical to the active one (ignored)
        self.travelled = 0.0

    # ------------------------------------------------------------------ world
    def set_world(self, world: Any, update_map: bool = True) -> None:
        """Use ``world`` from now on (e.g. the same house after its residents moved things). With
        ``update_map`` the robot's planning map is the new world too; without it the robot plans on
        its old map and meets the changes only when it drives into them (a closed door)."""
        from embodied_mem.envs.indoor3d.render import Renderer
        from scipy.ndimage import distance_transform_edt

        from embodied_mem.mapping3d.frames import Intrinsics

        c = self.config
        self.world = world
        if update_map or self.map is None:
            self.map = world
            self._open_world = world
            self.closed_doors = ()
            self.clearance = distance_transform_edt(world.navigable) * world.nav_resolution  # m to non-navigable
            # planning cost: keep about 0.3 m from walls and furniture where there is room
            self._cost = 1.0 + 4.0 * np.clip(1.0 - self.clearance / 0.3, 0.0, 1.0)
        self.intrinsics = Intrinsics(c.camera_width, c.camera_height, c.camera_hfov)
        self.renderer = Renderer(world, self.intrinsics, max_depth=max(c.detection_range, 10.0), nthreads=1)
        self._boxes = {b.id: b for b in world.boxes}
        kinds = ("object",) if c.detect == "objects" else ("object", "furniture")
        self._detectable = np.zeros(max(self._boxes) + 1, bool)
        for b in world.boxes:
            self._detectable[b.id] = b.kind in kinds
        self._laser = _RayCaster(world)

    def set_doors(self, closed: Any) -> None:
        """Close exactly the doors ``closed`` (indices into ``world.doors``), open the others.

        A closed door is a door-sized panel: the laser and camera see it and the robot cannot pass,
        but the robot's map still has it open: it plans through and finds out at the door (no
        progress: aborted there), as a robot with a static map would. ``ValueError`` for a bad index
        or a world without doors.
        """
        import dataclasses

        from embodied_mem.envs.indoor3d.world import DOOR_HEIGHT, DOOR_WIDTH, WALL_THICKNESS, Box
        from scipy.ndimage import binary_dilation

        from embodied_mem.mapping3d.navgrid import disk

        base = self._open_world
        doors = list(getattr(base, "doors", []))
        closed = tuple(sorted({int(i) for i in closed}))
        bad = [i for i in closed if not 0 <= i < len(doors)]
        if bad or not dataclasses.is_dataclass(base):
            raise ValueError(f"doors to close must be indices 0..{len(doors) - 1} of this world's doors, got {list(closed)}")
        if closed == self.closed_doors:
            return
        boxes = list(base.boxes)
        blocked = np.zeros_like(base.navigable)
        res, (ox, oy) = base.nav_resolution, base.nav_origin
        H, W = blocked.shape
        cx, cy = ox + (np.arange(W) + 0.5) * res, oy + (np.arange(H) + 0.5) * res
        for i in closed:
            dx, dy, axis = doors[i]
            hx, hy = (DOOR_WIDTH / 2, WALL_THICKNESS / 2) if axis == "x" else (WALL_THICKNESS / 2, DOOR_WIDTH / 2)
            b = Box(len(boxes) + 1, "door", (dx - hx, dy - hy, 0.0), (dx + hx, dy + hy, DOOR_HEIGHT), (120, 85, 60),
                    None, "structure")
            boxes.append(b)
            blocked[np.ix_((cy >= b.lo[1]) & (cy <= b.hi[1]), (cx >= b.lo[0]) & (cx <= b.hi[0]))] = True
        radius = float(getattr(base, "agent_radius", 0.18))
        nav = base.navigable & ~binary_dilation(blocked, structure=disk(radius / res)) if closed else base.navigable
        self.set_world(dataclasses.replace(base, boxes=boxes, navigable=nav), update_map=False)
        self.closed_doors = closed

    def _start_pose(self) -> tuple[float, float, float]:
        c, w = self.config, self.world
        if c.start is not None:
            x, y, yaw = c.start
            if not w.is_navigable(x, y):
                raise ValueError(f"start ({x}, {y}) is not on the world's navigable floor")
            return (x, y, _wrap(yaw))
        rng = np.random.default_rng([self.seed, 0])
        cells = np.argwhere((self.clearance >= 0.25) & w.navigable)
        if not len(cells):
            cells = np.argwhere(w.navigable)
        r, col = cells[int(rng.integers(len(cells)))]
        x, y = w.nav_center(int(r), int(col))
        return (float(x), float(y), float(rng.uniform(-math.pi, math.pi)))

    # ------------------------------------------------------------------ frames
    @property
    def map_to_odom(self) -> tuple[float, float, float]:
        """The localiser's correction: map -> odom such that map -> odom -> base_link is the true pose."""
        return _compose(self.pose, _inverse(self.odom))

    # ------------------------------------------------------------------ commands
    def set_goal(self, x: float, y: float, yaw: float | None = None, frame: str = "map") -> GoalState:
        """A navigation goal (``/goal_pose``) in ``frame`` (map, odom or base_link); returns the goal's state.

        The same goal again while it is active (within 1 cm and 0.05 rad: a client re-sending it) changes
        nothing; any other goal replaces the current one (a new plan)."""
        f = self.config.frames
        prev = self.goal
        new = GoalState(id=prev.id + 1, t=self.t)
        vals = (x, y) + (() if yaw is None else (yaw,))
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in vals):
            return self._replace(new, "rejected", f"goal holds NaN or inf: {vals}")
        yaw = None if yaw is None else float(yaw)
        frame = (frame or f["map"]).lstrip("/")
        if frame == f["odom"]:
            x, y, yaw_m = _compose(self.map_to_odom, (x, y, yaw or 0.0))
        elif frame == f["base"]:
            x, y, yaw_m = _compose(self.pose, (x, y, yaw or 0.0))
        elif frame == f["map"]:
            yaw_m = yaw or 0.0
        else:
            return self._replace(new, "rejected",
                                 f"unknown goal frame {frame!r} (use {f['map']}, {f['odom']} or {f['base']})")
        goal = (float(x), float(y), float(yaw_m) if yaw is not None else float("nan"))
        if prev.state == "active" and prev.goal is not None and self._cmd is None and \
                math.dist(prev.goal[:2], goal[:2]) <= 0.01 and (
                    math.isnan(prev.goal[2]) == math.isnan(goal[2])) and (
                    math.isnan(goal[2]) or abs(_wrap(prev.goal[2] - goal[2])) <= 0.05):
            self.resent_goals += 1
            return prev
        new.goal = goal
        route = self._route(self.pose[:2], (x, y))
        if route is None:
            return self._replace(new, "rejected", "no navigable floor leads there")
        self._replace(new, "active")
        path, self._dist = route
        self._path, self._path_i = path, 1
        new.target = (float(path[-1][0]), float(path[-1][1]))
        self._progress = (self.t, math.inf)
        self._replanned = False
        return new

    def _replace(self, goal: GoalState, state: str, reason: str = "") -> GoalState:
        self._cmd = None
        self.goal = goal
        if state == "active":
            goal.state, goal.t = state, self.t
            self._goal_changed = True
            return goal
        return self._finish(state, reason)

    def set_cmd_vel(self, v: float, w: float) -> None:
        """Drive at ``v`` m/s forward and ``w`` rad/s (clipped to the limits) for ``cmd_vel_timeout`` s."""
        if not (math.isfinite(v) and math.isfinite(w)):
            return
        if self.goal.state == "active":
            self._finish("canceled", "cmd_vel received")
        c = self.config
        self._cmd = (float(np.clip(v, -c.max_speed, c.max_speed)), float(np.clip(w, -c.max_turn, c.max_turn)),
                     self.t + c.cmd_vel_timeout)

    def _finish(self, state: str, reason: str = "") -> GoalState:
        self.goal.state, self.goal.reason, self.goal.t = state, reason, self.t
        self._goal_changed = True
        self._path = []
        return self.goal

    # ------------------------------------------------------------------ planning
    def _snap(self, x: float, y: float) -> tuple[int, int] | None:
        """The navigable cell at (x, y), or the nearest within ``goal_snap`` m on the same side of the
        walls (a goal on a cabinet against a wall ends in front of the cabinet, not behind the wall);
        None if there is none."""
        w = self.map
        r, c = w.nav_cell(x, y)
        H, W = w.navigable.shape
        if 0 <= r < H and 0 <= c < W and w.navigable[r, c]:
            return (r, c)
        k = int(math.ceil(self.config.goal_snap / w.nav_resolution))
        r0, r1, c0, c1 = max(0, r - k), min(H, r + k + 1), max(0, c - k), min(W, c + k + 1)
        if r0 >= r1 or c0 >= c1:
            return None
        sub = np.argwhere(w.navigable[r0:r1, c0:c1]) + (r0, c0)
        if not len(sub):
            return None
        d = np.hypot(sub[:, 0] - r, sub[:, 1] - c) * w.nav_resolution
        keep = d <= self.config.goal_snap
        sub, d = sub[keep], d[keep]
        if not len(sub):
            return None
        centres = np.array([w.nav_center(int(a), int(b)) for a, b in sub])
        ok = ~self.crosses_walls(np.array([x, y]), centres)
        if not ok.any():
            return None
        i = int(np.flatnonzero(ok)[d[ok].argmin()])
        return (int(sub[i, 0]), int(sub[i, 1]))

    def crosses_walls(self, a: np.ndarray, bs: np.ndarray) -> np.ndarray:
        """For each point of ``bs`` (N, 2): does the segment from ``a`` cross a wall of the map (2-D)?"""
        walls = [b for b in self.map.boxes if b.category == "wall" and b.lo[2] < 0.5]
        if not walls:
            return np.zeros(len(bs), bool)
        lo = np.array([b.lo[:2] for b in walls])[:, None, :]
        hi = np.array([b.hi[:2] for b in walls])[:, None, :]
        d = bs[None, :, :] - a
        with np.errstate(divide="ignore", invalid="ignore"):
            t1, t2 = (lo - a) / d, (hi - a) / d
        t1 = np.where(d == 0, np.where((a >= lo) & (a <= hi), -np.inf, np.inf), t1)
        t2 = np.where(d == 0, np.where((a >= lo) & (a <= hi), np.inf, -np.inf), t2)
        tmin = np.minimum(t1, t2).max(axis=2)
        tmax = np.maximum(t1, t2).min(axis=2)
        return ((tmax >= np.maximum(tmin, 0.0)) & (tmin <= 1.0)).any(axis=0)

    def plan(self, start: tuple[float, float], goal: tuple[float, float]) -> list[tuple[float, float]] | None:
        """Waypoints (map, m) from ``start`` to ``goal`` over the robot's map (its navigable grid; a goal
        off the floor ends on free floor within ``goal_snap``), or None when there is no way."""
        route = self._route(start, goal)
        return route[0] if route else None

    def _route(self, start: tuple[float, float], goal: tuple[float, float]) -> tuple[list, np.ndarray] | None:
        """(waypoints, cost to go per cell) or None; the cost is metres weighted up near obstacles."""
        from embodied_mem.mapping3d.navgrid import geodesic

        w = self.map
        g = self._snap(*goal)
        s = self._snap(*start)
        if g is None or s is None:
            return None
        dist = geodesic(w.navigable, [g], cost=self._cost)
        if not math.isfinite(dist[s]):
            return None
        cells = [s]
        P = w.navigable
        H, W = P.shape
        cur = s
        while cur != g and len(cells) < H * W:
            r, c = cur
            best, bd = None, dist[cur]
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    rr, cc = r + dr, c + dc
                    if (dr or dc) and 0 <= rr < H and 0 <= cc < W and dist[rr, cc] < bd:
                        if dr and dc and not (P[r + dr, c] and P[r, c + dc]):
                            continue
                        best, bd = (rr, cc), dist[rr, cc]
            if best is None:
                break
            cells.append(best)
            cur = best
        pts = [w.nav_center(r, c) for r, c in cells]
        pts[-1] = goal if w.is_navigable(*goal) else pts[-1]
        path = self._shortcut([tuple(start)] + pts[1:] if len(pts) > 1 else [tuple(start), pts[0]])
        return path, dist * w.nav_resolution

    def _clear(self, a: tuple[float, float], b: tuple[float, float]) -> bool:
        w = self.map
        n = max(2, int(math.dist(a, b) / (w.nav_resolution / 2)) + 1)
        need = min(0.1, self._clearance_at(*a), self._clearance_at(*b)) - 1e-9
        for f in np.linspace(0.0, 1.0, n):
            x, y = a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1])
            if not w.is_navigable(x, y) or self._clearance_at(x, y) < need:
                return False
        return True

    def _clearance_at(self, x: float, y: float) -> float:
        r, c = self.map.nav_cell(x, y)
        H, W = self.clearance.shape
        return float(self.clearance[r, c]) if 0 <= r < H and 0 <= c < W else 0.0

    def _shortcut(self, pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
        out = [pts[0]]
        i = 0
        while i < len(pts) - 1:
            j = len(pts) - 1
            while j > i + 1 and not self._clear(pts[i], pts[j]):
                j = max(i + 1, j - max(1, (j - i) // 4)) if j - i > 8 else j - 1
            out.append(pts[j])
            i = j
        return out

    # ------------------------------------------------------------------ control
    def _follow(self) -> tuple[float, float]:
        """(v, w) towards the goal along the path (pure pursuit, turning in place for big heading errors)."""
        c = self.config
        x, y, yaw = self.pose
        gx, gy = self._path[-1]
        dgoal = math.hypot(gx - x, gy - y)
        if dgoal <= c.goal_tolerance:
            gyaw = self.goal.goal[2] if self.goal.goal else float("nan")
            if math.isnan(gyaw):
                self._finish("succeeded")
                return 0.0, 0.0
            e = _wrap(gyaw - yaw)
            if abs(e) <= c.yaw_tolerance:
                self._finish("succeeded")
                return 0.0, 0.0
            return 0.0, float(np.clip(2.0 * e, -c.max_turn, c.max_turn))
        # advance along the path: next waypoint once within the lookahead
        look = 0.3
        while self._path_i < len(self._path) - 1 and math.dist((x, y), self._path[self._path_i]) < look:
            self._path_i += 1
        ax, ay = self._path[self._path_i - 1]
        bx, by = self._path[self._path_i]
        seg = math.hypot(bx - ax, by - ay)
        if seg > 1e-9:  # carrot: the robot's projection on the segment plus the lookahead
            u = ((x - ax) * (bx - ax) + (y - ay) * (by - ay)) / seg
            u = min(seg, max(0.0, u) + look)
            tx, ty = ax + (bx - ax) * u / seg, ay + (by - ay) * u / seg
        else:
            tx, ty = bx, by
        e = _wrap(math.atan2(ty - y, tx - x) - yaw)
        wcmd = float(np.clip(2.5 * e, -c.max_turn, c.max_turn))
        if abs(e) > 0.6:
            return 0.0, wcmd
        v = min(c.max_speed, 0.8 * dgoal + 0.05) * math.cos(e)
        return float(v), wcmd

    def _move(self, v_cmd: float, w_cmd: float, slide: bool) -> None:
        c = self.config
        dt = c.dt
        self.v += float(np.clip(v_cmd - self.v, -c.max_accel * dt, c.max_accel * dt))
        self.w += float(np.clip(w_cmd - self.w, -c.max_turn_accel * dt, c.max_turn_accel * dt))
        x, y, yaw = self.pose
        yaw_mid = yaw + self.w * dt / 2
        dx, dy = self.v * dt * math.cos(yaw_mid), self.v * dt * math.sin(yaw_mid)
        nyaw = _wrap(yaw + self.w * dt)
        w = self.world
        moved = (dx, dy)
        if not (w.is_navigable(x + dx, y + dy)):
            moved = (0.0, 0.0)
            if slide:  # a bumper and a simple recovery: keep the component along the obstacle
                for ddx, ddy in sorted([(dx, 0.0), (0.0, dy)], key=lambda d: -abs(d[0] + d[1])):
                    if (ddx or ddy) and w.is_navigable(x + ddx, y + ddy):
                        moved = (ddx, ddy)
                        break
            if moved == (0.0, 0.0):
                self.blocked_steps += 1
                self.v = 0.0
        d = math.hypot(*moved)
        sgn = 1.0 if moved[0] * math.cos(yaw) + moved[1] * math.sin(yaw) >= 0 else -1.0
        dth = _wrap(nyaw - yaw)
        self.pose = (x + moved[0], y + moved[1], nyaw)
        self.travelled += d
        # wheel odometry: the same motion with a fixed scale error, a yaw drift and random noise
        rng = self._odom_rng
        d_o = sgn * d * (1.0 + self.scale_error) + rng.normal(0.0, c.odom_noise * math.sqrt(d)) if d else 0.0
        th_o = dth + self.yaw_drift * d
        if dth or d:
            th_o += rng.normal(0.0, c.odom_turn_noise * math.sqrt(abs(dth)) + c.odom_noise * math.sqrt(d))
        ox, oy, oyaw = self.odom
        mid = oyaw + th_o / 2
        self.odom = (ox + d_o * math.cos(mid), oy + d_o * math.sin(mid), _wrap(oyaw + th_o))
        self._odom_twist = (d_o / dt, th_o / dt)

    # ------------------------------------------------------------------ stepping
    def step(self) -> list[tuple[str, str, Any]]:
        """Advance ``dt`` seconds; returns (topic, ROS 2 type, message) to publish, in order."""
        c = self.config
        out: list[tuple[str, str, Any]] = []
        if self.step_index == 0:
            out.append(("/tf_static", TOPICS["/tf_static"], self._tf_static()))
        else:
            self.t = c.t0 + self.step_index * c.dt
            if self.changing is not None and self.t - self._asked_at >= c.world_period - 1e-9:
                self._asked_at = self.t
                w = self.changing.world_at(self.t)
                if w is not self.world:
                    self.set_world(check_world(w), update_map=False)
            if self._cmd is not None and self.t > self._cmd[2]:
                self._cmd = None
            if self.goal.state == "active":
                v, w = self._follow()
                if self.goal.state == "active":
                    self._move(v, w, slide=True)
                    self._check_progress()
                else:
                    self._move(0.0, 0.0, slide=False)
            elif self._cmd is not None:
                self._move(self._cmd[0], self._cmd[1], slide=False)
            else:
                self._move(0.0, 0.0, slide=False)
        if not hasattr(self, "_odom_twist"):
            self._odom_twist = (0.0, 0.0)
        out += self._pose_messages()
        k = self.step_index
        for rate, make in ((c.scan_rate, self.scan_message), (c.detection_rate, self.detections_message), (c.image_rate, self._images)):
            if rate > 0 and k % max(1, round(1.0 / (rate * c.dt))) == 0:
                out += make()
        if self._goal_changed:
            out.append(("/testbot/goal_status", TOPICS["/testbot/goal_status"], M.string(self.goal.to_json())))
            self._goal_changed = False
        self.step_index += 1
        return out

    def _remaining(self) -> float:
        """Cost to go (metres, weighted up near obstacles) from the robot to the goal (straight line off the map)."""
        r, c = self.map.nav_cell(*self.pose[:2])
        d = self._dist
        if d is not None and 0 <= r < d.shape[0] and 0 <= c < d.shape[1] and math.isfinite(d[r, c]):
            return float(d[r, c])
        return math.dist(self.pose[:2], self._path[-1]) if self._path else math.inf

    def _check_progress(self) -> None:
        """Progress is the cost to go shrinking by 0.1; none for ``stuck_timeout`` s: aborted
        (one replan half-way). Sliding to and fro along an obstacle is no progress."""
        t0, best = self._progress
        left = self._remaining()
        if left < best - 0.1:
            self._progress = (self.t, left)
            return
        if self.t - t0 >= self.config.stuck_timeout / 2 and not self._replanned and self.goal.goal:
            self._replanned = True
            route = self._route(self.pose[:2], self.goal.goal[:2])
            if route is not None:
                (self._path, self._dist), self._path_i = route, 1
        if self.t - t0 >= self.config.stuck_timeout:
            self._finish("aborted", f"no progress for {self.config.stuck_timeout:g} s")
            self.v = self.w = 0.0

    # ------------------------------------------------------------------ messages
    def _pose_messages(self) -> list[tuple[str, str, Any]]:
        f, t = self.config.frames, self.t
        ox, oy, oyaw = self.odom
        mx, my, myaw = self.map_to_odom
        clock = M.T("rosgraph_msgs/msg/Clock")(clock=M.stamp(t))
        odom = M.odometry(t, ox, oy, oyaw, frame=f["odom"], child=f["base"])
        odom.twist.twist.linear.x, odom.twist.twist.angular.z = self._odom_twist
        cov = np.zeros(36)
        cov[[0, 7, 35]] = (0.01, 0.01, 0.005)
        cov[[14, 21, 28]] = 1e6  # z, roll, pitch: not measured
        odom.pose.covariance = cov
        tf = M.tf_message([(f["map"], f["odom"], t, mx, my, 0.0, myaw), (f["odom"], f["base"], t, ox, oy, 0.0, oyaw)])
        return [("/clock", TOPICS["/clock"], clock), ("/odom", TOPICS["/odom"], odom), ("/tf", TOPICS["/tf"], tf)]

    def _tf_static(self) -> Any:
        c, f = self.config, self.config.frames
        msg = M.tf_message([(f["base"], f["laser"], self.t, 0.0, 0.0, c.scan_height, 0.0),
                            (f["base"], f["camera"], self.t, 0.0, 0.0, c.camera_z, 0.0),
                            (f["camera"], f["optical"], self.t, 0.0, 0.0, 0.0, 0.0)])
        q = msg.transforms[1].transform.rotation  # pitched down about y
        q.x, q.y, q.z, q.w = 0.0, math.sin(c.camera_pitch / 2), 0.0, math.cos(c.camera_pitch / 2)
        q = msg.transforms[2].transform.rotation  # REP 103 optical frame: z forward, x right, y down
        q.x, q.y, q.z, q.w = -0.5, 0.5, -0.5, 0.5
        return msg

    def scan_message(self) -> list[tuple[str, str, Any]]:
        """``/scan`` now: 360° LaserScan in ``laser`` (ray-cast at ``scan_height``, +inf beyond ``scan_range``)."""
        c = self.config
        x, y, yaw = self.pose
        inc = 2 * math.pi / c.scan_rays
        ang = yaw - math.pi + np.arange(c.scan_rays) * inc
        rng = self._laser.cast(np.array([x, y, c.scan_height]), np.stack([np.cos(ang), np.sin(ang), 0 * ang], 1))
        rng = rng + self._sensor_rng.normal(0.0, c.scan_noise, rng.shape) if c.scan_noise else rng
        rng = np.where(np.isfinite(rng) & (rng <= c.scan_range), np.maximum(rng, 0.12), np.inf)
        msg = M.laser_scan(self.t, c.frames["laser"], rng, angle_min=-math.pi, angle_increment=inc, range_min=0.12,
                           range_max=c.scan_range)
        msg.scan_time = 1.0 / c.scan_rate
        return [("/scan", TOPICS["/scan"], msg)]

    def camera_rotation(self) -> np.ndarray:
        """3×3 map-from-camera_link rotation now (x forward, y left, z up; yaw, then pitch down)."""
        _, _, yaw = self.pose
        p = self.config.camera_pitch
        cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(p), math.sin(p)
        Rz = np.array([[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]])
        Ry = np.array([[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])
        return Rz @ Ry

    def camera_matrix(self) -> np.ndarray:
        """4×4 map-from-camera (OpenCV axes: x right, y down, z forward) of the camera now."""
        R = self.camera_rotation()
        T = np.eye(4)
        T[:3, 0], T[:3, 1], T[:3, 2] = -R[:, 1], -R[:, 2], R[:, 0]
        T[:3, 3] = (self.pose[0], self.pose[1], self.config.camera_z)
        return T

    def visible_objects(self, image: dict[str, np.ndarray] | None = None) -> list[tuple[Any, int, float]]:
        """(box, pixels, distance) of the detectable instances with at least ``min_pixels`` pixels in the
        rendered camera image now and their centre within ``detection_range`` m of the camera, by id."""
        c = self.config
        img = image if image is not None else self.renderer.render(self.camera_matrix(), rgb=False)
        counts = np.bincount(img["semantic"].ravel(), minlength=len(self._detectable))
        eye = np.array([self.pose[0], self.pose[1], c.camera_z])
        out = []
        for i in np.flatnonzero((counts[:len(self._detectable)] >= c.min_pixels) & self._detectable):
            box = self._boxes[int(i)]
            d = float(np.linalg.norm(np.array(box.center) - eye))
            if d <= c.detection_range:
                out.append((box, int(counts[i]), d))
        return out

    def detections_message(self, image: dict[str, np.ndarray] | None = None) -> list[tuple[str, str, Any]]:
        """``/detections`` now: a Detection3DArray in ``camera_link`` of ``visible_objects`` (box centres)."""
        c, f = self.config, self.config.frames
        R = self.camera_rotation()
        eye = np.array([self.pose[0], self.pose[1], c.camera_z])
        dets = []
        for box, n, _ in self.visible_objects(image):
            p = R.T @ (np.array(box.center) - eye)  # in camera_link
            if c.detection_noise:
                p = p + self._sensor_rng.normal(0.0, c.detection_noise, 3)
            score = round(0.5 + 0.5 * min(1.0, n / 400.0), 3)
            did = f"{box.category}-{box.id}" if c.instance_ids else ""
            size = tuple(h - lo for lo, h in zip(box.lo, box.hi))
            dets.append((box.category, p, score, did, size))
        return [("/detections", TOPICS["/detections"], _detection_array(self.t, f["camera"], dets, _quat(R.T)))]

    def _images(self) -> list[tuple[str, str, Any]]:
        f, t = self.config.frames, self.t
        img = self.renderer.render(self.camera_matrix(), rgb=True)
        H, W = img["depth"].shape
        hdr = M.header(f["optical"], t)
        Image = M.T("sensor_msgs/msg/Image")
        rgb = Image(header=hdr, height=H, width=W, encoding="rgb8", is_bigendian=0, step=3 * W,
                    data=np.ascontiguousarray(img["rgb"]).ravel())
        depth = Image(header=M.header(f["optical"], t), height=H, width=W, encoding="32FC1", is_bigendian=0,
                      step=4 * W, data=np.frombuffer(img["depth"].astype("<f4").tobytes(), np.uint8))
        K = self.intrinsics.matrix
        info = M.T("sensor_msgs/msg/CameraInfo")(
            header=M.header(f["optical"], t), height=H, width=W, distortion_model="plumb_bob", d=np.zeros(5),
            k=K.ravel(), r=np.eye(3).ravel(), p=np.hstack([K, np.zeros((3, 1))]).ravel(), binning_x=0, binning_y=0,
            roi=M.T("sensor_msgs/msg/RegionOfInterest")(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))
        return [("/camera/image_raw", TOPICS["/camera/image_raw"], rgb),
                ("/camera/depth/image_raw", TOPICS["/camera/depth/image_raw"], depth),
                ("/camera/camera_info", TOPICS["/camera/camera_info"], info)]

    def summary(self) -> dict[str, Any]:
        """Where the robot is and what happened: for logs and the CLI's last line."""
        return {"t": self.t, "steps": self.step_index, "pose": list(self.pose), "odom": list(self.odom),
                "travelled_m": self.travelled, "goal": json.loads(self.goal.to_json()),
                "config": {k: v for k, v in asdict(self.config).items() if k in ("world", "world_seed", "seed")}}


def _quat(R: np.ndarray) -> tuple[float, float, float, float]:
    """(x, y, z, w) of a rotation matrix."""
    w = math.sqrt(max(0.0, 1.0 + R[0, 0] + R[1, 1] + R[2, 2])) / 2
    x = math.copysign(math.sqrt(max(0.0, 1.0 + R[0, 0] - R[1, 1] - R[2, 2])) / 2, R[2, 1] - R[1, 2])
    y = math.copysign(math.sqrt(max(0.0, 1.0 - R[0, 0] + R[1, 1] - R[2, 2])) / 2, R[0, 2] - R[2, 0])
    z = math.copysign(math.sqrt(max(0.0, 1.0 - R[0, 0] - R[1, 1] + R[2, 2])) / 2, R[1, 0] - R[0, 1])
    return (x, y, z, w)


def _detection_array(t: float, frame: str, dets: list[tuple[str, np.ndarray, float, str, tuple]],
                     q: tuple[float, float, float, float]) -> Any:
    """Detection3DArray from (label, centre, score, id, size) in ``frame``; boxes oriented by ``q`` there."""
    out = []
    for label, p, score, did, size in dets:
        centre = M.pose(float(p[0]), float(p[1]), float(p[2]))
        o = centre.orientation
        o.x, o.y, o.z, o.w = q
        hyp = M.T("vision_msgs/msg/ObjectHypothesisWithPose")(
            hypothesis=M.T("vision_msgs/msg/ObjectHypothesis")(class_id=label, score=float(score)),
            pose=M.T("geometry_msgs/msg/PoseWithCovariance")(pose=centre, covariance=np.zeros(36)))
        bbox = M.T("vision_msgs/msg/BoundingBox3D")(center=centre, size=M.T("geometry_msgs/msg/Vector3")(
            x=float(size[0]), y=float(size[1]), z=float(size[2])))
        out.append(M.T("vision_msgs/msg/Detection3D")(header=M.header(frame, t), results=[hyp], bbox=bbox, id=did))
    return M.T("vision_msgs/msg/Detection3DArray")(header=M.header(frame, t), detections=out)


class _RayCaster:
    """Distances (m) along rays to the world's meshes (open3d), inf where nothing is hit."""

    def __init__(self, world: Any) -> None:
        from embodied_mem.deps import require

        o3d = require("open3d", "the test robot's laser")
        verts, tris, _ = world.mesh()
        self._scene = o3d.t.geometry.RaycastingScene()
        mesh = o3d.t.geometry.TriangleMesh()
        mesh.vertex.positions = o3d.core.Tensor(verts)
        mesh.triangle.indices = o3d.core.Tensor(tris)
        self._scene.add_triangles(mesh)
        self._o3c = o3d.core

    def cast(self, origin: np.ndarray, dirs: np.ndarray) -> np.ndarray:
        rays = np.empty((len(dirs), 6), np.float32)
        rays[:, :3] = origin
        rays[:, 3:] = dirs
        return self._scene.cast_rays(self._o3c.Tensor(rays), nthreads=1)["t_hit"].numpy().astype(np.float64)
