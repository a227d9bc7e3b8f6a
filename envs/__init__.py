"""Simulator adapters, registered with Gymnasium itself over lazy ``"module:Class"`` entry points.

After ``import embodied_mem.envs``, ``gymnasium.make("embodied_mem/Crafter-v0")`` (also
``Minecraft-v0``, ``Indoor3D-v0``, ``Habitat-v0``) builds an env with Gymnasium's usual wrappers
(``TimeLimit`` from ``max_episode_steps``, order enforcing, the passive env checker) and
``env.spec``; ``gymnasium.make("embodied_mem.envs:embodied_mem/Crafter-v0")`` imports this package
itself. ``make("crafter", **kwargs)`` is the thin alias the runner uses: the same entry point and
spec, unwrapped (the runner counts steps itself).

Importing this package imports gymnasium but no simulator. Each adapter is a ``gymnasium.Env``
whose ``info`` carries a ``Percept`` under ``info["percept"]`` built only from what the agent's
sensors see. A missing simulator raises ``DependencyNotInstalled`` naming its install command.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("embodied_mem.envs")

__all__ = ["register", "make", "spec", "registry", "EnvSpec", "GYM_NAMESPACE"]

GYM_NAMESPACE = "embodied_mem"


@dataclass(frozen=True)
class EnvSpec:
    id: str  # short name used in configs (env.id): "crafter"
    entry_point: str  # "package.module:Class"
    kwargs: dict[str, Any] = field(default_factory=dict)
    requires: tuple[str, ...] = ()  # optional packages the simulator needs (for skip/install hints)
    description: str = ""
    gym_id: str | None = None  # its Gymnasium id: "embodied_mem/Crafter-v0"
    max_episode_steps: int | None = None  # Gymnasium's TimeLimit (the env's own default episode length)


registry: dict[str, EnvSpec] = {}


def register(id: str, entry_point: str, *, kwargs: dict[str, Any] | None = None, requires: tuple[str, ...] = (),
             description: str = "", gym_id: str | None = None, max_episode_steps: int | None = None) -> None:
    """Register an env under a short ``id`` and, with ``gym_id``, with Gymnasium (lazily: nothing is imported)."""
    if id in registry:
        raise ValueError(f"environment {id!r} is already registered")
    if ":" not in entry_point:
        raise ValueError(f"entry_point must look like 'package.module:Class', got {entry_point!r}")
    registry[id] = EnvSpec(id, entry_point, dict(kwargs or {}), tuple(requires), description, gym_id,
                           max_episode_steps)
    if gym_id is not None:
        import gymnasium

        if gym_id not in gymnasium.registry:
            gymnasium.register(id=gym_id, entry_point=entry_point, kwargs=dict(kwargs or {}),
                               max_episode_steps=max_episode_steps)


def spec(id: str) -> EnvSpec:
    """The spec of a short id (``"crafter"``) or a Gymnasium id (``"embodied_mem/Crafter-v0"``)."""
    if id in registry:
        return registry[id]
    for s in registry.values():
        if s.gym_id == id:
            return s
    raise KeyError(f"no environment {id!r}; registered: {sorted(registry)} "
                   f"(Gymnasium ids: {sorted(s.gym_id for s in registry.values() if s.gym_id)})")


def make(id: str, **kwargs: Any) -> Any:
    """Build the environment registered as ``id``, unwrapped, with its Gymnasium ``spec`` set.

    The thin alias of ``gymnasium.make`` the runner uses (it limits steps itself). Missing
    simulators raise ``DependencyNotInstalled`` naming the install command.
    """
    s = spec(id)
    from embodied_mem.deps import require

    for mod in s.requires:
        require(mod, f"the {s.id!r} environment")
    module, _, attr = s.entry_point.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    env = cls(**{**s.kwargs, **kwargs})
    log.info("made env %s (%s) with %s", s.gym_id or s.id, s.entry_point, {**s.kwargs, **kwargs})
    if s.gym_id is not None and getattr(env, "spec", None) is None:
        import dataclasses

        import gymnasium

        env.spec = dataclasses.replace(gymnasium.spec(s.gym_id), kwargs={**s.kwargs, **kwargs})
    return env


# Built-in environments. Entry points are imported only by make().
register("crafter", "embodied_mem.envs.crafter:CrafterEnv", requires=("crafter",),
         gym_id=f"{GYM_NAMESPACE}/Crafter-v0", max_episode_steps=10_000,
         description="Crafter: open-world survival with Minecraft's tech tree (local 9x7 view)")
register("minecraft", "embodied_mem.envs.minecraft.env:MineflayerEnv", requires=("gymnasium",),
         gym_id=f"{GYM_NAMESPACE}/Minecraft-v0", max_episode_steps=400,
         description="Minecraft through a Mineflayer sidecar on a real server (local flying-squid by default); resource task")
register("indoor3d", "embodied_mem.envs.indoor3d.env:Indoor3DEnv", requires=("open3d",),
         gym_id=f"{GYM_NAMESPACE}/Indoor3D-v0", max_episode_steps=500,
         description="Embedded 3D apartments (open3d ray casting): object search with Habitat-style RGB-D-semantic sensors")
# Not registered with Gymnasium: each reset() starts the next task of a lifelong schedule on one
# clock, so resetting twice with one seed does not repeat an episode (Gymnasium's env checker demands it).
register("household", "embodied_mem.envs.indoor3d.household_env:HouseholdEnv", requires=("open3d",),
         description="A changing household in the indoor3d apartments: residents move things on routines; fetch tasks")
register("habitat", "embodied_mem.envs.habitat.env:HabitatEnv", requires=("habitat_sim",),
         gym_id=f"{GYM_NAMESPACE}/Habitat-v0", max_episode_steps=500,
         description="habitat-sim scenes: object search with RGB-D-semantic sensors (habitat_sim via conda)")
