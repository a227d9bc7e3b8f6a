"""Agent configs: plain dicts in, dataclasses out; unknown keys refused with the valid ones listed."""

from __future__ import annotations

import pytest

from embodied_mem.agent.config import AgentConfig


def test_from_plain_dict():
    cfg = AgentConfig.from_dict({"name": "robomemory", "critic": {"enabled": False, "stall_steps": 10},
                                 "planner": {"use_prior": False}})
    assert cfg.critic.enabled is False and cfg.critic.stall_steps == 10
    assert cfg.planner.use_prior is False and cfg.crafter.dig is True and cfg.planner.backend == "symbolic"
    assert AgentConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("bad, where", [({"nme": "x"}, "agent"), ({"critic": {"enable": False}}, "agent.critic")])
def test_unknown_keys_list_valid_ones(bad, where):
    with pytest.raises(ValueError) as e:
        AgentConfig.from_dict(bad)
    assert where in str(e.value) and "valid keys" in str(e.value)


def test_section_must_be_a_mapping():
    with pytest.raises(TypeError, match="agent.planner"):
        AgentConfig.from_dict({"planner": 3})


def test_agent_yaml_files_validate():
    from importlib import resources

    import yaml

    for name in ("robomemory", "reactive", "random"):
        text = resources.files("embodied_mem.configs").joinpath(f"agent/{name}.yaml").read_text()
        d = {k: v for k, v in yaml.safe_load(text).items() if k != "defaults"}
        assert AgentConfig.from_dict(d).name == name
