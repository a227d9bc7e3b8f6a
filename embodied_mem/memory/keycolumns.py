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
- ``keys[:, a:b]``: the dense ``(dim, b - a)`` block of rows ``a..b-1``;
- ``keys[:, row] = key``: append the key of the next row (rows are written once, in order).

Episodic memory uses it under a RAM budget with a lexical (hashing) encoder; a dense (learned)
encoder keeps the dense matrix.
"""

from __future__ import annotations

from array import array
from typing import Any

import numpy as np

__all__ = ["SparseKeyColumns"]


class SparseKeyColumns:
    """A ``(dim, capacity)`` float32 key matrix stored as per-dimension posting lists (see module)."""

    __slots__ = ("dim", "capacity", "n", "_rows", "_vals")

    def __init__(self, dim: int, capacity: int = 64) -> None:
        self.dim = int(dim)
        self.capacity = int(capacity)  # rows callers may address (grown by the caller, as a matrix's)
        self.n = 0  # rows written
        self._rows = [array("i") for _ in range(self.dim)]
        self._vals = [array("f") for _ in range(self.dim)]

    @property
    def shape(self) -> tuple[int, int]:
        return (self.dim, self.capacity)

    @property
    def nbytes(self) -> int:
        """Bytes of the posting lists' items (their allocation may hold up to ~12 % more)."""
        return sum(len(r) for r in self._rows) * 8

    def __getstate__(self) -> dict[str, Any]:
        return {"dim": self.dim, "capacity": self.capacity, "n": self.n, "rows": self._rows, "vals": self._vals}

    def __setstate__(self, st: dict[str, Any]) -> None:
        self.dim, self.capacity, self.n = st["dim"], st["capacity"], st["n"]
        self._rows, self._vals = st["rows"], st["vals"]

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
        if hi <= lo or not self._rows[d]:
            return out
        rows = np.frombuffer(self._rows[d], np.int32)
        vals = np.frombuffer(self._vals[d], np.float32)
        if lo or hi < self.n:
            i0, i1 = np.searchsorted(rows, [lo, hi])
            rows, vals = rows[i0:i1], vals[i0:i1]
        out[rows - lo] = vals
        return out

    def take(self, d: int, rows: np.ndarray) -> np.ndarray:
        """Dimension ``d`` of the keys at ``rows`` (float32; 0.0 where a key is zero there)."""
        rows = np.asarray(rows, np.int64)
        out = np.zeros(len(rows), np.float32)
        if not self._rows[d] or not len(rows):
            return out
        pr = np.frombuffer(self._rows[d], np.int32)
        i = np.searchsorted(pr, rows)
        i[i >= len(pr)] = 0
        hit = pr[i] == rows
        out[hit] = np.frombuffer(self._vals[d], np.float32)[i[hit]]
        return out


class _Dimension:
    """``keys[d]``: one dimension, for ``.take(rows)``."""

    __slots__ = ("keys", "d")

    def __init__(self, keys: SparseKeyColumns, d: int) -> None:
        self.keys, self.d = keys, d

    def take(self, rows: np.ndarray) -> np.ndarray:
        return self.keys.take(self.d, rows)
