"""Typed settings of the ROS 2 bridge (also the schema of ``configs/robot/ros2.yaml``).

Units: metres, radians, seconds. Frames follow REP 105: ``map`` (world) -> ``odom`` -> ``base_link``.
Memory positions are in ``world_frame``. When TF holds no ``world_frame`` within
``odom_fallback_after`` seconds of the first message (a robot without localisation) and
``odom_fallback`` is true, ``odom`` becomes the world frame for the rest of the session (it never
switches back and forth, so the map stays consistent); until then messages that need the world
frame wait (at most ``tf_chain_wait`` s, ``max_waiting`` per topic) and are placed once it is
decided, else skipped as ``waiting_for_world``. Bag replay decides at once by looking through the
recording's TF (a recording without TF: the odometry's frame).
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from typing import Any

__all__ = ["TopicsConfig", "FramesConfig", "QosConfig", "ScanConfig", "CloudConfig", "DetectionConfig",
           "MotionConfig", "MessageLimits", "Ros2BridgeConfig", "robot_memory_config"]


@dataclass
class TopicsConfig:
    """Topic names (ROS 2 names; on DDS they travel as ``rt/<name>``). Empty string: not subscribed."""

    odom: str = "/odom"  # nav_msgs/Odometry
    tf: str = "/tf"  # tf2_msgs/TFMessage
    tf_static: str = "/tf_static"  # tf2_msgs/TFMessage (transient local)
    pose: str = "/amcl_pose"  # geometry_msgs/PoseWithCovarianceStamped (or PoseStamped, see pose_type)
    pose_type: str = "geometry_msgs/msg/PoseWithCovarianceStamped"
    scan: str = "/scan"  # sensor_msgs/LaserScan
    cloud: str = ""  # sensor_msgs/PointCloud2, off by default
    detections: str = "/detections"  # vision_msgs/Detection3DArray
    detections_json: str = "/detections_json"  # std_msgs/String carrying JSON (see convert.detections_from_json)
    query: str = "/memory/query"  # std_msgs/String, JSON request
    answer: str = "/memory/answer"  # std_msgs/String, JSON response
    markers: str = "/memory/markers"  # visualization_msgs/MarkerArray
    goal: str = "/goal_pose"  # geometry_msgs/PoseStamped (Nav2's goal topic)
    map: str = "/memory/map"  # nav_msgs/OccupancyGrid of memory's occupancy (transient local)
    clock: str = "/clock"  # rosgraph_msgs/Clock, read only with use_sim_time
    task: str = "/memory/task"  # std_msgs/String, JSON task request (tasks.py)
    task_status: str = "/memory/task_status"  # std_msgs/String, JSON task progress and result
    plan: str = "/memory/plan"  # visualization_msgs/MarkerArray: the running task's plan and target
    cmd_vel: str = "/cmd_vel"  # geometry_msgs/Twist: turning in place (look around) and stopping


@dataclass
class FramesConfig:
    world_frame: str = "map"
    odom_frame: str = "odom"
    base_frame: str = "base_link"
    odom_fallback: bool = True  # no world frame in TF after odom_fallback_after s: use odom as the world frame
    odom_fallback_after: float = 2.0  # s of message time to wait for the world frame before falling back
    tf_tolerance: float = 0.5  # s: a transform this much older/newer than a stamp is still used
    tf_wait: float = 1.0  # s of TF time a message stamped ahead of TF waits for its transform
    tf_chain_wait: float = 10.0  # s a message waits while its frame's chain to the world is not yet in TF
    max_waiting: int = 500  # messages per topic waiting for TF (the oldest is dropped beyond it)
    max_waiting_bytes: int = 64 << 20  # bytes of message data waiting for TF, all topics together
    max_frames: int = 10_000  # TF frames kept; transforms naming new frames beyond it are refused


@dataclass
class QosConfig:
    """ROS 2 QoS of the bridge's subscriptions and publishers."""

    reliability: str = "reliable"  # reliable | best_effort (sensor topics usually best_effort)
    sensor_reliability: str = "best_effort"  # for scan and cloud
    depth: int = 200  # KEEP_LAST depth: a backlog this long survives a busy moment without loss
    tf_static_durability: str = "transient_local"


