"""Fixtures for the Minecraft tests: skip with a reason where Node.js or the npm cache is missing."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def node_ready() -> None:
    from embodied_mem.envs.minecraft.sidecar import node_available

    ok, why = node_available()
    if not ok:
        pytest.skip(f"Minecraft sidecar unavailable: {why}")
