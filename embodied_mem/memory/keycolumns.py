"""Sparse chunk keys: episodic memory's key matrix kept as one posting list per dimension.

Episodic memory reads its chunk keys by dimension (a sparse query touches only its few non-zero
dimensions). A dense ``(dim, capacity)`` float32 matrix costs ``4 * dim`` bytes per chunk (1 KiB at
the default 256 dimensions, twice that right after the matrix doubles), while a hashed-words key has
a dozen non-zero dimensions. ``SparseKeyColumns`` stores, per dimension, the rows whose key is
non-zero there and those values (int32 + float32: 8 bytes per non-zero), and answers the few reads
recall makes as the dense matrix would, value for value (a missing entry reads as 0.0), so every
similarity is bit-identical to the dense matrix's:

- ``keys[d, :n]``: dimension ``d`` for rows ``0..n-1``, a dense float32 array (built per read);
- ``keys[d].take(rows)``: dimension ``d`` at the given rows (float32);
- ``keys.weighted_sum(q, dims, n)``: ``sum(q[d] * keys[d, :n] for d in dims)`` from the postings alone;
- ``keys.near_top(q, dims, n, slack)``: only the rows whose similarity is within ``slack`` of the
  best, their similarities (those of ``weighted_sum``) and a bound on every other row's, read from
  the postings of the query dimensions without a pass over all ``n`` rows (None when the bound
  does not separate them: then ``weighted_sum``);
- ``keys.span_sum(q, dims, a, b)``: ``weighted_sum``'s values for rows ``a..b-1`` only;
- ``keys.groups(n)``: the rows grouped by distinct key, with postings over the distinct keys
  (``KeyGroups``), for recall over a stream that repeats its scenes (a cache, never saved);
- ``keys[:, a:b]``: the dense ``(dim, b - a)`` block of rows ``a..b-1``;
- ``keys[:, row] = key``: append the key of the next row (rows are written once, in order).

Episodic memory uses it with a lexical (hashing) encoder; a dense (learned) encoder keeps the dense
matrix. Under a RAM budget the postings of old rows move to the long-term table ``lt_ckeys``
(``page_out``: one row per dimension and move, rows and values packed), and every read that reaches
rows below ``cold`` reads them back from there (SQLite, by ``(space, dim)``), so reads stay
value-for-value those of the dense matrix. ``bits`` is a read-only view of the per-dimension bit
sets (bit ``r`` of dimension ``d``: row ``r``'s key is non-zero there) built from the postings, so
the bit sets cost no RAM of their own.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .longterm import Pages

__all__ = ["SparseKeyColumns", "PostingBits", "DenseKeyColumns", "KeyGroups"]

_I32_MAX = (1 << 31) - 1  # rows are stored as int32
_SLICE = 1 << 16  # rows of sorted hashes read at a time by ``KeyGroups.build`` (a bounded temporary)


class SparseKeyColumns:
    """A ``(dim, capacity)`` float32 key matrix stored as per-dimension posting lists (see module)."""

    __slots__ = ("dim", "capacity", "n", "_rows", "_vals", "cold", "pages", "space", "_groups")
    groups_tail = 4096  # rows after the groups scored from their postings before ``groups`` rebuilds

    def __init__(self, dim: int, capacity: int = 64, pages: Pages | None = None) -> None:
        self.dim = int(dim)
        self.capacity = int(capacity)  # rows callers may address (grown by the caller, as a matrix's)
        self.n = 0  # rows written
        self._rows = [array("i") for _ in range(self.dim)]
        self._vals = [array("f") for _ in range(self.dim)]
        self.cold = 0  # rows below this have their postings in ``lt_ckeys`` (``pages``), not in RAM
        self.pages = pages
        self.space: int | None = None  # the table space of its rows (None: the pages'; set for keys
        # recomputed by a new encoder, so the old keys' rows are never read as theirs)
        self._groups: KeyGroups | None = None  # the distinct keys of rows 0..groups.n-1 (a cache: not saved)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.dim, self.capacity)

    @property
    def nbytes(self) -> int:
        """Bytes of the in-RAM posting lists' items (their allocation may hold up to ~12 % more)."""
        return sum(len(r) for r in self._rows) * 8

    @property
    def ram_bytes(self) -> int:
        """Bytes the in-RAM postings hold: their items, the arrays' over-allocation (~1/16) and headers,
        and the distinct-key groups recall keeps (``groups``)."""
        g = self._groups
        return self.nbytes + self.nbytes // 16 + 2 * 64 * self.dim + (g.nbytes if g is not None else 0)

    @property
    def bits(self) -> PostingBits:
        """The per-dimension bit sets of the rows, as ``bits[dims, :words]`` reads them (see ``PostingBits``)."""
        return PostingBits(self)

    def __getstate__(self) -> dict[str, Any]:
        return {"dim": self.dim, "capacity": self.capacity, "n": self.n, "rows": self._rows, "vals": self._vals,
                "cold": self.cold, "pages": self.pages, "space": self.space}

    def __setstate__(self, st: dict[str, Any]) -> None:
        self.dim, self.capacity, self.n = st["dim"], st["capacity"], st["n"]
        self._rows, self._vals = st["rows"], st["vals"]
        self.cold, self.pages, self.space = st.get("cold", 0), st.get("pages"), st.get("space")
        self._groups = None

    def page_out(self, upto: int) -> None:
        """Move the postings of rows ``cold..upto-1`` to ``lt_ckeys`` (one row per dimension that has
        any); reads of those rows then come from there. Needs ``pages``."""
        upto = min(int(upto), self.n)
        if upto <= self.cold:
            return
        pg = self.pages
        if pg is None:
            raise RuntimeError("SparseKeyColumns.page_out needs long-term pages")
        self._groups = None  # groups are kept only while every posting is in RAM
        moved = []
        for d in range(self.dim):
            r = self._rows[d]
            if not r or r[0] >= upto:
                continue
            i = _find(np.frombuffer(r, np.int32), upto)
            moved.append((_space(self), d, self.cold, r[:i].tobytes(), self._vals[d][:i].tobytes()))
        pg.store.insert_many("INSERT INTO lt_ckeys (space, dim, r0, rows, vals) VALUES (?, ?, ?, ?, ?)", moved)
        for _, d, _, rb, _ in moved:
            i = len(rb) // 4
            del self._rows[d][:i], self._vals[d][:i]
        self.cold = upto

    def _postings(self, d: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, values) of dimension ``d`` for rows ``lo..hi-1``, rows ascending (cold ones read back)."""
        rows = np.frombuffer(self._rows[d], np.int32)
        vals = np.frombuffer(self._vals[d], np.float32)
        if lo < self.cold and self.pages is not None:
            got = self.pages.store.execute("SELECT rows, vals FROM lt_ckeys WHERE space=? AND dim=? AND r0<? "
                                           "ORDER BY r0", (_space(self), d, hi)).fetchall()
            if got:
                rows = np.concatenate([np.frombuffer(b"".join(g[0] for g in got), np.int32), rows])
                vals = np.concatenate([np.frombuffer(b"".join(g[1] for g in got), np.float32), vals])
        if len(rows) and (lo > rows[0] or hi <= rows[-1]):
            i0, i1 = _find(rows, lo), _find(rows, hi)
            rows, vals = rows[i0:i1], vals[i0:i1]
        return rows, vals

    def __setitem__(self, idx: Any, key: np.ndarray) -> None:
        if not (isinstance(idx, tuple) and len(idx) == 2 and idx[0] == slice(None) and idx[1] == self.n):
            raise IndexError("SparseKeyColumns only appends the next row: keys[:, n] = key")
        key = np.asarray(key, np.float32)
        row = self.n
        for d in np.flatnonzero(key).tolist():
            self._rows[d].append(row)
            self._vals[d].append(float(key[d]))  # float32 -> float -> float32: exact
        self.n = row + 1
        self.capacity = max(self.capacity, self.n)

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, tuple) and len(idx) == 2:
            a, b = idx
            if isinstance(b, slice) and not isinstance(a, slice):
                lo, hi, step = b.indices(self.capacity)
                if step != 1:
                    raise IndexError("SparseKeyColumns reads contiguous rows only")
                return self._dense_row(int(a), lo, hi)
            if a == slice(None) and isinstance(b, slice):
                lo, hi, step = b.indices(self.capacity)
                if step != 1:
                    raise IndexError("SparseKeyColumns reads contiguous rows only")
                out = np.zeros((self.dim, max(0, hi - lo)), np.float32)
                for d in range(self.dim):
                    out[d] = self._dense_row(d, lo, hi)
                return out
            raise IndexError(f"unsupported key index {idx!r}")
        return _Dimension(self, int(idx))

    def _dense_row(self, d: int, lo: int, hi: int) -> np.ndarray:
        out = np.zeros(max(0, hi - lo), np.float32)
        if hi <= lo or (not self._rows[d] and lo >= self.cold):
            return out
        rows, vals = self._postings(d, lo, hi)
        out[rows - lo] = vals
        return out

    def weighted_sum(self, q: np.ndarray, dims: list[int], n: int) -> np.ndarray:
        """``q[dims[0]] * keys[dims[0], :n] + q[dims[1]] * keys[dims[1], :n] + ...`` (float32, summed in
        the order of ``dims``), value for value what the dense matrix gives, but reading only the
        postings of ``dims``: a row with no posting in a dimension adds nothing there (``x + 0*q == x``
        and ``0 + v*q == v*q`` exactly; a row in none of them reads 0.0)."""
        out = np.zeros(max(0, n), np.float32)
        first = True
        for d in dims:
            if n <= 0 or (not self._rows[d] and self.cold == 0):
                continue
            rows, vals = self._postings(d, 0, n)
            if not len(rows):
                continue
            rows = rows.astype(np.intp)  # numpy indexes with int32 rows ~2x slower than with intp
            if first:
                out[rows] = q[d] * vals
                first = False
            else:  # rows are distinct within one dimension: read, add, write back
                got = out.take(rows)
                got += q[d] * vals
                out[rows] = got
        return out

    def near_top(self, q: np.ndarray, dims: list[int], n: int, slack: float, vmax: np.ndarray | None = None,
                 vmin: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, float] | None:
        """The rows among ``0..n-1`` whose similarity ``sim = weighted_sum(q, dims, n)[row]`` is at
        least ``smax - slack`` (``smax``: the largest of them all), as (rows ascending, their sims as
        float32, value for value ``weighted_sum``'s, and a bound ``floor``: every other row has
        ``sim <= floor``), without scanning all ``n`` rows: a row missing from the postings of the
        dimension ``L`` that can add the most has ``sim`` at most what the other dimensions can add
        (their ``q[d] * value`` bounds from the postings read), so when the best row of ``L`` beats
        that bound by more than ``slack`` every wanted row is a row of ``L`` (MaxScore's argument).
        None when that does not hold (the caller then scans every row). ``vmax``/``vmin``: the largest /
        smallest value of each dimension over rows ``0..n-1`` when the caller keeps them (else read from
        the postings: a pass over each)."""
        if n <= 0 or not dims:
            return None
        posts = []
        for d in dims:
            if not self._rows[d] and self.cold == 0:
                continue
            rows, vals = self._postings(d, 0, n)
            if len(rows):
                # what dimension d can add to a row: at most max(0, q[d] * value) over its postings
                qd = float(q[d])
                if qd > 0:
                    v = float(vals.max() if vmax is None else vmax[d])
                else:
                    v = float(vals.min() if vmin is None else vmin[d])
                posts.append((d, rows, vals, max(0.0, qd * v)))
        if not posts:
            return None
        ups = [p[3] for p in posts]
        li = max(range(len(posts)), key=ups.__getitem__)
        order = list(range(len(posts)))
        if len(posts) == 2 and li == 0:  # two terms add up alike in either order: the best one last
            order.reverse()
        out = np.zeros(n, np.float32) if len(posts) > 1 else None
        got = None
        for i, j in enumerate(order):  # as weighted_sum: the same sums in the same order
            d, rows, vals, _ = posts[j]
            rows = rows.astype(np.intp)
            add = q[d] * vals
            last = i == len(order) - 1
            if i == 0:
                got = add
                if not last:
                    out[rows] = add
            else:
                got = out.take(rows)
                got += add
                if not (last and j == li):  # the best dimension's sums, when last, are read from ``got``
                    out[rows] = got
            if j == li:
                rows_l = rows
        sims = got if order[-1] == li else out.take(rows_l)
        # rounding: float32 products and sums stay within a few float32 ulps of the float64 bound
        floor = (sum(ups) - ups[li]) * (1 + 1e-5) + 1e-6
        smax = float(sims.max())
        cut = smax - slack
        if cut <= floor:
            return None
        keep = np.flatnonzero(sims >= cut)  # cut rounded to float32 (within 2^-24 of itself) for this
        return rows_l[keep], sims[keep], max(floor, cut + 2.4e-7 * abs(cut))

    def span_sum(self, q: np.ndarray, dims: list[int], a: int, b: int) -> np.ndarray:
        """``weighted_sum(q, dims, b)[a:b]`` (float32, value for value) from the postings of rows
        ``a..b-1`` alone. Every posting in RAM (``cold == 0``), else ``RuntimeError``."""
        if self.cold:
            raise RuntimeError("SparseKeyColumns.span_sum reads postings in RAM only")
        out = np.zeros(max(0, b - a), np.float32)
        first = True
        for d in dims:
            r = self._rows[d]
            if b <= a or not r:
                continue
            rows = np.frombuffer(r, np.int32)
            i0, i1 = _find2(rows, a, b)
            if i0 >= i1:  # (a row's first term is written, not added to 0.0: the same value)
                continue
            sel = rows[i0:i1].astype(np.intp) - a
            add = q[d] * np.frombuffer(self._vals[d], np.float32)[i0:i1]
            if first:
                out[sel] = add
                first = False
            else:
                got = out.take(sel)
                got += add
                out[sel] = got
        return out

    def groups(self, n: int, min_rows: int = 1 << 15) -> KeyGroups | None:
        """The distinct keys of rows ``0..g.n-1`` (``KeyGroups``), for some ``g.n <= n``: rebuilt
        when more than ``max(groups_tail, g.n // 8)`` rows came after it (the caller scores rows
        ``g.n..n-1`` itself). None below ``min_rows`` rows, with postings paged out (``cold``), or
        when the keys seldom repeat (more than half of them distinct: grouping would not pay; looked
        at again once the rows have doubled). A rebuild costs a few passes over every posting
        (~0.5 s at 1M rows)."""
        if n < min_rows or self.cold or n > self.n:
            return None
        g = self._groups
        if g is not None and g.n <= n and (n - g.n <= max(self.groups_tail, g.n // 8) if g.usable else n < 2 * g.n):
            return g if g.usable else None
        g = self._groups = KeyGroups.build(self, n)
        return g if g.usable else None

    def take(self, d: int, rows: np.ndarray) -> np.ndarray:
        """Dimension ``d`` of the keys at ``rows`` (float32; 0.0 where a key is zero there)."""
        rows = np.asarray(rows, np.int64)
        out = np.zeros(len(rows), np.float32)
        if not len(rows):
            return out
        lo, hi = int(rows.min()), int(rows.max()) + 1
        if not self._rows[d] and lo >= self.cold:
            return out
        pr, pv = self._postings(d, lo, hi)
        if not len(pr):
            return out
        # int32 rows searched in int32 (int64 ones would cast the whole posting list: a copy)
        i = pr.searchsorted(rows.astype(np.int32) if lo >= 0 and hi <= _I32_MAX else rows)
        i[i >= len(pr)] = 0
        hit = pr[i] == rows
        out[hit] = pv[i[hit]]
        return out


class KeyGroups:
    """The rows of a ``SparseKeyColumns`` grouped by distinct key (bit for bit), with one posting
    list per dimension over the distinct keys: a stream that repeats its scenes holds the same key
    in many chunks, and a query's similarities are then computed once per distinct key
    (``sims``) and expanded to the rows holding them (``rows_of``), value for value the rows'.

    Built from the postings of rows ``0..n-1`` (``build``): a 64-bit hash of each row's non-zero
    (dimension, value bits), rows of equal hash grouped, and every row checked against its group's
    first row (the same non-zeros, equal bits); a collision (never met) leaves it unusable, and
    recall then reads the row postings. RAM: 4 bytes a row, 8 per distinct key, and the distinct
    keys' postings (8 bytes per non-zero). A recall-time cache: never saved, rebuilt after a load.
    """

    __slots__ = ("n", "nk", "usable", "order", "starts", "_krows", "_kvals")
    max_share = 0.5  # grouping is kept only when at most this share of the rows' keys is distinct

    def __init__(self, n: int) -> None:
        self.n, self.nk, self.usable = int(n), 0, False
        self.order = np.zeros(0, np.int32)  # rows, grouped by key (ascending within a key)
        self.starts = np.zeros(1, np.int64)  # key i's rows: order[starts[i]:starts[i + 1]]
        self._krows: list[np.ndarray] = []  # per dimension: the key ids with a non-zero there, ascending
        self._kvals: list[np.ndarray] = []  # and those values (float32)

    @property
    def nbytes(self) -> int:
        return (self.order.nbytes + self.starts.nbytes + sum(a.nbytes for a in self._krows)
                + sum(a.nbytes for a in self._kvals))

    @classmethod
    def build(cls, keys: SparseKeyColumns, n: int) -> KeyGroups:
        g = cls(n)
        posts = []
        h = np.zeros(n, np.uint64)
        cnt = np.zeros(n, np.int32)
        with np.errstate(over="ignore"):
            for d in range(keys.dim):
                rows = np.frombuffer(keys._rows[d], np.int32)
                vals = np.frombuffer(keys._vals[d], np.float32)
                if len(rows) and rows[-1] >= n:
                    i = _find(rows, n)
                    rows, vals = rows[:i], vals[:i]
                posts.append((rows, vals))
                if not len(rows):
                    continue
                ri = rows.astype(np.intp)
                h[ri] += _entry_hash(d, vals)  # rows are distinct within a dimension
                cnt[ri] += 1
        # key id = rank of the row's hash among the distinct hashes; the rows sorted by hash (stable:
        # ascending within a key) are ``order``. One sort, sorted hashes read a slice at a time, int32
        # columns, freed as soon as read: ``np.unique(h, return_inverse=True)`` and a second sort peaked
        # at ~52 MB traced at 1M rows (now ~21 MB: the hashes, the counts, the sort's int64 order).
        srt = np.argsort(h, kind="stable")
        new = np.empty(n, bool)  # a row that starts a key in hash order (read a slice at a time)
        prev = None
        for a in range(0, n, _SLICE):
            hs = h[srt[a: a + _SLICE]]
            new[a] = prev is None or hs[0] != prev
            np.not_equal(hs[1:], hs[:-1], out=new[a + 1: a + len(hs)])
            prev = hs[-1]
        del h
        nk = int(np.count_nonzero(new))
        if nk > cls.max_share * n:  # keys seldom repeat: not worth it
            return g
        order = srt.astype(np.int32)
        del srt
        starts = np.empty(nk + 1, np.int64)
        starts[:-1] = np.flatnonzero(new)
        starts[-1] = n
        kid = np.empty(n, np.int32)
        kid[order] = np.cumsum(new, dtype=np.int32) - 1
        del new
        first = order[starts[:-1]]  # each key's first row
        rep = first[kid]  # each row's group's first row
        if not np.array_equal(cnt, cnt[rep]):
            return g  # a hash collision: unusable
        is_first = np.zeros(n, bool)
        is_first[first] = True
        krows, kvals = [], []
        for rows, vals in posts:  # every non-zero of a row equals one of its group's first row's
            if len(rows):
                r = rep[rows]
                i = np.minimum(np.searchsorted(rows, r), len(rows) - 1)
                if not (np.array_equal(rows[i], r) and np.array_equal(vals[i].view(np.uint32), vals.view(np.uint32))):
                    return g
                m = is_first[rows]
                kr, kv = kid[rows[m]], vals[m]
                s = np.argsort(kr, kind="stable")
                krows.append(kr[s].astype(np.intp))
                kvals.append(np.ascontiguousarray(kv[s]))
            else:
                krows.append(np.zeros(0, np.intp))
                kvals.append(np.zeros(0, np.float32))
        g.nk, g.order, g.starts, g._krows, g._kvals, g.usable = nk, order, starts, krows, kvals, True
        return g

    def sims(self, q: np.ndarray, dims: list[int]) -> np.ndarray:
        """Each distinct key's similarity with ``q`` (float32, summed in the order of ``dims`` as
        ``SparseKeyColumns.weighted_sum`` sums a row's: the same value as each of its rows)."""
        out = np.zeros(self.nk, np.float32)
        first = True
        for d in dims:
            kr = self._krows[d]
            if not len(kr):
                continue
            if first:
                out[kr] = q[d] * self._kvals[d]
                first = False
            else:
                got = out.take(kr)
                got += q[d] * self._kvals[d]
                out[kr] = got
        return out

    def rows_of(self, kids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rows of each of ``kids`` (ascending within a key), concatenated, and how many each has."""
        a, b = self.starts[kids], self.starts[np.asarray(kids) + 1]
        lens = b - a
        if len(kids) == 1:
            return self.order[int(a[0]): int(b[0])].astype(np.intp), lens
        idx = np.repeat(a - np.concatenate(([0], np.cumsum(lens)[:-1])), lens) + np.arange(int(lens.sum()))
        return self.order[idx].astype(np.intp), lens


class PostingBits:
    """``keys.bits``: the per-dimension bit sets of a ``SparseKeyColumns`` (uint64 words, bit ``r % 64``
    of word ``r // 64`` set when row ``r``'s key is non-zero in that dimension), built from the
    postings for each read ``bits[dims, :words]`` (``dims`` an integer array, then a slice of words)."""

    __slots__ = ("keys",)

    def __init__(self, keys: SparseKeyColumns) -> None:
        self.keys = keys

    @property
    def shape(self) -> tuple[int, int]:
        return (self.keys.dim, (self.keys.capacity + 63) // 64)

    def __getitem__(self, idx: Any) -> np.ndarray:
        if not (isinstance(idx, tuple) and len(idx) == 2 and isinstance(idx[1], slice)):
            raise IndexError("PostingBits reads bits[dims, :words] only")
        dims = np.atleast_1d(np.asarray(idx[0], np.int64))
        w0, w1, step = idx[1].indices(self.shape[1])
        if step != 1:
            raise IndexError("PostingBits reads contiguous words only")
        out = np.zeros((len(dims), max(0, w1 - w0)), np.uint64)
        for i, d in enumerate(dims.tolist()):
            rows, _ = self.keys._postings(d, 64 * w0, 64 * w1)
            if len(rows):
                rows = rows.astype(np.int64)
                words = (rows >> 6) - w0
                bit = np.left_shift(np.uint64(1), (rows & 63).astype(np.uint64))
                starts = np.flatnonzero(np.r_[True, words[1:] != words[:-1]])
                out[i, words[starts]] = np.bitwise_or.reduceat(bit, starts)
        return out


class _Dimension:
    """``keys[d]``: one dimension, for ``.take(rows)``."""

    __slots__ = ("keys", "d")
    keys: Any

    def __init__(self, keys: SparseKeyColumns | DenseKeyColumns, d: int) -> None:
        self.keys, self.d = keys, d

    def take(self, rows: np.ndarray) -> np.ndarray:
        return self.keys.take(self.d, rows)


class DenseKeyColumns:
    """A dense ``(dim, capacity)`` float32 key matrix (a learned encoder's keys) whose old rows live in
    the long-term table ``lt_dkeys`` under a RAM budget: rows ``0..cold-1`` in blocks of up to
    ``BLOCK`` rows (one table row each: the block's ``(dim, rows)`` values, C order, machine byte
    order), the rest in RAM. Reads answer as the dense matrix would, value for value:

    - ``keys[:, a:b]``: the dense block of rows ``a..b-1`` (cold blocks read back: for a scan of many
      rows use ``blocks``, which holds one block at a time);
    - ``keys[d, a:b]`` and ``keys[d].take(rows)``: one dimension;
    - ``keys[:, n] = key``: append the next row; ``page_out(upto)`` moves rows below ``upto`` out.
    """

    __slots__ = ("dim", "capacity", "n", "cold", "pages", "_hot", "_blocks", "space")

    BLOCK = 1024

    def __init__(self, dim: int, capacity: int = 64, pages: Pages | None = None) -> None:
        self.dim = int(dim)
        self.capacity = int(capacity)
        self.n = 0
        self.cold = 0
        self.pages = pages
        self._hot = np.zeros((self.dim, 64), np.float32)  # rows cold..n-1
        self._blocks = array("q")  # first row of each cold block
        self.space: int | None = None  # as SparseKeyColumns.space

    @property
    def shape(self) -> tuple[int, int]:
        return (self.dim, self.capacity)

    @property
    def nbytes(self) -> int:
        return self._hot.nbytes + 8 * len(self._blocks)

    def __getstate__(self) -> dict[str, Any]:
        return {"dim": self.dim, "capacity": self.capacity, "n": self.n, "cold": self.cold, "pages": self.pages,
                "hot": np.ascontiguousarray(self._hot[:, : self.n - self.cold]), "blocks": self._blocks,
                "space": self.space}

    def __setstate__(self, st: dict[str, Any]) -> None:
        self.dim, self.capacity, self.n, self.cold = st["dim"], st["capacity"], st["n"], st["cold"]
        self.pages, self._blocks, self.space = st["pages"], st["blocks"], st.get("space")
        m = self.n - self.cold
        self._hot = np.zeros((self.dim, max(64, m)), np.float32)
        self._hot[:, :m] = st["hot"]

    def __setitem__(self, idx: Any, key: np.ndarray) -> None:
        if not (isinstance(idx, tuple) and len(idx) == 2 and idx[0] == slice(None) and idx[1] == self.n):
            raise IndexError("DenseKeyColumns only appends the next row: keys[:, n] = key")
        i = self.n - self.cold
        if i >= self._hot.shape[1]:
            hot = np.zeros((self.dim, 2 * self._hot.shape[1]), np.float32)
            hot[:, :i] = self._hot[:, :i]
            self._hot = hot
        self._hot[:, i] = key
        self.n += 1
        self.capacity = max(self.capacity, self.n)

    def page_out(self, upto: int) -> None:
        """Move rows ``cold..upto-1`` to ``lt_dkeys``. Needs ``pages``."""
        upto = min(int(upto), self.n)
        if upto <= self.cold:
            return
        pg = self.pages
        if pg is None:
            raise RuntimeError("DenseKeyColumns.page_out needs long-term pages")
        c = self.cold
        starts = list(range(c, upto, self.BLOCK))
        pg.store.insert_many("INSERT INTO lt_dkeys (space, r0, v) VALUES (?, ?, ?)",
                             [(_space(self), r0, np.ascontiguousarray(self._hot[:, r0 - c: min(r0 + self.BLOCK, upto) - c])
                               .tobytes()) for r0 in starts])
        m = self.n - upto
        hot = np.zeros((self.dim, max(64, m + m // 2)), np.float32)
        hot[:, :m] = self._hot[:, upto - c: self.n - c]
        self._hot = hot
        self._blocks.extend(starts)
        self.cold = upto

    def blocks(self, a: int, b: int) -> Any:
        """Yield ``(r0, matrix)``: consecutive dense ``(dim, rows)`` pieces covering rows ``a..b-1``, cold
        blocks read back one at a time, then the rows in RAM."""
        b = min(b, self.n)
        if a < self.cold:
            pg = self.pages
            assert pg is not None
            i = max(0, bisect_right(self._blocks, a) - 1)
            while i < len(self._blocks) and self._blocks[i] < min(b, self.cold):
                r0 = self._blocks[i]
                r1 = self._blocks[i + 1] if i + 1 < len(self._blocks) else self.cold
                v = pg.store.execute("SELECT v FROM lt_dkeys WHERE space=? AND r0=?", (_space(self), r0)).fetchone()[0]
                blk = np.frombuffer(v, np.float32).reshape(self.dim, r1 - r0)
                lo, hi = max(a, r0), min(b, r1)
                yield lo, blk[:, lo - r0: hi - r0]
                i += 1
        lo = max(a, self.cold)
        if lo < b:
            yield lo, self._hot[:, lo - self.cold: b - self.cold]

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, tuple) and len(idx) == 2 and isinstance(idx[1], slice):
            lo, hi, step = idx[1].indices(self.capacity)
            if step != 1:
                raise IndexError("DenseKeyColumns reads contiguous rows only")
            if lo >= self.cold and hi <= self.n:  # rows in RAM: a view, as the dense matrix gives
                return self._hot[idx[0], lo - self.cold: hi - self.cold]
            # a slice of a wider buffer, as the dense matrix's slices are (einsum sums a contiguous
            # single column in another order than a strided one: the last bit could differ)
            out = np.zeros((self.dim, max(0, hi - lo) + 1), np.float32)[:, : max(0, hi - lo)]
            for r0, m in self.blocks(lo, min(hi, self.n)):
                out[:, r0 - lo: r0 - lo + m.shape[1]] = m
            return out if idx[0] == slice(None) else out[idx[0]]
        if isinstance(idx, tuple):
            raise IndexError(f"unsupported key index {idx!r}")
        return _Dimension(self, int(idx))

    def take(self, d: int, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, np.int64)
        if not len(rows):
            return np.zeros(0, np.float32)
        lo = int(rows.min())
        return self[d, lo: int(rows.max()) + 1][rows - lo]


def _find(rows: np.ndarray, x: int) -> int:
    """``int(np.searchsorted(rows, x))`` for ascending int32 ``rows``. A Python int bound would cast
    the whole posting list to int64 first (a copy: ~40-50 us per 100k entries, most of a sparse
    recall's time at 1M chunks); an int32 one is searched in place (~1-2 us)."""
    if x > _I32_MAX:
        return len(rows)
    if x < -_I32_MAX - 1:
        return 0
    return int(rows.searchsorted(np.int32(x)))


def _find2(rows: np.ndarray, a: int, b: int) -> tuple[int, int]:
    """``(_find(rows, a), _find(rows, b))`` in one search (``a <= b``, both within int32)."""
    if b > _I32_MAX or a < -_I32_MAX - 1:
        return _find(rows, a), _find(rows, b)
    i0, i1 = rows.searchsorted(np.array((a, b), np.int32)).tolist()
    return i0, i1


def _entry_hash(d: int, vals: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each (dimension ``d``, float32 value bits) pair (uint64; a key's hash is the
    sum over its non-zeros, in any order)."""
    with np.errstate(over="ignore"):
        x = (vals.view(np.uint32).astype(np.uint64) << np.uint64(8)) ^ np.uint64(d * 0x100000001B3 + 1)
        x *= np.uint64(0x9E3779B97F4A7C15)
        x ^= x >> np.uint64(29)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(32)
    return x


def _space(keys: SparseKeyColumns | DenseKeyColumns) -> int:
    """The long-term table space of ``keys``' rows."""
    if keys.space is not None:
        return keys.space
    assert keys.pages is not None
    return keys.pages.space
