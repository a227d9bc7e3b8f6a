"""Episodic memory under a RAM budget: older chunks' items live in the long-term table ``lt_chunks``
and chunk keys in sparse posting lists, and every recall, retrieve and chunk read answers exactly as
an unbudgeted memory does (also after a snapshot reopen, a full replay and a crash)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from embodied_mem import Memory, Percept, Pose, Sighting
from embodied_mem.memory import longterm
from embodied_mem.memory.keycolumns import SparseKeyColumns

from .conftest import assert_same, fed_pair, feed, reopens_answer_as_before, sizes_of, unbudgeted
from .conftest import budgeted as _budgeted

WORDS = ["key", "apple", "tree", "cup", "door", "red", "blue"]
QUERIES = ["key", "apple tree", "red cup door", "blue key kitchen", "hall", "tree tree apple",
           "nothing here", "key apple tree cup door red blue kitchen hall"]


SIZES = {"temporal": 4, "poses": 3, "sightings": 4, "chunk_items": 3}
CHUNKS_OF_4 = {"episodic": {"max_chunk_size": 4}}
tiny = sizes_of(SIZES)


def budgeted(path=None, **kw) -> Memory:
    return _budgeted(path, sizes=SIZES, config=CHUNKS_OF_4, **kw)


def plain() -> Memory:
    return unbudgeted(CHUNKS_OF_4)


@st.composite
def stream(draw):
    """("p", Percept) | ("episode",) | ("recall", query) | ("reinforce", chunk number, reward)."""
    t, out = 0.0, []
    for _ in range(draw(st.integers(1, 80))):
        op = draw(st.integers(0, 11))
        if op == 0:
            out.append(("episode", None))
        elif op == 1:
            out.append(("recall", draw(st.sampled_from(QUERIES))))
        elif op == 2:
            out.append(("reinforce", (draw(st.integers(0, 30)), draw(st.sampled_from([-1.0, 0.5, 1.0])))))
        else:
            t += draw(st.sampled_from([0.0, 1.0, 3.0]))
            sights = tuple(Sighting(w, (draw(st.integers(0, 5)), 0.0))
                           for w in draw(st.lists(st.sampled_from(WORDS), max_size=3)))
            pose = Pose(draw(st.sampled_from([0.0, 10.0, 20.0])), 0.0) if draw(st.booleans()) else None
            out.append(("p", Percept(t=t, pose=pose, sightings=sights,
                                     events=tuple(draw(st.lists(st.sampled_from(["door opened", "ate apple"]),
                                                                max_size=1))),
                                     region=draw(st.sampled_from([None, "kitchen", "hall"])))))
    return out


def answers(mem: Memory) -> str:
    ep = mem.episodic
    out = {"stats": ep.stats(), "chunks": ep.chunks(), "keys": ep.keys.tobytes().hex(),
           "recall": [[repr(c) for c in ep.recall(q, k=k, strengthen=False)] for q in QUERIES for k in (1, 3, 50)],
           "items": {c: [repr(i) for i in ep.chunk_items(c)] for c in ep.chunks()},
           "retention": [ep.retention(c) for c in ep.chunks()]}
    return json.dumps(out, sort_keys=True)


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(stream())
def test_budgeted_episodic_memory_answers_exactly_as_unbudgeted(ops):
    small, big = fed_pair(ops, budgeted(), plain())
    assert_same(answers(small), answers(big))
    small.close()
    big.close()


def test_old_chunks_items_really_leave_ram_and_come_back_exactly():
    ops = [("p", Percept(t=float(i), pose=Pose(10.0 * (i // 3), 0.0), sightings=(Sighting(WORDS[i % 7], (0, 0)),),
                         region="kitchen")) for i in range(300)]
    small, big = fed_pair(ops, budgeted(), plain())
    ram = small.episodic.in_ram()
    assert ram["items_in_ram"] <= 3 + 4 + 4 and ram["chunks_in_ram"] < 5  # cap, one chunk's worth, the open one
    lt = small.episodic.pages.store
    n_rows = lt.execute("SELECT COUNT(*) FROM lt_chunks").fetchone()[0]
    assert n_rows == small.episodic.stats()["chunks"] - ram["chunks_in_ram"] > 90
    assert isinstance(small.episodic._keys_t, SparseKeyColumns)  # noqa: SLF001 - keys kept sparse under a budget
    assert_same(answers(small), answers(big))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream(), st.integers(0, 80))
def test_reopen_snapshot_replay_and_readonly_answer_as_before(tmp_path_factory, ops, cut):
    assume(any(kind in ("p", "episode") for kind, _ in ops))  # else nothing is journaled: no snapshot
    path = tmp_path_factory.mktemp("eg") / "m.db"
    mem = budgeted(path)
    with mock.patch.object(longterm, "working_set_sizes", tiny):
        feed(mem, ops[:cut])
        mem.checkpoint()
        feed(mem, ops[cut:])
    before = answers(mem)
    mem.close()
    reopens_answer_as_before(path, budgeted, {answers: before})


CRASH = textwrap.dedent("""
    import os, sys
    from unittest import mock
    from embodied_mem import Memory, MemoryConfig, Percept, Pose, Sighting
    from embodied_mem.memory import longterm
    sizes = lambda mb: {"temporal": 4, "poses": 3, "sightings": 4, "chunk_items": 3}
    with mock.patch.object(longterm, "working_set_sizes", sizes):
        cfg = MemoryConfig.from_dict({"ram_budget_mb": 1, "episodic": {"max_chunk_size": 4}})
        mem = Memory.open(sys.argv[1], config=cfg)
        for i in range(int(sys.argv[2])):
            if i == 40:
                mem.checkpoint()
            mem.observe(Percept(t=float(i), pose=Pose(10.0 * (i // 3), 0), sightings=(Sighting("cup", (i % 3, 1)),)))
    os._exit(0)  # a crash: lt_chunks rows written after the checkpoint stay in the file
""")


def test_crash_after_checkpoint_leaves_no_stray_chunk_rows(tmp_path):
    path = tmp_path / "m.db"
    subprocess.run([sys.executable, "-c", CRASH, str(path), "100"], check=True, timeout=120)
    big = plain()
    for i in range(100):
        big.observe(Percept(t=float(i), pose=Pose(10.0 * (i // 3), 0), sightings=(Sighting("cup", (i % 3, 1)),)))
    mem = budgeted(path)
    assert mem.snapshot_status == "ok" and mem.replayed_entries == 60
    assert_same(answers(mem), answers(big))
    ep = mem.episodic
    n = ep.pages.store.execute("SELECT COUNT(*) FROM lt_chunks").fetchone()[0]
    assert n == ep.stats()["chunks"] - ep.in_ram()["chunks_in_ram"] > 0  # each paged chunk once
    mem.close()


def test_hostile_chunk_ids_and_rewards_are_refused_and_change_nothing():
    small = budgeted()
    for i in range(30):
        small.observe(Percept(t=float(i), pose=Pose(10.0 * (i // 3), 0), sightings=(Sighting("key", (0, 0)),)))
    before = answers(small)
    for bad in ["chunk-01", "chunk-", "chunk-999", "chunk--1", "chunk-１", "x", "chunk-1 ", 3, None]:
        with pytest.raises((KeyError, TypeError)):
            small.episodic.reinforce(bad, 1.0)
        small.episodic.strengthen([bad], 99.0)  # unknown ids are ignored
    with pytest.raises(ValueError, match="reward"):
        small.episodic.reinforce("chunk-1", float("nan"))
    assert_same(answers(small), before)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(8, 24), st.integers(0, 2**31 - 1))
def test_sparse_key_columns_read_exactly_as_the_dense_matrix(n, dim, seed):
    rng = np.random.default_rng(seed)
    dense = np.zeros((dim, n), np.float32)
    sk = SparseKeyColumns(dim)
    for r in range(n):
        key = np.where(rng.random(dim) < 0.2, rng.standard_normal(dim), 0.0).astype(np.float32)
        dense[:, r] = key
        sk[:, r] = key
    for d in range(dim):
        assert sk[d, :n].tobytes() == dense[d, :n].tobytes()
        a, b = sorted(rng.integers(0, n + 1, 2).tolist())
        assert sk[d, a:b].tobytes() == dense[d, a:b].tobytes()
        rows = rng.integers(0, n, 7)
        assert sk[d].take(rows).tobytes() == dense[d].take(rows).tobytes()
    assert sk[:, :n].tobytes() == dense.tobytes()
    q = np.where(rng.random(dim) < 0.3, rng.standard_normal(dim), 0.0).astype(np.float32)
    dims = np.flatnonzero(q).tolist()
    for m in (0, n // 2, n):
        want = np.zeros(m, np.float32)
        for d in dims:  # as recall sums the dense rows: dimension by dimension, in float32
            want += q[d] * dense[d, :m]
        got = sk.weighted_sum(q, dims, m)
        assert got.dtype == np.float32 and np.array_equal(got, want)  # equal values (0.0 == -0.0)
    with pytest.raises(IndexError):
        sk[:, 0] = dense[:, 0]  # rows are written once, in order


def test_old_chunks_keys_and_columns_leave_ram_and_ram_bytes_stay_bounded():
    """Under a budget the key postings, items and times/codes of paged-out chunks live in lt_ckeys /
    lt_chunks / lt_ccols, so ``ram_bytes`` grows by ~24 bytes a chunk (strength, last access,
    utility) instead of ~100s."""
    small, big = budgeted(), plain()

    def percepts(a: int, b: int):
        return [("p", Percept(t=float(i), pose=Pose(10.0 * (i // 3 % 40), 0.0),  # 40 places, chunks of <= 3
                              sightings=(Sighting(WORDS[i % 7], (0, 0)), Sighting(f"thing{i % 50}", (1, 0))),
                              region="kitchen")) for i in range(a, b)]

    tail = [("recall", "key"), ("reinforce", (3, 1.0)), ("reinforce", (700, -1.0))]
    feed(small, percepts(0, 1500) + tail)
    feed(big, percepts(0, 1500) + tail)
    ep = small.episodic
    mid_small, mid_big, mid_chunks = ep.ram_bytes(), big.episodic.ram_bytes(), ep.stats()["chunks"]
    feed(small, percepts(1500, 4500) + tail)
    feed(big, percepts(1500, 4500) + tail)
    lt = ep.pages.store
    rows_out = ep.stats()["chunks"] - ep.in_ram()["chunks_in_ram"]
    assert rows_out > 900
    assert ep._keys_t.cold == ep._cols.cold == rows_out  # noqa: SLF001 - keys and columns page out with items
    assert lt.execute("SELECT COUNT(*) FROM lt_ckeys").fetchone()[0] > 0
    assert lt.execute("SELECT COUNT(DISTINCT r0) FROM lt_ccols").fetchone()[0] >= rows_out // 1024
    assert ep._keys_t.nbytes < 8 * 16 * 12  # noqa: SLF001 - postings of a few chunks' keys only
    added = ep.stats()["chunks"] - mid_chunks
    grown_big = big.episodic.ram_bytes() - mid_big
    assert grown_big > 100 * added  # an unbudgeted memory holds every chunk's items, key and columns
    # a budgeted one only strength, last access and utility (24 bytes, arrays grown by half)
    assert ep.ram_bytes() - mid_small < 40 * added, (ep.ram_bytes() - mid_small, added, grown_big)
    assert_same(answers(small), answers(big))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream())
def test_bit_set_intersection_over_paged_keys_answers_exactly(ops):
    """The sparse query path that intersects per-dimension bit sets (large memories) reads the bits
    of paged-out chunks from lt_ckeys: same answers as the plain scan of an unbudgeted memory."""
    from embodied_mem.memory.episodic import EpisodicMemory

    small, big = budgeted(), plain()
    with mock.patch.object(EpisodicMemory, "_intersect_min_rows", 0):
        assert feed(small, ops) == feed(big, ops)
        got = answers(small)
    assert_same(got, answers(big))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 10**6), st.floats(-1e6, 1e6, allow_nan=False)),
                min_size=1, max_size=300))
def test_chunk_columns_read_and_write_exactly_as_arrays_across_page_outs(ops):
    from embodied_mem.memory.chunkcolumns import BLOCK, COLUMNS, ChunkColumns

    lt = longterm.LongTermStore(1)
    cols = ChunkColumns(longterm.Pages(lt, 8))
    want = {name: [] for name, _ in COLUMNS}
    for op, a, x in ops:
        n = cols.n
        if op <= 1 or n == 0:  # append a row
            vals = (x, x + 1, a % 7, a % 5 - 1, a, x * 2, x / 3, -x)
            cols.append(*vals)
            for (name, _), v in zip(COLUMNS, vals):
                want[name].append(v)
        elif op == 2:  # page out some rows (several blocks at once now and then)
            cols.page_out(cols.cold + a % (2 * BLOCK + 3))
        elif op == 3:  # change a mutable value of any row, cold or hot
            name = ("strength", "last", "utility")[a % 3]
            cols.view(name)[a % n] = x
            want[name][a % n] = x
        else:  # read rows back, one by one and gathered
            rows = np.array([(a * 7919 + i * 104729) % n for i in range(5)])
            for name, _code in COLUMNS:
                col = cols.view(name)
                assert [col[int(r)] for r in rows] == [want[name][r] for r in rows]
                assert col[rows].tolist() == [want[name][r] for r in rows]
                assert len(col) == n
            for r in rows.tolist():
                assert cols.meta(r) == (want["t0"][r], want["t1"][r], want["ep"][r], want["place"][r],
                                        want["end"][r - 1] if r else 0, want["end"][r])
            # ``metas``: a few rows (read element by element) and many (gathered), as ``meta`` row by row
            for rs in (rows.tolist(), [(a * 31 + i * 7) % n for i in range(40)], [n - 1]):
                got = cols.metas(rs)
                assert got == [cols.meta(r) for r in rs]
                assert [type(v) for m in got for v in m] == [type(v) for r in rs for v in cols.meta(r)]
    for name, _ in COLUMNS:
        assert cols.view(name)[np.arange(cols.n)].tolist() == want[name]
    lt.close()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.text(st.sampled_from(["a", "b", " ", "é", "\n", "x"]), max_size=8), max_size=6),
                max_size=12), st.lists(st.integers(0, 5), max_size=12))
def test_item_texts_come_back_exactly_as_given(batches, drops):
    from embodied_mem.memory.chunkcolumns import ItemTexts

    texts, want = ItemTexts(), []
    for i, batch in enumerate(batches):
        texts.extend(batch)
        want += batch
        k = min(drops[i] if i < len(drops) else 0, len(want))
        texts.drop(k)
        del want[:k]
        assert len(texts) == len(want)
        assert texts.get(0, len(want)) == want
        if want:
            a = len(want) // 2
            assert texts.get(a, len(want)) == want[a:]
            assert [texts.get(i, i + 1)[0] for i in range(len(want))] == want  # one item at a time


class DenseKeys:
    """A stand-in for a learned key encoder: hashed words through a fixed random projection (every
    dimension non-zero). Not lexical."""

    lexical = False
    dim = 24

    def __init__(self) -> None:
        from embodied_mem.memory.featurize import HashingFeaturizer

        self._h = HashingFeaturizer(64)
        self._w = np.random.default_rng(3).standard_normal((64, self.dim)).astype(np.float32)

    def encode(self, texts):
        return (self._h.encode(texts) @ self._w).astype(np.float32)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream())
def test_dense_learned_keys_page_out_and_recall_answers_exactly(ops):
    """Under a budget a dense encoder's keys of old chunks live in lt_dkeys; recall's scan reads them
    back block by block and answers exactly as an unbudgeted memory with the same encoder."""
    from embodied_mem.memory.keycolumns import DenseKeyColumns

    enc = DenseKeys()
    small, big = fed_pair(ops, _budgeted(sizes=SIZES, config=CHUNKS_OF_4, encoder=enc), unbudgeted(CHUNKS_OF_4, enc))
    kt = small.episodic._keys_t  # noqa: SLF001 - the paged dense key matrix
    assert isinstance(kt, DenseKeyColumns)
    assert kt.cold == small.episodic.stats()["chunks"] - small.episodic.in_ram()["chunks_in_ram"]
    assert_same(answers(small), answers(big))


def test_item_texts_past_65536_distinct_words_switch_to_wider_codes():
    from embodied_mem.memory.chunkcolumns import ItemTexts

    texts = ItemTexts()
    want = [f"w{i} w{i + 1} common" for i in range(0, 70_000, 2)]
    texts.extend(want[:100])
    assert texts.words.typecode == "H"
    texts.extend(want[100:])
    texts.drop(5)
    assert texts.words.typecode == "I" and len(texts.vocab) > 1 << 16
    assert texts.get(0, len(want) - 5) == want[5:]


def test_a_new_encoder_under_a_budget_recomputes_paged_keys_exactly():
    """``set_encoder`` on a budgeted memory rewrites the paged keys (into rows of their own, the old
    ones left for older snapshots) and answers as an unbudgeted memory given the same encoder."""
    from embodied_mem.memory.featurize import HashingFeaturizer

    small, big = budgeted(), plain()
    ops = [("p", Percept(t=float(i), pose=Pose(10.0 * (i // 3 % 30), 0.0), sightings=(Sighting(WORDS[i % 7], (0, 0)),),
                         region="kitchen")) for i in range(200)]
    feed(small, ops)
    feed(big, ops)
    for enc in (DenseKeys(), HashingFeaturizer(128), DenseKeys()):
        small.episodic.set_encoder(enc)
        big.episodic.set_encoder(enc)
        assert_same(answers(small), answers(big))
    more = [("p", Percept(t=200.0 + i, pose=Pose(10.0 * (i // 3 % 30), 0.0), sightings=(Sighting("cup", (0, 0)),)))
            for i in range(50)] + [("recall", "key apple"), ("recall", "cup")]
    assert feed(small, more) == feed(big, more)
    assert_same(answers(small), answers(big))


def test_sparse_recall_answers_as_the_dense_key_matrix_over_hundreds_of_queries():
    """A/B: recall from the posting lists (sums over the query dimensions' postings only) against
    the same memory with its keys swapped for the dense ``(dim, capacity)`` matrix recall used
    before: same chunks, scores and items, query by query."""
    import random

    from embodied_mem.graph import MemoryGraph
    from embodied_mem.memory.config import EpisodicConfig
    from embodied_mem.memory.episodic import EpisodicMemory

    rng = random.Random(5)
    vocab = WORDS + ["kitchen", "hall", "lamp", "box", "shoe", "bowl", "clock", "plant"]
    ep = EpisodicMemory(MemoryGraph(), EpisodicConfig(max_chunk_size=3))
    for i in range(3000):
        text = " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 5)))
        ep.observe(Percept(t=float(i), events=(text,)), i, None, 0.0)
        if i % 97 == 0 and i >= 6:  # utilities vary: they enter the scores
            ep.reinforce(f"chunk-{i // 3 - 1}", rng.uniform(-1.0, 1.0))
        if i % 500 == 499:
            ep.new_episode(float(i))
    ep.recall("lamp box", k=5)  # strengthens some chunks; the open chunk stays open
    queries = [" ".join(rng.choice(vocab) for _ in range(rng.randint(1, 4))) for _ in range(300)]
    sparse_keys = ep._keys_t  # noqa: SLF001 - the A/B swaps the key store under the same memory
    assert isinstance(sparse_keys, SparseKeyColumns)

    def answers():
        return [[(c.id, c.score, c.similarity, c.items) for c in ep.recall(q, k=10, strengthen=False)]
                for q in queries]

    got = answers()
    ep._keys_t = np.ascontiguousarray(sparse_keys[:, : sparse_keys.capacity])  # noqa: SLF001
    want = answers()
    ep._keys_t = sparse_keys  # noqa: SLF001
    assert got == want
    assert sum(map(len, got)) > 1000  # the queries really found chunks
