"""Worlds: ``enter_world`` scopes spatial and temporal memory (map, clock) to one world or map while
semantic facts and episodic memory carry over; it is journaled, so a reopened memory is the same."""

from __future__ import annotations

import pytest

from embodied_mem import Memory, Percept, Pose, Sighting


def _visit(mem: Memory, label: str, x: float, steps: int = 3) -> None:
    for t in range(steps):  # each world's clock starts at 0
        mem.observe(Percept(t=float(t), pose=Pose(x, float(t)), region="cave",
                            sightings=[Sighting(label, (x + 1, 0.0))], events=[f"saw {label}"]))


def test_a_new_world_starts_an_empty_map_and_a_known_one_comes_back(tmp_path):
    path = tmp_path / "life.db"
    with Memory.open(path) as mem:
        mem.enter_world("seed-1")
        _visit(mem, "diamond", 5.0)
        mem.semantic.assert_fact("diamond", "needs", "iron_pickaxe", t=2.0)
        chunks_a = mem.episodic.chunks()
        mem.enter_world("seed-2")
        assert mem.spatial.locate("diamond") == [] and mem.temporal.last_seen("diamond") is None
        assert mem.spatial.trajectory() == [] and mem.spatial.places() == []
        _visit(mem, "tree", -4.0)  # time starts again in a new world: not "going backwards"
        assert [loc.label for loc in mem.spatial.locate("tree")] == ["tree"]
        # knowledge and experience carry over
        assert [(f.subject, f.object) for f in mem.semantic.facts(subject="diamond")] == [("diamond", "iron_pickaxe")]
        assert set(chunks_a) <= set(mem.episodic.chunks())
        assert any("diamond" in str(c) for c in mem.episodic.recall("saw diamond", k=3, strengthen=False))
        mem.enter_world("seed-1")
        (loc,) = mem.spatial.locate("diamond")
        assert loc.position == (6.0, 0.0, 0.0) and mem.spatial.locate("tree") == []
        assert mem.worlds() == ["seed-1", "seed-2"]
        world_nodes = {n.split("/")[0] for n in mem.graph.nodes("place")}
        assert world_nodes == {"seed-1", "seed-2"}  # one graph, places kept apart per world
    with Memory.open(path, readonly=True) as again:
        assert again.world == "seed-1" and again.worlds() == ["seed-1", "seed-2"]
        assert [x.label for x in again.spatial.locate("diamond")] == ["diamond"]
        again.enter_world("seed-2")  # read-only: switches the view, journals nothing
        assert [x.label for x in again.spatial.locate("tree")] == ["tree"]


def test_time_must_still_go_forward_within_one_world():
    mem = Memory()
    mem.enter_world("a")
    _visit(mem, "tree", 0.0)
    with pytest.raises(ValueError, match="backwards"):
        mem.observe(Percept(t=0.0, pose=Pose(0, 0)))


@pytest.mark.parametrize("bad", ["", "  ", "a/b", None, 3])
def test_a_bad_world_id_is_refused(bad):
    mem = Memory()
    with pytest.raises(ValueError, match="world"):
        mem.enter_world(bad)
    assert mem.world is None
