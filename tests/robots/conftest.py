"""Fixtures for the robot bridge tests: recordings of the simulated robot, written with rosbags."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def sim_robot():
    pytest.importorskip("rosbags")
    from embodied_mem.robots.ros2.testing import SimulatedRobot

    return SimulatedRobot()


@pytest.fixture(scope="session")
def sim_bags(sim_robot, tmp_path_factory) -> dict[str, Path]:
    """The simulated robot driving for 30 s, as a sqlite3 bag folder and as an mcap bag folder."""
    from embodied_mem.robots.ros2.testing import write_bag

    d = tmp_path_factory.mktemp("bags")
    msgs = list(sim_robot.messages(30.0))
    return {"sqlite3": write_bag(d / "sim_sqlite3", iter(msgs), "sqlite3"),
            "mcap": write_bag(d / "sim_mcap", iter(msgs), "mcap")}
