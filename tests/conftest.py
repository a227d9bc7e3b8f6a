"""Shared test fixtures: where ../shared/data lives, and the network-namespace guard."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("EMBODIED_MEM_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (real recordings and published figures); tests skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("EMBODIED_MEM_NETNS") == "1":
        return
    skip = pytest.mark.skip(reason="needs a private network namespace (run the suite with scripts/test.sh as root)")
    for item in items:
        if "netns" in item.keywords:
            item.add_marker(skip)
