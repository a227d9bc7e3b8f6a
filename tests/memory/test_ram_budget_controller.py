"""The budget controller (``Memory._fit_budget``): when the modules' RAM estimates exceed their share
of ``memory.ram_budget_mb``, each paging module over its part is told to ``fit`` it, the graph gets
what the others leave, and the freed heap goes back to the system; answers never change.

Modules that page are stood in for by a wrapper (``Paging``) around the real module: it reports a
chosen size, records the ``fit`` calls and shrinks to what it was told (the real spatial, temporal
and episodic ``fit`` come from their own files and tests). The graph is the real one.
"""

from __future__ import annotations

import sys
from typing import Any
from unittest import mock

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from embodied_mem import Memory, Percept, Pose, Sighting
from embodied_mem import graph as graph_mod
from embodied_mem.memory import facade, heap, longterm
from embodied_mem.memory.longterm import ESTIMATE_SHARE, FIXED_MB, MODULE_SHARES, estimate_room, fit_shares

from .conftest import assert_same, budgeted, fed_pair
from .test_ram_budget import LABELS, answers

MIB = 2**20


class Paging:
    """A module stand-in: the real module's behaviour, a size of its own, and ``fit``."""

    def __init__(self, real: Any, size: int, floor: int = 0) -> None:
        self._real, self.size, self.floor, self.calls = real, size, floor, []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def __len__(self) -> int:
        return len(self._real)

    def ram_bytes(self) -> int:
        return self.size

    def fit(self, max_bytes: int) -> None:
        self.calls.append(max_bytes)
        self.size = max(self.floor, min(self.size, max_bytes))


def walk(n: int, t0: int = 0) -> list:
    return [("p", Percept(t=float(t0 + i), pose=Pose(float(i % 40) * 4, float(i // 40) * 4),
                          sightings=(Sighting(LABELS[i % 4], (float(i % 40) * 4, 1.0)),
                                     Sighting(f"thing{i % 17}", (float(i % 40) * 4, 1.0))),
                          events=("tick",) if i % 3 == 0 else ()))
            for i in range(n)]


@pytest.fixture(autouse=True)
def check_often():
    with mock.patch.object(Memory, "_FIT_EVERY", 16):
        yield


def test_modules_over_their_part_are_told_to_fit_it_and_the_graph_gets_the_rest():
    small = budgeted(config={"ram_budget_mb": 4}, sizes=None)
    small.temporal = Paging(small.temporal, 3 * MIB)  # over its part of estimate_room(4)
    small.episodic = Paging(small.episodic, 1000)  # well under its part: left alone
    small, plain = fed_pair(walk(200), small, Memory())
    tm, ep = small.temporal, small.episodic
    assert tm.calls and not ep.calls
    parts = small.ram_bytes()
    room = estimate_room(4)
    fixed = parts["semantic"] + parts["worlds"] + (0 if callable(getattr(small.spatial, "fit", None))
                                                   else parts["spatial"])  # a module without fit: as is
    assert tm.calls[0] < 3 * MIB and tm.size == tm.calls[-1]
    # at least its proportional part of what the modules without fit leave (more when others are under)
    assert tm.calls[-1] >= MODULE_SHARES["temporal"] / sum(MODULE_SHARES.values()) * (room - fixed) - 2 * MIB // 100
    assert small.graph._s.cap == max(room - (parts["total"] - parts["graph"]), small.graph._s.floor)  # noqa: SLF001
    assert parts["total"] <= room or small.graph.ram_bytes() <= small.graph._s.floor  # noqa: SLF001
    assert_same(answers(small), answers(plain))
    small.close()
    plain.close()


def test_nothing_is_paged_while_the_estimates_fit():
    small = budgeted(config={"ram_budget_mb": 64}, sizes=None)
    small.temporal = Paging(small.temporal, 1000)
    small.spatial = Paging(small.spatial, 2000)
    small, plain = fed_pair(walk(100), small, Memory())
    assert not small.temporal.calls and not small.spatial.calls
    assert small.graph.paged_out() == (0, 0)
    parts = small.ram_bytes()  # the others only grew since the last check: the graph's room then was larger
    assert small.graph._s.cap >= estimate_room(64) - (parts["total"] - parts["graph"])  # noqa: SLF001
    small.close()
    plain.close()


def test_a_module_that_cannot_shrink_leaves_less_to_the_graph():
    """Best effort: a module stuck above its part (at its floor) stays there; the graph pages down
    to its own floor to make up (blocks of 2 nodes or edges here, so that it has some to page)."""
    with mock.patch.object(graph_mod, "_BLOCK_SHIFT", 1):
        small = budgeted(config={"ram_budget_mb": 2}, sizes=None)
    small.spatial = Paging(small.spatial, 3 * MIB, floor=int(1.9 * MIB))
    small, plain = fed_pair(walk(300), small, Memory())
    g = small.graph
    assert small.spatial.size == int(1.9 * MIB) and small.spatial.calls
    assert g._s.cap == g._s.floor and g.paged_out()[1] > 0  # noqa: SLF001
    assert_same(answers(small), answers(plain))
    small.close()
    plain.close()


def test_freed_heap_is_given_back_when_the_estimates_fall():
    small = budgeted(config={"ram_budget_mb": 4}, sizes=None)
    small.temporal = Paging(small.temporal, 2 * MIB)
    calls = []
    with mock.patch.object(facade, "release_free_heap", lambda: calls.append(1) or True), \
            mock.patch.object(Memory, "_RELEASE_EACH_FIT_MB", 0):  # not a small budget here
        small, plain = fed_pair(walk(40), small, Memory())
        assert not calls  # nothing paged out yet
        small.temporal.size = 0  # a big page-out: the estimates fall by far more than 1/16 of the budget
        fed_pair(walk(40, 40), small, plain)
    assert len(calls) == 1
    small.close()
    plain.close()


@pytest.mark.parametrize(("budget", "each"), [(4, True), (64, True), (65, False), (512, False)])
def test_a_small_budget_gives_the_free_heap_back_at_every_check(budget, each):
    small = budgeted(config={"ram_budget_mb": budget}, sizes=None)
    calls = []
    with mock.patch.object(facade, "release_free_heap", lambda: calls.append(1) or True):
        small, plain = fed_pair(walk(64), small, Memory())  # 4 checks; nothing paged out (estimates grow)
    assert len(calls) == (4 if each else 0)
    small.close()
    plain.close()


def test_queries_alone_start_budget_checks_and_answers_do_not_change():
    """Under a budget, every ``_READ_FIT_EVERY`` outermost reads start a budget check (what queries paged
    in is fitted again without a percept); reads nested in another (the lock held) never do; an
    unbudgeted memory never counts. Answers stay those of the unbudgeted memory."""
    small = budgeted(sizes=None)
    small, plain = fed_pair(walk(300), small, Memory())
    checks = []
    real = Memory._fit_budget

    def counted(self: Memory) -> None:
        checks.append(self is small)
        real(self)

    with mock.patch.object(Memory, "_fit_budget", counted), mock.patch.object(Memory, "_READ_FIT_EVERY", 4):
        for _ in range(8):
            small.temporal.last_seen(LABELS[0])
            plain.temporal.last_seen(LABELS[0])
        assert checks == [True, True]  # 8 reads of the budgeted memory, none counted for the other
        with small._lock:  # noqa: SLF001 - reads nested in a caller holding the lock (as the facade's own)
            for _ in range(8):
                small.temporal.last_seen(LABELS[0])
        assert len(checks) == 2
        before = len(checks)
        got = answers(small)  # hundreds of reads: checks (and page-outs) among them
        assert len(checks) > before + 10
    assert_same(got, answers(plain))
    small.close()
    plain.close()


def test_reads_during_open_start_no_budget_check(tmp_path):
    """The load and the replay of ``Memory.open`` read without the lock: no read starts a check there
    (only the replay's own checks, every ``_FIT_EVERY`` percepts, run)."""
    mem = budgeted(tmp_path / "m.db", sizes=None)
    fed_pair(walk(100), mem, Memory())
    mem.close()
    callers = []
    real = Memory._fit_budget

    def counted(self: Memory) -> None:
        callers.append((sys._getframe(1).f_code.co_name, self._opening))  # noqa: SLF001
        real(self)

    with mock.patch.object(Memory, "_READ_FIT_EVERY", 1), mock.patch.object(Memory, "_fit_budget", counted):
        mem = budgeted(tmp_path / "m.db", sizes=None)
        assert ("_count_read", True) not in callers
        mem.temporal.last_seen(LABELS[0])
    assert callers[-1] == ("_count_read", False)
    mem.close()


def test_release_free_heap_runs_here_or_says_it_cannot():
    assert heap.release_free_heap() is heap.can_release()
    assert heap.release_free_heap() in (True, False)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from([*MODULE_SHARES, "other"]), st.integers(0, 10**9), min_size=1),
       st.integers(-10**6, 3 * 10**9))
