"""Approximate nearest-neighbour indexes for dense chunk keys: an inverted-file index (IVF, numpy
only) and HNSW (faiss-cpu, the ``[ann]`` extra).

Episodic recall is exact by default. A learned key encoder gives dense keys (every dimension
non-zero), where exact recall reads every chunk key; ``memory.episodic.index=ivf`` then answers
dense queries from this index instead, reading only the keys in the ``nprobe`` lists whose centroids
are most similar to the query (Jégou et al.'s IVF, as in faiss ``IndexIVFFlat``, in numpy).
It is approximate: a chunk whose key lies in a list not probed is missed. Its recall@10 against
exact search is measured in ``benchmarks/memory_ops.py`` and asserted in the tests.

Sparse queries (the hashing featurizer: a few non-zero dimensions) never use it: they stay exact.

``HNSWIndex`` (faiss-cpu) is the other index: a graph over the distinct keys (a key repeated in
many chunks is held once, its rows grouped), searched by episodic memory and expanded to chunks.
``encode_query`` keeps the last query keys of each encoder for recall.

- Until ``min_rows`` keys are added the index is one list searched exhaustively (exact).
- It trains spherical k-means (inner product, unit centroids) on a sample of the keys, with
  ``nlist = round(sqrt(n))`` lists, when it reaches ``min_rows`` keys and again each time the
  number of keys has grown ``retrain_growth``-fold since the last training (all keys are then
  reassigned); keys added in between go into the list of their nearest centroid.
- Training is seeded, so the same keys added in the same order give the same index (a memory
  rebuilt by replaying its journal answers as the one that wrote it).

The state is plain numpy arrays; it is saved with the memory's snapshot and rebuilt by replay.
It holds its own copy of the keys, grouped by list (n × dim float32 beside episodic memory's key
matrix): RAM for keys doubles with ``index=ivf``.
"""

from __future__ import annotations

import math
import weakref
from array import array

import numpy as np

__all__ = ["IVFIndex", "HNSWIndex", "encode_query", "rows_of_bits"]


