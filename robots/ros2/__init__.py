"""ROS 2 bridge: build memory from a ROS 2 robot, live (rclpy or plain DDS) or from rosbag2 files.

- ``convert``: ROS 2 messages (any object with ROS field names: rosbags, rclpy or DDS samples)
  -> ``Percept`` in the map frame, with a TF buffer (``tf``) resolving map -> odom -> base_link.
- ``bridge``: ``Ros2Bridge``, the ``RobotBridge`` that feeds memory and answers queries.
- transports: ``bag`` (rosbag2 via rosbags), ``dds`` (cyclonedds speaking ROS 2 wire types),
  ``rclpy_node`` (a real ROS 2 node, when ROS 2 is sourced).

Nothing here imports rclpy, cyclonedds or rosbags until a transport needs it.
"""

from .config import Ros2BridgeConfig

__all__ = ["Ros2BridgeConfig", "Ros2Bridge"]


def __getattr__(name: str):  # lazy: the bridge module pulls in the converter (numpy only)
    if name == "Ros2Bridge":
        from .bridge import Ros2Bridge

        return Ros2Bridge
    raise AttributeError(name)