@example(sizes={"spatial": 8105}, room=8105)  # exactly full: float rounding once asked spatial for 8104
def test_fit_shares_fills_the_room_fairly(sizes, room):
    caps = fit_shares(sizes, room, MODULE_SHARES)
    assert set(caps) == set(sizes)
    total = sum(sizes.values())
    if total <= max(room, 0):
        assert caps == sizes  # everything fits: nobody is asked to shrink
        return
    assert sum(caps.values()) <= max(room, 0) and max(room, 0) - sum(caps.values()) <= len(sizes)
    over = [k for k in sizes if caps[k] < sizes[k]]
    assert over
    w = lambda k: MODULE_SHARES.get(k, 0.1)  # noqa: E731
    level = max(caps[k] / w(k) for k in over)
    for k in sizes:
        assert 0 <= caps[k] <= sizes[k]
        assert caps[k] / w(k) <= level + 1e-6 * (1 + level)  # nobody gets more per share than one over its part
    for k in over:
        assert caps[k] / w(k) >= level - 1.0 / w(k) - 1e-6 * level  # those over all get the same level


def test_the_estimates_share_and_module_shares_are_sane():
    assert 0.25 <= longterm.ESTIMATE_SHARE < 1  # measured RSS / estimates ~2 (longterm.py)
    # the fixed costs weigh on small budgets, never take more than half, and the room grows with the budget
    assert estimate_room(16) == int((16 - FIXED_MB) * MIB * ESTIMATE_SHARE) < int(16 * MIB * ESTIMATE_SHARE)
    assert estimate_room(1) == int(0.5 * MIB * ESTIMATE_SHARE)
    rooms = [estimate_room(b) for b in (0.5, 1, 2, 4, 7.9, 8, 8.1, 16, 64, 256, 4096)]
    assert rooms == sorted(rooms) and estimate_room(256) >= 0.98 * 256 * MIB * ESTIMATE_SHARE
    assert all(v > 0 for v in MODULE_SHARES.values())
    assert set(MODULE_SHARES) == {"spatial", "temporal", "episodic", "graph"}
