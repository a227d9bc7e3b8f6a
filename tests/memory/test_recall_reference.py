"""Episodic recall equals a brute-force reference on random streams: every chunk scored from
public data and a model of retention (strength and last access, changed by recalls that
strengthen), with utilities changed by ``reinforce``, many exact ties (repeated texts, chunks
closed at the same time) and chunks of one or several items, for every sparse recall path
(postings near the top, bit-set intersection, full scan) and exact dense keys."""

from __future__ import annotations

import random

import numpy as np
import pytest

from embodied_mem import Percept
from embodied_mem.graph import MemoryGraph
from embodied_mem.memory import episodic
from embodied_mem.memory.config import EpisodicConfig
from embodied_mem.memory.episodic import EpisodicMemory
from embodied_mem.memory.featurize import HashingFeaturizer, KeyEncoder, tokens
from embodied_mem.memory.keycolumns import KeyGroups, SparseKeyColumns

WORDS = ["red", "blue", "old", "small", "metal"]
NOUNS = ["cup", "book", "chair", "lamp", "box", "plant", "shoe"]
PLACES = ["kitchen", "hall", "garage"]


class DenseKeys(KeyEncoder):
    """A stand-in for a learned encoder (every dimension non-zero, unit length; not lexical)."""

    lexical = False

    def __init__(self, dim: int = 16) -> None:
        self.dim = dim
        self._h = HashingFeaturizer(64)
        self._w = np.random.default_rng(3).standard_normal((64, dim)).astype(np.float32)

    def encode(self, texts):
        x = self._h.encode(texts) @ self._w
        n = np.linalg.norm(x, axis=1, keepdims=True)
        return np.divide(x, n, out=np.zeros_like(x), where=n > 0)


class PlainHashing(HashingFeaturizer):
    """Hashed words without the lexical mark: keys in the dense matrix with per-dimension bit sets,
    queries still sparse (recall's bit-set intersection path); no shared-word filter."""

    lexical = False


class Model:
    """What recall should see: per chunk its strength, last access and utility, kept by the test
    from the operations it makes (not read from the memory's columns)."""

    def __init__(self, ep: EpisodicMemory) -> None:
        self.ep = ep
        self.strength: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.utility: dict[str, float] = {}
        self.n_seen = 0  # chunks seen by sync_new

    def sync_new(self) -> None:
        """Chunks the memory made since: S = initial strength, last access = the chunk's last item."""
        ids = self.ep.chunks()
        for cid in ids[max(0, self.n_seen - 1):]:  # the chunk open before (it may have grown) and new ones
            if cid not in self.strength:
                self.strength[cid] = self.ep.config.initial_strength
                self.utility[cid] = 0.0
            self.last[cid] = max(self.last.get(cid, -np.inf), max(it.t for it in self.ep.chunk_items(cid)))
        self.n_seen = len(ids)

    def strengthened(self, ids: list[str], t: float) -> None:
        open_id = self.ep.chunks()[-1] if len(self.ep.chunks()) > len(self.ep.keys) else None
        for cid in ids:
            if cid == open_id:  # the chunk being written is not strengthened (its retention is 1)
                continue
            self.strength[cid] += self.ep.config.strength_increment
            self.last[cid] = max(self.last[cid], t)


def _sims(ep: EpisodicMemory, q: np.ndarray) -> np.ndarray:
    """Similarity of every chunk (closed ones, then the open one) as recall computes it: for a
    sparse query float32 sums, one query dimension after another in ascending order; for a dense
    one a dot product (the last bit may differ: compared with a tolerance); the open chunk's as a
    dot product of its key (from its items' texts)."""
    keys = np.array(ep.keys)
    nz = np.flatnonzero(q)
    if len(nz) * 4 <= len(q):
        s = q[nz[0]] * keys[:, nz[0]]
        for d in nz[1:]:
            s += q[d] * keys[:, d]
    else:
        s = keys @ q
    s = s.astype(np.float64)
    ids = ep.chunks()
    if len(ids) > len(keys):
        text = " ".join(it.text for it in ep.chunk_items(ids[-1]))
        s = np.append(s, float(ep.encoder.encode([text])[0] @ q))
    return s


def _reference(ep: EpisodicMemory, m: Model, query: str, k: int) -> list[tuple]:
    cfg = ep.config
    q = ep.encoder.encode([query])[0]
    if not q.any():
        return []
    ids = ep.chunks()
    sims = _sims(ep, q)
    now = ep.now
    open_id = ids[-1] if len(ids) > len(ep.keys) else None
    last = np.array([now if c == open_id else m.last[c] for c in ids])
    strength = np.array([cfg.initial_strength if c == open_id else m.strength[c] for c in ids])
    util = np.array([m.utility[c] for c in ids])
    score = sims + cfg.retention_weight * np.exp(-np.maximum(now - last, 0.0) / strength) if cfg.retention_weight \
        else sims.copy()
    if cfg.utility_weight:
        score = score + cfg.utility_weight * util
    qtok = set(tokens(query))
    lexical = getattr(ep.encoder, "lexical", False)
    out = []
    for row in sorted(range(len(ids)), key=lambda r: (-score[r], r)):
        if sims[row] <= 1e-6:
            continue
        scored = []
        for it in ep.chunk_items(ids[row]):
            toks = tokens(it.text)
            hits = sum(w in qtok for w in toks)
            if hits:
                scored.append((-hits / (1 + len(toks)) ** 0.5, it.t, it.text, it.percept_id))
        scored.sort()
        if lexical and not scored:
            continue
        items = [(t, text, pid, -s) for s, t, text, pid in scored[: cfg.items_per_chunk]]
        out.append((ids[row], float(score[row]), float(sims[row]), items))
        if len(out) == k:
            break
    return out


