"""Shared Hydra entry for ``train-encoder`` / ``eval-encoder`` (configs from ``pkg://embodied_mem.configs``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def run_hydra(config_name: str, argv: list[str] | None, job: Callable[[Any, Path], None], *, prog: str,
              about: str = "", help_keys: tuple[str, ...] | None = None) -> int:
    """Run ``job(cfg, run_dir)`` under Hydra with ``argv`` as overrides; the config is read-only.

    Returns the exit status: 2 with one line for a user error (bad key, value or choice, missing torch).
    """
    from omegaconf import OmegaConf

    from ..hydra_cli import run_app
    from .schema import register

    def _task(cfg: Any) -> None:
        from hydra.core.hydra_config import HydraConfig

        OmegaConf.set_readonly(cfg, True)
        job(cfg, Path(HydraConfig.get().runtime.output_dir))

    register()
    return run_app(_task, config_name, list(sys.argv[1:] if argv is None else argv), prog=prog, about=about,
                   help_keys=help_keys)
