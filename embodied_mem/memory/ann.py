"""Approximate nearest-neighbour indexes for dense chunk keys: an inverted-file index (IVF, numpy
only) and HNSW (faiss-cpu, the ``[ann]`` extra).

Episodic recall is exact by default. A learned key encoder gives dense keys (every dimension
non-zero), where exact recall reads every chunk key; ``memory.episodic.index=ivf`` then answers
dense queries from this index instead, reading only the keys in the ``nprobe`` lists whose centroids
are most similar to the query (Jégou et al.'s IVF, as in faiss ``IndexIVFFlat``, in numpy).
It is approximate: a chunk whose key lies in a list not probed is missed. Its recall@10 against
exact search is measured in ``benchmarks/memory_ops.py`` and asserted in the tests.

Sparse queries (the hashing featurizer: a few non-zero dimensions) never use it: they stay exact.

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

import numpy as np

__all__ = ["IVFIndex", "HNSWIndex", "rows_of_bits"]


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
    """HNSW graph over inner product (faiss-cpu ``IndexHNSWFlat``): ``add(row, key)``;
    ``search(q, m, ef)`` -> (rows, sims) of about the ``m`` most similar keys, most similar first.

    Malkov & Yashunin's hierarchical navigable small-world graph, as in hnswlib; faiss-cpu is used
    because hnswlib publishes no wheel for every Python this package supports. Needs the ``[ann]``
    extra (``pip install 'embodied_mem[ann]'``): without faiss, construction raises ``ImportError``
    naming it. Rows must arrive in order 0, 1, 2... (episodic memory's chunk rows do): faiss numbers
    keys in the order they are added, so a row is its faiss id; another row raises ``ValueError``.

    Adds are incremental (one key at a time, O(log n · M · efConstruction)); nothing is ever removed
    (episodic memory forgets by retention, which is re-ranked outside the index). Adding the same
    keys in the same order gives the same graph (faiss draws levels from a fixed seed), so a memory
    rebuilt by replaying its journal answers as the one that wrote it. Pickled (snapshots) as
    ``faiss.serialize_index`` bytes: about ``n·(4·dim + 8·M + 16)`` bytes; it holds its own copy of
    the keys (RAM for keys doubles, as with IVF).
    """

    __slots__ = ("dim", "m", "ef_construction", "_index", "_params")

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

    def __len__(self) -> int:
        return int(self._index.ntotal)

    trained = True  # usable from the first key

    @property
    def faiss_index(self):  # noqa: ANN201 - faiss.IndexHNSWFlat
        """The faiss index itself (to inspect or benchmark it; adding to it directly breaks row order)."""
        return self._index

    def add(self, row: int, key: np.ndarray) -> None:
        """Add key ``key`` as id ``row``, which must be ``len(self)``."""
        key = np.ascontiguousarray(np.asarray(key, np.float32).reshape(1, -1))
        if key.shape[1] != self.dim:
            raise ValueError(f"key must have {self.dim} dimensions, got {key.shape[1]}")
        if row != len(self):
            raise ValueError(f"HNSW rows must be added in order: expected row {len(self)}, got {row}")
        with _one_thread():
            self._index.add(key)

    def add_many(self, keys: np.ndarray) -> None:
        """Add ``keys`` (n x dim) as the next rows, in order (one faiss call: faster than ``add`` each)."""
        keys = np.ascontiguousarray(np.asarray(keys, np.float32).reshape(-1, self.dim))
        if len(keys):
            with _one_thread():  # one thread: the same graph as adding them one by one, whatever the machine
                self._index.add(keys)

    def search(self, q: np.ndarray, m: int, ef: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and inner products of (about) the ``m`` keys most similar to ``q``, most similar first,
        searching with a candidate list of ``max(ef, m)`` (larger: slower, closer to exact)."""
        q = np.ascontiguousarray(np.asarray(q, np.float32).reshape(1, -1))
        m = max(1, min(int(m), len(self)))
        ef = max(int(ef), m)
        params = self._params.get(ef)
        if params is None:
            params = self._params[ef] = _faiss().SearchParametersHNSW()
            params.efSearch = ef
        with _one_thread():
            sims, rows = self._index.search(q, m, params=params)
        keep = rows[0] >= 0
        return rows[0][keep].astype(np.int64), sims[0][keep]

    def __getstate__(self) -> dict:
        faiss = _faiss()
        return {"dim": self.dim, "m": self.m, "ef_construction": self.ef_construction,
                "index": faiss.serialize_index(self._index)}

    def __setstate__(self, state: dict) -> None:
        faiss = _faiss()
        self.dim, self.m, self.ef_construction = int(state["dim"]), int(state["m"]), int(state["ef_construction"])
        self._index = faiss.deserialize_index(np.asarray(state["index"], np.uint8))
        self._params = {}


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
