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
    loop = _loop(mem, "find keys", {"robot": {"look_first": False}})
    task = {"kind": "find", "label": "keys", "start": 5.0}
    a = loop.act(obs(5.0, 0, 0, task=task), {})
    assert a["op"] == "navigate" and loop.subgoal == Subgoal("navigate", "keys", goal="find keys",
                                                             args=(("x", 3.0), ("y", 0.0)))
    mem.observe(Percept(t=6.0, pose=Pose(2.5, 0, 0, 0), sightings=[Sighting("keys", (3.0, 0.0, 0.0))], source="r"))
    a = loop.act(obs(6.0, 2.5, 0, task=task), {})
    assert a["op"] == "report" and a["outcome"] == "succeeded" and "found keys" in a["text"]


def _turn(loop, task, t, x, y, mem=None, sighting=None):
    """Feed a full turn in place (0.5 rad per 0.5 s); ``sighting`` is seen half way round."""
    yaw = 0.0
    for i in range(14):
        t, yaw = t + 0.5, yaw + 0.5
        if sighting is not None and i == 6:
            mem.observe(Percept(t=t, pose=Pose(x, y, 0, yaw), sightings=[sighting], source="r"))
        a = loop.act(obs(t, x, y, yaw=math.remainder(yaw, 2 * math.pi), task=task), {})
        if a["op"] != "rotate":
            return a, t
    return a, t


def test_find_looks_around_where_it_starts_before_driving_to_a_far_belief():
    # keys believed 8 m away; a second one lies behind the robot and shows during the first turn
    mem = Memory()
    mem.observe(Percept(t=1.0, pose=Pose(0, 0, 0, 0), sightings=[Sighting("keys", (8.0, 0.0, 0.0))], source="r"))
    loop = _loop(mem, "find keys")
    task = {"kind": "find", "label": "keys", "start": 5.0}
    assert loop.act(obs(5.0, 0, 0, task=task), {})["op"] == "rotate"  # a turn costs no path
    a, t = _turn(loop, task, 5.0, 0, 0, mem, Sighting("keys", (-2.0, 0.0, 0.0)))
    assert a["op"] == "navigate" and math.dist((a["x"], a["y"]), (-2.0, 0.0)) < 1.0  # the nearer one it saw
    # nothing seen during the turn: it drives to the belief
    mem2 = Memory()
    mem2.observe(Percept(t=1.0, pose=Pose(0, 0, 0, 0), sightings=[Sighting("keys", (8.0, 0.0, 0.0))], source="r"))
    loop2 = _loop(mem2, "find keys")
    a, _ = _turn(loop2, task, 5.0, 0, 0)
    assert a["op"] == "navigate" and math.dist((a["x"], a["y"]), (8.0, 0.0)) < 1.0


def test_the_goal_next_to_an_object_keeps_clear_of_what_the_laser_saw():
    # a mug on a counter: the counter's edge (x = 1.0 .. 1.2) is blocked, floor before it free; the free
    # cells right at the counter are no goal (the wheels do not fit): the goal keeps 0.3 m from it
    mem = Memory({"spatial": {"cell_size": 0.1}})
    free = [[x / 10, y / 10] for x in range(-20, 10) for y in range(-20, 21)]
    blocked = [[x / 10, y / 10] for x in range(10, 13) for y in range(-20, 21)]
    mem.observe(Percept(t=0, pose=Pose(-1.5, 0, 0, 0), free=free, blocked=blocked))
    kit = world_kit("robot")
    world = kit.world_model(mem)
    for robot in [(-1.5, 0.0), (0.9, -3.0)]:  # in front of the counter; along its face
        x, y, yaw = world.approach_goal((1.4, 0.0), robot)
        assert x <= 1.0 - 0.3 + 1e-6 and math.dist((x, y), (1.4, 0.0)) <= RobotConfig().reach - 0.1
        assert abs(math.remainder(yaw - math.atan2(-y, 1.4 - x), 2 * math.pi)) < 1e-6  # facing the mug
    # no such floor known: the nearest free cell in the ring, else the point towards the robot
    x, y, _ = world.approach_goal((30.0, 0.0), (-1.5, 0.0))
    assert math.isclose(math.dist((x, y), (30.0, 0.0)), RobotConfig().approach, abs_tol=1e-6)


