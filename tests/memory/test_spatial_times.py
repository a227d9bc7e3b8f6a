"""Spatial memory's sightings log keeps its times run-length (``_Beliefs.trt``/``trs``, one pair per
run of entries appended at one time) and each belief's latest time (``tl``). The reference: without a
RAM budget every log entry is appended while one percept is observed and carries that percept's time,
so a shadow list of one time per entry, recorded beside the memory, must read back bit for bit
(``time(k)``, ``ht_array()``, ``tl``), and ``at()`` / ``first()`` / ``next_after()`` must answer what a
walk over the shadow times answers. Times include -0.0 and 0.0, fractions, large epochs, late
percepts (older than the latest) and repeats; the state survives a snapshot and a format-8 state (one
time per entry, ``ht``) converts to the same columns."""

from __future__ import annotations

import pickle
import struct
from array import array

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from embodied_mem import Memory, Percept, Pose, Sighting, View
from embodied_mem.memory import spatial

from .conftest import budgeted

BASE = [0.0, -0.0, 1.7e9 + 0.1, 3.25, 1e-300]
times_st = st.lists(st.tuples(st.sampled_from(BASE), st.integers(0, 6), st.integers(0, 3)), min_size=1, max_size=40)
spots = [(float(x), float(y), 0.0) for x in (0, 1, 5) for y in (0, 3)]


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


def percepts(script: list[tuple[float, int, int]]) -> list[Percept]:
    """Percepts from three sources (time goes backwards only across sources: late percepts)."""
    out = []
    last: dict[str, float] = {}
    for i, (base, step, n) in enumerate(script):
        t = base + step * 0.5 if step else base  # step 0: the base itself (-0.0 stays -0.0)
        src = f"s{(step + n) % 3}"
        if t < last.get(src, -1e308):
            continue
        last[src] = t
        sights = [Sighting(f"cup{j % 2}", spots[(i + j) % len(spots)]) for j in range(n)]
        if i % 5 == 4:
            sights.append(Sighting("key", spots[i % len(spots)], instance="k1"))
        out.append(Percept(t=t, pose=Pose(float(i % 7), 0.0, 0.0, 0.0), sightings=tuple(sights),
                           view=View.disc((float(i % 7), 0.0), 2.0), source=src))
    return out


def feed_with_shadow(mem: Memory, ps: list[Percept]) -> list[float]:
    shadow: list[float] = []
    for p in ps:
        mem.observe(p)
        B = mem.spatial._b  # noqa: SLF001 - the log's columns are the point of this test
        shadow.extend([p.t] * (len(B.hv) - len(shadow)))
    return shadow


