"""The envs are registered with Gymnasium itself: ``gymnasium.make("embodied_mem/...")`` builds them
lazily, with ``max_episode_steps`` and ``env.spec``, and every registered env whose simulator is
present passes ``check_env`` when made through Gymnasium."""

from __future__ import annotations

import subprocess
import sys

import gymnasium
import pytest
from gymnasium.utils.env_checker import check_env

from embodied_mem import envs
from embodied_mem.deps import available

GYM_IDS = sorted(s.gym_id for s in envs.registry.values() if s.gym_id)
# small, fast settings per env for the checker (each is a real simulator)
SMALL = {"crafter": {"length": 100, "area": (24, 24)}, "indoor3d": {"scene_seed": 2, "width": 48, "height": 32}}


def test_every_env_is_registered_with_gymnasium_lazily() -> None:
    assert GYM_IDS == ["embodied_mem/Crafter-v0", "embodied_mem/Habitat-v0", "embodied_mem/Indoor3D-v0",
                       "embodied_mem/Minecraft-v0"]
    for gid in GYM_IDS:
        spec = gymnasium.spec(gid)
        assert isinstance(spec.entry_point, str) and ":" in spec.entry_point  # imported only by make()
        assert spec.max_episode_steps and spec.namespace == "embodied_mem"
    # registering imports no simulator; and gymnasium can import the package itself ("module:id")
    code = ("import sys, gymnasium; env = gymnasium.make('embodied_mem.envs:embodied_mem/Crafter-v0', length=20); "
            "heavy = [m for m in ('open3d', 'habitat_sim', 'torch') if m in sys.modules]; "
            "env.reset(seed=1); print(env.spec.id, env.spec.max_episode_steps, heavy)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["embodied_mem/Crafter-v0", "10000", "[]"]


@pytest.mark.parametrize("gym_id", GYM_IDS)
def test_check_env_through_gymnasium_make(gym_id: str) -> None:
    s = envs.spec(gym_id)
    missing = [m for m in s.requires if not available(m)]
    if missing:
        pytest.skip(f"simulator not installed here: {missing}")
    if s.id == "minecraft":
        pytest.skip("needs a running Minecraft server: tests/envs/minecraft/test_minecraft_env.py::test_check_env")
    env = gymnasium.make(gym_id, **SMALL.get(s.id, {}))
    try:
        assert env.spec.id == gym_id and env.spec.max_episode_steps == s.max_episode_steps
        check_env(env.unwrapped, skip_render_check=True)
        env.reset(seed=0)
        env.step(env.action_space.sample())  # through Gymnasium's wrappers (order, time limit, passive checker)
    finally:
        env.close()


def test_the_alias_builds_the_same_env_unwrapped_with_its_spec() -> None:
    pytest.importorskip("crafter")
    env = envs.make("crafter", length=30)
    assert env.spec.id == "embodied_mem/Crafter-v0" and env.spec.kwargs == {"length": 30}
    assert env.unwrapped is env  # the runner counts steps itself
    assert envs.spec("embodied_mem/Crafter-v0") is envs.spec("crafter")
    with pytest.raises(KeyError, match="Gymnasium ids"):
        envs.spec("Crafter-v9")
