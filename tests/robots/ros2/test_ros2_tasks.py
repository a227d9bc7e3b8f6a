"""The closed loop on a ROS 2 robot, in process: tasks over the task protocol, the shared
AgentLoop's robot skills, critic verdicts from the robot's own feedback.

The robot is ``testing.DrivenRobot`` (obeys /goal_pose and /cmd_vel, publishes /tf, /odom, /scan,
/detections); every message goes through ``Ros2Bridge.handle`` exactly as a transport delivers it,
and the runner's goals and turns go back to the robot from what the bridge published. The DDS
end-to-end tests against the separate test robot process are in ``test_ros2_tasks_dds.py``."""

from __future__ import annotations

import json
import math

import pytest

pytest.importorskip("rosbags")

from embodied_mem.robots.ros2 import messages as M  # noqa: E402
from embodied_mem.robots.ros2.bridge import DirectTransport, Ros2Bridge  # noqa: E402
from embodied_mem.robots.ros2.task_runner import RobotTaskRunner  # noqa: E402
from embodied_mem.robots.ros2.tasks import TaskError, parse_task  # noqa: E402
from embodied_mem.robots.ros2.testing import DrivenRobot  # noqa: E402


class Rig:
    """A bridge on a DirectTransport, a task runner on it, and a DrivenRobot in the loop."""

    def __init__(self, robot: DrivenRobot, **runner_kw):
        self.robot = robot
        self.tr = DirectTransport()
        self.bridge = Ros2Bridge({"marker_period": 0, "map_period": 0}, transport=self.tr)
        self.bridge.connect()
        self.runner = RobotTaskRunner(self.bridge, decision_period=0.1, **runner_kw).attach()
        self.statuses: list[dict] = []
        self.plans: list = []
        self.twists: list = []

    def run(self, max_s: float, until_idle: bool = True) -> float:
        """Step the robot up to ``max_s`` simulated seconds (until no task runs); returns the time used."""
        n = int(max_s / 0.1)
        for i in range(n):
            for kind, topic, msg in self.robot.step(0.1):
                self.bridge.handle(kind, topic, msg)
            self.bridge.tick()
            for key, msg in self.tr.published:
                if key == "goal":
                    self.robot.goal(msg)
                elif key == "cmd_vel":
                    self.robot.twist(msg)
                    self.twists.append(msg)
                elif key == "task_status":
                    self.statuses.append(json.loads(msg.data))
                elif key == "plan":
                    self.plans.append(msg)
            self.tr.published.clear()
            if until_idle and not self.runner.busy:
                return (i + 1) * 0.1
        return max_s

    def task(self, request, max_s: float = 200.0) -> dict:
        self.runner.submit(request)
        self.run(max_s)
        return self.statuses[-1]

    def close(self):
        self.runner.detach()
        self.bridge.disconnect()


@pytest.fixture
def house():
    """An 8 x 6 m room split by a wall with a gap at the top: the mug is behind the wall."""
    return DrivenRobot(objects={"mug": (6.5, 1.0, 0.4), "chair": (2.5, 2.0, 0.3)},
                       walls=[((4.0, 0.0), (4.0, 4.5))], x=1.0, y=1.0, yaw=0.0)


def test_parse_task_forms_and_errors():
    assert parse_task('{"id": 3, "task": "find", "label": "mug"}').goal == "find mug"
    assert parse_task({"task": "goto red mug"}).label == "red mug"
    t = parse_task({"task": "patrol", "timeout": 60})
    assert (t.kind, t.label, t.timeout) == ("patrol", None, 60.0)
    assert parse_task({"task": "cancel"}).kind == "cancel"
    for bad, word in [("{not json", "JSON"), ("[1]", "object"), ({"task": "fly", "label": "x"}, "fly"),
                      ({"task": "find"}, "label"), ({"task": "patrol", "label": "x"}, "no label"),
                      ({"task": "find", "label": "mug", "speed": 2}, "speed"),
                      ({"task": "find", "label": "mug", "timeout": -1}, "timeout"),
                      ({"task": "find mug", "label": "cup"}, "two labels"), ({"task": "goto", "label": " "}, "label"),
                      ({"task": "goto", "label": "mug", "id": [1]}, "id")]:
        with pytest.raises(TaskError, match=word):
            parse_task(bad)


