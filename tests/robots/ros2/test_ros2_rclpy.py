"""rclpy transport: against the contract fake here (rclpy cannot be pip-installed), and against the real
rclpy when ROS 2 is sourced."""

from __future__ import annotations

import json
import time

import pytest

pytest.importorskip("rosbags")

from embodied_mem.robots.ros2 import messages as M  # noqa: E402
from embodied_mem.robots.ros2.bridge import Ros2Bridge  # noqa: E402
from embodied_mem.robots.ros2.config import Ros2BridgeConfig  # noqa: E402
from embodied_mem.robots.ros2.rclpy_node import RclpyTransport  # noqa: E402
from embodied_mem.robots.ros2.testing import FakeRclpy, SimulatedRobot  # noqa: E402
from embodied_mem.robots.ros2.types import typestore  # noqa: E402

from embodied_mem.deps import DependencyNotInstalled, available  # noqa: E402


def wait_until(cond, timeout=5.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return True
        time.sleep(0.01)
    return False


def test_bridge_node_on_the_contract_fake():
    fake = FakeRclpy()
    cfg = Ros2BridgeConfig(transport="rclpy", marker_period=0.2)
    bridge = Ros2Bridge(cfg, transport=RclpyTransport(cfg, rclpy_api=fake.api))
    store = typestore()
    with bridge:
        node = bridge.transport.node
        assert node.get_parameter("world_frame").value == "map"
        # QoS as configured: sensor data best effort, /tf_static transient local, all raw subscriptions
        subs = {s.topic: s for s in node.subscriptions}
        assert subs["/scan"].qos.reliability.name == "BEST_EFFORT"
        assert subs["/tf_static"].qos.durability.name == "TRANSIENT_LOCAL"
        assert all(s.raw for s in subs.values())
        # a stand-in robot node publishes serialized messages on the same graph
        robot = fake.node("robot")
        qos = fake.api.qos
        pubs, answers = {}, []
        client = fake.node("client")
        client.create_subscription(fake.get_message("std_msgs/msg/String"), "/memory/answer",
                                   lambda raw: answers.append(json.loads(store.deserialize_cdr(raw, "std_msgs/msg/String").data)),
                                   qos.QoSProfile(depth=10), raw=True)
        ex = fake.api.executors.SingleThreadedExecutor()
        ex.add_node(client)
        for topic, typ, _t, msg in SimulatedRobot().messages(6.0):
            if topic not in pubs:
                durability = (qos.DurabilityPolicy.TRANSIENT_LOCAL if topic == "/tf_static"
                              else qos.DurabilityPolicy.VOLATILE)
                pubs[topic] = robot.create_publisher(fake.get_message(typ), topic,
                                                     qos.QoSProfile(depth=10, durability=durability))
            pubs[topic].publish(bytes(store.serialize_cdr(msg, typ)))
        q = robot.create_publisher(fake.get_message("std_msgs/msg/String"), "/memory/query", 10)
        q.publish(bytes(store.serialize_cdr(M.string(json.dumps({"id": 1, "op": "locate", "label": "cup"})),
                                            "std_msgs/msg/String")))
        assert wait_until(lambda: (ex.spin_once(0.01), bool(answers))[1])
        assert answers[0]["ok"] and answers[0]["locations"][0]["position"] == pytest.approx([5.5, 2.0, 0.4])
        assert wait_until(lambda: bridge.received["odom"] == 121)
        assert bridge.memory.spatial.pose() is not None
        # markers come from the node's timer
        marker_pub = bridge.transport.publishers["markers"]
        assert wait_until(lambda: len(marker_pub.sent) > 0)
        sent = bridge.send_action("cup")
        goal_bytes = bridge.transport.publishers["goal"].sent[-1]
        assert store.deserialize_cdr(goal_bytes, "geometry_msgs/msg/PoseStamped").pose.position.x == sent.pose.position.x
    assert not fake.ok()  # the transport shut down the context it created
    assert node.destroyed


def test_best_effort_publisher_does_not_reach_a_reliable_subscription():
    fake = FakeRclpy()
    fake.init()
    qos = fake.api.qos
    got = []
    a, b = fake.node("a"), fake.node("b")
    String = fake.get_message("std_msgs/msg/String")
    b.create_subscription(String, "/x", got.append, qos.QoSProfile(depth=1), raw=True)
    a.create_publisher(String, "/x", qos.QoSProfile(depth=1, reliability=qos.ReliabilityPolicy.BEST_EFFORT)).publish(b"\0")
    assert b.queue.empty()
    with pytest.raises(TypeError):
        a.create_publisher(String, "/x", 1).publish("not a message")


@pytest.mark.skipif(available("rclpy"), reason="rclpy is installed")
def test_missing_rclpy_says_how_to_install():
    with pytest.raises(DependencyNotInstalled, match="ROS 2 installation|transport=dds"):
        RclpyTransport(Ros2BridgeConfig(transport="rclpy"))


def test_real_rclpy_node():
    rclpy = pytest.importorskip("rclpy", reason="rclpy comes with ROS 2 (not pip-installable)")
    from rclpy.qos import QoSProfile
    from std_msgs.msg import String

    bridge = Ros2Bridge({"transport": "rclpy"})
    with bridge:
        node = rclpy.create_node("embodied_mem_test_client")
        answers = []
        node.create_subscription(String, "/memory/answer", lambda m: answers.append(json.loads(m.data)),
                                 QoSProfile(depth=10))
        pub = node.create_publisher(String, "/memory/query", QoSProfile(depth=10))
        deadline = time.monotonic() + 10
        while not answers and time.monotonic() < deadline:
            pub.publish(String(data=json.dumps({"id": 1, "op": "stats"})))
            rclpy.spin_once(node, timeout_sec=0.2)
        node.destroy_node()
        assert answers and answers[0]["ok"]
