"""The test robot's simulation, in-process (no DDS): worlds and noise are deterministic in their
seeds, goals are reached over the navigable floor, unreachable goals are refused, odometry drifts
while map -> odom -> base_link stays the true pose, and detections come only from what the
rendered camera image shows (never an object behind a wall)."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("open3d")
pytest.importorskip("rosbags")

from embodied_mem.robots.ros2.testbot import TestbotConfig, TestbotSim, load_world  # noqa: E402
from embodied_mem.robots.ros2.types import typestore  # noqa: E402

SEED = 3


@pytest.fixture(scope="module")
def world():
    return load_world("indoor3d", SEED)


def compose(a, b):
    """Planar pose a ∘ b (b in a's frame)."""
    c, s = math.cos(a[2]), math.sin(a[2])
    return (a[0] + c * b[0] - s * b[1], a[1] + s * b[0] + c * b[1], a[2] + b[2])


def run_until_done(sim, max_steps=4000, on_step=None):
    out = []
    for _ in range(max_steps):
        msgs = sim.step()
        out += msgs
        if on_step:
            on_step(sim)
        if sim.goal.state != "active":
            break
    return out


def far_free_point(sim, min_dist=4.0):
    """A navigable point with room around it, at least ``min_dist`` m (straight line) from the robot."""
    cells = np.argwhere(sim.clearance >= 0.3)
    rng = np.random.default_rng(0)
    for i in rng.permutation(len(cells)):
        x, y = sim.world.nav_center(*cells[i])
        if math.dist((x, y), sim.pose[:2]) >= min_dist:
            return x, y
    raise AssertionError("no free point that far")


def cdr(msgs, topic):
    store = typestore()
    return [bytes(store.serialize_cdr(m, typ)) for t, typ, m in msgs if t == topic]


def test_same_seeds_same_world_and_messages_other_seed_other_noise(world):
    again = load_world("indoor3d", SEED)
    assert [(b.category, b.lo, b.hi) for b in again.boxes] == [(b.category, b.lo, b.hi) for b in world.boxes]
    assert [(b.category, b.lo) for b in load_world("indoor3d", SEED + 1).boxes] != [(b.category, b.lo)
                                                                                     for b in world.boxes]

    def drive(seed):
        sim = TestbotSim(TestbotConfig(world_seed=SEED, seed=seed), world=world)
        sim.set_goal(*far_free_point(sim))
        return sim, run_until_done(sim, max_steps=300)

    a, ma = drive(7)
    b, mb = drive(7)
    c, mc = drive(8)
    for topic in ("/odom", "/tf", "/scan", "/detections"):
        assert cdr(ma, topic) == cdr(mb, topic), topic  # byte for byte
    assert a.pose == b.pose and a.odom == b.odom
    assert cdr(ma, "/odom") != cdr(mc, "/odom")  # another noise seed (and start pose)
    assert TestbotSim(TestbotConfig(world_seed=SEED), world=world).pose == \
        TestbotSim(TestbotConfig(world_seed=SEED, seed=SEED), world=world).pose  # seed defaults to the world seed


def test_goal_reached_within_tolerance_over_free_floor(world):
    sim = TestbotSim(TestbotConfig(world_seed=SEED), world=world)
    gx, gy = far_free_point(sim, 5.0)
    start = sim.pose
    g = sim.set_goal(gx, gy, yaw=1.0)
    assert g.state == "active" and g.target == pytest.approx((gx, gy))
    poses = []
    run_until_done(sim, on_step=lambda s: poses.append(s.pose))
    c = sim.config
    assert sim.goal.state == "succeeded", sim.goal
    assert math.dist(sim.pose[:2], (gx, gy)) <= c.goal_tolerance
    assert abs((sim.pose[2] - 1.0 + math.pi) % (2 * math.pi) - math.pi) <= c.yaw_tolerance
    assert all(world.is_navigable(x, y) for x, y, _ in poses)  # never through walls or furniture
    steps = np.diff(np.array([p[:2] for p in poses]), axis=0)
    assert np.hypot(*steps.T).max() <= c.max_speed * c.dt + 1e-9  # a plausible speed
    # it took a path not much longer than the shortest one over the navigable grid
    from embodied_mem.mapping3d.navgrid import geodesic

    d = geodesic(world.navigable, [world.nav_cell(gx, gy)])[world.nav_cell(*start[:2])] * world.nav_resolution
    assert sim.travelled <= 1.35 * d + 0.5


def test_goal_at_an_object_ends_on_free_floor_in_front_of_it_and_sees_it():
    """Goals at objects (on furniture, on the floor) end on free floor within goal_snap, on the
    object's side of the walls (world 8 has a mug on a cabinet backing onto another room), and,
    turned towards it, the robot's camera shows the object unless it is above the camera's view."""
    world8 = load_world("indoor3d", 8)
    sim = TestbotSim(TestbotConfig(world_seed=8), world=world8)
    walls = sim.crosses_walls
    for obj in world8.objects("object"):
        g = sim.set_goal(*obj.center[:2])
        assert g.state == "active", (obj.category, g)
        assert math.dist(g.target, obj.center[:2]) <= sim.config.goal_snap
        assert not walls(np.array(obj.center[:2]), np.array([g.target]))[0], obj.category
        run_until_done(sim)
        assert sim.goal.state == "succeeded" and math.dist(sim.pose[:2], g.target) <= sim.config.goal_tolerance
        sim.pose = (*sim.pose[:2], math.atan2(obj.center[1] - sim.pose[1], obj.center[0] - sim.pose[0]))
        if obj.hi[2] <= 1.3:
            assert obj.id in {b.id for b, _, _ in sim.visible_objects()}, obj.category


@pytest.mark.parametrize("where", ["outside", "beyond_outer_wall", "nan", "frame"])
def test_unreachable_goal_is_rejected_and_the_robot_does_not_move(world, where):
    sim = TestbotSim(TestbotConfig(world_seed=SEED), world=world)
    x0, y0, x1, y1 = world.bounds
    goal = {"outside": (x1 + 5.0, y1 + 5.0, "map"), "nan": (float("nan"), 1.0, "map"),
            "frame": (1.0, 1.0, "camera_link"),
            # more than goal_snap from any free floor, behind the apartment's outer wall
            "beyond_outer_wall": (x0 - 1.05, (y0 + y1) / 2, "map")}[where]
    g = sim.set_goal(goal[0], goal[1], frame=goal[2])
    assert g.state == "rejected" and g.reason
    start = sim.pose
    msgs = [m for _ in range(100) for m in sim.step()]
    assert sim.pose == start and sim.travelled == 0.0
    odoms = [m for t, _, m in msgs if t == "/odom"]
    assert {(o.pose.pose.position.x, o.pose.pose.position.y) for o in odoms} == {(0.0, 0.0)}


def test_robot_stuck_against_an_obstacle_gives_up_and_stops(world):
    """The planner knows the floor, so a goal is blocked only when the world changes under it:
    a wall appears across the path (a closed door); the robot stops where it got stuck."""
    sim = TestbotSim(TestbotConfig(world_seed=SEED, stuck_timeout=4.0), world=world)
    gx, gy = far_free_point(sim, 6.0)
    sim.set_goal(gx, gy)
    for _ in range(20):
        sim.step()
    blocked = world.navigable.copy()
    r, c = world.nav_cell(*sim.pose[:2])
    blocked[:, :] = False
    blocked[max(0, r - 4):r + 5, max(0, c - 4):c + 5] = world.navigable[max(0, r - 4):r + 5, max(0, c - 4):c + 5]

    class Boxed:  # the same world with everything but a small patch around the robot blocked
        def __getattr__(self, name):
            return getattr(world, name)

        navigable = blocked

        def is_navigable(self, x, y):
            rr, cc = world.nav_cell(x, y)
            H, W = blocked.shape
            return 0 <= rr < H and 0 <= cc < W and bool(blocked[rr, cc])

    sim.world = Boxed()
    run_until_done(sim, max_steps=400)
    assert sim.goal.state == "aborted" and "progress" in sim.goal.reason
    p = sim.pose
    for _ in range(40):
        sim.step()
    assert sim.pose == p


def test_odometry_drifts_but_map_odom_base_link_is_the_true_pose(world):
    sim = TestbotSim(TestbotConfig(world_seed=SEED, odom_scale_error=0.05, odom_yaw_drift=0.02), world=world)
    start = sim.pose
    sim.set_goal(*far_free_point(sim, 5.0))
    msgs = run_until_done(sim)
    assert sim.goal.state == "succeeded"
    # odometry alone (started at the odom origin, placed at the start pose) is off by drift
    dead = compose(start, sim.odom)
    assert math.dist(dead[:2], sim.pose[:2]) > 0.02
    # TF: map -> odom (the localiser's correction) ∘ odom -> base_link = the true pose
    tf = [m for t, _, m in msgs if t == "/tf"][-1].transforms
    assert [(x.header.frame_id, x.child_frame_id) for x in tf] == [("map", "odom"), ("odom", "base_link")]

    def pose2d(tr):
        q = tr.transform.rotation
        return (tr.transform.translation.x, tr.transform.translation.y, 2 * math.atan2(q.z, q.w))

    chained = compose(pose2d(tf[0]), pose2d(tf[1]))
    assert chained[:2] == pytest.approx(sim.pose[:2], abs=1e-9)
    odom = [m for t, _, m in msgs if t == "/odom"][-1]
    assert (odom.header.frame_id, odom.child_frame_id) == ("odom", "base_link")
    assert odom.header.stamp.sec + odom.header.stamp.nanosec * 1e-9 == pytest.approx(sim.t)


def test_cmd_vel_drives_for_its_timeout_and_cancels_a_goal(world):
    sim = TestbotSim(TestbotConfig(world_seed=SEED), world=world)
    sim.set_goal(*far_free_point(sim))
    sim.step()
    sim.set_cmd_vel(0.0, 1.0)  # turn in place: never blocked
    assert sim.goal.state == "canceled"
    yaw0, p0 = sim.pose[2], sim.pose[:2]
    for _ in range(int(2.0 / sim.config.dt)):
        sim.step()
    turned = abs((sim.pose[2] - yaw0 + math.pi) % (2 * math.pi) - math.pi)
    assert 0.2 < turned < 0.5 + 0.1  # about 1 rad/s for cmd_vel_timeout (0.5 s), then it stops
    assert sim.pose[:2] == pytest.approx(p0, abs=1e-9)
    assert sim.v == 0.0 and abs(sim.w) < 1e-9


def _occluded_by_walls(world, eye, box) -> bool:
    """True if every sample of ``box``'s surface is hidden from ``eye`` by a wall (slab test, 3-D)."""
    pts = box.surface_samples(0.04)
    walls = [b for b in world.boxes if b.category == "wall"]
    lo = np.array([w.lo for w in walls])[:, None, :]
    hi = np.array([w.hi for w in walls])[:, None, :]
    d = pts[None, :, :] - eye
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (lo - eye) / d, (hi - eye) / d
    tmin = np.nanmax(np.minimum(t1, t2), axis=2)
    tmax = np.nanmin(np.maximum(t1, t2), axis=2)
    hit = (tmax >= np.maximum(tmin, 0.0)) & (tmin < 0.999)
    return bool(hit.any(axis=0).all())


def test_detections_are_only_what_the_camera_sees(world):
    sim = TestbotSim(TestbotConfig(world_seed=SEED, detection_noise=0.0), world=world)
    c = sim.config
    rng = np.random.default_rng(1)
    cells = np.argwhere(world.navigable)
    detected_n = hidden_n = 0
    for i in rng.choice(len(cells), 150, replace=False):
        x, y = world.nav_center(*cells[i])
        sim.pose = (x, y, float(rng.uniform(-math.pi, math.pi)))
        (_, _, msg), = sim.detections_message()
        assert msg.header.frame_id == "camera_link"
        labels = set()
        eye = np.array([x, y, c.camera_z])
        for d in msg.detections:
            label = d.results[0].hypothesis.class_id
            labels.add(label)
            box = next(b for b in world.objects("object") if b.category == label)
            # camera_link -> map: the detection is the box centre, in front of the camera, within range
            p = d.bbox.center.position
            cy, sy, cp, sp = math.cos(sim.pose[2]), math.sin(sim.pose[2]), math.cos(c.camera_pitch), math.sin(
                c.camera_pitch)
            fx, fz = cp * p.x + sp * p.z, -sp * p.x + cp * p.z  # undo the pitch (about y), then the yaw
            w = (x + cy * fx - sy * p.y, y + sy * fx + cy * p.y, c.camera_z + fz)
            assert w == pytest.approx(box.center, abs=1e-6)
            assert fx > 0 and math.hypot(p.x, p.y, p.z) <= c.detection_range
            assert 0.5 <= d.results[0].hypothesis.score <= 1.0
            assert not _occluded_by_walls(world, eye, box)
            detected_n += 1
        for box in world.objects("object"):
            dx, dy = box.center[0] - x, box.center[1] - y
            bearing = (math.atan2(dy, dx) - sim.pose[2] + math.pi) % (2 * math.pi) - math.pi
            in_cone = abs(bearing) < c.camera_hfov / 2 - 0.1 and 1.5 < math.hypot(dx, dy) < c.detection_range - 0.5
            if in_cone and _occluded_by_walls(world, eye, box):
                hidden_n += 1
                assert box.category not in labels  # in the field of view, but behind a wall
    assert detected_n >= 10 and hidden_n >= 5, (detected_n, hidden_n)


def test_furniture_is_detected_only_when_asked(world):
    seen = {False: set(), True: set()}
    for detect_all in (False, True):
        sim = TestbotSim(TestbotConfig(world_seed=SEED, detect="all" if detect_all else "objects"), world=world)
        sim.set_goal(*far_free_point(sim, 6.0))
        for t, _, m in run_until_done(sim):
            if t == "/detections":
                seen[detect_all] |= {d.results[0].hypothesis.class_id for d in m.detections}
    small = {b.category for b in world.objects("object")}
    assert seen[False] and seen[False] <= small
    assert seen[True] - small  # sofa, table, ... too


def test_bad_config_and_cli_options_are_refused_in_one_line():
    with pytest.raises(ValueError, match="max_speed"):
        TestbotConfig(max_speed=-1.0)
    with pytest.raises(ValueError, match="world must be one of"):
        load_world("nowhere", 0)
    with pytest.raises(ValueError, match="start"):
        TestbotSim(TestbotConfig(world_seed=SEED, start=(-50.0, 0.0, 0.0)))
    for args in (["--set", "max_speed=-2"], ["--set", "nosuchkey=1"], ["--start", "1,2"], ["--world", "nowhere"]):
        r = subprocess.run([sys.executable, "-m", "embodied_mem.robots.ros2.testbot", *args, "--duration", "1"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.startswith("embodied-mem robot testbot:") and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_closed_door_on_the_way_the_robot_gets_stuck_there_and_gives_up(world):
    """The robot's map has every door open; a closed door is met only on arrival: it plans through,
    makes no progress at the door and stops there (aborted), never passing it."""
    from embodied_mem.envs.indoor3d.world import DOOR_WIDTH

    sim = TestbotSim(TestbotConfig(world_seed=SEED), world=world)
    start = sim.pose
    # a goal in another room, and the door its path goes through
    free = np.argwhere(sim.clearance >= 0.3)
    centres = np.array([world.nav_center(r, c) for r, c in free])
    for room in world.rooms:
        gx, gy = centres[np.hypot(*(centres - ((room.xmin + room.xmax) / 2, (room.ymin + room.ymax) / 2)).T).argmin()]
        path = sim.plan(start[:2], (gx, gy))
        pts = np.concatenate([np.linspace(a, b, 50) for a, b in zip(path, path[1:])])
        near = [i for i, (dx, dy, _) in enumerate(world.doors) if np.hypot(*(pts - (dx, dy)).T).min() < 0.3]
        if len(near) == 1:
            break
    (door,) = near
    dx, dy, axis = world.doors[door]
    side = (lambda x, y: np.sign(y - dy)) if axis == "x" else (lambda x, y: np.sign(x - dx))
    sim.set_doors([door])
    assert sim.closed_doors == (door,) and any(b.category == "door" for b in sim.world.boxes)
    assert sim.set_goal(gx, gy).state == "active"  # its map has the door open
    poses = []
    run_until_done(sim, max_steps=6000, on_step=lambda s: poses.append(s.pose))
    assert sim.goal.state == "aborted", sim.goal
    assert len({side(x, y) for x, y, _ in poses} - {0}) == 1  # never passed the door
    assert math.dist(sim.pose[:2], (dx, dy)) < DOOR_WIDTH + 0.5  # stopped at the door
    # the laser sees the door: a ray towards it ends there, not in the room behind
    (_, _, scan), = sim.scan_message()
    bearing = math.atan2(dy - sim.pose[1], dx - sim.pose[0]) - sim.pose[2]
    i = int(round(((bearing + math.pi) % (2 * math.pi)) / scan.angle_increment)) % len(scan.ranges)
    assert scan.ranges[i] <= math.dist(sim.pose[:2], (dx, dy)) + 0.2
    with pytest.raises(ValueError, match="doors"):
        sim.set_doors([len(world.doors)])
    sim.set_doors([])  # open again: the goal is reachable
    sim.set_goal(gx, gy)
    run_until_done(sim, max_steps=6000)
    assert sim.goal.state == "succeeded"


def test_goal_in_base_link_turns_in_place_to_look_around(world):
    sim = TestbotSim(TestbotConfig(world_seed=SEED), world=world)
    x, y, yaw = sim.pose
    g = sim.set_goal(0.0, 0.0, yaw=math.pi / 2, frame="base_link")
    assert g.state == "active" and g.goal[2] == pytest.approx((yaw + math.pi / 2 + math.pi) % (2 * math.pi) - math.pi)
    run_until_done(sim, max_steps=200)
    assert sim.goal.state == "succeeded"
    assert math.dist(sim.pose[:2], (x, y)) < 0.05
    turned = (sim.pose[2] - yaw) % (2 * math.pi)
    assert abs(turned - math.pi / 2) <= sim.config.yaw_tolerance


def test_the_same_goal_resent_while_active_changes_nothing(world):
    """Clients re-send an unreached goal (lost to discovery?): the robot keeps its plan and its
    give-up timer, so a goal behind a closed door is still aborted."""
    sim = TestbotSim(TestbotConfig(world_seed=SEED), world=world)
    gx, gy = far_free_point(sim, 4.0)
    g = sim.set_goal(gx, gy, yaw=0.3)
    for _ in range(30):
        sim.step()
    assert sim.set_goal(gx + 0.005, gy, yaw=0.3) is g and g.state == "active" and sim.resent_goals == 1
    g2 = sim.set_goal(gx, gy, yaw=1.3)  # another yaw: a new goal
    assert g2 is not g and g2.id == g.id + 1 and g2.state == "active"
    run_until_done(sim)
    assert sim.goal.state == "succeeded"
    assert sim.set_goal(gx, gy, yaw=1.3).id == g2.id + 1  # reached: the same goal again is a new one


def test_a_changing_world_moves_what_the_camera_sees(world):
    """A world with ``world_at(t)`` (a household whose residents move things) is asked every
    ``world_period`` s: after the object is taken away the detector no longer reports it."""
    import dataclasses

    sim0 = TestbotSim(TestbotConfig(world_seed=SEED), world=world)
    # a spot 1.5-2.5 m from an object, facing it, from which the camera sees it
    for obj in world.objects("object"):
        cells = np.argwhere(world.navigable & (sim0.clearance >= 0.2))
        xy = np.array([world.nav_center(r, c) for r, c in cells])
        d = np.hypot(*(xy - obj.center[:2]).T)
        spot = None
        for i in np.flatnonzero((d > 1.5) & (d < 2.5)):
            sim0.pose = (*xy[i], math.atan2(obj.center[1] - xy[i][1], obj.center[0] - xy[i][0]))
            if obj.id in {b.id for b, _, _ in sim0.visible_objects()}:
                spot = sim0.pose
                break
        if spot:
            break
    assert spot
    far = max(world.objects("object"), key=lambda b: math.dist(b.center[:2], obj.center[:2]))
    moved = dataclasses.replace(world, boxes=[dataclasses.replace(b, lo=far.lo, hi=far.hi) if b.id == obj.id else b
                                              for b in world.boxes])

    class Household:
        asked: list[float] = []

        def world_at(self, t):
            self.asked.append(t)
            return world if t < 5.0 else moved

    house = Household()
    sim = TestbotSim(TestbotConfig(world_seed=SEED, start=spot, detection_noise=0.0), world=house)
    seen = []
    for _ in range(int(9.0 / sim.config.dt)):
        for t, _, m in sim.step():
            if t == "/detections":
                seen.append((sim.t, {d.results[0].hypothesis.class_id for d in m.detections}))
    assert house.asked[0] == sim.config.t0 and len(house.asked) == 1 + 8  # every world_period (1 s)
    assert all(obj.category in labels for t, labels in seen if t < 5.0)
    assert not any(obj.category in labels for t, labels in seen if t >= 5.0)
    assert sim.map is world  # the robot's map stays the first world's
