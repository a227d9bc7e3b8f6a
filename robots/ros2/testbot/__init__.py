"""A **test robot**, not a simulator for users: the indoor3d world as a ROS 2 robot process over DDS.

Nav2 and Gazebo cannot be installed here, so the bridge's closed loop is tested against this
process. It speaks only ROS 2 messages (cyclonedds, ROS 2 wire types): ``/odom``, ``/tf``,
``/scan``, ``/detections``, ``/clock`` out; ``/goal_pose`` and ``/cmd_vel`` in (see
``robots/ros2/README.md``). ``sim`` is the middleware-free simulation, ``node`` its DDS process,
``cli`` the command line (``embodied-mem robot testbot`` / ``python -m embodied_mem.robots.ros2.testbot``).
"""

from .sim import TOPICS, GoalState, TestbotConfig, TestbotSim
from .world import WORLDS, load_world

__all__ = ["TestbotConfig", "TestbotSim", "GoalState", "TOPICS", "WORLDS", "load_world"]
