"""``episodic.index=hnsw`` holds each distinct key once (a stream that repeats its scenes would
otherwise trap HNSW's greedy search among identical vectors): answers stay those of exact recall,
the row -> key map survives pickling (snapshots), and query keys kept between recalls never
outlive their encoder."""

from __future__ import annotations

import pickle
import random

import numpy as np
import pytest

from embodied_mem import Percept
from embodied_mem.graph import MemoryGraph
from embodied_mem.memory.config import EpisodicConfig
from embodied_mem.memory.episodic import EpisodicMemory
from embodied_mem.memory.featurize import HashingFeaturizer, KeyEncoder

pytest.importorskip("faiss")

from embodied_mem.memory.ann import HNSWIndex  # noqa: E402 - after the faiss check

WORDS = ["red", "blue", "green", "old"]
NOUNS = ["cup", "book", "chair", "lamp", "box", "plant"]
PLACES = ["kitchen", "hall", "garage"]


class DenseKeys(KeyEncoder):
    """Hashed words through a fixed random projection (every dimension non-zero), unit length."""

    lexical = False

    def __init__(self, dim: int = 32, seed: int = 7) -> None:
        self.dim = dim
        self._h = HashingFeaturizer(256)
        self._w = np.random.default_rng(seed).standard_normal((256, dim)).astype(np.float32)
        self.calls = 0

    def encode(self, texts):
        self.calls += 1
        x = self._h.encode(texts) @ self._w
        n = np.linalg.norm(x, axis=1, keepdims=True)
        return np.divide(x, n, out=np.zeros_like(x), where=n > 0)


def _repeating_stream(ep: EpisodicMemory, n: int, rng: random.Random) -> None:
    """One chunk per percept from a few hundred texts: every key repeats ~n/300 times."""
    texts = [f"{p} {w} {a} {b}" for p in PLACES for w in WORDS for a in NOUNS for b in NOUNS]
    for i in range(n):
        ep.observe(Percept(t=float(i), events=(rng.choice(texts),)), i, None, 0.0)
    ep.new_episode(float(n))


def _answers(ep: EpisodicMemory, queries: list[str]) -> list[list[tuple[str, float, tuple]]]:
    return [[(c.id, c.score, tuple(it.text for it in c.items)) for c in ep.recall(q, k=10, strengthen=False)]
            for q in queries]


def test_distinct_keys_give_the_answers_of_exact_recall() -> None:
    """Thousands of chunks over a few hundred distinct keys, with utilities and recalls moving
    chunks of one key apart: index=hnsw answers as exact recall does (ids, scores, items)."""
    enc = DenseKeys()
    cfg = {"max_chunk_size": 1, "initial_strength": 300.0, "strength_increment": 300.0, "utility_weight": 0.3}
    exact = EpisodicMemory(MemoryGraph(), EpisodicConfig(**cfg), encoder=enc)
    approx = EpisodicMemory(MemoryGraph(), EpisodicConfig(index="hnsw", index_ef_search=256, **cfg), encoder=enc)
    for ep in (exact, approx):
        _repeating_stream(ep, 6000, random.Random(1))
    assert len(approx.index) == 6000
    assert approx.index.n_keys == len({tuple(k) for k in approx.keys.tolist()}) < 6000 // 10
    rng = random.Random(2)
    chunks = exact.chunks()
    for cid in rng.sample(chunks, 200):  # utilities and recalls: chunks of one key now score apart
        r = rng.uniform(-3.0, 3.0)
        exact.reinforce(cid, r)
        approx.reinforce(cid, r)
    for cid in rng.sample(chunks, 100):
        t = rng.uniform(0, 6000)
        exact.strengthen([cid], t)
        approx.strengthen([cid], t)
    queries = [f"{rng.choice(WORDS)} {rng.choice(NOUNS)}" for _ in range(30)] + [
        f"{rng.choice(PLACES)} {rng.choice(NOUNS)} {rng.choice(NOUNS)}" for _ in range(10)]
    got, want = _answers(approx, queries), _answers(exact, queries)
    for q, g, w in zip(queries, got, want):
        assert [c for c, _, _ in g] == [c for c, _, _ in w], q
        assert np.allclose([s for _, s, _ in g], [s for _, s, _ in w], atol=1e-5), q
        assert [i for _, _, i in g] == [i for _, _, i in w], q
    assert all(len(g) == 10 for g in got)


