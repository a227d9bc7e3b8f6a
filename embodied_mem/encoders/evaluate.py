"""Evaluating an encoder checkpoint: ``embodied-mem eval-encoder checkpoint=PATH [overrides]`` (Hydra).

Loads ``PATH`` (a ``checkpoint/`` directory written by ``train-encoder``), rebuilds its task and
memory layout from the checkpoint's own config, scores it on ``train.eval_samples`` fresh samples
drawn from ``seed`` (a generator apart from training's), and writes into the Hydra run directory:
``metrics.json`` (metric, chance level, settings) and ``learning_curve.png`` (from the
``history.json`` saved beside the checkpoint, when there is one).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["evaluate_checkpoint", "main"]

_EVAL_OFFSET = 7_777_777  # eval samples come from seed + this: never the training stream


def evaluate_checkpoint(path: str | Path, *, samples: int = 512, seed: int = 0, threads: int = 1) -> dict[str, Any]:
    """Metrics of the checkpoint at ``path`` on ``samples`` fresh samples of its own task."""
    from . import checkpoint
    from .tasks import make_task
    from .train import chance, evaluate_model, set_determinism

    set_determinism(seed, threads)
    model, cfg = checkpoint.load(path)
    task_cfg = dict(cfg.get("task") or {})
    name = task_cfg.pop("name", None)
    if name is None:
        raise ValueError(f"checkpoint {path} has no task in its config.json")
    task = make_task(name, **task_cfg)
    kind, budget = cfg["memory"]["kind"], int(cfg["memory"]["budget_slots"])
    batch = task.heldout().batch(np.random.default_rng(seed + _EVAL_OFFSET), int(samples), budget, kind,
                       model.config.chunk_size)
    metric = "accuracy" if not task.multilabel else "micro_f1"
    res = evaluate_model(model, task, batch)
    return {"checkpoint": str(path), "task": name, "memory": kind, "budget_slots": budget,
            "trajectory_length": task.steps, "samples": int(samples), "seed": int(seed), "metric": metric,
            **res, "chance": chance(task, batch)[metric]}


def main(argv: list[str] | None = None) -> int:
    """``embodied-mem eval-encoder checkpoint=PATH``: metrics.json + learning_curve.png in the run dir."""
    from ._hydra import run_hydra
    from .train import plot_history

    def job(cfg: Any, run_dir: Path) -> None:
        from ..hydra_cli import UsageError

        if not cfg.checkpoint:
            raise UsageError("eval-encoder needs checkpoint=PATH (a checkpoint/ directory written by train-encoder)")
        path = Path(str(cfg.checkpoint))
        if not path.is_dir() or not (path / "config.json").is_file():
            raise UsageError(f"checkpoint={path}: not a checkpoint directory (expected config.json in it, "
                             "as train-encoder writes into <run dir>/checkpoint)")
        metrics = evaluate_checkpoint(path, samples=int(cfg.train.eval_samples), seed=int(cfg.seed),
                                      threads=int(cfg.threads))
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
        hist = path.parent / "history.json"
        if hist.is_file():
            plot_history(json.loads(hist.read_text()), metrics["metric"], run_dir / "learning_curve.png",
                         f"{metrics['task']} {metrics['memory']} memory, {metrics['budget_slots']} slots")
        else:
            print(f"no history.json beside {path}: learning curve skipped")
        print(json.dumps(metrics, indent=2))
        print(f"run directory: {run_dir}")

    return run_hydra("train_encoder", argv, job, prog="embodied-mem eval-encoder", about=(
        "Evaluate a checkpoint written by train-encoder on fresh samples of its own task (task, memory\n"
        "kind and budget come from the checkpoint). Example: `embodied-mem eval-encoder\n"
        "checkpoint=runs/encoders/.../checkpoint train.eval_samples=1024 seed=1`."),
        help_keys=("checkpoint", "seed", "threads", "train.eval_samples"))
