"""Planner backends by name (``agent.planner.backend``): the seam for bringing your own planner.

A backend is a factory ``(config, kit, desc, fallback) -> Planner``: ``config`` the run's
``AgentConfig``, ``kit`` the world's ``WorldKit`` (its ``skills(desc)`` give the vocabulary of skill
calls), ``fallback`` the world's symbolic planner, which a backend uses whenever it cannot answer
(invalid output, timeout: the run goes on). ``symbolic`` returns the fallback itself. Factories may
be registered as ``"module:attr"`` strings, imported only when chosen (an LLM client is heavy)::

    register_planner("llm", "embodied_mem.agent.llm:make_llm_planner")
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import AgentConfig
    from .protocols import EnvDescription, Planner, WorldKit

__all__ = ["PlannerFactory", "register_planner", "make_planner", "backends"]

PlannerFactory = Callable[["AgentConfig", "WorldKit", "EnvDescription", "Planner"], "Planner"]


def _symbolic(config: AgentConfig, kit: WorldKit, desc: EnvDescription, fallback: Planner) -> Planner:
    return fallback


_BACKENDS: dict[str, PlannerFactory | str] = {"symbolic": _symbolic,
                                              "llm": "embodied_mem.agent.llm.planner:make_llm_planner"}


def register_planner(name: str, factory: PlannerFactory | str) -> None:
    """Register backend ``name`` (a factory, or ``"module:attr"`` naming one). Re-registering replaces."""
    if not name or not isinstance(name, str):
        raise ValueError(f"planner backend name must be a non-empty string, got {name!r}")
    if isinstance(factory, str) and ":" not in factory:
        raise ValueError(f"planner backend {name!r}: expected 'package.module:attr', got {factory!r}")
    _BACKENDS[name] = factory


def backends() -> list[str]:
    """Names of the registered backends."""
    return sorted(_BACKENDS)


def make_planner(config: AgentConfig, kit: WorldKit, desc: EnvDescription) -> Planner:
    """The planner ``config.planner.backend`` names, given the world's symbolic planner as fallback.

    Raises ``ValueError`` naming the valid backends for an unknown name.
    """
    name = config.planner.backend
    try:
        factory = _BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown agent.planner.backend {name!r}; registered backends: {backends()}") from None
    if isinstance(factory, str):
        module, _, attr = factory.partition(":")
        factory = getattr(importlib.import_module(module), attr)
    return factory(config, kit, desc, kit.symbolic_planner(config, desc))
