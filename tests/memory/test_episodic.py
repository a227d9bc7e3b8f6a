"""Episodic memory: chunking (place change, max size, episodes), hierarchical recall, retention and utility."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from embodied_mem import Memory, Percept, Pose, Sighting
from embodied_mem.graph import MemoryGraph
from embodied_mem.memory.config import EpisodicConfig
from embodied_mem.memory.episodic import EpisodicMemory


def walk(mem: Memory) -> None:
    mem.observe(Percept(t=0, pose=Pose(0, 0), region="kitchen", sightings=[Sighting("apple", (1, 0))]))
    mem.observe(Percept(t=1, pose=Pose(0, 1), region="kitchen", sightings=[Sighting("knife", (1, 1))]))
    mem.observe(Percept(t=2, pose=Pose(10, 0), region="hall", sightings=[Sighting("key", (11, 0))]))
    mem.observe(Percept(t=3, pose=Pose(20, 0), region="bedroom", sightings=[Sighting("pillow", (21, 0))],
                        events=["made the bed"]))


def test_chunks_end_on_place_change_and_at_max_size():
    mem = Memory({"episodic": {"max_chunk_size": 2}})
    walk(mem)
    ep = mem.episodic
    assert ep.chunks() == ["chunk-0", "chunk-1", "chunk-2"]
    assert [it.t for it in ep.chunk_items("chunk-0")] == [0, 1]
    for t in (4, 5, 6):
        mem.observe(Percept(t=t, pose=Pose(20, 0), region="bedroom"))
    assert [len(ep.chunk_items(c)) for c in ep.chunks()] == [2, 1, 2, 2]  # max_chunk_size 2
    assert mem.graph.node("chunk-0")["kind"] == "chunk"
    assert ("chunk-0", "episode-0") in mem.graph.nx.edges()


def test_new_episode_closes_the_chunk_and_starts_an_episode():
    mem = Memory()
    walk(mem)
    eid = mem.new_episode()
    assert eid == "episode-1" and mem.episodic.episode == "episode-1"
    mem.observe(Percept(t=4, pose=Pose(20, 0), region="bedroom"))
    last = mem.episodic.chunks()[-1]
    assert ("chunk-2", "episode-0") in mem.graph.nx.edges() and (last, "episode-1") in mem.graph.nx.edges()
    assert last == "chunk-3" and mem.episodic.stats() == {"episodes": 2, "chunks": 4, "items": 5}


def test_recall_is_hierarchical_and_empty_when_nothing_is_relevant():
    mem = Memory()
    walk(mem)
    chunks = mem.episodic.recall("where did I see the key?", k=2)
    assert chunks and chunks[0].place == mem.spatial.place_of((10, 0)).id
    assert "key" in chunks[0].items[0].text and chunks[0].items[0].percept_id == 2
    assert all(c.similarity > 0 for c in chunks)
    # "zebra"/"helicopter" share a hashed key slot with a word of the bedroom chunk: still nothing relevant
    assert mem.episodic.recall("zebra helicopter", k=5) == []
    assert mem.episodic.recall("", k=5) == [] and mem.episodic.recall("key", k=0) == []
    bed = mem.episodic.recall("bed", k=3)  # the open (last) chunk is recallable too
    assert bed[0].items[0].text.endswith("made the bed")
    with pytest.raises(TypeError, match="query"):
        mem.episodic.recall(42)  # type: ignore[arg-type]


def test_retention_follows_the_forgetting_curve_and_recall_strengthens():
    cfg = {"episodic": {"initial_strength": 10.0, "strength_increment": 10.0, "retention_weight": 0.5}}
    mem = Memory(cfg)
    mem.observe(Percept(t=0, pose=Pose(0, 0), sightings=[Sighting("key", (0, 0))]))
    mem.observe(Percept(t=1, pose=Pose(50, 0), sightings=[Sighting("cup", (50, 0))]))
    mem.observe(Percept(t=21, pose=Pose(100, 0), sightings=[Sighting("pen", (100, 0))]))
    ep = mem.episodic
    # chunk-0 closed at t1=0; now=21: R = exp(-(21 - 0) / 10), MemoryBank's curve with the precedence right
    assert ep.retention("chunk-0") == pytest.approx(math.exp(-21 / 10))
    (c,) = ep.recall("key", k=1)
    assert c.id == "chunk-0" and c.retention == pytest.approx(math.exp(-2.1))
    # recalled: S = 20 and Δt restarts at now=21
    assert ep.retention("chunk-0") == pytest.approx(1.0)
    mem.observe(Percept(t=41, pose=Pose(150, 0)))
    assert ep.retention("chunk-0") == pytest.approx(math.exp(-20 / 20))
    assert ep.recall("key", k=1, strengthen=False)[0].retention == pytest.approx(math.exp(-1))
    assert ep.retention("chunk-0") == pytest.approx(math.exp(-1))  # not strengthened


def test_utility_from_reinforcement_changes_the_ranking():
    mem = Memory({"episodic": {"utility_weight": 1.0, "utility_rate": 0.5, "retention_weight": 0.0}})
    mem.observe(Percept(t=0, pose=Pose(0, 0), sightings=[Sighting("key", (0, 0))]))
    mem.observe(Percept(t=1, pose=Pose(50, 0), sightings=[Sighting("key", (50, 0))]))
    mem.observe(Percept(t=2, pose=Pose(100, 0)))
    first = mem.episodic.recall("key", k=2, strengthen=False)
    assert first[0].score == pytest.approx(first[1].score)
    assert mem.reinforce("chunk-1", 1.0) == pytest.approx(0.5)
    assert mem.episodic.reinforce("chunk-1", 1.0) == pytest.approx(0.75)
    ranked = mem.episodic.recall("key", k=2, strengthen=False)
    assert ranked[0].id == "chunk-1" and ranked[0].utility == pytest.approx(0.75)
    with pytest.raises(ValueError, match="reward"):
        mem.reinforce("chunk-1", float("nan"))
    with pytest.raises(KeyError):
        mem.reinforce("chunk-99", 1.0)


def test_disabled_episodic_answers_empty():
    mem = Memory({"episodic": {"enabled": False}})
    walk(mem)
    assert mem.episodic.recall("key") == [] and mem.episodic.chunks() == []


@pytest.mark.parametrize("query", ["apple kitchen", "w3 w7 w11 w19 w23 w29 w31 w37 w41 w43 w47 w53 w59 w61 w67 w71 "
                                   "w73 w79 w83 w89 w97 w101 w103 w107 w109 w113 w127 w131 w137 w139 w149 w151 "
                                   "w157 w163 w167 w173 w179 w181 w191 w193 w197 w199 w211 w223 w227 w229"])
def test_recall_similarities_equal_the_dense_key_product(query: str) -> None:
    # a sparse query (few words) reads only its non-zero dimensions; a long one scores densely:
    # both must give what keys @ q gives, and rank by similarity when retention and utility are off
    rng = random.Random(1)
    words = [f"w{i}" for i in range(230)] + ["apple", "kitchen"]
    ep = EpisodicMemory(MemoryGraph(), EpisodicConfig(max_chunk_size=1, retention_weight=0.0, utility_weight=0.0))
    for i in range(500):
        ep.observe(Percept(t=float(i), events=(" ".join(rng.choice(words) for _ in range(5)),)), i, None, 0.0)
    q = ep.encoder.encode([query])[0]
    dense = ep.keys.astype(np.float64) @ q
    got = ep.recall(query, k=10, strengthen=False)
    assert got
    ids = ep.chunks()
    closed = [c for c in got if c.id in ids]  # the chunk still being written is scored on its own
    assert len(closed) >= 9
    for c in closed:
        assert c.similarity == pytest.approx(dense[ids.index(c.id)], rel=1e-5, abs=1e-6)
    sims = [c.similarity for c in got]
    assert sims == sorted(sims, reverse=True)