def check_log(B: spatial._Beliefs, shadow: list[float]) -> None:  # noqa: SLF001
    n = len(B.hv)
    assert n == len(shadow) == len(B.hprev)
    assert [_bits(B.time(k)) for k in range(n)] == [_bits(t) for t in shadow]
    assert [_bits(t) for t in B.ht_array().tolist()] == [_bits(t) for t in shadow]
    assert [_bits(B.tl[r]) for r in range(len(B.lab))] == [_bits(shadow[B.hlast[r]]) for r in range(len(B.lab))]
    probes = sorted({t for t in shadow} | {t + 0.25 for t in shadow} | {t - 0.25 for t in shadow})
    for r in range(len(B.lab)):
        chain = []  # the row's entries, latest first (the reference walk over the shadow times)
        k = B.hlast[r]
        while k >= 0:
            chain.append(k)
            k = B.prev(k)
        assert [shadow[k] for k in chain] == sorted((shadow[k] for k in chain), reverse=True)
        first = chain[-1]
        got = B.first(r)
        assert _bits(got[0]) == _bits(shadow[first]) and got[1] == B.vc[B.hv[first]]
        for q in probes:
            at = next((k for k in chain if shadow[k] <= q), None)
            got = B.at(r, q)
            if at is None:
                assert got is None
            else:
                v = B.hv[at]
                assert got is not None and _bits(got[0]) == _bits(shadow[at])
                assert got[1:] == (B.vc[v], (B.vx[v], B.vy[v], B.vz[v]))
            later = [shadow[k] for k in chain if shadow[k] > q]
            nxt = B.next_after(r, q)
            assert (nxt is None) if not later else (nxt is not None and _bits(nxt) == _bits(later[-1]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(times_st)
@example([(0.0, 0, 2), (-0.0, 0, 2), (0.0, 0, 1), (3.25, 0, 2), (0.0, 1, 1)])  # -0.0 between 0.0s; a late one
def test_log_times_read_back_bit_for_bit(script):
    mem = Memory()
    shadow = feed_with_shadow(mem, percepts(script))
    B = mem.spatial._b  # noqa: SLF001
    check_log(B, shadow)
    # a snapshot's state, and format 8's (one time per entry) converted, hold the same columns
    again = pickle.loads(pickle.dumps(B))
    check_log(again, shadow)
    old = B.__getstate__()
    old["ht"] = array("d", B.ht_array().tobytes())
    for k in ("trt", "trs", "tl"):
        del old[k]
    conv = spatial._Beliefs.__new__(spatial._Beliefs)  # noqa: SLF001
    conv.__setstate__(old)
    check_log(conv, shadow)
    for k in spatial._Beliefs._COLUMNS:  # noqa: SLF001
        assert getattr(conv, k).tobytes() == getattr(B, k).tobytes(), k


def answers(mem: Memory) -> str:
    sp = mem.spatial
    out = []
    for lbl in ("cup0", "cup1", "key"):
        out.append(repr(sp.history(lbl)))
        out.append(repr(sp.locate(lbl)))
        for q in (-1.0, 0.0, 1.0, 2.25, 3.25, 1.7e9, 1.7e9 + 1):
            out.append(repr(sp.locate(lbl, at=q)))
            out.append(repr(sp.nearest(lbl, (1.0, 1.0), at=q)))
    return "\n".join(out)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(times_st)
def test_budgeted_log_answers_as_the_plain_one(script):
    ps = percepts(script)
    plain, small = Memory(), budgeted()
    try:
        for p in ps:
            plain.observe(p)
            small.observe(p)
        assert answers(small) == answers(plain)
    finally:
        small.close()
        plain.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(times_st, st.sampled_from([1, 2, 3, 7]))
@example([(0.0, 0, 2), (3.25, 0, 2), (0.0, 1, 1), (3.25, 1, 2), (0.0, 0, 3)], 2)
def test_back_links_past_the_uint16_codes_answer_alike(script, far):
    """The log's back links are uint16 distances with an escape to ``hfar`` (``_HP_FAR``): with the
    escape lowered so that most links take it, the log reads back as the plain one, with and
    without a budget, and an int32 state (format 9 before the codes) converts to the same codes."""
    from unittest import mock

    import numpy as np

    ps = percepts(script)
    plain = Memory()
    for p in ps:
        plain.observe(p)
    want = answers(plain)
    with mock.patch.object(spatial, "_HP_FAR", far):
        mem, small = Memory(), budgeted()
        try:
            shadow = feed_with_shadow(mem, ps)
            for p in ps:
                small.observe(p)
            B = mem.spatial._b  # noqa: SLF001
            check_log(B, shadow)
            assert answers(mem) == want and answers(small) == want
            assert all(B.hprev[k] == far for k in list(B.hfar) + list(B.hfk))
            assert list(B.hfk) == sorted(set(B.hfk))
            hp = B.prev_array()
            assert hp.tolist() == [B.prev(k) for k in range(len(B.hv))]
            old = B.__getstate__()
            old["hprev"] = array("i", hp.astype(np.int32).tobytes())
            del old["hfar"]
            conv = spatial._Beliefs.__new__(spatial._Beliefs)  # noqa: SLF001
            conv.__setstate__(old)
            assert conv.prev_array().tolist() == hp.tolist()
            if conv.hprev.typecode == B.hprev.typecode:  # (an eighth or more far: the conversion makes it wide)
                assert conv.hprev.tobytes() == B.hprev.tobytes()
            check_log(conv, shadow)
        finally:
            small.close()
            mem.close()
    plain.close()
