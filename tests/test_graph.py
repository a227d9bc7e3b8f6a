"""MemoryGraph: typed nodes, bi-temporal edges (invalidated, never deleted), as_of, history, export."""

from __future__ import annotations

import json
import pickle
import random

import networkx as nx
import pytest

from embodied_mem import MemoryGraph
from embodied_mem.graph import NODE_KINDS, GraphError


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


# ---------------------------------------------------------------- columnar storage against networkx
def _reference_as_of(ref: nx.MultiDiGraph, t: float) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    for n, d in ref.nodes(data=True):
        if d.get("created") is None or d["created"] <= t:
            g.add_node(n, **d)
    for a, b, k, d in ref.edges(keys=True, data=True):
        if a in g and b in g and MemoryGraph.valid_at(d, t):
            g.add_edge(a, b, key=k, **d)
    return g


def _prop_value(rng: random.Random) -> object:
    return rng.choice([rng.random(), rng.randrange(-5, 5), f"s{rng.randrange(4)}", None, True,
                       (rng.random(), rng.random(), 0.0), (1.0, 2.0), [1, 2], 2**70])


@pytest.mark.parametrize("seed", range(6))
def test_same_graph_as_networkx_under_random_use(seed):
    """Nodes, edges (keys, order, every field), invalidations and property updates read back exactly
    as a networkx MultiDiGraph holding the same facts, through every reader and a pickle round trip."""
    rng = random.Random(seed)
    g, ref, views = MemoryGraph(), nx.MultiDiGraph(), []
    kinds = sorted(NODE_KINDS)
    for step in range(600):
        op = rng.random()
        if op < 0.25 or ref.number_of_nodes() < 2:
            n = f"n{rng.randrange(40)}"
            kind = ref.nodes[n]["kind"] if n in ref else rng.choice(kinds)
            props = {k: _prop_value(rng) for k in rng.sample(["created", "label", "position", "x"], rng.randrange(3))}
            if "created" in props:
                props["created"] = float(rng.randrange(50))
            g.add_node(n, kind, **props)
            if n in ref:
                ref.nodes[n].update(props)
            else:
                ref.add_node(n, kind=kind, **props)
        elif op < 0.6:
            nodes = list(ref)
            u = rng.choice(nodes[:4]) if rng.random() < 0.5 else rng.choice(nodes)  # some high out-degrees
            v = rng.choice(nodes)
            rel = rng.choice(["located_at", "is", "near"])
            vf, rec, src = float(rng.randrange(50)), float(step), rng.choice([step, f"op{step % 3}", None, -4])
            props = {k: _prop_value(rng) for k in rng.sample(["position", "last_seen", "region"], rng.randrange(3))}
            d = g.add_edge(u, v, rel, valid_from=vf, source=src, confidence=0.5, recorded_at=rec, **props)
            k = ref.add_edge(u, v, relation=rel, valid_from=vf, valid_to=None, recorded_at=rec, source=src,
                             confidence=0.5, **props)
            views.append((d, ref[u][v][k]))
        elif views and op < 0.8:
            d, rd = rng.choice(views)
            t = float(rng.randrange(60))
            g.invalidate_data(d, t)
            MemoryGraph.invalidate_data(rd, t)
        elif views:
            d, rd = rng.choice(views)
            key, val = rng.choice(["position", "last_seen", "region", "confidence", "extra"]), _prop_value(rng)
            if key == "confidence":
                val = rng.random()
            d[key] = val
            rd[key] = val
    assert g.to_dict() == nx.node_link_data(ref, edges="edges")
    assert g.number_of_nodes() == ref.number_of_nodes() and g.number_of_edges() == ref.number_of_edges()
    for d, rd in views:
        assert d == rd and dict(d) == rd and set(d) == set(rd) and len(d) == len(rd)
    back = pickle.loads(pickle.dumps(g))
    assert back.to_dict() == g.to_dict()
    for n in list(ref)[:10]:
        assert g.node(n) == ref.nodes[n]
        assert g.history(n) == sorted(
            [{"u": a, "v": b, "key": k, **d} for a, b, k, d in ref.out_edges(n, keys=True, data=True)]
            + [{"u": a, "v": b, "key": k, **d} for a, b, k, d in ref.in_edges(n, keys=True, data=True)],
            key=lambda e: (e["valid_from"], e["recorded_at"]))
        for rel, at, cur in [(None, None, False), ("is", None, False), (None, 20.0, False), ("near", None, True)]:
            want = [(a, b, k, d) for a, b, k, d in ref.out_edges(n, keys=True, data=True)
                    if (rel is None or d["relation"] == rel) and not (cur and d["valid_to"] is not None)
                    and (at is None or MemoryGraph.valid_at(d, at))]
            assert [(a, b, k, dict(d)) for a, b, k, d in g.edges(n, relation=rel, at=at, current=cur)] == want
    for t in (0.0, 10.0, 30.0, 100.0):
        assert g.as_of(t).to_dict() == nx.node_link_data(_reference_as_of(ref, t), edges="edges")
    assert [(a, b, k, dict(d)) for a, b, k, d in g.edges()] == list(ref.edges(keys=True, data=True))


