"""Where durable batched ingest spends its CPU, by step, without a profiler's distortion.

Run: ``.venv/bin/python benchmarks/ingest_split.py --percepts 100000`` (about 1M sightings, the
stream of ``memory_ops.py``); another checkout's code with ``PYTHONPATH=/its/root`` (the line
``code:`` says which was measured). Ingests into a durable (``durability="batch"``) memory file with
``observe`` per percept (``--api observe_many``: per block of 1,000) and charges the CPU
(``process_time``) of every step to one bucket, exclusively (a graph write made by spatial memory
counts as graph, not spatial):

- ``journal encode``: ``Percept.to_dict`` and the store's packing of the row (``store.append``
  minus the SQLite write); ``sqlite write``: the store's ``flush`` (its ``executemany``);
- ``spatial``, ``temporal``, ``episodic``, ``semantic``: each module's ``observe`` (and ``observe_many``);
- ``graph``: every ``MemoryGraph`` call the modules make;
- ``budget``: ``Memory._fit_budget``; ``snapshot``: the periodic snapshot;
- ``gc``: Python's garbage collector (``gc.callbacks``), whoever triggered it (its passes per
  generation are counted too);
- ``facade``: what is left of ``observe`` (time order, locking, dispatch).

Each wrapped call costs about 0.3 µs of its own, charged to the caller's bucket (the facade
mostly), so the facade's share is a little high. A raw ``executemany`` of the same journal rows
(``memory_ops.raw_sqlite``) in the same process is the baseline. Validation of percepts happens
when they are built (``Percept(...)``), before ``observe``: it is timed apart (``--validate``:
building the stream's percepts again from their plain values).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from memory_ops import World, raw_sqlite  # noqa: E402

from embodied_mem import Memory  # noqa: E402
from embodied_mem.percept import Percept  # noqa: E402
from embodied_mem.store import MemoryStore  # noqa: E402

clock = time.process_time


class Split:
    """Exclusive CPU per bucket: entering a bucket charges the time so far to the one it interrupts."""

    def __init__(self) -> None:
        self.sec: dict[str, float] = {}
        self.stack: list[str] = ["outside"]
        self.t = clock()
        self.passes = [0, 0, 0]  # the collector's passes during ingest, per generation

    def enter(self, name: str) -> None:
        now = clock()
        top = self.stack[-1]
        self.sec[top] = self.sec.get(top, 0.0) + now - self.t
        self.stack.append(name)
        self.t = now

    def leave(self) -> None:
        now = clock()
        top = self.stack.pop()
        self.sec[top] = self.sec.get(top, 0.0) + now - self.t
        self.t = now

    def wrap(self, name: str, fn):  # noqa: ANN001, ANN201
        enter, leave = self.enter, self.leave

        def run(*a, **k):  # noqa: ANN002, ANN003, ANN202
            enter(name)
            try:
                return fn(*a, **k)
            finally:
                leave()
        run.__wrapped__ = fn  # type: ignore[attr-defined]
        return run

    def gc_callback(self, phase: str, info: dict) -> None:
        if phase == "start":  # a collection while the stream is generated is not the ingest's
            if len(self.stack) > 1:
                self.passes[info["generation"]] += 1
            self.enter("gc" if len(self.stack) > 1 else "outside")
        else:
            self.leave()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--percepts", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--api", choices=("observe", "observe_many"), default="observe")
    ap.add_argument("--validate", action="store_true", help="also time building the percepts (validation)")
    ap.add_argument("--json", help="write the figures here as JSON")
    a = ap.parse_args(argv)
    if a.percepts < 1:
        ap.error(f"--percepts must be at least 1 (got {a.percepts})")
    tmp = Path(tempfile.mkdtemp(prefix="emsplit-"))
    path = tmp / "m.db"
    sp = Split()
    flush = MemoryStore.flush
    MemoryStore.flush = sp.wrap("sqlite write", flush)  # type: ignore[method-assign]
    MemoryStore.append = sp.wrap("journal encode", MemoryStore.append)  # type: ignore[method-assign]
    MemoryStore.append_many = sp.wrap("journal encode", MemoryStore.append_many)  # type: ignore[method-assign]
    Percept.to_dict = sp.wrap("journal encode", Percept.to_dict)  # type: ignore[method-assign]
    if hasattr(MemoryStore, "percept_payload"):  # the store's own percept form (percept.journal_dict)
        MemoryStore.percept_payload = staticmethod(sp.wrap("journal encode", MemoryStore.percept_payload))
    Memory._fit_budget = sp.wrap("budget", Memory._fit_budget)  # type: ignore[method-assign]
    Memory._write_snapshot = sp.wrap("snapshot", Memory._write_snapshot)  # type: ignore[method-assign]
    mem = Memory.open(path, durability="batch")
    for name in ("spatial", "temporal", "episodic", "semantic"):
        mod = getattr(mem, name)
        mod.observe = sp.wrap(name, mod.observe)
        if hasattr(mod, "observe_many"):  # a module that takes Memory.observe_many's batch in one call
            mod.observe_many = sp.wrap(name, mod.observe_many)
    g = mem.graph
    for name in ("add_node", "add_edge", "edge_data", "edges", "invalidate_data", "set_edges_field", "valid_at",
                 "invalidate"):
        setattr(g, name, sp.wrap("graph", getattr(g, name)))
    gen = World(a.seed)
    done = n_s = 0
    cpu = validate = 0.0
    gc.collect()
    gc.callbacks.append(sp.gc_callback)
    while done < a.percepts:
        block = gen.percepts(min(1000, a.percepts - done))
        if a.validate:
            plain = [q.to_dict() for q in block]
            c0 = clock()
            for d in plain:
                Percept.from_dict(d)
            validate += clock() - c0
        sp.enter("facade")  # (the stream generator's time before it: "outside")
        c0 = clock()
        if a.api == "observe_many":
            mem.observe_many(block)
        else:
            for q in block:
                mem.observe(q)
        if done + len(block) >= a.percepts:
            mem.flush()
        cpu += clock() - c0
        sp.leave()
        n_s += sum(len(q.sightings) for q in block)
        done += len(block)
    gc.callbacks.remove(sp.gc_callback)
    mem.close()
    MemoryStore.flush = flush  # type: ignore[method-assign]
    raw = raw_sqlite(path)
    sec = {k: v for k, v in sp.sec.items() if k != "outside"}
    tot = sum(sec.values())
    res = {"percepts": a.percepts, "sightings": n_s, "api": a.api, "cpu_s": cpu,
           "sightings_per_s": n_s / cpu, "raw_executemany_cpu_s": raw["raw_executemany_cpu_s"],
           "ratio": cpu / raw["raw_executemany_cpu_s"], "split_s": sec, "validate_cpu_s": validate,
           "gc_passes": sp.passes}
    import embodied_mem

    print(f"code: {Path(embodied_mem.__file__).parent}")
    print(f"{n_s:,} sightings in {a.percepts:,} percepts: {cpu:.2f} CPU s, {n_s / cpu:,.0f} sightings/s, "
          f"{cpu / raw['raw_executemany_cpu_s']:.1f}x raw executemany ({raw['raw_executemany_cpu_s']:.3f} CPU s)")
    print(f"  (the collector's passes during ingest, generations 0 / 1 / 2: {' / '.join(map(str, sp.passes))})")
    for k, v in sorted(sec.items(), key=lambda kv: -kv[1]):
        print(f"  {k:15s} {v:7.2f} s  {v / tot:5.1%}  {v / n_s * 1e6:6.2f} µs/sighting")
    if a.validate:
        print(f"  (building the percepts again from plain values, i.e. validation: {validate:.2f} s, "
              f"{validate / n_s * 1e6:.2f} µs/sighting; not part of observe)")
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
