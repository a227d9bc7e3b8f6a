"""Benchmark of the place-centric encoders. Writes benchmarks/results/encoders.{md,json,png}.

Parts (``--part``, default ``all``):

- ``ballet``: Room Ballet, place-centric vs FIFO memory at equal budgets (25 %, 50 %, 100 % of the
  trajectory length), several seeds; same model, same training budget, same held-out samples.
- ``crafter``: Crafter place recall on held-out worlds, FIFO vs place-centric memory at 25 %.
- ``keys``: episodic chunk keys in ``Memory`` from the learned label-bag encoder
  (``memory.episodic.encoder=place_transformer``) vs the deterministic hashing featurizer, on
  place-recall queries over real Crafter walks (recall@k of a chunk recorded at the queried
  place), and place recognition ("is this a place I know?") precision / recall. Also trains and
  saves the shipped key checkpoint ``embodied_mem/encoders/pretrained/place_keys``.

Each part updates its own section of the JSON; the Markdown and the plot are redrawn from it.
Run: ``.venv/bin/python benchmarks/encoders.py --part all --workers 2`` (about 20 min on 2 shared cores;
the Room Ballet part took 18.2 min at load ~3, Crafter ~3 min, keys ~1.5 min).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

# benchmarks/crafter.py would shadow the `crafter` package for scripts run from this folder
# (sys.path[0] is the script's folder; spawned workers inherit sys.path): drop that entry.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

RESULTS = Path(__file__).resolve().parent / "results"
BUDGETS = (0.25, 0.5, 1.0)
KINDS = ("fifo", "place")


def _ballet_job(args: tuple[str, float, int, int, int]) -> dict:
    from embodied_mem.encoders.train import fit

    kind, budget, seed, steps, batch = args
    res = fit({"memory": {"kind": kind, "budget": budget}, "seed": seed,
               "train": {"steps": steps, "batch_size": batch, "eval_every": max(steps // 10, 1), "progress": False}})
    m = res.metrics
    return {"memory": kind, "budget": budget, "slots": m["budget_slots"], "seed": seed,
            "accuracy": m["accuracy"], "train_seconds": m["train_seconds"], "history": res.history}


def run_ballet(seeds: int, steps: int, batch: int, workers: int) -> dict:
    from tqdm import tqdm

    jobs = [(k, b, s, steps, batch) for s in range(seeds) for b in BUDGETS for k in KINDS]
    t0 = time.perf_counter()
    rows = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as ex:
        for r in tqdm(ex.map(_ballet_job, jobs), total=len(jobs), desc="room ballet runs"):
            rows.append(r)
    table = []
    for b in BUDGETS:
        row = {"budget": b}
        for k in KINDS:
            acc = [r["accuracy"] for r in rows if r["budget"] == b and r["memory"] == k]
            row[k] = {"mean": float(np.mean(acc)), "std": float(np.std(acc)), "runs": acc}
        row["gap_points"] = 100 * (row["place"]["mean"] - row["fifo"]["mean"])
        table.append(row)
    from embodied_mem.encoders.tasks import RoomBallet
    from embodied_mem.encoders.train import DEFAULTS

    t = RoomBallet(**DEFAULTS["room_ballet"])
    return {"settings": {"task": DEFAULTS["room_ballet"], "trajectory_length": t.steps, "seeds": seeds,
                         "train_steps": steps, "batch_size": batch, "encoder": DEFAULTS["encoder"],
                         "eval_samples": DEFAULTS["train"]["eval_samples"], "chance": 1 / t.n_classes},
            "table": table, "runs": rows, "wall_seconds": round(time.perf_counter() - t0, 1)}


CRAFTER = {"steps": 64, "walks": 6, "walk_length": 400, "place_cell": 4}


def _crafter_job(args: tuple[str, float, int, int, int]) -> dict:
    from embodied_mem.encoders.train import fit

    kind, budget, seed, steps, batch = args
    res = fit({"task": "crafter_recall", "crafter_recall": CRAFTER, "memory": {"kind": kind, "budget": budget},
               "seed": seed, "train": {"steps": steps, "batch_size": batch, "eval_every": max(steps // 5, 1),
                                       "progress": False}})
    m = res.metrics
    return {"memory": kind, "budget": budget, "slots": m["budget_slots"], "seed": seed, "micro_f1": m["micro_f1"],
            "exact_match": m["exact_match"], "prior_f1": m["chance"], "train_seconds": m["train_seconds"]}


def run_crafter(seeds: int, steps: int, batch: int, workers: int, budget: float = 0.25) -> dict:
    """Crafter place recall (held-out worlds): FIFO vs place-centric memory at one budget."""
    jobs = [(k, budget, s, steps, batch) for s in range(seeds) for k in KINDS]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as ex:
        rows = list(ex.map(_crafter_job, jobs))
    summary = {k: {m: float(np.mean([r[m] for r in rows if r["memory"] == k])) for m in ("micro_f1", "exact_match")}
               for k in KINDS}
    return {"settings": {"task": CRAFTER, "budget": budget, "seeds": seeds, "train_steps": steps, "batch_size": batch},
            "summary": summary, "prior_f1": float(np.mean([r["prior_f1"] for r in rows])), "runs": rows,
            "wall_seconds": round(time.perf_counter() - t0, 1)}


def memory_ceiling(settings: dict) -> dict:
    """Best accuracy any reader could reach: the queried room is in memory (else a 1-in-8 guess).

    Computed on the very held-out samples the runs are scored on (same generator seeds).
    """
    from embodied_mem.encoders.tasks import RoomBallet

    task = RoomBallet(**settings["task"]).heldout()
    out = {}
    for b in BUDGETS:
        slots = round(b * task.steps)
        out[str(b)] = {}
        for k in KINDS:
            cov = []
            for seed in range(settings["seeds"]):
                batch = task.batch(np.random.default_rng(seed + 1_000_003), settings["eval_samples"], slots, k,
                                   settings["encoder"]["chunk_size"])
                cov += [q in set(p[m].tolist()) for q, p, m in
                        zip(batch["query_place_id"], batch["place_id"], batch["mask"])]
            c = float(np.mean(cov))
            out[str(b)][k] = {"coverage": c, "ceiling": c + (1 - c) * settings["chance"]}
    return out


def run_keys(train_walks: int, eval_walks: int, walk_length: int, steps: int) -> dict:
    from embodied_mem.encoders.keys import DEFAULT_KEYS, train_place_keys
    from embodied_mem.encoders.places_eval import crafter_key_benchmark

    t0 = time.perf_counter()
    return crafter_key_benchmark(train_walks=train_walks, eval_walks=eval_walks, walk_length=walk_length,
                                 train_steps=steps, save_to=DEFAULT_KEYS, trainer=train_place_keys) | {
        "wall_seconds": round(time.perf_counter() - t0, 1)}


def write_report(data: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    if data.get("ballet") and "ceiling" not in data["ballet"]:
        data["ballet"]["ceiling"] = memory_ceiling(data["ballet"]["settings"])
    (RESULTS / "encoders.json").write_text(json.dumps(data, indent=1))
    lines = ["# Place-centric encoders benchmark", "",
             f"Generated by `benchmarks/encoders.py` on {data.get('updated', '?')}.", ""]
    b = data.get("ballet")
    if b:
        s = b["settings"]
        lines += ["## Room Ballet: place-centric vs FIFO memory at equal budgets", "",
                  f"3×3 rooms, trajectories of {s['trajectory_length']} steps, 8 dances (chance "
                  f"{100 * s['chance']:.1f} %); encoder d_model={s['encoder']['d_model']}, chunk size "
                  f"{s['encoder']['chunk_size']}, top-k {s['encoder']['top_k']}; {s['train_steps']} training steps × "
                  f"batch {s['batch_size']}; accuracy on {s['eval_samples']} held-out queries; mean ± std over "
                  f"{s['seeds']} seeds. Wall time {b['wall_seconds'] / 60:.1f} min.", "",
                  "| budget (of trajectory) | slots | FIFO accuracy | place-centric accuracy | gap (points) "
                  "| FIFO ceiling | place ceiling |",
                  "|---|---|---|---|---|---|---|"]
        ceil = b.setdefault("ceiling", memory_ceiling(s))
        for row in b["table"]:
            slots = round(row["budget"] * s["trajectory_length"])
            c = ceil[str(row["budget"])]
            lines.append(f"| {100 * row['budget']:.0f} % | {slots} | {100 * row['fifo']['mean']:.1f} ± "
                         f"{100 * row['fifo']['std']:.1f} | {100 * row['place']['mean']:.1f} ± "
                         f"{100 * row['place']['std']:.1f} | {row['gap_points']:+.1f} | "
                         f"{100 * c['fifo']['ceiling']:.1f} | {100 * c['place']['ceiling']:.1f} |")
        lines += ["", "Ceiling: the best accuracy any reader could reach with that memory — the queried room is "
                  "still in memory (else a 1-in-8 guess), measured on the same held-out samples. Per-run "
                  "accuracies are in `encoders.json`.", "", "![accuracy vs budget](encoders.png)", ""]
    c = data.get("crafter")
    if c:
        cs = c["settings"]
        lines += ["## Crafter place recall: FIFO vs place-centric memory", "",
                  f"Windows of {cs['task']['steps']} steps of scripted walks in real Crafter (9×7 local semantic "
                  f"view per step); query: a cell the agent stood on → which of 17 material/creature classes were "
                  f"in view there. Budget {100 * cs['budget']:.0f} % ({round(cs['budget'] * cs['task']['steps'])} "
                  f"slots); {cs['train_steps']} steps × batch {cs['batch_size']}; evaluated on held-out Crafter "
                  f"worlds; mean over {cs['seeds']} seed(s). The label-prior baseline scores micro-F1 "
                  f"{100 * c['prior_f1']:.1f} %.", "",
                  "| memory | micro-F1 | exact match |", "|---|---|---|"]
        for kk in KINDS:
            lines.append(f"| {kk} | {100 * c['summary'][kk]['micro_f1']:.1f} % | "
                         f"{100 * c['summary'][kk]['exact_match']:.1f} % |")
        lines += [""]
    k = data.get("keys")
    if k:
        lines += ["## Learned chunk keys vs hashing featurizer (Crafter place recall)", "", k["description"], "",
                  "| key encoder | recall@1 | recall@5 | recognition precision | recognition recall | threshold |",
                  "|---|---|---|---|---|---|"]
        for name in ("hashing", "place_transformer"):
            r = k["results"][name]
            lines.append(f"| {name} | {100 * r['recall@1']:.1f} % | {100 * r['recall@5']:.1f} % | "
                         f"{100 * r['precision']:.1f} % | {100 * r['recall']:.1f} % | {r['threshold']:.2f} |")
        lines += ["", f"Queries: {k['n_recall_queries']} recall queries at known places, "
                  f"{k['n_recognition_queries']} recognition queries ({k['n_known']} at known places). "
                  f"Key training {k['train_seconds']:.0f} s; wall time {k['wall_seconds'] / 60:.1f} min.", ""]
    (RESULTS / "encoders.md").write_text("\n".join(lines))
    if b:
        _plot(b)


def _plot(b: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    x = np.arange(len(BUDGETS))
    for i, k in enumerate(KINDS):
        m = [100 * r[k]["mean"] for r in b["table"]]
        e = [100 * r[k]["std"] for r in b["table"]]
        ax.bar(x + (i - 0.5) * 0.38, m, 0.38, yerr=e, capsize=3, label={"fifo": "FIFO", "place": "place-centric"}[k])
    ax.axhline(100 * b["settings"]["chance"], color="grey", ls="--", lw=1, label="chance")
    if "ceiling" in b:
        ax.plot(x - 0.19, [100 * b["ceiling"][str(v)]["fifo"]["ceiling"] for v in BUDGETS], "k_", ms=22, mew=2,
                label="FIFO ceiling (room still in memory)")
    ax.set_xticks(x, [f"{int(100 * v)} %" for v in BUDGETS])
    ax.set_xlabel("memory budget (share of trajectory length)")
    ax.set_ylabel("dance accuracy (%)")
    ax.set_ylim(0, 125)
    ax.set_yticks(range(0, 101, 20))
    ax.set_title(f"Room Ballet, {b['settings']['seeds']} seeds", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    fig.tight_layout()
    fig.savefig(RESULTS / "encoders.png", dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=("ballet", "crafter", "keys", "all", "report"), default="all")
    ap.add_argument("--crafter-seeds", type=int, default=1)
    ap.add_argument("--crafter-steps", type=int, default=400)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=2000, help="training steps per Room Ballet run")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--key-steps", type=int, default=400)
    ap.add_argument("--train-walks", type=int, default=6)
    ap.add_argument("--eval-walks", type=int, default=3)
    ap.add_argument("--walk-length", type=int, default=600)
    a = ap.parse_args(argv)
    path = RESULTS / "encoders.json"
    data = json.loads(path.read_text()) if path.is_file() else {}
    if a.part == "report":
        write_report(data)
    if a.part in ("ballet", "all"):
        data["ballet"] = run_ballet(a.seeds, a.steps, a.batch, a.workers)
        data["updated"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        write_report(data)
    if a.part in ("crafter", "all"):
        data = json.loads(path.read_text()) if path.is_file() else data
        data["crafter"] = run_crafter(a.crafter_seeds, a.crafter_steps, a.batch, a.workers)
        data["updated"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        write_report(data)
    if a.part in ("keys", "all"):
        data = json.loads(path.read_text()) if path.is_file() else data  # another part may have written
        data["keys"] = run_keys(a.train_walks, a.eval_walks, a.walk_length, a.key_steps)
        data["updated"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        write_report(data)
    print((RESULTS / "encoders.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
