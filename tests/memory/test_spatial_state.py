"""Spatial memory's snapshot state from before edge numbers: beliefs that held the graph's
``EdgeData`` views (not edge numbers) are converted on load, and answer as before."""

from __future__ import annotations

from unittest import mock

from embodied_mem import Memory, Percept, Pose, Sighting, View
from embodied_mem.memory import spatial


def _feed(mem: Memory) -> None:
    for i in range(30):
        x = float(i % 9)
        mem.observe(Percept(t=float(i), pose=Pose(x, 0.0), view=View.disc((x, 0.0), 1.5),
                            sightings=(Sighting("cup", (x, 0.5)), Sighting("key", (2.0, float(i % 2)), instance="k"))))


def test_a_snapshot_whose_beliefs_hold_edge_data_views_loads_as_edge_numbers(tmp_path):
    path = tmp_path / "m.db"
    mem = Memory.open(path)
    _feed(mem)
    want = {lbl: (mem.spatial.locate(lbl), mem.spatial.history(lbl), mem.spatial.locate(lbl, at=7.0))
            for lbl in ("cup", "key")}
    graph = mem.graph
    plain_state = spatial._Beliefs.__getstate__  # noqa: SLF001 - write the old layout on purpose

    def old_layout(self):
        state = plain_state(self)
        state["edge"] = [graph.edge_data(e) for e in self.edge]  # what snapshots held before edge numbers
        return state

    with mock.patch.object(spatial._Beliefs, "__getstate__", old_layout):  # noqa: SLF001
        mem.close()  # the snapshot holds EdgeData views
    again = Memory.open(path)
    assert again.snapshot_status == "ok", again.snapshot_status
    assert again.replayed_entries == 0  # loaded from the snapshot, not rebuilt by a replay
    B = again.spatial._b  # noqa: SLF001
    assert B.edge.typecode == "i" and list(B.edge) == [again.graph.edge_data(e).id for e in B.edge]
    for lbl, (now, hist, then) in want.items():
        assert again.spatial.locate(lbl) == now
        assert again.spatial.history(lbl) == hist
        assert again.spatial.locate(lbl, at=7.0) == then
    # and the converted edges are live: a new sighting moves the graph edge with the belief
    again.observe(Percept(t=40.0, sightings=(Sighting("key", (5.0, 5.0), instance="k"),)))
    assert again.spatial.locate("key")[0].position == (5.0, 5.0, 0.0)
    again.close()
