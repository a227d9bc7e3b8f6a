"""Spatial memory's sightings log when most back links are far: a patrol robot that sees each object
once per long loop. The log's back links are uint16 distances with far links kept aside
(``_Beliefs.hfk``/``hfv``, ``_HP_FAR``); once more than a quarter of a window of recent links are
kept aside the log widens to int32 distances (``_Beliefs.widen``, ``_HP_WIN``). The reference is the
same stream in a memory whose links are all near (the constants unpatched: the streams here are far
shorter than 65534 sightings), and a plain walk over a shadow of each entry's time (``check_log``):
every answer (locate now and at past times, so each belief's last_seen then; count, history, nearest,
follow; each belief's sightings walked back) must be the same, with and without a RAM budget, and
after a snapshot is written and reopened (in a process whose constants are the real ones). One
stream at the real constants (70,000 objects seen twice) checks the widening itself."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from unittest import mock

import numpy as np
import pytest

from embodied_mem import Memory, Percept, Pose, Sighting, View
from embodied_mem.memory import spatial

from .conftest import budgeted
from .test_spatial_times import check_log, feed_with_shadow

TIMES = [-1.0, 0.0, 5.0, 20.0, 33.5, 60.0, 1e9]


def patrol(n_obj: int, loops: int, per: int, *, near: int = 0, late: bool = True, moves: bool = True) -> list[Percept]:
    """A patrol: ``n_obj`` objects seen in turn, ``per`` a percept, ``loops`` times round; ``near``
    objects seen in every percept besides (a mixed stream). Some objects move between loops, a
    second source sends a few late percepts (links forward), views clear a few beliefs."""
    out = []
    t = 0.0
    i = 0
    for lp in range(loops):
        for s in range(0, n_obj, per):
            t += 0.5
            sights = []
            for j in range(s, min(n_obj, s + per)):
                x = float(j % 40) + (3.0 if moves and lp % 2 and j % 5 == 0 else 0.0)
                sights.append(Sighting(f"l{j % 6}", (x, float(j // 40)), confidence=0.5 + (j % 2) / 2,
                                       instance=f"o{j}" if j % 3 else None))
            for j in range(near):
                sights.append(Sighting(f"n{j}", (float(j), -5.0), instance=f"n{j}"))
            i += 1
            view = View.disc((float(i % 40), 2.0), 1.5) if i % 11 == 0 else None
            out.append(Percept(t=t, pose=Pose(float(i % 40), 0.0), sightings=tuple(sights), view=view, source="cam"))
            if late and i % 17 == 0:
                out.append(Percept(t=t - 3.25, sightings=(Sighting("l1", (1.0, 0.0), instance="o1"),
                                                          Sighting("l2", (2.0, 0.0))), source="late"))
    return out


def answers(mem: Memory) -> str:
    sp = mem.spatial
    out: dict = {"stats": sp.stats(), "labels": sp.labels()}
    for lbl in sp.labels():
        d = out[lbl] = {}
        d["locate"] = [repr(sp.locate(lbl, at=a)) for a in [None, *TIMES]]
        d["last_seen"] = [sorted(loc.last_seen for loc in sp.locate(lbl, at=a)) for a in [None, *TIMES]]
        d["history"] = repr(sp.history(lbl))
        d["count"] = [sp.count(lbl, at=a) for a in [None, *TIMES]]
        d["nearest"] = [repr(sp.nearest(lbl, (3.0, 1.0), at=a)) for a in [None, *TIMES[::2]]]
        d["follow"] = [repr(sp.follow(lbl, (1.0, 0.0), a, reach=3.0)) for a in TIMES[1::2]]
    return json.dumps(out, sort_keys=True, default=repr)


def link_bytes(B: spatial._Beliefs) -> int:  # noqa: SLF001
    return len(B.hprev) * B.hprev.itemsize + 8 * len(B.hfk)


SMALL = {"_HP_FAR": 7, "_HP_WIN": 64, "_HP_CHK": 7}  # links past 6 entries are far; widen on a 64-entry window


@pytest.mark.parametrize("kind", ["far", "mixed", "near"])
def test_far_links_answer_as_near_ones(tmp_path, kind):
    ps = {"far": patrol(60, 6, 3), "mixed": patrol(60, 6, 3, near=4), "near": patrol(3, 40, 3, near=1, moves=False)}[kind]
    plain = Memory()
    for p in ps:
        plain.observe(p)
    want = answers(plain)
    P = plain.spatial._b  # noqa: SLF001
    assert P.hprev.typecode == "H" and not len(P.hfk)  # the reference: every link near
    with mock.patch.multiple(spatial, **SMALL):
        mem, small = Memory(), budgeted()
        disk = Memory.open(tmp_path / "m.db")
        try:
            shadow = feed_with_shadow(mem, ps)
            for p in ps:
                small.observe(p)
                disk.observe(p)
            B = mem.spatial._b  # noqa: SLF001
            assert B.hprev.typecode == ("H" if kind == "near" else "i")
            check_log(B, shadow)
            assert B.prev_array().tolist() == P.prev_array().tolist()
            assert answers(mem) == want
            assert answers(small) == want
            assert answers(disk) == want
            # bounded: about 4 bytes a link at most, 2 while most are near
            assert link_bytes(B) <= (2.5 if kind == "near" else 4.5) * len(B.hprev)
            # a rebuild of the links (a budget's compaction, an old snapshot) picks the width afresh
            again = spatial._Beliefs.__new__(spatial._Beliefs)  # noqa: SLF001
            again.__setstate__(B.__getstate__())
            again.set_prev(B.prev_array())
            assert again.prev_array().tolist() == B.prev_array().tolist()
            check_log(again, shadow)
        finally:
            small.close()
            mem.close()
            disk.close()
    # reopened from its snapshot: the same answers, the same width. A wide log by the real constants
    # (its far code is the same in every process); a narrow one by the patched ones (its codes say
    # "far" at the patched _HP_FAR)
    with mock.patch.multiple(spatial, **SMALL) if kind == "near" else contextlib.nullcontext():
        reopen_and_continue(tmp_path / "m.db", kind, want, shadow, plain)


def reopen_and_continue(path, kind, want, shadow, plain) -> None:
    re = Memory.open(path)
    try:
        R = re.spatial._b  # noqa: SLF001
        assert R.hprev.typecode == ("H" if kind == "near" else "i")
        assert answers(re) == want
        check_log(R, shadow)
        for p in patrol(60, 1, 3, late=False):  # and it keeps ingesting (the wide far code)
            p = dataclasses.replace(p, t=p.t + 1000.0)
            re.observe(p)
            plain.observe(p)
        assert answers(re) == answers(plain)
    finally:
        re.close()
        plain.close()


def test_widen_keeps_links_forward_and_paged():
    """``widen`` moves every real link into the int32 distances, keeps links forward (``hfar``) and
    ``_PAGED`` aside with their codes."""
    B = spatial._Beliefs(1.0)  # noqa: SLF001
    with mock.patch.multiple(spatial, **SMALL):
        B.set_prev(np.array([-1, 0, -2, 1, 2, 3, 4, 5, 0, 1], np.int64))  # two of ten links 8 back
        assert B.hprev.typecode == "i" and list(B.hfk) == [2]  # (_PAGED stays aside)
        B.set_prev(np.array([-1, -2, -2, -2, 0, 1, 2, 3], np.int64))  # _PAGED only: int32 would not help
        assert B.hprev.typecode == "H" and list(B.hfk) == [1, 2, 3]
        hp = np.arange(-1, 39, dtype=np.int64)
        hp[3], hp[30] = spatial._PAGED, 2  # noqa: SLF001 - two of forty far: narrow
        B.set_prev(hp)
        assert B.hprev.typecode == "H" and list(B.hfk) == [3, 30]
        B.hfar[4] = 39  # 4's link rewritten forward (a late sighting appended as 39 goes between 3 and 4)
        B.hprev[4] = B.hfc
        want = B.prev_array().tolist()
        assert want[4] == 39 and want[30] == 2
        B.widen()
        assert B.hprev.typecode == "i" and B.hfc == spatial._HP_FAR_W  # noqa: SLF001
        assert B.prev_array().tolist() == want and [B.prev(k) for k in range(len(want))] == want
        assert list(B.hfk) == [3] and list(B.hfv) == [spatial._PAGED]  # noqa: SLF001


def test_patrol_at_the_real_constants_widens_and_answers():
    """70,000 objects seen twice, 1,000 a percept (each re-sighting 70,000 entries back): the log
    widens, stays at 4 bytes a link, and every belief's sightings walk back as a plain record says."""
    n = 70_000
    mem = Memory()
    rec: dict[str, list[float]] = {}
    t = 0.0
    for lp in range(2):
        for s in range(0, n, 1000):
            t += 1.0
            mem.observe(Percept(t=t, sightings=tuple(Sighting("box", (float(j % 300), float(j // 300)), instance=f"o{j}")
                                                     for j in range(s, s + 1000))))
            for j in range(s, s + 1000):
                rec.setdefault(f"o{j}", []).append(t)
    B = mem.spatial._b  # noqa: SLF001
    assert B.hprev.typecode == "i" and len(B.hfk) < 70_000 // 4
    assert link_bytes(B) <= 4.5 * len(B.hprev)
    for j in range(0, n, 997):
        r = B.instances[f"o{j}"]
        ts = rec[f"o{j}"]
        assert B.tl[r] == ts[-1] and B.first(r)[0] == ts[0]
        assert B.at(r, ts[0] + 0.5)[0] == ts[0] and B.next_after(r, ts[0]) == ts[1]
    locs = mem.spatial.locate("box", at=70.5)
    assert len(locs) == n and max(loc.last_seen for loc in locs) == 70.0
    assert mem.spatial.count("box") == n
    mem.close()
