"""Under a RAM budget the knowledge graph pages blocks of nodes and edges out to ``lt_graph`` and
reads them back on demand: every graph query and export answers exactly as an unbudgeted graph's.

The graph's blocks are made tiny here (2 ids each) so that nearly every node and edge is paged
out and read back many times.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings

from embodied_mem import Memory, MemoryConfig, Percept, Pose, Sighting
from embodied_mem import graph as graph_mod
from embodied_mem.graph import GraphError
from embodied_mem.memory import longterm

from .conftest import TINY_SIZES, assert_same, feed, reopens_answer_as_before, same_in_every_world
from .conftest import budgeted as _budgeted
from .test_ram_budget import PROBES, answers, stream

SIZES = {**TINY_SIZES, "graph": 1}


@pytest.fixture(autouse=True)
def small_blocks():
    with mock.patch.object(graph_mod, "_BLOCK_SHIFT", 1), mock.patch.object(longterm, "working_set_sizes",
                                                                             lambda _mb: dict(SIZES)):
        yield


def budgeted(path: Path | None = None, **kw) -> Memory:
    return _budgeted(path, sizes=SIZES, **kw)


def _no_wall(d: dict) -> dict:
    return {k: v for k, v in d.items() if k != "recorded_at"}


def graph_answers(mem: Memory, wall_clock: bool = True) -> str:
    """Every graph query and export (without wall-clock times unless ``wall_clock``)."""
    g = mem.graph
    strip = (lambda d: d) if wall_clock else _no_wall
    names = g.nodes()
    out: dict = {"nodes": names, "n": [g.number_of_nodes(), g.number_of_edges(), len(g)],
                 "kinds": {k: g.nodes(k) for k in sorted(graph_mod.NODE_KINDS)}}
    out["node"] = [g.node(n) for n in names]
    out["in"] = [n in g for n in [*names, "nope", "place:999"]]
    out["history"] = [[strip(h) for h in g.history(n)] for n in names]
    out["out"] = [[(u, v, k, strip(dict(d))) for u, v, k, d in g.edges(n)] for n in names]
    out["out_now"] = [[(v, k) for _u, v, k, _d in g.edges(n, current=True)] for n in names]
    rels = sorted({d["relation"] for _u, _v, _k, d in g.edges()})
    out["rel"] = [[(u, v, k) for u, v, k, _d in g.edges(relation=r, at=a)] for r in [*rels, "nope"]
                  for a in (None, *PROBES[::3])]
    out["current"] = [(u, v, k, strip(dict(d))) for u, v, k, d in g.edges(current=True)]
    out["valid"] = [[g.valid_at(d, a) for _u, _v, _k, d in g.edges()] for a in (None, *PROBES[::3])]
    td = g.to_dict()
    td["edges"] = [strip(e) for e in td["edges"]]
    out["dict"] = td
    out["as_of"] = [[(u, v, k, strip(dict(d))) for u, v, k, d in g.as_of(a).edges()] for a in PROBES[::2]]
    return json.dumps(out, sort_keys=True, default=repr)


SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(stream())
def test_budgeted_graph_answers_every_query_as_an_unbudgeted_one(ops):
    plain, small = Memory(), budgeted()
    feed(plain, ops)  # the unbudgeted memory first, as before the shared helpers
    feed(small, ops)
    same_in_every_world(small, plain, lambda m: graph_answers(m, wall_clock=False), answers)


def walk(n: int, t0: int = 0) -> list:
    return [("p", Percept(t=float(t0 + i), pose=Pose(float(i % 40) * 4, float(i // 40) * 4),
                          sightings=(Sighting(f"thing{i % 17}", (float(i % 40) * 4, 1.0)),),
                          events=("tick",) if i % 3 == 0 else (), region="hall" if i % 2 else None))
            for i in range(n)] + [("episode", None)]


def test_paging_really_happens_and_exports_are_byte_identical(tmp_path):
    """The same journal opened with and without a budget: identical exports (wall-clock times
    included: both replay the journal), while most blocks of the budgeted graph are on disk."""
    path = tmp_path / "m.db"
    mem = Memory.open(path)
    feed(mem, walk(300))
    mem.close()
    plain = Memory.open(path, config=MemoryConfig(), readonly=True)
    small = budgeted(path)
    g = small.graph
    n_out, e_out = g.paged_out()
    assert n_out > g.number_of_nodes() // 2 and e_out > g.number_of_edges() // 2, g.paged_out()
    assert g.ram_bytes() <= g._s.cap  # noqa: SLF001
    assert_same(graph_answers(small), graph_answers(plain))
    g.settle()
    assert g.paged_out()[0] > g.number_of_nodes() // 2  # a whole-graph scan does not keep what it read
    g.to_json(tmp_path / "a.json")
    plain.graph.to_json(tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    g.to_graphml(tmp_path / "a.graphml")
    plain.graph.to_graphml(tmp_path / "b.graphml")
    assert (tmp_path / "a.graphml").read_bytes() == (tmp_path / "b.graphml").read_bytes()
    nxa, nxb = g.nx, plain.graph.nx
    assert list(nxa.nodes(data=True)) == list(nxb.nodes(data=True))
    assert list(nxa.edges(keys=True, data=True)) == list(nxb.edges(keys=True, data=True))
    # a query that touches a paged-out node reads its block back; updates to it survive moving out again
    first = g.nodes("place")[0]
    g.add_node(first, "place", note="back")
    for r in range(3):
        feed(small, walk(40, 300 + 40 * r))
    assert g.node(first)["note"] == "back"
    small.close()
    plain.close()


def test_reopen_from_snapshot_and_full_replay_answer_as_before(tmp_path):
    path = tmp_path / "m.db"
    mem = budgeted(path)
    feed(mem, walk(150))
    mem.checkpoint()
    feed(mem, [("p", Percept(t=150.0 + i, pose=Pose(i, 3), events=("x",))) for i in range(60)])
    assert mem.graph.paged_out()[1] > 0
    before = {answers: answers(mem), graph_answers: graph_answers(mem)}
    mem.close()
    reopens_answer_as_before(path, budgeted, before, replayed=True)


CRASH = textwrap.dedent("""
    import os, sys
    from unittest import mock
    from embodied_mem import Memory, MemoryConfig, Percept, Pose, Sighting
    from embodied_mem import graph
    from embodied_mem.memory import longterm
    sizes = {"temporal": 4, "poses": 3, "sightings": 4, "beliefs": 2, "cells": 3, "chunk_items": 3, "graph": 1}
    with mock.patch.object(longterm, "working_set_sizes", lambda mb: sizes), mock.patch.object(graph, "_BLOCK_SHIFT", 1):
        mem = Memory.open(sys.argv[1], config=MemoryConfig.from_dict({"ram_budget_mb": 1}))
        for i in range(200):
            if i == 80:
                mem.checkpoint()
            mem.observe(Percept(t=float(i), pose=Pose(4.0 * (i % 30), 0.0), events=("tick",),
                                sightings=(Sighting(f"cup{i % 9}", (i % 3, 1)),)))
    os._exit(0)  # a crash: graph pages written after the checkpoint stay in the file
