"""Runner hooks for object search (indoor3d and habitat): per-episode metrics, summary, plots.

Light to import (no gymnasium, open3d or matplotlib until a plot is drawn).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["episode_metrics", "summarize", "plot"]


def episode_metrics(info: Mapping[str, Any]) -> dict[str, Any]:
    """From the final step's info: ``success``, ``spl``, ``path_length``, ``shortest_path``, ``goal``."""
    return {
        "goal": info.get("goal"),
        "success": bool(info.get("success", False)),
        "spl": float(info.get("spl", 0.0)),
        "path_length": float(info.get("path_length", math.nan)),
        "shortest_path": float(info.get("shortest_path", math.nan)),
    }


def summarize(episodes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``success_rate`` and mean ``spl`` (with their standard errors) over the episodes."""
    if not episodes:
        return {"success_rate": None, "spl": None, "n_episodes": 0}
    s = np.array([float(e.get("success", False)) for e in episodes])
    spl = np.array([float(e.get("spl", 0.0)) for e in episodes])
    n = len(episodes)

    def se(a: np.ndarray) -> float:
        return float(a.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0

    return {"success_rate": float(s.mean()), "success_rate_se": se(s), "spl": float(spl.mean()), "spl_se": se(spl),
            "n_episodes": n}


def plot(run_dir: str | Path, memory: Any, episodes: Sequence[Mapping[str, Any]], summary: Mapping[str, Any]) -> list[Path]:
    """``map.png``: spatial memory (occupancy, places, objects, trajectory), drawn through memory's
    public API. (The fused 3D surface, ``fused_topdown.png``, is the agent's own artefact: the
    runner asks the agent for it, see ``Agent.artefacts``.)"""
    from embodied_mem.plots import plot_memory_map

    run_dir = Path(run_dir)
    out: list[Path] = []
    if memory is not None:
        sr, spl = summary.get("success_rate"), summary.get("spl")
        title = "object search: spatial memory"
        if sr is not None:
            title += f" (success {sr:.0%}, SPL {spl:.2f})"
        n = len(episodes)
        note = f"{n} episodes in the same apartment, one memory (each episode's walk drawn apart)" if n > 1 else None
        out.append(plot_memory_map(memory, run_dir / "map.png", title=title, units="m", frame="world frame",
                                   note=note))
    (run_dir / "object_search.json").write_text(json.dumps({"summary": dict(summary)}, default=str, indent=1))
    return out