def _got(chunks) -> list[tuple]:
    return [(c.id, c.score, c.similarity, [(it.t, it.text, it.percept_id, it.score) for it in c.items]) for c in chunks]


def _text(rng: random.Random) -> str:
    words = [rng.choice(PLACES)] + [rng.choice(WORDS + NOUNS) for _ in range(rng.randint(1, 4))]
    return " ".join(words)


def _check(ep: EpisodicMemory, m: Model, rng: random.Random) -> None:
    queries = [f"{rng.choice(WORDS)} {rng.choice(NOUNS)}" for _ in range(12)] + [
        rng.choice(NOUNS), f"{rng.choice(PLACES)} {rng.choice(NOUNS)} {rng.choice(WORDS)}", "zebra", "cup zebra",
        " ".join(rng.sample(WORDS + NOUNS, 6))]
    exact = not isinstance(ep.encoder, DenseKeys)  # sparse queries: bit for bit; dense: dot products' last bits
    for query in queries:
        ranked = _reference(ep, m, query, 50)  # a total order (score, then age): top k = its first k
        for k in (1, 3, 10, 50):  # 50: more rounds of candidates (chunks sharing no query word skipped)
            want = ranked[:k]
            got = _got(ep.recall(query, k=k, strengthen=False))
            if exact:
                assert [g[0] for g in got] == [w[0] for w in want], (query, k)
                assert [g[2] for g in got] == [w[2] for w in want], (query, k)  # similarities bit for bit
                assert [g[3] for g in got] == [w[3] for w in want], (query, k)  # items and their scores
            else:  # the same chunks, in the same order but for scores within 1e-6 of each other
                assert len(got) == len(want), (query, k)
                for g, w in zip(got, want):
                    assert g[0] == w[0] or abs(g[1] - w[1]) <= 1e-6, (query, k)
                assert np.allclose([g[2] for g in got], [w[2] for w in want], rtol=0, atol=1e-6), (query, k)
            assert np.allclose([g[1] for g in got], [w[1] for w in want], rtol=0, atol=1e-9 if exact else 1e-6), (query, k)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("path", ["near_top", "intersect", "scan", "dense", "groups"])
def test_recall_equals_brute_force_on_random_streams(seed: int, path: str, monkeypatch) -> None:
    if path == "groups":  # distinct keys scored once (``KeyGroups``) on a small memory: blocks of 16
        # rows for the retention bounds, one hot block, regrouped every 40 rows, every share of repeats
        monkeypatch.setattr(EpisodicMemory, "_groups_min_rows", 1)
        monkeypatch.setattr(EpisodicMemory, "_hot_blocks", 1)
        monkeypatch.setattr(episodic, "_BLOCK", 16)
        monkeypatch.setattr(SparseKeyColumns, "groups_tail", 40)
        monkeypatch.setattr(KeyGroups, "max_share", 1.0)
    if path == "intersect":  # the bit-set intersection path (from 2^17 chunks, for a dense key matrix
        # and sparse queries: hashed words from an encoder not marked lexical) on a small memory
        monkeypatch.setattr(EpisodicMemory, "_intersect_min_rows", 1)
    elif path == "scan":  # neither shortcut: every row's similarity
        monkeypatch.setattr(SparseKeyColumns, "near_top", lambda *a, **kw: None)
    rng = random.Random(seed * 7919 + len(path))
    cfg = EpisodicConfig(max_chunk_size=rng.choice([1, 1, 3]), retention_weight=rng.choice([0.0, 0.1, 0.5]),
                         utility_weight=rng.choice([0.0, 0.1, 1.0]), initial_strength=rng.choice([5.0, 50.0, 1000.0]),
                         strength_increment=rng.choice([0.0, 20.0]), items_per_chunk=rng.choice([1, 3]))
    ep = EpisodicMemory(MemoryGraph(), cfg, encoder=DenseKeys() if path == "dense" else
                        PlainHashing() if path == "intersect" else None)
    m = Model(ep)
    t, pid = 0.0, 0
    place = PLACES[0]
    for step in range(rng.randint(200, 700)):
        if rng.random() < 0.6:  # time often stands still: chunks closed at the same time tie in retention
            t += rng.choice([1.0, 1.0, 7.0])
        if rng.random() < 0.5:
            place = rng.choice(PLACES)
        text = rng.choice(["red cup", "old box", "small lamp"]) if rng.random() < 0.3 else _text(rng)
        ep.observe(Percept(t=t, events=(text,)), pid, place, 0.0)
        pid += 1
        if rng.random() < 0.01:
            ep.new_episode(t)
        m.sync_new()
        r = rng.random()
        if r < 0.03:  # a recall that strengthens what it returns
            got = ep.recall(f"{rng.choice(WORDS)} {rng.choice(NOUNS)}", k=rng.choice([1, 5]))
            m.strengthened([c.id for c in got], ep.now)
        elif r < 0.08:
            cid = rng.choice(ep.chunks())
            m.utility[cid] = ep.reinforce(cid, rng.choice([-2.0, 0.5, 3.0]))
        if step % 150 == 149:
            _check(ep, m, rng)
    m.sync_new()
    _check(ep, m, rng)
    ep.new_episode(t + 1.0)  # everything closed
    m.sync_new()
    _check(ep, m, rng)
    if path == "groups":  # the distinct keys were used
        g = ep._keys_t._groups
        assert g is not None and g.usable and 0 < g.nk < g.n