def test_find_an_object_never_seen_explores_frontiers_until_seen(house):
    rig = Rig(house)
    try:
        st = rig.task({"id": 7, "task": "find", "label": "mug"})
        assert st["state"] == "succeeded", st
        assert st["id"] == 7 and st["task"] == "find mug" and "found mug" in st["text"]
        assert math.dist((house.x, house.y), house.objects["mug"][:2]) <= 1.3  # next to it (reach 1.2 m)
        states = [s["state"] for s in rig.statuses]
        assert states[0] == "accepted" and "running" in states
        subgoals = {s["subgoal"] for s in rig.statuses}
        assert "navigate frontier" in subgoals and "look_around mug" in subgoals  # it searched
        assert rig.twists and rig.twists[-1].angular.z == 0.0  # turned to look, stopped at the end
        assert any(m.ns == "plan_goal" for msg in rig.plans for m in msg.markers)  # the plan in RViz
        m = rig.runner.metrics()
        assert m["tasks"][0]["state"] == "succeeded" and m["decision_ms"]["n"] > 10
        assert m["percept_to_goal_ms"]["n"] >= 1  # it set a new goal after seeing the mug
    finally:
        rig.close()


def test_goto_an_object_seen_earlier_drives_straight_there(house):
    rig = Rig(house)
    try:
        assert rig.task({"task": "find", "label": "mug"})["state"] == "succeeded"
        house.goal(M.pose_stamped(0, 1.0, 5.0))  # drive away, out of sight of the mug
        rig.run(20, until_idle=False)
        x0, y0, path0 = house.x, house.y, house.path
        st = rig.task({"id": "g", "task": "goto", "label": "mug"}, max_s=80)
        assert st["state"] == "succeeded", st
        assert math.dist((house.x, house.y), house.objects["mug"][:2]) <= 1.3
        shortest = len(house.plan((x0, y0), (5.8, 1.0))) * 0.1  # route to a spot next to the mug
        assert house.path - path0 <= 1.5 * shortest + 1.0  # no search: memory knew where it was
        assert not any(s.get("subgoal") == "navigate frontier" for s in rig.statuses if s.get("id") == "g")
    finally:
        rig.close()


def test_an_unreachable_believed_place_is_put_aside_and_the_search_goes_on():
    # the robot sees the mug at the start; then the mug moves out of sight and a wall closes the
    # way to where it was: going there stalls, the critic puts that place aside, the search goes on
    robot = DrivenRobot(objects={"mug": (3.0, 1.0, 0.4)}, walls=[], x=1.0, y=1.0, yaw=0.0)
    rig = Rig(robot)
    try:
        rig.run(2, until_idle=False)
        assert rig.bridge.memory.spatial.locate("mug")
        robot.goal(M.pose_stamped(0, 1.0, 5.0))  # drive away
        rig.run(15, until_idle=False)
        robot.objects["mug"] = (7.0, 5.0, 0.4)
        robot.walls.append(((1.8, 0.0), (1.8, 3.0)))  # room of the old place closed off ...
        robot.walls.append(((1.8, 3.0), (5.0, 3.0)))
        robot.walls.append(((5.0, 3.0), (5.0, 0.0)))
        st = rig.task({"task": "find", "label": "mug"}, max_s=300)
        assert st["state"] == "succeeded", st
        critic = [c for r in rig.runner.results for c in r.interventions]
        assert any("put aside mug" in c for c in critic), critic
        assert math.dist((robot.x, robot.y), (7.0, 5.0)) <= 1.3
    finally:
        rig.close()


def test_goto_never_seen_fails_bad_tasks_get_errors_cancel_stops(house):
    rig = Rig(house)
    try:
        st = rig.task({"id": 1, "task": "goto", "label": "unicorn"}, max_s=10)
        assert st["state"] == "failed" and "never saw unicorn" in st["text"]
        n = len(rig.statuses)
        rig.bridge.handle("task", "/memory/task", M.string("{not json"))
        rig.bridge.handle("task", "/memory/task", M.string('{"task": "fly"}'))
        rig.bridge.handle("task", "/memory/task", M.string('{"id": 5, "task": "cancel"}'))
        rig.run(0.3, until_idle=False)
        errs = rig.statuses[n:]
        assert [s["state"] for s in errs] == ["error", "error", "error"]
        assert "JSON" in errs[0]["error"] and "fly" in errs[1]["error"] and "no task" in errs[2]["error"]
        before = rig.bridge.observed
        rig.run(1, until_idle=False)
        assert rig.bridge.observed > before  # the bridge kept running
        rig.runner.submit({"id": 9, "task": "find", "label": "mug"})
        rig.run(3, until_idle=False)
        rig.runner.submit({"task": "cancel"})
        rig.run(0.2, until_idle=False)
        assert rig.statuses[-1]["state"] == "cancelled" and rig.statuses[-1]["id"] == 9
        assert not rig.runner.busy
        x, y = house.x, house.y
        rig.run(3, until_idle=False)
        assert math.dist((x, y), (house.x, house.y)) < 0.3  # it stopped
    finally:
        rig.close()


