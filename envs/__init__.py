"""Simulator adapters, Gymnasium style: ``make(id, **kwargs)`` over lazy ``"module:Class"`` entry points.

Importing this package imports no simulator. Each adapter is a ``gymnasium.Env`` whose ``info``
carries a ``Percept`` under ``info["percept"]`` built only from what the agent's sensors see.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

__all__ = ["register", "make", "spec", "registry", "EnvSpec"]


@dataclass(frozen=True)
class EnvSpec:
    id: str
    entry_point: str  # "package.module:Class"
    kwargs: dict[str, Any] = field(default_factory=dict)
    requires: tuple[str, ...] = ()  # optional packages the simulator needs (for skip/install hints)
    description: str = ""


registry: dict[str, EnvSpec] = {}


def register(id: str, entry_point: str, *, kwargs: dict[str, Any] | None = None, requires: tuple[str, ...] = (),
             description: str = "") -> None:
    if id in registry:
        raise ValueError(f"environment {id!r} is already registered")
    if ":" not in entry_point:
        raise ValueError(f"entry_point must look like 'package.module:Class', got {entry_point!r}")
    registry[id] = EnvSpec(id, entry_point, dict(kwargs or {}), tuple(requires), description)


def spec(id: str) -> EnvSpec:
    try:
        return registry[id]
    except KeyError:
        raise KeyError(f"no environment {id!r}; registered: {sorted(registry)}") from None


def make(id: str, **kwargs: Any) -> Any:
    """Build the environment registered as ``id``; missing simulators raise DependencyNotInstalled."""
    s = spec(id)
    from embodied_mem.deps import require

    for mod in s.requires:
        require(mod, f"the {id!r} environment")
    module, _, attr = s.entry_point.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    return cls(**{**s.kwargs, **kwargs})


# Built-in environments. Entry points are imported only by make().
register("crafter", "embodied_mem.envs.crafter:CrafterEnv", requires=("crafter",),
         description="Crafter: open-world survival with Minecraft's tech tree (local 9x7 view)")
register("minecraft", "embodied_mem.envs.minecraft.env:MineflayerEnv", requires=("gymnasium",),
         description="Minecraft through a Mineflayer sidecar on a real server (local flying-squid by default); resource task")
register("indoor3d", "embodied_mem.envs.indoor3d.env:Indoor3DEnv", requires=("open3d",),
         description="Embedded 3D apartments (open3d ray casting): object search with Habitat-style RGB-D-semantic sensors")
register("habitat", "embodied_mem.envs.habitat.env:HabitatEnv", requires=("habitat_sim",),
         description="habitat-sim scenes: object search with RGB-D-semantic sensors (habitat_sim via conda)")
