"""Crafter questions: answers agree with ground truth recomputed independently (Crafter's own semantic map).

One short stream (900 steps, several respawns) is shared by the tests of this module.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("crafter")
pytest.importorskip("gymnasium")

from embodied_mem.bench.answerers import make_answerers  # noqa: E402
from embodied_mem.bench.crafter_qa import CrafterTruth, crafter_questions, crafter_stream  # noqa: E402
from embodied_mem.bench.questions import CRAFTER_TYPES, score  # noqa: E402

N = 900
GROUND = {"grass", "sand", "path", "player", None}


@pytest.fixture(scope="module")
def run():
    truth = CrafterTruth()
    seen: list[tuple[int, dict[str, set[tuple[int, int]]]]] = []  # per awake step: label -> cells, from crafter's map

    def inspect(t, env):
        if env._player.sleeping:
            return
        sem = env._sem_view()  # Crafter's own semantic map: material ids, then object-type ids
        names = {i: n for n, i in env._sem_view._mat_ids.items()}
        names.update({i: c.__name__.lower() for c, i in env._sem_view._obj_ids.items()})
        px, py = env._player.pos
        cells: dict[str, set[tuple[int, int]]] = {}
        for x in range(px - 4, px + 5):
            for y in range(py - 3, py + 4):
                if 0 <= x < sem.shape[0] and 0 <= y < sem.shape[1]:
                    name = names[int(sem[x, y])]
                    if name not in GROUND:
                        cells.setdefault(name, set()).add((x, y))
        seen.append((t, cells))

    answerers = make_answerers(fifo_k=100, vector_k=8, vector_dim=128)
    percepts = 0
    for p in crafter_stream(N, seed=3, truth=truth, inspect=inspect):
        percepts += 1
        for a in answerers:
            a.observe(p)
    qs = crafter_questions(truth, N, per_type=6, seed=1)
    return truth, seen, answerers, qs, percepts


def test_stream_length_respawns_and_every_question_type(run) -> None:
    truth, seen, answerers, qs, percepts = run
    assert percepts == N and truth.steps == N
    assert truth.respawns, "a 900-step blind walk should die (and respawn) at least once"
    assert {q.type for q in qs} == set(CRAFTER_TYPES)
    assert len({q.id for q in qs}) == len(qs)
    assert crafter_questions(truth, N, per_type=6, seed=1) == qs  # seeded: the same questions again


def _independent(qtype: str, params: dict, seen) -> object:
    """Ground truth from Crafter's semantic map (plants merged: the map does not tell ripe ones)."""
    def cells(step, label):
        return step.get(label, set())

    if qtype in ("position", "as_of_position"):
        upto = params.get("t", np.inf)
        for t, step in reversed(seen):
            if t <= upto and cells(step, params["label"]):
                (c,) = cells(step, params["label"])
                return [float(c[0]), float(c[1])]
        return None
    firsts: dict[str, int] = {}
    times: dict[str, list[int]] = {}
    for t, step in seen:
        for label in step:
            firsts.setdefault(label, t)
            times.setdefault(label, []).append(t)
    if qtype == "time":
        return float(firsts[params["label"]])
    if qtype == "binary":
        a, b = params["a"], params["b"]
        return a in firsts and firsts[a] < firsts[b]
    if qtype == "order":
        return sorted(params["labels"], key=lambda n: firsts[n])
    if qtype == "duration":
        return float(max(np.diff(times[params["label"]])))
    if qtype == "count":
        return len(set().union(*(cells(step, params["label"]) for _, step in seen)))
    raise AssertionError(qtype)


def test_answers_agree_with_crafters_own_semantic_map(run) -> None:
    truth, seen, answerers, qs, _ = run
    checked = 0
    for q in qs:
        labels = {v for k, v in q.params.items() if k in ("label", "a", "b")} | set(q.params.get("labels", []))
        if q.type == "change" or labels & {"plant", "ripe_plant"}:
            continue
        assert _independent(q.type, q.params, seen) == q.answer, (q.text, q.answer)
        checked += 1
    assert checked >= 30


def test_change_answers_are_consistent_with_the_semantic_map(run) -> None:
    truth, seen, answerers, qs, _ = run
    for q in (q for q in qs if q.type == "change"):
        label, t0 = q.params["label"], q.params["t"]
        x0, y0 = (int(v) for v in q.params["position"])
        assert any(t == t0 and (x0, y0) in step.get(label, ()) for t, step in seen), q.text
        if q.answer is not None:  # it was seen there after t0
            ax, ay = (int(v) for v in q.answer)
            assert any(t >= t0 and (ax, ay) in step.get(label, ()) for t, step in seen), q.text


def test_embodied_mem_is_exact_and_every_baseline_is_worse_somewhere(run) -> None:
    truth, seen, answerers, qs, _ = run
    acc: dict[str, dict[str, list[bool]]] = {}
    for a in answerers:
        for q in qs:
            acc.setdefault(a.name, {}).setdefault(q.type, []).append(score(q, a.answer(q))["correct"])
    mean = {a: {t: sum(v) / len(v) for t, v in d.items()} for a, d in acc.items()}
    for qt in ("position", "as_of_position", "binary", "time", "duration", "count", "order"):
        assert mean["embodied_mem"][qt] == 1.0, (qt, mean["embodied_mem"])
        assert mean["full_log"][qt] == 1.0, (qt, mean["full_log"])
    for name in ("fifo_100", "vector_top8"):
        assert min(mean[name].values()) < 1.0, (name, mean[name])


def test_questions_beyond_the_stream_are_refused(run) -> None:
    truth = run[0]
    with pytest.raises(ValueError, match="exceeds"):
        crafter_questions(truth, N + 1)
    with pytest.raises(ValueError, match="length"):
        next(crafter_stream(0))
