"""Spatial memory's fast ingest path files percepts exactly as the plain per-sighting path does.

``SpatialMemory.observe`` files the common sighting (a belief seen again where it was) inline,
matches a label-level sighting in its own index cell first and walks a disc view's candidate rows in
Python. The reference here files every sighting through ``_observe_sighting`` (its ``_match``,
``_resight``, ``_new_belief``) and gives negative evidence through the general vectorised branch
(the view wrapped so it is no ``DiscView``), and walks the trajectory by a plain copy of the
segment walk. Fed the same stream, both memories must answer every
spatial query alike and hold the same spatial snapshot state (row for row), with and without a RAM
budget. The streams put positions on and near index-cell borders (``index_cell`` 4) and exactly at
the matching tolerance, move objects by less and more than the tolerance, re-sight instances under
other labels and elsewhere, and mix in late percepts from a second source.
"""

from __future__ import annotations

import json
import math
import pickle
import re
from contextlib import contextmanager
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embodied_mem import Memory, Percept, Pose, Sighting, View
from embodied_mem.memory.spatial import SpatialMemory, _seg_dist, cell_key

from .conftest import budgeted, feed, unbudgeted

LABELS = ["cup", "tree", "key", "door"]
PROBES = [None, 0.0, 2.0, 5.0, 11.0, 30.0, 1e9]
# positions on a quarter-unit lattice around the index cells' borders (multiples of 4): a move of
# 0.25 / 0.5 is within the tolerance (0.5, a tie exactly at it), 0.75 is not
lattice = st.integers(-36, 36).map(lambda v: v / 4)
step = st.sampled_from([0.0, 0.0, 0.0, 0.25, -0.25, 0.5, -0.5, 0.75])


