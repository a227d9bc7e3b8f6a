"""Runner hooks for the changing household (``configs/env/household.yaml``): per-task metrics,
summary (fetch tasks), and plots: ``search_paths.png`` (the robot's path per fetch task over the
floor plan) and ``belief_timeline.png`` (where memory believed one object to be over time, against
the truth from the simulator's log). Light to import (matplotlib only when drawing).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["episode_metrics", "summarize", "plot"]


def episode_metrics(info: Mapping[str, Any]) -> dict[str, Any]:
    """From the task's last info: ``task``, ``goal``, ``success``, ``spl``, ``steps``, path and truth excerpts."""
    keys = ("task", "goal", "success", "spl", "steps", "path_length", "shortest_path", "t_start", "t_end", "path",
            "path_xy", "truth_events", "home")
    return {k: info.get(k) for k in keys}


def summarize(episodes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Fetch tasks: ``success_rate``, ``spl`` (with standard errors), ``steps``; chores: their count and success."""
    fetch = [e for e in episodes if e.get("task") == "fetch"]
    chores = [e for e in episodes if e.get("task") == "chore"]
    out: dict[str, Any] = {"n_fetch": len(fetch), "n_chores": len(chores),
                           "chore_success": float(np.mean([bool(e.get("success")) for e in chores])) if chores else None}
    if not fetch:
        return {**out, "success_rate": None, "spl": None}
    s = np.array([float(bool(e.get("success"))) for e in fetch])
    spl = np.array([float(e.get("spl") or 0.0) for e in fetch])
    n = len(fetch)

    def se(a: np.ndarray) -> float:
        return float(a.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0

    return {**out, "success_rate": float(s.mean()), "success_rate_se": se(s), "spl": float(spl.mean()),
            "spl_se": se(spl), "steps": float(np.mean([e.get("steps") or 0 for e in fetch]))}


def _draw_plan(ax: Any, home: Mapping[str, Any]) -> None:
    from matplotlib.patches import Rectangle

    for name, (x0, y0, x1, y1) in home["rooms"].items():
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=0.8, color="0.5"))
        ax.text((x0 + x1) / 2, y1 - 0.25, name, ha="center", va="top", fontsize=5, color="0.4")
    xy = np.array(list(home["places"].values()))
    ax.plot(xy[:, 0], xy[:, 1], "s", ms=3, color="tab:brown")
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def plot(run_dir: str | Path, memory: Any, episodes: Sequence[Mapping[str, Any]], summary: Mapping[str, Any]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    out: list[Path] = []
    fetch = [e for e in episodes if e.get("task") == "fetch" and e.get("home")]
    if fetch:
        home = fetch[-1]["home"]
        shown = fetch[-12:]
        cols = 4
        rows = math.ceil(len(shown) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), squeeze=False)
        for ax in axes.ravel():
            ax.axis("off")
        for ax, e in zip(axes.ravel(), shown):
            ax.axis("on")
            _draw_plan(ax, home)
            p = np.array(e["path_xy"])
            ax.plot(p[:, 0], p[:, 1], "-o", ms=3, lw=1.2, color="tab:green" if e["success"] else "tab:red")
            ax.plot(p[0, 0], p[0, 1], "k^", ms=5)
            hh = (e["t_start"] % 86400) / 3600
            ax.set_title(f"{e['goal']} day {int(e['t_start'] // 86400)} {int(hh):02d}:{int(hh % 1 * 60):02d}\n"
                         f"SPL {e['spl']:.2f}, {e['steps']} steps", fontsize=7)
        sr, spl = summary.get("success_rate"), summary.get("spl")
        fig.suptitle(f"fetch tasks: places visited in order (start ▲, straight lines between stops; green: found); success {sr:.0%}, SPL {spl:.2f}"
                     if sr is not None else "fetch tasks: search paths", fontsize=9)
        fig.tight_layout()
        path = run_dir / "search_paths.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        out.append(path)
        out.append(_timeline(run_dir, memory, episodes, fetch, home, plt))
    (run_dir / "household.json").write_text(json.dumps({"summary": dict(summary)}, default=str, indent=1))
    return out


def _timeline(run_dir: Path, memory: Any, episodes: Sequence[Mapping[str, Any]], fetch: list, home: Mapping[str, Any],
              plt: Any) -> Path:
    obj = Counter(e["goal"] for e in fetch).most_common(1)[0][0]
    names = sorted(home["places"])
    row = {n: i for i, n in enumerate(names)}
    away = len(names)
    moves = sorted((ev["t"], ev["to"]) for e in episodes for ev in (e.get("truth_events") or [])
                   if ev.get("kind") == "move" and ev.get("what") == obj)
    t0 = min(e["t_start"] for e in episodes if e.get("t_start") is not None)
    t1 = max(e["t_end"] for e in episodes if e.get("t_end") is not None)
    fig, ax = plt.subplots(figsize=(11, 4))
    if moves:
        ts = [m[0] for m in moves] + [t1]
        ys = [row.get(m[1], away) if m[1] is not None else away for m in moves]
        ax.step(np.array(ts[:-1]) / 3600, ys, where="post", color="k", lw=2, label="truth (simulator log)")
        ax.hlines(ys[-1], ts[-2] / 3600, t1 / 3600, color="k", lw=2)
    sp = getattr(memory, "spatial", None) if memory is not None else None
    if sp is not None and getattr(sp, "enabled", False):
        xy = {n: tuple(v) for n, v in home["places"].items()}
        grid = np.arange(t0, t1, 300.0)
        bel = []
        for t in grid:
            locs = sp.locate(obj, at=float(t))
            if not locs:
                bel.append(np.nan)
                continue
            x, y = locs[0].position[:2]
            best = min(xy, key=lambda n: math.hypot(xy[n][0] - x, xy[n][1] - y))
            bel.append(row[best])
        ax.step(grid / 3600, np.array(bel, float) + 0.12, where="post", color="tab:blue", lw=1.2,
                label="memory's belief (spatial.locate(at=t))")
    for e in fetch:
        if e["goal"] == obj:
            ax.axvline(e["t_start"] / 3600, color="tab:green" if e["success"] else "tab:red", lw=0.6, alpha=0.6)
    ax.set_yticks(range(len(names) + 1))
    ax.set_yticklabels(names + ["(away)"], fontsize=6)
    ax.set_xlabel("simulated time (hours since day 0, 00:00); vertical lines: fetch tasks for it")
    ax.set_title(f"where is the {obj}? belief over time against the truth", fontsize=9)
    ax.set_xlim(t0 / 3600, t1 / 3600)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    path = run_dir / "belief_timeline.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
