"""Builders for ROS 2 messages as rosbags objects (Humble definitions): for outputs, tests, a stand-in robot.

Times are seconds (turned into ``builtin_interfaces/Time``), distances metres, angles radians.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .types import typestore

__all__ = ["T", "stamp", "header", "point", "quat_yaw", "pose", "odometry", "pose_stamped", "tf_message",
           "laser_scan", "point_cloud", "detection3d_array", "string", "twist"]


def T(name: str) -> Any:
    """The rosbags class of ROS 2 type ``name`` (``"nav_msgs/msg/Odometry"``)."""
    return typestore().types[name]


def stamp(t: float | None) -> Any:
    t = 0.0 if t is None or not math.isfinite(t) else max(0.0, float(t))
    sec = int(math.floor(t))
    return T("builtin_interfaces/msg/Time")(sec=sec, nanosec=min(999_999_999, int(round((t - sec) * 1e9))))


def header(frame: str, t: float | None) -> Any:
    return T("std_msgs/msg/Header")(stamp=stamp(t), frame_id=frame)


def point(x: float, y: float, z: float = 0.0) -> Any:
    return T("geometry_msgs/msg/Point")(x=float(x), y=float(y), z=float(z))


def quat_yaw(yaw: float) -> Any:
    return T("geometry_msgs/msg/Quaternion")(x=0.0, y=0.0, z=math.sin(yaw / 2), w=math.cos(yaw / 2))


def pose(x: float, y: float, z: float = 0.0, yaw: float = 0.0) -> Any:
    return T("geometry_msgs/msg/Pose")(position=point(x, y, z), orientation=quat_yaw(yaw))


def _cov(pose_msg: Any) -> Any:
    return T("geometry_msgs/msg/PoseWithCovariance")(pose=pose_msg, covariance=np.zeros(36))


def odometry(t: float, x: float, y: float, yaw: float = 0.0, frame: str = "odom", child: str = "base_link") -> Any:
    twist = T("geometry_msgs/msg/TwistWithCovariance")(
        twist=T("geometry_msgs/msg/Twist")(linear=T("geometry_msgs/msg/Vector3")(x=0.0, y=0.0, z=0.0),
                                           angular=T("geometry_msgs/msg/Vector3")(x=0.0, y=0.0, z=0.0)),
        covariance=np.zeros(36))
    return T("nav_msgs/msg/Odometry")(header=header(frame, t), child_frame_id=child, pose=_cov(pose(x, y, 0.0, yaw)),
                                      twist=twist)


def pose_stamped(t: float, x: float, y: float, yaw: float = 0.0, frame: str = "map", covariance: bool = False) -> Any:
    if covariance:
        return T("geometry_msgs/msg/PoseWithCovarianceStamped")(header=header(frame, t), pose=_cov(pose(x, y, 0, yaw)))
    return T("geometry_msgs/msg/PoseStamped")(header=header(frame, t), pose=pose(x, y, 0.0, yaw))


def tf_message(transforms: Iterable[tuple[str, str, float, float, float, float, float]]) -> Any:
    """TFMessage from (parent, child, t, x, y, z, yaw) tuples."""
    out = []
    for parent, child, t, x, y, z, yaw in transforms:
        q = quat_yaw(yaw)
        out.append(T("geometry_msgs/msg/TransformStamped")(
            header=header(parent, t), child_frame_id=child,
            transform=T("geometry_msgs/msg/Transform")(translation=T("geometry_msgs/msg/Vector3")(x=x, y=y, z=z),
                                                       rotation=q)))
    return T("tf2_msgs/msg/TFMessage")(transforms=out)


def laser_scan(t: float, frame: str, ranges: Sequence[float], angle_min: float = -math.pi,
               angle_increment: float | None = None, range_min: float = 0.1, range_max: float = 12.0) -> Any:
    with np.errstate(over="ignore"):  # a range beyond float32 is +-inf on the wire, as in a real scan
        r = np.asarray(ranges, dtype=np.float32)
    inc = angle_increment if angle_increment is not None else 2 * math.pi / max(1, len(r))
    return T("sensor_msgs/msg/LaserScan")(
        header=header(frame, t), angle_min=float(angle_min), angle_max=float(angle_min + inc * (len(r) - 1)),
        angle_increment=float(inc), time_increment=0.0, scan_time=0.1, range_min=float(range_min),
        range_max=float(range_max), ranges=r, intensities=np.zeros(0, np.float32))


def point_cloud(t: float, frame: str, pts: np.ndarray, truncate: int = 0) -> Any:
    """PointCloud2 of float32 x, y, z (point_step 12); ``truncate`` drops that many bytes from ``data``."""
    pts = np.asarray(pts, dtype=np.float32).reshape(-1, 3)
    F = T("sensor_msgs/msg/PointField")
    fields = [F(name=n, offset=4 * i, datatype=7, count=1) for i, n in enumerate("xyz")]
    data = np.frombuffer(pts.tobytes(), dtype=np.uint8)
    if truncate:
        data = data[:-truncate]
    return T("sensor_msgs/msg/PointCloud2")(header=header(frame, t), height=1, width=len(pts), fields=fields,
                                            is_bigendian=False, point_step=12, row_step=12 * len(pts), data=data,
                                            is_dense=True)


def detection3d_array(t: float, frame: str, dets: Iterable[tuple[str, Sequence[float], float, str]]) -> Any:
    """Detection3DArray from (label, (x, y, z), score, id) tuples, positions in ``frame``."""
    out = []
    for label, (x, y, z), score, did in dets:
        hyp = T("vision_msgs/msg/ObjectHypothesisWithPose")(
            hypothesis=T("vision_msgs/msg/ObjectHypothesis")(class_id=label, score=float(score)),
            pose=_cov(pose(x, y, z)))
        bbox = T("vision_msgs/msg/BoundingBox3D")(center=pose(x, y, z),
                                                  size=T("geometry_msgs/msg/Vector3")(x=0.2, y=0.2, z=0.2))
        out.append(T("vision_msgs/msg/Detection3D")(header=header(frame, t), results=[hyp], bbox=bbox, id=did))
    return T("vision_msgs/msg/Detection3DArray")(header=header(frame, t), detections=out)


def string(text: str) -> Any:
    return T("std_msgs/msg/String")(data=text)


def twist(linear_x: float = 0.0, angular_z: float = 0.0) -> Any:
    """geometry_msgs/Twist: forward speed (m/s) and turn rate (rad/s, counter-clockwise); 0, 0 stops."""
    V = T("geometry_msgs/msg/Vector3")
    return T("geometry_msgs/msg/Twist")(linear=V(x=float(linear_x), y=0.0, z=0.0), angular=V(x=0.0, y=0.0, z=float(angular_z)))
