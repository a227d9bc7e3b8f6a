"""The robot world's roles without ROS: observations in, skill calls out, read off a real Memory."""

from __future__ import annotations

import math

import pytest

from embodied_mem import Memory, Percept, Pose, Sighting
from embodied_mem.agent.config import AgentConfig, check_world_sections
from embodied_mem.agent.loop import AgentLoop
from embodied_mem.agent.protocols import EnvDescription, Subgoal
from embodied_mem.agent.worlds import world_kit
from embodied_mem.agent.worlds.robot.config import RobotConfig
from embodied_mem.agent.worlds.robot.kit import task_for
from embodied_mem.agent.worlds.robot.planner import changes, parse_goal

DESC = EnvDescription(world="robot")


def obs(t, x, y, yaw=0.0, task=None, nav=None):
    return {"t": t, "pose": [x, y, yaw], "nav": nav or {"state": "idle"}, "task": task}


def test_the_robot_world_is_registered_and_its_section_checked():
    kit = world_kit("robot")
    assert {s.name for s in kit.skills(DESC)} == {"navigate", "look_around", "wait", "report", "explore"}
    cfg = AgentConfig.from_dict({"robot": {"reach": 2.0}})
    with pytest.raises(ValueError, match="agent.robot"):
        check_world_sections(cfg, "crafter")
    with pytest.raises(ValueError, match="approach"):
        RobotConfig(reach=0.5, approach=0.7)
    with pytest.raises(ValueError, match="goal_tolerance"):
        RobotConfig(goal_tolerance=-1)


def test_observations_are_validated_naming_the_field():
    pre = world_kit("robot").preprocessor(AgentConfig(), DESC)
    st = pre.perceive(obs(3.0, 1.0, 2.0, task={"kind": "find", "label": "mug", "start": 1.0}), {})
    assert st.position == (1.0, 2.0) and st.task.label == "mug"
    for bad, field in [({"t": "x", "pose": None}, "'t'"), (obs(1, 0, 0, nav={"state": "flying"}), "nav.state"),
                       ({"t": 1.0, "pose": [0, 0]}, "pose"), (obs(1, 0, 0, task={"kind": "dance"}), "task")]:
        with pytest.raises(ValueError, match=field):
            pre.perceive(bad, {})


def test_goals_parse_and_changes_are_reported():
    assert parse_goal("find red mug") == ("find", "red mug") and parse_goal("patrol") == ("patrol", None)
    with pytest.raises(ValueError):
        parse_goal("goto")
    d = changes({"mug": [(1, 1, 0)], "book": [(5, 5, 0)]}, {"mug": [(3, 1, 0)], "cat": [(0, 0, 0)]})
    assert d["moved"] == [{"label": "mug", "from": [1, 1], "to": [3, 1]}]
    assert [c["label"] for c in d["gone"]] == ["book"] and [c["label"] for c in d["new"]] == ["cat"]


def _loop(mem, goal, config=None):
    cfg = AgentConfig.from_dict(config or {})
    cfg.critic.stall_steps = 5
    loop = AgentLoop.for_world(cfg, DESC)
    loop.task = task_for(goal)
    loop.reset(mem)
    return loop


def test_goto_drives_next_to_the_last_seen_place_and_an_unreachable_one_is_put_aside():
    mem = Memory()
    mem.observe(Percept(t=1.0, pose=Pose(0, 0, 0, 0), sightings=[Sighting("mug", (4.0, 0.0, 0.0))], source="r"))
    mem.observe(Percept(t=2.0, pose=Pose(0, 0, 0, 0), sightings=[Sighting("mug", (0.0, 6.0, 0.0))], source="r2"))
    loop = _loop(mem, "goto mug")
    task = {"kind": "goto", "label": "mug", "start": 2.0}
    a = loop.act(obs(2.0, 0, 0, task=task), {})
    assert a["op"] == "navigate" and math.dist((a["x"], a["y"]), (0.0, 6.0)) < 1.0  # the most recent first
    # the robot does not move (odometry still): the critic says stalled, the place is put aside
    t = 2.0
    while t < 9.0 and not (loop.intervention or "").startswith("stalled"):
        t += 0.5
        a = loop.act(obs(t, 0, 0, task=task), {})
    assert "put aside mug" in loop.intervention
    assert a["op"] == "navigate" and math.dist((a["x"], a["y"]), (4.0, 0.0)) < 1.0  # the other belief now


def test_find_goes_to_believed_places_by_recency_then_reports_when_seen():
    mem = Memory()
    mem.observe(Percept(t=1.0, pose=Pose(0, 0, 0, 0), sightings=[Sighting("keys", (3.0, 0.0, 0.0))], source="r"))
    loop = _loop(mem, "find keys")
    task = {"kind": "find", "label": "keys", "start": 5.0}
    a = loop.act(obs(5.0, 0, 0, task=task), {})
    assert a["op"] == "navigate" and loop.subgoal == Subgoal("navigate", "keys", goal="find keys",
                                                             args=(("x", 3.0), ("y", 0.0)))
    mem.observe(Percept(t=6.0, pose=Pose(2.5, 0, 0, 0), sightings=[Sighting("keys", (3.0, 0.0, 0.0))], source="r"))
    a = loop.act(obs(6.0, 2.5, 0, task=task), {})
    assert a["op"] == "report" and a["outcome"] == "succeeded" and "found keys" in a["text"]