""")


def test_crash_after_checkpoint_reopens_to_the_same_graph(tmp_path):
    path = tmp_path / "m.db"
    subprocess.run([sys.executable, "-c", CRASH, str(path), ""], check=True, timeout=120)
    mem = budgeted(path)
    assert mem.snapshot_status == "ok" and mem.replayed_entries == 120
    plain = Memory.open(path, config=MemoryConfig(), readonly=True)
    assert_same(graph_answers(mem), graph_answers(plain))
    assert mem.graph.paged_out()[0] > 0
    mem.close()
    plain.close()


def test_a_crafted_graph_page_is_refused_not_run(tmp_path):
    with pytest.raises(pickle.UnpicklingError, match="damaged or crafted"):
        graph_mod._load_page(pickle.dumps(SimpleNamespace(a=1)))  # noqa: SLF001
    with pytest.raises(pickle.UnpicklingError):
        graph_mod._load_page(pickle.dumps(os.getcwd))  # noqa: SLF001
    mem = budgeted()
    feed(mem, walk(200))
    g = mem.graph
    lt = g.pages.store
    for bad in (pickle.dumps({"names": ["x"]}), pickle.dumps({"kind": ("z", b"")}), b"junk"):
        lt.execute("UPDATE lt_graph SET v = ?", (bad,))
        with pytest.raises((GraphError, pickle.UnpicklingError)):
            mem.graph.to_dict()
    lt.execute("DELETE FROM lt_graph")
    with pytest.raises(GraphError, match="missing from lt_graph"):
        mem.graph.nodes()
    mem.close()


def test_budget_share_of_the_graph_grows_with_the_budget():
    with mock.patch.object(longterm, "working_set_sizes", longterm._WORKING_SET_SIZES):  # noqa: SLF001
        small, big = longterm.working_set_sizes(16)["graph"], longterm.working_set_sizes(256)["graph"]
    assert 0 < small < big


def test_ram_bytes_counts_every_part_and_the_graph_takes_what_the_others_leave():
    mem = budgeted()
    feed(mem, walk(300))
    parts = mem.ram_bytes()
    assert set(parts) == {"spatial", "temporal", "episodic", "semantic", "graph", "worlds", "total"}
    assert parts["total"] == sum(v for k, v in parts.items() if k != "total")
    assert all(v >= 0 for v in parts.values()) and parts["graph"] == mem.graph.ram_bytes() > 0
    before = answers(mem), graph_answers(mem)
    others = parts["total"] - parts["graph"]
    g = mem.graph
    g.fit(others * 100)  # room to spare: nothing more moves out
    assert g._s.cap == others * 100  # noqa: SLF001
    g.fit(0)  # no room: down to the few blocks a cap always holds
    assert g.ram_bytes() <= g._s.cap < parts["graph"] + others  # noqa: SLF001
    assert (answers(mem), graph_answers(mem)) == before
    assert mem.ram_bytes()["semantic"] > 0  # a module without its own ram_bytes: its containers' sizes
    plain = Memory()
    feed(plain, walk(50))
    plain.graph.fit(0)  # no pages: every block stays in RAM
    assert plain.graph.paged_out() == (0, 0)
    mem.close()
