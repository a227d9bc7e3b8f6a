"""Robot bridges (installed as ``embodied_mem.robots``): ROS 2 via rclpy, plain DDS, or rosbag2 replay.

``RobotBridge`` (``base.py``) is the lifecycle every bridge follows; ``ros2.Ros2Bridge`` is the ROS 2
one. Nothing heavy (rclpy, cyclonedds, rosbags) is imported until a bridge connects.
"""

from .base import DeviceAlreadyConnectedError, DeviceNotConnectedError, RobotBridge

__all__ = ["RobotBridge", "DeviceNotConnectedError", "DeviceAlreadyConnectedError"]
