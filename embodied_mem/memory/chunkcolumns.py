"""Episodic memory's per-chunk columns, with old rows paged out to the long-term table ``lt_ccols``.

One row per closed chunk (row = creation order): ``t0``, ``t1`` (its first and last item's time),
``ep`` and ``place`` (codes into episodic memory's name table, -1: no place), ``end`` (where its
items end in the numbering of every item), and the three values recall changes: ``strength`` (S),
``last`` (last access: Δt restarts there) and ``utility`` (U). 56 bytes a row.

Under a RAM budget the times, codes and item ends (32 bytes a row) of rows ``0..cold-1`` live on
disk (``page_out``), in blocks of at most ``BLOCK`` rows, one ``lt_ccols`` row each (the columns'
values packed, machine byte order, exactly as in RAM), read back through a small LRU of blocks:
recall reads them only for the chunks it returns. Strength, last access and utility (24 bytes a
row) stay in RAM for every row: recall scores every candidate chunk with them, and they change
(a table row is never updated, so a crash between a snapshot and the journal's replay cannot
apply a change twice). Reads return exactly what an unpaged column holds.

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

__all__ = ["ChunkColumns", "ColumnView", "ItemTexts", "COLUMNS", "MUTABLE", "PAGED", "BLOCK"]

COLUMNS = (("t0", "d"), ("t1", "d"), ("ep", "i"), ("place", "i"), ("end", "q"),
           ("strength", "d"), ("last", "d"), ("utility", "d"))
MUTABLE = ("strength", "last", "utility")
PAGED = ("t0", "t1", "ep", "place", "end")
BLOCK = 1024  # rows per lt_ccols row (at most)
_CACHED = 8  # decoded cold blocks kept (LRU; up to 32 KiB each)
_DTYPES = {name: np.dtype(code) for name, code in COLUMNS}
_ROW_BYTES = sum(_DTYPES[name].itemsize for name in PAGED)
_SCALAR = {"t0": float, "t1": float, "ep": int, "place": int, "end": int}  # read as Python numbers


class ChunkColumns:
    """The per-chunk columns of episodic memory (see the module docstring)."""

    def __init__(self, pages: Pages | None = None) -> None:
        self.n = 0  # rows
        self.cold = 0  # rows below this have their PAGED columns in lt_ccols
        self.pages = pages
        self._hot = {name: np.zeros(64, _DTYPES[name]) for name in PAGED}  # rows cold..n-1
        self._mut = {name: np.zeros(64, _DTYPES[name]) for name in MUTABLE}  # rows 0..n-1
        self._blocks = array("q")  # first row of each cold block, ascending
        self._cache: OrderedDict[int, dict[str, np.ndarray]] = OrderedDict()  # block index -> columns

    # ------------------------------------------------------------------ state
    def __getstate__(self) -> dict[str, Any]:
        m = self.n - self.cold
        return {"n": self.n, "cold": self.cold, "pages": self.pages, "blocks": self._blocks,
                "hot": {name: array(_DTYPES[name].char, self._hot[name][:m].tobytes()) for name in PAGED},
                "mut": {name: array("d", self._mut[name][: self.n].tobytes()) for name in MUTABLE}}

    def __setstate__(self, st: dict[str, Any]) -> None:
        self.n, self.cold, self.pages, self._blocks = st["n"], st["cold"], st["pages"], st["blocks"]
        m = self.n - self.cold
        self._hot, self._mut = {}, {}
        for name in PAGED:
            a = self._hot[name] = np.zeros(max(64, m), _DTYPES[name])
            a[:m] = np.frombuffer(st["hot"][name], _DTYPES[name], m)
        for name in MUTABLE:
            a = self._mut[name] = np.zeros(max(64, self.n), np.float64)
            a[: self.n] = np.frombuffer(st["mut"][name], np.float64, self.n)
        self._cache = OrderedDict()

    @property
    def nbytes(self) -> int:
        """Bytes this object holds in RAM (the columns' allocation, cached blocks)."""
        cached = sum(a.nbytes for got in self._cache.values() for a in got.values())
        return (sum(a.nbytes for a in self._hot.values()) + sum(a.nbytes for a in self._mut.values())
                + cached + 8 * len(self._blocks))

    # ------------------------------------------------------------------ writes
    def append(self, t0: float, t1: float, ep: int, place: int, end: int,
               strength: float, last: float, utility: float) -> None:
        i = self.n - self.cold
        if i >= len(self._hot["t0"]):
            for name, a in self._hot.items():
                self._hot[name] = _grown(a, i)
        if self.n >= len(self._mut["last"]):
            for name, a in self._mut.items():
                self._mut[name] = _grown(a, self.n)
        h, u, r = self._hot, self._mut, self.n
        h["t0"][i], h["t1"][i], h["ep"][i], h["place"][i], h["end"][i] = t0, t1, ep, place, end
        u["strength"][r], u["last"][r], u["utility"][r] = strength, last, utility
        self.n += 1

    def set(self, name: str, row: int, value: float) -> None:
        if name not in MUTABLE:
            raise KeyError(f"column {name!r} is written once")
        if not 0 <= row < self.n:
            raise IndexError(row)
        self._mut[name][row] = value

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

    def get(self, name: str, row: int) -> Any:
        if row < 0:
            row += self.n
        if not 0 <= row < self.n:
            raise IndexError(row)
        mut = self._mut.get(name)
        if mut is not None:
            return mut[row]
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
            return mut[rows]
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
    from the front (``drop``: when their chunks page out). The vocabulary keeps every distinct word
    (labels, region names, event words) for the memory's life."""

    __slots__ = ("vocab", "_ix", "words", "ends", "base", "vocab_bytes")

    def __init__(self) -> None:
        self.vocab: list[str] = []
        self._ix: dict[str, int] = {}
        self.words = array("H")  # the codes of the items' words, item after item
        self.ends = array("q")  # where each item's words end (absolute: counting dropped words)
        self.base = 0  # absolute position of words[0] (the words of dropped items)
        self.vocab_bytes = 0

    def __getstate__(self) -> dict[str, Any]:
        return {"vocab": self.vocab, "words": self.words, "ends": self.ends, "base": self.base,
                "vocab_bytes": self.vocab_bytes}

    def __setstate__(self, st: dict[str, Any]) -> None:
        self.vocab, self.words, self.ends, self.base = st["vocab"], st["words"], st["ends"], st["base"]
        self.vocab_bytes = st["vocab_bytes"]
        self._ix = {w: i for i, w in enumerate(self.vocab)}

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
                    self.vocab_bytes += len(w) + 49 + 8 + 100  # the string, its list slot, its dict entry
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

    def drop(self, k: int) -> None:
        """Forget the first ``k`` items."""
        if k <= 0:
            return
        nb = self.ends[k - 1]
        del self.words[: nb - self.base], self.ends[:k]
        self.base = nb
