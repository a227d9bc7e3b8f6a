"""`embodied-mem robot replay BAG_PATH` / `robot run`: Hydra run directory with memory.db, map.png, metrics.json."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("rosbags")

from embodied_mem.cli import main as cli  # noqa: E402
from embodied_mem.memory import Memory  # noqa: E402


def test_replay_writes_memory_map_and_metrics(sim_bags, sim_robot, tmp_path, capsys):
    run_dir = tmp_path / "replay"
    rc = cli(["robot", "replay", str(sim_bags["mcap"]), f"hydra.run.dir={run_dir}", "memory.spatial.cell_size=0.1",
              "robot.scan.max_free_range=3.0"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "replayed 1415 messages" in out and str(run_dir) in out
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["status"] == "ok" and m["world_frame"] == "map"
    assert m["trajectory"]["duration_s"] == pytest.approx(30.0)
    assert m["trajectory"]["length_m"] == pytest.approx(sim_robot.path_length(30.0), rel=0.01)
    png = (run_dir / "map.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert "cell_size: 0.1" in (run_dir / "config.yaml").read_text()
    with Memory.open(run_dir / "memory.db", readonly=True) as mem:  # durable, and re-derived identically
        assert mem.config.spatial.cell_size == 0.1
        assert mem.spatial.locate("cup")[0].position == pytest.approx(sim_robot.objects["cup"])
        assert mem.spatial.n_known_cells == m["memory"]["spatial.known_cells"]


def test_usage_errors(tmp_path, capsys):
    assert cli(["robot"]) == 2
    assert cli(["robot", "fly"]) == 2
    assert "unknown sub-command 'fly'" in capsys.readouterr().err
    assert cli(["robot", "replay"]) == 2
    assert cli(["robot", "replay", str(tmp_path / "nope")]) == 2
    assert "no rosbag2 recording" in capsys.readouterr().err


def test_bad_config_is_refused_naming_the_key(sim_bags, tmp_path, capsys):
    # a user error: one line, exit 2, before anything runs
    assert cli(["robot", "replay", str(sim_bags["mcap"]), f"hydra.run.dir={tmp_path}", "robot.warp_speed=9"]) == 2
    assert "warp_speed" in capsys.readouterr().err
    assert cli(["robot", "replay", str(sim_bags["mcap"]), f"hydra.run.dir={tmp_path}", "realtime=fast"]) == 2
    assert "realtime" in capsys.readouterr().err
    assert not (tmp_path / "memory.db").exists()


def test_run_refuses_the_bag_transport(tmp_path, capsys):
    assert cli(["robot", "run", "robot=ros2", "transport=bag", f"hydra.run.dir={tmp_path}"]) == 2
    assert "robot replay" in capsys.readouterr().err
    assert (tmp_path / "config.yaml").read_text().count("transport: bag") == 2  # the shorthand reached robot.*


def test_run_without_rclpy_says_how_to_get_it(tmp_path, capsys):
    from embodied_mem.deps import available

    if available("rclpy"):
        pytest.skip("rclpy is installed")
    assert cli(["robot", "run", "robot=ros2", "transport=rclpy", "duration=1", f"hydra.run.dir={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert "rclpy is not installed" in err and "transport=dds" in err


def test_replay_into_a_continued_memory_summarizes_only_its_own_poses(sim_bags, tmp_path, capsys):
    life = tmp_path / "life.db"
    first, second = tmp_path / "r1", tmp_path / "r2"
    for run_dir in (first, second):  # the same recording twice into one memory (memory.path)
        assert cli(["robot", "replay", str(sim_bags["mcap"]), f"hydra.run.dir={run_dir}", f"memory.path={life}",
                    "plot=false"]) == 0
    capsys.readouterr()
    m1 = json.loads((first / "metrics.json").read_text())
    m2 = json.loads((second / "metrics.json").read_text())
    assert m1["trajectory"]["duration_s"] == pytest.approx(30.0)
    assert m2["trajectory"] == {"poses": 0}  # its poses are all older than the memory's: none added
    with Memory.open(life, readonly=True) as mem:
        # only the first replay's poses (plus, at most, one at exactly its last time: time may stay equal)
        assert len(mem.spatial.trajectory()) - m1["trajectory"]["poses"] in (0, 1)


def test_memory_continue_needs_an_existing_memory(sim_bags, tmp_path, capsys):
    life = tmp_path / "life.db"
    bag = str(sim_bags["mcap"])
    assert cli(["robot", "replay", bag, f"hydra.run.dir={tmp_path / 'r0'}", "memory.continue=true"]) == 2
    assert "memory.continue=true needs memory.path" in capsys.readouterr().err
    assert cli(["robot", "replay", bag, f"hydra.run.dir={tmp_path / 'r1'}", f"memory.path={life}",
                "memory.continue=true", "plot=false"]) == 2
    assert "no memory to continue" in capsys.readouterr().err and not life.exists()  # nothing created
    assert cli(["robot", "run", "transport=dds", "duration=1", f"hydra.run.dir={tmp_path / 'r2'}",
                f"memory.path={life}", "memory.continue=true"]) == 2
    assert "no memory to continue" in capsys.readouterr().err and not life.exists()
    assert cli(["robot", "replay", bag, f"hydra.run.dir={tmp_path / 'r3'}", f"memory.path={life}", "plot=false"]) == 0
    with Memory.open(life, readonly=True) as mem:
        n = mem.stats()["percepts"]
    assert cli(["robot", "replay", bag, f"hydra.run.dir={tmp_path / 'r4'}", f"memory.path={life}",
                "memory.continue=true", "plot=false"]) == 0
    with Memory.open(life, readonly=True) as mem:
        assert mem.stats()["percepts"] >= n  # the same memory, continued (the same recording adds no newer poses)
    assert "continue_memory: true" in (tmp_path / "r4" / "config.yaml").read_text()