class IVFIndex:
    """Inverted-file index over inner product. ``add(row, key)``; ``search(q, nprobe)`` -> (rows, sims).

    ``row`` is the caller's id of the key (episodic memory's chunk row, an int >= 0); keys are
    float32 vectors of length ``dim``. Raises ``ValueError`` for a key of the wrong shape.
    """

    def __init__(self, dim: int, *, min_rows: int = 4096, retrain_growth: float = 4.0, seed: int = 0,
                 train_iters: int = 10, sample_per_list: int = 64) -> None:
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        if min_rows < 2:
            raise ValueError(f"min_rows must be >= 2, got {min_rows}")
        if retrain_growth <= 1:
            raise ValueError(f"retrain_growth must be > 1, got {retrain_growth}")
        self.dim = int(dim)
        self.min_rows = int(min_rows)
        self.retrain_growth = float(retrain_growth)
        self.seed = int(seed)
        self.train_iters = int(train_iters)
        self.sample_per_list = int(sample_per_list)
        self.centroids: np.ndarray | None = None  # (nlist, dim) float32, unit rows; None: untrained
        self.trained_at = 0  # number of keys at the last training
        # one growable (ids, vecs) pair per list; ``counts`` of valid entries
        self.list_ids: list[np.ndarray] = [np.zeros(64, np.int64)]
        self.list_vecs: list[np.ndarray] = [np.zeros((64, self.dim), np.float32)]
        self.counts: list[int] = [0]
        self.n = 0

    def __len__(self) -> int:
        return self.n

    @property
    def nlist(self) -> int:
        return len(self.counts)

    @property
    def trained(self) -> bool:
        return self.centroids is not None

    # ------------------------------------------------------------------ build
    def add(self, row: int, key: np.ndarray) -> None:
        """Add key ``key`` under id ``row``; may (re)train the index (cost O(n·nlist·dim), amortised)."""
        key = np.asarray(key, np.float32).reshape(-1)
        if key.shape[0] != self.dim:
            raise ValueError(f"key must have {self.dim} dimensions, got {key.shape[0]}")
        li = 0 if self.centroids is None else int(np.argmax(self.centroids @ key))
        self._append(li, np.array([row], np.int64), key[None, :])
        self.n += 1
        if self.n >= self.min_rows and (self.centroids is None or self.n >= self.retrain_growth * self.trained_at):
            self._train()

    def _append(self, li: int, ids: np.ndarray, vecs: np.ndarray) -> None:
        c, m = self.counts[li], len(ids)
        if c + m > len(self.list_ids[li]):
            cap = max(2 * len(self.list_ids[li]), c + m)
            nid = np.zeros(cap, np.int64)
            nid[:c] = self.list_ids[li][:c]
            nv = np.zeros((cap, self.dim), np.float32)
            nv[:c] = self.list_vecs[li][:c]
            self.list_ids[li], self.list_vecs[li] = nid, nv
        self.list_ids[li][c:c + m] = ids
        self.list_vecs[li][c:c + m] = vecs
        self.counts[li] = c + m

    def _all(self) -> tuple[np.ndarray, np.ndarray]:
        ids = np.concatenate([a[:c] for a, c in zip(self.list_ids, self.counts)])
        vecs = np.concatenate([v[:c] for v, c in zip(self.list_vecs, self.counts)])
        order = np.argsort(ids, kind="stable")  # training must not depend on the current list layout
        return ids[order], vecs[order]

    def _train(self) -> None:
        ids, vecs = self._all()
        n = len(ids)
        nlist = max(1, int(round(math.sqrt(n))))
        rng = np.random.default_rng(self.seed)
        sample = vecs[rng.choice(n, size=min(n, nlist * self.sample_per_list), replace=False)]
        sn = _unit(sample)
        cent = sn[rng.choice(len(sn), size=nlist, replace=False)].copy()
        for _ in range(self.train_iters):
            assign = _nearest(sn, cent)
            sums = np.zeros_like(cent)
            np.add.at(sums, assign, sn)
            empty = np.bincount(assign, minlength=nlist) == 0
            sums[empty] = cent[empty]  # an empty list keeps its centroid
            cent = _unit(sums)
        assign = _nearest(vecs, cent)
        order = np.argsort(assign, kind="stable")
        bounds = np.searchsorted(assign[order], np.arange(nlist + 1))
        self.centroids = cent.astype(np.float32)
        self.list_ids, self.list_vecs, self.counts = [], [], []
        for li in range(nlist):
            sel = order[bounds[li]:bounds[li + 1]]
            cap = max(16, len(sel) * 2)
            a = np.zeros(cap, np.int64)
            a[:len(sel)] = ids[sel]
            v = np.zeros((cap, self.dim), np.float32)
            v[:len(sel)] = vecs[sel]
            self.list_ids.append(a)
            self.list_vecs.append(v)
            self.counts.append(len(sel))
        self.trained_at = n

    # ------------------------------------------------------------------ query
    def search(self, q: np.ndarray, nprobe: int) -> tuple[np.ndarray, np.ndarray]:
        """Ids and inner products of every key in the ``nprobe`` lists nearest to ``q`` (all keys
        while untrained), unsorted. ``nprobe >= nlist`` is exact."""
        q = np.asarray(q, np.float32).reshape(-1)
        if self.centroids is None or nprobe >= self.nlist:
            probe = range(self.nlist)
        else:
            cs = self.centroids @ q
            probe = np.argpartition(-cs, nprobe - 1)[:nprobe].tolist()
        ids, sims = [], []
        for li in probe:
            c = self.counts[li]
            if c:
                ids.append(self.list_ids[li][:c])
                sims.append(self.list_vecs[li][:c] @ q)
        if not ids:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        return np.concatenate(ids), np.concatenate(sims)


