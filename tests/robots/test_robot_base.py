"""RobotBridge lifecycle (LeRobot shape): connect, disconnect, is_connected, context manager, clear errors."""

from __future__ import annotations

import pytest
from embodied_mem.robots import DeviceAlreadyConnectedError, DeviceNotConnectedError, RobotBridge


class Counting(RobotBridge):
    name = "counting"

    def __init__(self):
        super().__init__()
        self.calls = []

    def _connect(self):
        self.calls.append("connect")

    def _disconnect(self):
        self.calls.append("disconnect")

    def get_observation(self):
        self.require_connected("get_observation()")
        return {}

    def send_action(self, action):
        self.require_connected("send_action()")
        return action


def test_lifecycle_and_context_manager():
    b = Counting()
    assert not b.is_connected
    with b as same:
        assert same is b and b.is_connected
        assert b.send_action(3) == 3
    assert not b.is_connected
    assert b.calls == ["connect", "disconnect"]


def test_errors_name_the_problem():
    b = Counting()
    with pytest.raises(DeviceNotConnectedError, match="not connected.*connect\\(\\)"):
        b.get_observation()
    with pytest.raises(DeviceNotConnectedError):
        b.disconnect()
    b.connect()
    with pytest.raises(DeviceAlreadyConnectedError, match="already connected"):
        b.connect()
    b.disconnect()
    with pytest.raises(DeviceNotConnectedError, match="send_action"):
        b.send_action(1)


def test_failed_connect_leaves_bridge_disconnected():
    class Broken(Counting):
        def _connect(self):
            raise OSError("no robot")

    b = Broken()
    with pytest.raises(OSError):
        b.connect()
    assert not b.is_connected


def test_import_is_light():
    import subprocess
    import sys

    code = ("import sys, embodied_mem, embodied_mem.robots, embodied_mem.robots.ros2; "
            "bad = [m for m in ('cyclonedds', 'rosbags', 'rclpy', 'torch') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
