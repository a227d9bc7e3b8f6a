"""``keycolumns.KeyGroups``: rows grouped by distinct key bit for bit, each key's similarity the
same value as each of its rows' (``SparseKeyColumns.weighted_sum``), ``span_sum`` equal to
``weighted_sum`` over any span, and a hash collision leaving the grouping unusable (never wrong)."""

from __future__ import annotations

import random

import numpy as np

from embodied_mem.memory import keycolumns
from embodied_mem.memory.featurize import HashingFeaturizer
from embodied_mem.memory.keycolumns import KeyGroups, SparseKeyColumns

WORDS = ["red", "blue", "old", "cup", "book", "chair", "lamp", "box", "kitchen", "hall"]


def _keys(n: int, seed: int = 0) -> tuple[SparseKeyColumns, np.ndarray]:
    rng = random.Random(seed)
    enc = HashingFeaturizer(32)  # few dimensions: words collide in slots
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 4))) for _ in range(n)]
    dense = enc.encode(texts)
    kc = SparseKeyColumns(32)
    for row in range(n):
        kc[:, row] = dense[row]
    return kc, dense


def test_groups_are_the_distinct_keys_and_sims_match_rows() -> None:
    kc, dense = _keys(3000)
    g = KeyGroups.build(kc, 2500)
    assert g.usable and g.n == 2500
    want: dict[bytes, list[int]] = {}
    for row in range(2500):
        want.setdefault(dense[row].tobytes(), []).append(row)
    assert g.nk == len(want)
    got = [g.order[g.starts[i]:g.starts[i + 1]].tolist() for i in range(g.nk)]
    assert sorted(got) == sorted(want.values())
    enc = HashingFeaturizer(32)
    for query in ["red cup", "old old box lamp", "hall", "zebra red", "kitchen blue chair book"]:
        q = enc.encode([query])[0]
        dims = np.flatnonzero(q).tolist()
        rows_sims = kc.weighted_sum(q, dims, 2500)
        ks = g.sims(q, dims)
        rows, lens = g.rows_of(np.arange(g.nk))
        assert np.array_equal(np.repeat(ks, lens).view(np.uint32), rows_sims[rows].view(np.uint32))
        for a, b in [(0, 2500), (17, 1030), (2400, 3000), (5, 5)]:
            assert np.array_equal(kc.span_sum(q, dims, a, b).view(np.uint32),
                                  kc.weighted_sum(q, dims, b)[a:b].view(np.uint32))


def test_groups_rebuild_and_refuse(monkeypatch) -> None:
    kc, _ = _keys(3000, seed=1)
    assert kc.groups(3000, min_rows=4000) is None  # too few rows
    g = kc.groups(2000, min_rows=1)
    assert g is not None and g.n == 2000
    assert kc.groups(2100, min_rows=1) is g  # within the tail: kept
    monkeypatch.setattr(SparseKeyColumns, "groups_tail", 10)
    g2 = kc.groups(2300, min_rows=1)
    assert g2 is not g and g2.n == 2300


def test_hash_collision_leaves_groups_unusable(monkeypatch) -> None:
    kc, _ = _keys(500, seed=2)
    monkeypatch.setattr(keycolumns, "_entry_hash", lambda d, vals: np.zeros(len(vals), np.uint64))
    monkeypatch.setattr(KeyGroups, "max_share", 1.0)
    assert not KeyGroups.build(kc, 500).usable
    assert kc.groups(500, min_rows=1) is None


def test_unique_keys_are_not_grouped() -> None:
    kc = SparseKeyColumns(64)
    rng = np.random.default_rng(0)
    for row in range(300):
        kc[:, row] = rng.random(64).astype(np.float32) * (rng.random(64) < 0.2)
    assert kc.groups(300, min_rows=1) is None


def test_find_equals_searchsorted_at_every_bound() -> None:
    """``keycolumns._find`` / ``_find2`` (int32 searches) give ``np.searchsorted``'s positions, also
    for bounds outside int32 and for rows that sit at its ends."""
    rng = np.random.default_rng(1)
    top = (1 << 31) - 1
    for rows in (np.zeros(0, np.int32), np.array([0, 5, 5, 9], np.int32),
                 np.unique(rng.integers(0, 1 << 20, 500)).astype(np.int32), np.array([3, top - 1, top], np.int32)):
        bounds = [-(1 << 40), -1, 0, 1, 5, 6, 9, 10, 1 << 19, top - 1, top, top + 1, 1 << 40]
        for x in bounds:
            assert keycolumns._find(rows, x) == int(np.searchsorted(rows.astype(np.int64), x))
        for a in bounds:
            for b in bounds:
                if a <= b:
                    assert keycolumns._find2(rows, a, b) == tuple(np.searchsorted(rows.astype(np.int64), [a, b]).tolist())


def test_take_and_span_sum_equal_the_dense_rows() -> None:
    kc, dense = _keys(700, seed=4)
    rng = np.random.default_rng(2)
    for d in range(32):
        rows = np.sort(rng.choice(700, 50, replace=False))
        assert np.array_equal(kc.take(d, rows), dense[rows, d])
        assert np.array_equal(kc.take(d, rows.astype(np.int32)), dense[rows, d])
    q = HashingFeaturizer(32).encode(["red cup box"])[0]
    dims = np.flatnonzero(q).tolist()
    full = kc.weighted_sum(q, dims, 700)
    for a, b in [(0, 700), (13, 14), (100, 650), (699, 700), (5, 5)]:
        assert np.array_equal(kc.span_sum(q, dims, a, b), full[a:b])


def test_build_reads_sorted_hashes_in_slices_alike(monkeypatch) -> None:
    """``KeyGroups.build`` reads the sorted hashes a slice at a time: any slice size (keys that span
    slices, slices of one row) gives the same groups, and no rows gives none."""
    kc, dense = _keys(1500, seed=7)
    want = KeyGroups.build(kc, 1400)
    assert want.usable
    for size in (1, 2, 7, 64, 1399, 1400, 5000):
        monkeypatch.setattr(keycolumns, "_SLICE", size)
        g = KeyGroups.build(kc, 1400)
        assert g.usable and g.nk == want.nk
        assert np.array_equal(g.order, want.order) and np.array_equal(g.starts, want.starts)
        assert all(np.array_equal(a, b) for a, b in zip(g._krows + g._kvals, want._krows + want._kvals))
    assert KeyGroups.build(kc, 0).nk == 0
