"""Reliability run: hostile percepts into ``Memory.observe`` and damaged memory files into ``Memory.open``.

Run: ``.venv/bin/python benchmarks/fuzz.py`` (default budget: 20,000 percepts in 40 memories, 300
damaged files; a few minutes) or ``--percepts N --files M --seed S``. Prints the reliability table
and writes ``benchmarks/results/fuzz.{md,json}``.

- Percepts: hypothesis generates percept dicts (``embodied_mem.bench.fuzz.percept_dicts``: mostly
  plausible, hostile values everywhere) fed through ``Percept.from_dict`` and ``Memory.observe`` into
  file-backed memories (500 each, ``durability="percept"``); each memory is then closed, reopened and
  its answers compared (``lost`` counts differences).
- Files: a small memory (closed cleanly, or with the WAL a crash leaves) is damaged one way
  (``DAMAGES``: bit flips in the database or WAL, truncation, garbage, zeroed or swapped pages,
  poisoned journal rows, dropped tables) and opened for writing and read-only.

Outcomes are defined in ``embodied_mem/bench/fuzz.py``. crashed, hung, state changed and lost must
all be 0.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from embodied_mem.bench.fuzz import (
    DAMAGES,
    OUTCOMES,
    Oracle,
    check_damaged_open,
    copy_memory,
    damage_file,
    make_memory,
    percept_dicts,
)

RESULTS = Path(__file__).resolve().parent / "results"


def fuzz_percepts(n: int, per_memory: int, seed: int, workdir: Path) -> tuple[Counter, dict, Counter]:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hseed

    totals: Counter = Counter({k: 0 for k in OUTCOMES})
    examples: dict = {}
    refusals: Counter = Counter()
    n_mem = max(1, n // per_memory)
    for m in range(n_mem):
        oracle = Oracle(workdir / f"p{m}.db")
        run = given(percept_dicts())(_test_of(oracle))
        run = settings(max_examples=per_memory, deadline=None, database=None,
                       suppress_health_check=list(HealthCheck))(run)
        hseed(seed * 1000 + m)(run)()
        oracle.finish()
        totals.update(oracle.counts)
        refusals.update(oracle.refusals)
        for k, v in oracle.examples.items():
            examples.setdefault(k, v)
        print(f"  memory {m + 1}/{n_mem}: " + ", ".join(f"{k} {totals[k]}" for k in OUTCOMES), flush=True)
    return totals, examples, refusals


def _test_of(oracle: Oracle):
    def run(d) -> None:
        oracle.feed(d)
    return run


def fuzz_files(n: int, seed: int, workdir: Path) -> tuple[Counter, dict, Counter]:
    rng = random.Random(seed)
    totals: Counter = Counter({k: 0 for k in OUTCOMES})
    examples: dict = {}
    by_kind: Counter = Counter()
    templates = []
    for crash in (False, True):
        t = workdir / f"template_{int(crash)}.db"
        make_memory(t, 60, seed, crash)
        templates.append((t, 60))
    for i in range(n):
        src, n_before = templates[i % 2]
        path = workdir / f"f{i}.db"
        copy_memory(src, path)
        kind = damage_file(path, rng, DAMAGES[rng.randrange(len(DAMAGES))])
        outcome, why = check_damaged_open(path, n_before)
        if outcome == "lost" and kind == "truncate_wal":
            outcome = "undetectable"  # see OUTCOMES in embodied_mem/bench/fuzz.py
        totals["tried"] += 1
        totals[outcome] += 1
        by_kind[f"{kind}:{outcome}"] += 1
        if outcome in ("crashed", "hung", "lost"):
            examples.setdefault(outcome, f"{kind}: {why}"[:500])
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return totals, examples, by_kind


def table(rows: list[tuple[str, Counter]]) -> str:
    head = ("| input | tried | accepted | refused cleanly | crashed | hung | state changed | lost "
            "| WAL cut short (undetectable) |")
    sep = "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    lines = [head, sep]
    for name, c in rows:
        lines.append(f"| {name} | {c['tried']:,} | {c['accepted']:,} | {c['refused']:,} | {c['crashed']} | "
                     f"{c['hung']} | {c['state_changed']} | {c['lost']} | {c['undetectable'] if 'files' in name else '–'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--percepts", type=int, default=20_000)
    ap.add_argument("--per-memory", type=int, default=500)
    ap.add_argument("--files", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=RESULTS)
    a = ap.parse_args(argv)
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="embodied-mem-fuzz-") as d:
        work = Path(d)
        print(f"hostile percepts: {a.percepts:,} in memories of {a.per_memory}", flush=True)
        pc, pex, refusals = fuzz_percepts(a.percepts, a.per_memory, a.seed, work)
        print(f"damaged files: {a.files}", flush=True)
        fc, fex, kinds = fuzz_files(a.files, a.seed, work)
    rows = [("percepts into `observe` + reopen", pc), ("damaged files into `Memory.open`", fc)]
    md = table(rows)
    took = time.time() - t0
    print(md)
    bad = {**{f"percepts {k}": v for k, v in pex.items()}, **{f"files {k}": v for k, v in fex.items()}}
    for k, v in bad.items():
        print(f"example {k}: {v}")
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "fuzz.md").write_text(
        f"# Reliability run (benchmarks/fuzz.py --percepts {a.percepts} --files {a.files} --seed {a.seed})\n\n"
        f"{md}\n\nTook {took:.0f} s. Refusal messages by first word: "
        + ", ".join(f"{k} {v}" for k, v in refusals.most_common(12))
        + "\n\nDamaged files by kind:outcome: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) + "\n"
        + ("".join(f"\nexample {k}: {v}\n" for k, v in bad.items())))
    (a.out / "fuzz.json").write_text(json.dumps({"percepts": pc, "files": fc, "examples": bad,
                                                 "refusals": refusals, "damage_outcomes": kinds,
                                                 "seconds": took, "args": vars(a) | {"out": str(a.out)}},
                                                indent=2, default=str))
    failed = sum(c[k] for _, c in rows for k in ("crashed", "hung", "state_changed", "lost"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
