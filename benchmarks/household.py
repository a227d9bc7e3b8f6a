"""Changing household benchmark: fetch tasks and questions, full memory vs each ablation vs memoryless.

Run: ``.venv/bin/python benchmarks/household.py`` (defaults: 8 households x 5 simulated days, the
first day lived but not scored: about 290 scored fetch tasks; a minute or two). Every agent lives
through the same households (the same world files, the same task schedule) with one memory kept
across all its tasks; memory time is the simulated clock. Scores: success, SPL, steps (place visits) of fetch tasks, and question accuracy
(where is X? / was door D open at hh:mm today? / what changed in room R since this time
yesterday?), all scored against the simulator's event log. Paired differences (full minus the
other agent, over the same tasks) with their standard errors. Results go to
``benchmarks/results/household.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

AGENTS = ("full", "no_spatial", "no_temporal", "no_episodic", "no_semantic", "no_long_term", "no_critic", "memoryless")
QUESTIONS = ("where", "door", "changed")


def memory_config(ablation: str) -> dict:
    cfg: dict = {"spatial": {"place_radius": 1.5}}
    module = {"no_spatial": "spatial", "no_temporal": "temporal", "no_episodic": "episodic",
              "no_semantic": "semantic", "no_long_term": "long_term"}.get(ablation)
    if module:
        cfg.setdefault(module, {})["enabled"] = False
    return cfg


def agent_config(ablation: str) -> dict:
    critic: dict = {}  # stall_steps (60) counts simulated seconds here: three blocked trips (20 s each)
    if ablation == "no_critic":
        critic["enabled"] = False
    return {"critic": critic}


def question(rng: np.random.Generator, ep: int, t: float, house, env) -> dict | None:
    """A question asked at ``t`` (the same for every agent: drawn from the household seed and task index)."""
    from embodied_mem.envs.indoor3d.household import DAY

    kind = QUESTIONS[ep % 3]
    u = rng.random(3)
    if kind == "where":
        present = [o for o in env.object_names if house.where(o, t) is not None]
        obj = present[int(u[0] * len(present))]
        return {"kind": kind, "object": obj, "t": t, "truth": house.where(obj, t)}
    if kind == "door":
        if not house.doors:
            return None
        door = house.doors[int(u[0] * len(house.doors))].name
        day0 = (t // DAY) * DAY + 7 * 3600.0
        t_ref = day0 + u[1] * max(0.0, t - day0)
        return {"kind": kind, "door": door, "t": t, "t_ref": t_ref, "truth": house.door_open(door, t_ref)}
    if t < DAY:
        return None
    rooms = sorted({p.room for p in house.places})
    room = rooms[int(u[0] * len(rooms))]
    truth = house.in_room(room, t - DAY) ^ house.in_room(room, t)
    return {"kind": kind, "room": room, "t": t, "since": t - DAY, "truth": sorted(truth)}


def answer(q: dict, memory, home, config) -> object:
    from embodied_mem.agent.worlds.household import answers

    if q["kind"] == "where":
        return answers.where_is(memory, home, config, q["object"], q["t"])
    if q["kind"] == "door":
        a = answers.was_open(memory, q["door"], q["t_ref"])
        return True if a is None else a  # no memory of it: guess the usual (doors stand open by day)
    a = answers.changed_in_room(memory, home, q["room"], q["t"], q["since"])
    return sorted(a) if a is not None else []


def run_agent(world_file: Path, seed: int, name: str) -> dict:
    from embodied_mem.envs.indoor3d.household_env import HouseholdEnv

    from embodied_mem.agent.config import AgentConfig
    from embodied_mem.agent.factory import make_reactive, make_robomemory
    from embodied_mem.agent.worlds import describe
    from embodied_mem.agent.worlds.household import answers as ans
    from embodied_mem.agent.worlds.household.world import HomeMap
    from embodied_mem.memory import Memory

    env = HouseholdEnv(world_file=str(world_file))
    house = env.house
    memoryless = name == "memoryless"
    if memoryless:
        agent, memory = make_reactive({}, env=env, seed=seed), None
    else:
        agent = make_robomemory(agent_config(name), env=env, seed=seed)
        memory = Memory(memory_config(name))
    home = HomeMap.from_declared(describe(env).extra)
    hcfg = AgentConfig().household
    qrng = np.random.default_rng([seed, 99])
    tasks, qs = [], []
    t0 = time.perf_counter()
    for ep in range(env.n_tasks):
        if memory is not None:
            memory.new_episode(f"task-{ep}")
        agent.reset(memory, seed=seed * 1000 + ep)
        obs, info = env.reset()
        q = question(qrng, ep, env.clock, house, env)
        if q is not None:
            a = answer(q, memory, home, hcfg)
            qs.append({**{k: v for k, v in q.items() if k != "truth"}, "truth": q["truth"], "answer": a,
                       "score": ans.score_answer(q["kind"], a, q["truth"])})
        for _ in range(env.max_steps):
            obs, _, term, trunc, info = env.step(agent.act(obs, info))
            if term or trunc:
                break
        tasks.append({"ep": ep, "task": info["task"], "goal": info["goal"], "success": info["success"],
                      "spl": info["spl"], "steps": info["steps"], "path": info["path_length"],
                      "shortest": info["shortest_path"], "t": info["t_start"]})
    ops = getattr(agent.planner, "operations", [])
    return {"tasks": tasks, "questions": qs, "seconds": time.perf_counter() - t0,
            "semantic_ops": {k: sum(1 for o in ops if o.op == k) for k in ("ADD", "UPDATE", "DELETE")}}


def paired(a: list[float], b: list[float]) -> tuple[float, float]:
    d = np.asarray(a, float) - np.asarray(b, float)
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=8)
    ap.add_argument("--days", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=0, help="household seeds first-seed .. first-seed + households - 1")
    ap.add_argument("--sensor-range", type=float, default=None, help="metres (default: the household's)")
    ap.add_argument("--rooms", default=None, help="apartment grid 'columns,rows' (default: the generator's 3 x 2-3)")
    ap.add_argument("--agents", default=",".join(AGENTS))
    ap.add_argument("--warmup-days", type=int, default=1,
                    help="tasks and questions of the first days are lived but not scored (the agent learns the home)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args(argv)
    from embodied_mem.envs.indoor3d.household import Household

    names = args.agents.split(",")
    runs: dict[str, dict[int, dict]] = {n: {} for n in names}
    t_start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.first_seed, args.first_seed + args.households):
            extra = {"rooms": tuple(int(v) for v in args.rooms.split(","))} if args.rooms else {}
            if args.sensor_range is not None:
                extra["sensor_range"] = args.sensor_range
            wf = Household(seed, days=args.days, **extra).save(Path(tmp) / f"household-{seed}.json")
            for n in names:
                runs[n][seed] = run_agent(wf, seed, n)
                r = runs[n][seed]
                f = [t for t in r["tasks"] if t["task"] == "fetch"]
                print(f"household {seed} {n:13s} fetch {len(f)} success {np.mean([t['success'] for t in f]):.2f} "
                      f"SPL {np.mean([t['spl'] for t in f]):.3f} ({r['seconds']:.0f} s)", file=sys.stderr, flush=True)

    def fetch_rows(n: str) -> dict[tuple[int, int], dict]:
        return {(s, t["ep"]): t for s, r in runs[n].items() for t in r["tasks"]
                if t["task"] == "fetch" and t["t"] >= warm}

    def q_rows(n: str) -> dict[tuple[int, int, str], float]:
        return {(s, i, q["kind"]): q["score"] for s, r in runs[n].items() for i, q in enumerate(r["questions"])
                if q["t"] >= warm}

    warm = args.warmup_days * 86400.0
    base = "full" if "full" in names else names[0]
    fb, qb = fetch_rows(base), q_rows(base)
    summary: dict[str, dict] = {}
    for n in names:
        fr, qr = fetch_rows(n), q_rows(n)
        keys = sorted(set(fb) & set(fr))
        row: dict = {"n_fetch": len(fr)}
        for m in ("success", "spl", "steps"):
            row[m] = float(np.mean([float(fr[k][m]) for k in fr]))
            if n != base:
                row[f"{m}_diff"], row[f"{m}_diff_se"] = paired([float(fb[k][m]) for k in keys],
                                                                 [float(fr[k][m]) for k in keys])
        row["paired_tasks"] = len(keys)
        for kind in QUESTIONS:
            ks = [k for k in qr if k[2] == kind]
            row[f"q_{kind}"] = float(np.mean([qr[k] for k in ks])) if ks else None
            row[f"n_q_{kind}"] = len(ks)
        qk = sorted(set(qb) & set(qr))
        row["q_all"] = float(np.mean([qr[k] for k in qr])) if qr else None
        if n != base and qk:
            row["q_diff"], row["q_diff_se"] = paired([qb[k] for k in qk], [qr[k] for k in qk])
        row["seconds"] = sum(r["seconds"] for r in runs[n].values())
        row["semantic_ops"] = {k: sum(r["semantic_ops"][k] for r in runs[n].values()) for k in ("ADD", "UPDATE", "DELETE")}
        summary[n] = row
    compact = {n: {str(s): {"tasks": [[t["ep"], t["task"], int(t["success"]), round(t["spl"], 4), t["steps"]]
                                      for t in r["tasks"]],
                            "questions": [[q["kind"], round(q["score"], 4)] for q in r["questions"]],
                            "seconds": round(r["seconds"], 2)} for s, r in per.items()} for n, per in runs.items()}
    res = {"households": args.households, "days": args.days, "warmup_days": args.warmup_days, "agents": names,
           "summary": summary, "wall_seconds": time.time() - t_start,
           "runs_columns": {"tasks": ["ep", "task", "success", "spl", "steps"], "questions": ["kind", "score"]},
           "runs": compact}
    args.out.mkdir(parents=True, exist_ok=True)
    runs_text = json.dumps(res.pop("runs"), separators=(",", ":"))  # per-task rows: one line, not 60k
    text = json.dumps(res, indent=1, default=str)
    (args.out / "household.json").write_text(text[:-2] + ',\n "runs": ' + runs_text + "\n}\n")
    res["runs"] = json.loads(runs_text)
    md = report(res)
    (args.out / "household.md").write_text(md)
    plot(res, args.out / "household.png")
    print(md)
    return 0


def report(res: dict) -> str:
    s = res["summary"]
    base = res["agents"][0]
    lines = [f"# Changing household: {res['households']} households x {res['days']} days, "
             f"{s[base]['n_fetch']} scored fetch tasks (full; the first {res['warmup_days']} day(s) lived, not scored)", "",
             "Paired differences are full minus the agent, over the same tasks (mean ± standard error).", "",
             "| agent | success | SPL | steps | Δ success (full − agent) | Δ SPL | questions: where / door / changed | Δ answers |",
             "|---|---|---|---|---|---|---|---|"]
    for n, r in s.items():
        d = (f"{r['success_diff']:+.3f} ± {r['success_diff_se']:.3f}", f"{r['spl_diff']:+.3f} ± {r['spl_diff_se']:.3f}") \
            if "success_diff" in r else ("", "")
        qd = f"{r['q_diff']:+.3f} ± {r['q_diff_se']:.3f}" if "q_diff" in r else ""
        q = " / ".join("–" if r[f"q_{k}"] is None else f"{r[f'q_{k}']:.2f}" for k in QUESTIONS)
        lines.append(f"| {n} | {r['success']:.3f} | {r['spl']:.3f} | {r['steps']:.2f} | {d[0]} | {d[1]} | {q} | {qd} |")
    if "memoryless" in s and base == "full":
        lines += ["", f"full SPL / memoryless SPL = {s['full']['spl'] / max(s['memoryless']['spl'], 1e-9):.2f}"]
    ops = s[base]["semantic_ops"]
    lines += [f"semantic operations of the full agent (routines): ADD {ops['ADD']}, UPDATE {ops['UPDATE']}, "
              f"DELETE {ops['DELETE']}", f"wall time {res['wall_seconds']:.0f} s (shared 2-core machine)"]
    return "\n".join(lines) + "\n"


def plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = res["summary"]
    names = list(s)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, m, title in ((axes[0], "success", "fetch success"), (axes[1], "spl", "SPL"), (axes[2], "q_all", "answers")):
        vals = [s[n][m] or 0.0 for n in names]
        err = [s[n].get(f"{m}_diff_se", 0.0) if m != "q_all" else s[n].get("q_diff_se", 0.0) for n in names]
        ax.bar(range(len(names)), vals, yerr=err, color=["tab:green"] + ["tab:blue"] * (len(names) - 2) + ["tab:gray"])
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=45, ha="right")
        ax.set_title(title + " (error bar: SE of the paired difference to full)")
        ax.title.set_fontsize(8)
    fig.suptitle(f"changing household: {res['households']} households x {res['days']} days")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
