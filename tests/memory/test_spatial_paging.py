"""Spatial memory's ``fit(max_bytes)`` (the RAM budget's controller hands each module its share):
it shrinks the working sets (trajectory, sightings log, belief rows, occupancy tiles), moves the
rest to the long-term tables, lets the sets grow back when there is room, and never changes an
answer. Also: which labels and instances are paged out is one int64 column, not a dict.

Streams wander over a wide world with many labels, instances (one seen under two labels), late
percepts from a second source, views (negative evidence), free and blocked cells, regions; ``fit``
is called between percepts with shares from nothing to plenty, as the facade's controller does.
"""

from __future__ import annotations

import json
import os
import pickle
import random
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embodied_mem import Memory, MemoryConfig, Percept, Pose, Sighting, View
from embodied_mem.memory import spatial
from embodied_mem.memory.spatial import SpatialMemory

LABELS = [f"l{i}" for i in range(10)]
PROBES = [-1.0, 0.0, 3.0, 10.0, 40.0, 150.0, 1e9]


def stream(seed: int, n: int, t0: float = 0.0) -> list[Percept]:
    """A walk out and back over a wide strip: labels, tiles and poses go cold and come back."""
    rng = random.Random(seed)
    clocks = {"cam": t0, "late": t0}
    out = []
    for i in range(n):
        src = "late" if rng.random() < 0.15 else "cam"
        clocks[src] += rng.choice([0.0, 1.0, 2.0])
        x = float(i if i < n // 2 else n - i) / 2 + rng.uniform(-2, 2)
        y = rng.uniform(-4, 4)
        lbls = [rng.choice(LABELS[: 3 + int(x) // 8 % 8]) for _ in range(rng.randrange(4))]
        sights = tuple(Sighting(lbl, (round(x + rng.uniform(-2, 2)), round(y)), confidence=rng.choice([0.5, 1.0]),
                                instance=rng.choice([None, None, None, None, f"{lbl}-a", f"{lbl}-b", f"{lbl}-{int(x) // 6}"]))
                       for lbl in lbls)
        if rng.random() < 0.05:  # one instance seen under two labels (their rows then stay in RAM)
            sights += (Sighting(rng.choice(["mug", "l0"]), (round(x), round(y)), instance="cup-1"),)
        free = np.array([(x + dx, y + dy) for dx in (-1.0, 0.0, 1.0) for dy in (-1.0, 1.0)]) if rng.random() < 0.5 else None
        blocked = np.array([(x + rng.randrange(-2, 3), y + 2.0)]) if rng.random() < 0.3 else None
        out.append(Percept(t=clocks[src], pose=Pose(x, y) if rng.random() < 0.8 else None, source=src,
                           view=View.disc((x, y), rng.choice([1.0, 3.0])) if rng.random() < 0.6 else None,
                           sightings=sights, free=free, blocked=blocked,
                           region=rng.choice([None, "hall", "yard", f"room{int(x) // 10}"])))
    return out


def answers(mem: Memory) -> str:
    """Every public spatial answer, over all labels, many times, points and ranges."""
    sp = mem.spatial
    places = sp.places()
    out: dict = {"stats": sp.stats(), "labels": sp.labels(), "regions": sp.regions(), "places": [repr(p) for p in places],
                 "current": sp.current_place, "pose": repr(sp.pose())}
    out["place_of"] = [repr(sp.place_of((x, y))) for x in range(-4, 80, 5) for y in (-3.0, 0.0, 3.0)]
    out["neighbours"] = [sp.neighbours(p.id) for p in places]
    for lbl in [*LABELS, "mug"]:
        d = out[lbl] = {}
        d["locate"] = [repr(sp.locate(lbl, at=a)) for a in [None, *PROBES]]
        d["history"] = repr(sp.history(lbl))
        d["count"] = [sp.count(lbl, at=a) for a in [None, *PROBES]]
        d["nearest"] = [repr(sp.nearest(lbl, q, at=a)) for q in [(0.0, 0.0), (30.0, 2.0)] for a in [None, *PROBES[::2]]]
        d["follow"] = [repr(sp.follow(lbl, q, a, reach=r)) for q in [(0.0, 0.0), (12.0, -1.0), (40.0, 3.0)]
                       for a in PROBES[::2] for r in (None, 3.0)]
    out["trajectory"] = [repr(sp.trajectory(a, b)) for a, b in [(None, None), (0.0, 20.0), (30.0, None), (None, 5.0)]]
    out["walks"] = repr(sp.walks())
    out["region_counts"] = sorted(sp.region_counts().items())
    out["label_counts"] = sorted(sp.label_counts().items())
    cells, states = sp.occupancy_cells()
    out["occ"] = [cells.tolist(), states.tolist(), sp.n_known_cells, sp.frontiers(), sp.frontiers(near=(20.0, 0.0), limit=7)]
    out["occupancy"] = [sp.occupancy((x, y)) for x in range(-3, 80, 4) for y in (-3.0, 0.0, 2.0)]
    out["path"] = [repr(sp.path(a, b, adjacent=adj)) for a, b in [((0.0, 0.0), (20.0, 1.0)), ((35.0, -2.0), (5.0, 2.0))]
                   for adj in (False, True)]
    return json.dumps(out, sort_keys=True, default=repr)


def assert_same(got: str, want: str) -> None:
    if got != want:
        g, w = json.loads(got), json.loads(want)
        diff = {k: (g.get(k), w.get(k)) for k in sorted(set(g) | set(w)) if g.get(k) != w.get(k)}
        raise AssertionError(f"fitted != unbudgeted in {sorted(diff)}: {str(diff)[:1500]}")


def budgeted(path=None) -> Memory:
    cfg = {"ram_budget_mb": 1}
    return Memory(cfg) if path is None else Memory.open(path, config=MemoryConfig.from_dict(cfg))


def feed(mem: Memory, percepts: list[Percept], shares: list[int] | None = None, every: int = 7) -> None:
    """Observe ``percepts``; every ``every`` percepts, ``fit`` spatial memory to the next share."""
    for i, p in enumerate(percepts):
        mem.observe(p)
        if shares and i % every == every - 1:
            mem.spatial.fit(shares[(i // every) % len(shares)])


@pytest.fixture(autouse=True)
def tiny_tiles_and_floors():
    """2 x 2-cell tiles, blocks of 2 places and working sets that may shrink to one item: nearly
    everything moves out and back."""
    with mock.patch.object(spatial, "_TILE", 1), mock.patch.object(SpatialMemory, "_FLOORS", (1, 1, 1, 1, 1)), \
            mock.patch.object(spatial, "_PB", 1), mock.patch.object(spatial, "_PM", 1):
        yield


SHARES = [0, 50_000, 1 << 30, 0, 0, 200_000, 10_000]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.integers(0, 10**6), st.integers(20, 160), st.lists(st.sampled_from(SHARES), min_size=1, max_size=5),
       st.integers(1, 9))
def test_fit_to_any_share_between_percepts_answers_every_query_as_an_unbudgeted_memory(seed, n, shares, every):
    ps = stream(seed, n)
    plain, small = Memory(), budgeted()
    feed(plain, ps)
    feed(small, ps, shares, every)
    assert_same(answers(small), answers(plain))
    small.spatial.fit(0)  # after the queries paged labels and tiles back in
    assert_same(answers(small), answers(plain))
    small.close()
    plain.close()


def test_fit_moves_the_working_sets_out_and_lets_them_grow_back():
    ps = stream(7, 600)
    plain, small = Memory(), budgeted()
    feed(plain, ps)
    feed(small, ps)
    sp = small.spatial
    full = sp.ram_bytes()
    caps0 = sp._caps()  # noqa: SLF001 - the working-set sizes are the point of this test
    target = full // 2
    sp.fit(target)
    assert sp.ram_bytes() <= target < full
    assert all(c < c0 for c, c0 in zip(sp._caps(), caps0))  # noqa: SLF001
    lt = sp.pages.store
    for table in ("lt_poses", "lt_sightings", "lt_beliefs", "lt_tiles", "lt_places"):
        assert lt.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] > 0, table
    assert_same(answers(small), answers(plain))
    # nothing left to move: fit(0) goes down to the floors and stops (no endless loop, no error)
    sp.fit(0)
    assert sp._caps() == (1, 1, 1, 1, 1)  # noqa: SLF001
    # room again: the sets grow back (a quarter a call) up to what the budget first gave them
    for _ in range(200):
        sp.fit(1 << 40)
    assert sp._caps() == caps0  # noqa: SLF001
    more = stream(8, 100, t0=2000.0)
    feed(small, more)
    feed(plain, more)
    assert_same(answers(small), answers(plain))


def test_fit_without_a_budget_changes_nothing():
    mem = Memory()
    feed(mem, stream(3, 80))
    before, n = answers(mem), mem.spatial.ram_bytes()
    mem.spatial.fit(0)
    assert mem.spatial.ram_bytes() == n and answers(mem) == before


@pytest.mark.parametrize("cut", [30, 170])
def test_reopen_after_fit_with_and_without_snapshot_answers_as_before(tmp_path, cut):
    path = tmp_path / "m.db"
    ps = stream(11, 240)
    mem = budgeted(path)
    feed(mem, ps[:cut], [0, 30_000], 5)
    mem.checkpoint()
    feed(mem, ps[cut:], [0, 30_000], 5)
    before = answers(mem)
    mem.close()
    again = budgeted(path)
    assert again.snapshot_status == "ok", again.snapshot_status
    assert_same(answers(again), before)
    again.spatial.fit(0)
    assert_same(answers(again), before)
    again.close()
    os.unlink(str(path) + ".snapshot")
    full = budgeted(path)
    assert full.snapshot_status != "ok"
    assert_same(answers(full), before)
    full.close()


def test_paged_labels_and_instances_are_int_columns_and_come_back():
    ps = stream(5, 300)
    small = budgeted()
    feed(small, ps, [0], 1)
    lp = small.spatial._b.lp  # noqa: SLF001
    assert type(lp.paged) is spatial._Gens and type(lp.inst) is spatial._Gens  # noqa: SLF001
    assert len(lp.paged) > 0 and lp.paged.nbytes() < 16 * len(small.spatial.labels()) + 200
    paged = [li for li in range(len(small.spatial.labels())) if li in lp.paged]
    assert len(paged) == len(lp.paged)
    for li in paged:
        small.spatial.locate(small.spatial._b.name_of(li))  # noqa: SLF001 - pages the label (and its name) in
        assert li not in lp.paged
        assert len(lp.paged) == sum(1 for k in range(len(small.spatial.labels())) if k in lp.paged)
    g = spatial._Gens()  # noqa: SLF001
    with pytest.raises(KeyError):
        g.pop(3)
    with pytest.raises(ValueError, match="rowid"):
        g.update({2: 0})
    g.update({5: 9, 2: 4})
    assert (5 in g, 2 in g, 3 in g, "5" in g, len(g), g.get(5), g.get(99)) == (True, True, False, False, 2, 9, None)
    assert pickle.loads(pickle.dumps(g)).g == g.g


def test_a_crafted_belief_page_is_refused_not_run():
    """A paged label's lt_beliefs row replaced by a pickle that names a callable: paging the label
    in refuses it (UnpicklingError), nothing runs."""
    small = budgeted()
    feed(small, stream(9, 200), [0], 1)
    sp = small.spatial
    lp = sp._b.lp  # noqa: SLF001
    li = next(li for li in range(len(sp.labels())) if li in lp.paged)
    evil = pickle.dumps(os.system)
    sp.pages.store.execute("UPDATE lt_beliefs SET v=? WHERE rowid=?", (evil, lp.paged.get(li)))
    with pytest.raises(pickle.UnpicklingError, match="damaged or crafted"):
        sp.locate(sp._b.name_of(li))  # noqa: SLF001 - its name is in lt_slabels


def test_place_blocks_leave_ram_come_back_on_a_revisit_and_crafted_ones_are_refused():
    ps = stream(13, 400)
    plain, small = Memory(), budgeted()
    feed(plain, ps[:200])
    feed(small, ps[:200])
    pl = small.spatial._pl  # noqa: SLF001 - where the blocks are is the point of this test
    assert pl.bpaged and pl.n_res <= pl.limit
    first = 0 >> spatial._PB  # noqa: SLF001
    assert first in pl.bpaged  # the walk went on: the first places' block is out
    assert small.spatial.places() == plain.spatial.places() and first in pl.bpaged  # read, not brought back
    feed(small, ps[200:])  # the walk comes back: the first places are revisited
    feed(plain, ps[200:])
    assert_same(answers(small), answers(plain))
    small.spatial.fit(0)
    bi = next(iter(pl.bpaged))
    lt = small.spatial.pages.store
    lt.execute("UPDATE lt_places SET v=? WHERE rowid=?", (pickle.dumps(os.system), pl.bpaged[bi]))
    with pytest.raises(pickle.UnpicklingError, match="damaged or crafted"):
        small.spatial.places()
    lt.execute("UPDATE lt_places SET v=? WHERE rowid=?", (pickle.dumps({"pz": b"\0" * 8}), pl.bpaged[bi]))
    with pytest.raises(ValueError, match="damaged lt_places row"):
        small.spatial.neighbours(f"place:{bi << spatial._PB}")  # noqa: SLF001


def test_fit_never_raises_a_working_set_above_what_the_budget_gave():
    small = budgeted()
    feed(small, stream(21, 120))
    sp = small.spatial
    caps0 = sp._caps()  # noqa: SLF001
    with mock.patch.object(SpatialMemory, "_FLOORS", (10**9,) * 5):
        sp.fit(0)
    assert sp._caps() == caps0  # noqa: SLF001
