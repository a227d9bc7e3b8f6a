"""The Memory facade: observe (refusals change nothing), retrieve (sections, timings), modules off, working memory."""

from __future__ import annotations

import json

import pytest

from embodied_mem import Memory, Percept, Pose, Sighting, View
from embodied_mem.memory import TimeOrderError


def snapshot(mem: Memory) -> str:
    return json.dumps([mem.stats(), mem.graph.to_dict()], sort_keys=True, default=str)


def scene(mem: Memory) -> None:
    mem.observe(Percept(t=1, pose=Pose(0, 0), region="kitchen", sightings=[
        Sighting("apple", (1, 0)), Sighting("key", (0.5, 0.5), instance="key-1")], events=["entered the kitchen"]))
    mem.observe(Percept(t=2, pose=Pose(10, 0), region="hall", sightings=[Sighting("key", (10.5, 0), instance="key-1")]))
    mem.observe(Percept(t=3, pose=Pose(0, 0), region="kitchen", view=View.disc((0, 0), 3), events=["apple gone"]))


def test_observe_returns_increasing_ids_and_updates_every_module():
    mem = Memory()
    ids = [mem.observe(Percept(t=t)) for t in (0, 0, 1)]
    assert ids == [0, 1, 2]
    scene(mem)
    s = mem.stats()
    assert s["percepts"] == 6 and s["spatial.objects"] == 2 and s["temporal.entries"] == 5
    assert s["episodic.items"] == 6 and s["regions"] == ["hall", "kitchen"] and s["time_span"] == [1, 3]
    assert mem.spatial.locate("apple") == [] and mem.spatial.locate("key")[0].region == "hall"
    assert mem.now == 3 and repr(mem) == "Memory(in-memory, 6 percepts)"


@pytest.mark.parametrize("bad, exc, field", [
    (lambda: "not a percept", TypeError, "Percept"),
    (lambda: {"t": 5}, TypeError, "Percept"),
    (lambda: Percept(t=2.5), TimeOrderError, "Percept.t"),
])
def test_refused_percept_changes_nothing(bad, exc, field):
    mem = Memory()
    scene(mem)
    before = snapshot(mem)
    with pytest.raises(exc, match=field):
        mem.observe(bad())
    assert snapshot(mem) == before
    assert mem.observe(Percept(t=3)) == 3  # ids continue: nothing was consumed


def test_time_is_per_source():
    mem = Memory()
    mem.observe(Percept(t=10, source="a"))
    mem.observe(Percept(t=5, source="b"))  # another source may be behind
    with pytest.raises(TimeOrderError, match="source 'b'"):
        mem.observe(Percept(t=4, source="b"))
    assert isinstance(TimeOrderError("x"), ValueError)


def test_observe_many_is_all_or_nothing():
    mem = Memory()
    mem.observe(Percept(t=5))
    before = snapshot(mem)
    with pytest.raises(TimeOrderError, match=r"percepts\[1\]"):
        mem.observe_many([Percept(t=6), Percept(t=4)])
    with pytest.raises(TypeError, match=r"percepts\[0\]"):
        mem.observe_many([None])
    assert snapshot(mem) == before
    assert mem.observe_many([Percept(t=6), Percept(t=7)]) == [1, 2]


def test_retrieve_has_one_section_per_module_with_timings():
    mem = Memory()
    scene(mem)
    mem.semantic.assert_fact("key", "opens", "front door")
    r = mem.retrieve("where is the key?")
    assert r.labels == ["key"]
    assert r.spatial["key"][0].position == (10.5, 0.0, 0.0)
    assert r.temporal["key"] == {"first_seen": 1.0, "last_seen": 2.0, "count": 2}
    assert r.episodic and "key" in r.episodic[0].items[0].text
    assert [f.object for f in r.semantic] == ["front door"]
    assert set(r.timings) == {"spatial", "temporal", "episodic", "semantic", "total"}
    assert all(v >= 0 for v in r.timings.values())
    text = str(r)
    assert "where key" in text and "timings" in text
    past = mem.retrieve("key", at=1.5)
    assert past.spatial["key"][0].position == (0.5, 0.5, 0.0) and past.temporal["key"]["last_seen"] == 1.0
    assert mem.retrieve("zebra").labels == [] and mem.retrieve("zebra").episodic == []
    with pytest.raises(TypeError, match="query"):
        mem.retrieve(None)  # type: ignore[arg-type]
    mem.close()


