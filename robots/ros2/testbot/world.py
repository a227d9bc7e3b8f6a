"""Worlds the test robot can drive in, behind one small factory: ``load_world("indoor3d", seed)``.

A world is any object with what ``generate_apartment`` returns (``embodied_mem.envs.indoor3d.world.Apartment``):
``boxes`` (each with ``id``, ``category``, ``kind`` "structure" | "furniture" | "object", ``lo``/``hi``
corners in metres, map frame), ``mesh()`` (triangles with per-triangle instance ids, for ray casting),
``navigable`` (boolean floor grid for the robot's centre, rows along +y), ``nav_origin``,
``nav_resolution``, ``nav_cell(x, y)``, ``nav_center(r, c)``, ``is_navigable(x, y)`` and ``bounds``.

``name`` is a registered world (``indoor3d``: a procedural apartment per seed) or a
``"package.module:function"`` taking the seed, so another world (a household whose residents move
things over simulated days) plugs in without changing the robot. The robot swaps worlds while
running with ``TestbotSim.set_world``.

A **changing world** is an object with ``world_at(t)`` (t: simulated seconds) returning such a
world: the robot asks it every ``world_period`` simulated seconds and, when it returns another
object than before, its sensors and motion use the new one (objects moved, doors closed); the
robot's planning map stays the first world's (it meets changes when it drives into them).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["WORLDS", "load_world", "check_world"]

# registered world name -> "module:function(seed) -> world"
WORLDS: dict[str, str] = {
    "indoor3d": "embodied_mem.envs.indoor3d.world:generate_apartment",
}


def _factory(name: str) -> Callable[[int], Any]:
    spec = WORLDS.get(name, name)
    if ":" not in spec:
        raise ValueError(f"world must be one of {sorted(WORLDS)} or 'package.module:function', got {name!r}")
    mod, _, fn = spec.partition(":")
    try:
        f = getattr(importlib.import_module(mod), fn)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"world {name!r}: cannot load {spec!r} ({exc})") from exc
    if not callable(f):
        raise ValueError(f"world {name!r}: {spec!r} is not callable")
    return f


def load_world(name: str = "indoor3d", seed: int = 0) -> Any:
    """The world ``name`` for ``seed`` (deterministic in the seed); a bad name raises ``ValueError``."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"world seed must be an int, got {type(seed).__name__}")
    world = _factory(name)(seed)
    check_world(world, name)
    return world


def check_world(world: Any, name: str = "world") -> Any:
    """``world`` itself when it has what the robot needs (a changing world: its ``world_at``), else ``ValueError``."""
    if callable(getattr(world, "world_at", None)):
        return world
    for attr in ("boxes", "mesh", "navigable", "nav_origin", "nav_resolution", "is_navigable", "nav_cell",
                 "nav_center"):
        if not hasattr(world, attr):
            raise ValueError(f"world {name!r} returned {type(world).__name__}, which lacks {attr!r}")
    return world
