"""Shared Hydra entry for ``train-encoder`` / ``eval-encoder`` (configs from ``pkg://embodied_mem.configs``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def run_hydra(config_name: str, argv: list[str] | None, job: Callable[[Any, Path], None]) -> int:
    """Run ``job(cfg, run_dir)`` under ``hydra.main`` with ``argv`` as overrides; the config is read-only."""
    import hydra
    from omegaconf import OmegaConf

    def _task(cfg: Any) -> None:
        from hydra.core.hydra_config import HydraConfig

        OmegaConf.set_readonly(cfg, True)
        job(cfg, Path(HydraConfig.get().runtime.output_dir))

    app = hydra.main(config_path="pkg://embodied_mem.configs", config_name=config_name, version_base="1.3")(_task)
    old = sys.argv
    sys.argv = [f"embodied-mem-{config_name}", *(sys.argv[1:] if argv is None else argv)]
    try:
        app()
    finally:
        sys.argv = old
    return 0
