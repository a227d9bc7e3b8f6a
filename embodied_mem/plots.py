"""Plots people would rather look at than read (matplotlib, Agg backend, PNG files).

``plot_memory_map`` draws spatial memory top-down in the world frame: the occupancy layer
(free / blocked cells), the topological places and their connections, the agent's trajectory and
the objects currently believed. x to the right, y up (grid worlds whose rows grow downwards can
pass ``invert_y=True``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["plot_memory_map", "plot_bars", "plot_fused_topdown", "pyplot"]


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_memory_map(memory: Any, path: str | Path, *, title: str | None = None, labels: Iterable[str] | None = None,
                    trajectory: bool = True, places: bool = True, invert_y: bool = False,
                    max_objects_per_label: int = 2000) -> Path:
    """Write a top-down PNG of ``memory.spatial`` to ``path`` and return the path."""
    plt = pyplot()
    import numpy as np

    sp = memory.spatial
    fig, ax = plt.subplots(figsize=(8, 8), dpi=110)
    grid, (ix0, iy0) = sp.occupancy_grid()
    cs = sp.config.cell_size
    if grid.size:
        from matplotlib.colors import ListedColormap

        cmap = ListedColormap(["#ffffff", "#d9ecd0", "#5a5a5a"])  # unknown, free, blocked
        extent = ((ix0 - 0.5) * cs, (ix0 + grid.shape[1] - 0.5) * cs, (iy0 - 0.5) * cs, (iy0 + grid.shape[0] - 0.5) * cs)
        ax.imshow(grid, cmap=cmap, vmin=0, vmax=2, origin="lower", extent=extent, interpolation="nearest", zorder=0)
    if places:
        pl = sp.places()
        pos = {p.id: p.position for p in pl}
        for p in pl:
            for q in sp.neighbours(p.id):
                if p.id < q and q in pos:
                    ax.plot([p.position[0], pos[q][0]], [p.position[1], pos[q][1]], color="#4c72b0", lw=0.6,
                            alpha=0.5, zorder=2)
        if pl:
            xy = np.array([p.position[:2] for p in pl])
            ax.scatter(xy[:, 0], xy[:, 1], s=14, c="#4c72b0", marker="s", label=f"places ({len(pl)})", zorder=3)
    if trajectory:
        traj = sp.trajectory()
        if traj:
            xy = np.array([[pose.x, pose.y] for _, pose in traj])
            ax.plot(xy[:, 0], xy[:, 1], color="#dd8452", lw=0.8, alpha=0.8, label="trajectory", zorder=4)
            ax.scatter([xy[0, 0]], [xy[0, 1]], c="green", s=40, marker="o", zorder=6, label="start")
            ax.scatter([xy[-1, 0]], [xy[-1, 1]], c="red", s=40, marker="X", zorder=6, label="end")
    wanted = list(labels) if labels is not None else sp.labels()
    cmap = plt.get_cmap("tab20")
    for i, label in enumerate(wanted):
        locs = sp.locate(label)[:max_objects_per_label]
        if not locs:
            continue
        xy = np.array([loc.position[:2] for loc in locs])
        ax.scatter(xy[:, 0], xy[:, 1], s=18, color=cmap(i % 20), label=f"{label} ({len(locs)})", zorder=5,
                   edgecolors="black", linewidths=0.3)
    ax.set_aspect("equal")
    if invert_y:
        ax.invert_yaxis()
    ax.set_xlabel("x (map units)")
    ax.set_ylabel("y (map units)")
    stats = sp.stats()
    ax.set_title(title or f"spatial memory: {stats['places']} places, {stats['current_beliefs']} objects, "
                          f"{stats['known_cells']} known cells")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_bars(groups: Mapping[str, Mapping[str, float]], path: str | Path, *, errors: Mapping[str, Mapping[str, float]]
              | None = None, title: str = "", ylabel: str = "", categories: Sequence[str] | None = None,
              rotate: int = 60) -> Path:
    """Grouped bar chart: one bar group per category, one colour per series in ``groups``."""
    plt = pyplot()
    import numpy as np

    names = list(groups)
    cats = list(categories) if categories is not None else sorted({c for g in groups.values() for c in g})
    n = max(1, len(names))
    width = 0.8 / n
    x = np.arange(len(cats))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(cats) * max(1, n / 2) + 2), 4.5), dpi=110)
    for i, name in enumerate(names):
        vals = [groups[name].get(c, 0.0) for c in cats]
        err = [errors[name].get(c, 0.0) for c in cats] if errors and name in errors else None
        ax.bar(x + (i - (n - 1) / 2) * width, vals, width, yerr=err, label=name, capsize=2 if err else 0)
    ax.set_xticks(x)
    ax.set_xticklabels(cats, rotation=rotate, ha="right" if rotate else "center", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_fused_topdown(points: Any, path: str | Path, *, memory: Any = None, title: str | None = None,
                       max_height: float = 2.0) -> Path:
    """Top-down scatter of fused surface points (memory frame, below ``max_height`` so ceilings do
    not hide the rooms), coloured by height; places and current object beliefs from ``memory``."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

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


_pyplot = pyplot  # old name, kept for code written against it before it became public
