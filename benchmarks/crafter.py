"""Crafter benchmark: the RoboMemory agent beside the memoryless reactive and the random baselines.

Run: ``.venv/bin/python benchmarks/crafter.py`` (10 episodes × 10,000 steps per agent, the
standard protocol; minutes to an hour on a shared CPU) or e.g. ``--episodes 3 --steps 2000`` for
a quick look. Results go to ``benchmarks/results/crafter.{md,json}`` and ``crafter.png``.

Protocol: each episode is a new world (seed ``1000 * seed + episode``, the same worlds for every
agent) of at most ``--steps`` steps; an episode ends earlier when the player dies. The robomemory
agent gets a fresh persistent memory per episode (``Memory.open(..., durability="batch")`` in a
temporary folder) with the packaged Crafter tech tree loaded as a prior, as ``embodied-mem run``
does. Success rate of an achievement = % of episodes in which it was unlocked at least once;
Crafter score = exp(mean_i ln(1 + s_i)) − 1 over the 22 achievements (the official formula).

Overhead: the agent's ``act`` time per step, as a ratio to the raw Crafter step (``crafter.Env``
with its default image rendering, random actions) timed in the same process just before the
episodes; the adapter's own step time (it skips rendering) is reported too.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

# This file is named like the simulator it benchmarks: keep its folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

RESULTS = Path(__file__).resolve().parent / "results"
PUBLISHED = [("Human experts", 50.5), ("SPRING (GPT-4, reads the paper)", 27.3), ("DreamerV3", 14.5),
             ("PPO", 4.6), ("Random (published)", 1.6)]


def raw_env_step_ms(steps: int = 2000, seed: int = 0) -> float:
    """Mean ms per ``step`` of the raw ``crafter.Env`` (rendering on), random actions; resets untimed."""
    import crafter

    env = crafter.Env(seed=seed)
    env.reset()
    rng = np.random.default_rng(seed)
    times = []
    for _ in range(steps):
        a = int(rng.integers(17))
        t0 = time.perf_counter()
        _, _, done, _ = env.step(a)
        times.append(time.perf_counter() - t0)
        if done:
            env.reset()
    return 1e3 * float(np.mean(times))


def run_agent(name: str, episodes: int, steps: int, seed: int, workdir: Path, progress: bool = True) -> dict[str, Any]:
    from embodied_mem.envs.crafter import episode_metrics, summarize
    from tqdm import tqdm

    from embodied_mem import envs
    from embodied_mem.agent.factory import make_agent
    from embodied_mem.memory import Memory

    env = envs.make("crafter", length=steps)
    agent = make_agent({"name": name}, env=env, seed=seed)
    eps: list[dict[str, Any]] = []
    t_agent = t_env = 0.0
    n = 0
    bar = tqdm(total=episodes * steps, desc=f"crafter {name}", unit="step", disable=not progress, mininterval=1.0)
    for ep in range(episodes):
        ep_seed = 1000 * seed + ep
        mem = None
        if agent.uses_memory:
            mem = Memory.open(workdir / f"{name}-{ep:03d}.db", durability="batch")
            mem.load_priors("crafter")
            mem.new_episode(f"episode-{ep}")
        agent.reset(mem, seed=ep_seed)
        obs, info = env.reset(seed=ep_seed)
        reward, length = 0.0, 0
        for step in range(steps):
            t0 = time.perf_counter()
            action = agent.act(obs, info)
            t1 = time.perf_counter()
            obs, r, term, trunc, info = env.step(action)
            t2 = time.perf_counter()
            t_agent += t1 - t0
            t_env += t2 - t1
            n += 1
            reward += r
            length = step + 1
            if mem is not None and length % 500 == 0:
                mem.flush()
            if term or trunc:
                break
        bar.update(steps)
        rec = {"episode": ep, "seed": ep_seed, "length": length, "reward": reward, "died": bool(term),
               **episode_metrics(info)}
        if mem is not None:
            rec["memory"] = {k: v for k, v in mem.stats().items() if isinstance(v, (int, float))}
            mem.close()
        eps.append(rec)
        got = sum(1 for v in rec["achievements"].values() if v)
        bar.set_postfix(last=f"{got} ach, {length} steps")
    bar.close()
    out = {"agent": name, "episodes": eps, **summarize(eps),
           "agent_ms_per_step": 1e3 * t_agent / max(1, n), "adapter_ms_per_step": 1e3 * t_env / max(1, n),
           "steps": n}
    return out


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from embodied_mem.envs.crafter import ACHIEVEMENTS, load_reference

    ref = load_reference()["success_rates"]
    series = [(name, r["success_rates"]) for name, r in results["agents"].items()]
    series.append(("human experts", ref["human_experts"]))
    x = np.arange(len(ACHIEVEMENTS))
    w = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(13, 4.8), dpi=110)
    for i, (name, rates) in enumerate(series):
        ax.bar(x + (i - (len(series) - 1) / 2) * w, [rates.get(a, 0.0) for a in ACHIEVEMENTS], w, label=name)
    ax.set_xticks(x, [a.replace("_", " ") for a in ACHIEVEMENTS], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("success rate (%)")
    ax.set_title("Crafter success rates: " + ", ".join(f"{n} {r['crafter_score']:.1f}"
                                                       for n, r in results["agents"].items()))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_markdown(results: dict[str, Any], path: Path) -> None:
    from embodied_mem.envs.crafter import ACHIEVEMENTS, load_reference

    ref = load_reference()["success_rates"]
    a = results["agents"]
    cfg = results["config"]
    lines = [f"# Crafter benchmark ({cfg['episodes']} episodes × up to {cfg['steps']} steps per agent, seed {cfg['seed']})",
             "", f"Run {results['date']} on {results['machine']}; {results['wall_s']:.0f} s wall. "
             "Produced by `benchmarks/crafter.py`.", "",
             f"Worlds: seeds {1000 * cfg['seed']}..{1000 * cfg['seed'] + cfg['episodes'] - 1}, the same for every agent."
             + (" These worlds (seed 0) were also used while developing the agent, so its score here is optimistic;"
                " `crafter_heldout*.md` hold runs on worlds it never saw." if cfg["seed"] == 0 else
                " The agent was not tuned on these worlds."), "",
             "| agent | Crafter score (%) | mean achievements | mean length (steps) | deaths | agent ms/step | overhead vs raw Crafter step |",
             "|---|---|---|---|---|---|---|"]
    raw = results["raw_env_ms_per_step"]
    lo = min(results.get("raw_env_ms_per_step_samples", [raw]))
    for name, r in a.items():
        deaths = sum(1 for e in r["episodes"] if e.get("died"))
        lines.append(f"| **{name}** (this run) | **{r['crafter_score']:.1f}** | {r['mean_achievements']:.1f} | "
                     f"{r['mean_length']:.0f} | {deaths}/{len(r['episodes'])} | {r['agent_ms_per_step']:.3f} | "
                     f"{r['agent_ms_per_step'] / raw:.2f}× (≤ {r['agent_ms_per_step'] / lo:.2f}×) |")
    for name, score in PUBLISHED:
        lines.append(f"| {name} | {score:.1f} | | | | | |")
    samples = ", ".join(f"{v:.2f}" for v in results.get("raw_env_ms_per_step_samples", [raw]))
    lines += ["", f"Raw Crafter step (crafter.Env with its image rendering, random actions, mean over 2,000 steps, "
              f"sampled before each agent and at the end of this run): median {raw:.3f} ms (samples: {samples} ms; "
              "the machine is shared, so the ratio is also given against the fastest sample). The adapter's own "
              f"step (no rendering, timed inside the episodes): {np.mean([r['adapter_ms_per_step'] for r in a.values()]):.3f} ms.",
              "",
              "## Success rates (%)", "",
              "| achievement | " + " | ".join(a) + " | human experts | random (published) |",
              "|---|" + "---|" * (len(a) + 2)]
    for ach in ACHIEVEMENTS:
        lines.append(f"| {ach} | " + " | ".join(f"{r['success_rates'][ach]:.0f}" for r in a.values())
                     + f" | {ref['human_experts'].get(ach, 0):.0f} | {ref['random'].get(ach, 0):.1f} |")
    lines += ["", "![success rates](crafter.png)", ""]
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--agents", default="robomemory,reactive,random")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--name", default="crafter", help="results file stem")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    if args.episodes < 1 or args.steps < 1:
        ap.error("--episodes and --steps must be positive")
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    raws = [raw_env_step_ms(seed=args.seed)]
    raw = raws[0]
    results: dict[str, Any] = {"config": {"episodes": args.episodes, "steps": args.steps, "seed": args.seed},
                               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                               "machine": f"{platform.machine()}, {platform.python_implementation()} "
                                          f"{platform.python_version()}, shared 2-core VM",
                               "raw_env_ms_per_step": raw, "agents": {}}
    with tempfile.TemporaryDirectory(prefix="crafter-bench-") as tmp:
        for i, name in enumerate([s.strip() for s in args.agents.split(",") if s.strip()]):
            if i:
                raws.append(raw_env_step_ms(seed=args.seed + i))  # the machine is shared: sample it often
            results["agents"][name] = run_agent(name, args.episodes, args.steps, args.seed, Path(tmp),
                                                progress=not args.no_progress)
            results["wall_s"] = time.time() - t0
            (args.out / f"{args.name}.json").write_text(json.dumps(results, indent=1))
    raws.append(raw_env_step_ms(seed=args.seed + 99))
    results["raw_env_ms_per_step_samples"] = raws
    results["raw_env_ms_per_step"] = float(np.median(raws))
    results["wall_s"] = time.time() - t0
    (args.out / f"{args.name}.json").write_text(json.dumps(results, indent=1))
    plot(results, args.out / f"{args.name}.png")
    write_markdown(results, args.out / f"{args.name}.md")
    print((args.out / f"{args.name}.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
