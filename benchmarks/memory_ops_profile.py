"""Where reopen and durable batched ingest spend their time, by module (cProfile, tracemalloc).

Run: ``.venv/bin/python benchmarks/memory_ops_profile.py --percepts 100000`` (about 1M sightings,
the stream of ``memory_ops.py``). Writes ``benchmarks/results/memory_ops_profile.{json,md}``.

Measured on one durable (``durability="batch"``) memory file:

- ingest: ``Memory.observe`` of every percept plus the final ``flush``, under cProfile; the
  self time of every function summed per source file (so ``spatial.py`` is spatial memory's own
  Python code; C built-ins are attributed to the file that called them);
- the snapshot written by ``close()``: its payload size per part (graph, each module, facade);
- reopen: ``Memory.open(readonly=True)`` under cProfile, grouped the same way; each snapshot
  part's unpickling time on its own and the RAM it holds once loaded (tracemalloc);
- beside them, in the same run, a raw read of every journal row and a raw ``executemany`` of the
  same rows (``memory_ops.raw_sqlite``).

cProfile roughly doubles the cost of Python calls and times with the wall clock (other jobs on a
shared machine inflate it), so its per-file seconds are shares, not speeds; the wall and CPU times
without the profiler are given as well. A periodic snapshot (``memory.snapshot_every``) written
during ingest counts in the ingest (``snapshot.py``, the pickler's ``dump``).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import sys
import tempfile
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from memory_ops import RESULTS, World, raw_sqlite  # noqa: E402

from embodied_mem import Memory  # noqa: E402
from embodied_mem.memory import snapshot as snapmod  # noqa: E402


def _group(path: str) -> str:
    if "embodied_mem" in path:
        return path[path.rindex("embodied_mem"):]
    if path.startswith("~") or path == "":
        return "(C built-ins called from Python)"
    if "site-packages" in path:
        return path[path.index("site-packages") + len("site-packages/"):].split("/")[0]
    if "/lib/python" in path:
        return "stdlib:" + Path(path).name
    return Path(path).name


def by_file(prof: cProfile.Profile) -> list[tuple[str, float]]:
    """Self time (s) per source file, C functions attributed to their callers' files."""
    st = pstats.Stats(prof)
    out: dict[str, float] = defaultdict(float)
    for (fname, _line, func), (_cc, _nc, tt, _ct, callers) in st.stats.items():  # type: ignore[attr-defined]
        if fname == "~":  # a built-in: charge it to the callers, in proportion to their calls' time
            tot = sum(c[2] for c in callers.values()) or 1.0
            if not callers:
                out[f"(built-in {func})"] += tt
            for (cf, _cl, _cfn), c in callers.items():
                out[_group(cf)] += tt * (c[2] / tot)
        else:
            out[_group(fname)] += tt
    return sorted(out.items(), key=lambda kv: -kv[1])


