"""What keeping Crafter's world identical to the standard env costs: steps/s with ``render=True``.

Run: ``.venv/bin/python benchmarks/crafter_render.py`` (about a minute). Results go to
``benchmarks/results/crafter_render.{md,json}``.

Three steppers take the same random actions in the same worlds, in the same process, interleaved
in blocks of 100 steps (so load from other processes hits all three alike): the adapter with
``render=False`` (the default: no image, the world diverges from the first night), the adapter with
``render=True`` (draws the image every step as ``crafter.Env`` does; the world stays identical) and
the raw ``crafter.Env`` (renders, no percept). An episode that ends is followed by the next world
(resets untimed). Reported: steps/s of each and the
ratio render=True / render=False. Absolute speeds depend on the machine's load; the ratios are
measured in one run.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

RESULTS = Path(__file__).resolve().parent / "results"


def measure(steps: int, seeds: list[int], block: int = 100) -> dict[str, Any]:
    import crafter

    from embodied_mem import envs

    def adapter(render: bool) -> Any:
        return envs.make("crafter", render=render)

    steppers = {"adapter render=False": adapter(False), "adapter render=True": adapter(True),
                "crafter.Env (raw)": crafter.Env()}
    times = {k: 0.0 for k in steppers}
    counts = {k: 0 for k in steppers}

    def reset(name: str, env: Any, seed: int) -> None:  # untimed
        if name.startswith("crafter.Env"):
            env._seed, env._episode = seed, 0
            env.reset()
        else:
            env.reset(seed=seed)

    for seed in seeds:
        actions = np.random.default_rng(seed).integers(17, size=steps)
        episode = {k: 0 for k in steppers}
        for name, env in steppers.items():
            reset(name, env, seed)
        for start in range(0, steps, block):
            for name, env in steppers.items():
                for a in actions[start:start + block]:
                    t0 = time.perf_counter()
                    out = env.step(int(a))
                    times[name] += time.perf_counter() - t0
                    counts[name] += 1
                    if out[2] if len(out) == 4 else (out[2] or out[3]):  # died: a new world (same for all)
                        episode[name] += 1
                        reset(name, env, 1000 * seed + episode[name])
    sps = {k: counts[k] / times[k] for k in steppers}
    return {"steps_per_s": sps, "steps": counts,
            "render_true_over_false": sps["adapter render=True"] / sps["adapter render=False"],
            "raw_over_render_false": sps["crafter.Env (raw)"] / sps["adapter render=False"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=2000, help="steps per seed (an episode ends earlier on death)")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    res = measure(args.steps, seeds)
    res.update({"settings": {"steps": args.steps, "seeds": seeds}, "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                "machine": {"python": platform.python_version(), "platform": platform.platform()}})
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "crafter_render.json").write_text(json.dumps(res, indent=1))
    lines = ["# Crafter: what render=True costs", "",
             f"Run {res['date']}, seeds {seeds}, up to {args.steps} random-action steps each, the three steppers "
             "interleaved in blocks of 100 steps (shared machine: compare the ratios).", "",
             "| stepper | steps | steps/s |", "|---|---|---|"]
    for k, v in res["steps_per_s"].items():
        lines.append(f"| {k} | {res['steps'][k]} | {v:,.0f} |")
    lines += ["", f"render=True runs at **{res['render_true_over_false']:.2f}×** the speed of render=False "
              f"(the raw crafter.Env at {res['raw_over_render_false']:.2f}×). render=True keeps the world identical "
              "to crafter.Env's (tests/envs/test_crafter.py checks it, whole episodes); render=False diverges from "
              "the first night.", ""]
    (args.out / "crafter_render.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
