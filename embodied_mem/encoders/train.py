"""Training the place-centric transformer: ``embodied-mem train-encoder [overrides]`` (Hydra).

Overrides (see ``configs/train_encoder.yaml``): ``encoder=tiny|small|base`` (model size),
``memory.kind=fifo|place``, ``memory.budget=0.5`` (a fraction of the trajectory length when
<= 1, else a number of slots), ``train.steps=1500``, ``seed=0``, ``task=room_ballet|crafter_recall``.

Deterministic for a seed: numpy generators and ``torch.manual_seed`` from ``seed``,
``torch.use_deterministic_algorithms(True)`` and a fixed thread count (``threads``). The run
directory receives ``checkpoint/`` (safetensors + JSON config), ``history.json``,
``metrics.json`` and ``learning_curve.png``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["fit", "FitResult", "set_determinism", "resolve_budget", "evaluate_model", "main", "DEFAULTS"]

DEFAULTS: dict[str, Any] = {
    "task": "room_ballet",
    "room_ballet": {"rows": 3, "cols": 3, "steps": 72, "move_prob": 0.125},
    "crafter_recall": {"steps": 64, "walks": 4, "walk_length": 500, "place_cell": 4},
    "encoder": {"d_model": 64, "n_heads": 4, "chunk_layers": 1, "chunk_size": 4, "top_k": 2,
                "place_embedding": "learned", "time_embedding": "sinusoidal", "features_dim": 64},
    "memory": {"kind": "place", "budget": 0.5},
    "train": {"steps": 1200, "batch_size": 64, "lr": 2e-3, "weight_decay": 0.0, "eval_every": 100,
              "eval_samples": 512, "progress": True},
    "seed": 0,
    "threads": 1,
}


@dataclass
class FitResult:
    model: Any
    task: Any
    budget: int
    history: list[dict[str, float]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)


def set_determinism(seed: int, threads: int = 1) -> None:
    """Seed torch, force deterministic kernels and fix the thread count (results depend on it)."""
    import torch

    torch.manual_seed(int(seed))
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(max(1, int(threads)))


def resolve_budget(budget: float, trajectory_length: int) -> int:
    """Memory slots from ``budget``: a fraction of the trajectory when <= 1, else a slot count."""
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not budget > 0:
        raise ValueError(f"memory.budget must be > 0 (a fraction <= 1 or a slot count), got {budget!r}")
    slots = round(budget * trajectory_length) if budget <= 1 else int(budget)
    return max(1, int(slots))


def _merge(base: dict[str, Any], over: dict[str, Any], path: str = "") -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if k not in base:
            raise ValueError(f"unknown train-encoder setting {path + k!r}; valid: {sorted(base)}")
        out[k] = _merge(base[k], v, f"{path}{k}.") if isinstance(base[k], dict) and isinstance(v, dict) else v
    return out


def evaluate_model(model: Any, task: Any, batch: dict[str, np.ndarray]) -> dict[str, float]:
    """Accuracy (single-label) or micro-F1 / exact match (multi-label) of ``model`` on a batch."""
    import torch

    from .model import to_tensors

    model.eval()
    with torch.no_grad():
        logits = model(to_tensors(batch))
        loss = float(model.loss(logits, torch.from_numpy(batch["target"])))
    model.train()
    if not task.multilabel:
        return {"loss": loss, "accuracy": float((logits.argmax(1).numpy() == batch["target"]).mean())}
    pred = logits.numpy() > 0
    y = batch["target"] > 0.5
    tp, fp, fn = (pred & y).sum(), (pred & ~y).sum(), (~pred & y).sum()
    f1 = 2 * tp / max(2 * tp + fp + fn, 1)
    return {"loss": loss, "micro_f1": float(f1), "exact_match": float((pred == y).all(1).mean())}


def chance(task: Any, batch: dict[str, np.ndarray]) -> dict[str, float]:
    """What a model without memory scores: uniform guess (single-label) or the label prior (multi-label)."""
    if not task.multilabel:
        return {"accuracy": 1.0 / task.n_classes}
    y = batch["target"] > 0.5
    pred = np.broadcast_to(y.mean(0) > 0.5, y.shape)
    tp, fp, fn = (pred & y).sum(), (pred & ~y).sum(), (~pred & y).sum()
    return {"micro_f1": float(2 * tp / max(2 * tp + fp + fn, 1)), "exact_match": float((pred == y).all(1).mean())}


def fit(settings: dict[str, Any] | None = None, out_dir: str | Path | None = None) -> FitResult:
    """Train an encoder on a task. ``settings`` overrides :data:`DEFAULTS` (unknown keys raise).

    Returns the model, the learning history (step, train loss, eval metric) and final metrics on a
    held-out set (drawn from a generator seeded apart from training). Writes a checkpoint and
    ``history.json`` / ``metrics.json`` into ``out_dir`` when given.
    """
    import torch
    from tqdm import tqdm

    from . import checkpoint
    from .model import EncoderConfig, PlaceRecallModel, to_tensors
    from .tasks import make_task

    s = _merge(DEFAULTS, settings or {})
    seed, tr = int(s["seed"]), s["train"]
    set_determinism(seed, s["threads"])
    task_kwargs = dict(s[s["task"]]) if s["task"] in s else {}
    if s["task"] == "crafter_recall":
        task_kwargs.setdefault("seed", seed)
    task = make_task(s["task"], **task_kwargs)
    budget = resolve_budget(s["memory"]["budget"], task.steps)
    kind = s["memory"]["kind"]
    enc = dict(s["encoder"])
    enc.update(n_classes=task.n_classes, multilabel=task.multilabel, n_places=task.n_places,
               max_time=max(task.steps, 8), position_scale=64.0)
    cfg = EncoderConfig.from_dict(enc)
    model = PlaceRecallModel(task.observation_space, cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=float(tr["lr"]), weight_decay=float(tr["weight_decay"]))
    steps = int(tr["steps"])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=float(tr["lr"]), total_steps=max(steps, 1),
                                                pct_start=0.1)
    rng = np.random.default_rng(seed)
    eval_batch = task.heldout().batch(np.random.default_rng(seed + 1_000_003), int(tr["eval_samples"]), budget, kind,
                            cfg.chunk_size)
    metric = "accuracy" if not task.multilabel else "micro_f1"
    history: list[dict[str, float]] = []
    t0 = time.perf_counter()
    bar = tqdm(range(1, steps + 1), desc=f"train {s['task']} {kind}@{budget}", disable=not tr["progress"],
               mininterval=1.0)
    running = None
    for step in bar:
        b = task.batch(rng, int(tr["batch_size"]), budget, kind, cfg.chunk_size)
        logits = model(to_tensors(b))
        loss = model.loss(logits, torch.from_numpy(b["target"]))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        lv = float(loss.detach())
        running = lv if running is None else 0.95 * running + 0.05 * lv
        if step % int(tr["eval_every"]) == 0 or step == steps:
            ev = evaluate_model(model, task, eval_batch)
            history.append({"step": step, "train_loss": running, "eval_loss": ev["loss"], metric: ev[metric]})
            bar.set_postfix(loss=f"{running:.3f}", **{metric: f"{ev[metric]:.3f}"})
    train_s = time.perf_counter() - t0
    final = evaluate_model(model, task, eval_batch)
    metrics = {"task": s["task"], "memory": kind, "budget_slots": budget, "trajectory_length": task.steps,
               "budget_fraction": budget / task.steps, "seed": seed, "train_steps": steps,
               "train_seconds": round(train_s, 2), "eval_samples": int(tr["eval_samples"]),
               "parameters": sum(p.numel() for p in model.parameters()), **final,
               "chance": chance(task, eval_batch)[metric], "metric": metric}
    result = FitResult(model, task, budget, history, metrics, s)
    if out_dir is not None:
        out = Path(out_dir)
        checkpoint.save(model, out / "checkpoint", {"task": {"name": s["task"], **task_kwargs},
                                                     "memory": {"kind": kind, "budget_slots": budget},
                                                     "seed": seed})
        (out / "history.json").write_text(json.dumps(history, indent=1))
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return result


def plot_history(history: list[dict[str, float]], metric: str, path: str | Path, title: str = "") -> Path:
    """Learning curve PNG: train/eval loss and the eval metric against training steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    steps = [h["step"] for h in history]
    # markers: a short run has one or two evaluations, which a bare line would not show at all
    mk = {"marker": "o", "ms": 4 if len(history) < 30 else 0}
    ax.plot(steps, [h["train_loss"] for h in history], label="train loss", **mk)
    ax.plot(steps, [h["eval_loss"] for h in history], label="eval loss", **mk)
    ax.set_xlabel("training step")
    ax.set_ylabel("loss")
    if len(history) < 3:
        ax.text(0.02, 0.04, f"{len(history)} evaluation(s): train longer or lower train.eval_every for a curve",
                transform=ax.transAxes, fontsize=7, color="#555555")
    ax2 = ax.twinx()
    ax2.plot(steps, [h[metric] for h in history], color="tab:green", label=f"eval {metric}", **mk)
    ax2.set_ylabel(metric)
    ax2.set_ylim(0, 1)
    lines = ax.get_lines() + ax2.get_lines()
    ax.legend(lines, [ln.get_label() for ln in lines], loc="center right", fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def _settings_from_cfg(cfg: Any) -> dict[str, Any]:
    from omegaconf import OmegaConf

    d = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    d.pop("hydra", None)
    return {k: v for k, v in d.items() if k in DEFAULTS}


def main(argv: list[str] | None = None) -> int:
    """``embodied-mem train-encoder [hydra overrides]``: train, save, evaluate, plot into the run dir."""
    from ._hydra import run_hydra

    def job(cfg: Any, run_dir: Path) -> None:
        res = fit(_settings_from_cfg(cfg), run_dir)
        plot_history(res.history, res.metrics["metric"], run_dir / "learning_curve.png",
                     f"{res.metrics['task']} {res.metrics['memory']} memory, {res.budget} slots, seed {res.metrics['seed']}")
        print(json.dumps(res.metrics, indent=2))
        print(f"run directory: {run_dir}")

    return run_hydra("train_encoder", argv, job, prog="embodied-mem train-encoder", about=(
        "Train the place-centric transformer on a memory task; writes checkpoint/, metrics.json and\n"
        "learning_curve.png into the run directory. Example: `embodied-mem train-encoder encoder=tiny\n"
        "memory.kind=fifo memory.budget=0.25 train.steps=800 seed=1` (needs torch: the [encoders] extra)."))
