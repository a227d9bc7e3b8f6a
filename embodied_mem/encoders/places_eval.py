"""Measuring learned chunk keys and place recognition on the agent's own Crafter experience.

Percepts are built from what the agent senses in Crafter (the 9×7 local semantic view around it,
see ``tasks.crafter_walk``): one label-level sighting per visible non-grass cell, at its world
cell (x, y), with the view rectangle as negative evidence. They go through the real ``Memory``.

Protocol of :func:`crafter_key_benchmark`, for each key encoder (hashing vs place_transformer):

1. memory: the first half of each evaluation walk is observed into a ``Memory`` (episodic chunks
   end on a place change; places are spatial memory's, ``place_radius`` cells apart);
2. queries: every later step; its "true place" is ``memory.spatial.place_of(true position)``
   (None = the agent is somewhere it has not been);
3. recall@k: for queries at a known place, ``episodic.recall(percept text, k)`` (retention and
   utility weights 0: keys only) hits if a returned chunk happened at the true place;
4. recognition: ``recognize_place`` with a threshold picked for best F1 on a separate
   calibration walk; precision = correct answers / answers, recall = correct / known-place queries.

Key training walks, the calibration walk and evaluation walks use disjoint Crafter seeds.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ..percept import Percept, Pose, Sighting, View
from .tasks import CRAFTER_NAMES, VIEW_H, VIEW_W, crafter_walk

__all__ = ["crafter_percepts", "crafter_key_benchmark", "TRAIN_SEED0", "CALIB_SEED", "EVAL_SEED0"]

TRAIN_SEED0, CALIB_SEED, EVAL_SEED0 = 100, 800, 900
_SKIP = {None, "grass", "player"}


def crafter_percepts(walk: dict[str, np.ndarray], source: str = "crafter") -> list[Percept]:
    """One ``Percept`` per step of a ``crafter_walk``: pose (cells), sightings, view rectangle."""
    out = []
    for t, ((x, y), view) in enumerate(zip(walk["pos"].tolist(), walk["view"])):
        sightings = []
        for r in range(VIEW_H):
            for c in range(VIEW_W):
                name = CRAFTER_NAMES[int(view[r, c])]
                if name not in _SKIP:
                    sightings.append(Sighting(name, (x + c - VIEW_W // 2, y + r - VIEW_H // 2)))
        out.append(Percept(t=float(t), pose=Pose(float(x), float(y)), sightings=tuple(sightings),
                           view=View.rect(x - 4, y - 3, x + 4, y + 3), source=source))
    return out


def _memory(percepts: list[Percept], encoder: Any) -> Any:
    from ..memory.facade import Memory

    cfg = {"episodic": {"retention_weight": 0.0, "utility_weight": 0.0}}
    mem = Memory(cfg, encoder=encoder)
    for p in percepts:
        mem.observe(p)
    return mem


def _queries(walk_percepts: list[Percept], split: int, encoder: Any) -> tuple[Any, list[tuple[Percept, str | None]]]:
    mem = _memory(walk_percepts[:split], encoder)
    qs = []
    for p in walk_percepts[split:]:
        place = mem.spatial.place_of(p.pose.position)
        qs.append((p, place.id if place is not None else None))
    return mem, qs


def _recognition_scores(mem: Any, qs: list[tuple[Percept, str | None]], encoder: Any) -> list[tuple[float, str | None, str | None]]:
    """(best similarity, best place, true place) per query."""
    from .keys import place_keys

    places, keys = place_keys(mem, encoder)
    out = []
    if not places:
        return [(-1.0, None, truth) for _, truth in qs]
    q = encoder.encode([p.text() for p, _ in qs])
    sims = q @ keys.T
    for i, (_, truth) in enumerate(qs):
        j = int(np.argmax(sims[i]))
        out.append((float(sims[i, j]), places[j], truth))
    return out


def _pr(scores: list[tuple[float, str | None, str | None]], thr: float) -> tuple[float, float, float]:
    answered = [(b, t) for s, b, t in scores if s >= thr]
    correct = sum(1 for b, t in answered if t is not None and b == t)
    known = sum(1 for _, _, t in scores if t is not None)
    p = correct / len(answered) if answered else 1.0
    r = correct / known if known else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def crafter_key_benchmark(*, train_walks: int = 6, eval_walks: int = 3, walk_length: int = 600,
                          train_steps: int = 400, seed: int = 0, save_to: str | Path | None = None,
                          trainer: Any = None, progress: bool = True) -> dict[str, Any]:
    """Train the label-bag key encoder on Crafter walks and compare it with hashing (see module doc)."""
    from ..memory.featurize import HashingFeaturizer
    from .keys import train_place_keys

    trainer = trainer or train_place_keys
    t0 = time.perf_counter()
    train = [crafter_percepts(crafter_walk(TRAIN_SEED0 + i, walk_length)) for i in range(train_walks)]
    walks = [([p.text() for p in ps], np.array([[p.pose.x, p.pose.y] for p in ps])) for ps in train]
    learned = trainer(walks, steps=train_steps, seed=seed, progress=progress)
    train_s = time.perf_counter() - t0
    if save_to is not None:
        learned.save(save_to)
    calib = crafter_percepts(crafter_walk(CALIB_SEED, walk_length))
    evals = [crafter_percepts(crafter_walk(EVAL_SEED0 + i, walk_length)) for i in range(eval_walks)]
    results: dict[str, Any] = {}
    n_recall = n_rec = n_known = 0
    for name, enc in (("hashing", HashingFeaturizer(256)), ("place_transformer", learned)):
        mem, qs = _queries(calib, len(calib) // 2, enc)
        cal = _recognition_scores(mem, qs, enc)
        grid = np.round(np.arange(0.3, 1.0001, 0.01), 2)
        thr = float(max(grid, key=lambda th: _pr(cal, th)[2]))
        hits = {1: 0, 5: 0}
        n_recall = 0
        scores = []
        for ps in evals:
            mem, qs = _queries(ps, len(ps) // 2, enc)
            scores += _recognition_scores(mem, qs, enc)
            for p, truth in qs:
                if truth is None:
                    continue
                n_recall += 1
                got = [c.place for c in mem.episodic.recall(p.text(), k=5, strengthen=False)]
                hits[1] += truth in got[:1]
                hits[5] += truth in got[:5]
        prec, rec, f1 = _pr(scores, thr)
        n_rec, n_known = len(scores), sum(1 for _, _, t in scores if t is not None)
        results[name] = {"recall@1": hits[1] / max(n_recall, 1), "recall@5": hits[5] / max(n_recall, 1),
                         "precision": prec, "recall": rec, "f1": f1, "threshold": thr}
    desc = (f"{train_walks} Crafter walks of {walk_length} steps train the keys ({train_steps} steps); "
            f"{eval_walks} other walks: the first half is observed into `Memory`, every later step is a query "
            "(what the agent sees now). recall@k: a recalled chunk happened at the query's true place. "
            "Recognition: `recognize_place`, threshold chosen for best F1 on a separate calibration walk.")
    return {"description": desc, "results": results, "n_recall_queries": n_recall, "n_recognition_queries": n_rec,
            "n_known": n_known, "train_seconds": round(train_s, 1),
            "settings": {"train_walks": train_walks, "eval_walks": eval_walks, "walk_length": walk_length,
                         "train_steps": train_steps, "seed": seed}}
