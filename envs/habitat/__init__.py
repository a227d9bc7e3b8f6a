"""habitat-sim adapter: ``embodied_mem.envs.make("habitat", scene=...)`` -> ``HabitatEnv``.

habitat_sim is imported only when an env is built; ``testing.fake_habitat_sim()`` is the contract
fake for machines without it. Runner hooks are shared with the embedded world
(``embodied_mem.envs.indoor3d.hooks``).
"""

from __future__ import annotations

__all__ = ["HabitatEnv"]


def __getattr__(name: str):  # gymnasium is imported with the env only
    if name == "HabitatEnv":
        from .env import HabitatEnv

        return HabitatEnv
    raise AttributeError(name)
