"""Fixtures shared by the ROS 2 tests that talk over DDS (run inside the private network namespace)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def dds_env(monkeypatch):
    """cyclonedds on loopback for this process, and the environment to give its subprocesses."""
    pytest.importorskip("cyclonedds")
    from embodied_mem.robots.ros2.dds import LOOPBACK_URI

    monkeypatch.setenv("CYCLONEDDS_URI", LOOPBACK_URI)
    return {**os.environ, "CYCLONEDDS_URI": LOOPBACK_URI}
