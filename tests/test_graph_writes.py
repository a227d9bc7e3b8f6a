"""MemoryGraph writes on the ingest path: edge keys as networkx numbers them (first edge out of a
node, parallel edges), times and confidence converted or refused (naming the field, nothing
written), property columns that start as None or interned strings reading back what was written."""

from __future__ import annotations

import math
import random

import networkx as nx
import pytest

from embodied_mem import MemoryGraph
from embodied_mem.graph import GraphError


def test_edge_keys_match_networkx_for_first_and_parallel_edges():
    rng = random.Random(5)
    g, ref = MemoryGraph(), nx.MultiDiGraph()
    names = [f"n{i}" for i in range(12)]
    for n in names:
        g.add_node(n, "place")
        ref.add_node(n)
    for i in range(600):  # enough edges out of some nodes to pass the per-node key index's threshold
        u, v = rng.choice(names[:4]), rng.choice(names)
        g.add_edge(u, v, "connected_to", valid_from=float(i), source=i, recorded_at=0.0)
        ref.add_edge(u, v)
    assert sorted((u, v, k) for u, v, k, _ in g.edges()) == sorted(ref.edges(keys=True))


def test_numbers_are_converted_to_float_and_ints_are_kept_as_sources():
    g = MemoryGraph()
    g.add_node("a", "object")
    g.add_node("b", "place")
    d = g.add_edge("a", "b", "located_at", valid_from=3, source=4, recorded_at=5, confidence=1)
    assert (d["valid_from"], d["recorded_at"], d["confidence"], d["source"]) == (3.0, 5.0, 1.0, 4)
    assert all(type(d[k]) is float for k in ("valid_from", "recorded_at", "confidence"))


@pytest.mark.parametrize("field,value", [("valid_from", math.nan), ("valid_from", "soon"), ("recorded_at", math.nan),
                                         ("recorded_at", None), ("confidence", math.nan), ("confidence", "high")])
def test_a_bad_time_or_confidence_is_refused_naming_it_and_nothing_is_written(field, value):
    g = MemoryGraph()
    g.add_node("a", "object")
    g.add_node("b", "place")
    kw = {"valid_from": 1.0, "recorded_at": 2.0, "confidence": 0.5, field: value}
    with pytest.raises(GraphError, match=field):
        g.add_edge("a", "b", "located_at", source=None, **kw)
    assert g.number_of_edges() == 0 and list(g.edges()) == []
    g.add_edge("a", "b", "located_at", valid_from=1.0, source=None, recorded_at=2.0)
    assert [k for _, _, k, _ in g.edges("a")] == [0]  # the refused edge took no key


def test_bitemporal_names_as_properties_and_missing_endpoints_are_refused():
    g = MemoryGraph()
    g.add_node("a", "object")
    g.add_node("b", "place")
    with pytest.raises(GraphError, match="'valid_to'.*bi-temporal"):
        g.add_edge("a", "b", "located_at", valid_from=1.0, source=None, recorded_at=2.0, label="x", valid_to=3.0)
    with pytest.raises(GraphError, match="'c' is not a node"):
        g.add_edge("a", "c", "located_at", valid_from=1.0, source=None, recorded_at=2.0)
    assert g.number_of_edges() == 0


def test_property_columns_read_back_what_was_written_in_any_order_of_kinds():
    g = MemoryGraph()
    values = [None, None, "cup", None, "cup", "tree", 3, None, 2.5, (1.0, 2.0), "cup"]
    for i, v in enumerate(values):  # one column: None first, then strings, then other kinds
        g.add_node(f"o{i}", "object", label=v, instance=None)
    for i, v in enumerate(values):
        node = g.node(f"o{i}")
        assert node["label"] == v and type(node["label"]) is type(v)
        assert node["instance"] is None
