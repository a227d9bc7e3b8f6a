"""The graph's lean storage (node ids of full blocks kept as one string with offsets behind an
open-addressing index, narrow columns that widen when a value does not fit, float columns coded
into a table of their few distinct values) reads back exactly what was written: the same nodes,
edges, keys, attributes and order as a networkx ``MultiDiGraph`` holding the same facts, through
every reader, a pickle round trip, a memory's reopen (snapshot and full replay) and a RAM budget.
"""

from __future__ import annotations

import math
import pickle
import random
from unittest import mock

import networkx as nx
import pytest

from embodied_mem import Memory, MemoryGraph
from embodied_mem import graph as graph_mod
from embodied_mem.graph import NODE_KINDS

from .conftest import assert_same, budgeted, feed, reopens_answer_as_before
from .test_ram_budget_graph import graph_answers, walk

KINDS = sorted(NODE_KINDS)


def _check(g: MemoryGraph, ref: nx.MultiDiGraph, views: list) -> None:
    """``g`` reads back as ``ref`` through every reader, and so does its pickle round trip."""
    want = nx.node_link_data(ref, edges="edges")
    assert g.to_dict() == want
    assert g.number_of_nodes() == ref.number_of_nodes() and g.number_of_edges() == ref.number_of_edges()
    assert g.nodes() == list(ref)
    for k in KINDS:
        assert g.nodes(k) == [n for n, d in ref.nodes(data=True) if d["kind"] == k]
    for n in ref:
        assert n in g and g.node(n) == ref.nodes[n]
        assert [(a, b, k, dict(d)) for a, b, k, d in g.edges(n)] == list(ref.out_edges(n, keys=True, data=True))
    assert "no such node" not in g and ("n", 1) not in g and [] not in g
    for d, rd in views:
        assert dict(d) == rd and {k: type(v) for k, v in d.items()} == {k: type(v) for k, v in rd.items()}
        assert math.copysign(1.0, d["confidence"]) == math.copysign(1.0, rd["confidence"])
    back = pickle.loads(pickle.dumps(g))
    assert back.to_dict() == want
    assert [n in back for n in ref] == [True] * ref.number_of_nodes()


def _random_use(g: MemoryGraph, seed: int, steps: int, n_names: int) -> tuple[nx.MultiDiGraph, list]:
    rng = random.Random(seed)
    ref, views = nx.MultiDiGraph(), []
    for step in range(steps):
        op = rng.random()
        if op < 0.3 or ref.number_of_nodes() < 2:
            i = rng.randrange(n_names)
            n = f"n{i}-é" if i % 7 == 0 else f"n{i}" if i % 11 else f"n{i}{'x' * (i % 30)}"  # mixed widths, lengths
            kind = ref.nodes[n]["kind"] if n in ref else rng.choice(KINDS)
            props = {k: rng.choice([rng.random(), f"s{rng.randrange(300)}", None, (1.0, 2.0, 3.0), 7])
                     for k in rng.sample(["created", "label", "position", f"p{rng.randrange(5)}"], rng.randrange(3))}
            g.add_node(n, kind, **props)
            if n in ref:
                ref.nodes[n].update(props)
            else:
                ref.add_node(n, kind=kind, **props)
        elif op < 0.75:
            nodes = list(ref)
            u, v = (nodes[0], nodes[1]) if rng.random() < 0.2 else (rng.choice(nodes), rng.choice(nodes))
            rel = rng.choice(["located_at", "is", f"r{rng.randrange(400)}"])  # > 255 relations: the column widens
            src = rng.choice([step, 2**40 + step, f"op{step % 3}", None, -4])  # sources past 2**31 widen theirs
            conf = rng.choice([1.0, 0.5, -0.0, 0.0, rng.random()])  # 0.0 and -0.0 stay apart
            rec = rng.choice([1e9, 1e9 + 1, float(step)])  # few values per block, then many
            props = {k: rng.choice([rng.random(), (rng.random(), 1.0, 0.0), "x"])
                     for k in rng.sample(["position", "last_seen", "region"], rng.randrange(3))}
            d = g.add_edge(u, v, rel, valid_from=float(rng.randrange(50)), source=src, confidence=conf,
                           recorded_at=rec, **props)
            k = ref.add_edge(u, v, relation=rel, valid_from=d["valid_from"], valid_to=None, recorded_at=rec,
                             source=src, confidence=conf, **props)
            views.append((d, ref[u][v][k]))
        elif views:
            d, rd = rng.choice(views)
            key = rng.choice(["confidence", "recorded_at", "relation", "source", "extra", "valid_to"])
            val: object = {"confidence": rng.choice([0.25, -0.0, rng.random()]), "recorded_at": float(step),
                           "relation": f"r{rng.randrange(400)}", "source": rng.choice([2**45, "s", step]),
                           "extra": rng.random(), "valid_to": float(rng.randrange(60))}[key]
            d[key] = val
            rd[key] = val
    return ref, views


