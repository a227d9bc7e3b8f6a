"""ROS 2 message types without a ROS installation: rosbags' type store, and DDS types made from it.

``typestore()`` is the ROS 2 Humble type store of rosbags plus vision_msgs (not part of the
standard store). It serialises and deserialises the CDR bytes that ROS 2 sends over DDS and
stores in rosbag2 files. ``idl_type(name)`` builds a cyclonedds ``IdlStruct`` for a ROS 2 type
(``nav_msgs/msg/Odometry`` -> DDS type ``nav_msgs::msg::dds_::Odometry_``) from the same field
definitions, so its bytes on the wire are exactly ROS 2's.
"""

from __future__ import annotations

import functools
from typing import Any

from embodied_mem.deps import require

__all__ = ["typestore", "idl_type", "dds_type_name", "to_idl", "VISION_MSGS", "ros_type_name"]

# vision_msgs 4.x (ROS 2 Humble / Jazzy), field for field.
VISION_MSGS: dict[str, str] = {
    "vision_msgs/msg/ObjectHypothesis": "string class_id\nfloat64 score\n",
    "vision_msgs/msg/ObjectHypothesisWithPose": (
        "vision_msgs/ObjectHypothesis hypothesis\ngeometry_msgs/PoseWithCovariance pose\n"),
    "vision_msgs/msg/BoundingBox3D": "geometry_msgs/Pose center\ngeometry_msgs/Vector3 size\n",
    "vision_msgs/msg/Detection3D": (
        "std_msgs/Header header\nvision_msgs/ObjectHypothesisWithPose[] results\n"
        "vision_msgs/BoundingBox3D bbox\nstring id\n"),
    "vision_msgs/msg/Detection3DArray": "std_msgs/Header header\nvision_msgs/Detection3D[] detections\n",
}


@functools.lru_cache(maxsize=1)
def typestore() -> Any:
    """The ROS 2 Humble type store of rosbags, with vision_msgs registered."""
    require("rosbags", "ROS 2 message types")
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_HUMBLE)
    add: dict[str, Any] = {}
    for name, text in VISION_MSGS.items():
        add.update(get_types_from_msg(text, name))
    store.register(add)
    return store


def ros_type_name(name: str) -> str:
    """Normalise ``pkg/Type`` or ``pkg/msg/Type`` to ``pkg/msg/Type``."""
    parts = name.strip().split("/")
    if len(parts) == 2:
        return f"{parts[0]}/msg/{parts[1]}"
    if len(parts) == 3 and parts[1] == "msg":
        return name.strip()
    raise ValueError(f"ROS 2 message type must look like 'pkg/msg/Type', got {name!r}")


def dds_type_name(name: str) -> str:
    """``nav_msgs/msg/Odometry`` -> ``nav_msgs::msg::dds_::Odometry_`` (the name ROS 2 uses on DDS)."""
    pkg, _, typ = ros_type_name(name).split("/")
    return f"{pkg}::msg::dds_::{typ}_"


@functools.cache
def idl_type(name: str) -> type:
    """A cyclonedds ``IdlStruct`` class for ROS 2 type ``name`` (built once, then cached)."""
    require("cyclonedds", "the DDS transport")
    import cyclonedds.idl.types as T
    from cyclonedds.idl import make_idl_struct
    from rosbags.interfaces import Nodetype

    base = {"bool": bool, "byte": T.byte, "char": T.uint8, "int8": T.int8, "uint8": T.uint8, "int16": T.int16,
            "uint16": T.uint16, "int32": T.int32, "uint32": T.uint32, "int64": T.int64, "uint64": T.uint64,
            "float32": T.float32, "float64": T.float64, "string": str}

    def field_type(desc: Any) -> Any:
        kind, detail = desc
        if kind == Nodetype.BASE:
            tname, maxlen = detail
            if tname == "string" and maxlen:
                return T.bounded_str[maxlen]
            return base[tname]
        if kind == Nodetype.NAME:
            return idl_type(detail)
        if kind == Nodetype.ARRAY:
            sub, n = detail
            return T.array[field_type(sub), n]
        if kind == Nodetype.SEQUENCE:
            sub, n = detail
            return T.sequence[field_type(sub), n] if n else T.sequence[field_type(sub)]
        raise TypeError(f"unsupported field kind {kind!r} in {name}")

    name = ros_type_name(name)
    store = typestore()
    if name not in store.fielddefs:
        raise KeyError(f"unknown ROS 2 message type {name!r}")
    _, fields = store.fielddefs[name]
    ann = {fname: field_type(desc) for fname, desc in fields}
    if not ann:  # empty ROS messages carry one dummy byte on the wire (rosidl convention)
        ann = {"structure_needs_at_least_one_member": T.uint8}
    return make_idl_struct(name.split("/")[-1] + "_", dds_type_name(name), ann)


def to_idl(msg: Any, name: str) -> Any:
    """A rosbags message object -> the equivalent DDS sample (through its CDR bytes, which are identical)."""
    raw = typestore().serialize_cdr(msg, ros_type_name(name))
    return idl_type(name).deserialize(bytes(raw))


def from_idl(sample: Any) -> bytes:
    """A DDS sample -> CDR bytes (with the 4-byte encapsulation header), as rosbag2 stores them."""
    return sample.serialize()