class _PlainView(View):
    """A view that is no ``DiscView`` (so negative evidence takes its vectorised branch)."""

    def __init__(self, view: View) -> None:
        self.view = view

    def bounds(self) -> tuple[float, float, float, float]:
        return self.view.bounds()

    def contains_xy(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self.view.contains_xy(x, y)


def _one_by_one(self: SpatialMemory, p: Percept, pid: int, recorded_at: float):
    """The reference filing: every sighting through ``_observe_sighting``."""
    B = self._b  # noqa: SLF001 - the reference reads the rows the fast path reads
    n0 = len(B.lab)
    matched: set[int] = set()
    born: dict[str, list[int]] | None = None
    for s in p.sightings:
        r = self._observe_sighting(s.label, s.position, s.instance, s.confidence, p.t, pid, recorded_at)  # noqa: SLF001
        matched.add(r)
        if r >= n0 and B.inst[r] < 0:
            born = {} if born is None else born
            born.setdefault(s.label, []).append(r)
    return matched, born


_negative = SpatialMemory._negative_evidence  # noqa: SLF001


def _walk_by_steps(self: SpatialMemory, a, b) -> bool:
    """The reference walk: the segment's sample points' cells, a corner's side cell by ``min``."""
    if a is None:
        return False
    d = math.hypot(b.x - a.x, b.y - a.y)
    limit = self.config.walk_max_step
    if d > (4.0 * self.config.place_radius if limit is None else limit):
        return False
    if d == 0.0:
        return True
    n = max(1, math.ceil(d / self.config.cell_size * 4))
    prev = self.cell_of((a.x, a.y))
    walked, occ = self._walked, self._occ  # noqa: SLF001
    if cell_key(*prev) not in occ:
        walked.add(cell_key(*prev))
    for k in range(1, n + 1):
        c = self.cell_of((a.x + (b.x - a.x) * k / n, a.y + (b.y - a.y) * k / n))
        if c == prev:
            continue
        if c[0] != prev[0] and c[1] != prev[1]:
            side = min(((c[0], prev[1]), (prev[0], c[1])), key=lambda q: _seg_dist(self.cell_center(q), a, b))
            if cell_key(*side) not in occ:
                walked.add(cell_key(*side))
        if cell_key(*c) not in occ:
            walked.add(cell_key(*c))
        prev = c
    return True


def _plain_negative(self: SpatialMemory, view, matched, t):
    return _negative(self, _PlainView(view), matched, t)


@contextmanager
def reference_path():
    with mock.patch.object(SpatialMemory, "_file_sightings", _one_by_one), \
            mock.patch.object(SpatialMemory, "_negative_evidence", _plain_negative), \
            mock.patch.object(SpatialMemory, "_walk", _walk_by_steps):
        yield


@st.composite
def streams(draw):
    """Percepts of two sources (``late`` lags behind ``cam``), objects that stay, drift and jump."""
    clocks = {"cam": 0.0, "late": 0.0}
    things = [(draw(st.sampled_from(LABELS)), draw(lattice), draw(lattice),
               draw(st.sampled_from([None, None, None, "k1", "k2"]))) for _ in range(draw(st.integers(1, 8)))]
    out = []
    for _ in range(draw(st.integers(1, 45))):
        src = draw(st.sampled_from(["cam", "cam", "cam", "late"]))
        clocks[src] += draw(st.sampled_from([0.0, 1.0, 2.0]))
        cx, cy = draw(lattice), draw(lattice)
        sights = []
        for i in sorted(set(draw(st.lists(st.integers(0, len(things) - 1), max_size=6)))):
            label, x, y, inst = things[i]
            x, y = x + draw(step), y + draw(step)
            if draw(st.integers(0, 9)) == 0:  # jumps far
                x, y = draw(lattice), draw(lattice)
            if draw(st.integers(0, 2)) == 0:  # the object really moved (else: one noisy sighting)
                things[i] = (label, x, y, inst)
            if inst is not None and draw(st.integers(0, 7)) == 0:
                label = draw(st.sampled_from(LABELS))  # an instance seen under another label
            sights.append(Sighting(label, (x, y, draw(st.sampled_from([0.0, 0.0, 0.0, 0.25]))), instance=inst,
                                   confidence=draw(st.sampled_from([1.0, 1.0, 0.5]))))
        if draw(st.booleans()):  # a few new things
            sights.append(Sighting(draw(st.sampled_from(LABELS)), (draw(lattice), draw(lattice))))
        kind = draw(st.sampled_from(["disc", "disc", "disc", "rect", "cone", None]))
        rad = draw(st.sampled_from([0.5, 2.0, 4.0, 9.0]))
        if kind == "disc":
            view = View.disc((cx, cy), rad)
        elif kind == "rect":
            view = View.rect(cx - rad, cy - 1, cx + 1, cy + rad)
        else:
            view = None if kind is None else View.cone(Pose(cx, cy, 0.0, 0.5), rad, 1.5)
        pose = Pose(cx, cy) if draw(st.booleans()) else None
        free = np.array([(cx + 1.0, cy), (cx, cy + 1.0)]) if draw(st.booleans()) else None
        out.append(("p", Percept(t=clocks[src], pose=pose, view=view, source=src, sightings=tuple(sights),
                                 free=free, region=draw(st.sampled_from([None, "hall", "yard"])))))
    return out


def answers(mem: Memory) -> str:
    sp = mem.spatial
    out: dict = {"stats": sp.stats(), "labels": sp.labels(), "places": [repr(p) for p in sp.places()],
                 "trajectory": repr(sp.trajectory()), "frontiers": sp.frontiers()}
    for lbl in LABELS:
        d = out[lbl] = {}
        d["locate"] = [repr(sp.locate(lbl, at=a)) for a in PROBES]
        d["history"] = repr(sp.history(lbl))
        d["count"] = [sp.count(lbl, at=a) for a in PROBES]
        d["nearest"] = [repr(sp.nearest(lbl, q, at=a)) for q in [(0.0, 0.0), (-5.0, 4.0)] for a in PROBES[::2]]
        d["follow"] = [repr(sp.follow(lbl, q, a)) for q in [(0.0, 0.0), (4.0, -4.0)] for a in PROBES[1::2]]
        d["last_seen"] = mem.temporal.last_seen(lbl)
    out["region_counts"] = sorted(sp.region_counts().items())
    out["label_counts"] = sorted(sp.label_counts().items())
    # every edge's data and validity (recorded_at is each write's wall clock: two memories differ in it)
    graph = json.dumps(mem.graph.to_dict(), sort_keys=True, default=repr)
    out["graph"] = re.sub(r'"recorded_at": [0-9.e+-]+', '"recorded_at": _', graph)
    return json.dumps(out, sort_keys=True, default=repr)


def spatial_state(mem: Memory) -> bytes:
    """What a snapshot pickles of spatial memory (less the graph, pickled apart)."""
    st_ = mem.spatial.__getstate__()
    return pickle.dumps({k: v for k, v in st_.items() if k not in ("graph", "_pages")}, protocol=5)


SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@SETTINGS
@given(streams())
def test_fast_ingest_files_like_the_plain_path(ops):
    with reference_path():
        ref = unbudgeted()
        feed(ref, ops)
        want, want_state = answers(ref), spatial_state(ref)
    fast = unbudgeted()
    feed(fast, ops)
    assert answers(fast) == want
    assert spatial_state(fast) == want_state


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(streams())
def test_fast_ingest_files_like_the_plain_path_under_a_ram_budget(ops):
    with reference_path():
        ref = budgeted()
        feed(ref, ops)
        want = answers(ref)
    fast = budgeted()
    feed(fast, ops)
    assert answers(fast) == want
    assert answers(fast) == answers(unbudgeted_fed(ops))


def unbudgeted_fed(ops) -> Memory:
    mem = unbudgeted()
    feed(mem, ops)
    return mem


@pytest.mark.parametrize("seed", range(4))
def test_a_long_wandering_stream_files_like_the_plain_path(seed):
    """A few thousand sightings of a lattice of things, revisited many times (most re-sightings hit
    the inline path), with things moved now and then and views that see them gone."""
    rng = np.random.default_rng(seed)
    things = [[f"t{i % 7}", float(x), float(y), f"k{i}" if i % 9 == 0 else None]
              for i, (x, y) in enumerate(rng.integers(-40, 40, size=(120, 2)) / 4)]
    ops, t, x, y = [], 0.0, 0.0, 0.0
    for i in range(400):
        t += 1.0
        x, y = float(np.clip(x + rng.normal(0, 1.5), -10, 10)), float(np.clip(y + rng.normal(0, 1.5), -10, 10))
        if i % 13 == 0:
            o = things[rng.integers(len(things))]
            o[1], o[2] = o[1] + float(rng.choice([0.25, 0.5, 3.0])), o[2]
        seen = tuple(Sighting(lb, (ox, oy), instance=inst) for lb, ox, oy, inst in things
                     if (ox - x) ** 2 + (oy - y) ** 2 <= 16 and rng.random() < 0.9)
        ops.append(("p", Percept(t=t, pose=Pose(x, y), sightings=seen, view=View.disc((x, y), 4.0),
                                 region="hall" if x < 0 else "yard")))
    with reference_path():
        ref = unbudgeted()
        feed(ref, ops)
        want, want_state = answers(ref), spatial_state(ref)
    fast = unbudgeted()
    feed(fast, ops)
    assert answers(fast) == want
    assert spatial_state(fast) == want_state