def test_labels_in_handles_plurals_and_multiword_labels():
    mem = Memory()
    mem.observe(Percept(t=0, sightings=[Sighting("iron_pickaxe", (0, 0)), Sighting("tree", (1, 1))]))
    assert mem.labels_in("any trees or an iron pickaxe?") == ["iron_pickaxe", "tree"]
    assert mem.labels_in("pickaxe") == []


@pytest.mark.parametrize("module", ["spatial", "temporal", "episodic", "semantic"])
def test_a_module_switched_off_answers_empty_without_errors(module):
    mem = Memory({module: {"enabled": False}})
    scene(mem)
    mem.semantic.assert_fact("key", "opens", "door")
    mem.consolidate()
    mem.new_episode()
    r = mem.retrieve("key apple kitchen")
    section = getattr(r, module)
    assert not section or all(not v for v in section.values())
    assert module in r.timings
    mem.stats()


def test_every_module_off_still_observes_and_retrieves():
    mem = Memory({m: {"enabled": False} for m in ("spatial", "temporal", "episodic", "semantic")})
    scene(mem)
    r = mem.retrieve("key")
    assert r.labels == [] and r.spatial == {} and r.temporal == {} and r.episodic == [] and r.semantic == []


def test_working_memory_only_when_long_term_is_off():
    mem = Memory({"long_term": {"enabled": False, "working_memory_size": 4}})
    mem.load_priors({"facts": [["tree", "gives", "wood"]]})
    for t in range(20):
        mem.observe(Percept(t=t, pose=Pose(t * 10, 0), sightings=[Sighting(f"thing{t}", (t * 10, 1))]))
    assert mem.temporal.first_seen("thing0") is None  # forgotten
    assert mem.temporal.first_seen("thing19") == 19
    assert 4 <= mem.stats()["percepts"] < 8
    assert mem.semantic.facts(subject="tree")  # priors are knowledge, kept


def test_closed_or_readonly_memory_refuses_writes(tmp_path):
    mem = Memory.open(tmp_path / "m.db")
    mem.observe(Percept(t=1))
    mem.close()
    with pytest.raises(ValueError, match="closed"):
        mem.observe(Percept(t=2))
    ro = Memory.open(tmp_path / "m.db", readonly=True)
    with pytest.raises(ValueError, match="read-only"):
        ro.observe(Percept(t=2))
    assert ro.stats()["percepts"] == 1
    ro.close()


def test_readonly_memory_answers_without_changing_and_refuses_changes(tmp_path):
    path = tmp_path / "m.db"
    with Memory.open(path) as mem:
        scene(mem)
    ro = Memory.open(path, readonly=True)
    assert ro.readonly
    before = snapshot(ro)
    r = ro.retrieve("where is the key?")  # a recall does not strengthen a read-only memory
    assert r.episodic and ro.episodic.recall("key")
    assert snapshot(ro) == before
    for change in (lambda: ro.semantic.assert_fact("a", "is", "b"), lambda: ro.semantic.retract("a", "is", "b"),
                   lambda: ro.consolidate(), lambda: ro.new_episode(), lambda: ro.reinforce("chunk-0", 1.0),
                   lambda: ro.load_priors({"facts": [["a", "is", "b"]]})):
        with pytest.raises(ValueError, match="read-only"):
            change()
    assert snapshot(ro) == before
    ro.close()
