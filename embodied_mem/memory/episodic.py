"""Episodic memory: what happened, stored as chunks of experience and recalled hierarchically.

Each percept becomes an *item* (time, place, a short text). Items are grouped into *chunks*: a
chunk ends when the agent changes place or reaches ``max_chunk_size`` items, and when an episode
ends (HCAM's chunking). Every chunk has a key vector (from a ``KeyEncoder``: a deterministic
hashing featurizer by default). ``recall(query, k)`` ranks chunks by key similarity, weighed with

- retention ``R = exp(-Δt / S)`` (MemoryBank's forgetting curve; Δt = time since the chunk was
  made or last recalled, S its strength, which grows by ``strength_increment`` on each recall), and
- utility ``U`` learned from outcomes with ``reinforce(chunk_id, reward)`` (MemRL),

``score = similarity + retention_weight * R + utility_weight * U``, then ranks items inside the
top chunks. Chunks with no similarity to the query are never returned (with the lexical hashing
encoder: no item sharing a word with the query), so a query with nothing relevant recalls [].

Storage: closed chunks are columns (``chunkcolumns.ChunkColumns``; row = creation order, id
``chunk-<row>``: times, episode, place, where each chunk's items end, strength, last access,
utility: 56 bytes), their items three more columns (time, percept id, text; the texts as word
codes into one vocabulary, ``chunkcolumns.ItemTexts``: 2 bytes a word). Keys from a lexical
encoder are sparse posting lists (``keycolumns.py``, ~8 bytes per non-zero dimension, ~13 for a
hashed scene text) whose per-dimension bit sets are read from the postings; from 2^17 chunks (all
in RAM) a sparse recall scores each distinct key once (a scene seen again has the same key) and
expands it to its chunks (``keycolumns.KeyGroups``: a cache rebuilt after 1/8 more chunks, 4 bytes a
chunk, kept only while at most half the keys are distinct; answers unchanged); a dense
(learned) encoder's keys are a ``(key_dim, capacity)`` float32 matrix with a bit per dimension.
Under a RAM budget (``use_long_term``, ``memory.ram_budget_mb``) the oldest closed chunks move
out, whole chunks at a time, once more than ``chunk_items`` items are in RAM
(``longterm.working_set_sizes``): their items to ``lt_chunks`` (read back through a small LRU when
recall picks such a chunk or ``chunk_items`` asks for it), their key postings to ``lt_ckeys`` (read
back per query dimension; a learned encoder's dense keys to ``lt_dkeys``, read back a block of
1024 chunks at a time) and their times, codes and item span to ``lt_ccols`` (read back by blocks
for the chunks recall returns). ``fit(max_bytes)`` (the memory's budget controller calls it with
episodic memory's share) pages further, used longest ago first, until ``ram_bytes()`` fits: the
caches, then more of the oldest chunks' items, keys and columns, then the episode and place names
used longest ago (``lt_enames``: a place is a name, and places grow with what the agent explores),
and the strength, last access and utility of chunks whose items are out (``lt_cmut``, in versioned
blocks: recall reads a block back to score a candidate there, only while that candidate could
still reach the top k by its similarity and its block's retention bound, and strengthening or
``reinforce`` changes it in RAM until it is written again; the items of the paged-out chunks a
round of ranking reads come back in one query). The vocabulary of item words keeps only the words of
the items in RAM. Answers are exactly those of an unbudgeted memory. What stays in RAM for every
chunk, forever: 16 bytes per 1024 chunks of retention bounds, 8 bytes per move of the columns, 8
per block of 1024 scores, and its graph node with two edges (the graph pages those); with a
learned encoder also a bit per key dimension, and with ``index=ivf|hnsw`` the index's copy of the
key. ``ram_bytes()`` estimates the bytes held. Nothing is deleted: retention lowers a chunk's rank,
never removes it.
"""

from __future__ import annotations

import json
import math
import sys
import types
import weakref
from array import array
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..percept import Percept
from .ann import HNSWIndex, IVFIndex, encode_query, rows_of_bits
from .chunkcolumns import ChunkColumns, ColumnView, ItemTexts, NameTable
from .config import EpisodicConfig
from .featurize import HashingFeaturizer, KeyEncoder, tokens
from .keycolumns import DenseKeyColumns, PostingBits, SparseKeyColumns

if TYPE_CHECKING:
    from ..graph import MemoryGraph
    from .longterm import LongTermStore, Pages

__all__ = ["EpisodicMemory", "Chunk", "Item"]


_BLOCK = 1024  # rows per block of the retention bounds
_BEHAVIOUR = (types.FunctionType, types.MethodType, types.BuiltinMethodType)
_PAGED_IN = 256  # paged-in chunks' items kept for the next recalls (LRU)
_MAX_TOKENIZED = 1 << 14  # item texts whose tokens are kept (then the cache starts over); under a RAM
# budget a quarter of the chunk items kept in RAM, 1,024 at least
# RAM estimates (bytes, measured with tracemalloc on the benchmark stream) for ``ram_bytes``
_NAMES_KEPT = 4096  # episode and place names kept in RAM under a RAM budget (those used latest)
_MIN_ITEMS = 256  # items ``fit`` leaves in RAM at least (the chunks a query in progress reads come back)
_ITEM_BYTES = 160  # a paged-in item: time, percept id, its own text string (JSON-decoded, ~90 characters)
_TOKENS_BYTES = 300  # a tokenised item text: its list of tokens (measured: ~284 on the benchmark stream)
# memory -> the hot blocks chosen for dense recall through index=hnsw, kept while nothing they depend
# on changes (a cache: not part of a memory's state, never pickled)
_HOT_BLOCKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(frozen=True, slots=True)
class Item:
    t: float
    text: str
    place: str | None
    percept_id: int
    score: float = 0.0

    def __str__(self) -> str:
        return f"t={self.t:g}: {self.text}"


@dataclass(frozen=True, slots=True)
class Chunk:
    """A recalled chunk with its best items. ``score`` is the ranking score, ``similarity`` the key match."""

    id: str
    episode: str
    t0: float
    t1: float
    place: str | None
    items: tuple[Item, ...]
    score: float
    similarity: float
    retention: float
    utility: float
    size: int = 0

    def __str__(self) -> str:
        head = f"{self.id} [{self.t0:g}..{self.t1:g}] at {self.place} (score {self.score:.2f})"
        return head + "".join(f"\n    {it}" for it in self.items)


def _builders() -> tuple[Any, Any]:
    """``Chunk`` and ``Item`` constructors for recall's results, equal to calling the classes (a
    frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``: ~2.4 us a Chunk;
    the slots' own setters: ~1 us)."""
    new = object.__new__
    ci, ce, c0, c1, cp, cits, cs, csim, cr, cu, cz = (Chunk.__dict__[f].__set__ for f in (
        "id", "episode", "t0", "t1", "place", "items", "score", "similarity", "retention", "utility", "size"))
    it, itx, ip, ipid, isc = (Item.__dict__[f].__set__ for f in ("t", "text", "place", "percept_id", "score"))

    def chunk(id: str, episode: str, t0: float, t1: float, place: str | None, items: tuple, score: float,  # noqa: A002
              similarity: float, retention: float, utility: float, size: int) -> Chunk:
        c = new(Chunk)
        ci(c, id), ce(c, episode), c0(c, t0), c1(c, t1), cp(c, place), cits(c, items)
        cs(c, score), csim(c, similarity), cr(c, retention), cu(c, utility), cz(c, size)
        return c

    def item(t: float, text: str, place: str | None, percept_id: int, score: float) -> Item:
        x = new(Item)
        it(x, t), itx(x, text), ip(x, place), ipid(x, percept_id), isc(x, score)
        return x

    return chunk, item


_new_chunk, _new_item = _builders()


@dataclass(slots=True)
class _ChunkRec:
    """The chunk being written (closed chunks live in columns, see ``EpisodicMemory``)."""

    id: str
    episode: str
    place: str | None
    t0: float
    t1: float
    # items, as columns (a tuple and two boxed numbers per item cost ~120 bytes more)
    ts: array = field(default_factory=lambda: array("d"))
    texts: list[str] = field(default_factory=list)  # of the open chunk (closed: word codes)
    pids: array = field(default_factory=lambda: array("q"))
    utility: float = 0.0  # moved into the utility column on close
    open_key: tuple[int, np.ndarray] | None = None  # (items encoded, key) of the open chunk, for recall


