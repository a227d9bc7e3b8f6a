"""Episodic memory's per-chunk columns, with old rows paged out to the long-term table ``lt_ccols``.

One row per closed chunk (row = creation order): ``t0``, ``t1`` (its first and last item's time),
``ep`` and ``place`` (codes into episodic memory's name table, -1: no place), ``end`` (where its
items end in the numbering of every item), and the three values recall changes: ``strength`` (S),
``last`` (last access: Δt restarts there) and ``utility`` (U). 56 bytes a row.

Under a RAM budget the times, codes and item ends (32 bytes a row) of rows ``0..cold-1`` live on
disk (``page_out``), in blocks of at most ``BLOCK`` rows, one ``lt_ccols`` row each (the columns'
values packed, machine byte order, exactly as in RAM), read back through a small LRU of blocks:
recall reads them only for the chunks it returns. Strength, last access and utility (24 bytes a
row) stay in RAM until ``page_out_mut`` (episodic memory's ``fit``, for rows whose items are paged
out) moves them, in blocks of ``BLOCK`` rows, to ``lt_cmut``; recall reads a cold block back when it
scores a candidate chunk there (LRU of ``_MCACHED`` blocks), and a change to a cold row (recall's
strengthening, ``reinforce``) is made in the cached block, which is written as a new table row, a
new version, when it leaves the cache (a table row is never updated, so a crash between a snapshot
and the journal's replay cannot apply a change twice: the snapshot names its versions and keeps
the changed blocks it holds; versions no snapshot names are deleted when superseded). Reads return
exactly what an unpaged column holds.

``view(name)`` is a column as episodic memory's code reads it: ``len(col)``, ``col[row]``,
``col[rows]`` (an integer array: a float64 / int64 array), ``col[row] = value`` (only the three
mutable columns). Not thread-safe (the ``Memory`` lock serialises calls).
"""

from __future__ import annotations

import bisect
from array import array
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .longterm import Pages

__all__ = ["ChunkColumns", "ColumnView", "ItemTexts", "NameTable", "COLUMNS", "MUTABLE", "PAGED", "BLOCK"]

COLUMNS = (("t0", "d"), ("t1", "d"), ("ep", "i"), ("place", "i"), ("end", "q"),
           ("strength", "d"), ("last", "d"), ("utility", "d"))
MUTABLE = ("strength", "last", "utility")
PAGED = ("t0", "t1", "ep", "place", "end")
BLOCK = 1024  # rows per lt_ccols row (at most)
_CACHED = 8  # decoded cold blocks kept (LRU; up to 32 KiB each)
_MCACHED = 8  # cold blocks of the mutable columns kept (LRU; 24 KiB each)
_DTYPES = {name: np.dtype(code) for name, code in COLUMNS}
_ROW_BYTES = sum(_DTYPES[name].itemsize for name in PAGED)
_WORD_BYTES = 49 + 8 + 100  # a vocabulary word beside its characters: the string, its list slot, its dict entry
_NAME_BYTES = 260  # a name in RAM: the string (~60), its ordered-dict entry (~100), its index entry (~100)
_VOCAB_MIN = 4096  # words a vocabulary may hold before a drop compacts it
_SCALAR = {"t0": float, "t1": float, "ep": int, "place": int, "end": int}  # read as Python numbers


