"""MemoryGraph: typed nodes, bi-temporal edges (invalidated, never deleted), as_of, history, export."""

from __future__ import annotations

import json

import networkx as nx
import pytest

from embodied_mem import MemoryGraph
from embodied_mem.graph import GraphError


def small_graph() -> MemoryGraph:
    g = MemoryGraph()
    g.add_node("object:key", "object", label="key", created=1.0)
    g.add_node("place:0", "place", position=(0.0, 0.0, 0.0), created=0.0)
    g.add_node("place:1", "place", position=(5.0, 0.0, 0.0), created=4.0)
    e = g.add_edge("object:key", "place:0", "located_at", valid_from=1.0, source=7, confidence=0.8, recorded_at=100.0)
    g.invalidate_data(e, 5.0)
    g.add_edge("object:key", "place:1", "located_at", valid_from=5.0, source=9, recorded_at=101.0)
    return g


def test_edges_carry_the_bitemporal_fields():
    g = small_graph()
    (_, _, d0), (_, _, d1) = sorted(g.nx.out_edges("object:key", data=True), key=lambda e: e[2]["valid_from"])
    for d in (d0, d1):
        assert {"valid_from", "valid_to", "recorded_at", "source", "confidence"} <= set(d)
    assert (d0["valid_from"], d0["valid_to"], d0["source"], d0["confidence"]) == (1.0, 5.0, 7, 0.8)
    assert d1["valid_to"] is None


def test_typed_nodes_refuse_unknown_kinds_and_kind_changes():
    g = MemoryGraph()
    with pytest.raises(GraphError, match="kind"):
        g.add_node("x", "thing")
    g.add_node("x", "object")
    with pytest.raises(GraphError, match="already exists"):
        g.add_node("x", "place")
    with pytest.raises(GraphError, match="not a node"):
        g.add_edge("x", "nowhere", "located_at", valid_from=0, source=None, recorded_at=0)
    with pytest.raises(GraphError):
        g.node("nowhere")
    assert isinstance(GraphError("x"), ValueError)


def test_invalidation_is_clamped_and_idempotent():
    g = MemoryGraph()
    g.add_node("a", "concept")
    g.add_node("b", "concept")
    d = g.add_edge("a", "b", "is", valid_from=10.0, source="s", recorded_at=0)
    g.invalidate("a", "b", 0, 3.0)  # a late percept: never before valid_from
    assert d["valid_to"] == 10.0
    g.invalidate_data(d, 20.0)  # already closed: unchanged
    assert d["valid_to"] == 10.0
    with pytest.raises(GraphError):
        g.invalidate("a", "b", 5, 1.0)


def test_valid_at_is_half_open():
    d = {"valid_from": 1.0, "valid_to": 5.0}
    assert MemoryGraph.valid_at(d, 1.0) and MemoryGraph.valid_at(d, 4.99)
    assert not MemoryGraph.valid_at(d, 5.0) and not MemoryGraph.valid_at(d, 0.5)
    assert not MemoryGraph.valid_at(d, None)
    assert MemoryGraph.valid_at({"valid_from": 1.0, "valid_to": None}, None)


def test_as_of_and_edges_filters():
    g = small_graph()
    g2 = g.as_of(2.0)
    assert "place:1" not in g2 and set(g2.nx.successors("object:key")) == {"place:0"}
    g6 = g.as_of(6.0)
    assert set(g6.nx.successors("object:key")) == {"place:1"}
    assert [v for _, v, _, _ in g.edges("object:key", current=True)] == ["place:1"]
    assert [v for _, v, _, _ in g.edges("object:key", relation="located_at", at=1.0)] == ["place:0"]
    assert list(g.edges("object:key", relation="nope")) == []
    assert sorted(g.nodes("place")) == ["place:0", "place:1"] and len(g) == 3 and "place:0" in g


def test_history_keeps_invalidated_facts_in_time_order():
    g = small_graph()
    h = g.history("object:key")
    assert [(e["v"], e["valid_from"], e["valid_to"]) for e in h] == [("place:0", 1.0, 5.0), ("place:1", 5.0, None)]
    assert [e["u"] for e in g.history("place:1")] == ["object:key"]
    with pytest.raises(GraphError):
        g.history("nowhere")


def test_graphml_export_reads_back(tmp_path):
    g = small_graph()
    path = g.to_graphml(tmp_path / "g.graphml")
    back = nx.read_graphml(path, force_multigraph=True)
    assert set(back.nodes) == set(g.nx.nodes)
    assert back.number_of_edges() == g.nx.number_of_edges()
    assert json.loads(back.nodes["place:1"]["position"]) == [5.0, 0.0, 0.0]
    vt = sorted((d["valid_from"], d.get("valid_to")) for _, _, d in back.edges(data=True))
    assert vt == [(1.0, 5.0), (5.0, None)]  # GraphML has no null: a current edge has no valid_to


def test_json_export_reads_back(tmp_path):
    g = small_graph()
    path = g.to_json(tmp_path / "g.json")
    data = json.loads(path.read_text())
    back = nx.node_link_graph(data, edges="edges", multigraph=True, directed=True)
    assert set(back.nodes) == set(g.nx.nodes)
    edges = sorted((u, v, d["valid_from"], d["valid_to"]) for u, v, d in back.edges(data=True))
    assert edges == [("object:key", "place:0", 1.0, 5.0), ("object:key", "place:1", 5.0, None)]