@pytest.mark.parametrize("shift", [2, 10])
@pytest.mark.parametrize("seed", range(3))
def test_lean_graph_reads_back_as_networkx_under_random_use(seed, shift):
    """Blocks of 4 (many full blocks kept as text) and of 1024 (one growing block)."""
    with mock.patch.object(graph_mod, "_BLOCK_SHIFT", shift):
        g = MemoryGraph()
        ref, views = _random_use(g, seed, 3000, 900)
        _check(g, ref, views)


def test_columns_widen_when_a_value_does_not_fit():
    """Keys past 255 (parallel edges), rows past 65535 (a property set and deleted again and again),
    more than 255 property sets in a block and more than 255 recorded times: each column widens,
    and every value reads back."""
    g, ref = MemoryGraph(), nx.MultiDiGraph()
    for n in ("a", "b"):
        g.add_node(n, "place")
        ref.add_node(n, kind="place")
    views = []
    for i in range(300):
        d = g.add_edge("a", "b", "near", valid_from=float(i), source=i, recorded_at=float(i), confidence=1.0 / (i + 1))
        k = ref.add_edge("a", "b", relation="near", valid_from=float(i), valid_to=None, recorded_at=float(i),
                         source=i, confidence=1.0 / (i + 1))
        views.append((d, ref["a"]["b"][k]))
    assert [k for _a, _b, k, _d in g.edges("a")][-3:] == [297, 298, 299]
    d, rd = views[0]
    for j in range(300):  # 300 property sets on one edge: 300 shapes in its block
        d[f"q{j}"] = j
        rd[f"q{j}"] = j
    d2, rd2 = views[1]
    for j in range(33_000):  # the block's shape without properties past 65535 rows: its row column widens
        d2["flip"] = j
        del d2["flip"]
    for j in range(33_000):
        d2["flop"] = float(j)
        del d2["flop"]
    d2["flip"] = 1
    rd2["flip"] = 1
    b = g._s.eb[0]  # noqa: SLF001 - the widening itself is what this test is about
    assert [getattr(b, c).typecode for c in ("key", "shape", "row", "rel")] == ["i", "i", "i", "B"]
    assert b.rec.index is None and b.conf.index is None  # 300 distinct values: plain arrays
    _check(g, ref, views)


def test_nodes_of_any_hashable_id_are_found_as_with_a_dict():
    """Node ids that are not strings (allowed, never paged) sit in a block kept as a list."""
    with mock.patch.object(graph_mod, "_BLOCK_SHIFT", 2):
        g, ref = MemoryGraph(), nx.MultiDiGraph()
        ids: list = [1, (2, "x"), "s", 3.5, "t", "u", "v", "w", "z", 10, 5, 5 + 2**32, 5 + 2**33, 2**32]  # ints: low hash bits alike
        for n in ids:
            g.add_node(n, "concept")
            ref.add_node(n, kind="concept")
        assert 1.0 in g and True in g and (2, "x") in g and 10 in g and "w" in g and 11 not in g
        assert 5 + 2**32 in g and 5 + 2**34 not in g and 0 not in g and 2**33 not in g
        _check(g, ref, [])


