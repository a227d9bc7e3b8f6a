"""What a hostile-looking but valid percept costs, beside an ordinary one in the same run (issue 18).

Run: ``.venv/bin/python benchmarks/hostile_costs.py [--sightings 300000]``; writes
``benchmarks/results/hostile_costs.{md,json}``.

- Late percepts: a label seen N times by source ``a`` (one sighting per percept, t = 0, 1, 2, ...);
  then percepts from source ``b`` 0.5 time units late, against percepts on time (medians of 200).
  Before the fix a late one rebuilt the label's gap index and re-coded its run-length sightings:
  117 ms at N = 300k in the issue, against 0.08 ms on time.
- Huge views: negative evidence with ``View.disc(c, r)`` for r = 5 .. 1e9 over a memory of 2,000
  beliefs (inside the view from r = 1e4 on, which then invalidates them all); before the fix the
  cost grew with the area (r = 1e4 took about 1 s; r = 1e7 never ended). Now it grows with the
  beliefs the view can touch.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from embodied_mem import Memory, Percept, Sighting, View

RESULTS = Path(__file__).resolve().parent / "results"


def late_percepts(n: int) -> dict[str, float]:
    mem = Memory()
    batch = []
    for i in range(n):
        batch.append(Percept(t=float(i), source="a", sightings=(Sighting("key", (1.0, 0.0)),)))
        if len(batch) == 5000:
            mem.observe_many(batch)
            batch = []
    mem.observe_many(batch)
    on, late = [], []
    t = float(n)
    for k in range(200):
        p = Percept(t=t + k, source="a", sightings=(Sighting("key", (1.0, 0.0)),))
        t0 = time.perf_counter()
        mem.observe(p)
        on.append(time.perf_counter() - t0)
        q = Percept(t=t + k - 0.5, source=f"b{k}", sightings=(Sighting("key", (1.0, 0.0)),))
        t0 = time.perf_counter()
        mem.observe(q)
        late.append(time.perf_counter() - t0)
    return {"sightings": n, "on_time_ms": statistics.median(on) * 1e3, "late_ms": statistics.median(late) * 1e3}


def huge_views() -> list[dict[str, float]]:
    out = []
    for r in (5.0, 1e2, 1e3, 1e4, 1e7, 1e9):
        mem = Memory()
        mem.observe(Percept(t=0, sightings=tuple(Sighting("tree", (float(i % 50) * 3, float(i // 50) * 3))
                                                 for i in range(2000))))
        t0 = time.perf_counter()
        mem.observe(Percept(t=1, view=View.disc((-2e3, -2e3), r)))
        dt = time.perf_counter() - t0
        out.append({"radius": r, "ms": dt * 1e3, "invalidated": 2000 - len(mem.spatial.locate("tree"))})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sightings", type=int, default=300_000)
    ap.add_argument("--out", type=Path, default=RESULTS)
    a = ap.parse_args(argv)
    late = late_percepts(a.sightings)
    views = huge_views()
    md = [f"# Hostile-input costs (benchmarks/hostile_costs.py --sightings {a.sightings})", "",
          "| percept | median cost (ms) |", "|---|---:|",
          f"| on time, label seen {late['sightings']:,} times | {late['on_time_ms']:.3f} |",
          f"| 0.5 late (another source), same label | {late['late_ms']:.3f} |", "",
          "| view radius (disc at (-2000, -2000); 2,000 beliefs) | beliefs invalidated | cost (ms) |",
          "|---:|---:|---:|"]
    md += [f"| {v['radius']:g} | {v['invalidated']:,} | {v['ms']:.3f} |" for v in views]
    text = "\n".join(md) + "\n"
    print(text)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "hostile_costs.md").write_text(text)
    (a.out / "hostile_costs.json").write_text(json.dumps({"late": late, "views": views}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
