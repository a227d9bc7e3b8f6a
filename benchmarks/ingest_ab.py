"""A/B of durable batched ingest CPU: two source trees, alternating runs in separate processes.

Run: ``.venv/bin/python benchmarks/ingest_ab.py --old /tmp/base --new . --percepts 20000 --reps 3``
(``--old`` a checkout of the code before a change, e.g. ``git archive main | tar -x -C /tmp/base``).
Each run ingests the ``memory_ops.py`` stream into a durable (``durability="batch"``) memory file,
``observe`` per percept (``--api observe_many``: one call per block of 1,000) then ``flush``, and times the CPU (``process_time``); a raw ``executemany``
of the same journal rows (``memory_ops.raw_sqlite``) in the same process is the baseline. Prints one
line per run and the medians; on a shared machine read the ratios, not the absolute speeds. The
periodic snapshot (``memory.snapshot_every``, one per 100,000 journal entries by default) is part of
the ingest; its CPU is also reported on its own (timed around the memory's snapshot writer).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import gc, json, sys, tempfile, time
from pathlib import Path
tree, bench, n, api = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in (getattr(f, "__module__", "") or "").lower()
                    and "editable" not in type(f).__name__.lower()]
sys.path.insert(0, tree)
sys.path.insert(1, bench)
import embodied_mem
assert embodied_mem.__file__.startswith(str(Path(tree).resolve())), embodied_mem.__file__
from embodied_mem import Memory
from memory_ops import World, raw_sqlite
snap = [0.0]
write = Memory._write_snapshot  # the periodic snapshot's CPU, reported apart (it is included in cpu_s)
def timed(self):
    c = time.process_time()
    try:
        return write(self)
    finally:
        snap[0] += time.process_time() - c
Memory._write_snapshot = timed
tmp = Path(tempfile.mkdtemp(prefix="emab-"))
p = tmp / "m.db"
mem = Memory.open(p, durability="batch")
gen = World(0)
done = ns = 0
cpu = 0.0
gc.collect()
while done < n:
    block = gen.percepts(min(1000, n - done))
    c0 = time.process_time()
    if api == "observe_many":
        mem.observe_many(block)
    else:
        for q in block:
            mem.observe(q)
    if done + len(block) >= n:
        mem.flush()
    cpu += time.process_time() - c0
    ns += sum(len(q.sightings) for q in block)
    done += len(block)
periodic = snap[0]  # (close() writes one more, not timed)
mem.close()
raw = raw_sqlite(p)
print(json.dumps({"cpu_s": cpu, "sightings": ns, "raw_executemany_cpu_s": raw["raw_executemany_cpu_s"],
                  "snapshot_cpu_s": periodic, "rows": raw["journal_rows"]}))
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", default=".")
    ap.add_argument("--percepts", type=int, default=20_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--api", choices=("observe", "observe_many"), default="observe",
                    help="observe each percept, or observe_many per block of 1,000 percepts")
    a = ap.parse_args(argv)
    bench = str(Path(__file__).resolve().parent)
    res: dict[str, list[dict]] = {"old": [], "new": []}
    for i in range(a.reps):
        for name in (("old", "new") if i % 2 == 0 else ("new", "old")):
            tree = str(Path(getattr(a, name)).resolve())
            out = subprocess.run([sys.executable, "-c", CHILD, tree, bench, str(a.percepts), a.api], check=True,
                                 capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            res[name].append(r)
            print(f"{name} rep {i}: {r['cpu_s']:.2f} CPU s, {r['sightings'] / r['cpu_s']:,.0f} sightings/s, "
                  f"{r['cpu_s'] / r['raw_executemany_cpu_s']:.1f}x executemany, "
                  f"of which the periodic snapshot {r['snapshot_cpu_s']:.2f} CPU s", flush=True)
    med = {}
    for name, rs in res.items():
        cpu = statistics.median(r["cpu_s"] for r in rs)
        ratio = statistics.median(r["cpu_s"] / r["raw_executemany_cpu_s"] for r in rs)
        bare = statistics.median((r["cpu_s"] - r["snapshot_cpu_s"]) / r["raw_executemany_cpu_s"] for r in rs)
        med[name] = cpu
        print(f"{name}: median {cpu:.2f} CPU s, {rs[0]['sightings'] / cpu:,.0f} sightings/s, "
              f"median {ratio:.1f}x executemany ({bare:.1f}x without the periodic snapshot), "
              f"executemany median {statistics.median(r['raw_executemany_cpu_s'] for r in rs):.3f} CPU s")
    print(f"new/old CPU: {med['new'] / med['old']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