def test_patrol_visits_places_and_reports_what_changed(house):
    rig = Rig(house)
    try:
        assert rig.task({"task": "find", "label": "mug"})["state"] == "succeeded"
        assert rig.bridge.memory.spatial.places()
        del house.objects["chair"]  # taken away while nobody looked
        st = rig.task({"id": "p", "task": "patrol"}, max_s=400)
        assert st["state"] == "succeeded", st
        assert "patrol done" in st["text"]
        gone = [c["label"] for c in st["changes"]["gone"]]
        assert "chair" in gone and "mug" not in gone
    finally:
        rig.close()


def test_task_over_the_bridge_topic_without_a_runner_gets_an_error_status():
    tr = DirectTransport()
    with Ros2Bridge({"marker_period": 0, "map_period": 0}, transport=tr) as bridge:
        bridge.handle("task", "/memory/task", M.string('{"task": "patrol"}'))
        (key, msg), = tr.published
        assert key == "task_status" and json.loads(msg.data)["state"] == "error"
        assert bridge.stats()["skipped"]["no_task_runner"] == 1


def test_nav2_navigate_to_pose_goals_feedback_and_aborts_on_the_contract_fake():
    from embodied_mem.robots.ros2.navigation import Nav2Navigator
    from embodied_mem.robots.ros2.testing import FakeNav2

    nav2 = FakeNav2()
    nav = Nav2Navigator(object(), lambda: "map", action_api=nav2.api)
    assert nav.available()
    assert nav.go(2.0, 3.0, math.pi / 2, 12.25)
    g = nav2.goals[-1]
    assert g.pose.header.frame_id == "map" and (g.pose.header.stamp.sec, g.pose.header.stamp.nanosec) == (12, 250000000)
    assert (g.pose.pose.position.x, g.pose.pose.position.y) == (2.0, 3.0)
    assert g.pose.pose.orientation.z == pytest.approx(math.sin(math.pi / 4))
    assert not nav.go(2.0, 3.0, math.pi / 2, 12.5)  # the same goal while it runs: not sent again
    nav2.feedback(1.7)
    fb = nav.feedback((0.0, 0.0, 0.0))
    assert fb["state"] == "active" and fb["distance"] == 1.7  # Nav2's own distance, not the straight line
    nav2.finish(FakeNav2.STATUS_ABORTED)
    assert nav.feedback(None)["state"] == "aborted" and nav.feedback(None)["aborts"] == 1
    nav2.reject_next = True
    nav.go(5.0, 5.0, 0.0, 13.0)
    assert nav.feedback(None) == {"state": "aborted", "goal": [5.0, 5.0], "distance": None, "aborts": 2}
    nav.go(1.0, 1.0, 0.0, 14.0)
    nav2.finish(FakeNav2.STATUS_SUCCEEDED)
    assert nav.feedback(None)["state"] == "succeeded"
    nav.go(4.0, 1.0, 0.0, 15.0)
    nav.cancel()
    assert nav2.cancels == 1 and nav.feedback(None)["state"] == "idle"


def test_an_aborted_nav2_goal_is_put_aside_by_the_loop():
    """Repeated aborts: each aborted goal's target is put aside and the next belief is tried."""
    from embodied_mem import Memory, Percept, Pose, Sighting

    mem = Memory()
    mem.observe(Percept(t=1.0, pose=Pose(0, 0, 0, 0), sightings=[Sighting("mug", (4.0, 0.0, 0.0))], source="a"))
    mem.observe(Percept(t=2.0, pose=Pose(0, 0, 0, 0), sightings=[Sighting("mug", (0.0, 6.0, 0.0))], source="b"))
    tr = DirectTransport()
    with Ros2Bridge({"marker_period": 0, "map_period": 0}, transport=tr, memory=mem) as bridge:
        from embodied_mem.robots.ros2.navigation import Nav2Navigator
        from embodied_mem.robots.ros2.testing import FakeNav2

        nav2 = FakeNav2()
        runner = RobotTaskRunner(bridge, navigator=Nav2Navigator(object(), lambda: "map", action_api=nav2.api),
                                 decision_period=0.0).attach()
        runner.submit({"task": "goto", "label": "mug"})
        bridge.tick()
        assert math.dist((nav2.goals[-1].pose.pose.position.x, nav2.goals[-1].pose.pose.position.y), (0, 6)) < 1
        nav2.finish(FakeNav2.STATUS_ABORTED)
        bridge.tick()
        assert math.dist((nav2.goals[-1].pose.pose.position.x, nav2.goals[-1].pose.pose.position.y), (4, 0)) < 1
        nav2.finish(FakeNav2.STATUS_ABORTED)
        bridge.tick()
        st = runner.status()
        assert st["state"] == "failed" and "unreachable" in st["text"]
        assert sum("put aside mug" in c for c in runner.results[-1].interventions) == 2
        runner.detach()


