"""The shipped RViz 2 config shows what the bridge publishes: its topics and world frame."""

from __future__ import annotations

from importlib import resources

import yaml
from embodied_mem.robots.ros2.config import FramesConfig, QosConfig, TopicsConfig


def _config() -> dict:
    f = resources.files("embodied_mem.robots.ros2") / "embodied_mem.rviz"
    assert f.is_file()  # shipped with the package
    return yaml.safe_load(f.read_text())


def test_rviz_config_shows_the_bridge_topics_in_its_world_frame() -> None:
    cfg = _config()["Visualization Manager"]
    topics, frames = TopicsConfig(), FramesConfig()
    assert cfg["Global Options"]["Fixed Frame"] == frames.world_frame
    shown = {d["Class"].split("/")[-1]: d for d in cfg["Displays"]}
    arrays = {d["Topic"]["Value"]: d for d in cfg["Displays"] if d["Class"].endswith("/MarkerArray")}
    assert arrays[topics.markers]["Enabled"] and arrays[topics.plan]["Enabled"]  # memory, and the task's plan
    assert shown["Pose"]["Topic"]["Value"] == topics.goal
    assert shown["LaserScan"]["Topic"]["Value"] == topics.scan
    assert shown["Odometry"]["Topic"]["Value"] == topics.odom
    maps = {d["Topic"]["Value"]: d for d in cfg["Displays"] if d["Class"].endswith("/Map")}
    assert maps[topics.map]["Enabled"]  # the bridge's own occupancy grid, shown by default
    for m in maps.values():  # the bridge (like map_server) publishes transient local, reliable
        assert m["Topic"]["Durability Policy"] == "Transient Local" and m["Topic"]["Reliability Policy"] == "Reliable"
    # sensors come best effort, as the bridge subscribes them; its own outputs are reliable
    assert QosConfig().sensor_reliability == "best_effort" and shown["LaserScan"]["Topic"]["Reliability Policy"] == "Best Effort"
    assert all(d["Topic"]["Reliability Policy"] == "Reliable" for d in arrays.values())
    tools = {t["Class"].split("/")[-1]: t for t in cfg["Tools"]}
    assert tools["SetGoal"]["Topic"]["Value"] == topics.goal
