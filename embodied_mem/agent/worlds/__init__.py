"""Per-world agent knowledge, one package per world, found through the env's own description.

An env declares what it is in ``env.metadata["embodied_mem"]`` (a plain dict: ``world``,
``labels``, ``inventory``, ``actions``, optional more), so the agent never imports an env module.
``describe(env)`` reads that into an ``EnvDescription``; ``world_kit(name)`` imports the world's
``WorldKit`` (``embodied_mem/agent/worlds/<name>``) lazily by name.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..protocols import EnvDescription

if TYPE_CHECKING:
    from ..protocols import WorldKit

__all__ = ["register_world", "world_kit", "describe", "worlds", "METADATA_KEY"]

METADATA_KEY = "embodied_mem"

_WORLDS: dict[str, str] = {"crafter": "embodied_mem.agent.worlds.crafter.kit:KIT",
                           "minecraft": "embodied_mem.agent.worlds.minecraft.kit:KIT",
                           "objectnav": "embodied_mem.agent.worlds.objectnav.kit:KIT",
                           "robot": "embodied_mem.agent.worlds.robot.kit:KIT",
                           "household": "embodied_mem.agent.worlds.household.kit:KIT"}


def register_world(name: str, spec: str) -> None:
    """Register world ``name`` as ``"package.module:attr"`` naming its ``WorldKit``."""
    if ":" not in spec:
        raise ValueError(f"world {name!r}: expected 'package.module:attr', got {spec!r}")
    _WORLDS[name] = spec


def worlds() -> list[str]:
    return sorted(_WORLDS)


def world_kit(name: str) -> WorldKit:
    """The ``WorldKit`` of world ``name``; ``ValueError`` naming the known worlds otherwise."""
    try:
        spec = _WORLDS[name]
    except KeyError:
        raise ValueError(f"no agent knowledge for world {name!r}; known worlds: {worlds()}") from None
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def describe(env: object) -> EnvDescription:
    """The env's declared description (``env.metadata["embodied_mem"]``, through wrappers).

    Raises ``ValueError`` when the env declares none (the agent cannot know which world it is in).
    """
    meta = getattr(getattr(env, "unwrapped", env), "metadata", None) or getattr(env, "metadata", None) or {}
    d = meta.get(METADATA_KEY) if isinstance(meta, Mapping) else None
    if not isinstance(d, Mapping) or not isinstance(d.get("world"), str):
        raise ValueError(f"{type(env).__name__} declares no world for agents: its metadata needs "
                         f"{METADATA_KEY!r}: {{'world': <name>, 'labels': [...], ...}}")
    known = {"world", "labels", "inventory", "actions"}
    return EnvDescription(world=d["world"], labels=tuple(d.get("labels", ())), inventory=tuple(d.get("inventory", ())),
                          actions=tuple(d.get("actions", ())), extra={k: v for k, v in d.items() if k not in known})
