"""Plots people would rather look at than read (matplotlib, Agg backend, PNG files).

``plot_memory_map`` draws spatial memory top-down in the memory's frame (named on the axes with
its units: metres for robots and indoor3d, cells in Crafter, blocks in Minecraft): the occupancy
layer (free / blocked cells), the topological places and their connections, the agent's walks
(a reset or teleport starts a new line, never one drawn through walls) and the objects currently
believed, each label with its own colour and marker. x to the right, y up (grid worlds whose rows
grow downwards pass ``invert_y=True``). ``plot_bars`` draws grouped bars with error bars clipped
to the axis range and the legend outside the bars.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["plot_memory_map", "plot_bars", "plot_fused_topdown", "pyplot", "OBJECT_STYLES"]

# Distinct colours (tab10 without its grey, which reads as a blocked cell) times marker shapes: the
# first 9 labels differ in colour, the next ones in shape as well.
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf")
_MARKERS = ("o", "^", "D", "v", "P", "*", "h", "<", ">", "p")
OBJECT_STYLES = [(c, m) for m in _MARKERS for c in _COLOURS]
FREE_COLOUR, BLOCKED_COLOUR = "#d9ecd0", "#5a5a5a"
PLACE_COLOUR, TRAJECTORY_COLOUR = "#253494", "#444444"


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


_pyplot = pyplot  # older name


def plot_memory_map(memory: Any, path: str | Path, *, title: str | None = None, labels: Iterable[str] | None = None,
                    trajectory: bool = True, places: bool = True, invert_y: bool = False,
                    max_objects_per_label: int = 2000, units: str = "map units", frame: str = "memory frame",
                    note: str | None = None) -> Path:
    """Write a top-down PNG of ``memory.spatial`` to ``path`` and return the path.

    ``units`` and ``frame`` name the axes (``"m"``, ``"map frame"``); ``note`` is a second title
    line (say, which of several episodes this map is).
    """
    plt = pyplot()
    import numpy as np
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    sp = memory.spatial
    fig, ax = plt.subplots(figsize=(8, 8), dpi=110)
    grid, extent = sp.occupancy_image(max_side=2048)  # bounded, however far apart the known cells are
    extra: list[Any] = []  # legend entries for what has no artist label of its own
    if grid.size:
        from matplotlib.colors import ListedColormap

        cmap = ListedColormap(["#ffffff", FREE_COLOUR, BLOCKED_COLOUR])  # unknown, free, blocked
        ax.imshow(grid, cmap=cmap, vmin=0, vmax=2, origin="lower", extent=extent, interpolation="nearest", zorder=0)
        n_free, n_blocked = int((grid == 1).sum()), int((grid == 2).sum())
        if n_free:
            extra.append(Patch(facecolor=FREE_COLOUR, edgecolor="#999999", label=f"free cells ({n_free})"))
        if n_blocked:
            extra.append(Patch(facecolor=BLOCKED_COLOUR, label=f"blocked cells ({n_blocked})"))
    if places:
        pl = sp.places()
        pos = {p.id: p.position for p in pl}
        n_edges = 0
        for p in pl:
            for q in sp.neighbours(p.id):
                if p.id < q and q in pos:
                    n_edges += 1
                    ax.plot([p.position[0], pos[q][0]], [p.position[1], pos[q][1]], color=PLACE_COLOUR, lw=0.6,
                            alpha=0.45, ls="--", zorder=2)
        if n_edges:
            extra.append(Line2D([], [], color=PLACE_COLOUR, lw=0.8, ls="--", alpha=0.6,
                                label=f"place connections ({n_edges}, walked between)"))
        if pl:
            xy = np.array([p.position[:2] for p in pl])
            ax.scatter(xy[:, 0], xy[:, 1], s=22, facecolors="none", edgecolors=PLACE_COLOUR, marker="s", lw=1.0,
                       label=f"places ({len(pl)})", zorder=3)
    if trajectory:
        walks = sp.walks() if hasattr(sp, "walks") else [sp.trajectory()]
        walks = [w for w in walks if w]
        for i, walk in enumerate(walks):
            xy = np.array([[pose.x, pose.y] for _, pose in walk])
            label = None
            if i == 0:
                label = "trajectory" + (f" ({len(walks)} walks; resets not joined)" if len(walks) > 1 else "")
            ax.plot(xy[:, 0], xy[:, 1], color=TRAJECTORY_COLOUR, lw=0.8, alpha=0.75, label=label, zorder=4)
        if walks:
            first, last = walks[0][0][1], walks[-1][-1][1]
            ax.scatter([first.x], [first.y], c="#00a651", s=70, marker="^", edgecolors="black", lw=0.5, zorder=7,
                       label="start")
            ax.scatter([last.x], [last.y], c="#e4002b", s=70, marker="X", edgecolors="black", lw=0.5, zorder=7,
                       label="end")
    wanted = list(labels) if labels is not None else sp.labels()
    for i, label in enumerate(wanted):
        locs = sp.locate(label)[:max_objects_per_label]
        if not locs:
            continue
        colour, marker = OBJECT_STYLES[i % len(OBJECT_STYLES)]
        xy = np.array([loc.position[:2] for loc in locs])
        ax.scatter(xy[:, 0], xy[:, 1], s=22, color=colour, marker=marker, label=f"{label} ({len(locs)} now)", zorder=5,
                   edgecolors="black", linewidths=0.3)
    ax.set_aspect("equal")
    if invert_y:
        ax.invert_yaxis()
    ax.set_xlabel(f"x ({units}, {frame})")
    ax.set_ylabel(f"y ({units}, {frame})" + (", drawn downwards" if invert_y else ""))
    stats = sp.stats()
    head = title or f"spatial memory: {stats['places']} places, {stats['current_beliefs']} objects"
    ax.set_title(head + (f"\n{note}" if note else ""), fontsize=10)
    handles, names = ax.get_legend_handles_labels()
    handles, names = extra + handles, [h.get_label() for h in extra] + names
    if handles:
        ax.legend(handles, names, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")  # the legend beside the axes stays in the picture
    plt.close(fig)
    return path


def plot_bars(groups: Mapping[str, Mapping[str, float]], path: str | Path, *, errors: Mapping[str, Mapping[str, float]]
              | None = None, title: str = "", ylabel: str = "", categories: Sequence[str] | None = None,
              rotate: int = 60, ylim: tuple[float, float | None] = (0.0, None), note: str | None = None) -> Path:
    """Grouped bar chart: one bar group per category, one colour per series in ``groups``.

    Error bars are clipped to ``ylim`` (a rate's spread never drawn below 0 or above 100); the
    legend sits outside the axes so it covers no bar; ``note`` is a caption under the title.
    """
    plt = pyplot()
    import numpy as np

    names = list(groups)
    cats = list(categories) if categories is not None else sorted({c for g in groups.values() for c in g})
    n = max(1, len(names))
    width = 0.8 / n
    x = np.arange(len(cats))
    lo, hi = ylim
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(cats) * max(1, n / 2) + 3.5), 4.8), dpi=110)
    for i, name in enumerate(names):
        vals = np.array([groups[name].get(c, 0.0) for c in cats], float)
        yerr = None
        if errors and name in errors:
            err = np.array([errors[name].get(c, 0.0) for c in cats], float)
            below = np.minimum(err, vals - lo) if lo is not None else err
            above = np.minimum(err, hi - vals) if hi is not None else err
            yerr = np.vstack([np.maximum(below, 0.0), np.maximum(above, 0.0)])
        ax.bar(x + (i - (n - 1) / 2) * width, vals, width, yerr=yerr, label=name, capsize=2 if yerr is not None else 0,
               color=_COLOURS[i % len(_COLOURS)])
    ax.set_xticks(x)
    ax.set_xticklabels(cats, rotation=rotate, ha="right" if rotate else "center", fontsize=8)
    ax.set_ylabel(ylabel)
    if lo is not None or hi is not None:
        ax.set_ylim(bottom=lo, top=hi)
    ax.set_title(title + (f"\n{note}" if note else ""), fontsize=10)
    if names:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")  # the legend beside the axes stays in the picture
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
