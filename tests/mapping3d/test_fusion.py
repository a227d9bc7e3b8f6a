"""RGB-D fusion against the known mesh of an embedded-world apartment; 3D object instances."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("open3d")

from embodied_mem.envs.indoor3d.render import Renderer  # noqa: E402
from embodied_mem.envs.indoor3d.world import generate_apartment  # noqa: E402

from embodied_mem.mapping3d.frames import Intrinsics, camera_pose  # noqa: E402
from embodied_mem.mapping3d.fusion import Map3D, ObjectMap, TSDFMap  # noqa: E402
from embodied_mem.mapping3d.percepts import STRUCTURAL, segment_instances  # noqa: E402
from embodied_mem.percept import Pose  # noqa: E402

VOXEL = 0.05
SENSOR_HEIGHT = 1.25


@pytest.fixture(scope="module")
def spin():
    """An apartment and 12 frames (a full turn) from a navigable point near its middle."""
    apt = generate_apartment(3)
    k = Intrinsics(160, 120, math.radians(90))
    r = Renderer(apt, k, max_depth=10.0)
    cells = np.argwhere(apt.navigable)
    mid = np.array(apt.navigable.shape) / 2
    rr, cc = cells[np.argmin(((cells - mid) ** 2).sum(1))]
    x, y = apt.nav_center(int(rr), int(cc))
    frames = []
    for i in range(12):
        yaw = i * math.pi / 6
        img = r.render(camera_pose(x, y, SENSOR_HEIGHT, yaw))
        frames.append((Pose(x, y, 0.0, yaw), img))
    return apt, k, frames


def _mesh_distance(apt, pts):
    import open3d as o3d

    verts, tris, _ = apt.mesh()
    scene = o3d.t.geometry.RaycastingScene()
    mesh = o3d.t.geometry.TriangleMesh()
    mesh.vertex.positions = o3d.core.Tensor(verts)
    mesh.triangle.indices = o3d.core.Tensor(tris)
    scene.add_triangles(mesh)
    return scene.compute_distance(o3d.core.Tensor(pts.astype(np.float32))).numpy()


def test_fused_surface_lies_on_the_known_mesh(spin):
    apt, k, frames = spin
    tsdf = TSDFMap(VOXEL, max_depth=6.0)
    for pose, img in frames:
        tsdf.integrate(img["depth"], k, camera_pose(pose.x, pose.y, SENSOR_HEIGHT, pose.yaw), img["rgb"])
    pts = tsdf.surface_points(weight_threshold=1.0)
    assert tsdf.n_frames == 12
    assert len(pts) > 5000
    d = _mesh_distance(apt, pts)
    assert np.quantile(d, 0.99) <= 2 * VOXEL, f"99% of fused points within two voxels; got {np.quantile(d, 0.99):.3f} m"
    assert np.median(d) <= VOXEL / 2
    # and it covers what the camera saw: most depth points have a fused point within two voxels
    from scipy.spatial import cKDTree

    from embodied_mem.mapping3d.frames import backproject

    seen = np.concatenate([backproject(img["depth"], k, camera_pose(p.x, p.y, SENSOR_HEIGHT, p.yaw), stride=4,
                                       max_depth=5.5)[0] for p, img in frames])
    near, _ = cKDTree(pts).query(seen, distance_upper_bound=2 * VOXEL)
    assert np.isfinite(near).mean() > 0.9


def test_tsdf_refuses_bad_input(spin):
    _, k, frames = spin
    tsdf = TSDFMap(VOXEL)
    assert tsdf.surface_points().shape == (0, 3)
    with pytest.raises(ValueError, match="shape"):
        tsdf.integrate(np.zeros((5, 5), np.float32), k, np.eye(4))
    with pytest.raises(ValueError, match="4x4"):
        tsdf.integrate(frames[0][1]["depth"], k, np.eye(3))
    with pytest.raises(ValueError, match="voxel_size"):
        TSDFMap(0.0)


def test_object_instances_have_the_right_labels_and_positions(spin):
    apt, k, frames = spin
    labels = apt.categories()
    m = Map3D(k, sensor_height=SENSOR_HEIGHT, labels=labels, fuse=False)
    for pose, img in frames:
        m.add_frame(img["depth"], img["semantic"], pose)
    inst = m.objects.instances()
    assert len(inst) >= 4
    seen_ids = set()
    for o in inst:
        box = apt.box(o.id)
        assert o.label == box.category
        assert o.label not in STRUCTURAL
        # the centroid of the seen points lies inside the box (with a voxel of slack)
        assert all(box.lo[i] - VOXEL <= o.centroid[i] <= box.hi[i] + VOXEL for i in range(3)), (o, box)
        assert o.n_points > 0 and o.n_frames >= 1
        seen_ids.add(o.id)
    # every non-structural instance covering enough pixels in some frame was found
    for _, img in frames:
        ids, counts = np.unique(img["semantic"][::2, ::2], return_counts=True)
        for i, n in zip(ids.tolist(), counts.tolist()):
            if i and labels[i] not in STRUCTURAL and n >= 6:
                assert i in seen_ids
    # the navigable floor around the agent is known free
    from embodied_mem.mapping3d.navgrid import FREE

    p = frames[0][0]
    assert m.nav.grid[m.nav.cell(p.x, p.y)] == FREE
    s = inst[0].sighting()
    assert s.instance == f"{inst[0].label}#{inst[0].id}"


def test_object_map_accumulates_across_frames():
    from embodied_mem.mapping3d.percepts import ObjectObservation

    om = ObjectMap()
    om.add([ObjectObservation(7, "mug", (1.0, 0.0, 0.5), (0.9, -0.1, 0.4), (1.1, 0.1, 0.6), 10)])
    om.add([ObjectObservation(7, "mug", (2.0, 0.0, 0.5), (1.9, -0.1, 0.4), (2.1, 0.1, 0.6), 30)])
    (o,) = om.instances("mug")
    assert math.isclose(o.centroid[0], 1.75)  # weighted by point count
    assert o.bbox_min[0] == 0.9 and o.bbox_max[0] == 2.1 and o.n_frames == 2 and o.last_frame == 2
    assert om.instances("key") == []


def test_segment_instances_checks_lengths():
    with pytest.raises(ValueError, match="length"):
        segment_instances(np.zeros((3, 3)), np.zeros(2), {})
