"""A ROS 2 robot on the shared ``AgentLoop``: navigate, look around, wait and report, chosen by the
planner from lifelong memory, judged by the critic from the robot's own feedback.

Nothing here knows ROS 2: the robot's transport (``embodied_mem.robots.ros2.task_runner``) hands
the loop a plain observation each decision (``t`` seconds, the robot's ``pose`` in the memory's
world frame, the navigation feedback ``nav``, the running ``task``) and turns the structured
actions the skills return (``{"op": "navigate", "x", "y", "yaw"}``, ``{"op": "rotate", "speed"}``,
``{"op": "wait"}``, ``{"op": "report", "text", "outcome"}``) into ROS 2 messages. Memory is fed by
the bridge from the robot's sensors, not by this package. ``kit.KIT`` is the ``WorldKit``.
Units: metres, radians, seconds.
"""