def test_hnsw_index_groups_rows_of_one_key_and_survives_pickling() -> None:
    rng = np.random.default_rng(0)
    base = rng.standard_normal((40, 8)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    seq = rng.integers(0, 40, 900)
    one, many = HNSWIndex(8), HNSWIndex(8)
    for row, i in enumerate(seq):
        one.add(row, base[i])
    many.add_many(base[seq])  # in one call: the same key ids and groups
    assert len(one) == len(many) == 900 and one.n_keys == many.n_keys == len(set(seq.tolist()))
    copy = pickle.loads(pickle.dumps(one))
    for idx in (one, many, copy):
        for i in range(40):
            kids, sims = idx.search_keys(base[i], 3, 64)
            rows, lens = idx.rows_of(kids)
            assert sims[0] == pytest.approx(1.0, abs=1e-5)  # the key itself, once
            assert rows[: lens[0]].tolist() == np.flatnonzero(seq == i).tolist()  # all its rows, in order
            assert lens.sum() == len(rows) and len(set(kids.tolist())) == len(kids)
    # after a reload, a repeated key still joins its group and a new key gets a new id
    copy.add(900, base[seq[0]])
    copy.add(901, -base[seq[0]])
    assert len(copy) == 902 and copy.n_keys == one.n_keys + 1
    kids, _ = copy.search_keys(base[seq[0]], 1, 64)
    assert copy.rows_of(kids)[0][-1] == 900
    with pytest.raises(ValueError, match="in order"):
        copy.add(5, base[0])


def test_hnsw_index_from_an_older_snapshot_holds_one_key_per_row() -> None:
    """A pickled index from before distinct keys (no row -> key column) loads as one key per row."""
    import faiss

    keys = np.random.default_rng(1).standard_normal((50, 8)).astype(np.float32)
    flat = faiss.IndexHNSWFlat(8, 16, faiss.METRIC_INNER_PRODUCT)
    flat.add(keys)
    idx = HNSWIndex.__new__(HNSWIndex)
    idx.__setstate__({"dim": 8, "m": 16, "ef_construction": 40, "index": faiss.serialize_index(flat)})
    assert len(idx) == idx.n_keys == 50
    rows, sims = idx.search(keys[7], 1, 64)
    assert rows.tolist() == [int(np.argmax(keys @ keys[7]))]
    idx.add(50, keys[7])  # a repeat of an old key joins it
    assert idx.n_keys == 50 and len(idx) == 51


def test_query_keys_are_kept_per_encoder() -> None:
    """A repeated query is encoded once; a new encoder (set_encoder) encodes afresh."""
    enc = DenseKeys()
    ep = EpisodicMemory(MemoryGraph(), EpisodicConfig(max_chunk_size=1, index="hnsw"), encoder=enc)
    _repeating_stream(ep, 300, random.Random(3))
    first = [c.id for c in ep.recall("red cup", k=5, strengthen=False)]
    calls = enc.calls
    assert [c.id for c in ep.recall("red cup", k=5, strengthen=False)] == first
    assert enc.calls == calls
    other = DenseKeys(seed=8)
    ep.set_encoder(other)
    want = EpisodicMemory(MemoryGraph(), EpisodicConfig(max_chunk_size=1), encoder=DenseKeys(seed=8))
    _repeating_stream(want, 300, random.Random(3))
    assert [c.id for c in ep.recall("red cup", k=5, strengthen=False)] == [
        c.id for c in want.recall("red cup", k=5, strengthen=False)]
    assert other.calls > 0


def test_an_unhashable_encoder_is_called_each_time() -> None:
    class Unhashable(DenseKeys):
        __hash__ = None  # type: ignore[assignment]

    enc = Unhashable()
    ep = EpisodicMemory(MemoryGraph(), EpisodicConfig(max_chunk_size=1), encoder=enc)
    _repeating_stream(ep, 200, random.Random(4))
    calls = enc.calls
    a = [c.id for c in ep.recall("blue lamp", k=3, strengthen=False)]
    b = [c.id for c in ep.recall("blue lamp", k=3, strengthen=False)]
    assert a == b and len(a) == 3 and enc.calls == calls + 2