def top_functions(prof: cProfile.Profile, n: int = 25) -> list[tuple[str, float, float, int]]:
    st = pstats.Stats(prof)
    rows = []
    for (fname, line, func), (_cc, nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        rows.append((f"{_group(fname)}:{line}({func})", tt, ct, nc))
    rows.sort(key=lambda r: -r[1])
    return rows[:n]


class _PartPickler(snapmod._Pickler):
    """One part of the state, the shared graph left out (counted once, as its own part)."""

    def __init__(self, f: io.BytesIO, graph: object) -> None:
        super().__init__(f, protocol=5)
        self.graph = graph

    def persistent_id(self, obj: object) -> str | None:
        return "graph" if self.graph is not None and obj is self.graph else None


class _PartUnpickler(snapmod._SafeUnpickler):
    def persistent_load(self, pid: object) -> None:
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--percepts", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--name", default="memory_ops_profile")
    ap.add_argument("--no-tracemalloc", action="store_true")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="emprof-"))
    path = tmp / "m.db"
    res: dict = {"percepts": args.percepts, "load": os.getloadavg()}

    # ---- ingest (plain, then profiled on a second file)
    for profiled in (False, True):
        p = tmp / ("prof.db" if profiled else "m.db")
        mem = Memory.open(p, durability="batch")
        gen = World(args.seed)
        prof = cProfile.Profile() if profiled else None
        dt = dc = 0.0
        n_s = done = 0
        gc.collect()
        while done < args.percepts:
            block = gen.percepts(min(1000, args.percepts - done))
            c0, t0 = time.process_time(), time.perf_counter()
            if prof:
                prof.enable()
            for q in block:
                mem.observe(q)
            if done + len(block) >= args.percepts:
                mem.flush()
            if prof:
                prof.disable()
            dt += time.perf_counter() - t0
            dc += time.process_time() - c0
            n_s += sum(len(q.sightings) for q in block)
            done += len(block)
        key = "ingest_profiled" if profiled else "ingest"
        res[f"{key}_s"], res[f"{key}_cpu_s"], res["sightings"] = dt, dc, n_s
        if profiled:
            res["ingest_by_file"] = by_file(prof)
            res["ingest_top"] = top_functions(prof)
            mem._store.close()  # type: ignore[union-attr]  # no snapshot of the profiled copy
            os.unlink(p)
        else:
            # the snapshot's parts
            state = mem._state()
            parts = {}
            for k, v in state.items():
                buf = io.BytesIO()
                c0 = time.process_time()
                _PartPickler(buf, state["graph"] if k != "graph" else None).dump(v)
                pc = time.process_time() - c0
                b = buf.getvalue()
                gc.disable()
                c0 = time.process_time()
                obj = _PartUnpickler(io.BytesIO(b)).load()
                uc = time.process_time() - c0
                del obj
                ram = float("nan")
                if not args.no_tracemalloc:
                    tracemalloc.start(1)
                    obj = _PartUnpickler(io.BytesIO(b)).load()
                    ram = tracemalloc.get_traced_memory()[0] / 1e6
                    tracemalloc.stop()
                    del obj
                gc.enable()
                parts[k] = {"mb": len(b) / 1e6, "pickle_cpu_s": pc, "unpickle_cpu_s": uc, "ram_mb": ram}
            res["snapshot_parts"] = parts
            del state
            c0, t0 = time.process_time(), time.perf_counter()
            mem.close()
            res["close_s"], res["close_cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
            del mem
    gc.collect()
    res.update(raw_sqlite(path))

    # ---- reopen, plain then profiled
    gc.collect()
    c0, t0 = time.process_time(), time.perf_counter()
    rm = Memory.open(path, readonly=True)
    res["reopen_s"], res["reopen_cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
    res["reopen_status"] = rm.snapshot_status
    res["reopen_timings"] = dict(rm.open_timings)
    rm.close()
    del rm
    gc.collect()
    prof = cProfile.Profile()
    prof.enable()
    rm = Memory.open(path, readonly=True)
    prof.disable()
    rm.close()
    del rm
    gc.collect()
    res["reopen_by_file"] = by_file(prof)
    res["reopen_top"] = top_functions(prof)
    res["db_mb"] = path.stat().st_size / 1e6
    (RESULTS / f"{args.name}.json").write_text(json.dumps(res, indent=1))
    (RESULTS / f"{args.name}.md").write_text(markdown(res))
    print(markdown(res))
    return 0


def markdown(r: dict) -> str:
    L = [f"# Where reopen and durable ingest spend their time ({r['sightings']:,} sightings, {r['percepts']:,} percepts)",
         "", f"Command: `python benchmarks/memory_ops_profile.py --percepts {r['percepts']}`; load average at the "
         f"start {r['load'][0]:.1f} (2 shared cores, other helpers' jobs running: absolute times are disturbed, the "
         "ratios and shares are what to read).", "",
         "| | wall s | CPU s | raw SQLite baseline, same rows, same run (CPU s) | ratio (CPU) |", "|---|---:|---:|---:|---:|",
         f"| durable batched ingest | {r['ingest_s']:.2f} | {r['ingest_cpu_s']:.2f} | executemany {r['raw_executemany_cpu_s']:.3f} "
         f"| {r['ingest_cpu_s'] / r['raw_executemany_cpu_s']:.0f}× |",
         f"| reopen (snapshot: {r['reopen_status']}) | {r['reopen_s']:.2f} | {r['reopen_cpu_s']:.2f} | read "
         f"{r['raw_read_cpu_s']:.3f} | {r['reopen_cpu_s'] / max(r['raw_read_cpu_s'], 1e-9):.1f}× |",
         f"| close (flush + snapshot) | {r['close_s']:.2f} | {r['close_cpu_s']:.2f} | | |", "",
         f"Ingest at {r['sightings'] / r['ingest_cpu_s']:,.0f} sightings per CPU second "
         f"({r['ingest_cpu_s'] / r['sightings'] * 1e6:.1f} µs per sighting; raw executemany "
         f"{r['raw_executemany_cpu_s'] / r['sightings'] * 1e6:.2f} µs per sighting).", "",
         "## Durable batched ingest: self time per source file (cProfile)", "",
         f"Profiled run {r['ingest_profiled_cpu_s']:.1f} s CPU (the profiler's own overhead included); seconds are "
         "cProfile's (wall clock, on a loaded machine): read the shares. Built-ins (dict.get, array.append, "
         "the pickler) are charged to the file that called them.", "",
         "| file | s | share |", "|---|---:|---:|"]
    tot = sum(v for _, v in r["ingest_by_file"]) or 1
    for f, v in r["ingest_by_file"][:18]:
        L.append(f"| {f} | {v:.2f} | {v / tot:.0%} |")
    L += ["", "Top functions by self time:", "", "| function | self s | cumulative s | calls |", "|---|---:|---:|---:|"]
    for f, tt, ct, nc in r["ingest_top"][:20]:
        L.append(f"| `{f}` | {tt:.2f} | {ct:.2f} | {nc:,} |")
    L += ["", "## Snapshot payload by part (each part pickled and unpickled on its own, the shared graph only in its own row)", "",
          "RAM: what the unpickled part holds (tracemalloc).", "",
          "| part | MB | pickle CPU s | unpickle CPU s | RAM MB |", "|---|---:|---:|---:|---:|"]
    for k, v in r["snapshot_parts"].items():
        L.append(f"| {k} | {v['mb']:.1f} | {v['pickle_cpu_s']:.2f} | {v['unpickle_cpu_s']:.2f} | {v['ram_mb']:.0f} |")
    L += ["", "## Reopen: self time per source file (cProfile)", "", "| file | s | share |", "|---|---:|---:|"]
    tot = sum(v for _, v in r["reopen_by_file"]) or 1
    for f, v in r["reopen_by_file"][:15]:
        L.append(f"| {f} | {v:.3f} | {v / tot:.0%} |")
    L += ["", "Top functions by self time:", "", "| function | self s | cumulative s | calls |", "|---|---:|---:|---:|"]
    for f, tt, ct, nc in r["reopen_top"][:15]:
        L.append(f"| `{f}` | {tt:.3f} | {ct:.3f} | {nc:,} |")
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