class EpisodicMemory:
    # Sparse queries with 2..8 dimensions over at least 2^17 chunks first try the bit-set intersection
    # (below that a scan of the query's key rows was as fast, measured at 100k and 1M chunks)
    _intersect_max_dims = 8
    _intersect_min_rows = 1 << 17
    # A dense query through index=hnsw re-ranks the chunks of at most this many fetched distinct keys,
    # beside every chunk of the blocks of rows (of _BLOCK) with the highest retention bounds
    _hnsw_max_fetch = 2560
    _hnsw_first_rows = 64  # rows of the fetched keys ranked at first (a round of ranking costs more than rows)
    _hot_blocks = 2
    _hnsw_numeric = True  # rounds of a dense hnsw recall compare scores alone (False: rank each round)
    # Sparse queries over at least this many chunks (every key posting in RAM) score each distinct key
    # once (``keycolumns.KeyGroups``), when keys repeat (at most half of them distinct)
    _groups_min_rows = 1 << 17

    def __init__(self, graph: MemoryGraph, config: EpisodicConfig | None = None,
                 encoder: KeyEncoder | None = None) -> None:
        self.graph = graph
        self.config = config or EpisodicConfig()
        self.enabled = self.config.enabled
        self.encoder: KeyEncoder = encoder or HashingFeaturizer(self.config.key_dim)
        dim = self.encoder.dim
        # chunk keys by dimension (dim x capacity): a sparse query (hashed words) reads only the rows
        # of its non-zero dimensions, contiguous
        self._keys_t = np.zeros((dim, 64), np.float32)
        # per dimension, a bit per chunk row: is its key non-zero there (for sparse queries: the rows
        # that share every query dimension, found without reading every key); bounds of key values
        self._bits = np.zeros((dim, 1), np.uint64)
        self._kmax = np.zeros(dim, np.float32)
        self._kmin = np.zeros(dim, np.float32)
        # per block of _BLOCK rows: the latest last-access and the largest strength (a bound on the
        # retention of every chunk in the block, for the hnsw re-ranking)
        self._blk_last = np.full(1, -np.inf)
        self._blk_strength = np.zeros(1)
        # closed chunks as columns, row = creation order (chunk ``chunk-<row>``): times, episode and
        # place (codes into the name tables), where each chunk's items end in the item columns
        # (items of row r: [end[r-1], end[r]) in the numbering of every item), strength, last access
        # and utility; under a RAM budget the rows paged out with their items live in ``lt_ccols``
        self._cols = ChunkColumns()
        self._column_views()
        self._end_out = 0  # where the items of the paged-out rows end (the first item in RAM)
        # episode and place names, code = order of first use (under a RAM budget those used longest
        # ago live in ``lt_enames``: a place is a name, and places grow with what the agent explores)
        self._names = NameTable()
        self._item_cap: int | None = None  # items kept in RAM as ``fit`` last allowed (None: the pages' cap)
        # items of the closed chunks still in RAM (rows >= _rows_out), in row order; with a RAM budget
        # the older rows' items live in the long-term table ``lt_chunks`` (paged in by recall)
        self._i_t = array("d")
        self._i_pid = array("q")
        self._i_text = ItemTexts()  # as word codes (a scene text is seldom repeated whole; its words are)
        self._rows_out = 0  # closed rows whose items were moved to the long-term table
        self._pages: Pages | None = None
        self._paged_in: OrderedDict[int, tuple] = OrderedDict()  # recently paged-in rows (not saved)
        self._tok: dict[str, list[str]] = {}  # item text -> its tokens, for picking items (not saved)
        self._open: _ChunkRec | None = None
        self._episode: str | None = None
        self._n_episodes = 0
        self._n_chunks = 0
        self.now = -math.inf
        self._u_lo = self._u_hi = 0.0  # bounds of every utility ever set (recall skips chunks by them)
        self._ann: IVFIndex | HNSWIndex | None = _make_index(self.config.index, dim)
        if getattr(self.encoder, "lexical", False):
            # hashed-words keys as posting lists (~8 bytes per non-zero, about a dozen per key, instead
            # of 4 * key_dim), their bit sets read from the postings (no RAM of their own)
            self._keys_t = SparseKeyColumns(dim, 64)  # type: ignore[assignment]
            self._bits = self._keys_t.bits  # type: ignore[assignment]

    def _column_views(self) -> None:
        """The per-chunk columns as attributes indexed like arrays (``chunkcolumns.ColumnView``)."""
        v = self._cols.view
        self._c_t0, self._c_t1, self._c_ep, self._c_place, self._c_end = (
            v("t0"), v("t1"), v("ep"), v("place"), v("end"))
        self._strength, self._last_access, self._utility = v("strength"), v("last"), v("utility")

    # ------------------------------------------------------------------ ingest
    def new_episode(self, t: float, name: str | None = None, recorded_at: float = 0.0) -> str:
        self._close()
        eid = name or f"episode-{self._n_episodes}"
        self._n_episodes += 1
        self._episode = eid
        if eid not in self.graph:
            self.graph.add_node(eid, "episode", created=t)
        return eid

    def observe(self, p: Percept, pid: int, place: str | None, recorded_at: float) -> None:
        if not self.enabled:
            return
        self.now = max(self.now, p.t)
        if self._episode is None:
            self.new_episode(p.t, recorded_at=recorded_at)
        text = p.text()
        o = self._open
        if o is not None and (o.place != place or len(o.texts) >= self.config.max_chunk_size):
            self._close()
            o = None
        if o is None:
            cid = f"chunk-{self._n_chunks}"
            self._n_chunks += 1
            o = self._open = _ChunkRec(cid, self._episode, place, p.t, p.t)
            self.graph.add_node(cid, "chunk", created=p.t)
            self.graph.add_edge(cid, self._episode, "part_of", valid_from=p.t, source=pid, recorded_at=recorded_at)
            if place is not None and place in self.graph:
                self.graph.add_edge(cid, place, "happened_at", valid_from=p.t, source=pid, recorded_at=recorded_at)
        o.ts.append(p.t)
        o.texts.append(text)
        o.pids.append(pid)
        o.t0 = min(o.t0, p.t)
        o.t1 = max(o.t1, p.t)

    def _close(self) -> None:
        o = self._open
        if o is None:
            return
        self._open = None
        row = self._cols.n
        if row >= self._keys_t.shape[1]:
            n = self._keys_t.shape[1] * 2
            if isinstance(self._keys_t, (SparseKeyColumns, DenseKeyColumns)):
                self._keys_t.capacity = n
            else:
                keys = np.zeros((self._keys_t.shape[0], n), np.float32)
                keys[:, :row] = self._keys_t[:, :row]
                self._keys_t = keys
            if not isinstance(self._bits, PostingBits):
                bits = np.zeros((self._bits.shape[0], n // 64), np.uint64)
                bits[:, : self._bits.shape[1]] = self._bits
                self._bits = bits
        self._keys_t[:, row] = key = self.encoder.encode([_chunk_text(o)])[0]
        self._index_key(row, key)
        if self._ann is not None:
            self._ann.add(row, key)
        self._cols.append(o.t0, o.t1, self._code(o.episode), -1 if o.place is None else self._code(o.place),
                          (self._c_end[-1] if row else 0) + len(o.ts), self.config.initial_strength, o.t1, o.utility)
        self._bound_block(row)
        self._i_t.extend(o.ts)
        self._i_pid.extend(o.pids)
        self._i_text.extend(o.texts)
        pg = self._pages
        if pg is not None:
            cap = pg.cap if self._item_cap is None else self._item_cap
            if len(self._i_t) > cap:
                self._page_out(len(self._i_t) - (3 * cap) // 4)

    def _code(self, name: str) -> int:
        return self._names.code(name)

    # ------------------------------------------------------------------ closed chunks, long-term pages
    def use_long_term(self, store: LongTermStore | None, cap: int | None = None) -> None:
        """Keep the items of about ``cap`` recent items' chunks in RAM, older chunks' items in ``store``
        (table ``lt_chunks``, paged in when recall picks a chunk). Before the first percept."""
        from .longterm import Pages

        if len(self._c_t0) or self._open is not None:
            raise ValueError("use_long_term must be called before the first percept")
        self._pages = None if store is None else Pages(store, cap if cap is not None else store.sizes["chunk_items"])
        self._cols.pages = self._names.pages = self._pages
        # Keys from a lexical encoder (posting lists) page out with their chunks' items (lt_ckeys)
        if isinstance(self._keys_t, SparseKeyColumns):
            self._keys_t.pages = self._pages
        elif self._pages is not None:  # dense (learned) keys: blocks in lt_dkeys
            self._keys_t = DenseKeyColumns(dim := self._keys_t.shape[0], self._keys_t.shape[1],  # type: ignore[assignment]
                                           pages=self._pages)
            self._bits = np.zeros((dim, self._keys_t.shape[1] // 64), np.uint64)

    @property
    def pages(self) -> Pages | None:
        """This module's handle on the long-term store (None: no RAM budget, every item in RAM)."""
        return self._pages

    def _page_out(self, n: int) -> None:
        """Move the items of the oldest closed chunks in RAM (whole chunks, about ``n`` items) into
        ``lt_chunks``, one row per chunk: times and percept ids packed, texts as a JSON list."""
        r0, base = self._rows_out, self._end_out
        ends = self._cols.hot("end").tolist()  # rows r0.. (the columns page out with the items)
        r1 = r0 + int(np.searchsorted(ends, base + n, side="left"))  # first row not moved whole
        r1 = min(r1 + 1, self._cols.n)
        k = ends[r1 - 1 - r0] - base if r1 > r0 else 0  # items moved
        if r1 <= r0 or k <= 0:
            return
        pg = self._pages
        assert pg is not None
        space, its, ipid, itext = pg.space, self._i_t, self._i_pid, self._i_text

        def rows() -> Any:
            a = 0
            for r in range(r0, r1):
                b = ends[r - r0] - base
                yield (space, r, its[a:b].tobytes() + ipid[a:b].tobytes(), json.dumps(itext.get(a, b)))
                a = b

        pg.store.insert_many("INSERT INTO lt_chunks (space, row, v, texts) VALUES (?, ?, ?, ?)", rows())
        del its[:k], ipid[:k]
        itext.drop(k)
        self._rows_out, self._end_out = r1, base + k
        if isinstance(self._keys_t, (SparseKeyColumns, DenseKeyColumns)):
            self._keys_t.page_out(r1)
        self._cols.page_out(r1)
        self._names.page_out(_NAMES_KEPT)

    def _row_items(self, row: int, span: tuple[int, int] | None = None) -> tuple[Any, Any, Any]:
        """(times, texts, percept ids) of closed chunk ``row``'s items, paged in when moved out;
        ``span``: the items' (start, end) from ``_cols.meta(row)`` when the caller has read it already."""
        if row >= self._rows_out:
            base = self._end_out
            a, b = span if span is not None else self._cols.meta(row)[4:]
            a, b = max(a, base) - base, b - base
            return self._i_t[a:b], self._i_text.get(a, b), self._i_pid[a:b]
        got = self._paged_in.get(row)
        if got is not None:
            self._paged_in.move_to_end(row)
            return got
        pg = self._pages
        assert pg is not None
        v, texts = pg.store.execute("SELECT v, texts FROM lt_chunks WHERE space=? AND row=?", (pg.space, row)).fetchone()
        m = len(v) // 16
        ts, pids = array("d"), array("q")
        ts.frombytes(v[: 8 * m])
        pids.frombytes(v[8 * m:])
        got = self._paged_in[row] = (ts, json.loads(texts), pids)
        if len(self._paged_in) > _PAGED_IN:
            self._paged_in.popitem(last=False)
        return got

    def _page_in_items(self, rows: list[int]) -> None:
        """Read the items of the paged-out chunks ``rows`` not in the LRU of paged-in chunks into it, in
        one query (``_row_items`` then finds them there): up to half the LRU at once."""
        pg, cache = self._pages, self._paged_in
        want = [r for r in rows if r not in cache][: _PAGED_IN // 2]
        if pg is None or len(want) < 2:
            return
        got = pg.store.execute(f"SELECT row, v, texts FROM lt_chunks WHERE space=? AND row IN ({','.join('?' * len(want))})",
                               (pg.space, *want)).fetchall()
        for row, v, texts in got:
            m = len(v) // 16
            ts, pids = array("d"), array("q")
            ts.frombytes(v[: 8 * m])
            pids.frombytes(v[8 * m:])
            cache[row] = (ts, json.loads(texts), pids)
            if len(cache) > _PAGED_IN:
                cache.popitem(last=False)

    def _row_of(self, chunk_id: object) -> int | None:
        """Row of closed chunk ``chunk_id``; -1 for the open chunk; None for no such chunk."""
        o = self._open
        if o is not None and chunk_id == o.id:
            return -1
        if type(chunk_id) is not str or not chunk_id.startswith("chunk-"):
            return None
        num = chunk_id[6:]
        if not num.isdigit() or not num.isascii() or (len(num) > 1 and num[0] == "0"):
            return None
        row = int(num)
        return row if row < len(self._c_t0) else None

    def _chunk_meta(self, row: int) -> tuple[str, str, float, float, str | None, int]:
        """(id, episode, t0, t1, place, size) of closed chunk ``row``."""
        t0, t1, ep, pc, a, b = self._cols.meta(row)
        return (f"chunk-{row}", self._names[ep], t0, t1, None if pc < 0 else self._names[pc], b - a)

    def __getstate__(self) -> dict[str, Any]:
        """The snapshot form: every column; not the caches, nor wrappers set on the instance."""
        return {k: v for k, v in vars(self).items()
                if k not in ("_paged_in", "_tok") and not isinstance(v, (PostingBits, ColumnView, *_BEHAVIOUR))}

    def __setstate__(self, state: dict[str, Any]) -> None:
        vars(self).update(state)
        self._paged_in = OrderedDict()
        self._tok = {}
        self._column_views()
        if isinstance(self._keys_t, SparseKeyColumns):
            self._bits = self._keys_t.bits  # type: ignore[assignment]

    # ------------------------------------------------------------------ recall
    def recall(self, query: str, k: int = 5, *, strengthen: bool = True) -> list[Chunk]:
        """The ``k`` best chunks for ``query`` (each with its best items), best first; [] if nothing relevant.

        Ties in score go to the older chunk. Exact, except for a dense query (a learned key encoder)
        with ``index="ivf"``, which is answered from the approximate index (``memory/ann.py``).
        Recalling strengthens the returned chunks (S grows, Δt restarts) unless ``strengthen=False``.
        """
        if not self.enabled or k <= 0:
            return []
        if not isinstance(query, str):
            raise TypeError(f"query must be a str, got {type(query).__name__}")
        q = encode_query(self.encoder, query)
        nnz = int(np.count_nonzero(q))
        if not nnz:
            return []
        n = len(self._c_t0)
        cfg = self.config
        # The part of a score that is not similarity lies in [lo, hi]: retention in (0, 1], utility
        # within the bounds of every utility ever set. Only chunks whose similarity could still bring
        # them into the top k are scored (retention, utility, ranking, items).
        o = self._open
        u_lo, u_hi = self._u_lo, self._u_hi
        if o is not None:
            u_lo, u_hi = min(u_lo, o.utility), max(u_hi, o.utility)
        hi = cfg.retention_weight + cfg.utility_weight * u_hi
        lo = cfg.utility_weight * u_lo
        sparse = nnz * 4 <= len(q)
        so = self._open_similarity(q)
        if not sparse and isinstance(self._ann, HNSWIndex) and len(self._ann):
            return self._recall_hnsw(query, q, k, so, lo, cfg.utility_weight * u_hi, strengthen)
        nz = np.flatnonzero(q)
        if not sparse and self._ann is not None and self._ann.trained:
            # dense query, approximate index: only the keys of the probed lists
            rows, s = self._ann.search(q, cfg.index_nprobe)
            keep = s > 1e-6
            out = self._rank(query, q, k, rows[keep], s[keep].astype(np.float64), so, strengthen)
            return out
        out = None
        kt = self._keys_t
        if sparse and isinstance(kt, SparseKeyColumns) and self._pages is None and n >= self._groups_min_rows:
            out = self._recall_groups(query, q, k, nz.tolist(), n, so, cfg.utility_weight * u_hi, lo)
            if out is not None:
                if strengthen and out:
                    self.strengthen([c.id for c in out], self.now)
                return out
        if sparse and isinstance(kt, SparseKeyColumns):
            # First only the rows within reach of the best similarity, found from the postings of the
            # query dimension that can add the most (``near_top``); exact unless a row left out could
            # still win, then the full scan below.
            got = kt.near_top(q, nz.tolist(), n, (hi - lo) + 3e-6, self._kmax, self._kmin)
            if got is not None:  # ranked at once: every row left out has similarity <= floor
                rows, sims, floor = got
                out = self._rank(query, q, k, rows, sims.astype(np.float64), so, strengthen=False)
                if len(out) < k or out[-1].score < floor + hi + 1e-6:  # one left out could still win
                    out = self._pruned(query, q, k, rows, sims, so, hi, lo, floor=floor, complete=False)
        if (out is None and sparse and 2 <= len(nz) <= self._intersect_max_dims and n >= self._intersect_min_rows
                and not isinstance(self._bits, PostingBits)):
            # First the chunks whose keys share every query dimension (bit sets, no key read); exact
            # unless a chunk missing one of them could still score higher, then the full scan below.
            # Not over posting lists: building their bit sets costs more than the scan (6-10 ms
            # against 0.65 ms at 1M chunks).
            b = np.where(q[nz] > 0, q[nz] * self._kmax[nz], q[nz] * self._kmin[nz]).clip(min=0.0)
            words = np.bitwise_and.reduce(self._bits[nz, : (n + 63) // 64], axis=0)
            rows = rows_of_bits(words)
            sims = _gather_sims(self._keys_t, q, nz, rows)
            out = self._pruned(query, q, k, rows, sims, so, hi, lo, floor=float(b.sum() - b.min()), complete=False)
        if out is None:
            # One thread, not ``keys @ q``: BLAS runs this product on worker threads that sleep between
            # recalls, and waking them on a busy CPU (a robot's, a shared machine's) cost 8-20 ms per
            # recall here even for 2k chunks. A sparse query (hashed words: a few non-zero dimensions)
            # reads only those rows of the dimension-major key matrix.
            kt = self._keys_t
            if sparse and isinstance(kt, SparseKeyColumns):
                sims_all = kt.weighted_sum(q, nz.tolist(), n)  # only the query dimensions' postings
            elif sparse:
                sims_all = q[nz[0]] * kt[nz[0], :n]  # row by row: views, where kt[nz, :n] copies the rows
                for d in nz[1:].tolist():
                    sims_all += q[d] * kt[d, :n]
            else:
                sims_all = self._dense_sims(q, n)
            out = self._pruned(query, q, k, None, sims_all, so, hi, lo, floor=1e-6, complete=True)
        if strengthen and out:
            self.strengthen([c.id for c in out], self.now)
        return out

    def _recall_hnsw(self, query: str, q: np.ndarray, k: int, so: float, lo: float, u_top: float,
                     strengthen: bool) -> list[Chunk]:
        """Dense query through the HNSW index: fetch the most similar distinct keys, expand them to
        their chunks and re-rank those by score (similarity + retention + utility), beside every chunk
        of the ``_hot_blocks`` blocks of rows with the highest retention bound, scored exactly. Fetch
        4x more keys while a chunk not fetched could still outscore the k-th: its similarity is at
        most the last fetched key's (if HNSW found the true nearest), its retention at most the bound
        of the other blocks and its utility term at most ``u_top`` (and at least ``lo``); up to
        ``_hnsw_max_fetch`` keys."""
        ann = self._ann
        assert isinstance(ann, HNSWIndex)
        cfg = self.config
        hot_rows, hot_sims, is_hot, cold_r = self._hot_rows(q, len(ann))
        top = cfg.retention_weight * cold_r + u_top + 1e-6
        # below this similarity a hot chunk cannot beat a chunk of similarity s (the k-th fetched)
        slack = lo - cfg.retention_weight - u_top - 1e-6
        hot_ok = hot_sims > 1e-6
        m = k
        memo: dict = {}
        # Without a lexical encoder every candidate is a result: the rounds below compare scores
        # alone and the results are built once (with scores paged out, ``_rank`` reads them: rounds)
        numeric = self._hnsw_numeric and not getattr(self.encoder, "lexical", False) and not self._cols.mcold
        o = self._open
        open_score = None
        if numeric and o is not None and so > 1e-6:  # the chunk being written (retention 1), as _rank scores it
            open_score = self._scores(None, np.array([so]), (np.array([self.now]),
                                      np.array([cfg.initial_strength], np.float64), np.array([o.utility], np.float64)))
        while True:
            kids, s = ann.search_keys(q, m, cfg.index_ef_search)
            rows, lens = ann.rows_of(kids)
            rs = np.repeat(s.astype(np.float64), lens) if len(rows) != len(s) else s.astype(np.float64)
            hk = hot_ok & (hot_sims >= float(rs[k - 1]) + slack) if len(rs) >= k else hot_ok
            cand_h, sims_h = hot_rows[hk], hot_sims[hk]
            # the fetched keys' rows join key by key (the first keys holding k rows, and at least
            # ``_hnsw_first_rows``, then twice as many keys...) until none of the keys left can bring a row into the top k: the same top k as
            # ranking every fetched row at once
            cum = np.cumsum(lens)
            nkid = len(kids)
            j = min(nkid, int(np.searchsorted(cum, max(k, self._hnsw_first_rows))) + 1)
            if numeric:
                # the k-th score found so far, from the scores alone (every candidate is a result
                # when the encoder is not lexical); the results are built once, at the end
                cs_l, ss_l, vs_l = [cand_h], [sims_h], [self._scores(cand_h, sims_h)]
                best = vs_l[0] if open_score is None else np.append(vs_l[0], open_score)
                p0 = 0
                while True:
                    p = int(cum[j - 1]) if j else 0
                    r, sr = rows[p0:p], rs[p0:p]
                    keep = (sr > 1e-6) & ~is_hot[r // _BLOCK]
                    r, sr = r[keep], sr[keep]
                    v = self._scores(r, sr)
                    cs_l.append(r), ss_l.append(sr), vs_l.append(v)
                    best = np.concatenate([best, v])
                    if len(best) > k:
                        best = np.partition(best, len(best) - k)[len(best) - k:]
                    kth = float(best.min()) if len(best) >= k else None
                    if j >= nkid or (kth is not None and kth >= float(s[j]) + top):
                        break
                    p0, j = p, min(nkid, 2 * j)
            else:
                while True:
                    p = int(cum[j - 1]) if j else 0
                    r, sr = rows[:p], rs[:p]
                    keep = (sr > 1e-6) & ~is_hot[r // _BLOCK]
                    out = self._rank(query, q, k, np.concatenate([cand_h, r[keep]]), np.concatenate([sims_h, sr[keep]]),
                                     so, strengthen=False, memo=memo)
                    if j >= nkid or (len(out) == k and out[-1].score >= float(s[j]) + top):
                        break
                    j = min(nkid, 2 * j)
                kth = out[-1].score if len(out) == k else None
            if j < nkid:
                break  # nothing less similar than the first key left out can win
            if m >= self._hnsw_max_fetch or len(kids) < m or m >= ann.n_keys:
                break
            if kth is not None and kth >= float(s[-1]) + top:
                break  # nothing less similar than the last fetched key can win
            m = min(m * 4, self._hnsw_max_fetch)
        if numeric:
            # ranked once: the candidates whose score reaches the k-th (ties and a rounding margin
            # kept), the same top k as ranking them all
            cand, sims, v = np.concatenate(cs_l), np.concatenate(ss_l), np.concatenate(vs_l)
            if kth is not None:
                sel = v >= kth - 1e-9
                cand, sims = cand[sel], sims[sel]
            out = self._rank(query, q, k, cand, sims, so, strengthen=False)
        if strengthen and out:
            self.strengthen([c.id for c in out], self.now)
        return out

    def _scores(self, rows: np.ndarray | None, sims: np.ndarray, cols: tuple | None = None) -> np.ndarray:
        """The ranking scores of closed ``rows`` with key similarities ``sims`` (float64), as ``_rank``
        computes them (the same operations, value for value); ``cols``: their (last access, strength,
        utility) instead of the rows' own (every row's in RAM)."""
        cfg = self.config
        last, strength, utility = self._cols.scores_of(rows) if cols is None else cols
        if cfg.retention_weight:
            score = sims + cfg.retention_weight * np.exp(-np.maximum(self.now - last, 0.0) / strength)
        else:
            score = sims.copy()
        if cfg.utility_weight:
            score = score + cfg.utility_weight * utility
        return score

    def _recall_groups(self, query: str, q: np.ndarray, k: int, dims: list[int], n: int, so: float,
                       u_top: float, lo: float) -> list[Chunk] | None:
        """Exact sparse recall over distinct keys (``SparseKeyColumns.groups``; None when there are
        none: the caller reads the row postings). The rows of the ``_hot_blocks`` blocks with the
        highest retention bound, and the rows not grouped yet, are scored from their own postings
        (``span_sum``); every other row's score is at most its key's similarity + ``retention_weight``
        x the highest bound of the other blocks + ``u_top`` (the largest utility term; ``lo`` the
        smallest). First the rows and keys within reach of the best similarity are ranked, expanded to
        their rows outside those blocks; then, while a row or key left out could still beat the k-th
        result, every one that could: the same top ``k`` as scoring every row. Not strengthened."""
        kt = self._keys_t
        assert isinstance(kt, SparseKeyColumns)
        g = kt.groups(n, self._groups_min_rows)
        if g is None:
            return None
        spans, _, is_hot, cold_r = self._hot_choice(n)
        # the rows scored from their own postings: the hot blocks' and those after the groups
        spans = sorted(list(spans) + ([(g.n, n)] if g.n < n else []))
        merged: list[list[int]] = []
        for a, b in spans:
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        ex_rows, ex_sims = [], []
        for a, b in merged:
            s = kt.span_sum(q, dims, a, b)
            i = np.flatnonzero(s > 1e-6)
            ex_rows.append(i + a)
            ex_sims.append(s[i])
        ex_rows_a = np.concatenate(ex_rows) if len(ex_rows) > 1 else ex_rows[0]
        ex_sims_a = np.concatenate(ex_sims) if len(ex_sims) > 1 else ex_sims[0]
        ex_sims_a = ex_sims_a.astype(np.float64)
        ks = g.sims(q, dims)
        smax = max(float(ks.max()) if g.nk else 0.0, float(ex_sims_a.max()) if len(ex_sims_a) else 0.0, so)
        if smax <= 1e-6:
            return []
        hi = self.config.retention_weight + u_top  # what a row scored from its postings adds at most
        c = self.config.retention_weight * cold_r + u_top + 1e-6  # and a grouped row, with a margin
        # First the rows and keys within reach of the best similarity (as ``_pruned``), then, while the
        # k-th result found could be beaten by a row or key left out, every one that could.
        thr_h = smax - (hi - lo) - 1e-6
        thr_k = smax - (c - lo) - 1e-6
        memo: dict = {}
        while True:
            hs = ex_sims_a >= thr_h
            cand, cs = ex_rows_a[hs], ex_sims_a[hs]
            kids = np.flatnonzero((ks >= thr_k) & (ks > 1e-6))
            if len(kids):
                rows, lens = g.rows_of(kids)
                keep = ~is_hot[rows // _BLOCK]
                cand = np.concatenate([cand, rows[keep]])
                cs = np.concatenate([cs, np.repeat(ks[kids].astype(np.float64), lens)[keep]])
            out = self._rank(query, q, k, cand, cs, so, strengthen=False, open_sim_min=thr_h, memo=memo)
            if thr_h <= 1e-6 and thr_k <= 1e-6:
                return out  # every row and key with a similarity
            if len(out) == k:
                need_h = out[-1].score - hi - 1e-6  # a row below this cannot reach the k-th score
                need_k = out[-1].score - c  # nor a key below this
                if need_h >= thr_h and need_k >= thr_k:
                    return out
                thr_h, thr_k = min(thr_h, need_h), min(thr_k, need_k)
            else:
                thr_h = thr_k = 0.0

    def _hot_choice(self, n: int) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray, float]:
        """``_choose_hot_blocks(n)``, kept (``_HOT_BLOCKS``) until the time, the number of rows or a
        block's bound changes."""
        hit = _HOT_BLOCKS.get(self)
        if (hit is not None and hit[0] == n and hit[1] == self.now and hit[2] is self._blk_last
                and hit[3] is self._blk_strength and hit[4] is self._keys_t):
            return hit[5]
        got = self._choose_hot_blocks(n)
        _HOT_BLOCKS[self] = (n, self.now, self._blk_last, self._blk_strength, self._keys_t, got)
        return got

    def _hot_rows(self, q: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """The rows of the ``_hot_blocks`` blocks with the highest retention bound and their
        similarities to ``q``, which blocks those are (a flag per block) and the highest retention
        bound of the other blocks. The choice of blocks is kept (``_HOT_BLOCKS``) until the time,
        the number of rows or a block's bound changes."""
        spans, hot_rows, is_hot, cold_r = self._hot_choice(n)
        kt = self._keys_t
        if len(spans) == 1:
            a, b = spans[0]
            return hot_rows, np.einsum("i,ij->j", q, kt[:, a:b]).astype(np.float64), is_hot, cold_r
        hot_sims = np.concatenate([np.einsum("i,ij->j", q, kt[:, a:b]) for a, b in spans]).astype(np.float64)
        return hot_rows, hot_sims, is_hot, cold_r

    def _choose_hot_blocks(self, n: int) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray, float]:
        """(row spans, rows, a flag per block, the highest bound of the other blocks) of the
        ``_hot_blocks`` blocks of rows with the highest retention bound now."""
        nb = (n + _BLOCK - 1) // _BLOCK
        bound = np.exp(-np.maximum(self.now - self._blk_last[:nb], 0.0) / np.maximum(self._blk_strength[:nb], 1e-300))
        h = self._hot_blocks
        hot = np.arange(nb) if nb <= h else np.sort(np.argpartition(-bound, h - 1)[:h])
        is_hot = np.zeros(nb, bool)
        is_hot[hot] = True
        cold_r = float(bound[~is_hot].max()) if nb > len(hot) else 0.0
        runs = [(int(hot[0]), int(hot[-1]) + 1)] if hot[-1] - hot[0] == len(hot) - 1 else [
            (b, b + 1) for b in hot.tolist()]  # consecutive blocks (the newest, usually) in one slice
        spans = [(b0 * _BLOCK, min(n, b1 * _BLOCK)) for b0, b1 in runs]
        hot_rows = np.concatenate([np.arange(a, b) for a, b in spans])
        return spans, hot_rows, is_hot, cold_r

    def _pruned(self, query: str, q: np.ndarray, k: int, rows: np.ndarray | None, sims: np.ndarray, so: float,
                hi: float, lo: float, floor: float, complete: bool) -> list[Chunk] | None:
        """Exact top ``k`` among closed rows ``rows`` (None: every row) with similarities ``sims``, and
        the open chunk, scoring only the chunks within reach of the top; every row left out of
        ``rows`` has similarity <= ``floor``. None when a row left out could be in the top k
        (``complete=False``); with ``complete=True`` rows left out are irrelevant (similarity ~0)."""
        smax = max(float(sims.max()) if len(sims) else 0.0, so)
        if smax <= 1e-6:
            return [] if complete else None
        # First only the chunks within (hi - lo) of the best similarity; if the k-th result found
        # there could still be beaten by a chunk left out, widen to every chunk that could.
        thr = smax - (hi - lo) - 1e-6
        memo: dict = {}
        while True:
            everything = thr <= 1e-6
            sel = np.flatnonzero(sims > 1e-6) if everything else np.flatnonzero(sims >= thr)
            out = self._rank(query, q, k, sel if rows is None else rows[sel], sims[sel].astype(np.float64), so,
                             strengthen=False, open_sim_min=1e-6 if everything else thr, memo=memo)
            if everything or (len(out) == k and out[-1].score >= thr + hi + 1e-6):  # none below thr can win
                if complete or (len(out) == k and out[-1].score >= floor + hi + 1e-6):
                    return out
                return None  # a row left out of ``rows`` could still win
            thr = out[-1].score - hi - 2e-6 if len(out) == k else 0.0

    def _dense_sims(self, q: np.ndarray, n: int) -> np.ndarray:
        """Similarity of ``q`` with every closed row's key (float32), one block of keys at a time when
        old keys are paged out (each key's sum runs over its dimensions in the same order either way)."""
        kt = self._keys_t
        if isinstance(kt, DenseKeyColumns) and kt.cold:
            return np.concatenate([np.einsum("i,ij->j", q, _strided(m)) for _, m in kt.blocks(0, n)]
                                  or [np.zeros(0, np.float32)])
        return np.einsum("i,ij->j", q, kt[:, :n])

    def _open_similarity(self, q: np.ndarray) -> float:
        """Key similarity of the chunk being written (0.0 when there is none)."""
        o = self._open
        if o is None:
            return 0.0
        # Scored on its own: stacking it onto the key matrix would copy every key on each recall.
        if o.open_key is None or o.open_key[0] != len(o.texts):
            o.open_key = (len(o.texts), self.encoder.encode([_chunk_text(o)])[0])
        return float(o.open_key[1] @ q)

    def _rank(self, query: str, q: np.ndarray, k: int, cand: np.ndarray, sims: np.ndarray, so: float,
              strengthen: bool, open_sim_min: float = 1e-6, memo: dict | None = None,
              cold_last: bool = True) -> list[Chunk]:
        """The best ``k`` relevant chunks among closed rows ``cand`` (key similarities ``sims``) and the
        open chunk (similarity ``so``, considered when >= ``open_sim_min``), by score, then age.
        ``memo`` keeps each row's best items across calls for one query. ``cold_last``: rows whose
        scores are paged out are read only while they could still win (``_rank_cold_last``)."""
        mcold = self._cols.mcold
        if cold_last and mcold and len(cand) > k and self.config.retention_weight and int(cand.min()) < mcold:
            return self._rank_cold_last(query, q, k, cand, sims, so, strengthen, open_sim_min, memo)
        o = self._open
        n_closed = len(self._c_t0)
        last, strength, utility = self._cols.scores_of(cand)
        if o is not None and so > 1e-6 and so >= open_sim_min:  # the chunk being written: retention 1
            cand = np.append(cand, n_closed)
            sims = np.append(sims, so)
            last = np.append(last, self.now)
            strength = np.append(strength, self.config.initial_strength)
            utility = np.append(utility, o.utility)
        m = len(cand)
        if m == 0:
            return []
        cfg = self.config
        retention = None
        if cfg.retention_weight:
            retention = np.exp(-np.maximum(self.now - last, 0.0) / strength)
            score = sims + cfg.retention_weight * retention
        else:
            score = sims.copy()
        if cfg.utility_weight:
            score = score + cfg.utility_weight * utility
        self._trim_tokens()
        tok = self._tok
        qtok = tok.get(query)  # the query's tokens, kept beside the item texts' (the same function)
        if qtok is None:
            qtok = tok[query] = tokens(query)
        qtok = set(qtok)
        # Hashed keys collide: with a lexical encoder a chunk is relevant only if one of its items
        # shares a word with the query, so look further down the ranking until k relevant ones are found.
        lexical = bool(getattr(self.encoder, "lexical", False))
        out: list[Chunk] = []
        kk = min(k, m)
        done = 0
        names = self._names
        name_of: dict[int, str | None] = {-1: None}  # codes read in this call (a chunk's episode repeats)
        best = self._best_items
        rows_out, base, i_t, i_pid, i_text = self._rows_out, self._end_out, self._i_t, self._i_pid, self._i_text
        hit = qtok.__contains__
        # a few candidates (dense recall through an index): one sort of them all, by score then row (age)
        if m <= 256:  # as lists, in that order, at once (a few numpy calls instead of ten per round)
            order = np.lexsort((cand, -score))
            rows_all = cand[order].tolist()
            score_all, sims_all, util_all = score[order].tolist(), sims[order].tolist(), utility[order].tolist()
            ret_all = retention[order].tolist() if retention is not None else [1.0] * m
        while True:
            if m <= 256:
                rows_l, score_l, sims_l = rows_all[done:kk], score_all[done:kk], sims_all[done:kk]
                util_l, ret_l = util_all[done:kk], ret_all[done:kk]
            else:
                if kk < m:  # the kk best, ordered by score then row (age): of the rows tied with the kk-th
                    # score, the oldest (one partition, where sorting every tie cost ~0.1 ms when
                    # thousands of old chunks share one key and a retention that rounds to nothing)
                    v = np.partition(score, m - kk)[m - kk]
                    top = np.flatnonzero(score > v)
                    eq = np.flatnonzero(score == v)
                    need = kk - len(top)
                    if len(eq) > need:
                        eq = eq[np.argpartition(cand[eq], need - 1)[:need]]
                    top = np.concatenate([top, eq])
                else:
                    top = np.arange(m)
                top = top[np.lexsort((cand[top], -score[top]))][:kk]
                top = top[done:]
                rows_l, score_l, sims_l = cand[top].tolist(), score[top].tolist(), sims[top].tolist()
                util_l = utility[top].tolist()
                ret_l = retention[top].tolist() if retention is not None else [1.0] * len(rows_l)
            closed = [r for r in rows_l if r < n_closed]
            metas_l = self._cols.metas(closed)
            if rows_out:  # the paged-out chunks' items this round may read: one query for them all
                self._page_in_items([r for r in closed if r < rows_out and (memo is None or r not in memo)])
            metas = iter(metas_l)
            # the texts of the chunks of one item in RAM (the usual chunk), decoded together
            texts = iter(i_text.texts_of([mt[4] - base for mt, r in zip(metas_l, closed) if mt[5] - mt[4] == 1
                                          and r >= rows_out and (memo is None or r not in memo)]))
            for j, row in enumerate(rows_l):
                if row < n_closed:
                    t0, t1, ep, pc, a, b = next(metas)  # both the chunk's fields and its items' span
                    place = name_of.get(pc)
                    if place is None and pc >= 0:
                        place = name_of[pc] = names[pc]
                    items = memo.get(row) if memo is not None else None
                    if items is None:
                        if b - a == 1 and row >= rows_out:  # one item in RAM: as _best_item, inline
                            i = a - base
                            text = next(texts)
                            toks = tok.get(text)
                            if toks is None:
                                toks = tok[text] = tokens(text)
                            n_hits = sum(map(hit, toks))
                            items = (_new_item(i_t[i], text, place, i_pid[i], -(-n_hits / (1 + len(toks)) ** 0.5)),
                                     ) if n_hits else ()
                        else:
                            items = best(place, *self._row_items(row, (a, b)), qtok)
                        if memo is not None:
                            memo[row] = items
                    if lexical and not items:
                        continue
                    epn = name_of.get(ep)
                    if epn is None:
                        epn = name_of[ep] = names[ep]
                    out.append(_new_chunk(f"chunk-{row}", epn, t0, t1, place, items, score_l[j], sims_l[j],
                                          ret_l[j], util_l[j], b - a))
                else:
                    assert o is not None
                    items = memo.get(row) if memo is not None else None
                    if items is None:
                        items = best(o.place, o.ts, o.texts, o.pids, qtok)
                        if memo is not None:
                            memo[row] = items
                    if lexical and not items:
                        continue
                    out.append(_new_chunk(o.id, o.episode, o.t0, o.t1, o.place, items, score_l[j], sims_l[j],
                                          ret_l[j], util_l[j], len(o.texts)))
                if len(out) == k:
                    break
            if len(out) >= k or kk >= m:
                break
            done, kk = kk, min(m, kk * 4)
        if strengthen and out:
            self.strengthen([c.id for c in out], self.now)
        return out

    def _rank_cold_last(self, query: str, q: np.ndarray, k: int, cand: np.ndarray, sims: np.ndarray, so: float,
                        strengthen: bool, open_sim_min: float, memo: dict | None) -> list[Chunk]:
        """``_rank`` when some candidates' strength, last access and utility are paged out (``lt_cmut``,
        read back a block at a time): those rows are scored only while one of them could still be in
        the top ``k``. Each such row's score is at most its similarity plus the retention bound of its
        block of ``_BLOCK`` rows (kept in RAM) and the largest utility term; they join the ranking in
        the order of that bound until the k-th result scores above the bound of every row left out."""
        cfg = self.config
        cold = cand < self._cols.mcold
        blk = cand // _BLOCK
        bound = np.exp(-np.maximum(self.now - self._blk_last[blk], 0.0) / np.maximum(self._blk_strength[blk], 1e-300))
        ub = sims + cfg.retention_weight * bound + cfg.utility_weight * max(self._u_hi, 0.0) + 1e-9
        ci = np.flatnonzero(cold)
        ci = ci[np.argsort(-ub[ci], kind="stable")]
        hot = np.flatnonzero(~cold)
        j = 0
        while True:
            sel = np.sort(np.concatenate([hot, ci[:j]]))
            out = self._rank(query, q, k, cand[sel], sims[sel], so, False, open_sim_min, memo, cold_last=False)
            if j >= len(ci):
                break
            left = float(ub[ci[j]])  # the highest bound of a row left out
            if len(out) == k and out[-1].score >= left + 1e-6:
                break  # none left out can reach the k-th (nor tie it: ties go to the older chunk)
            # every left-out row whose bound reaches the k-th score found (at least twice as many)
            reach = int(np.count_nonzero(ub[ci] >= out[-1].score - 1e-6)) if len(out) == k else len(ci)
            j = min(len(ci), max(reach, 2 * j, k))
        if strengthen and out:
            self.strengthen([c.id for c in out], self.now)
        return out

    def _trim_tokens(self) -> None:
        """Start the token cache over once it holds its limit of texts (bounded RAM)."""
        if len(self._tok) >= (_MAX_TOKENIZED if self._pages is None else min(_MAX_TOKENIZED, max(1024, self._pages.cap // 4))):
            self._tok.clear()

    def _best_items(self, place: str | None, ts: Any, texts: list[str], pids: Any, qtok: set[str]) -> tuple[Item, ...]:
        """The chunk's ``items_per_chunk`` items sharing the most words with the query (by hits over
        the square root of 1 + the item's token count, then time), each scored so; () if none shares one."""
        if len(texts) == 1:
            return self._best_item(place, ts[0], texts[0], pids[0], qtok)
        cache = self._tok
        scored = []
        hit = qtok.__contains__
        for t, text, pid in zip(ts, texts, pids):
            toks = cache.get(text)
            if toks is None:  # tokenise each item text once (texts repeat: scenes are seen again)
                toks = cache[text] = tokens(text)
            n_hits = sum(map(hit, toks))
            if n_hits:
                scored.append((-n_hits / (1 + len(toks)) ** 0.5, t, text, pid))
        scored.sort()
        return tuple(_new_item(t, text, place, pid, -s) for s, t, text, pid in scored[: self.config.items_per_chunk])

    def _best_item(self, place: str | None, t: float, text: str, pid: int, qtok: set[str]) -> tuple[Item, ...]:
        """``_best_items`` of a chunk of one item: that item scored, or () when it shares no query word."""
        toks = self._tok.get(text)
        if toks is None:
            toks = self._tok[text] = tokens(text)
        n_hits = sum(map(qtok.__contains__, toks))
        if not n_hits:
            return ()
        return (_new_item(t, text, place, pid, -(-n_hits / (1 + len(toks)) ** 0.5)),)

    def strengthen(self, chunk_ids: list[str], t: float) -> None:
        """Recall effect: S += strength_increment and Δt restarts at ``t`` for each chunk."""
        _HOT_BLOCKS.pop(self, None)  # the blocks' retention bounds change
        row_of = self._row_of
        rows = [r for r in map(row_of, chunk_ids) if r is not None and r >= 0]
        if rows and max(rows) // _BLOCK < len(self._blk_last):
            got = self._cols.bump(rows, self.config.strength_increment, t)
            if got is not None:  # each row once, its values in RAM: as array operations
                last, strength = got
                b = np.array(rows, np.intp) // _BLOCK
                np.maximum.at(self._blk_last, b, last)
                np.maximum.at(self._blk_strength, b, strength)
                return
        for cid in chunk_ids:
            row = row_of(cid)
            if row is None or row < 0:
                continue
            self._strength[row] += self.config.strength_increment
            self._last_access[row] = max(self._last_access[row], t)
            self._bound_block(row)

    def reinforce(self, chunk_id: str, reward: float) -> float:
        """Update a chunk's utility from an outcome: U += rate * (reward - U). Returns the new U."""
        if isinstance(reward, bool) or not isinstance(reward, (int, float)) or not math.isfinite(reward):
            raise ValueError(f"reward must be a finite number, got {reward!r}")
        row = self._row_of(chunk_id)
        if row is None:
            raise KeyError(f"no chunk {chunk_id!r} in episodic memory")
        o = self._open
        u = o.utility if row < 0 and o is not None else float(self._utility[row])
        u += self.config.utility_rate * (float(reward) - u)
        if row < 0 and o is not None:
            o.utility = u
        else:
            self._utility[row] = u
        self._u_lo, self._u_hi = min(self._u_lo, u), max(self._u_hi, u)
        return float(u)

    def retention(self, chunk_id: str) -> float:
        row = self._row_of(chunk_id)
        if row is None:
            raise KeyError(chunk_id)
        if row < 0:
            return 1.0
        return float(math.exp(-max(self.now - self._last_access[row], 0.0) / self._strength[row]))

    def chunks(self) -> list[str]:
        ids = [f"chunk-{r}" for r in range(len(self._c_t0))]
        if self._open is not None:
            ids.append(self._open.id)
        return ids

    def chunk_items(self, chunk_id: str) -> list[Item]:
        row = self._row_of(chunk_id)
        if row is None:
            raise KeyError(chunk_id)
        o = self._open
        if row < 0 and o is not None:
            place, (ts, texts, pids) = o.place, (o.ts, o.texts, o.pids)
        else:
            place, (ts, texts, pids) = self._chunk_meta(row)[4], self._row_items(row)
        return [Item(t, text, place, pid) for t, text, pid in zip(ts, texts, pids)]

    def stats(self) -> dict[str, int]:
        n_open = len(self._open.texts) if self._open else 0
        n_closed = len(self._c_t0)
        return {"episodes": self._n_episodes, "chunks": self._n_chunks,
                "items": (self._c_end[-1] if n_closed else 0) + n_open}

    def ram_bytes(self) -> int:
        """Bytes episodic memory holds in RAM now, estimated from its columns' sizes (cheap: no walk
        over chunks or items): per-chunk columns, keys (posting lists or the dense matrix, bit sets,
        bounds), the items of the chunks in RAM with their texts (word codes), the paged-in and token
        caches, the approximate index. Not the graph's chunk nodes (the graph counts those)."""
        n = self._cols.nbytes + self._kmax.nbytes + self._kmin.nbytes
        n += self._blk_last.nbytes + self._blk_strength.nbytes
        kt = self._keys_t
        n += kt.ram_bytes if isinstance(kt, SparseKeyColumns) else kt.nbytes
        if not isinstance(self._bits, PostingBits):
            n += self._bits.nbytes
        o = self._open
        n_items = len(self._i_t) + (len(o.ts) if o is not None else 0)
        n += 16 * n_items  # time, percept id
        n += self._i_text.nbytes + (sum(map(sys.getsizeof, o.texts)) if o is not None else 0)
        n += sum(_ITEM_BYTES * len(got[0]) for got in self._paged_in.values())
        n += _TOKENS_BYTES * len(self._tok)
        n += self._names.nbytes
        if self._ann is not None:
            n += 4 * self.encoder.dim * len(self._ann)
        return int(n)

    def fit(self, max_bytes: int) -> None:
        """Page out, used longest ago first, until ``ram_bytes() <= max_bytes`` (best effort): the
        caches (paged-in chunks' items, tokenised texts), then the items, key postings and columns
        of the oldest closed chunks in RAM (whole chunks, as the RAM budget's own paging moves them:
        recall reads them back, answers unchanged), then the names used longest ago, and the
        strength, last access and utility of the chunks whose items are out (``lt_cmut``; also when
        those take over a sixteenth of ``max_bytes``: they grow with life length). At least
        ``_MIN_ITEMS`` items stay. From now on the items in RAM stay within what this call left room
        for (within the budget's own ``chunk_items`` cap), until the next call gives more or less.
        Without long-term pages (no RAM budget) only the caches are emptied."""
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, np.integer)):
            raise TypeError(f"max_bytes must be an int, got {type(max_bytes).__name__}")
        max_bytes = int(max_bytes)
        if self.ram_bytes() > max_bytes:
            while self._paged_in and self.ram_bytes() > max_bytes:
                self._paged_in.popitem(last=False)
            if self._tok and self.ram_bytes() > max_bytes:
                self._tok.clear()
        pg = self._pages
        if pg is None:
            return
        if self.ram_bytes() > max_bytes:
            self._names.page_out(_NAMES_KEPT)
        for _ in range(32):
            over = self.ram_bytes() - max_bytes
            n_items = len(self._i_t)
            if over <= 0 or n_items <= _MIN_ITEMS:
                break
            before = self._rows_out
            self._page_out(min(n_items - _MIN_ITEMS, max(64, int(over / self._item_bytes() * 1.05) + 1)))
            if self._rows_out == before:
                break
        if self.ram_bytes() > max_bytes:
            self._names.page_out(min(_NAMES_KEPT, 256))
        if self.ram_bytes() > max_bytes or self._cols.mut_nbytes > max_bytes // 16:
            # the scores of chunks whose items are paged out (they grow with life length: 24 bytes a chunk)
            self._cols.page_out_mut(self._rows_out)
        # room left for items, kept from now on (the next call recomputes it)
        room = max_bytes - self.ram_bytes()
        self._item_cap = min(pg.cap, max(_MIN_ITEMS, len(self._i_t) + int(room / self._item_bytes())))  # never over the budget's own cap

    def _item_bytes(self) -> float:
        """Bytes one closed chunk's item in RAM costs now, on average (its time, percept id and text
        codes, its share of the in-RAM key postings and chunk columns); an estimate before any item."""
        n = len(self._i_t)
        if not n:
            return float(_ITEM_BYTES)
        b = 16 * n + self._i_text.nbytes
        kt = self._keys_t
        if isinstance(kt, SparseKeyColumns):
            b += kt.nbytes
        elif isinstance(kt, DenseKeyColumns):
            b += kt.nbytes
        return max(16.0, b / n)

    def in_ram(self) -> dict[str, int]:
        """Chunks whose items are in RAM, and those items (the rest are in the long-term table)."""
        n_open = len(self._open.texts) if self._open else 0
        return {"chunks_in_ram": len(self._c_t0) - self._rows_out + (self._open is not None),
                "items_in_ram": len(self._i_t) + n_open}

    @property
    def episode(self) -> str | None:
        return self._episode

    def set_encoder(self, encoder: KeyEncoder) -> None:
        """Swap the key encoder and recompute every closed chunk's key with it."""
        self.encoder = encoder
        if self._open is not None:
            self._open.open_key = None  # the open chunk's key, cached by the old encoder
        keys = np.zeros((encoder.dim, max(64, self._keys_t.shape[1])), np.float32)
        n = len(self._c_t0)
        if n:
            keys[:, :n] = encoder.encode([" ".join(self._row_items(r)[1]) for r in range(n)]).T
        if getattr(encoder, "lexical", False):
            sparse = SparseKeyColumns(encoder.dim, keys.shape[1], pages=self._pages)
            for row in range(n):
                sparse[:, row] = keys[:, row]
            if self._pages is not None:  # rows of their own (the old keys' rows stay for older snapshots)
                sparse.space = self._pages.store.new_space()
                sparse.page_out(self._rows_out)
            self._keys_t = sparse  # type: ignore[assignment]
            self._bits = sparse.bits  # type: ignore[assignment]
        elif self._pages is not None:
            dense = DenseKeyColumns(encoder.dim, keys.shape[1], pages=self._pages)
            for row in range(n):
                dense[:, row] = keys[:, row]
            dense.space = self._pages.store.new_space()
            dense.page_out(self._rows_out)
            self._keys_t = dense  # type: ignore[assignment]
            self._bits = np.zeros((encoder.dim, keys.shape[1] // 64), np.uint64)
        else:
            self._keys_t = keys
            self._bits = np.zeros((encoder.dim, keys.shape[1] // 64), np.uint64)
        self._kmax = np.zeros(encoder.dim, np.float32)
        self._kmin = np.zeros(encoder.dim, np.float32)
        for row in range(n):
            self._index_key(row, keys[:, row])
        if self._ann is not None:  # the index is rebuilt over the new keys
            self._ann = _make_index(self.config.index, encoder.dim)
            if isinstance(self._ann, HNSWIndex):
                self._ann.add_many(keys[:, :n].T)
            else:
                for row in range(n):
                    self._ann.add(row, keys[:, row])

    def _bound_block(self, row: int) -> None:
        """Raise the retention bound of ``row``'s block to cover its last access and strength."""
        b = row // _BLOCK
        if b >= len(self._blk_last):
            nb = max(2 * len(self._blk_last), b + 1)
            self._blk_last = np.concatenate([self._blk_last, np.full(nb - len(self._blk_last), -np.inf)])
            self._blk_strength = _grow(self._blk_strength, nb)
        self._blk_last[b] = max(self._blk_last[b], self._last_access[row])
        self._blk_strength[b] = max(self._blk_strength[b], self._strength[row])

    def _index_key(self, row: int, key: np.ndarray) -> None:
        """Record closed row ``row``'s key in the per-dimension bit sets and value bounds."""
        if not isinstance(self._bits, PostingBits):  # else the bits are read from the key postings
            self._bits[np.flatnonzero(key), row >> 6] |= np.uint64(1 << (row & 63))
        np.maximum(self._kmax, key, out=self._kmax)
        np.minimum(self._kmin, key, out=self._kmin)

    @property
    def index(self) -> IVFIndex | HNSWIndex | None:
        """The approximate index over the closed chunks' keys (``memory.episodic.index``), None for "exact"."""
        return self._ann

    @property
    def keys(self) -> np.ndarray:
        """The closed chunks' key vectors, one row per chunk in creation order (a read-only view)."""
        v = self._keys_t[:, : len(self._c_t0)].T
        v.flags.writeable = False
        return v


def _make_index(kind: str, dim: int) -> IVFIndex | HNSWIndex | None:
    """The approximate index ``memory.episodic.index`` names (None for "exact"); ImportError naming
    the ``[ann]`` extra for "hnsw" without faiss-cpu."""
    if kind == "ivf":
        return IVFIndex(dim)
    if kind == "hnsw":
        return HNSWIndex(dim)
    return None


def _gather_sims(keys_t: np.ndarray, q: np.ndarray, nz: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Similarity of query ``q`` (non-zero in dimensions ``nz``) with the keys of ``rows`` of the
    dimension-major key matrix, as float64: one 1-D ``take`` per dimension (a 2-D fancy index
    over the rows costs ~3x more)."""
    sims = q[nz[0]] * keys_t[nz[0]].take(rows)
    for d in nz[1:].tolist():
        sims += q[d] * keys_t[d].take(rows)
    return sims.astype(np.float64)


def _strided(m: np.ndarray) -> np.ndarray:
    """``m`` as the unpaged key matrix's slices are laid out for a one-column piece: not contiguous
    (einsum sums a contiguous column in another order, so a similarity could differ in its last bit)."""
    if m.shape[1] != 1 or m.strides[0] != m.itemsize:
        return m
    buf = np.zeros((m.shape[0], 2), m.dtype)
    buf[:, :1] = m
    return buf[:, :1]


def _chunk_text(rec: _ChunkRec) -> str:
    return " ".join(rec.texts)


def _grow(a: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((n,) + a.shape[1:], a.dtype)
    out[: len(a)] = a
    return out
