"""``Memory.observe_many`` gives the same answers as the same percepts fed one by one through
``observe``, on longer random streams than test_observe_many.py: labels seen again where they were
and a little off, moving keyed and label-level objects, several places and regions, disc and
rectangle views (negative evidence), late percepts from a second source, events, actions, occupancy;
with the unbudgeted batch path (temporal memory takes the batch) and the fallbacks (a RAM budget, working memory). Every query's
answers, the graph, and the answers after reopening from the snapshot (and from the journal alone)
are compared."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from embodied_mem import Memory, Percept, Pose, Sighting, View
from embodied_mem.memory import MemoryConfig

LABELS = ["key", "apple", "tree", "cup", "chair", "lamp"]
REGIONS = ["kitchen", "hall", "bedroom"]


def stream(seed: int, n: int) -> list:
    """``n`` items: percepts (two sources; ``late`` lags behind ``cam``) and a few fact assertions."""
    rng = random.Random(seed)
    objs = []  # [label, instance or None, x, y]
    for i in range(40):
        inst = f"{LABELS[i % len(LABELS)]}-{i}" if i % 4 == 0 else None
        objs.append([LABELS[i % len(LABELS)], inst, rng.randrange(0, 60) / 2, rng.randrange(0, 40) / 2])
    x = y = 5.0
    t = 0.0
    out = []
    for _ in range(n):
        if rng.random() < 0.03:
            out.append(("fact", (rng.choice(LABELS), "located_in", rng.choice(REGIONS), t)))
            continue
        t += rng.choice([0.0, 0.5, 1.0, 1.0, 2.0])
        if rng.random() < 0.05:  # a jump (another room: a new walk)
            x, y = rng.randrange(0, 60) / 2, rng.randrange(0, 40) / 2
        else:
            x = min(30.0, max(0.0, x + rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0])))
            y = min(20.0, max(0.0, y + rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0])))
        if rng.random() < 0.08:  # something moves (next to the agent, or away)
            o = rng.choice(objs)
            o[2], o[3] = (x + 0.5, y) if rng.random() < 0.5 else (rng.randrange(0, 60) / 2, rng.randrange(0, 40) / 2)
        rad = rng.choice([2.0, 3.0, 4.5])
        seen = [o for o in objs if (o[2] - x) ** 2 + (o[3] - y) ** 2 <= rad * rad]
        sights = []
        for lbl, inst, ox, oy in seen:
            if rng.random() < 0.1:
                continue  # missed
            jit = rng.choice([0.0] * 8 + [0.1, -0.2])  # mostly exactly where it was
            conf = 1.0 if rng.random() < 0.9 else 0.5
            sights.append(Sighting(lbl, (ox + jit, oy, 0.0), instance=inst, confidence=conf))
        if rng.random() < 0.05:  # a label-level sighting of something new
            sights.append(Sighting(rng.choice(LABELS), (x + rng.choice([-1.0, 1.0]), y, 0.0)))
        late = rng.random() < 0.08
        src = "late" if late else "cam"
        tt = max(0.0, t - rng.choice([1.0, 3.0, 6.0])) if late else t
        v = rng.random()
        view = (View.disc((x, y), rad) if v < 0.7 else View.rect(x - rad, y - rad, x + rad, y + rad) if v < 0.8
                else None)
        pose = None if late or rng.random() < 0.05 else Pose(x, y, 0.0, rng.choice([0.0, 0.0, 1.5]))
        out.append(("percept", (src, tt, Percept(
            t=tt, pose=pose, view=view, sightings=tuple(sights), source=src,
            events=("door opened",) if rng.random() < 0.04 else (),
            region=rng.choice([None, REGIONS[int(x // 10) % 3]]),
            free=[[x + 1.0, y]] if rng.random() < 0.2 else None,
            blocked=[[x, y + 2.0]] if rng.random() < 0.1 else None,
            action="open" if rng.random() < 0.05 else None, target="door" if rng.random() < 0.5 else None))))
    # keep each source's times non-decreasing (late percepts: against the last one of their own source)
    last: dict[str, float] = {}
    fixed = []
    for kind, item in out:
        if kind == "percept":
            src, tt, p = item
            if tt < last.get(src, -1.0):
                continue
            last[src] = tt
            item = p
        fixed.append((kind, item))
    return fixed


def feed(mem: Memory, items: list, batch: int | None) -> None:
    """One by one (``batch`` None), else ``observe_many`` in runs of up to ``batch`` percepts."""
    run: list[Percept] = []
    for kind, item in items:
        if kind == "percept":
            if batch is None:
                mem.observe(item)
            else:
                run.append(item)
                if len(run) >= batch:
                    mem.observe_many(run)
                    run = []
            continue
        if run:
            mem.observe_many(run)
            run = []
        s, r, o, t = item
        mem.semantic.assert_fact(s, r, o, t=t)
    if run:
        mem.observe_many(run)


def answers(mem: Memory) -> str:
    sp, tm = mem.spatial, mem.temporal
    out = {
        "locate": {lbl: [repr(x) for x in sp.locate(lbl)] for lbl in LABELS},
        "locate_at": {lbl: [repr(x) for x in sp.locate(lbl, at=40.0)] for lbl in LABELS},
        "history": {lbl: [repr(x) for x in sp.history(lbl)] for lbl in LABELS},
        "count": {lbl: (sp.count(lbl), sp.count(lbl, at=25.0)) for lbl in LABELS},
        "nearest": {lbl: repr(sp.nearest(lbl, (10.0, 10.0))) for lbl in LABELS},
        "follow": {lbl: repr(sp.follow(lbl, (10.0, 10.0), 30.0)) for lbl in LABELS},
        "last": {lbl: (tm.last_seen(lbl), tm.last_seen(lbl, at=30.0)) for lbl in LABELS},
        "between": [repr(e) for e in tm.between(-1, 1e9)],
        "trajectory": repr(sp.trajectory()),
        "walks": repr(sp.walks()),
        "places": [repr(p) for p in sp.places()],
        "regions": sp.regions(),
        "frontiers": sp.frontiers(),
        "cells": [x.tolist() for x in sp.occupancy_cells()],
        "current": sp.current_place,
        "recall": [repr(c) for c in mem.episodic.recall("key apple kitchen door", k=5, strengthen=False)],
        "facts": [repr(f) for f in mem.semantic.facts()],
        "stats": mem.stats(),
        "now": mem.now,
        "graph": mem.graph.to_dict(),
    }
    # recorded_at is the wall clock of each write (two memories fed apart differ in it)
    return re.sub(r'"recorded_at": [0-9.e+-]+', '"recorded_at": _', json.dumps(out, sort_keys=True, default=str))


@pytest.mark.parametrize("seed, n, batch", [(0, 400, 1000), (1, 400, 7), (2, 300, 1), (3, 600, 64)])
def test_batched_ingest_answers_like_one_by_one(tmp_path: Path, seed: int, n: int, batch: int) -> None:
    items = stream(seed, n)
    one = Memory.open(tmp_path / "one.db", durability="batch")
    many = Memory.open(tmp_path / "many.db", durability="batch")
    feed(one, items, None)
    feed(many, items, batch)
    ref = answers(one)
    assert answers(many) == ref
    assert many.spatial.n_sightings == one.spatial.n_sightings > 0
    one.close()
    many.close()
    with Memory.open(tmp_path / "many.db", readonly=True) as again:
        assert again.snapshot_status is None or "not" not in str(again.snapshot_status)
        assert answers(again) == ref
    (tmp_path / "many.db").rename(tmp_path / "replay.db")  # the journal alone (no snapshot beside it)
    with Memory.open(tmp_path / "replay.db", readonly=True) as again:
        assert answers(again) == ref


@pytest.mark.parametrize("config", [{"ram_budget_mb": 1}, {"long_term": {"enabled": False, "working_memory_size": 16}}])
def test_fallbacks_answer_like_one_by_one(tmp_path: Path, config: dict) -> None:
    """A RAM budget (pages: spatial memory files each percept by ``observe``) and working memory
    (the window: the facade applies percept by percept)."""
    items = stream(5, 300)
    cfg = MemoryConfig.from_dict(config)
    one = Memory.open(tmp_path / "one.db", config=cfg, durability="batch")
    many = Memory.open(tmp_path / "many.db", config=cfg, durability="batch")
    feed(one, items, None)
    feed(many, items, 50)
    assert answers(many) == answers(one)
    one.close()
    many.close()

