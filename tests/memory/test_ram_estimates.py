"""The modules' RAM estimates (``ram_bytes()``, what ``memory.ram_budget_mb``'s controller counts)
stay close to what tracemalloc sees each module's file(s) allocate, on a stream of an agent
wandering among objects (sightings, poses, events, regions, episodes closing into chunks).

The budget controller leaves ``longterm.ESTIMATE_SHARE`` of the budget to the estimates and the rest to
what no estimate sees (allocator overhead, SQLite's cache); that split is only right while the
estimates track the real allocations. The graph's estimate is deliberately high (constants per node
and edge; ~1.3-1.4x on this stream), the others within 25 %.
"""

from __future__ import annotations

import gc
import random
import tracemalloc

from embodied_mem import Memory, Percept, Pose, Sighting, View

FILES = {"spatial": ("memory/spatial.py",), "temporal": ("memory/temporal.py",),
         "episodic": ("memory/episodic.py", "memory/chunkcolumns.py", "memory/keycolumns.py"),
         "graph": ("graph.py",)}
NOUNS = ["cup", "key", "tree", "apple", "book", "chair"]


def wander(mem: Memory, n: int, seed: int = 1) -> None:
    """``n`` percepts of an agent drifting along a 40-unit-wide strip of objects (one per 2x2 cell),
    seeing those within 3.6 units; one object in 50 is a keyed instance; an event every 25 steps."""
    rng, x, y = random.Random(seed), 0.0, 20.0
    for i in range(n):
        x += 0.25 + rng.uniform(-1.5, 1.5)
        y = min(max(y + rng.uniform(-1.5, 1.5), 0.0), 40.0)
        seen = []
        for cx in range(int((x - 3.6) // 2), int((x + 3.6) // 2) + 1):
            for cy in range(int((y - 3.6) // 2), int((y + 3.6) // 2) + 1):
                r = random.Random(hash((seed, cx, cy)) & 0xFFFFFFFF)
                ox, oy = (cx + r.random()) * 2, (cy + r.random()) * 2
                if (ox - x) ** 2 + (oy - y) ** 2 <= 3.6 ** 2 and 0 <= oy <= 40:
                    noun = NOUNS[r.randrange(len(NOUNS))]
                    inst = f"{noun}-{cx}-{cy}" if r.randrange(50) == 0 else None
                    seen.append(Sighting(f"{noun}_{int(ox // 20)}", (ox, oy, 0.0), instance=inst))
        events = (f"found {seen[0].label}",) if i % 25 == 0 and seen else ()
        mem.observe(Percept(t=float(i + 1), pose=Pose(x, y, 0.0, 0.0), sightings=tuple(seen),
                            view=View.disc((x, y), 3.6), events=events, region=f"r{int(x // 25) % 5}", source="t"))


def traced_by_module() -> dict[str, int]:
    gc.collect()
    by = dict.fromkeys(FILES, 0)
    for st in tracemalloc.take_snapshot().statistics("filename"):
        f = st.traceback[0].filename.replace("\\", "/")
        for k, files in FILES.items():
            if any(f.endswith("embodied_mem/" + x) for x in files):
                by[k] += st.size
    return by


def test_each_modules_estimate_tracks_its_traced_allocations(tmp_path):
    tracemalloc.start()
    try:
        mem = Memory.open(tmp_path / "m.db", durability="batch")
        wander(mem, 1500)
        traced, est = traced_by_module(), mem.ram_bytes()
        mem.close()
    finally:
        tracemalloc.stop()
    assert all(v > 100_000 for v in traced.values()), traced  # each module really holds something
    ratios = {k: est[k] / traced[k] for k in FILES}
    for k in ("spatial", "temporal", "episodic"):
        assert 0.75 <= ratios[k] <= 1.25, (k, ratios, est, traced)
    assert 1.0 <= ratios["graph"] <= 1.6, (ratios, est, traced)  # never under: the controller relies on it
