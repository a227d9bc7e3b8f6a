"""The embedded 3D indoor world: procedural apartments rendered with open3d ray casting.

``embodied_mem.envs.make("indoor3d", scene_seed=0)`` -> ``Indoor3DEnv`` (object search, Habitat
style sensors). Runner hooks (``configs/env/indoor3d.yaml``): ``episode_metrics``, ``summarize``,
``plot`` live in ``hooks``.
"""

from __future__ import annotations

from .hooks import episode_metrics, plot, summarize

__all__ = ["Indoor3DEnv", "episode_metrics", "summarize", "plot"]


def __getattr__(name: str):  # the env imports gymnasium and open3d: only when asked for
    if name == "Indoor3DEnv":
        from .env import Indoor3DEnv

        return Indoor3DEnv
    raise AttributeError(name)
