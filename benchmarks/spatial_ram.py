"""Spatial memory under a RAM budget, beside the same module without one, in one process.

Run: ``.venv/bin/python benchmarks/spatial_ram.py --sightings 1000000 --budget 16``. The
``memory_ops.World`` stream is fed, block by block in alternating order, to two ``SpatialMemory``
instances (each with its own graph): one unbudgeted, one with ``use_long_term`` (tables in a
temporary file). Prints one JSON line: ingest CPU seconds of each, belief rows and occupancy
cells in RAM, ``ram_bytes()`` of each, then ``locate`` latency (wall and CPU, p50/p99 ms, 2,000 queries) for labels seen in
the last 300 steps (working set) and for the older half of the labels (paged out under the budget,
so each query brings its label back). Results also go to ``benchmarks/results/spatial_ram.json``.
On a shared machine compare the two columns, not absolute speeds.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memory_ops import World  # noqa: E402

from embodied_mem.graph import MemoryGraph  # noqa: E402
from embodied_mem.memory.config import SpatialConfig  # noqa: E402
from embodied_mem.memory.longterm import LongTermStore  # noqa: E402
from embodied_mem.memory.spatial import SpatialMemory  # noqa: E402


def latency(sp: SpatialMemory, labels: list[str]) -> dict[str, float]:
    wall, cpu = [], []
    for q in labels:
        c0, t0 = time.process_time(), time.perf_counter()
        sp.locate(q)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    w, c = np.array(wall) * 1e3, np.array(cpu) * 1e3
    return {"wall_p50": round(float(np.percentile(w, 50)), 4), "wall_p99": round(float(np.percentile(w, 99)), 4),
            "cpu_p50": round(float(np.percentile(c, 50)), 4), "cpu_p99": round(float(np.percentile(c, 99)), 4)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sightings", type=int, default=1_000_000)
    ap.add_argument("--budget", type=float, default=16.0)
    ap.add_argument("--queries", type=int, default=2000)
    args = ap.parse_args()
    sps = {"none": SpatialMemory(MemoryGraph(), SpatialConfig()), "budget": SpatialMemory(MemoryGraph(), SpatialConfig())}
    sps["budget"].use_long_term(LongTermStore(args.budget))
    world = World(0)
    n = pid = blocks = 0
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    cpu = dict.fromkeys(sps, 0.0)
    while n < args.sightings:
        block = world.percepts(1000)
        for k in list(sps) if blocks % 2 == 0 else list(sps)[::-1]:
            sp, i, c0 = sps[k], pid, time.process_time()
            for p in block:
                sp.observe(p, i, 0.0)
                i += 1
            cpu[k] += time.process_time() - c0
        blocks += 1
        pid += len(block)
        for p in block:
            n += len(p.sightings)
            for s in p.sightings:
                first.setdefault(s.label, p.t)
                last[s.label] = p.t
    labels = sorted(first, key=first.get)
    old = labels[: len(labels) // 2]
    now = max(last.values())
    recent = [lbl for lbl in labels if last[lbl] >= now - 300][-200:]
    b = sps["budget"]
    out: dict = {"sightings": n, "budget_mb": args.budget, "ingest_cpu_s": cpu,
                 "belief_rows_in_ram": {"none": sps["none"].stats()["beliefs"], "budget": len(b._b.lab)},  # noqa: SLF001
                 "belief_rows_paged": b._b.lp.n_rows,  # noqa: SLF001
                 "cells_in_ram": {k: len(s._occ) + len(s._walked) for k, s in sps.items()},  # noqa: SLF001
                 "tiles_paged": len(b._tiles.paged),  # noqa: SLF001
                 "places": b.stats()["places"],
                 "ram_bytes": {k: s.ram_bytes() for k, s in sps.items()}}
    for name, pool in (("working_set", recent), ("old_label", old)):
        for k, sp in sps.items():
            rng = random.Random(1)
            out[f"locate_{name}_{k}"] = latency(sp, [rng.choice(pool) for _ in range(args.queries)])
    print(json.dumps(out), flush=True)
    (Path(__file__).resolve().parent / "results" / "spatial_ram.json").write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
