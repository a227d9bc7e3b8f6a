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

__all__ = ["episode_metrics", "summarize", "plot", "MAP_FILE"]

MAP_FILE = "map3d.npz"  # written by the object-search agent beside memory.db ("points": fused surface)


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
    """``map.png`` (spatial memory: occupancy, places, objects, trajectory) and, when the agent left
    its fused 3D map beside the memory, ``fused_topdown.png`` (fused surface points coloured by
    height, with places and believed objects on top)."""
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
    fused = run_dir / MAP_FILE
    if fused.exists():
        with np.load(fused) as d:
            points = d["points"] if "points" in d else None
        if points is not None:
            out.append(plot_fused_topdown(points, run_dir / "fused_topdown.png", memory=memory))
            from embodied_mem.map_export import write_ply

            out.append(write_ply(points, run_dir / "fused.ply"))  # the fused surface for RViz, Open3D, MeshLab
    (run_dir / "object_search.json").write_text(json.dumps({"summary": dict(summary)}, default=str, indent=1))
    return out


def plot_fused_topdown(points: np.ndarray, path: str | Path, *, memory: Any = None, title: str | None = None,
                       max_height: float = 2.0) -> Path:
    """Top-down scatter of fused surface points (memory frame, below ``max_height`` so ceilings do
    not hide the rooms), coloured by height; places and current object beliefs from ``memory``."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    p = np.asarray(points, float).reshape(-1, 3)
    p = p[p[:, 2] < max_height]
    fig, ax = plt.subplots(figsize=(8, 7), dpi=110)
    if len(p):
        order = np.argsort(p[:, 2])
        sc = ax.scatter(p[order, 0], p[order, 1], c=p[order, 2], s=0.3, cmap="viridis", vmin=0.0, vmax=max_height,
                        zorder=1, rasterized=True)
        fig.colorbar(sc, ax=ax, label="height z (m)", shrink=0.7)
    if memory is not None:
        sp = memory.spatial
        pl = sp.places()
        if pl:
            xy = np.array([q.position[:2] for q in pl])
            ax.scatter(xy[:, 0], xy[:, 1], s=25, c="#4c72b0", marker="s", label=f"places ({len(pl)})", zorder=3)
        traj = sp.trajectory()
        if traj:
            xy = np.array([[q.x, q.y] for _, q in traj])
            ax.plot(xy[:, 0], xy[:, 1], color="#dd8452", lw=0.6, alpha=0.7, label="trajectory", zorder=2)
        for label in sp.labels():
            for loc in sp.locate(label):
                ax.scatter([loc.position[0]], [loc.position[1]], s=30, c="red", edgecolors="black", linewidths=0.4,
                           zorder=4)
                ax.annotate(label, loc.position[:2], fontsize=6, xytext=(3, 3), textcoords="offset points", zorder=5)
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_title(title or f"fused geometry (top-down, {len(p)} surface points below {max_height} m)")
    if memory is not None:
        ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
