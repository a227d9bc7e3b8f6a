"""Spatial memory benchmark: what object beliefs cost in RAM, in a snapshot, at ingest and at query
time, for this version beside a baseline version of ``memory/spatial.py`` in the same run.

Run: ``.venv/bin/python benchmarks/spatial_memory.py`` (100k, 1M sightings) or ``--levels 100000``.
The baseline is ``memory/spatial.py`` at git revision ``--baseline`` (default: the version before
the columnar beliefs), loaded beside this one. Results go to ``benchmarks/results/spatial_memory.{json,md}``.

Workload: ``memory_ops.World`` (the same deterministic stream as ``benchmarks/memory_ops.py``:
about 10 sightings a percept, a pose, a view disc, a region), fed to ``SpatialMemory.observe`` alone
(its own graph; no journal, no other module). Each version runs in its own processes:

- a timing pass: ingest rate (sightings/s, ``observe`` only, percepts built outside the timed part;
  both versions in one process, fed each block of 1,000 percepts in turn, the order alternating),
  p50/p99 of ``locate(label)`` for labels seen in the last 300 steps (working set) and for the
  older half of the labels, p50/p99 of ``locate(label, at=t)`` for old labels, and the time to pickle
  and unpickle the spatial state the way a snapshot does (``snapshot._Pickler``, the cyclic GC off):
  the graph together with the module's attributes, minus the graph alone (the beliefs hold references
  to the graph's edges, so the graph is pickled with them, as in a snapshot);
- a tracing pass (both versions in one process): bytes allocated by lines of each version's
  ``spatial.py`` and still alive (``tracemalloc``; numpy/array buffers included; the graph's node
  ids made there count too, the graph's edges do not).

``--budget MB`` runs both again with ``use_long_term`` (a RAM budget; tables in a temporary file).

Absolute speeds are disturbed by other jobs on a shared machine: compare the two versions' ratios.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import io
import json
import pickle
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memory_ops import World  # noqa: E402

from embodied_mem.graph import MemoryGraph  # noqa: E402
from embodied_mem.memory.config import SpatialConfig  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
BASELINE_REV = "3c07cf3"  # memory/spatial.py before the columnar beliefs


def load(impl: str):
    if impl == "current":
        from embodied_mem.memory import spatial
        return spatial
    name = "embodied_mem.memory._spatial_baseline"
    spec = importlib.util.spec_from_file_location(name, impl)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def lat(fn, calls: list[tuple]) -> dict[str, float]:
    out = []
    for a in calls:
        t0 = time.perf_counter()
        fn(*a)
        out.append(time.perf_counter() - t0)
    return {"p50_ms": float(np.percentile(out, 50) * 1e3), "p99_ms": float(np.percentile(out, 99) * 1e3)}


def child(args: argparse.Namespace) -> int:
    """Feed every version the same blocks of percepts, interleaved (each block to each version in
    turn, the order alternating), so load on a shared machine hits them alike."""
    mods = [(name, load(impl)) for name, impl in (x.split("=", 1) for x in args.impls.split(";"))]
    trace = args.trace
    if trace:
        tracemalloc.start()
    sps, t_ing = {}, {}
    for name, mod in mods:
        sp = mod.SpatialMemory(MemoryGraph(), SpatialConfig())
        if args.budget:
            from embodied_mem.memory.longterm import LongTermStore

            sp.use_long_term(LongTermStore(args.budget))
        sps[name], t_ing[name] = sp, 0.0
    world = World(args.seed)
    n, pid, blocks = 0, 0, 0
    first_t: dict[str, float] = {}
    last_t: dict[str, float] = {}
    for level in [int(x) for x in args.levels.split(",")]:
        while n < level:
            block = world.percepts(1000)
            order = list(sps) if blocks % 2 == 0 else list(sps)[::-1]
            blocks += 1
            for name in order:
                sp, i = sps[name], pid
                t0 = time.perf_counter()
                for p in block:
                    sp.observe(p, i, 0.0)
                    i += 1
                t_ing[name] += time.perf_counter() - t0
            pid += len(block)
            for p in block:
                for s in p.sightings:
                    first_t.setdefault(s.label, p.t)
                    last_t[s.label] = p.t
                n += len(p.sightings)
            del block
        if trace:
            gc.collect()
            snap = tracemalloc.take_snapshot()
            by_file: dict[str, int] = {}
            for st in snap.statistics("filename"):
                by_file[st.traceback[0].filename] = st.size
        for name, mod in mods:
            sp = sps[name]
            res: dict = {"impl": name + (f", budget {args.budget:g} MiB" if args.budget else ""), "sightings": n,
                         "percepts": pid, "beliefs": sp.stats()["beliefs"], "places": sp.stats()["places"]}
            b = getattr(sp, "_b", None)
            res["beliefs_in_ram"] = len(b.lab) if b is not None else res["beliefs"]
            res["cells_in_ram"] = len(sp._occ) + len(getattr(sp, "_walked", ()))
            if trace:
                res["spatial_bytes"] = by_file.get(mod.__file__, 0)
            else:
                res["ingest_sightings_per_s"] = n / t_ing[name]
                rng = random.Random(args.seed)
                labels = sorted(first_t, key=first_t.get)
                now = max(last_t.values())
                recent = [lbl for lbl in labels if last_t[lbl] >= now - 300][-200:]
                old = labels[: max(1, len(labels) // 2)]
                q = args.queries
                res["locate_working_set"] = lat(sp.locate, [(rng.choice(recent),) for _ in range(q)])
                res["locate_old"] = lat(sp.locate, [(rng.choice(old),) for _ in range(q)])
                olds = [rng.choice(old) for _ in range(q)]
                res["locate_at_old"] = lat(sp.locate, [(lbl, first_t[lbl] + rng.uniform(0, 50)) for lbl in olds])
                res["nearest_old"] = lat(sp.nearest, [(lbl, (0.0, 20.0)) for lbl in olds])
                res.update(pickle_times(sp.graph, sp))
            print(json.dumps(res), flush=True)
    return 0


def pickle_times(graph: MemoryGraph, sp) -> dict:
    from embodied_mem.memory.snapshot import _Pickler  # noqa: PLC2701 - measure what a snapshot does

    state = {k: v for k, v in vars(sp).items() if k != "graph"}

    def dump(obj) -> tuple[bytes, float]:
        buf = io.BytesIO()
        gc.disable()
        t0 = time.perf_counter()
        _Pickler(buf, protocol=5).dump(obj)
        dt = time.perf_counter() - t0
        gc.enable()
        return buf.getvalue(), dt

    def load_t(b: bytes) -> float:
        gc.disable()
        t0 = time.perf_counter()
        x = pickle.loads(b)
        dt = time.perf_counter() - t0
        del x
        gc.enable()
        return dt

    both, d_both = dump({"graph": graph, "spatial": state})
    alone, d_graph = dump({"graph": graph})
    l_both = min(load_t(both) for _ in range(2))
    l_graph = min(load_t(alone) for _ in range(2))
    return {"pickle_s": d_both - d_graph, "unpickle_s": l_both - l_graph, "pickle_bytes": len(both) - len(alone),
            "graph_pickle_s": d_graph, "graph_unpickle_s": l_graph}


def run(impls: str, args: argparse.Namespace, trace: bool, budget: float) -> list[dict]:
    cmd = [sys.executable, __file__, "--child", "--impls", impls, "--levels", args.levels, "--seed", str(args.seed),
           "--queries", str(args.queries), "--budget", str(budget)] + (["--trace"] if trace else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def markdown(rows: list[dict], baseline: str) -> str:
    lines = ["# Spatial memory: columnar beliefs vs the baseline", "",
             f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with `benchmarks/spatial_memory.py` "
             f"(baseline: `memory/spatial.py` at {baseline}; the `memory_ops.World` stream fed to "
             "`SpatialMemory.observe` alone; 2 shared CPUs: compare ratios). RAM: bytes allocated by "
             "`memory/spatial.py` and alive (tracemalloc); pickle/unpickle: the spatial state as a snapshot "
             "pickles it, less the graph alone.", "",
             "| sightings | version | beliefs | spatial RAM (MB) | pickle (s) | unpickle (s) | pickle (MB) | ingest (sightings/s) | locate p50/p99 working set (ms) | locate p99 old label (ms) | locate at= p99 (ms) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['sightings']:,} | {r['impl']} | {r['beliefs']:,} | {r['spatial_bytes'] / 1e6:.1f} | "
                     f"{r['pickle_s']:.2f} | {r['unpickle_s']:.2f} | {r['pickle_bytes'] / 1e6:.1f} | "
                     f"{r['ingest_sightings_per_s']:,.0f} | {r['locate_working_set']['p50_ms']:.3f} / "
                     f"{r['locate_working_set']['p99_ms']:.3f} | {r['locate_old']['p99_ms']:.3f} | "
                     f"{r['locate_at_old']['p99_ms']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--levels", default="100000,1000000")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--baseline", default=BASELINE_REV, help="git revision of memory/spatial.py to compare with")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--impls", default="current=current", help=argparse.SUPPRESS)
    ap.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--budget", type=float, default=0.0,
                    help="also run both versions with a RAM budget of this many MiB (long-term tables in a temp file)")
    ap.add_argument("--out", default=str(RESULTS / "spatial_memory"))
    args = ap.parse_args(argv)
    if args.child:
        return child(args)
    root = Path(__file__).resolve().parent.parent
    src = subprocess.run(["git", "show", f"{args.baseline}:embodied_mem/memory/spatial.py"], cwd=root, check=True,
                         capture_output=True, text=True).stdout
    tmp = Path(tempfile.mkdtemp(prefix="spatial-bench-")) / "spatial_baseline.py"
    tmp.write_text(src)
    rows = []
    impls = f"baseline={tmp};current=current"
    for budget in [0.0] + ([args.budget] if args.budget else []):
        timed = run(impls, args, trace=False, budget=budget)
        traced = run(impls, args, trace=True, budget=budget)
        for a, b in zip(timed, traced):
            a.update({k: v for k, v in b.items() if k.endswith("_bytes")})
            rows.append(a)
            print(json.dumps(a), flush=True)
    rows.sort(key=lambda r: (r["sightings"], r["impl"]))
    Path(args.out + ".json").write_text(json.dumps({"baseline": args.baseline, "rows": rows}, indent=1))
    Path(args.out + ".md").write_text(markdown(rows, args.baseline))
    print(markdown(rows, args.baseline))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