def test_a_memory_graph_equals_itself_reopened_replayed_and_under_a_budget(tmp_path):
    """A stream past a block of 1024 nodes: the graph answers alike live, from its snapshot, by a
    full replay, and with a RAM budget small enough to page most of it out."""
    path = tmp_path / "m.db"
    mem = Memory.open(path)
    ops = walk(1500)
    feed(mem, ops)
    assert mem.graph.number_of_nodes() > 1024
    before = {graph_answers: graph_answers(mem)}
    mem.close()
    reopens_answer_as_before(path, lambda p, **kw: Memory.open(p, **kw), before)
    small = budgeted(sizes={"temporal": 4, "poses": 3, "sightings": 4, "beliefs": 2, "cells": 3,
                            "chunk_items": 3, "graph": 1})
    feed(small, ops)
    assert small.graph.paged_out()[1] > 0
    assert_same(graph_answers(small, wall_clock=False), graph_answers(Memory.open(path, readonly=True), False))
    small.close()


def _graph_of_many_ids(n: int) -> tuple[MemoryGraph, list]:
    """A graph of ``n`` nodes (ids of mixed widths, a lone surrogate among them) over several full
    blocks, an edge out of each node."""
    g = MemoryGraph()
    names = [f"place:{i}" if i % 5 else f"object:cup#{i}-é\ud800" if i % 10 == 0 else f"o{'x' * (i % 40)}:{i}"
             for i in range(n)]
    for i, x in enumerate(names):
        g.add_node(x, KINDS[i % len(KINDS)], created=float(i), label=f"l{i % 7}")
    for i, x in enumerate(names):
        g.add_edge(x, names[(i * 7919) % n], "located_at", valid_from=float(i), source=i, recorded_at=1e9 + i % 3,
                   confidence=0.5, position=(float(i), 1.0, 0.0), last_seen=float(i))
    return g, names


_CHILD = """
import json, pickle, sys
from embodied_mem.graph import MemoryGraph
g = pickle.loads(open(sys.argv[1], "rb").read())
names = json.loads(open(sys.argv[2]).read())
lazy = (len(g._s.lz_n), len(g._s.lz_e))
found = [x in g for x in names] + [x + "?" in g for x in names[:50]] + [(2, "x") in g]
nodes = [g.node(x) for x in names[::97]]
print(json.dumps({"lazy": lazy, "found": found, "nodes": nodes, "export": g.to_dict()}))
"""


@pytest.mark.parametrize("odd_id", [False, True])
def test_a_pickled_graph_finds_every_id_in_a_process_of_another_hash_seed(tmp_path, odd_id):
    """The id index is stored as it is (CRC-32 hashes, the same in every process): a process with
    another string-hash seed finds every id, finds no other, and answers as the writer; the blocks
    stay pages until first used. An id whose hash is salted (a tuple of a string) makes the
    snapshot store no index: it is built on load."""
    import json
    import os
    import subprocess
    import sys

    g, names = _graph_of_many_ids(3100)
    if odd_id:
        g.add_node((2, "x"), "concept")
    (tmp_path / "g.pickle").write_bytes(pickle.dumps(g, protocol=5))
    (tmp_path / "names.json").write_text(json.dumps(names))
    want = json.loads(json.dumps({"found": [True] * len(names) + [False] * 50 + [odd_id],
                                  "nodes": [g.node(x) for x in names[::97]], "export": g.to_dict()}))
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", _CHILD, str(tmp_path / "g.pickle"), str(tmp_path / "names.json")],
                             capture_output=True, text=True, env=env, check=True).stdout
        got = json.loads(out)
        lazy = got.pop("lazy")
        assert got == want
        assert lazy == ([0, 3] if odd_id else [3, 3])  # every full block a page after the load; none with a salted id


def _old_page(d: dict, node: bool) -> dict:
    """Page ``d`` as the code before pages kept narrow columns wrote it: wide typecodes, float columns
    plain, ids as a list."""
    from array import array

    out = dict(d)
    for name, tc in (graph_mod._NB_ARRAYS if node else graph_mod._EB_ARRAYS):  # noqa: SLF001
        a = array(d[name][0])
        a.frombytes(d[name][1])
        vals = out.pop(name + "_vals", None)
        wide = array(tc, [vals[c] for c in a] if vals is not None else a)
        out[name] = (tc, wide.tobytes())
    if "text" in out:
        off = array("I")
        off.frombytes(out.pop("off")[1])
        text = out.pop("text")
        out["names"] = [text[off[k]:off[k + 1]] for k in range(len(off) - 1)]
    return out


