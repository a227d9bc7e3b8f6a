"""Config validation: a typo in an override fails before anything runs, listing the valid keys."""

from __future__ import annotations

import pytest

from embodied_mem.config_schema import ConfigKeyError, check_overrides


def test_unknown_memory_key_lists_valid_keys() -> None:
    with pytest.raises(ConfigKeyError) as err:
        check_overrides(["memory.spatial.enabeld=false"])
    msg = str(err.value)
    assert "'enabeld' is not a key of memory.spatial" in msg
    assert "enabled" in msg and "place_radius" in msg


def test_unknown_top_level_key_lists_valid_keys() -> None:
    with pytest.raises(ConfigKeyError, match="valid keys: .*episodes.*steps"):
        check_overrides(["episode=3"])


def test_valid_overrides_and_free_form_sections_pass() -> None:
    check_overrides(["episodes=2", "steps=100", "seed=1", "memory.spatial.enabled=false", "ablation=no_spatial",
                     "env.kwargs.length=500", "agent.critic.enabled=false", "hydra/launcher=joblib", "+foo=1"])


@pytest.mark.parametrize(("experiment", "env", "episodes", "steps"), [
    ("crafter_ablation", "crafter", 10, 10000), ("indoor3d", "indoor3d", 8, 500), ("minecraft", "minecraft", 5, 300)])
def test_an_experiment_sets_episodes_and_steps_and_the_command_line_still_wins(
        experiment: str, env: str, episodes: int, steps: int) -> None:
    from hydra import compose, initialize_config_module

    from embodied_mem.config_schema import register_configs

    register_configs()
    with initialize_config_module("embodied_mem.configs", version_base="1.3"):
        cfg = compose("run", overrides=[f"experiment={experiment}"])
        assert (cfg.env.id, cfg.episodes, cfg.steps) == (env, episodes, steps)
        cfg = compose("run", overrides=[f"experiment={experiment}", "episodes=1"])
        assert cfg.episodes == 1
        assert compose("run").episodes == 1  # no experiment: run.yaml's defaults
