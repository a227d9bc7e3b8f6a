"""Lifelong learning on Crafter: one memory continued over 100 episodes against a fresh memory per episode.

The agent has no prior knowledge (``ablation=no_prior``): it must learn Crafter's tech tree from
what happens to it. Three arms, each 100 episodes in sequence (worlds ``seed * 1000 + episode``):

- ``fresh``: a new memory per world, nothing carried (``env.carry_facts=false``);
- ``carry``: a new memory per world, learned semantic facts copied into the next one (the default);
- ``continued``: one memory for the whole run (``memory.path=PATH``): every world under its own
  world id, semantic facts and episodic memory (chunks, utilities) carried over.

Run (each arm is one ``embodied-mem run``: about 4 minutes at load below 2, 15-25 at load 10-25)::

    python benchmarks/lifelong.py --run --workdir /tmp/lifelong      # runs the three arms, then reports
    python benchmarks/lifelong.py --workdir /tmp/lifelong            # report only (arms already run)
    python benchmarks/lifelong.py --run --arms fresh,continued --jobs 2 --workdir /tmp/lifelong  # two at once

Results: ``benchmarks/results/lifelong.{json,md,png}``: Crafter score per block of 10 episodes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
ARMS = {
    "fresh": ["env.carry_facts=false"],
    "carry": [],
    "continued": ["memory.path={workdir}/life.db"],
}
LABELS = {"fresh": "fresh memory per episode", "carry": "new memory per episode, learned facts copied (default)",
          "continued": "one continued memory (memory.path)"}


def run_arm(name: str, workdir: Path, args: argparse.Namespace) -> None:
    extra = [a.format(workdir=workdir) for a in ARMS[name]]
    cmd = [sys.executable, "-m", "embodied_mem.cli", "run", "ablation=no_prior", f"episodes={args.episodes}",
           f"seed={args.seed}", "progress=false", "log_steps=false", "plots=false", *extra,
           f"hydra.run.dir={workdir / name}"]
    print(" ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True)


def run_arms(names: list[str], workdir: Path, args: argparse.Namespace) -> None:
    """Run the arms, ``args.jobs`` at a time (each arm is one process: its episodes are in sequence)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for f in [pool.submit(run_arm, n, workdir, args) for n in names]:
            f.result()


def report(workdir: Path, block: int, out_dir: Path) -> dict:
    from embodied_mem.envs.crafter import summarize

    out: dict = {"block": block, "arms": {}}
    for name in ARMS:
        m = workdir / name / "metrics.json"
        if not m.exists():
            continue
        eps = json.loads(m.read_text())["episodes"]
        blocks = [eps[i:i + block] for i in range(0, len(eps), block)]
        out["arms"][name] = {
            "episodes": len(eps), "crafter_score": summarize(eps)["crafter_score"],
            "block_scores": [summarize(b)["crafter_score"] for b in blocks],
            "block_mean_achievements": [summarize(b)["mean_achievements"] for b in blocks],
            "block_mean_length": [summarize(b)["mean_length"] for b in blocks],
        }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "lifelong.json").write_text(json.dumps(out, indent=1))
    lines = ["# Lifelong learning: no prior knowledge, 100 Crafter episodes in sequence", "",
             f"Crafter score (%) per block of {block} episodes (worlds seed×1000 + episode), `ablation=no_prior`.",
             "", "| arm | " + " | ".join(f"ep {i * block}-{(i + 1) * block - 1}" for i in
                                         range(max(len(a["block_scores"]) for a in out["arms"].values())))
             + " | all |", "|---|" + "---:|" * (1 + max(len(a["block_scores"]) for a in out["arms"].values()))]
    for name, a in out["arms"].items():
        lines.append(f"| {LABELS[name]} | " + " | ".join(f"{s:.1f}" for s in a["block_scores"])
                     + f" | **{a['crafter_score']:.1f}** |")
    lines += ["", "Mean achievements unlocked per episode, per block:", ""]
    for name, a in out["arms"].items():
        lines.append(f"- {LABELS[name]}: " + ", ".join(f"{s:.1f}" for s in a["block_mean_achievements"]))
    lines += ["", "Commands (one `embodied-mem run` per arm; `python benchmarks/lifelong.py --run --workdir DIR`):", ""]
    for name, extra in ARMS.items():
        lines.append(f"- {name}: `embodied-mem run ablation=no_prior episodes=100 seed=10 "
                     + " ".join(a.format(workdir="DIR") for a in extra) + "`")
    lines += ["", "One sequence of 100 worlds (seed 10): a block of 10 episodes is a noisy estimate (one "
              "achievement more or less in a few episodes moves the score by points); the three arms play the "
              "same worlds in the same order, so the first block (nothing learned yet) is identical."]
    (out_dir / "lifelong.md").write_text("\n".join(lines) + "\n")
    plot(out, out_dir / "lifelong.png")
    print("\n".join(lines))
    return out


def plot(out: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.8))
    b = out["block"]
    for name, a in out["arms"].items():
        xs = [i * b + b / 2 for i in range(len(a["block_scores"]))]
        ax.plot(xs, a["block_scores"], "o-", label=LABELS[name])
    ax.set_xlabel(f"episode (block of {b})")
    ax.set_ylabel("Crafter score (%)")
    ax.set_title("no prior knowledge: learning across episodes")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", type=Path, required=True, help="where the arms' run directories live")
    ap.add_argument("--run", action="store_true", help="run the three arms first")
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--seed", type=int, default=10)
    ap.add_argument("--block", type=int, default=10)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--arms", type=str, default=",".join(ARMS), help="comma-separated arms to run")
    ap.add_argument("--jobs", type=int, default=1, help="arms run at once (one process each)")
    args = ap.parse_args(argv)
    if args.run:
        names = [a for a in args.arms.split(",") if a]
        unknown = sorted(set(names) - set(ARMS))
        if unknown:
            ap.error(f"--arms: unknown arm(s) {unknown}; valid: {list(ARMS)}")
        args.workdir.mkdir(parents=True, exist_ok=True)
        run_arms(names, args.workdir.resolve(), args)
    report(args.workdir, args.block, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