@dataclass
class ScanConfig:
    max_free_range: float = 4.0  # m: free space is marked along rays up to this distance
    max_hit_range: float = 12.0  # m: farther returns are not marked blocked
    inf_is_free: bool = True  # +inf range (no return) marks the ray free up to max_free_range
    min_interval: float = 0.0  # s between scans turned into cells (0: every scan)


@dataclass
class CloudConfig:
    min_height: float = 0.05  # m in the world frame: points between these are obstacles
    max_height: float = 1.5
    max_range: float = 8.0


@dataclass
class DetectionConfig:
    view: bool = True  # detections carry a cone View (negative evidence) from the sensor frame
    fov: float = 1.2  # rad, the camera's horizontal field of view
    range: float = 3.0  # m, how far a missing object counts as evidence it is gone
    min_score: float = 0.3


_MOTION_KEYS = ("max_speed", "max_acceleration", "tolerance")


@dataclass
class MotionConfig:
    """Plausible motion of one source (a pose topic, or a sensor's origin): a step from the last
    accepted position longer than ``min(max_speed·dt, (v + max_acceleration·dt)·dt) + tolerance``
    (v: the speed of the step before) is refused as ``implausible_jump``. Refused positions in a
    row that agree with each other for ``relocalize_after`` seconds are taken as a real
    relocalisation (a shorter glitch never gets in).
    ``per_source`` overrides by topic, e.g. ``{"/amcl_pose": {"max_speed": 50.0}}``."""

    max_speed: float = 20.0  # m/s; 0 switches the check off
    max_acceleration: float = 50.0  # m/s²; 0: speed only
    tolerance: float = 0.5  # m always allowed (jitter, a stamp off by a frame)
    relocalize_after: float = 1.0  # s
    per_source: dict[str, dict[str, float]] = field(default_factory=dict)

    def limits(self, topic: str) -> tuple[float, float, float]:
        """(max_speed, max_acceleration, tolerance) for ``topic``."""
        o = self.per_source.get(topic, {})
        return (float(o.get("max_speed", self.max_speed)), float(o.get("max_acceleration", self.max_acceleration)),
                float(o.get("tolerance", self.tolerance)))


@dataclass
class MessageLimits:
    """Bounds on one message, so none can cost unbounded time or memory (a bigger one is refused as
    ``too_large``; a camera cone too long as ``bad_json``)."""

    max_view_range: float = 50.0  # m: a camera cone longer than this is refused
    max_detections: int = 1000  # per message
    max_json_bytes: int = 1 << 20  # bytes of a JSON detections message or query
    max_transforms: int = 10_000  # per TFMessage
    max_points: int = 4_000_000  # rays of a LaserScan, points of a PointCloud2


