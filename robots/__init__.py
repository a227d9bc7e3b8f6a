"""Robot bridges (installed as ``embodied_mem.robots``): ROS 2 via rclpy, plain DDS, or rosbag2 replay.

``make(transport, ...)`` builds a ``Ros2Bridge``; nothing heavy (rclpy, cyclonedds, rosbags) is
imported until a bridge connects.
"""

from .base import DeviceAlreadyConnectedError, DeviceNotConnectedError, RobotBridge

__all__ = ["RobotBridge", "DeviceNotConnectedError", "DeviceAlreadyConnectedError"]
