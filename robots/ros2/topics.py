"""The bridge's topic tables, shared by the bridge and its transports (DDS, rclpy) without either
importing the other: message kind -> (topic config key, ROS 2 type name)."""

from __future__ import annotations

__all__ = ["KINDS", "TYPES", "LATCHED"]

# message kind -> (topic config key, ROS 2 type)
KINDS: dict[str, tuple[str, str]] = {
    "odom": ("odom", "nav_msgs/msg/Odometry"),
    "tf": ("tf", "tf2_msgs/msg/TFMessage"),
    "tf_static": ("tf_static", "tf2_msgs/msg/TFMessage"),
    "pose": ("pose", "geometry_msgs/msg/PoseWithCovarianceStamped"),
    "scan": ("scan", "sensor_msgs/msg/LaserScan"),
    "cloud": ("cloud", "sensor_msgs/msg/PointCloud2"),
    "detections": ("detections", "vision_msgs/msg/Detection3DArray"),
    "detections_json": ("detections_json", "std_msgs/msg/String"),
    "query": ("query", "std_msgs/msg/String"),
    "clock": ("clock", "rosgraph_msgs/msg/Clock"),  # only with use_sim_time
    "task": ("task", "std_msgs/msg/String"),  # JSON task request (tasks.py), for the task runner
}
# outputs: key -> (topic config key, ROS 2 type)
TYPES: dict[str, tuple[str, str]] = {
    "answer": ("answer", "std_msgs/msg/String"),
    "markers": ("markers", "visualization_msgs/msg/MarkerArray"),
    "goal": ("goal", "geometry_msgs/msg/PoseStamped"),
    "map": ("map", "nav_msgs/msg/OccupancyGrid"),
    "task_status": ("task_status", "std_msgs/msg/String"),  # JSON task progress and result
    "plan": ("plan", "visualization_msgs/msg/MarkerArray"),  # the running task's plan and target
    "cmd_vel": ("cmd_vel", "geometry_msgs/msg/Twist"),  # turning in place (look around), stopping
}
# outputs published transient local (depth 1): late joiners (RViz) get the last one, like map_server
LATCHED: frozenset[str] = frozenset({"map"})
