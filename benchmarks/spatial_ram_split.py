"""Where spatial memory's RAM goes, structure by structure, after the memory_ops stream.

Feeds ``--sightings`` sightings of ``memory_ops.World`` to an unbudgeted in-RAM memory, then measures
each attribute of ``SpatialMemory`` and of its belief table (``_Beliefs``) as the bytes ``tracemalloc``
sees when a copy of it is unpickled (so an ``array``'s spare room after appends is not counted, and
a structure's share of objects other structures also hold is counted in each). Prints the largest
ones, their total and ``ram_bytes()`` (the estimate the budget controller reads).

    python benchmarks/spatial_ram_split.py --sightings 1000000
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from memory_ops import World  # noqa: E402

from embodied_mem import Memory  # noqa: E402


def traced(obj: object) -> int:
    """Bytes tracemalloc sees held by an unpickled copy of ``obj``."""
    data = pickle.dumps(obj, protocol=5)
    tracemalloc.start()
    try:
        copy = pickle.loads(data)
        n = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del copy
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sightings", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    if args.sightings < 1 or args.top < 1:
        ap.error(f"--sightings and --top must be at least 1 (got {args.sightings}, {args.top})")
    world, mem, n = World(args.seed), Memory(), 0
    c0 = time.process_time()
    while n < args.sightings:
        for p in world.percepts(1000):
            mem.observe(p)
            n += len(p.sightings)
    print(f"{n:,} sightings, ingest {time.process_time() - c0:.1f} CPU s")
    sp = mem.spatial
    rows = []
    skip = {"graph", "config", "_pages", "_tiles", "_store", "_ended_now"}
    for prefix, obj in (("B.", sp._b), ("", sp)):  # noqa: SLF001
        names = getattr(type(obj), "__slots__", ()) or list(vars(obj))
        for k in names:
            if k in skip or not hasattr(obj, k) or (prefix == "" and k == "_b"):
                continue
            v = getattr(obj, k)
            try:
                b = traced(v)
            except Exception:  # noqa: BLE001 - a structure that does not pickle alone is left out
                continue
            rows.append((b, prefix + k, type(v).__name__, len(v) if hasattr(v, "__len__") else ""))
    rows.sort(reverse=True)
    for b, name, typ, ln in rows[: args.top]:
        print(f"{b / 1e6:8.2f} MB  {name:24s} {typ:12s} {ln}")
    print(f"total traced {sum(r[0] for r in rows) / 1e6:.2f} MB; ram_bytes() {sp.ram_bytes() / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
