"""Map files for other tools: a ROS map_server map (.yaml + .pgm) and PLY point clouds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embodied_mem import Memory, Percept, Pose
from embodied_mem.map_export import FREE, OCCUPIED, UNKNOWN, read_map_server, write_map_server, write_ply
from embodied_mem.memory import MemoryConfig
from embodied_mem.memory_cli import main as memory_main


def _room(tmp_path: Path) -> Path:
    path = tmp_path / "m.db"
    cfg = MemoryConfig.from_dict({"spatial": {"cell_size": 0.5}})
    with Memory.open(path, config=cfg) as m:
        free = [(x * 0.5, y * 0.5, 0.0) for x in range(1, 6) for y in range(1, 4)]
        wall = [(x * 0.5, 2.0, 0.0) for x in range(0, 7)]  # a wall along y = 2 m
        m.observe(Percept(t=0.0, pose=Pose(1.0, 1.0, 0.0), free=free, blocked=wall))
    return path


def test_map_server_map_places_cells_where_ros_reads_them(tmp_path: Path) -> None:
    with Memory.open(_room(tmp_path), readonly=True) as m:
        pgm, yml = write_map_server(m, tmp_path / "out" / "map.yaml")
    img, meta = read_map_server(yml)
    assert pgm.name == meta["image"] == "map.pgm" and meta["resolution"] == 0.5 and meta["mode"] == "trinary"
    assert set(np.unique(img)) <= {FREE, OCCUPIED, UNKNOWN}

    def pixel(x: float, y: float) -> int:  # map_server: origin is the lower-left corner, row 0 the top
        col = int((x - meta["origin"][0]) / meta["resolution"])
        row = img.shape[0] - 1 - int((y - meta["origin"][1]) / meta["resolution"])
        return int(img[row, col])

    assert pixel(1.0, 1.0) == FREE and pixel(2.5, 1.5) == FREE
    assert all(pixel(x * 0.5, 2.0) == OCCUPIED for x in range(0, 7))  # the wall is the top row
    assert pixel(0.0, 0.5) == UNKNOWN  # inside the box, never seen


def test_memory_export_writes_a_map_server_map_and_refuses_what_it_cannot(tmp_path: Path, capsys) -> None:
    db = _room(tmp_path)
    assert memory_main(["export", str(db), str(tmp_path / "map.yaml")]) == 0
    assert "map_server occupancy map, 0.5 m/cell" in capsys.readouterr().out
    assert (tmp_path / "map.pgm").read_bytes().startswith(b"P5\n")
    assert memory_main(["export", str(db), str(tmp_path / "m2.yaml"), "--at", "1"]) == 2
    empty = tmp_path / "empty.db"
    Memory.open(empty).close()
    assert memory_main(["export", str(empty), str(tmp_path / "e.yaml")]) == 2
    assert "no occupancy map" in capsys.readouterr().err and not (tmp_path / "e.pgm").exists()


@pytest.mark.parametrize("binary", [True, False])
def test_ply_round_trips_through_open3d(tmp_path: Path, binary: bool) -> None:
    o3d = pytest.importorskip("open3d")
    pts = np.random.default_rng(0).uniform(-3, 3, (50, 3))
    cols = np.random.default_rng(1).uniform(0, 1, (50, 3))
    path = write_ply(pts, tmp_path / "c.ply", cols, binary=binary)
    pc = o3d.io.read_point_cloud(str(path))
    assert np.allclose(np.asarray(pc.points), pts, atol=1e-4)
    assert np.allclose(np.asarray(pc.colors), np.round(cols * 255) / 255, atol=1e-6)
    with pytest.raises(ValueError, match="finite"):
        write_ply([[0, 0, float("nan")]], tmp_path / "bad.ply")
