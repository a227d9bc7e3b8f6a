"""3D memory benchmark on the embedded indoor world: fusion rate, and object search with and without memory.

Run: ``.venv/bin/python benchmarks/indoor3d.py`` (about 10-20 minutes on a shared 2-core CPU) or
``--apartments 1 --searches 2`` for a quick look. Results go to
``benchmarks/results/indoor3d.{md,json,png}``.

**Fusion rate** (one thread: ``OMP_NUM_THREADS=1`` and open3d ray casting with ``nthreads=1``,
set before numpy/open3d load). Frames come from a walk through apartment 0 (turning on the spot
at waypoints) rendered at 320×240 and 640×480. Measured in the same run, frame by frame:
the raw render (depth + semantic ids, what a simulator hands over; and with flat-shaded RGB),
TSDF fusion alone (``TSDFMap.integrate``: open3d ``VoxelBlockGrid``, 5 cm voxels, depth + colour),
and the full 3D map update (``Map3D.add_frame``: TSDF + semantic back-projection into object
instances + navigable-floor grid). Rates are frames per second of wall time.

**Object search** ("go to the X you saw earlier"): ``--apartments`` procedurally generated
apartments (scene seeds 0, 1, ...), each visited by both agents in the same sequence: one *tour*
episode (the goal category is absent, so the agent explores for up to 500 steps; not scored), then
``--searches`` scored episodes, each with a random start and goal category (drawn from the episode
seed, identical for both agents; start at least 4 m geodesic from the goal). Success = ``stop``
within 1 m of a goal object; SPL = success × shortest / max(shortest, travelled) (Anderson et al.
2018). Both agents are the shared ``AgentLoop`` with the object-search skills
(``embodied_mem.agent.worlds.objectnav``). *With memory* (``robomemory``, critic on): the agent
writes every frame into one ``Memory`` per apartment and keeps its 3D map across episodes; it goes
to remembered goals. *Without memory* (``reactive``: no memory, no critic): the same skills with a
map of the current episode only (frontier exploration, then the goal once seen). Mean ± standard
error.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy / open3d load: one core for the fusion rate
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

RESULTS = Path(__file__).resolve().parent / "results"


def walk_poses(apt: Any, n: int, seed: int = 0) -> list[tuple[float, float, float]]:
    """``n`` camera poses (x, y, yaw): turning on the spot at navigable waypoints."""
    rng = np.random.default_rng(seed)
    cells = np.argwhere(apt.navigable)
    out = []
    while len(out) < n:
        r, c = cells[int(rng.integers(len(cells)))]
        x, y = apt.nav_center(int(r), int(c))
        for k in range(12):
            out.append((x, y, k * math.pi / 6))
    return out[:n]


def fusion_rates(frames: int = 60) -> dict[str, Any]:
    from embodied_mem.envs.indoor3d.render import Renderer
    from embodied_mem.envs.indoor3d.world import generate_apartment
    from tqdm import tqdm

    from embodied_mem.mapping3d.frames import Intrinsics, camera_pose
    from embodied_mem.mapping3d.fusion import Map3D, TSDFMap
    from embodied_mem.percept import Pose

    apt = generate_apartment(0)
    poses = walk_poses(apt, frames)
    out: dict[str, Any] = {}
    for W, H in ((320, 240), (640, 480)):
        k = Intrinsics(W, H, math.radians(90))
        r = Renderer(apt, k, nthreads=1)
        imgs = []
        t_depth = t_rgb = 0.0
        for x, y, yaw in tqdm(poses, desc=f"render {W}x{H}", unit="frame", leave=False):
            T = camera_pose(x, y, 1.25, yaw)
            t0 = time.perf_counter()
            r.render(T, rgb=False)
            t1 = time.perf_counter()
            imgs.append(r.render(T, rgb=True))
            t2 = time.perf_counter()
            t_depth += t1 - t0
            t_rgb += t2 - t1
        tsdf = TSDFMap(0.05, max_depth=6.0)
        t_fuse = 0.0
        for (x, y, yaw), img in tqdm(list(zip(poses, imgs)), desc=f"fuse {W}x{H}", unit="frame", leave=False):
            T = camera_pose(x, y, 1.25, yaw)
            t0 = time.perf_counter()
            tsdf.integrate(img["depth"], k, T, img["rgb"])
            t_fuse += time.perf_counter() - t0
        m = Map3D(k, sensor_height=1.25, labels=apt.categories(), fuse=True)
        t_map = 0.0
        for (x, y, yaw), img in tqdm(list(zip(poses, imgs)), desc=f"map3d {W}x{H}", unit="frame", leave=False):
            t0 = time.perf_counter()
            m.add_frame(img["depth"], img["semantic"], Pose(x, y, 0.0, yaw), img["rgb"])
            t_map += time.perf_counter() - t0
        n = len(poses)
        out[f"{W}x{H}"] = {
            "frames": n,
            "render_depth_semantic_fps": n / t_depth,
            "render_with_rgb_fps": n / t_rgb,
            "tsdf_fusion_fps": n / t_fuse,
            "map3d_update_fps": n / t_map,
            "fusion_to_render_ratio": (n / t_fuse) / (n / t_depth),
            "surface_points": int(len(tsdf.surface_points())),
            "objects_found": len(m.objects),
        }
    return out


def run_search(apartments: int, searches: int, seed: int, max_steps: int) -> dict[str, Any]:
    from embodied_mem.envs.indoor3d.env import Indoor3DEnv
    from tqdm import tqdm

    from embodied_mem import Memory
    from embodied_mem.agent.factory import make_reactive, make_robomemory

    episodes: list[dict[str, Any]] = []
    total = apartments * (searches + 1) * 2
    bar = tqdm(total=total, desc="object search", unit="episode")
    for a in range(apartments):
        env = Indoor3DEnv(scene_seed=a, max_steps=max_steps)
        for name, maker in (("with memory", make_robomemory), ("without memory", make_reactive)):
            agent = maker({"objectnav": {"fuse": False}}, env, seed=seed)
            mem = Memory() if agent.uses_memory else None
            for i in range(searches + 1):
                ep_seed = 1000 * seed + 100 * a + i
                agent.reset(mem, seed=ep_seed)
                obs, info = env.reset(seed=ep_seed, options={"tour": True} if i == 0 else None)
                t0 = time.perf_counter()
                steps = 0
                while True:
                    obs, _, term, trunc, info = env.step(agent.act(obs, info))
                    steps += 1
                    if term or trunc:
                        break
                dt = time.perf_counter() - t0
                if i > 0:
                    episodes.append({"agent": name, "apartment": a, "episode": i, "goal": info["goal"],
                                     "success": bool(info["success"]), "spl": float(info["spl"]),
                                     "steps": steps, "path_length": info["path_length"],
                                     "shortest_path": info["shortest_path"], "ms_per_step": 1e3 * dt / steps})
                bar.update(1)
                bar.set_postfix(apartment=a, agent=name)
    bar.close()
    summary = {}
    for name in ("with memory", "without memory"):
        eps = [e for e in episodes if e["agent"] == name]
        s = np.array([e["success"] for e in eps], float)
        spl = np.array([e["spl"] for e in eps], float)
        n = len(eps)
        summary[name] = {"episodes": n, "success": float(s.mean()), "success_se": float(s.std(ddof=1) / math.sqrt(n)),
                         "spl": float(spl.mean()), "spl_se": float(spl.std(ddof=1) / math.sqrt(n)),
                         "mean_steps": float(np.mean([e["steps"] for e in eps])),
                         "ms_per_step": float(np.mean([e["ms_per_step"] for e in eps]))}
    with_, without = summary["with memory"]["spl"], summary["without memory"]["spl"]
    summary["spl_ratio"] = with_ / without if without > 0 else math.inf
    return {"summary": summary, "episodes": episodes}


def write(results: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "indoor3d.json").write_text(json.dumps(results, indent=1))
    fr, se = results["fusion"], results["search"]["summary"]
    lines = ["# Indoor 3D memory benchmark (embedded open3d world)", "",
             f"Run: `{results['command']}` on {results['machine']}, {results['date']}.", "",
             "## Fusion rate (one CPU thread, same run)", "",
             "| resolution | raw render (depth+semantic) | render with RGB | TSDF fusion | full 3D map update | fusion / raw render |",
             "|---|---|---|---|---|---|"]
    for res, d in fr.items():
        lines.append(f"| {res} | {d['render_depth_semantic_fps']:.0f} fps | {d['render_with_rgb_fps']:.0f} fps | "
                     f"**{d['tsdf_fusion_fps']:.0f} fps** | {d['map3d_update_fps']:.0f} fps | "
                     f"{d['fusion_to_render_ratio']:.2f} |")
    n_ap, n_s = results["apartments"], results["searches"]
    lines += ["", f"Target: TSDF fusion ≥ 30 frames/s at 320×240 on one core → "
              f"{'met' if fr['320x240']['tsdf_fusion_fps'] >= 30 else 'NOT met'} "
              f"({fr['320x240']['tsdf_fusion_fps']:.0f} fps).", "",
              f"## Object search ({n_ap} apartments × {n_s} scored searches after one unscored tour; "
              "mean ± s.e.)", "",
              "| agent | episodes | success | SPL | mean steps | agent+env ms/step |", "|---|---|---|---|---|---|"]
    for name in ("with memory", "without memory"):
        d = se[name]
        lines.append(f"| {name} | {d['episodes']} | {d['success']:.0%} ± {d['success_se']:.0%} | "
                     f"{d['spl']:.3f} ± {d['spl_se']:.3f} | {d['mean_steps']:.0f} | {d['ms_per_step']:.0f} |")
    ratio = se["spl_ratio"]
    lines += ["", f"SPL ratio with/without memory: **{ratio:.2f}×** (target ≥ 2×: {'met' if ratio >= 2 else 'NOT met'}).",
              "", "Protocol and definitions: see the docstring of `benchmarks/indoor3d.py`.", ""]
    (RESULTS / "indoor3d.md").write_text("\n".join(lines))
    plot(results, RESULTS / "indoor3d.png")


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fr, se = results["fusion"], results["search"]["summary"]
    fig, ax = plt.subplots(1, 2, figsize=(12, 4.5), dpi=110)
    res = list(fr)
    kinds = [("render_depth_semantic_fps", "raw render"), ("tsdf_fusion_fps", "TSDF fusion"),
             ("map3d_update_fps", "3D map update")]
    x = np.arange(len(res))
    for i, (k, lab) in enumerate(kinds):
        ax[0].bar(x + (i - 1) * 0.27, [fr[r][k] for r in res], 0.27, label=lab)
    ax[0].axhline(30, color="red", ls="--", lw=1, label="target 30 fps")
    ax[0].set_xticks(x)
    ax[0].set_xticklabels(res)
    ax[0].set_ylabel("frames / s (one thread)")
    ax[0].set_yscale("log")
    ax[0].set_title("fusion rate beside the raw render rate")
    ax[0].legend(fontsize=8)
    names = ["with memory", "without memory"]
    for i, (k, lab) in enumerate((("success", "success"), ("spl", "SPL"))):
        ax[1].bar(np.arange(2) + (i - 0.5) * 0.38, [se[n][k] for n in names], 0.38,
                  yerr=[se[n][f"{k}_se"] for n in names], capsize=3, label=lab)
    ax[1].set_xticks(np.arange(2))
    ax[1].set_xticklabels(names)
    ax[1].set_ylim(0, 1.05)
    ax[1].set_title(f"object search ({se['with memory']['episodes']} episodes each; SPL ratio "
                    f"{se['spl_ratio']:.2f}×)")
    ax[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--apartments", type=int, default=4)
    ap.add_argument("--searches", type=int, default=6, help="scored search episodes per apartment (after a tour)")
    ap.add_argument("--frames", type=int, default=60, help="frames per resolution for the fusion rate")
    ap.add_argument("--max-steps", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-search", action="store_true")
    args = ap.parse_args(argv)
    if args.apartments < 1 or args.searches < 1 or args.frames < 1:
        ap.error("--apartments, --searches and --frames must be >= 1")
    fusion = fusion_rates(args.frames)
    print(json.dumps(fusion, indent=1))
    search = {"summary": {}, "episodes": []} if args.skip_search else run_search(args.apartments, args.searches,
                                                                                   args.seed, args.max_steps)
    print(json.dumps(search["summary"], indent=1))
    results = {"command": "python benchmarks/indoor3d.py " + " ".join(argv if argv is not None else sys.argv[1:]),
               "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared), Python {platform.python_version()}",
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "apartments": args.apartments,
               "searches": args.searches, "fusion": fusion, "search": search}
    if not args.skip_search:
        write(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
