"""Spatial memory's RAM by part: the deep size of each of its attributes after the ``memory_ops`` stream.

Run: ``.venv/bin/python benchmarks/spatial_deep_size.py --sightings 1000000 [--budget 16 [--fit 8]]``, once in
this tree and once in another (e.g. main) to compare. Feeds ``memory_ops.World`` to a ``Memory``
(in RAM), then walks spatial memory's attributes (``sys.getsizeof`` of every container, array and
value reached, each object once; the graph, the config and the long-term store left out) and prints
one JSON line: the total, ``ram_bytes()`` where the tree has it, ``stats()`` and the parts, largest
first. Deterministic (no timing): the figures do not depend on the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from array import array
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memory_ops import World  # noqa: E402

from embodied_mem.memory import Memory  # noqa: E402
from embodied_mem.memory.config import MemoryConfig  # noqa: E402


def deep(o: Any, seen: set[int], skip: set[int]) -> int:
    """Bytes of ``o`` and everything it reaches (each object once; ``skip`` ids not entered)."""
    if id(o) in seen or id(o) in skip:
        return 0
    seen.add(id(o))
    n = sys.getsizeof(o)
    if isinstance(o, dict):
        n += sum(deep(k, seen, skip) + deep(v, seen, skip) for k, v in o.items())
    elif isinstance(o, (list, tuple, set, frozenset)):
        n += sum(deep(v, seen, skip) for v in o)
    elif isinstance(o, (array, np.ndarray, str, bytes, float, int, type)):
        pass
    elif hasattr(o, "__slots__"):
        n += sum(deep(getattr(o, k), seen, skip) for k in o.__slots__ if hasattr(o, k))
    elif hasattr(o, "__dict__"):
        n += deep(vars(o), seen, skip)
    return n


def _rss() -> int | None:
    """This process's resident set now (bytes; Linux), None elsewhere."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sightings", type=int, default=1_000_000)
    ap.add_argument("--budget", type=float, default=None, help="memory.ram_budget_mb (default: none)")
    ap.add_argument("--fit", type=float, default=None,
                    help="MB: call spatial.fit(MB) every 1,024 percepts, as a budget controller would (needs --budget)")
    args = ap.parse_args()
    world = World(0)
    mem = Memory(config=MemoryConfig.from_dict({} if args.budget is None else {"ram_budget_mb": args.budget}))
    n = 0
    while n < args.sightings:
        for p in world.percepts(1024):
            mem.observe(p)
            n += len(p.sightings)
        if args.fit is not None:
            mem.spatial.fit(int(args.fit * 2**20))
    sp = mem.spatial
    skip = {id(sp.graph), id(sp.config), id(sp.pages)} | {id(v) for v in vars(sp.graph).values()}
    seen: set[int] = set()
    parts: dict[str, int] = {}
    for k, v in vars(sp).items():
        if k == "_b":  # the belief table, column by column
            for kk in type(v).__slots__:
                if hasattr(v, kk) and id(getattr(v, kk)) not in skip:
                    parts[f"_b.{kk}"] = deep(getattr(v, kk), seen, skip)
        elif id(v) not in skip:
            parts[k] = deep(v, seen, skip)
    out = {"sightings": n, "budget_mb": args.budget, "fit_mb": args.fit, "deep_bytes": sum(parts.values()),
           "ram_bytes": sp.ram_bytes() if hasattr(sp, "ram_bytes") else None, "stats": sp.stats(),
           "process_rss_bytes": _rss(),
           "parts": dict(sorted(((k, v) for k, v in parts.items() if v >= 4096), key=lambda kv: -kv[1]))}
    print(json.dumps(out), flush=True)
    mem.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