def test_the_goal_next_to_an_object_is_on_the_side_it_was_seen_from():
    # a wall (y = 0.5) between the robot (north) and a mug seen from the south: the nearest cells
    # within reach lie north of the wall, facing the wall; the goal is south, where the camera saw it
    mem = Memory({"spatial": {"cell_size": 0.1}})
    free = [[x / 10, y / 10] for x in range(-30, 31) for y in range(-30, 31) if y != 5]
    blocked = [[x / 10, 0.5] for x in range(-30, 31)]
    mem.observe(Percept(t=1.0, pose=Pose(0, -2.0, 0, math.pi / 2), free=free, blocked=blocked,
                        sightings=[Sighting("mug", (0.0, 0.0, 0.8))], source="r"))
    mem.observe(Percept(t=30.0, pose=Pose(0, 2.0, 0, -math.pi / 2), source="r"))
    world = world_kit("robot").world_model(mem)
    assert world.seen_from("mug", (0.0, 0.0)) == (0.0, -2.0) and world.seen_from("mug", (5.0, 5.0)) is None
    x, y, _ = world.approach_goal((0.0, 0.0), (0.0, 2.0), world.seen_from("mug", (0.0, 0.0)))
    assert y < 0.5 - 0.3 and math.dist((x, y), (0.0, 0.0)) <= RobotConfig().reach
    x, y, _ = world.approach_goal((0.0, 0.0), (0.0, 2.0))  # nothing known of the side: the nearest
    assert y > 0.5


def test_within_reach_behind_a_wall_is_not_next_to_the_object():
    mem = Memory({"spatial": {"cell_size": 0.1}})
    free = [[x / 10, y / 10] for x in range(-30, 31) for y in range(-30, 31) if y != 5]
    blocked = [[x / 10, 0.5] for x in range(-30, 31)]
    mem.observe(Percept(t=1.0, pose=Pose(0, -2.0, 0, math.pi / 2), free=free, blocked=blocked,
                        sightings=[Sighting("mug", (0.0, 0.0, 0.8))], source="r"))
    loop = _loop(mem, "goto mug")
    task = {"kind": "goto", "label": "mug", "start": 30.0}
    a = loop.act(obs(30.0, 3.0, 2.0, task=task), {})
    assert a["op"] == "navigate" and a["y"] < 0.5  # the goal is on the side the mug was seen from
    a = loop.act(obs(30.5, 0.0, 1.0, task=task), {})  # 1 m from it, behind the wall: drive on
    assert a["op"] == "navigate"
    a = loop.act(obs(31.0, 0.3, -0.9, task=task), {})
    assert a["op"] == "report" and a["outcome"] == "succeeded"


@pytest.mark.parametrize("where", [(4.79, 6.95), (4.95, 7.3), (4.49, 6.88), (4.8, 7.05), (4.9, 6.2)])
def test_goto_an_unreachable_place_ends_unreachable_wherever_the_belief_lies(where):
    # the planner's goal steps are 0.25 m, the squares targets are put aside by 0.5 m: a belief just
    # below a square's edge (y = 6.95 -> goal y = 7.0) must still be the target that was put aside,
    # else goto drives to the same place again and again until the task times out
    mem = Memory()
    mem.observe(Percept(t=1.0, pose=Pose(0, 0, 0, 0), sightings=[Sighting("mug", (*where, 0.0))], source="r"))
    loop = _loop(mem, "goto mug")
    task = {"kind": "goto", "label": "mug", "start": 2.0}
    t, puts, a = 2.0, 0, None
    while t < 60.0:  # the robot never moves (a closed door): stalled after 5 s each time
        a = loop.act(obs(t, 0, 0, task=task), {})
        puts += "put aside mug" in (loop.intervention or "")
        if a["op"] == "report":
            break
        t += 0.5
    assert a["op"] == "report" and a["outcome"] == "failed" and "unreachable" in a["text"], (t, puts, a)
    assert puts == 1  # put aside once, not retried


def test_every_target_the_executor_gives_up_on_is_the_one_the_world_skips():
    # objects, frontiers and places anywhere: a navigate subgoal to a position snapped to the
    # planner's 0.25 m goal steps, put aside under the key the executor reports, hides the
    # position it was made from (up to 0.125 m away, on either side of a square's edge)
    from embodied_mem.agent.worlds.robot.world import RobotWorld, key, snap

    kit = world_kit("robot")
    ex = kit.executor(AgentConfig(), DESC, None)
    state = kit.preprocessor(AgentConfig(), DESC).perceive(obs(1.0, 0.0, 0.0), {})
    for i in range(400):
        xy = (-3.0 + 0.0173 * i, 2.0 + 0.0119 * i)
        args = (("x", snap(xy[0])), ("y", snap(xy[1])))
        for label, sg in (("mug", Subgoal("navigate", "mug", goal="goto mug", args=args)),
                          ("frontier", Subgoal("navigate", "frontier", goal="find mug", args=args)),
                          ("place", Subgoal("navigate", "p1", goal="patrol", args=tuple(sorted(args + (("place", True),)))))):
            world = RobotWorld(None, RobotConfig())
            assert ex.act(sg, state, world)["op"] == "navigate"
            tgt = ex.target()
            world.put_aside(tgt[0], tgt[1], 100.0)
            assert tgt[0] == label and world.is_aside(label, xy), (label, xy, tgt)
            assert key(xy) == key((snap(xy[0]), snap(xy[1])))
