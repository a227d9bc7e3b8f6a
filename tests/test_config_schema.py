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


WORLDS = ("crafter", "minecraft", "indoor3d", "habitat")
ABLATIONS = ("full", "no_spatial", "no_temporal", "no_episodic", "no_semantic", "no_long_term", "no_critic", "no_prior")


@pytest.mark.parametrize("env", WORLDS)
def test_a_misspelt_agent_key_is_an_error_in_every_world(env: str) -> None:
    """Agent keys are one structured schema (AgentConfig), whatever the world."""
    from hydra import compose, initialize_config_module
    from hydra.errors import ConfigCompositionException

    from embodied_mem.config_schema import register_configs

    for key in ("agent.critic.enabel=false", "+agent.critic.enabel=false"):
        with pytest.raises(ConfigKeyError, match="'enabel' is not a key of agent.critic"):
            check_overrides([f"env={env}", key])
    register_configs()
    with initialize_config_module("embodied_mem.configs", version_base="1.3"):
        with pytest.raises(ConfigCompositionException, match="enabel"):  # Hydra's own check (config files too)
            compose("run", overrides=[f"env={env}", "agent.critic.enabel=false"])
        with pytest.raises(ConfigCompositionException, match="stall_steps"):  # a value of the wrong type
            compose("run", overrides=[f"env={env}", "agent.critic.stall_steps=soon"])


@pytest.mark.parametrize("ablation", ABLATIONS)
def test_every_ablation_composes_to_typed_settings(ablation: str) -> None:
    from hydra import compose, initialize_config_module
    from omegaconf import OmegaConf

    from embodied_mem.agent.config import AgentConfig
    from embodied_mem.config_schema import register_configs

    register_configs()
    with initialize_config_module("embodied_mem.configs", version_base="1.3"):
        cfg = compose("run", overrides=[f"ablation={ablation}"])
        assert isinstance(OmegaConf.to_object(cfg.agent), AgentConfig)