@dataclass
class Ros2BridgeConfig:
    """Everything the bridge needs besides memory's own config."""

    name: str = "robot"  # percept source prefix: sources are "<name>:<topic>"
    transport: str = "dds"  # dds | rclpy | bag
    domain_id: int = 0
    pose_source: str = "auto"  # auto | odom | tf | pose: which messages give the robot's trajectory
    min_pose_distance: float = 0.02  # m: a pose closer than this (and ...)
    min_pose_rotation: float = 0.05  # rad: ... turned less than this is not stored (keyframes)
    max_pose_interval: float = 1.0  # s: ... unless this long has passed
    marker_period: float = 2.0  # s between MarkerArray publications (live transports)
    flush_period: float = 5.0  # s between memory flushes (durability="batch")
    map_period: float = 5.0  # s between OccupancyGrid publications on topics.map (0: off)
    map_window: float = 40.0  # m: side of the square around the robot the OccupancyGrid covers (at most)
    use_sim_time: bool = False  # take time from /clock (simulation, bag replay) instead of the wall clock
    navigation: str = "auto"  # auto | nav2 | goal_pose: how navigate goals reach the robot (task runner)
    nav2_action: str = "navigate_to_pose"  # Nav2's NavigateToPose action server (rclpy transport)
    topics: TopicsConfig = field(default_factory=TopicsConfig)
    frames: FramesConfig = field(default_factory=FramesConfig)
    qos: QosConfig = field(default_factory=QosConfig)
    scan: ScanConfig = field(default_factory=ScanConfig)
    cloud: CloudConfig = field(default_factory=CloudConfig)
    detection: DetectionConfig = field(default_factory=DetectionConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    limits: MessageLimits = field(default_factory=MessageLimits)

    def __post_init__(self) -> None:
        m = self.motion
        for name, v in [("max_speed", m.max_speed), ("max_acceleration", m.max_acceleration),
                        ("tolerance", m.tolerance), ("relocalize_after", m.relocalize_after)] + [
                (f"per_source[{k!r}].{kk}", vv) for k, o in (m.per_source or {}).items() for kk, vv in
                (o.items() if isinstance(o, dict) else [("(mapping)", None)])]:
            if name.endswith("(mapping)"):
                raise ValueError(f"robot.motion.{name[:-9]} must be a mapping of {list(_MOTION_KEYS)}")
            if name.startswith("per_source") and name.rsplit(".", 1)[1] not in _MOTION_KEYS:
                raise ValueError(f"unknown key in robot.motion.{name}; valid keys: {list(_MOTION_KEYS)}")
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0 <= v < float("inf")):
                raise ValueError(f"robot.motion.{name} must be a finite number >= 0, got {v!r}")
        f = self.frames
        if f.max_waiting < 1 or f.max_waiting_bytes < 1 or f.max_frames < 1:
            raise ValueError("robot.frames.max_waiting, max_waiting_bytes and max_frames must be >= 1")
        if self.transport not in ("dds", "rclpy", "bag"):
            raise ValueError(f"robot.transport must be dds, rclpy or bag, got {self.transport!r}")
        if self.navigation not in ("auto", "nav2", "goal_pose"):
            raise ValueError(f"robot.navigation must be auto, nav2 or goal_pose, got {self.navigation!r}")
        if self.pose_source not in ("auto", "odom", "tf", "pose"):
            raise ValueError(f"robot.pose_source must be auto, odom, tf or pose, got {self.pose_source!r}")
        for r in (self.qos.reliability, self.qos.sensor_reliability):
            if r not in ("reliable", "best_effort"):
                raise ValueError(f"robot.qos reliability must be reliable or best_effort, got {r!r}")
        if isinstance(self.map_period, bool) or not isinstance(self.map_period, (int, float)) or \
                not 0 <= self.map_period < float("inf"):
            raise ValueError(f"robot.map_period must be a number of seconds >= 0 (0: off), got {self.map_period!r}")
        if isinstance(self.map_window, bool) or not isinstance(self.map_window, (int, float)) or \
                not 0 < self.map_window <= 10_000:
            raise ValueError(f"robot.map_window must be metres in (0, 10000], got {self.map_window!r}")
        if not isinstance(self.use_sim_time, bool):
            raise ValueError(f"robot.use_sim_time must be true or false, got {self.use_sim_time!r}")
        if self.scan.max_free_range <= 0 or self.scan.max_hit_range <= 0:
            raise ValueError("robot.scan ranges must be > 0 metres")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(d: Any) -> Ros2BridgeConfig:
        """Build from a mapping or OmegaConf node; an unknown key raises ``ValueError`` listing valid keys."""
        if d is None:
            return Ros2BridgeConfig()
        if isinstance(d, Ros2BridgeConfig):
            return d
        if hasattr(d, "_metadata"):
            from omegaconf import OmegaConf

            d = OmegaConf.to_container(d, resolve=True)
        return _build(Ros2BridgeConfig, dict(d), "robot")


def _build(cls: type, d: Any, path: str) -> Any:
    if not isinstance(d, dict):
        raise TypeError(f"{path} must be a mapping, got {type(d).__name__}")
    valid = {f.name: f for f in fields(cls)}
    unknown = set(d) - set(valid)
    if unknown:
        raise ValueError(f"unknown key(s) {sorted(unknown)} in {path}; valid keys: {sorted(valid)}")
    kw = {}
    for k, v in d.items():
        f = valid[k]
        default = f.default_factory() if f.default_factory is not MISSING else None
        kw[k] = _build(type(default), v, f"{path}.{k}") if is_dataclass(default) else v
    return cls(**kw)


def robot_memory_config(cell_size: float = 0.05, place_radius: float = 1.5, match_tolerance: float = 0.3,
                        connectivity: int = 8) -> Any:
    """A ``MemoryConfig`` suited to a metric robot map (metres), for callers that have none."""
    from embodied_mem.memory.config import MemoryConfig, SpatialConfig

    return MemoryConfig(spatial=SpatialConfig(cell_size=cell_size, place_radius=place_radius,
                                              match_tolerance=match_tolerance, index_cell=2.0,
                                              connectivity=connectivity))
