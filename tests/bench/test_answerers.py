"""The four answerers on a hand-made percept stream whose answers are known by construction."""

from __future__ import annotations

import pytest

from embodied_mem import Percept, Pose, Sighting, View
from embodied_mem.bench.answerers import (
    EmbodiedMemAnswerer,
    FifoAnswerer,
    FullLogAnswerer,
    VectorStoreAnswerer,
    answer_from_log,
    deep_sizeof,
    to_record,
)
from embodied_mem.bench.questions import Question, score

VIEW = View.rect(-1, -3, 9, 4)


def stream() -> list[Percept]:
    """A cow walks 5 -> 6 -> 7 and is then gone; a tree at (2, 2) is cut at t=4; water appears at t=4."""
    S = Sighting
    seen = [
        [S("tree", (2, 2)), S("cow", (5, 0))],
        [S("tree", (2, 2)), S("cow", (5, 0))],
        [S("tree", (2, 2)), S("cow", (6, 0))],
        [S("tree", (2, 2)), S("tree", (3, 3)), S("cow", (7, 0))],
        [S("tree", (3, 3)), S("water", (1, 1))],
        [S("water", (1, 1))],
        [S("water", (1, 1))],
        [S("tree", (3, 3)), S("water", (1, 1))],
    ]
    near_water = View.rect(0, 0, 1.5, 1.5)  # at t = 5, 6 the agent looks only at the water
    return [Percept(t=float(t), pose=Pose(float(t) * 0.1, 0.0), sightings=s,
                    view=near_water if t in (5, 6) else VIEW, source="test") for t, s in enumerate(seen)]


def Q(qtype: str, answer, **params) -> Question:
    return Question(id=qtype, world="test", length=8, type=qtype, text=f"{qtype} {params}", answer=answer,
                    units="", params={"tolerance": 0.5, "miss_penalty": 100.0, **params})


QUESTIONS = [
    Q("position", [7.0, 0.0], label="cow"),
    Q("as_of_position", [5.0, 0.0], label="cow", t=1),
    Q("time", 4.0, label="water"),
    Q("binary", True, a="cow", b="water"),
    Q("binary", False, a="water", b="cow"),
    Q("binary", False, a="diamond", b="cow"),
    Q("duration", 3.0, label="tree"),  # some tree was seen at t = 0, 1, 2, 3, 4, then 7
    Q("count", 2, label="tree"),
    Q("change", None, label="cow", t=0, position=[5.0, 0.0]),
    Q("change", None, label="tree", t=0, position=[2.0, 2.0]),
    Q("change", [3.0, 3.0], label="tree", t=3, position=[3.0, 3.0]),
    Q("order", ["cow", "water"], labels=["water", "cow", "diamond"]),
]


def fed(answerer):
    for p in stream():
        answerer.observe(p)
    return answerer


@pytest.mark.parametrize("make", [EmbodiedMemAnswerer, FullLogAnswerer, lambda: FifoAnswerer(100)],
                         ids=["embodied_mem", "full_log", "fifo_100"])
def test_exact_answerers_get_every_hand_made_question_right(make) -> None:
    a = fed(make())
    for q in QUESTIONS:
        got = a.answer(q)
        assert score(q, got)["correct"], (q.type, q.params, got, q.answer)


def test_a_short_fifo_forgets_and_a_small_vector_store_misses() -> None:
    fifo = fed(FifoAnswerer(3))
    assert fifo.answer(Q("time", 0.0, label="cow")) is None  # the cow left the window
    assert fifo.answer(Q("count", 2, label="tree")) == 1
    vec = fed(VectorStoreAnswerer(k=1))
    hits = vec.retrieve("When did you first see a water?")
    assert len(hits) == 1 and any(lbl == "water" for lbl, _, _ in hits[0].sightings)
    assert vec.answer(Q("count", 2, label="tree")) == 1  # one retrieved percept cannot hold both trees
    full = fed(VectorStoreAnswerer(k=100))  # retrieving everything makes it exact
    assert all(score(q, full.answer(q))["correct"] for q in QUESTIONS)


def test_robot_questions_on_a_hand_made_trajectory() -> None:
    # still for 2 s, then 1 m/s along x for 3 s, then still again
    xs = [0, 0, 0, 1, 2, 3, 3, 3]
    ps = [Percept(t=float(t), pose=Pose(float(x), 0.0), source="odom") for t, x in enumerate(xs)]
    qs = [Q("robot_position", [2.0, 0.0], t=4.5), Q("distance", 2.0, t0=2.0, t1=4.0),
          Q("standstill", 4.0, t0=0.0, t1=7.0, max_speed=0.01, max_turn_rate=0.02),
          Q("closest_time", 4.0, point=[2.1, 0.5])]
    for a in (EmbodiedMemAnswerer(), FullLogAnswerer()):
        for p in ps:
            a.observe(p)
        for q in qs:
            assert score(q, a.answer(q))["correct"], (a.name, q.type, a.answer(q))
    recs = [to_record(p) for p in ps]
    assert answer_from_log(Q("robot_position", None, t=-1.0), recs) is None


def test_bad_settings_are_refused_and_footprint_grows() -> None:
    with pytest.raises(ValueError, match="k"):
        FifoAnswerer(0)
    with pytest.raises(ValueError, match="k"):
        VectorStoreAnswerer(k=-1)
    a = FullLogAnswerer()
    before = deep_sizeof(a)
    fed(a)
    assert deep_sizeof(a) > before