def test_a_state_of_the_previous_version_and_old_pages_read_back_alike():
    """A version-2 state (every block a dict of wide columns, no stored index) loads: its blocks are
    narrowed and coded, its index built, and every reader answers as before."""
    g, names = _graph_of_many_ids(2500)
    g.add_edge(names[0], names[1], "near", valid_from=1.0, source="s", recorded_at=2.0, confidence=0.25)
    st = g._s.__getstate__()  # noqa: SLF001
    old = dict(st, version=2)
    del old["ids"]
    old["nb"] = [_old_page(pickle.loads(b), True) for b in st["nb"]]
    old["eb"] = [_old_page(pickle.loads(b), False) for b in st["eb"]]
    back = MemoryGraph()
    back._s.__setstate__(old)  # noqa: SLF001
    assert not back._s.lz_n and not back._s.lz_e  # noqa: SLF001
    assert back.to_dict() == g.to_dict()
    assert all(x in back for x in names) and "nope" not in back
    b = back._s.eb[0]  # noqa: SLF001
    assert b.rel.typecode == "B" and b.rec.index is not None  # narrowed and coded as when written


def test_lazy_blocks_page_out_and_back_under_a_budget(tmp_path):
    """A budgeted memory reopened from its snapshot holds the graph's blocks as pages until used;
    moving them out (to lt_graph) and reading them back answers as a memory that never closed."""
    path = tmp_path / "m.db"
    small = budgeted(path, sizes={"temporal": 4, "poses": 3, "sightings": 4, "beliefs": 2, "cells": 3,
                                  "chunk_items": 3, "graph": 1})
    ops = walk(2600)
    feed(small, ops)
    want = graph_answers(small, wall_clock=False)
    small.close()
    again = budgeted(path, sizes={"temporal": 4, "poses": 3, "sightings": 4, "beliefs": 2, "cells": 3,
                                  "chunk_items": 3, "graph": 1})
    assert again.snapshot_status == "ok"
    s = again.graph._s  # noqa: SLF001 - the pages kept since the load are what this test is about
    lazy = len(s.lz_n) + len(s.lz_e)
    assert lazy > 0
    for k in list(s.lz_e)[: len(s.lz_e) // 2]:  # half of them moved out as they are, unread
        s.page_out(k, False)
    for k in list(s.lz_n)[: len(s.lz_n) // 2]:
        s.page_out(k, True)
    assert len(s.lz_n) + len(s.lz_e) < lazy
    assert_same(graph_answers(again, wall_clock=False), want)
    again.close()


def test_none_and_other_odd_ids_are_nodes_once():
    """None is a valid id: asked about, added, asked about again and added again (an update), it
    is one node, as in a dict."""
    g = MemoryGraph()
    assert None not in g
    g.add_node(None, "concept", a=1.0)
    assert None in g
    g.add_node(None, "concept", b=2.0)
    for i in range(2000):  # the cache in front of the index turns over
        g.add_node(f"x{i}", "place")
    assert None in g and g.number_of_nodes() == 2001 and g.node(None) == {"kind": "concept", "a": 1.0, "b": 2.0}


def _crc_twins() -> tuple[str, str]:
    """Two distinct ids of the same CRC-32 (the id index's hash): found by a birthday search."""
    import zlib

    rng = random.Random(7)
    seen: dict[int, str] = {}
    for _ in range(400_000):
        x = f"twin:{rng.getrandbits(48):x}"
        h = zlib.crc32(x.encode())
        if h in seen and seen[h] != x:
            return seen[h], x
        seen[h] = x
    raise AssertionError("no CRC-32 collision among 400,000 ids")


class _Salted:
    """An id whose hash is salted (a tuple of a string hashes alike; this one says so by its class)."""

    def __init__(self, v: str) -> None:
        self.v = v

    def __hash__(self) -> int:
        return hash(("salted", self.v))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Salted) and other.v == self.v

    def __repr__(self) -> str:
        return f"_Salted({self.v!r})"


def _index_agrees(g: MemoryGraph, ref: dict) -> None:
    """The growing block's dict and the array index agree with the reference, each on its own: every
    id below ``ixn`` is found by the array index alone at its index, every id from ``ixn`` on is in the
    dict, the dict holds only ids of the growing block, and every reader finds every id."""
    s = g._s  # noqa: SLF001 - the two halves of the index are what this test is about
    first = (s.nn - 1) >> s.sh << s.sh if s.nn else 0
    for x, i in ref.items():
        if i < s.ixn:
            assert s.probe(x) == i, x
        else:
            assert s.grow.get(x) == i, x
        assert x in g and s.find(x) == i and s.lookup(x) == i
    assert all(i >= first and ref[x] == i for x, i in s.grow.items())
    assert s.ids.n == s.ixn


@pytest.mark.parametrize("shift", [2, 3, 10])
def test_the_growing_blocks_dict_and_the_array_index_agree(shift, tmp_path):
    """Ids added, asked about and added again (updates) before and after their block fills up (the dict
    folded into the array index), ``None`` and other odd ids, two ids of one CRC-32, a salted id, a
    pickle taken mid-block and read back (here and in a process of another hash seed) and grown further:
    the graph answers as a dict of ids would, and the two halves of its index agree with it."""
    import json
    import os
    import subprocess
    import sys

    a, b = _crc_twins()
    with mock.patch.object(graph_mod, "_BLOCK_SHIFT", shift):
        g, ref, props = MemoryGraph(), {}, {}
        odd = [None, 0, 1.5, -7, 2**40 + 3, True, "", "é\ud800", a, b, "x" * 300]
        rng = random.Random(shift)
        pool = odd + [f"n{i}" for i in range(700)]
        for step in range(2600):
            x = rng.choice(pool) if step % 3 else pool[step // 3 % len(pool)]
            assert (x in g) == (x in ref)
            g.add_node(x, "concept", step=step)
            ref.setdefault(x, len(ref))
            props.setdefault(x, {"kind": "concept"})["step"] = step
            if step % 97 == 0:
                _index_agrees(g, ref)
                assert a not in ref or b in ref or b not in g
        _index_agrees(g, ref)
        assert g.nodes() == list(ref) and all(g.node(x) == props[x] for x in ref)
        assert "n700" not in g and 2**40 + 4 not in g and "x" * 299 not in g
        assert g.number_of_nodes() % (1 << shift)  # the growing block is part full
        back = pickle.loads(pickle.dumps(g))  # mid-block: the stored index holds the growing block's ids
        _index_agrees(back, ref)
        for x in ("late-1", None, "late-2", a, "late-3"):  # grows on from the pickle: updates and new ids
            back.add_node(x, "concept", late=True)
            ref.setdefault(x, len(ref))
            props.setdefault(x, {"kind": "concept"})["late"] = True
        _index_agrees(back, ref)
        assert back.nodes() == list(ref) and all(back.node(x) == props[x] for x in ref)
        salted = _Salted("s")
        back.add_node(salted, "concept")
        ref[salted] = len(ref)
        again = pickle.loads(pickle.dumps(back))  # a salted id: no stored index, built on load
        assert again._s.salted  # noqa: SLF001
        _index_agrees(again, ref)
        strs = [x for x in ref if type(x) is str]
        (tmp_path / "g.pickle").write_bytes(pickle.dumps(pickle.loads(pickle.dumps(g)), protocol=5))
        (tmp_path / "names.json").write_text(json.dumps(strs + [None]))
    child = """
import json, pickle, sys
g = pickle.loads(open(sys.argv[1], "rb").read())
names = json.loads(open(sys.argv[2]).read())
print(json.dumps([x in g for x in names] + [x + "?" in g for x in names if x is not None]))
"""
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", child, str(tmp_path / "g.pickle"), str(tmp_path / "names.json")],
                             capture_output=True, text=True, env=env, check=True).stdout
        want = [x in g for x in strs] + [None in g] + [x + "?" in g for x in strs]
        assert json.loads(out) == want and want[len(strs)] is True
