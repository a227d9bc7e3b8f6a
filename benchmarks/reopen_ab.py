"""Reopen A/B: the same closed memory file reopened by two checkouts, in fresh processes, turn by turn.

Run: ``python benchmarks/reopen_ab.py --old /path/to/old/checkout --file NEW.db --old-file OLD.db``

``--file`` is a closed memory (with the snapshot the new code wrote at ``close()``), ``--old-file``
a copy of the same journal with the snapshot the old code wrote (each version reads only its own
snapshot format). Each turn runs, each in its own new Python process (as a program that restarts
does): the new code's reopen, then the old code's; each process first reads every journal row raw
(``SELECT`` + ``fetchall``: the baseline, measured in the same process just before) and then calls
``Memory.open(path, readonly=True)``. Reported: CPU and wall seconds, best and median over the
turns, and the reopen / raw-read ratio of the best. The load average is printed: on a shared
machine compare CPU seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memory_ops import FRESH_REOPEN  # noqa: E402 - benchmarks/ is not a package


def python_of(checkout: Path) -> str:
    venv = checkout / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def one(checkout: Path, path: Path) -> dict:
    cp = subprocess.run([python_of(checkout), "-c", FRESH_REOPEN, str(path)], capture_output=True, text=True, check=True,
                        cwd=checkout)
    return json.loads(cp.stdout.strip().splitlines()[-1])


def summary(runs: list[dict]) -> dict:
    best = min(runs, key=lambda r: r["reopen_cpu_s"])
    raw_best = min(r["raw_read_cpu_s"] for r in runs)
    return {"reopen_cpu_best": best["reopen_cpu_s"], "reopen_cpu_median": statistics.median(r["reopen_cpu_s"] for r in runs),
            "reopen_wall_best": min(r["reopen_s"] for r in runs),
            "reopen_wall_median": statistics.median(r["reopen_s"] for r in runs),
            "raw_read_cpu_best": raw_best, "raw_read_wall_best": min(r["raw_read_s"] for r in runs),
            "ratio_cpu_best": best["reopen_cpu_s"] / raw_best, "status": best["status"],
            "structure_check": best["structure_check"], "timings_of_best": best["timings"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old", type=Path, required=True, help="checkout of the code before the change")
    ap.add_argument("--new", type=Path, default=Path("."))
    ap.add_argument("--file", type=Path, required=True, help="closed memory with the new code's snapshot")
    ap.add_argument("--old-file", type=Path, required=True, help="the same journal with the old code's snapshot")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args(argv)
    runs: dict[str, list[dict]] = {"new": [], "old": []}
    for i in range(args.reps):
        for side, checkout, path in (("new", args.new, args.file), ("old", args.old, args.old_file)):
            r = one(checkout.resolve(), path.resolve())
            runs[side].append(r)
            print(f"{side} rep {i}: reopen {r['reopen_cpu_s']:.3f} CPU s ({r['reopen_s']:.3f} wall), raw read "
                  f"{r['raw_read_cpu_s']:.3f} CPU s, {r['status']}, {r['structure_check']}", flush=True)
    out = {side: summary(rs) for side, rs in runs.items()}
    out["load_average_after"] = os.getloadavg()
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
