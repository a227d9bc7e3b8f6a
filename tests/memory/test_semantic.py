"""Semantic memory: ADD/UPDATE/DELETE/NOOP with provenance, contradictions, consolidation, priors, at=."""

from __future__ import annotations

import pytest

from embodied_mem import Memory, Percept, Pose, Sighting


def test_operations_and_contradiction_of_a_functional_relation():
    mem = Memory()
    sem = mem.semantic
    assert sem.assert_fact("key", "located_in", "kitchen", t=1).op == "ADD"
    assert sem.assert_fact("key", "located_in", "kitchen", t=2).op == "NOOP"
    assert sem.assert_fact("key", "located_in", "kitchen", confidence=0.5, t=3).op == "UPDATE"
    assert sem.assert_fact("key", "located_in", "hall", t=5).op == "ADD"  # contradicts: kitchen ends at 5
    assert [str(o.op) for o in sem.operations] == ["ADD", "NOOP", "UPDATE", "DELETE", "ADD"]
    assert "contradicted" in sem.operations[3].provenance
    (now,) = sem.facts(subject="key")
    assert (now.object, now.valid_from, now.valid_to) == ("hall", 5.0, None)
    (then,) = sem.facts(subject="key", at=4)
    assert (then.object, then.confidence) == ("kitchen", 0.5)
    assert sem.facts(at=0.5) == []
    # the old fact is invalidated in the graph, not deleted
    edges = [d for _, _, d in mem.graph.nx.out_edges("concept:key", data=True)]
    assert sorted((d["valid_from"], d["valid_to"], d["confidence"]) for d in edges) == [
        (1.0, 3.0, 1.0), (3.0, 5.0, 0.5), (5.0, None, 1.0)]  # the UPDATE is a new version too


def test_non_functional_relations_accumulate_and_retract_deletes():
    sem = Memory().semantic
    sem.assert_fact("tree", "gives", "wood", t=0)
    sem.assert_fact("tree", "gives", "sapling", t=0)
    assert [f.object for f in sem.facts(subject="tree")] == ["wood", "sapling"]
    assert sem.retract("tree", "gives", "sapling", t=3).op == "DELETE"
    assert sem.retract("tree", "gives", "sapling", t=4).op == "NOOP"
    assert [f.object for f in sem.facts(subject="tree")] == ["wood"]
    assert [f.object for f in sem.facts(subject="tree", at=2)] == ["wood", "sapling"]
    assert [f.subject for f in sem.about({"wood"})] == ["tree"]


@pytest.mark.parametrize("args, exc, field", [
    (("", "is", "x"), ValueError, "subject"),
    (("a", 3, "x"), TypeError, "relation"),
    (("a", "is", "  "), ValueError, "object"),
])
def test_bad_facts_are_refused(args, exc, field):
    sem = Memory().semantic
    with pytest.raises(exc, match=field):
        sem.assert_fact(*args)
    with pytest.raises(ValueError, match="confidence"):
        sem.assert_fact("a", "is", "b", confidence=2)
    assert sem.facts() == [] and sem.operations == []


def test_consolidation_distils_regions_and_outcomes():
    mem = Memory({"semantic": {"min_support": 3, "min_fraction": 0.6}})
    t = 0
    for i in range(3):  # three trees in the forest, one in the kitchen
        t += 1
        mem.observe(Percept(t=t, pose=Pose(100, 10 * i), region="forest", sightings=[Sighting("tree", (101, 10 * i))]))
    t += 1
    mem.observe(Percept(t=t, pose=Pose(0, 0), region="kitchen", sightings=[Sighting("tree", (1, 0))]))
    for i in range(4):  # doing "do tree" yields wood 3 of 4 times
        t += 1
        mem.observe(Percept(t=t, action="do", target="tree", events=["collected wood"] if i else []))
    ops = mem.consolidate()
    facts = {(f.subject, f.relation, f.object): f for f in mem.semantic.facts()}
    assert ("tree", "found_in", "forest") in facts and facts[("tree", "found_in", "forest")].support == 3
    assert facts[("tree", "found_in", "forest")].confidence == pytest.approx(0.75)
    assert ("do tree", "yields", "collected wood") in facts
    assert {o.op for o in ops} == {"ADD"} and all(o.provenance == "consolidated" for o in ops)
    assert mem.consolidate() == []  # nothing new: NOOPs are left out
    # a retrieve about trees finds them
    assert any(f.relation == "found_in" for f in mem.retrieve("where are trees?").semantic)


def test_consolidated_fact_is_deleted_when_support_falls():
    mem = Memory({"semantic": {"min_support": 2, "min_fraction": 0.6}})
    for i in range(2):
        mem.observe(Percept(t=i, pose=Pose(0, 5 * i), region="garden", sightings=[Sighting("rose", (0, 5 * i))]))
    mem.consolidate()
    assert mem.semantic.facts(relation="found_in")
    for i in range(3):  # roses turn up in the hall more often now
        mem.observe(Percept(t=10 + i, pose=Pose(50, 5 * i), region="hall", sightings=[Sighting("rose", (50, 5 * i))]))
    ops = mem.consolidate()
    assert [(o.op, o.fact.object) for o in ops] == [("ADD", "hall"), ("DELETE", "garden")]


def test_priors_from_a_mapping_and_a_file(tmp_path):
    mem = Memory()
    n = mem.load_priors({"facts": [["tree", "gives", "wood"], {"subject": "water", "relation": "quenches",
                                                                "object": "thirst", "confidence": 0.9}]})
    assert n == 2
    f = mem.semantic.facts(subject="water")[0]
    assert f.source == "prior" and f.confidence == 0.9
    path = tmp_path / "k.yaml"
    path.write_text("facts:\n  - [stone, needs, wood_pickaxe]\n")
    assert mem.load_priors(path) == 1 and mem.semantic.facts(subject="stone")
    with pytest.raises(ValueError, match="facts"):
        mem.load_priors({"nothing": []})
    with pytest.raises(ValueError, match=r"facts\[0\]"):
        mem.load_priors({"facts": [["only", "two"]]})
    with pytest.raises(FileNotFoundError, match="no-such-knowledge"):
        mem.load_priors("no-such-knowledge")


def test_disabled_semantic_answers_empty():
    mem = Memory({"semantic": {"enabled": False}})
    mem.semantic.assert_fact("a", "is", "b")
    mem.observe(Percept(t=1, action="do", target="tree", events=["wood"]))
    assert mem.semantic.facts() == [] and mem.consolidate() == [] and mem.semantic.about({"a"}) == []


def test_update_keeps_the_old_version_for_at_queries():
    sem = Memory().semantic
    sem.assert_fact("door", "is", "open", confidence=0.9, t=1)
    op = sem.assert_fact("door", "is", "open", confidence=0.4, support=2, t=5)
    assert op.op == "UPDATE" and op.fact.confidence == 0.4
    assert [(f.confidence, f.support) for f in sem.facts(at=2)] == [(0.9, 1)]
    assert [(f.confidence, f.support, f.valid_from) for f in sem.facts()] == [(0.4, 2, 5.0)]
    assert [(f.confidence, f.valid_to) for f in sem.facts(at=5)] == [(0.4, None)]