class ChunkColumns:
    """The per-chunk columns of episodic memory (see the module docstring)."""

    def __init__(self, pages: Pages | None = None) -> None:
        self.n = 0  # rows
        self.cold = 0  # rows below this have their PAGED columns in lt_ccols
        self.pages = pages
        self._hot = {name: np.zeros(64, _DTYPES[name]) for name in PAGED}  # rows cold..n-1
        self._mut = {name: np.zeros(64, _DTYPES[name]) for name in MUTABLE}  # rows mcold..n-1
        self._blocks = array("q")  # first row of each cold block, ascending
        self._cache: OrderedDict[int, dict[str, np.ndarray]] = OrderedDict()  # block index -> columns
        # the MUTABLE columns of rows 0..mcold-1 (a multiple of BLOCK) live in lt_cmut, one table row
        # per version of a block of BLOCK rows: ``_mrow[b]`` is the rowid of block b's latest version
        self.mcold = 0
        self._mrow = array("q")
        self._mcache: OrderedDict[int, list] = OrderedDict()  # block -> [(3, BLOCK) float64, dirty]
        self._snap_mark = 0  # the largest rowid _mrow held when a snapshot last took this state

    # ------------------------------------------------------------------ state
    def __getstate__(self) -> dict[str, Any]:
        m, k = self.n - self.cold, self.n - self.mcold
        # versions written from now on are named by no snapshot so far: superseded, they are deleted
        self._snap_mark = max(self._mrow, default=0)
        return {"n": self.n, "cold": self.cold, "pages": self.pages, "blocks": self._blocks,
                "hot": {name: array(_DTYPES[name].char, self._hot[name][:m].tobytes()) for name in PAGED},
                "mut": {name: array("d", self._mut[name][:k].tobytes()) for name in MUTABLE},
                "mcold": self.mcold, "mrow": self._mrow,
                "dirty": [(b, got[0].tobytes()) for b, got in self._mcache.items() if got[1]]}

    def __setstate__(self, st: dict[str, Any]) -> None:
        self.n, self.cold, self.pages, self._blocks = st["n"], st["cold"], st["pages"], st["blocks"]
        self.mcold, self._mrow = st["mcold"], st["mrow"]
        m, k = self.n - self.cold, self.n - self.mcold
        self._hot, self._mut = {}, {}
        for name in PAGED:
            a = self._hot[name] = np.zeros(max(64, m), _DTYPES[name])
            a[:m] = np.frombuffer(st["hot"][name], _DTYPES[name], m)
        for name in MUTABLE:
            a = self._mut[name] = np.zeros(max(64, k), np.float64)
            a[:k] = np.frombuffer(st["mut"][name], np.float64, k)
        self._cache = OrderedDict()
        self._mcache = OrderedDict()
        for b, v in st["dirty"]:
            if not 0 <= b < len(self._mrow) or len(v) != 3 * 8 * BLOCK:
                raise ValueError("episodic chunk columns: a changed block does not fit the columns")
            self._mcache[b] = [np.frombuffer(v, np.float64).reshape(3, BLOCK).copy(), True]
        self._snap_mark = max(self._mrow, default=0)

    @property
    def nbytes(self) -> int:
        """Bytes this object holds in RAM (the columns' allocation, cached blocks)."""
        cached = sum(a.nbytes for got in self._cache.values() for a in got.values())
        return (sum(a.nbytes for a in self._hot.values()) + sum(a.nbytes for a in self._mut.values())
                + cached + 8 * len(self._blocks) + 8 * len(self._mrow) + 3 * 8 * BLOCK * len(self._mcache))

    @property
    def mut_nbytes(self) -> int:
        """Bytes the in-RAM strength, last access and utility columns hold (their allocation)."""
        return sum(a.nbytes for a in self._mut.values())

    # ------------------------------------------------------------------ writes
    def append(self, t0: float, t1: float, ep: int, place: int, end: int,
               strength: float, last: float, utility: float) -> None:
        i = self.n - self.cold
        if i >= len(self._hot["t0"]):
            for name, a in self._hot.items():
                self._hot[name] = _grown(a, i)
        r = self.n - self.mcold
        if r >= len(self._mut["last"]):
            for name, a in self._mut.items():
                self._mut[name] = _grown(a, r)
        h, u = self._hot, self._mut
        h["t0"][i], h["t1"][i], h["ep"][i], h["place"][i], h["end"][i] = t0, t1, ep, place, end
        u["strength"][r], u["last"][r], u["utility"][r] = strength, last, utility
        self.n += 1

    def set(self, name: str, row: int, value: float) -> None:
        if name not in MUTABLE:
            raise KeyError(f"column {name!r} is written once")
        if not 0 <= row < self.n:
            raise IndexError(row)
        if row >= self.mcold:
            self._mut[name][row - self.mcold] = value
            return
        got = self._mblock(row // BLOCK)
        got[0][MUTABLE.index(name), row % BLOCK] = value
        got[1] = True

    def bump(self, rows: list[int], inc: float, t: float) -> tuple[np.ndarray, np.ndarray] | None:
        """``strength[r] += inc`` and ``last[r] = max(last[r], t)`` for each of ``rows`` (distinct, each
        in ``mcold..n-1``: their values in RAM) as array operations, the same values as ``set`` row by
        row; their new (last access, strength). None, changing nothing, when a row is repeated, cold
        or out of range (the caller then goes row by row)."""
        c = self.mcold
        if not rows or min(rows) < c or max(rows) >= self.n or len(set(rows)) != len(rows):
            return None
        i = np.array(rows, np.intp) - c
        st, la = self._mut["strength"], self._mut["last"]
        s = st[i] + inc
        st[i] = s
        v = la[i]
        v = np.where(t > v, t, v)  # max(value, t) as Python's max picks (t only when above the value)
        la[i] = v
        return v, s

    def page_out_mut(self, upto: int) -> None:
        """Move the strength, last access and utility of rows ``mcold..upto-1`` (``upto`` rounded down
        to whole blocks of ``BLOCK`` rows) to ``lt_cmut``, one table row per block; a block read back
        and changed is written again as a new row (the one it supersedes is deleted unless the
        latest snapshot names it)."""
        upto = min(int(upto), self.n) // BLOCK * BLOCK
        if upto <= self.mcold:
            return
        pg = self.pages
        if pg is None:
            raise RuntimeError("ChunkColumns.page_out_mut needs long-term pages")
        u, c = self._mut, self.mcold
        rows = [(pg.space, b0 // BLOCK, b"".join(u[name][b0 - c: b0 - c + BLOCK].tobytes() for name in MUTABLE))
                for b0 in range(c, upto, BLOCK)]
        self._mrow.extend(pg.store.insert_each("INSERT INTO lt_cmut (space, b, v) VALUES (?, ?, ?)", rows))
        k, m = upto - c, self.n - upto
        for name, a in u.items():
            b = np.zeros(max(64, m + m // 2), a.dtype)
            b[:m] = a[k: k + m]
            u[name] = b
        self.mcold = upto

    def _mblock(self, b: int) -> list:
        """[the (3, BLOCK) strength / last / utility values, dirty] of cold block ``b`` (read back
        through a small LRU; a changed block evicted is written as a new version)."""
        got = self._mcache.get(b)
        if got is not None:
            self._mcache.move_to_end(b)
            return got
        pg = self.pages
        assert pg is not None
        row = pg.store.execute("SELECT v FROM lt_cmut WHERE rowid=?", (self._mrow[b],)).fetchone()
        if row is None or not isinstance(row[0], bytes) or len(row[0]) != 3 * 8 * BLOCK:
            raise RuntimeError(f"episodic chunk block {b} is missing from lt_cmut or damaged")
        got = self._mcache[b] = [np.frombuffer(row[0], np.float64).reshape(3, BLOCK).copy(), False]
        while len(self._mcache) > _MCACHED:
            old, (arr, dirty) = self._mcache.popitem(last=False)
            if dirty:
                self._store_block(old, arr)
        return got

    def _store_block(self, b: int, arr: np.ndarray) -> None:
        pg = self.pages
        assert pg is not None
        (rowid,) = pg.store.insert_each("INSERT INTO lt_cmut (space, b, v) VALUES (?, ?, ?)", [(pg.space, b, arr.tobytes())])
        old, self._mrow[b] = self._mrow[b], rowid
        if old > self._snap_mark:  # written since the latest snapshot took this state: no snapshot names it
            pg.store.execute("DELETE FROM lt_cmut WHERE rowid=?", (old,))

    def page_out(self, upto: int) -> None:
        """Move the times, codes and item ends of rows ``cold..upto-1`` to ``lt_ccols`` (blocks of at
        most ``BLOCK`` rows)."""
        upto = min(int(upto), self.n)
        if upto <= self.cold:
            return
        pg = self.pages
        if pg is None:
            raise RuntimeError("ChunkColumns.page_out needs long-term pages")
        k = upto - self.cold
        h = self._hot
        starts = list(range(self.cold, upto, BLOCK))
        rows = [(pg.space, r0, b"".join(h[name][r0 - self.cold: min(r0 + BLOCK, upto) - self.cold].tobytes()
                                        for name in PAGED)) for r0 in starts]
        pg.store.insert_many("INSERT INTO lt_ccols (space, r0, v) VALUES (?, ?, ?)", rows)
        m = self.n - upto
        for name, a in h.items():
            b = np.zeros(max(64, m + m // 2), a.dtype)
            b[:m] = a[k: k + m]
            h[name] = b
        self._blocks.extend(starts)
        self.cold = upto

    # ------------------------------------------------------------------ reads
    def hot(self, name: str) -> np.ndarray:
        """Column ``name`` for rows ``cold..n-1`` (a view: valid until the next write)."""
        return self._hot[name][: self.n - self.cold]

    def meta(self, row: int) -> tuple[float, float, int, int, int, int]:
        """(t0, t1, ep, place, start, end) of ``row`` (start, end: its items' span in the numbering of
        every item), in one call."""
        c = self.cold
        if c < row < self.n:  # this row and the one before in RAM: the common case, read directly
            h, i = self._hot, row - c
            e = h["end"]
            return float(h["t0"][i]), float(h["t1"][i]), int(h["ep"][i]), int(h["place"][i]), int(e[i - 1]), int(e[i])
        if not 0 <= row < self.n:
            raise IndexError(row)
        if row >= c:  # the first row in RAM: the one before is cold
            h, i = self._hot, row - c
            t0, t1, ep, place, end = h["t0"][i], h["t1"][i], h["ep"][i], h["place"][i], h["end"][i]
        else:
            b = bisect.bisect_right(self._blocks, row) - 1
            got, i = self._block(b), row - self._blocks[b]
            t0, t1, ep, place, end = got["t0"][i], got["t1"][i], got["ep"][i], got["place"][i], got["end"][i]
            if i:
                return float(t0), float(t1), int(ep), int(place), int(got["end"][i - 1]), int(end)
        start = self.get("end", row - 1) if row else 0
        return float(t0), float(t1), int(ep), int(place), start, int(end)

    def metas(self, rows: list[int]) -> list[tuple[float, float, int, int, int, int]]:
        """``meta(row)`` of each of ``rows`` (each below ``n``), read as one gather per column when every
        row and the one before it are in RAM (the rows recall returns, usually), else row by row."""
        c = self.cold
        if not rows or min(rows) <= c:
            return [self.meta(r) for r in rows]
        if max(rows) >= self.n:
            raise IndexError(max(rows))
        h = self._hot
        if len(rows) <= 16:  # a few (recall's top k): element by element costs less than six gathers
            t0, t1, ep, pl, e = h["t0"].item, h["t1"].item, h["ep"].item, h["place"].item, h["end"].item
            return [(t0(i), t1(i), ep(i), pl(i), e(i - 1), e(i)) for i in [r - c for r in rows]]
        i = np.array(rows, np.intp) - c
        e = h["end"]
        return list(zip(h["t0"][i].tolist(), h["t1"][i].tolist(), h["ep"][i].tolist(), h["place"][i].tolist(),
                        e[i - 1].tolist(), e[i].tolist()))

    def scores_of(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(last access, strength, utility) of ``rows`` (an integer array), as three ``gather`` calls
        would give them (float64), with one range check when every row's are in RAM."""
        rows = np.asarray(rows, np.intp)
        c = self.mcold
        if not len(rows) or int(rows.min()) >= c:
            i = rows - c if c else rows
            u = self._mut
            return u["last"][i], u["strength"][i], u["utility"][i]
        return self._cold_scores(rows)

    def _cold_scores(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``scores_of`` when some rows' scores are paged out: each cold block they fall in is taken once
        for all three columns (three ``gather`` calls took it three times, and more than ``_MCACHED``
        blocks read each again from SQLite), the blocks not cached read in one statement
        (``_mblocks``). The same values as ``gather``."""
        c = self.mcold
        out = np.empty((len(MUTABLE), len(rows)), np.float64)  # rows in MUTABLE order
        hot = rows >= c
        if hot.any():
            i = rows[hot] - c
            for j, name in enumerate(MUTABLE):
                out[j, hot] = self._mut[name][i]
        cold = np.flatnonzero(~hot)
        blk = rows[cold] // BLOCK
        order = np.argsort(blk, kind="stable")
        cold, blk = cold[order], blk[order]
        edges = np.flatnonzero(np.r_[True, blk[1:] != blk[:-1], True]).tolist()
        bs = blk[edges[:-1]].tolist()
        got = self._mblocks(bs)
        for a, e, b in zip(edges[:-1], edges[1:], bs):
            sel = cold[a:e]
            out[:, sel] = got[b][:, rows[sel] % BLOCK]
        return out[1], out[0], out[2]

    def _mblocks(self, bs: list[int]) -> dict[int, np.ndarray]:
        """The (3, BLOCK) strength / last / utility values of cold blocks ``bs`` (distinct): cached ones
        from the LRU, the others read in one statement per 500 and put in the LRU as ``_mblock`` does
        (the LRU keeps its last ``_MCACHED``; the arrays returned stay valid for reading)."""
        out: dict[int, np.ndarray] = {}
        miss = []
        for b in bs:
            got = self._mcache.get(b)
            if got is None:
                miss.append(b)
            else:
                self._mcache.move_to_end(b)
                out[b] = got[0]
        if not miss:
            return out
        pg = self.pages
        assert pg is not None
        for s in range(0, len(miss), 500):
            part = miss[s:s + 500]
            ids = {self._mrow[b]: b for b in part}
            rows = pg.store.execute(f"SELECT rowid, v FROM lt_cmut WHERE rowid IN ({','.join('?' * len(ids))})",
                                    tuple(ids)).fetchall()
            for rowid, v in rows:
                b = ids.pop(rowid)
                if not isinstance(v, bytes) or len(v) != 3 * 8 * BLOCK:
                    raise RuntimeError(f"episodic chunk block {b} is damaged in lt_cmut")
                out[b] = np.frombuffer(v, np.float64).reshape(3, BLOCK).copy()
            if ids:
                raise RuntimeError(f"episodic chunk block {next(iter(ids.values()))} is missing from lt_cmut")
        for b in miss:  # into the LRU, as _mblock puts a block it reads (a changed block evicted is written)
            self._mcache[b] = [out[b], False]
            while len(self._mcache) > _MCACHED:
                old, (arr, dirty) = self._mcache.popitem(last=False)
                if dirty:
                    self._store_block(old, arr)
        return out

    def get(self, name: str, row: int) -> Any:
        if row < 0:
            row += self.n
        if not 0 <= row < self.n:
            raise IndexError(row)
        mut = self._mut.get(name)
        if mut is not None:
            if row >= self.mcold:
                return mut[row - self.mcold]
            return self._mblock(row // BLOCK)[0][MUTABLE.index(name), row % BLOCK]
        if row >= self.cold:
            v = self._hot[name][row - self.cold]
        else:
            b = bisect.bisect_right(self._blocks, row) - 1
            v = self._block(b)[name][row - self._blocks[b]]
        return _SCALAR[name](v)

    def gather(self, name: str, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, np.int64)
        mut = self._mut.get(name)
        if mut is not None:
            c = self.mcold
            if not len(rows) or int(rows.min()) >= c:
                return mut[rows - c]
            out = np.empty(len(rows), np.float64)
            hot = rows >= c
            out[hot] = mut[rows[hot] - c]
            cold = np.flatnonzero(~hot)
            blk = rows[cold] // BLOCK
            order = np.argsort(blk, kind="stable")
            cold, blk = cold[order], blk[order]
            edges = np.flatnonzero(np.r_[True, blk[1:] != blk[:-1], True])
            j = MUTABLE.index(name)
            for a, e in zip(edges[:-1].tolist(), edges[1:].tolist()):
                sel = cold[a:e]
                out[sel] = self._mblock(int(blk[a]))[0][j, rows[sel] % BLOCK]
            return out
        if not len(rows) or int(rows.min()) >= self.cold:
            return self._hot[name][rows - self.cold]
        out = np.empty(len(rows), _DTYPES[name])
        hot = rows >= self.cold
        out[hot] = self._hot[name][rows[hot] - self.cold]
        cold = np.flatnonzero(~hot)
        starts = np.frombuffer(self._blocks, np.int64)
        blk = np.searchsorted(starts, rows[cold], side="right") - 1
        order = np.argsort(blk, kind="stable")
        cold, blk = cold[order], blk[order]
        edges = np.flatnonzero(np.r_[True, blk[1:] != blk[:-1], True])
        for a, b in zip(edges[:-1].tolist(), edges[1:].tolist()):
            i = int(blk[a])
            out[cold[a:b]] = self._block(i)[name][rows[cold[a:b]] - starts[i]]
        return out

    def _block(self, b: int) -> dict[str, np.ndarray]:
        got = self._cache.get(b)
        if got is not None:
            self._cache.move_to_end(b)
            return got
        pg = self.pages
        assert pg is not None
        r0 = self._blocks[b]
        v = pg.store.execute("SELECT v FROM lt_ccols WHERE space=? AND r0=?", (pg.space, r0)).fetchone()[0]
        m = len(v) // _ROW_BYTES
        got, at = {}, 0
        for name in PAGED:
            got[name] = np.frombuffer(v, _DTYPES[name], m, at)
            at += m * _DTYPES[name].itemsize
        self._cache[b] = got
        if len(self._cache) > _CACHED:
            self._cache.popitem(last=False)
        return got

    def view(self, name: str) -> ColumnView:
        return ColumnView(self, name)


def _grown(a: np.ndarray, used: int) -> np.ndarray:
    b = np.zeros(max(64, used + used // 2), a.dtype)
    b[:used] = a[:used]
    return b


class ColumnView:
    """One column of a ``ChunkColumns``, indexed like an array (see the module docstring)."""

    __slots__ = ("cols", "name")

    def __init__(self, cols: ChunkColumns, name: str) -> None:
        self.cols, self.name = cols, name

    def __len__(self) -> int:
        return self.cols.n

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, (int, np.integer)):
            return self.cols.get(self.name, int(idx))
        return self.cols.gather(self.name, idx)

    def __setitem__(self, idx: Any, value: float) -> None:
        self.cols.set(self.name, int(idx), value)


class ItemTexts:
    """Item texts held as word codes: each text split at every ``" "`` into words, each word a code
    (uint16 while the vocabulary has fewer than 65,536 words, then uint32) into one vocabulary, so a
    text costs 2 (4) bytes a word instead of a string object
    (~50 bytes plus one per character: scene texts rarely repeat whole, their words do). Texts
    come back exactly (``" ".join`` of the split words). Items are appended at the end and dropped
    from the front (``drop``: when their chunks page out). The vocabulary keeps the distinct words
    (labels, region names, event words) of the items held: the words only dropped items used are
    forgotten once they are over half of it (their items' texts are in ``lt_chunks`` whole), so
    under a RAM budget it stays bounded by the items held, not by the memory's life."""

    __slots__ = ("vocab", "_ix", "words", "ends", "base", "vocab_bytes", "live")

    def __init__(self) -> None:
        self.vocab: list[str] = []
        self._ix: dict[str, int] = {}
        self.words = array("H")  # the codes of the items' words, item after item
        self.ends = array("q")  # where each item's words end (absolute: counting dropped words)
        self.base = 0  # absolute position of words[0] (the words of dropped items)
        self.vocab_bytes = 0
        self.live = 0  # words in use at the last ``compact`` (the vocabulary is compacted past twice that)

    def __getstate__(self) -> dict[str, Any]:
        return {"vocab": self.vocab, "words": self.words, "ends": self.ends, "base": self.base,
                "vocab_bytes": self.vocab_bytes, "live": self.live}

    def __setstate__(self, st: dict[str, Any]) -> None:
        self.vocab, self.words, self.ends, self.base = st["vocab"], st["words"], st["ends"], st["base"]
        self.vocab_bytes, self.live = st["vocab_bytes"], st.get("live", 0)
        self._ix = dict(zip(self.vocab, range(len(self.vocab))))  # C-level: a reopen builds it once

    def __len__(self) -> int:
        return len(self.ends)

    @property
    def nbytes(self) -> int:
        """Bytes held: codes, ends (with ~1/16 over-allocation) and the vocabulary with its index."""
        return (self.words.itemsize * len(self.words) + 8 * len(self.ends)) * 17 // 16 + self.vocab_bytes

    def extend(self, texts: list[str]) -> None:
        ix, vocab, words, ends = self._ix, self.vocab, self.words, self.ends
        end = self.base + len(words)
        for text in texts:
            for w in text.split(" "):
                c = ix.get(w)
                if c is None:
                    c = ix[w] = len(vocab)
                    vocab.append(w)
                    self.vocab_bytes += len(w) + _WORD_BYTES
                    if c == 1 << 16 and words.typecode == "H":
                        words = self.words = array("I", words)
                words.append(c)
            end += text.count(" ") + 1
            ends.append(end)

    def get(self, a: int, b: int) -> list[str]:
        """Texts of items ``a..b-1`` (positions among the items held)."""
        if b <= a:
            return []
        ends, base = self.ends, self.base
        s0 = (ends[a - 1] if a else base) - base
        if b == a + 1:  # one item (the usual chunk of one percept's text): no split into items
            return [" ".join(map(self.vocab.__getitem__, self.words[s0: ends[a] - base]))]
        ws = list(map(self.vocab.__getitem__, self.words[s0: ends[b - 1] - base]))
        out, s = [], 0
        for j in range(a, b):
            e = ends[j] - base - s0
            out.append(" ".join(ws[s:e]))
            s = e
        return out

    def texts_of(self, idx: list[int]) -> list[str]:
        """The text of each item of ``idx`` (positions among the items held), as ``get(i, i + 1)[0]``."""
        ends, base, words, word = self.ends, self.base, self.words, self.vocab.__getitem__
        join = " ".join
        return [join(map(word, words[(ends[i - 1] if i else base) - base: ends[i] - base])) for i in idx]

    def drop(self, k: int) -> None:
        """Forget the first ``k`` items; once the vocabulary holds more than twice the words the items
        left use (and over ``_VOCAB_MIN``), forget the words no item left uses (``compact``)."""
        if k <= 0:
            return
        nb = self.ends[k - 1]
        del self.words[: nb - self.base], self.ends[:k]
        self.base = nb
        if len(self.vocab) > max(_VOCAB_MIN, 2 * self.live):
            self.compact()

    def compact(self) -> None:
        """Keep only the words the items held use (codes renumbered in order of first code; every
        text reads back exactly as before). O(words held + vocabulary)."""
        codes = np.frombuffer(self.words, np.uint16 if self.words.typecode == "H" else np.uint32)
        used = np.flatnonzero(np.bincount(codes, minlength=len(self.vocab))) if len(codes) else np.zeros(0, np.intp)
        remap = np.zeros(len(self.vocab), np.int64)
        remap[used] = np.arange(len(used))
        vocab = self.vocab
        self.vocab = [vocab[c] for c in used.tolist()]
        self._ix = {w: i for i, w in enumerate(self.vocab)}
        self.vocab_bytes = sum(map(len, self.vocab)) + _WORD_BYTES * len(self.vocab)
        self.words = array("H" if len(self.vocab) <= 1 << 16 else "I",
                           remap[codes].astype(np.uint16 if len(self.vocab) <= 1 << 16 else np.uint32).tobytes())
        self.live = len(self.vocab)


class NameTable:
    """Episodic memory's episode and place names, each a code (order of first use) the chunk columns
    hold. Without long-term pages every name stays in RAM. With them, ``page_out(keep)`` writes the
    names not yet written to ``lt_enames`` (one row per name, never updated) and keeps in RAM only
    the ``keep`` names used latest (LRU: a code read or a name coded counts as a use); a name not in
    RAM is read back from the table (by code for a chunk's meta, by name when a place is visited
    again: it keeps its code) and counts as used. So RAM holds the names used lately, not every
    place ever visited. Not thread-safe (the ``Memory`` lock serialises calls)."""

    __slots__ = ("n", "flushed", "pages", "paged", "_hot", "_ix")

    def __init__(self, pages: Pages | None = None) -> None:
        self.n = 0  # codes given
        self.flushed = 0  # codes below this are in lt_enames
        self.pages = pages
        self.paged = False  # some names are only in lt_enames
        self._hot: OrderedDict[int, str] = OrderedDict()  # code -> name, used longest ago first
        self._ix: dict[str, int] = {}  # name -> code of the names in RAM

    def __getstate__(self) -> dict[str, Any]:
        return {"n": self.n, "flushed": self.flushed, "pages": self.pages, "paged": self.paged,
                "hot": list(self._hot.items())}

    def __setstate__(self, st: dict[str, Any]) -> None:
        self.n, self.flushed, self.pages, self.paged = st["n"], st["flushed"], st["pages"], st["paged"]
        self._hot = OrderedDict(st["hot"])
        self._ix = dict(zip(self._hot.values(), self._hot.keys()))

    def __len__(self) -> int:
        return self.n

    @property
    def nbytes(self) -> int:
        """Bytes the names in RAM hold (each: its string, an ordered-dict entry, an index entry)."""
        return _NAME_BYTES * len(self._hot)

    def code(self, name: str) -> int:
        """The code of ``name``, a new one for a name never coded."""
        c = self._ix.get(name)
        if c is not None:
            self._hot.move_to_end(c)
            return c
        if self.paged:
            pg = self.pages
            assert pg is not None
            got = pg.store.execute("SELECT code FROM lt_enames WHERE space=? AND name=?", (pg.space, name)).fetchone()
            if got is not None:
                if type(got[0]) is not int or not 0 <= got[0] < self.flushed:
                    raise RuntimeError(f"episodic name {name!r} has a bad code in lt_enames (a damaged or crafted row)")
                c = got[0]
                self._hot[c], self._ix[name] = name, c
                return c
        c = self.n
        self.n += 1
        self._hot[c], self._ix[name] = name, c
        return c

    def __getitem__(self, code: int) -> str:
        name = self._hot.get(code)
        if name is not None:
            self._hot.move_to_end(code)
            return name
        if not 0 <= code < self.n:
            raise IndexError(code)
        pg = self.pages
        assert pg is not None and code < self.flushed
        got = pg.store.execute("SELECT name FROM lt_enames WHERE space=? AND code=?", (pg.space, int(code))).fetchone()
        if got is None or type(got[0]) is not str:
            raise RuntimeError(f"episodic name {code} is missing from lt_enames or not text (a damaged or crafted row)")
        name = self._hot[int(code)] = got[0]
        self._ix[name] = int(code)
        return name

    def page_out(self, keep: int) -> None:
        """Write the names not yet in ``lt_enames`` there, then keep only the ``keep`` used latest in
        RAM. Needs ``pages``."""
        pg = self.pages
        if pg is None:
            raise RuntimeError("NameTable.page_out needs long-term pages")
        if self.flushed < self.n:
            hot = self._hot
            pg.store.insert_many("INSERT INTO lt_enames (space, code, name) VALUES (?, ?, ?)",
                                 [(pg.space, c, hot[c]) for c in range(self.flushed, self.n)])
            self.flushed = self.n
        keep = max(0, int(keep))
        while len(self._hot) > keep:
            _, name = self._hot.popitem(last=False)
            del self._ix[name]
            self.paged = True