def test_the_rclpy_transport_carries_the_same_skills_on_the_contract_fake():
    """A task over /memory/task on the rclpy transport: goals on /goal_pose, turns on /cmd_vel and the
    status on /memory/task_status go through the node's publishers to a robot node on the same graph."""
    import threading
    import time

    from embodied_mem.robots.ros2.config import Ros2BridgeConfig
    from embodied_mem.robots.ros2.rclpy_node import RclpyTransport
    from embodied_mem.robots.ros2.testing import FakeRclpy
    from embodied_mem.robots.ros2.types import typestore

    store = typestore()
    fake = FakeRclpy()
    cfg = Ros2BridgeConfig(transport="rclpy", marker_period=0, map_period=0)
    bridge = Ros2Bridge(cfg, transport=RclpyTransport(cfg, rclpy_api=fake.api))
    robot = DrivenRobot(objects={"chair": (4.0, 1.0, 0.3)}, x=1.0, y=1.0, yaw=0.0)
    statuses, lock = [], threading.Lock()
    with bridge:
        runner = RobotTaskRunner(bridge, decision_period=0.1).attach()
        assert runner.nav.name == "goal_pose"  # no Nav2 action server (nav2_msgs absent): /goal_pose
        node, qos = fake.node("robot"), fake.api.qos
        p = qos.QoSProfile(depth=50)

        def on(topic, typ, cb):
            node.create_subscription(fake.get_message(typ), topic,
                                     lambda raw: cb(store.deserialize_cdr(bytes(raw), typ)), p, raw=True)

        with lock:
            on("/goal_pose", "geometry_msgs/msg/PoseStamped", robot.goal)
            on("/cmd_vel", "geometry_msgs/msg/Twist", robot.twist)
            on("/memory/task_status", "std_msgs/msg/String", lambda m: statuses.append(json.loads(m.data)))
        ex = fake.api.executors.SingleThreadedExecutor()
        ex.add_node(node)
        types = {"tf": "tf2_msgs/msg/TFMessage", "odom": "nav_msgs/msg/Odometry", "scan": "sensor_msgs/msg/LaserScan",
                 "detections": "vision_msgs/msg/Detection3DArray"}
        pubs = {k: node.create_publisher(fake.get_message(t), "/" + k, p) for k, t in types.items()}
        task = node.create_publisher(fake.get_message("std_msgs/msg/String"), "/memory/task", 10)
        deadline = time.monotonic() + 60
        sent = False
        while time.monotonic() < deadline and not any(s["state"] == "succeeded" for s in statuses):
            for kind, _topic, msg in robot.step(0.1):
                pubs[kind].publish(bytes(store.serialize_cdr(msg, types[kind])))
            if robot.t > 1002 and not sent:
                task.publish(bytes(store.serialize_cdr(M.string('{"id": 4, "task": "goto", "label": "chair"}'),
                                                       "std_msgs/msg/String")))
                sent = True
            for _ in range(20):
                ex.spin_once(0.001)
            time.sleep(0.01)
        assert statuses and statuses[-1]["state"] == "succeeded" and statuses[-1]["id"] == 4, statuses[-3:]
        assert math.dist((robot.x, robot.y), (4.0, 1.0)) <= 1.3
        assert bridge.transport.publishers["goal"].sent  # the goal went out through the node
        runner.detach()


def test_find_sweeps_known_places_when_no_frontier_is_left():
    # a short-sighted camera (1.5 m); the ball is put down after the room is mapped, away from where
    # the robot stands: no belief, no frontier; the robot looks around at the places it knows
    robot = DrivenRobot(objects={}, x=1.0, y=1.0, camera_range=1.5, width=8.0, height=6.0)
    rig = Rig(robot)
    try:
        for goal in ((7.0, 1.0), (7.0, 4.5), (1.0, 1.0)):  # a first walk: the map, and places along it
            robot.goal(M.pose_stamped(0, *goal))
            rig.run(20, until_idle=False)
        robot.objects["ball"] = (4.5, 5.0, 0.1)
        st = rig.task({"task": "find", "label": "ball"}, max_s=400)
        assert st["state"] == "succeeded", st
        subgoals = [s["subgoal"] for s in rig.statuses]
        assert any(sg and sg.startswith("navigate place:") for sg in subgoals), set(subgoals)
    finally:
        rig.close()
