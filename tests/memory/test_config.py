"""MemoryConfig: built from mappings, unknown keys and bad values refused naming the setting."""

from __future__ import annotations

import pytest

from embodied_mem import Memory, MemoryConfig
from embodied_mem.memory import SpatialConfig


def test_from_dict_round_trip_and_defaults():
    cfg = MemoryConfig.from_dict({"spatial": {"place_radius": 2.0}, "episodic": {"enabled": False}})
    assert cfg.spatial.place_radius == 2.0 and cfg.spatial.cell_size == 1.0 and not cfg.episodic.enabled
    assert MemoryConfig.from_dict(cfg.to_dict()) == cfg
    assert MemoryConfig.from_dict(None) == MemoryConfig()


def test_unknown_keys_list_the_valid_ones():
    with pytest.raises(ValueError, match=r"memory\.spatial.*place_radius"):
        MemoryConfig.from_dict({"spatial": {"radius": 3}})
    with pytest.raises(TypeError, match="memory.spatial must be a mapping"):
        MemoryConfig.from_dict({"spatial": 3})


@pytest.mark.parametrize("section, key, value", [
    ("spatial", "place_radius", 0), ("spatial", "cell_size", -1.0), ("spatial", "match_tolerance", float("nan")),
    ("spatial", "connectivity", 6), ("spatial", "index_cell", "big"), ("episodic", "max_chunk_size", 0),
    ("episodic", "utility_rate", 1.5), ("episodic", "initial_strength", 0), ("semantic", "min_fraction", 2),
    ("semantic", "min_support", 0), ("long_term", "working_memory_size", 0),
])
def test_bad_values_are_refused_naming_the_setting(section, key, value):
    with pytest.raises(ValueError, match=f"{section}.{key}"):
        Memory({section: {key: value}})


def test_dataclass_itself_validates():
    with pytest.raises(ValueError, match="spatial.place_radius"):
        SpatialConfig(place_radius=-3)