class HNSWIndex:
    """HNSW graph over inner product (faiss-cpu ``IndexHNSWFlat``) holding each distinct key once:
    ``add(row, key)``; ``search_keys(q, m, ef)`` -> (key ids, sims) of about the ``m`` most similar
    distinct keys, most similar first; ``rows_of(key_ids)`` -> the rows holding them.

    Malkov & Yashunin's hierarchical navigable small-world graph, as in hnswlib; faiss-cpu is used
    because hnswlib publishes no wheel for every Python this package supports. Needs the ``[ann]``
    extra (``pip install 'embodied_mem[ann]'``): without faiss, construction raises ``ImportError``
    naming it. Rows must arrive in order 0, 1, 2... (episodic memory's chunk rows do); another row
    raises ``ValueError``.

    **Distinct keys.** A stream that repeats itself (the same scene text, hence the same key, in
    hundreds of chunks) would fill an HNSW graph with identical vectors, among which its greedy
    search gets trapped (measured: recall@10 0.57-0.83 at 1M chunks, whatever efSearch). So a key
    equal (bit for bit) to one already indexed is not added again: its row joins that key's group
    (found by a 64-bit hash of the key's bytes, checked against the stored vector). ``len()`` counts
    rows, ``n_keys`` distinct keys; key ids number the distinct keys in order of first arrival.

    Adds are incremental (one key at a time, O(log n · M · efConstruction) for a new key, a hash
    look-up for a repeated one); nothing is ever removed (episodic memory forgets by retention,
    re-ranked outside the index). Adding the same keys in the same order gives the same graph
    (faiss draws levels from a fixed seed), so a memory rebuilt by replaying its journal answers as
    the one that wrote it. Pickled (snapshots) as ``faiss.serialize_index`` bytes (about
    ``n_keys·(4·dim + 8·M + 16)`` bytes, its own copy of the distinct keys) and the row -> key id
    column (8 bytes a row); the hash table (~100 bytes per distinct key in RAM) is rebuilt on load.
    """

    __slots__ = ("dim", "m", "ef_construction", "_index", "_params", "_row_key", "_n_rows", "_by_hash",
                 "_groups", "_coef", "_key_first")

    def __init__(self, dim: int, *, m: int = 16, ef_construction: int = 40) -> None:
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        if m < 2 or ef_construction < 1:
            raise ValueError(f"HNSW needs m >= 2 and ef_construction >= 1, got {m}, {ef_construction}")
        faiss = _faiss()
        self.dim, self.m, self.ef_construction = int(dim), int(m), int(ef_construction)
        self._index = faiss.IndexHNSWFlat(self.dim, self.m, faiss.METRIC_INNER_PRODUCT)
        self._index.hnsw.efConstruction = self.ef_construction
        self._params: dict = {}
        self._setup_keys(np.zeros(0, np.int64))

    def _setup_keys(self, row_key: np.ndarray) -> None:
        """Row -> key id column, groups and hash table from ``row_key`` and the indexed vectors."""
        self._coef = _hash_coefficients(self.dim)
        n = len(row_key)
        self._row_key = np.zeros(max(64, n), np.int64)
        self._row_key[:n] = row_key
        self._n_rows = n
        nk = int(self._index.ntotal)
        self._key_first = np.zeros(max(64, nk), np.int64)  # each key's first row
        if n:
            kids, first = np.unique(row_key, return_index=True)
            self._key_first[kids] = first
        # rows of each key that holds more than one (a key with one row: _first_row via _row_key)
        self._groups: dict[int, array] = {}
        if n:
            order = np.argsort(row_key, kind="stable")
            ks = row_key[order]
            starts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
            ends = np.r_[starts[1:], n]
            for s, e in zip(starts[ends - starts > 1].tolist(), ends[ends - starts > 1].tolist()):
                self._groups[int(ks[s])] = array("q", order[s:e].tolist())
        self._by_hash: dict[int, int | list[int]] = {}
        for a in range(0, nk, 1 << 16):
            for kid, h in enumerate(_hash_keys(self._vectors(a, min(nk, a + (1 << 16))), self._coef).tolist(), start=a):
                self._remember(h, kid)

    def __len__(self) -> int:
        return self._n_rows

    @property
    def n_keys(self) -> int:
        """Distinct keys indexed (the HNSW graph's size)."""
        return int(self._index.ntotal)

    trained = True  # usable from the first key

    @property
    def faiss_index(self):  # noqa: ANN201 - faiss.IndexHNSWFlat
        """The faiss index itself, over the distinct keys (to inspect or benchmark it; adding to it
        directly breaks the row -> key map)."""
        return self._index

    def add(self, row: int, key: np.ndarray) -> None:
        """Add key ``key`` for row ``row``, which must be ``len(self)``."""
        key = np.ascontiguousarray(np.asarray(key, np.float32).reshape(1, -1))
        if key.shape[1] != self.dim:
            raise ValueError(f"key must have {self.dim} dimensions, got {key.shape[1]}")
        if row != self._n_rows:
            raise ValueError(f"HNSW rows must be added in order: expected row {self._n_rows}, got {row}")
        self._add_rows(key)

    def add_many(self, keys: np.ndarray) -> None:
        """Add ``keys`` (n x dim) as the next rows, in order (new distinct keys in one faiss call)."""
        keys = np.ascontiguousarray(np.asarray(keys, np.float32).reshape(-1, self.dim))
        if len(keys):
            self._add_rows(keys)

    def _add_rows(self, keys: np.ndarray) -> None:
        hashes = _hash_keys(keys, self._coef).tolist()
        new: list[int] = []
        kid_of = np.empty(len(keys), np.int64)
        nk = int(self._index.ntotal)
        for i, h in enumerate(hashes):
            kid = self._find(h, keys[i], keys, new, nk)
            if kid < 0:  # a key not seen before
                kid = nk + len(new)
                new.append(i)
                self._remember(h, kid)
            kid_of[i] = kid
        if new:
            with _one_thread():  # one thread: the same graph as adding them one by one, whatever the machine
                self._index.add(keys[new] if len(new) < len(keys) else keys)
        n0 = self._n_rows
        n1 = n0 + len(keys)
        self._row_key = _fit(self._row_key, n1)
        self._row_key[n0:n1] = kid_of
        self._n_rows = n1
        nk1 = int(self._index.ntotal)
        self._key_first = _fit(self._key_first, nk1)
        for i in new:
            self._key_first[kid_of[i]] = n0 + i
        first = self._key_first
        for row, kid in enumerate(kid_of.tolist(), start=n0):
            if first[kid] != row:  # a repeated key: the row joins its group
                g = self._groups.get(kid)
                if g is None:
                    g = self._groups[kid] = array("q", [int(first[kid])])
                g.append(row)

    def _find(self, h: int, key: np.ndarray, batch: np.ndarray, new: list[int], nk: int) -> int:
        """Key id of the indexed (or earlier in this batch) key equal to ``key`` with hash ``h``, -1 if none."""
        hit = self._by_hash.get(h)
        if hit is None:
            return -1
        for kid in (hit if isinstance(hit, list) else (hit,)):
            v = self._vectors(kid, kid + 1)[0] if kid < nk else batch[new[kid - nk]]
            if np.array_equal(v.view(np.uint32), key.view(np.uint32)):
                return kid
        return -1

    def _remember(self, h: int, kid: int) -> None:
        hit = self._by_hash.get(h)
        if hit is None:
            self._by_hash[h] = kid
        elif isinstance(hit, list):
            hit.append(kid)
        else:  # two different keys with one hash (kept apart; never met in practice)
            self._by_hash[h] = [hit, kid]

    def _vectors(self, a: int, b: int) -> np.ndarray:
        """The indexed distinct keys ``a..b-1`` (copies)."""
        return self._index.reconstruct_n(a, b - a)

    def search_keys(self, q: np.ndarray, m: int, ef: int) -> tuple[np.ndarray, np.ndarray]:
        """Key ids and inner products of (about) the ``m`` distinct keys most similar to ``q``, most
        similar first, searching with a candidate list of ``max(ef, m)`` (larger: slower, closer to exact)."""
        nk = int(self._index.ntotal)
        m = max(1, min(int(m), nk))
        ef = max(int(ef), m)
        faiss = _faiss()
        params = self._params.get(ef)
        if params is None:
            params = self._params[ef] = faiss.SearchParametersHNSW()
            params.efSearch = ef
        xq = np.ascontiguousarray(q, np.float32)
        if xq.shape != (self.dim,):
            raise ValueError(f"query must have {self.dim} dimensions, got shape {xq.shape}")
        dist = np.empty(m, np.float32)
        ids = np.empty(m, np.int64)
        swig_ptr = faiss.swig_ptr
        with _one_thread():  # the faiss call behind ``index.search``, without its checks and copies
            self._index.search_c(1, swig_ptr(xq), m, swig_ptr(dist), swig_ptr(ids), params)
        sims = dist
        if ids[-1] < 0:
            keep = ids >= 0
            ids, sims = ids[keep], sims[keep]
        return ids, sims

    def rows_of(self, key_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rows holding each of ``key_ids`` (ascending within a key), concatenated key after key,
        and how many rows each key has."""
        groups = self._groups
        key_ids = np.asarray(key_ids, np.int64)
        if not groups:
            return self._key_first[key_ids], np.ones(len(key_ids), np.int64)
        kl = key_ids.tolist()
        gs = [groups.get(kid) for kid in kl]
        if not any(gs):
            return self._key_first[key_ids], np.ones(len(key_ids), np.int64)
        first = self._key_first
        # each group's rows read in place (views released before any append), one copy at the end
        parts = [first[kid: kid + 1] if g is None else np.frombuffer(g, np.int64) for kid, g in zip(kl, gs)]
        return np.concatenate(parts), np.array([len(a) for a in parts], np.int64)

    def search(self, q: np.ndarray, m: int, ef: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and inner products of (about) the ``m`` rows most similar to ``q``, most similar first
        (rows of one key in row order), from ``search_keys(q, m, ef)``."""
        kids, sims = self.search_keys(q, m, ef)
        rows, lens = self.rows_of(kids)
        return rows[:m], np.repeat(sims, lens)[:m]

    def __getstate__(self) -> dict:
        faiss = _faiss()
        return {"dim": self.dim, "m": self.m, "ef_construction": self.ef_construction,
                "index": faiss.serialize_index(self._index), "row_key": self._row_key[: self._n_rows].copy()}

    def __setstate__(self, state: dict) -> None:
        faiss = _faiss()
        self.dim, self.m, self.ef_construction = int(state["dim"]), int(state["m"]), int(state["ef_construction"])
        self._index = faiss.deserialize_index(np.asarray(state["index"], np.uint8))
        self._params = {}
        # a snapshot from before distinct keys: one key per row
        row_key = state.get("row_key")
        self._setup_keys(np.arange(self._index.ntotal, dtype=np.int64) if row_key is None
                         else np.asarray(row_key, np.int64))


_QUERY_KEYS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # encoder -> {query text: key}
_MAX_QUERY_KEYS = 1024  # query keys kept per encoder (the oldest goes first)


def encode_query(encoder: object, query: str) -> np.ndarray:
    """``encoder.encode([query])[0]`` (read-only where kept), kept for the next
    ``_MAX_QUERY_KEYS`` distinct queries of the same encoder object: an agent asks the same things
    again and again, and a learned encoder's forward pass can cost more than the search. Assumes,
    as chunk keys already do, that an encoder object maps a text to the same key for its lifetime
    (``set_encoder`` installs a new object, which starts with nothing kept). An encoder that cannot
    be held by a weak reference, or is not hashable, is simply called each time."""
    try:
        cache = _QUERY_KEYS.get(encoder)
        if cache is None:
            cache = _QUERY_KEYS[encoder] = {}
    except TypeError:
        cache = None
    if cache is not None:
        q = cache.get(query)
        if q is not None:
            return q
    q = encoder.encode([query])[0]
    if cache is not None:
        q = np.array(q)  # a copy of the encoder's dtype, read-only below
        q.flags.writeable = False
        if len(cache) >= _MAX_QUERY_KEYS:
            try:
                del cache[next(iter(cache))]
            except (RuntimeError, KeyError, StopIteration):  # another thread changed it meanwhile
                pass
        cache[query] = q
    return q


class _one_thread:  # noqa: N801 - used as a context manager
    """faiss on one OpenMP thread inside the block, the process's setting restored after it: one query
    gains nothing from a thread team, and waking one on a busy CPU costs more than the search."""

    __slots__ = ("_was",)

    def __enter__(self) -> None:
        faiss = _faiss()
        self._was = faiss.omp_get_max_threads()
        if self._was != 1:
            faiss.omp_set_num_threads(1)

    def __exit__(self, *exc: object) -> None:
        if self._was != 1:
            _faiss().omp_set_num_threads(self._was)


def _faiss():  # noqa: ANN202 - the faiss module
    try:
        import faiss
    except ImportError:
        raise ImportError("memory.episodic.index=hnsw needs faiss-cpu: pip install 'embodied_mem[ann]'") from None
    return faiss


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def _nearest(x: np.ndarray, cent: np.ndarray, block: int = 65536) -> np.ndarray:
    """Index of the centroid with the largest inner product, for each row of ``x`` (in blocks)."""
    out = np.empty(len(x), np.int64)
    for i in range(0, len(x), block):
        out[i:i + block] = np.argmax(x[i:i + block] @ cent.T, axis=1)
    return out


def _fit(a: np.ndarray, n: int) -> np.ndarray:
    """``a`` if it holds ``n`` entries, else a copy at least twice as long."""
    if n <= len(a):
        return a
    out = np.zeros(max(n, 2 * len(a)), a.dtype)
    out[: len(a)] = a
    return out


def _hash_coefficients(dim: int) -> np.ndarray:
    """Fixed odd 64-bit multipliers, one per dimension (the same in every process)."""
    return np.random.default_rng(0x5EED).integers(0, 1 << 63, size=dim, dtype=np.uint64) * np.uint64(2) + np.uint64(1)


def _hash_keys(keys: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row's bytes (float32 keys, n x dim), the same in every process."""
    w = np.ascontiguousarray(keys, np.float32).view(np.uint32).astype(np.uint64)
    with np.errstate(over="ignore"):
        h = (w * coef).sum(axis=1, dtype=np.uint64)
        h ^= h >> np.uint64(31)
        h *= np.uint64(0x9E3779B97F4A7C15)
        h ^= h >> np.uint64(29)
    return h


def rows_of_bits(words: np.ndarray) -> np.ndarray:
    """Positions of the set bits of a bit set held in uint64 words (bit i of word w is row 64·w + i),
    unsorted. Cost grows with the number of non-zero words and of bits per word, not with the length."""
    wz = np.flatnonzero(words)
    vals = words[wz]
    out = []
    while len(vals):
        low = vals & (0 - vals)  # lowest set bit (two's complement)
        out.append((wz << 6) + (np.frexp(low.astype(np.float64))[1] - 1))  # exact for powers of two
        vals ^= low
        keep = vals.astype(bool)
        if not keep.all():
            wz, vals = wz[keep], vals[keep]
    return np.concatenate(out) if out else np.zeros(0, np.int64)
