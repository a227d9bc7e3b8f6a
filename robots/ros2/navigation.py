"""How a navigate skill's goal reaches the robot, and the feedback the critic judges.

- ``GoalPoseNavigator``: publishes geometry_msgs/PoseStamped on ``topics.goal`` (``/goal_pose``,
  what RViz's "2D Goal Pose" sends; Nav2's bt_navigator and simple followers obey it) and watches
  the robot's pose in memory (from odometry / TF): the distance still to go is the straight line,
  the goal succeeded within ``tolerance``. It cannot tell an unreachable goal: the robot simply
  stops making progress, and the critic says ``stalled``.
- ``Nav2Navigator``: Nav2's ``NavigateToPose`` action through rclpy's ``ActionClient`` (rclpy
  transport only; ``nav2_msgs`` must be importable): feedback ``distance_remaining``, result
  status succeeded / aborted / cancelled; every abort is counted (repeated aborts put the target
  aside through the executor, which gives up a goal the navigator aborted).

``feedback(pose)`` returns the navigator's view for the robot observation (``state``: idle, active,
succeeded, aborted; ``goal`` [x, y]; ``distance`` m; ``aborts``). Units: metres, radians, seconds,
the world frame of memory.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

from embodied_mem.deps import require

from . import messages as M

__all__ = ["GoalPoseNavigator", "Nav2Navigator", "make_navigator"]


class GoalPoseNavigator:
    """Goals on ``/goal_pose`` (``publish(msg)`` sends one PoseStamped), progress from the pose.

    ``resend`` s: an unchanged goal is sent again this often while it is not reached (a goal lost
    to discovery or a robot restart must not leave the robot idle forever)."""

    name = "goal_pose"

    def __init__(self, publish: Callable[[Any], None], frame: Callable[[], str], tolerance: float = 0.35,
                 resend: float = 3.0) -> None:
        self._publish = publish
        self._frame = frame
        self.tolerance = float(tolerance)
        self.resend = float(resend)
        self.goal: tuple[float, float, float] | None = None
        self.sent_at = -math.inf
        self.sent = 0
        self.aborts = 0

    def go(self, x: float, y: float, yaw: float, t: float) -> bool:
        """Drive to (x, y, yaw); returns True when a message was sent (new goal, or a resend)."""
        new = self.goal is None or math.hypot(self.goal[0] - x, self.goal[1] - y) > 0.01 or \
            abs(self.goal[2] - yaw) > 0.05
        if not new and t - self.sent_at < self.resend:
            return False
        self.goal, self.sent_at = (float(x), float(y), float(yaw)), t
        self._publish(M.pose_stamped(t, x, y, yaw, frame=self._frame()))
        self.sent += 1
        return new

    def cancel(self, pose: tuple[float, float, float] | None = None, t: float = 0.0) -> None:
        """Forget the goal; ``/goal_pose`` has no cancel, so with the robot's ``pose`` a goal where it
        stands is sent (a follower then stops)."""
        if self.goal is not None and pose is not None:
            self._publish(M.pose_stamped(t, pose[0], pose[1], pose[2], frame=self._frame()))
        self.goal, self.sent_at = None, -math.inf

    def feedback(self, pose: tuple[float, float, float] | None) -> dict[str, Any]:
        if self.goal is None:
            return {"state": "idle", "goal": None, "distance": None, "aborts": self.aborts}
        d = math.hypot(self.goal[0] - pose[0], self.goal[1] - pose[1]) if pose is not None else None
        state = "succeeded" if d is not None and d <= self.tolerance else "active"
        return {"state": state, "goal": [self.goal[0], self.goal[1]], "distance": d, "aborts": self.aborts}


class Nav2Navigator:
    """Nav2's ``NavigateToPose`` action (``nav2_msgs/action/NavigateToPose``) on an rclpy node.

    ``action_api``: an object with ``ActionClient`` (``rclpy.action.ActionClient``),
    ``NavigateToPose`` (``nav2_msgs.action.NavigateToPose``) and ``GoalStatus``
    (``action_msgs.msg.GoalStatus``); None imports the real ones. Callbacks run on the node's
    executor thread; ``feedback`` reads what they stored under a lock.
    """

    name = "nav2"

    def __init__(self, node: Any, frame: Callable[[], str], action_name: str = "navigate_to_pose",
                 action_api: Any = None) -> None:
        if action_api is None:
            ActionClient = require("rclpy.action", "Nav2 navigation").ActionClient
            NavigateToPose = require("nav2_msgs.action", "Nav2 navigation (nav2_msgs)").NavigateToPose
            GoalStatus = require("action_msgs.msg", "Nav2 navigation (action_msgs)").GoalStatus
        else:
            ActionClient, NavigateToPose, GoalStatus = (action_api.ActionClient, action_api.NavigateToPose,
                                                        action_api.GoalStatus)
        self.NavigateToPose, self.GoalStatus = NavigateToPose, GoalStatus
        self.client = ActionClient(node, NavigateToPose, action_name)
        self._frame = frame
        self._lock = threading.Lock()
        self.goal: tuple[float, float, float] | None = None
        self.state = "idle"
        self.distance: float | None = None
        self.aborts = 0
        self.handle: Any = None
        self.sent = 0
        self._seq = 0

    def available(self, timeout: float = 0.0) -> bool:
        """Whether a NavigateToPose server answers (``ActionClient.wait_for_server``)."""
        return bool(self.client.wait_for_server(timeout_sec=timeout))

    def go(self, x: float, y: float, yaw: float, t: float) -> bool:
        with self._lock:
            if self.goal is not None and math.hypot(self.goal[0] - x, self.goal[1] - y) <= 0.01 and \
                    abs(self.goal[2] - yaw) <= 0.05 and self.state == "active":
                return False
            self._seq += 1
            seq = self._seq
            self.goal, self.state, self.distance = (float(x), float(y), float(yaw)), "active", None
        goal = self.NavigateToPose.Goal()
        goal.pose.header.frame_id = self._frame()
        sec = int(math.floor(t))
        goal.pose.header.stamp.sec, goal.pose.header.stamp.nanosec = sec, int((t - sec) * 1e9)
        goal.pose.pose.position.x, goal.pose.pose.position.y = float(x), float(y)
        goal.pose.pose.orientation.z, goal.pose.pose.orientation.w = math.sin(yaw / 2), math.cos(yaw / 2)
        future = self.client.send_goal_async(goal, feedback_callback=lambda fb: self._on_feedback(seq, fb))
        future.add_done_callback(lambda f: self._on_accepted(seq, f))
        self.sent += 1
        return True

    def _on_feedback(self, seq: int, fb: Any) -> None:
        with self._lock:
            if seq == self._seq:
                self.distance = float(fb.feedback.distance_remaining)

    def _on_accepted(self, seq: int, future: Any) -> None:
        handle = future.result()
        with self._lock:
            if seq != self._seq:
                return
            if handle is None or not handle.accepted:
                self.state, self.aborts = "aborted", self.aborts + 1
                return
            self.handle = handle
        handle.get_result_async().add_done_callback(lambda f: self._on_result(seq, f))

    def _on_result(self, seq: int, future: Any) -> None:
        status = future.result().status
        with self._lock:
            if seq != self._seq:
                return
            if status == self.GoalStatus.STATUS_SUCCEEDED:
                self.state = "succeeded"
            elif status == self.GoalStatus.STATUS_CANCELED:
                self.state = "idle"
            else:  # STATUS_ABORTED (the planner or controller failed), or an unknown end
                self.state, self.aborts = "aborted", self.aborts + 1

    def cancel(self, pose: tuple[float, float, float] | None = None, t: float = 0.0) -> None:
        """Cancel the running goal (``cancel_goal_async``)."""
        with self._lock:
            handle, self.handle = self.handle, None
            self._seq += 1
            self.goal, self.state = None, "idle"
        if handle is not None:
            handle.cancel_goal_async()

    def feedback(self, pose: tuple[float, float, float] | None) -> dict[str, Any]:
        with self._lock:
            if self.goal is None:
                return {"state": self.state, "goal": None, "distance": None, "aborts": self.aborts}
            d = self.distance
            if d is None and pose is not None:
                d = math.hypot(self.goal[0] - pose[0], self.goal[1] - pose[1])
            return {"state": self.state, "goal": [self.goal[0], self.goal[1]], "distance": d, "aborts": self.aborts}


def make_navigator(bridge: Any, tolerance: float, action_api: Any = None) -> Any:
    """The navigator ``bridge.config.navigation`` asks for: ``nav2`` (rclpy transport; an error
    elsewhere), ``goal_pose``, or ``auto``: Nav2 when the rclpy transport runs and a NavigateToPose
    server answers within 2 s, else ``/goal_pose``."""
    c = bridge.config
    frame = bridge.converter.world_frame
    node = getattr(bridge.transport, "node", None)
    if c.navigation == "nav2" and node is None:
        raise ValueError("robot.navigation=nav2 needs the rclpy transport (Nav2 actions are not spoken over plain "
                         "DDS here); use robot.navigation=goal_pose or transport=rclpy")
    if c.navigation in ("nav2", "auto") and node is not None:
        try:
            nav = Nav2Navigator(node, frame, c.nav2_action, action_api=action_api)
        except ImportError:
            if c.navigation == "nav2":
                raise
        else:
            if c.navigation == "nav2" or nav.available(timeout=2.0):
                return nav
    return GoalPoseNavigator(lambda msg: bridge.publish("goal", msg), frame, tolerance)