def test_edge_data_is_a_live_dict_like_view():
    g = small_graph()
    (_, _, k, d), = g.edges("object:key", current=True)
    assert (k, d.id, d["relation"], d.get("nothing", 3), "position" in d) == (0, 1, "located_at", 3, False)
    d["position"] = (5.0, 0.0, 0.0)  # a new property: kept, and seen by every view of the edge
    assert g.edge_data(d.id)["position"] == (5.0, 0.0, 0.0) and g.edge_data(d.id) == d
    del d["position"]
    assert "position" not in d and dict(d) == d.copy()
    with pytest.raises(KeyError):
        d["position"]
    with pytest.raises(GraphError, match="cannot be deleted"):
        del d["valid_to"]
    with pytest.raises(GraphError, match="NaN"):
        d["valid_from"] = float("nan")
    with pytest.raises(GraphError, match="not NaN|NaN"):
        g.invalidate_data(d, float("nan"))
    assert d["valid_to"] is None and d["valid_from"] == 5.0  # refused writes changed nothing
    with pytest.raises(GraphError, match="no edge number"):
        g.edge_data(2)
    with pytest.raises(GraphError, match="bi-temporal"):
        g.add_edge("object:key", "place:0", "near", valid_from=0, source=None, recorded_at=0, valid_to=3.0)
    assert g.number_of_edges() == 2


def test_nx_is_a_copy_and_node_returns_a_copy():
    g = small_graph()
    view = g.nx
    view.add_node("intruder", kind="object")
    view.nodes["place:0"]["position"] = "moved"
    g.node("place:0")["position"] = "moved too"
    assert "intruder" not in g and g.node("place:0")["position"] == (0.0, 0.0, 0.0)
    assert g.number_of_nodes() == 3 and [] not in g  # an unhashable id is simply not a node


def test_views_follow_a_graph_restored_into_another():
    """A snapshot restores a pickled graph into the memory's own graph object (``adopt``): views of
    edges unpickled with it (held by the memory modules) read and write the adopting graph."""
    g = small_graph()
    (_, _, _, d), = g.edges("object:key", current=True)
    saved, view = pickle.loads(pickle.dumps((g, d)))
    live = MemoryGraph()
    live.adopt(saved)
    live.invalidate_data(view, 9.0)
    assert [e["valid_to"] for e in live.history("object:key")] == [5.0, 9.0]
    with pytest.raises(GraphError, match="not a graph"):
        live.adopt(object())


def test_set_edges_field_writes_as_each_edge_view_would():
    """One call sets a field on many edges (a module updating every fact a percept touched): the
    result equals setting it edge by edge, across edges of different property sets, new properties
    and values of another type; a bad edge number changes nothing."""
    def build() -> MemoryGraph:
        g = small_graph()
        g.add_edge("object:key", "place:1", "near", valid_from=6.0, source=None, recorded_at=102.0,
                   position=(1.0, 2.0, 3.0), last_seen=6.0)
        g.add_edge("object:key", "place:0", "near", valid_from=7.0, source=None, recorded_at=103.0, last_seen=7.0)
        return g

    for ids, name, value in (([0, 2, 3, 2], "last_seen", 9.5), ([2, 3], "last_seen", "later"),
                             ([1, 3], "traversals", 4), ([3, 0], "confidence", 0.25), ([2], "last_seen", 11)):
        a, b = build(), build()
        a.set_edges_field(ids, name, value)
        for e in ids:
            b.edge_data(e)[name] = value
        assert [a.edge_data(e).copy() for e in range(4)] == [b.edge_data(e).copy() for e in range(4)]
    g = build()
    before = [g.edge_data(e).copy() for e in range(4)]
    for bad in ([0, 4], [-1], [0, 1.0]):
        with pytest.raises(GraphError, match="no edge number"):
            g.set_edges_field(bad, "last_seen", 1.0)
    with pytest.raises(GraphError, match="NaN"):
        g.set_edges_field([0], "valid_from", float("nan"))
    assert [g.edge_data(e).copy() for e in range(4)] == before
    g.set_edges_field([], "last_seen", 1.0)
