"""MemoryGraph: the one dynamic knowledge graph every memory module writes into.

Typed nodes (``agent``, ``place``, ``region``, ``object``, ``event``, ``episode``, ``chunk``,
``concept``) and typed, directed multi-edges (several edges per node pair, told apart by ``key``
0, 1, ... in the order they were added). Every edge is a *bi-temporal fact*: ``valid_from`` /
``valid_to`` on the world's time axis (percept time; ``valid_to`` is None while the fact holds)
and ``recorded_at`` on the wall clock (when memory learned it), plus ``source`` (the percept or
operation id that produced it) and ``confidence``.

Facts are never overwritten or deleted: ``invalidate`` closes an edge's validity interval, which is
clamped so that ``valid_to >= valid_from`` even when a late percept from another source arrives.

Storage is columnar (a few arrays, not an object per fact): node ids are interned to ints, edges
are rows of typed columns (endpoints, relation, key, times, source, confidence) with per-node
adjacency chains, and the extra properties of an edge or node (``position``, ``last_seen``,
``region`` ...) live in typed column tables, one per set of property names. An edge's data is an
:class:`EdgeData` -- a small live view (the graph's storage and the edge's row number) that reads
and writes like the dict it replaces. Pickling stores the columns as buffers, so a snapshot of a
million-edge graph loads in milliseconds. ``graph.nx`` is a networkx ``MultiDiGraph`` *copy* built
on each access (export and analysis; O(nodes + edges) time, about 1 KB of RAM per edge, and changes
to it do not reach the graph).
"""

from __future__ import annotations

import io
import json
import math
import pickle
import re
import threading
import zlib
from array import array
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import networkx as nx

NODE_KINDS = frozenset({"agent", "place", "region", "object", "event", "episode", "chunk", "concept"})
_KINDS = sorted(NODE_KINDS)
_KIND_ID = {k: i for i, k in enumerate(_KINDS)}

__all__ = ["MemoryGraph", "EdgeData", "NODE_KINDS", "GraphError"]

_CORE = ("relation", "valid_from", "valid_to", "recorded_at", "source", "confidence")
_NONE_SRC, _OTHER_SRC = -1, -2  # source codes; >= 0: the int itself; <= -3: string table id -3 - code
_MAX_SRC = (1 << 62) - 1
_PAIR_INDEX_AT = 16  # out-degree from which a node keeps a (target -> edge count) index for keys


class GraphError(ValueError):
    """Bad use of the graph: unknown node kind, missing node, edge that does not exist."""


# ---------------------------------------------------------------------- typed columns
class _Col:
    """One property column. Its kind follows the values written: ``n`` (only None so far), ``d``
    (float), ``q`` (int), ``s`` (str or None, interned), ``v`` (tuple of ``width`` floats), ``o`` (any
    Python object, a list). A value that does not fit the kind turns the column into ``o``, so every
    value reads back equal and of the same type as written."""

    __slots__ = ("kind", "width", "data", "table", "index", "getter")

    def __init__(self) -> None:
        self.kind = "n"
        self.width = 0
        self.data: Any = 0  # kind n: the row count
        self.table: list[str] = []
        self.index: dict[str, int] = {}
        self.getter: Any = self.get

    def _refresh(self) -> None:
        """Point ``getter`` (row -> value, the fast path of ``get``) at the current storage."""
        k, a = self.kind, self.data
        if k == "d" or k == "q" or k == "o":
            self.getter = a.__getitem__
        elif k == "v" and self.width == 3:
            self.getter = lambda r: (a[3 * r], a[3 * r + 1], a[3 * r + 2])
        else:
            self.getter = self.get

    def __len__(self) -> int:
        if self.kind == "n":
            return self.data
        if self.kind == "v":
            return len(self.data) // self.width
        return len(self.data)

    def get(self, r: int) -> Any:
        k = self.kind
        if k == "d" or k == "q" or k == "o":
            return self.data[r]
        if k == "v":
            w = self.width
            if w == 3:
                a, i = self.data, 3 * r
                return (a[i], a[i + 1], a[i + 2])
            return tuple(self.data[w * r:w * r + w])
        if k == "s":
            c = self.data[r]
            return None if c < 0 else self.table[c]
        return None  # kind n

    def _fits(self, v: Any) -> bool:
        k = self.kind
        t = type(v)
        if k == "d":
            return t is float
        if k == "q":
            return t is int and -(1 << 63) <= v < (1 << 63)
        if k == "s":
            return t is str or v is None
        if k == "v":
            return t is tuple and len(v) == self.width and all(type(x) is float for x in v)
        return k == "o"

    def _start(self, v: Any) -> None:
        """Pick the kind for the first non-None value (all rows so far are None)."""
        n, t = self.data, type(v)
        if t is float and n == 0:
            self.kind, self.data = "d", array("d")
        elif t is int and n == 0 and -(1 << 63) <= v < (1 << 63):
            self.kind, self.data = "q", array("q")
        elif t is str:
            self.kind, self.data = "s", array("i", [-1]) * n
        elif t is tuple and n == 0 and 1 <= len(v) <= 8 and all(type(x) is float for x in v):
            self.kind, self.width, self.data = "v", len(v), array("d")
        else:
            self.kind, self.data = "o", [None] * n

    def _promote(self) -> None:
        self.data = [self.get(r) for r in range(len(self))]
        self.kind, self.width, self.table, self.index = "o", 0, [], {}
        self._refresh()

    def _code(self, v: str | None) -> int:
        if v is None:
            return -1
        c = self.index.get(v)
        if c is None:
            c = self.index[v] = len(self.table)
            self.table.append(v)
        return c

    def append(self, v: Any) -> None:
        k, t = self.kind, type(v)
        if k == "d" and t is float or k == "q" and t is int and -(1 << 63) <= v < (1 << 63) or k == "o":
            self.data.append(v)
            return
        if k == "s":
            if t is str:
                c = self.index.get(v)
                self.data.append(self._code(v) if c is None else c)
                return
            if v is None:
                self.data.append(-1)
                return
        elif k == "n" and v is None:
            self.data += 1
            return
        if k == "v" and t is tuple and len(v) == self.width:
            for x in v:
                if type(x) is not float:
                    break
            else:
                self.data.extend(v)
                return
        if k == "n":
            if v is None:
                self.data += 1
                return
            self._start(v)
            self._refresh()
        elif not self._fits(v):
            self._promote()
        k = self.kind
        if k == "v":
            self.data.extend(v)
        elif k == "s":
            self.data.append(self._code(v))
        else:
            self.data.append(v)

    def set(self, r: int, v: Any) -> None:
        k = self.kind
        if k == "d" and type(v) is float or k == "o":
            self.data[r] = v
            return
        if k == "v" and self.width == 3 and type(v) is tuple and len(v) == 3:
            x, y, z = v
            if type(x) is float and type(y) is float and type(z) is float:
                a, i = self.data, 3 * r
                a[i], a[i + 1], a[i + 2] = x, y, z
                return
        if k == "n":
            if v is None:
                return
            n = self.data  # > r: other rows are None, which only kinds s and o hold
            if type(v) is str:
                self.kind, self.data = "s", array("i", [-1]) * n
            else:
                self.kind, self.data = "o", [None] * n
            self._refresh()
        elif not self._fits(v):
            self._promote()
        k = self.kind
        if k == "v":
            w = self.width
            self.data[w * r:w * r + w] = array("d", v)
        elif k == "s":
            self.data[r] = self._code(v)
        else:
            self.data[r] = v

    def state(self) -> tuple:
        return (self.kind, self.width, self.data, self.table)

    @classmethod
    def from_state(cls, st: tuple) -> _Col:
        c = cls()
        c.kind, c.width, c.data, c.table = st
        if c.kind == "s":
            c.index = dict(zip(c.table, range(len(c.table))))
        c._refresh()
        return c


class _Shape:
    """The rows of every edge (or node) carrying exactly the property names ``names``."""

    __slots__ = ("names", "pos", "cols", "colmap", "n")

    def __init__(self, names: tuple[str, ...], cols: list[_Col] | None = None, n: int = 0) -> None:
        self.names = names
        self.pos = {k: j for j, k in enumerate(names)}
        self.cols = [_Col() for _ in names] if cols is None else cols
        self.colmap = dict(zip(names, self.cols))
        self.n = n

    def add(self, values: Any) -> int:
        for c, v in zip(self.cols, values):
            # ``_Col.append``'s common cases inline: a float to a float column, None to a column of Nones,
            # a known string to a string column, a tuple of floats to a vector column
            k = c.kind
            if k == "d":
                if type(v) is float:
                    c.data.append(v)
                    continue
            elif k == "s":
                if type(v) is str:
                    j = c.index.get(v)
                    if j is not None:
                        c.data.append(j)
                        continue
                elif v is None:
                    c.data.append(-1)
                    continue
            elif k == "n":
                if v is None:
                    c.data += 1
                    continue
            elif k == "v":
                if type(v) is tuple and len(v) == 3 == c.width:
                    x, y, z = v
                    if type(x) is float and type(y) is float and type(z) is float:
                        c.data.extend(v)
                        continue
            c.append(v)
        self.n += 1
        return self.n - 1


# ---------------------------------------------------------------------- storage
_BLOCK_SHIFT = 10  # ids per block: 1024 nodes or edges (a block is the unit of paging)
_BYTES_PER_NODE = 100  # RAM of a node in a resident block: id text, 6 columns, properties and their string tables
_BYTES_PER_EDGE = 64  # RAM of an edge in a resident block: 13 columns (~44 bytes), properties
_BYTES_PER_BLOCK = 4096  # a resident block's own objects: property tables, column objects, string tables
_BYTES_FIXED = 64 << 10  # the store's own: the cache of recently used ids (2 x ``_HOT`` entries), relation tables
_HOT = 384  # most ids in each generation of the cache in front of the node index
_BYTES_PER_ID = 32  # most bytes a resident node costs in the id index (``_Ids``: 8-byte slots, at least a quarter full)
_BYTES_PER_GROW = 48  # bytes a node of the growing block costs in ``_Store.grow`` (a dict entry; its id is the block's)
_MIN_BLOCKS = 4  # a RAM cap holds at least this many blocks of nodes and of edges

_NB_ARRAYS = (("kind", "b"), ("shape", "i"), ("row", "i"), ("hout", "i"), ("hin", "i"), ("deg", "i"))
_EB_ARRAYS = (("src", "i"), ("dst", "i"), ("rel", "i"), ("key", "i"), ("vf", "d"), ("vt", "d"), ("rec", "d"),
              ("conf", "d"), ("srcid", "q"), ("shape", "i"), ("row", "i"), ("nxo", "i"), ("nxi", "i"))


# columns kept narrower in RAM than in their pages (the pages keep the typecodes above): a value that
# does not fit widens the array to the page's typecode (``_widen``)
_NARROW = {"shape": "B", "row": "H", "rel": "B", "key": "B", "srcid": "i"}
_LIMITS = {"B": (0, 255), "H": (0, 65535), "i": (-(1 << 31), (1 << 31) - 1)}
_CODED = ("rec", "conf")  # float columns of few distinct values per block: ``_Coded``


def _widen(b: Any, name: str) -> array:
    """Array ``name`` of block ``b`` at its page typecode (a value did not fit the narrow one)."""
    tc = dict(_NB_ARRAYS if type(b) is _NB else _EB_ARRAYS)[name]
    a = array(tc, getattr(b, name))
    setattr(b, name, a)
    return a


def _put(b: Any, name: str, i: int, v: int) -> None:
    """``b.<name>[i] = v``, widening the array when ``v`` does not fit it."""
    try:
        getattr(b, name)[i] = v
    except OverflowError:
        _widen(b, name)[i] = v


def _push(b: Any, name: str, v: int) -> None:
    """``b.<name>.append(v)`` after it overflowed the narrow array."""
    _widen(b, name).append(v)


class _Coded:
    """A float column of an edge block (``recorded_at``, ``confidence``: a few distinct values in
    1024 edges) as one-byte codes into a table of its distinct values (``vals``, ``index``), or,
    from its 256th distinct value on, a plain ``array('d')`` (``index`` None). Reads and writes
    like the array it replaces; values read back identical (0.0 and -0.0 apart)."""

    __slots__ = ("codes", "vals", "index")

    def __init__(self) -> None:
        self.codes: array = array("B")
        self.vals: list[float] = []
        self.index: dict[Any, int] | None = {}

    def _code(self, v: float) -> int:
        """The code of ``v`` (added to the table); -1 when the table is full: the column turned plain."""
        idx = self.index
        assert idx is not None
        key: Any = v if v else (0, math.copysign(1.0, v))  # 0.0 == -0.0 as dict keys
        c = idx.get(key)
        if c is None:
            c = len(self.vals)
            if c == 255:
                vals = self.vals
                self.codes = array("d", [vals[x] for x in self.codes])
                self.vals, self.index = [], None
                return -1
            idx[key] = c
            self.vals.append(v)
        return c

    def append(self, v: float) -> None:
        idx = self.index
        if idx is not None:
            c = idx.get(v) if v else None
            if c is None:
                c = self._code(v)
                if c < 0:
                    self.codes.append(v)
                    return
            self.codes.append(c)
        else:
            self.codes.append(v)

    def __getitem__(self, i: int) -> float:
        if self.index is None:
            return self.codes[i]
        return self.vals[self.codes[i]]

    def __setitem__(self, i: int, v: float) -> None:
        if self.index is not None:
            c = self._code(v)
            if c >= 0:
                self.codes[i] = c
                return
        self.codes[i] = v

    def __len__(self) -> int:
        return len(self.codes)

    def nbytes(self) -> int:
        return self.codes.itemsize * len(self.codes) + (0 if self.index is None else 50 * len(self.vals))

    def to_array(self) -> array:
        if self.index is None:
            return self.codes
        if len(self.codes) <= 64:  # a small block: numpy's call costs more than the loop
            vals = self.vals
            return array("d", [vals[c] for c in self.codes])
        import numpy as np

        vals = np.asarray(self.vals, np.float64)
        return array("d", vals[np.frombuffer(self.codes, np.uint8)].tobytes())

    @classmethod
    def from_codes(cls, codes: array, vals: list[float]) -> _Coded:
        """The column a page stored as its codes and table (``codes`` every one below ``len(vals)``)."""
        c = cls()
        c.codes, c.vals = codes, vals
        c.index = {(v if v else (0, math.copysign(1.0, v))): k for k, v in enumerate(vals)}
        return c

    @classmethod
    def from_array(cls, a: array) -> _Coded:
        c = cls()
        if len(a) <= 64:
            for v in a:
                c.append(v)
            return c
        import numpy as np

        x = np.frombuffer(a, np.float64)
        vals, inv = np.unique(x, return_inverse=True)
        if len(vals) > 255 or np.isnan(vals).any() or (vals == 0.0).any():  # 0.0 and -0.0: one value to unique
            c.codes, c.vals, c.index = array("d", a), [], None
            return c
        c.vals = vals.tolist()
        c.index = {v: k for k, v in enumerate(c.vals)}
        c.codes = array("B", inv.reshape(-1).astype(np.uint8).tobytes())
        return c


class _NB:
    """A block of consecutive nodes: ids, kinds, property rows, adjacency heads and out-degrees.

    The ids of a block still growing are a list (``names``); a full block whose ids are all strings
    keeps them as one string ``text`` with the start of each id in ``off`` (1025 offsets) and
    ``names`` None: about 20 bytes an id instead of a string object and its list slot (~80)."""

    __slots__ = ("names", "text", "off", "kind", "shape", "row", "hout", "hin", "deg", "shapes", "shape_ids",
                 "dirty")

    def __init__(self) -> None:
        self.names: list[str] | None = []
        self.text: str | None = None
        self.off: array | None = None
        for name, tc in _NB_ARRAYS:
            setattr(self, name, array(_NARROW.get(name, tc)))
        self.shapes: list[_Shape] = [_Shape(())]  # 0: no properties
        self.shape_ids: dict[tuple[str, ...], int] = {(): 0}
        self.dirty = True  # changed since it was last written to the long-term table


class _EB:
    """A block of consecutive edges: endpoints, relation, key, bi-temporal fields, source, property
    rows and the links of the per-node adjacency chains (``nxo``/``nxi``: the previous edge out of /
    into the same node, -1: none)."""

    __slots__ = ("src", "dst", "rel", "key", "vf", "vt", "rec", "conf", "srcid", "shape", "row", "nxo", "nxi",
                 "shapes", "shape_ids", "dirty")

    def __init__(self) -> None:
        for name, tc in _EB_ARRAYS:
            setattr(self, name, _Coded() if name in _CODED else array(_NARROW.get(name, tc)))
        self.shapes: list[_Shape] = [_Shape(())]
        self.shape_ids: dict[tuple[str, ...], int] = {(): 0}
        self.dirty = True



def _freeze_names(b: _NB) -> None:
    """Keep the ids of a full node block as one string and offsets (when every id is a ``str``)."""
    names = b.names
    if names is None or not all(type(n) is str for n in names):
        return
    off = array("I", [0])
    n = 0
    for x in names:
        n += len(x)
        off.append(n)
    b.text, b.off, b.names = "".join(names), off, None


def _block_names(b: _NB) -> list[Any]:
    """The node ids of block ``b``, in order (a new list for a block kept as text)."""
    if b.names is not None:
        return b.names
    t, o = b.text, b.off
    assert t is not None and o is not None
    return [t[o[k]:o[k + 1]] for k in range(len(o) - 1)]


def _block_name(b: _NB, k: int) -> Any:
    if b.names is not None:
        return b.names[k]
    o = b.off
    return b.text[o[k]:o[k + 1]]  # type: ignore[index]


class _Ids:
    """Node id -> node index for the nodes of the resident full blocks (and of the growing block up to
    ``_Store.ixn``): an open-addressing table (linear probing from slot ``h % size``, ``h`` the 32-bit
    ``_hid`` of the id) of two arrays, the ``h`` and the indexes (-1: empty slot), filled to at most
    half -- 16 to 32 bytes a node, where a dict costs ~50 bytes an entry and keeps every id's string
    alive. The ids themselves are read from their blocks to confirm a match. Stored as it is in a
    snapshot (``_Store.__getstate__``)."""

    __slots__ = ("hs", "ix", "size", "n")

    def __init__(self, n: int = 0) -> None:
        self.size = max(8, n * 3 + 8)
        self.hs = array("I", [0]) * self.size
        self.ix = array("i", [-1]) * self.size
        self.n = 0

    def insert(self, h: int, i: int) -> None:
        """Add node ``i`` whose id's hash has the low 32 bits ``h`` (the caller knows the id is not in
        the table)."""
        if (self.n + 1) * 2 > self.size:
            self.rebuild(self.n + 1)
        hs, ix, size = self.hs, self.ix, self.size
        j = h % size
        while ix[j] >= 0:
            j += 1
            if j == size:
                j = 0
        hs[j] = h
        ix[j] = i
        self.n += 1

    def insert_many(self, hl: Sequence[int], il: Sequence[int]) -> None:
        """Add the nodes ``il`` whose ids hash to ``hl`` (none of them in the table yet): in place while
        the table stays at most half full, else by one ``rebuild`` (numpy) that files them with the rest."""
        m = len(hl)
        if not m:
            return
        if (self.n + m) * 2 > self.size:
            self.rebuild(self.n + m, hl, il)
            return
        hs, ix, size = self.hs, self.ix, self.size
        for h, i in zip(hl, il):
            j = h % size
            while ix[j] >= 0:
                j += 1
                if j == size:
                    j = 0
            hs[j] = h
            ix[j] = i
        self.n += m

    def rebuild(self, n: int, hl: Sequence[int] = (), il: Sequence[int] = (), keep: Any = None,
                spare: int = 4) -> None:
        """File the entries again in a table of ``spare * n + 8`` slots (``n`` at least the entries it
        gets): the entries held (those whose index ``keep(ix)`` marks, a numpy bool mask; every one when
        None) and the new ``hl``/``il``. Vectorized: sorted by home slot, entry ``k`` goes to ``max(home_k, slot_(k-1) + 1)``
        (a running maximum); the few that run past the end wrap around, filed one by one."""
        import numpy as np

        oh = np.frombuffer(self.hs, np.uint32)
        oi = np.frombuffer(self.ix, np.int32)
        sel = oi >= 0 if keep is None else (oi >= 0) & keep(oi)
        h = np.concatenate([oh[sel], np.asarray(hl, np.uint32)]).astype(np.int64)
        ix = np.concatenate([oi[sel], np.asarray(il, np.int32)])
        del oh, oi
        size = max(8, max(n, len(h)) * spare + 8)
        home = h % size
        order = np.argsort(home, kind="stable")
        home, h, ix = home[order], h[order], ix[order]
        k = np.arange(len(home), dtype=np.int64)
        slot = k + np.maximum.accumulate(home - k) if len(home) else k
        fit = slot < size
        hs_np = np.zeros(size, np.uint32)
        ix_np = np.full(size, -1, np.int32)
        hs_np[slot[fit]] = h[fit]
        ix_np[slot[fit]] = ix[fit]
        self.hs, self.ix, self.size, self.n = array("I"), array("i"), size, int(fit.sum())
        self.hs.frombytes(hs_np.tobytes())
        self.ix.frombytes(ix_np.tobytes())
        if not fit.all():
            self.insert_many(h[~fit].tolist(), ix[~fit].tolist())

    def nbytes(self) -> int:
        return self.size * 8

_crc32 = zlib.crc32
_NONE_HASH = 0x9E3779B9  # the id index's hash of the id None, the same in every process
_NO_MISS = object()  # ``_Store.miss`` when no lookup has missed since the last change (None is a valid id)


def _hid(name: Any) -> int:
    """The 32-bit hash the id index files ``name`` under: CRC-32 of a string's UTF-8 (the same in every
    process, so a snapshot stores the index as it is), Python's ``hash`` of any other id (equal ids,
    such as 1 and 1.0, hash alike; a string is never equal to a non-string)."""
    if type(name) is str:
        return _crc32(name.encode("utf-8", "surrogatepass"))
    if isinstance(name, str):
        return _crc32(str.encode(name, "utf-8", "surrogatepass"))
    if name is None:  # (before Python 3.12, ``hash(None)`` is its address: another in every process)
        return _NONE_HASH
    return hash(name) & 0xFFFFFFFF


def _hids(names: Sequence[Any]) -> list[int]:
    """``_hid`` of each of ``names`` (one C call a string)."""
    crc = _crc32
    return [crc(x.encode("utf-8", "surrogatepass")) if type(x) is str else _hid(x) for x in names]


def _salted(name: Any) -> bool:
    """True when ``name``'s hash may differ from one process to the next (not a str, int, float, bool
    or None): an index holding it is built again on load."""
    return not isinstance(name, (str, int, float)) and name is not None


def _bshape(b: Any, names: tuple[str, ...]) -> int:
    s = b.shape_ids.get(names)
    if s is None:
        s = b.shape_ids[names] = len(b.shapes)
        b.shapes.append(_Shape(names))
    return s


def _put_props(b: Any, props: dict[str, Any]) -> None:
    """Append a row holding ``props`` to block ``b`` (a node or edge block): the row's shape (its set
    of property names) and its row in that shape's table."""
    pk = tuple(props)
    s = b.shape_ids.get(pk)
    if s is None:
        s = _bshape(b, pk)
    try:
        b.shape.append(s)
    except OverflowError:
        _push(b, "shape", s)
    r = b.shapes[s].add(props.values())
    try:
        b.row.append(r)
    except OverflowError:
        _push(b, "row", r)


def _props(b: Any, shape: int, row: int) -> dict[str, Any]:
    sh = b.shapes[shape]
    return {k: c.get(row) for k, c in zip(sh.names, sh.cols)}


def _set_prop(b: Any, i: int, name: str, value: Any) -> None:
    """Set property ``name`` of row ``i`` of block ``b`` (a node or edge block); a name the row does
    not have yet moves it to the table of its new set of names."""
    sh = b.shapes[b.shape[i]]
    j = sh.pos.get(name)
    if j is not None:
        sh.cols[j].set(b.row[i], value)
        return
    d = _props(b, b.shape[i], b.row[i]) if sh.names else {}
    d[name] = value
    s = _bshape(b, tuple(d))
    _put(b, "shape", i, s)
    _put(b, "row", i, b.shapes[s].add(d.values()))


def _del_prop(b: Any, i: int, name: str) -> None:
    d = _props(b, b.shape[i], b.row[i])
    del d[name]  # KeyError when absent, as a dict
    s = _bshape(b, tuple(d))
    _put(b, "shape", i, s)
    _put(b, "row", i, b.shapes[s].add(d.values()))


_PLAIN = (type(None), bool, int, float, str, bytes)


def _is_plain(v: Any) -> bool:
    """True for values a page can hold (read back by an unpickler that resolves no class)."""
    t = type(v)
    if t in _PLAIN:
        return True
    if t is tuple or t is list:
        return all(_is_plain(x) for x in v)
    if t is dict:
        return all(_is_plain(k) and _is_plain(x) for k, x in v.items())
    return False


def _enc_col(c: _Col) -> tuple:
    data = c.data
    if isinstance(data, array):
        data = (data.typecode, data.tobytes())
    return (c.kind, c.width, data, c.table)


def _dec_col(st: Any) -> _Col:
    kind, width, data, table = st
    if kind not in ("n", "d", "q", "s", "v", "o") or type(width) is not int or not isinstance(table, list):
        raise GraphError("a graph page holds a column of an unknown kind: damaged or crafted file")
    if isinstance(data, tuple):
        data = _arr(*data)
    return _Col.from_state((kind, width, data, table))


def _arr(tc: Any, raw: Any) -> array:
    if tc not in ("b", "B", "H", "I", "i", "q", "d") or not isinstance(raw, bytes):
        raise GraphError("a graph page holds a column of an unknown type: damaged or crafted file")
    a = array(tc)
    a.frombytes(raw)
    return a


def _encode_block(b: Any, plain: bool) -> dict[str, Any] | None:
    """A block as a dict of bytes, numbers, strings and lists (None when ``plain`` and a property
    value is not plain data: such a block stays in RAM). Columns keep their narrow typecodes, a coded
    float column its one-byte codes and its table (``<name>_vals``), a block of ids kept as text its
    text and offsets: a page decodes without converting anything."""
    shapes = []
    for sh in b.shapes:
        cols = []
        for c in sh.cols:
            if plain and c.kind == "o" and not all(_is_plain(v) for v in c.data):
                return None
            cols.append(_enc_col(c))
        shapes.append((list(sh.names), sh.n, cols))
    d: dict[str, Any] = {"shapes": shapes}
    for name, _tc in (_NB_ARRAYS if type(b) is _NB else _EB_ARRAYS):
        a = getattr(b, name)
        if type(a) is _Coded:
            if a.index is not None:
                d[name + "_vals"] = a.vals
            a = a.codes
        d[name] = (a.typecode, a.tobytes())
    if type(b) is _NB:
        if b.names is None:
            d["text"] = b.text
            d["off"] = ("I", b.off.tobytes())  # type: ignore[union-attr]
        else:
            if plain and not all(type(n) is str for n in b.names):
                return None
            d["names"] = b.names
    return d


def _decode_block(d: Any, node: bool) -> Any:
    """The block ``_encode_block`` wrote (or an older page: wide typecodes, plain float columns, ids as a
    list, which are narrowed and coded here); a dict of another layout raises :class:`GraphError`."""
    try:
        b = _NB() if node else _EB()
        n = None
        for name, tc in (_NB_ARRAYS if node else _EB_ARRAYS):
            a = _arr(*d[name])
            nt = _NARROW.get(name)
            if name in _CODED:
                vals = d.get(name + "_vals")
                if vals is not None:
                    if a.typecode != "B" or not isinstance(vals, list) or len(vals) > 255 or not all(
                            type(v) is float for v in vals) or (len(a) and max(a) >= len(vals)):
                        raise GraphError("a graph page's coded column disagrees with its table")
                    a = _Coded.from_codes(a, vals)
                elif a.typecode != tc:
                    raise GraphError("a graph page's columns disagree")
                else:
                    a = _Coded.from_array(a)
            elif a.typecode == tc:
                if nt is not None and len(a):  # an older page: narrow the column when its values fit
                    import numpy as np

                    x = np.frombuffer(a, a.typecode)
                    if _LIMITS[nt][0] <= int(x.min()) and int(x.max()) <= _LIMITS[nt][1]:
                        a = array(nt, x.astype(np.dtype(nt)).tobytes())
                elif nt is not None:
                    a = array(nt)
            elif a.typecode != nt:
                raise GraphError("a graph page's columns disagree")
            if n is not None and len(a) != n:
                raise GraphError("a graph page's columns disagree")
            n = len(a)
            setattr(b, name, a)
        if node:
            text = d.get("text")
            if text is not None:
                off = _arr(*d["off"]) if d["off"][0] == "I" else None
                if (type(text) is not str or off is None or len(off) != (n or 0) + 1 or off[0] != 0
                        or off[-1] != len(text)):
                    raise GraphError("a graph page's names disagree with its columns")
                b.text, b.off, b.names = text, off, None
            else:
                b.names = list(d["names"])
                if len(b.names) != n:
                    raise GraphError("a graph page's names disagree with its columns")
                if n == 1 << _BLOCK_SHIFT:
                    _freeze_names(b)
        b.shapes, b.shape_ids = [], {}
        for names, count, cols in d["shapes"]:
            sh = _Shape(tuple(names), [_dec_col(c) for c in cols], int(count))
            b.shape_ids[sh.names] = len(b.shapes)
            b.shapes.append(sh)
        b.dirty = False
        return b
    except GraphError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, OverflowError) as exc:
        raise GraphError(f"a graph page of another layout: damaged or crafted file ({type(exc).__name__})") from None


def _block_state(b: Any) -> Any:
    """What a snapshot stores of block ``b``: its page (bytes, as ``lt_graph`` holds it: read back lazily
    and safely), or, when a property value is not plain data, the dict ``_encode_block`` makes."""
    d = _encode_block(b, True)
    if d is None:
        return _encode_block(b, False)
    return pickle.dumps(d, protocol=5)


class _PlainUnpickler(pickle.Unpickler):
    """Reads a page the graph wrote (dicts, lists, tuples, numbers, strings, bytes): resolves no class
    or function, so a crafted memory file cannot run code through it."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"a graph page refers to {module}.{name}: damaged or crafted file")


def _load_page(blob: bytes) -> Any:
    return _PlainUnpickler(io.BytesIO(blob)).load()


class _Store:
    """All of a graph's data, in blocks of ``2**sh`` consecutive nodes (``nb``) and edges (``eb``).

    Without long-term pages every block is in RAM. With them (``use_long_term``, a memory with a RAM
    budget), blocks used longest ago move to the ``lt_graph`` table (and their node ids to
    ``lt_gnames``) when the resident blocks cost more than ``cap`` bytes; a paged-out block is
    ``None`` in its list and is read back (``node``/``edge``) by the first access that needs it.
    Ids and edge numbers never change, so edge views and the ints modules keep stay valid. Edge
    views point here, so a graph that adopts another's store (a snapshot being restored) keeps every
    view valid."""

    __slots__ = ("sh", "mk", "nb", "eb", "nn", "ne", "ids", "rels", "rel_ids", "strs", "str_ids", "other_src",
                 "pairs", "pages", "cap", "floor", "tick", "used_n", "used_e", "row_n", "row_e", "named",
                 "paged_names", "rn", "re", "snap_row", "lock", "hot", "warm", "miss", "grow", "ixn", "lz_n", "lz_e",
                 "salted")

    def __init__(self) -> None:
        self.sh = _BLOCK_SHIFT
        self.mk = (1 << self.sh) - 1
        self.nb: list[_NB | None] = []
        self.eb: list[_EB | None] = []
        self.nn = 0  # nodes
        self.ne = 0  # edges
        self.ids = _Ids()  # node id -> index, for the nodes of resident blocks below ``ixn``
        # the nodes of the growing block (at least those from ``ixn`` on) -> index: a new node costs one dict
        # store, not a hash and a probe; they are filed in ``ids`` together (``index_growing``) when the block
        # fills up, and before a snapshot (which stores ``ids`` as it is)
        self.grow: dict[Any, int] = {}
        self.ixn = 0  # ``ids`` holds every resident node below this index (and none from it on)
        # the ids looked up or added lately -> index, a cache in front of ``ids`` in two generations: when
        # ``hot`` holds _HOT ids it becomes ``warm`` and a new ``hot`` starts; a hit in ``warm`` moves to ``hot``
        self.hot: dict[Any, int] = {}
        self.warm: dict[Any, int] = {}
        # the id the last lookup did not find, while nothing was added since (a writer asks ``in`` then adds
        # the node: the second look is free)
        self.miss: Any = _NO_MISS
        self.rels: list[str] = []
        self.rel_ids: dict[str, int] = {}
        self.strs: list[str] = []  # string sources
        self.str_ids: dict[str, int] = {}
        self.other_src: dict[int, Any] = {}  # edge -> a source that is neither str, None nor an int >= 0
        self.pairs: dict[int, dict[int, int]] = {}  # high out-degree node -> {target: edges}, rebuilt lazily
        self.pages: Any = None  # longterm.Pages, or None: every block in RAM
        self.cap = 0  # bytes of resident blocks past which the least recently used move out (0: no bound)
        self.floor = 0  # the least ``cap`` may become (the graph's own share of the budget)
        self.snap_row = 0  # lt_graph rows up to this one may be named by a snapshot: never rewritten in place
        # paging in and out, one at a time: a reader in another thread (an edge view read outside the
        # memory's lock) may read a block back while the writer moves others out
        self.lock = threading.RLock()
        self.tick = 0
        self.used_n = array("q")  # per block: tick of its creation or last page-in
        self.used_e = array("q")
        self.row_n = array("q")  # per block: lt_graph rowid of its latest page (0: never written)
        self.row_e = array("q")
        self.named = array("b")  # per node block: its node ids are in lt_gnames
        self.paged_names = False  # some node ids live only in lt_gnames
        self.rn = 0  # resident node blocks
        self.re = 0  # resident edge blocks
        # blocks of a loaded snapshot not used since: block number -> its page (bytes), decoded on first
        # use; the block is None in ``nb``/``eb`` but counts as resident (its ids are in ``ids``)
        self.lz_n: dict[int, bytes] = {}
        self.lz_e: dict[int, bytes] = {}
        self.salted = False  # some node id's hash differs between processes: a snapshot holds no index

    # -------------------------------------------------------------- pickling
    def __getstate__(self) -> dict[str, Any]:
        """The store as it is: blocks as their pages (bytes, decoded on first use after a load; a block
        holding a value that is not plain data as a dict), the id index as its two arrays."""
        if self.pages is not None and self.pages.lt is not None:  # a snapshot may name every row written so far
            self.snap_row = self.pages.store.execute("SELECT COALESCE(MAX(rowid), 0) FROM lt_graph").fetchone()[0]
        st: dict[str, Any] = {k: getattr(self, k) for k in (
            "sh", "nn", "ne", "rels", "strs", "other_src", "cap", "floor", "row_n", "row_e", "named", "paged_names",
            "pages", "snap_row")}
        self.index_growing()  # the stored index holds every node (the growing block's ids stay in ``grow`` too)
        st["nb"] = [self.lz_n.get(k) if b is None else _block_state(b) for k, b in enumerate(self.nb)]
        st["eb"] = [self.lz_e.get(k) if b is None else _block_state(b) for k, b in enumerate(self.eb)]
        ids = self.ids
        st["ids"] = None if self.salted else (ids.hs, ids.ix, ids.n)
        st["version"] = 3
        return st

    def __setstate__(self, st: dict[str, Any]) -> None:
        """Version 3 (``__getstate__``): the index as stored, pages kept as bytes until first used;
        version 2 (before the index was stored): every block decoded, the index built."""
        if not isinstance(st, dict) or st.get("version") not in (2, 3):
            raise GraphError("graph state of another format version")
        self.__init__()  # type: ignore[misc]
        for k in ("sh", "nn", "ne", "rels", "strs", "other_src", "cap", "floor", "row_n", "row_e", "named",
                  "paged_names", "pages", "snap_row"):
            setattr(self, k, st[k])
        self.mk = (1 << self.sh) - 1
        self.rel_ids = dict(zip(self.rels, range(len(self.rels))))
        self.str_ids = dict(zip(self.strs, range(len(self.strs))))
        self.nb, self.eb = self._blocks_from(st["nb"], True), self._blocks_from(st["eb"], False)
        self.used_n = array("q", [0]) * len(self.nb)
        self.used_e = array("q", [0]) * len(self.eb)
        if self.nb and len(self.nb) - 1 in self.lz_n:  # the growing blocks never move out: decoded now
            self._load(len(self.nb) - 1, True)
        if self.eb and len(self.eb) - 1 in self.lz_e:
            self._load(len(self.eb) - 1, False)
        ids = st.get("ids")
        if ids is None:
            self.salted = st["version"] == 3  # (version 2 held no index: built here, from the ids)
            for k in list(self.lz_n):
                self._load(k, True)
            self.index_all()
        else:
            hs, ix, n = ids
            if (type(hs) is not array or type(ix) is not array or hs.typecode != "I" or ix.typecode != "i"
                    or len(hs) != len(ix) or len(hs) < 2 * n or type(n) is not int):
                raise GraphError("a graph state's id index disagrees with itself: damaged or crafted file")
            t = self.ids = _Ids()
            t.hs, t.ix, t.size, t.n = hs, ix, len(hs), n
        self.ixn = self.nn
        self.rn = sum(b is not None for b in self.nb) + len(self.lz_n)
        self.re = sum(b is not None for b in self.eb) + len(self.lz_e)

    def _blocks_from(self, states: list[Any], node: bool) -> list[Any]:
        """Blocks from their states: a page (bytes) is kept in ``lz_n``/``lz_e`` (the block None),
        a dict decoded now."""
        lz = self.lz_n if node else self.lz_e
        out: list[Any] = []
        for k, d in enumerate(states):
            if type(d) is bytes:
                lz[k] = d
                out.append(None)
            elif d is None:
                out.append(None)
            else:
                b = _decode_block(d, node)
                b.dirty = True
                out.append(b)
        return out

    # -------------------------------------------------------------- blocks
    def N(self, i: int) -> _NB:
        """The block of node ``i`` (read back from the long-term table when paged out)."""
        b = self.nb[i >> self.sh]
        return b if b is not None else self.load(i >> self.sh, True)

    def E(self, e: int) -> _EB:
        b = self.eb[e >> self.sh]
        return b if b is not None else self.load(e >> self.sh, False)

    def load(self, k: int, node: bool) -> Any:
        with self.lock:
            return self._load(k, node)

    def _load(self, k: int, node: bool) -> Any:
        blocks = self.nb if node else self.eb
        b = blocks[k]
        if b is not None:  # another thread read it back meanwhile
            return b
        lz = self.lz_n if node else self.lz_e
        blob = lz.get(k)
        if blob is not None:  # a block of the snapshot not used since the load: resident, its ids indexed
            b = self.unpage(blob, k, node)
            b.dirty = True  # (the snapshot's block may be newer than any page of it in lt_graph)
            blocks[k] = b
            del lz[k]
            self.tick += 1
            (self.used_n if node else self.used_e)[k] = self.tick
            return b
        b = self.peek(k, node)
        self.tick += 1
        if node:
            base = k << self.sh
            self.miss = _NO_MISS
            names = _block_names(b)
            self.ids.insert_many(_hids(names), range(base, base + len(names)))
            self.nb[k] = b
            self.used_n[k] = self.tick
            self.rn += 1
        else:
            self.eb[k] = b
            self.used_e[k] = self.tick
            self.re += 1
        return b

    def peek(self, k: int, node: bool) -> Any:
        """Block ``k`` as it is, resident or read from the table (then not kept: a scan's view)."""
        b = (self.nb if node else self.eb)[k]
        if b is not None:
            return b
        if k in (self.lz_n if node else self.lz_e):
            return self.load(k, node)
        row = (self.row_n if node else self.row_e)[k]
        pg = self.pages
        what = "node" if node else "edge"
        if pg is None or row <= 0:
            raise GraphError(f"graph {what} block {k} is neither in RAM nor in the long-term tables")
        r = pg.store.execute("SELECT v FROM lt_graph WHERE rowid = ? AND space = ? AND kind = ? AND block = ?",
                             (row, pg.space, 0 if node else 1, k)).fetchone()
        if r is None:
            raise GraphError(f"graph {what} block {k} is missing from lt_graph: damaged memory file")
        return self.unpage(r[0], k, node)

    def unpage(self, blob: bytes, k: int, node: bool) -> Any:
        """Block ``k`` from its page ``blob`` (read by ``_PlainUnpickler``: a page naming a class raises
        ``pickle.UnpicklingError``); a page of another layout or length raises :class:`GraphError`."""
        what = "node" if node else "edge"
        b = _decode_block(_load_page(blob), node)
        n = len(b.kind if node else b.src)
        last = (self.nn if node else self.ne) - (k << self.sh)
        if n != min(1 << self.sh, last):
            raise GraphError(f"graph {what} block {k} in lt_graph holds {n} rows: damaged memory file")
        return b

    def blocks(self, node: bool) -> list[Any]:
        """Every block, resident or read for this scan (a whole-graph read holds the graph in RAM while it runs)."""
        return [self.peek(k, node) for k in range(len(self.nb if node else self.eb))]

    def reindex(self) -> None:
        """Drop from ``ids`` the nodes of blocks no longer resident (after blocks moved out): the
        entries left are filed again in a table sized for them (their hashes are kept: no id is read)."""
        import numpy as np

        nb, lz, sh = self.nb, self.lz_n, self.sh
        res = np.array([b is not None or k in lz for k, b in enumerate(nb)] or [False], bool)
        ids = self.ids
        ids.rebuild(0, keep=lambda ix: res[np.maximum(ix, 0) >> sh], spare=3)
        self.hot, self.warm = {}, {}
        self.miss = _NO_MISS

    def index_all(self) -> None:
        """Build ``ids`` from the ids of the resident node blocks (a state without a stored index)."""
        hl: list[int] = []
        il: list[int] = []
        sh = self.sh
        for k, b in enumerate(self.nb):
            if b is not None:
                names = _block_names(b)
                hl += _hids(names)
                il += range(k << sh, (k << sh) + len(names))
        self.ids = ids = _Ids()
        ids.rebuild(len(hl), hl, il, spare=3)
        self.hot, self.warm, self.grow = {}, {}, {}
        self.ixn = self.nn
        self.miss = _NO_MISS

    def index_growing(self) -> None:
        """File the nodes from ``ixn`` on (the growing block's, in ``grow``) in ``ids``."""
        lo, hi = self.ixn, self.nn
        if hi > lo:
            k = (hi - 1) >> self.sh
            b = self.nb[k]
            assert b is not None and lo >= k << self.sh  # (they are all in the growing block, never paged out)
            base = k << self.sh
            names = _block_names(b)[lo - base:hi - base]
            self.ids.insert_many(_hids(names), range(lo, hi))
            self.ixn = hi

    def lookup(self, name: Any) -> int | None:
        """Index of node ``name`` among the resident blocks (None: not there). TypeError when
        ``name`` cannot be hashed, as a dict."""
        i = self.hot.get(name)
        if i is not None:
            return i
        i = self.grow.get(name)
        if i is not None:
            return i
        i = self.warm.get(name)
        if i is not None:
            self.remember(name, i)
            return i
        if name is self.miss:
            return None
        # ``probe``, inline (a new id's first look ends here)
        h = _crc32(name.encode("utf-8", "surrogatepass")) if type(name) is str else _hid(name)
        t = self.ids
        hs, ix, size = t.hs, t.ix, t.size
        j = h % size
        while True:
            i = ix[j]
            if i < 0:
                self.miss = name
                return None
            if hs[j] == h:
                b = self.nb[i >> self.sh] or self.load(i >> self.sh, True)  # (moved out by another thread)
                k = i & self.mk
                names = b.names
                if names is not None:
                    if names[k] == name:
                        break
                elif isinstance(name, str):
                    o = b.off
                    a = o[k]
                    if o[k + 1] - a == len(name) and b.text.startswith(name, a):
                        break
            j += 1
            if j == size:
                j = 0
        self.remember(name, i)
        return i

    def probe(self, name: Any) -> int | None:
        """Index of node ``name`` in ``ids`` alone (the resident nodes below ``ixn``; None: not there)."""
        h = _crc32(name.encode("utf-8", "surrogatepass")) if type(name) is str else _hid(name)
        t = self.ids
        hs, ix, size = t.hs, t.ix, t.size
        j = h % size
        while True:
            i = ix[j]
            if i < 0:
                return None
            if hs[j] == h:
                b = self.nb[i >> self.sh] or self.load(i >> self.sh, True)  # (moved out by another thread)
                k = i & self.mk
                names = b.names
                if names is not None:
                    if names[k] == name:
                        return i
                elif isinstance(name, str):
                    o = b.off
                    a = o[k]
                    if o[k + 1] - a == len(name) and b.text.startswith(name, a):
                        return i
            j += 1
            if j == size:
                j = 0

    def remember(self, name: Any, i: int) -> None:
        """Put node ``name`` (index ``i``) in the cache of recently used ids."""
        hot = self.hot
        if len(hot) >= _HOT:
            self.warm, self.hot = hot, {}
            hot = self.hot
        hot[name] = i

    def find(self, name: Any) -> int | None:
        """Index of node ``name`` (None: no such node), also of a node whose block was paged out (the
        block is read back)."""
        i = self.lookup(name)
        if i is None and self.paged_names and type(name) is str:
            pg = self.pages
            r = pg.store.execute("SELECT idx FROM lt_gnames WHERE space = ? AND name = ?", (pg.space, name)).fetchone()
            if r is not None:  # a node asked about is likely asked about again: bring its block back
                i = r[0]
                if self.nb[i >> self.sh] is None:
                    self.load(i >> self.sh, True)
        return i

    def name(self, i: int) -> str:
        return _block_name(self.N(i), i & self.mk)

    def cost(self) -> int:
        """Estimated bytes of the resident blocks (the growing last blocks by the rows they hold)."""
        n, e = self.rn << self.sh, self.re << self.sh
        if self.nb:
            n -= (len(self.nb) << self.sh) - self.nn
        if self.eb:
            e -= (len(self.eb) << self.sh) - self.ne
        return (n * _BYTES_PER_NODE + e * _BYTES_PER_EDGE + (self.rn + self.re) * _BYTES_PER_BLOCK
                + self.ids.nbytes() + len(self.grow) * _BYTES_PER_GROW + _BYTES_FIXED)

    def trim(self) -> None:
        """Move the blocks used longest ago out while the resident ones cost more than ``cap`` (to 3/4
        of it). The last (growing) block of nodes and of edges always stays."""
        if not self.cap or self.cost() <= self.cap or self.pages is None:
            return
        with self.lock:
            self._trim()

    def _trim(self) -> None:
        pg = self.pages
        lzn, lze = self.lz_n, self.lz_e
        cand = [(self.used_n[k], 0, k) for k, b in enumerate(self.nb)
                if (b is not None or k in lzn) and k != len(self.nb) - 1]
        cand += [(self.used_e[k], 1, k) for k, b in enumerate(self.eb)
                 if (b is not None or k in lze) and k != len(self.eb) - 1]
        cand.sort()
        goal = self.cap * 3 // 4
        lt = pg.store
        own = not lt.conn.in_transaction
        if own:
            lt.conn.execute("BEGIN")
        try:
            rn = self.rn
            for _used, kind, k in cand:
                if self.cost() <= goal:
                    break
                self.page_out(k, kind == 0, reindex=False)
            if self.rn != rn:
                self.reindex()
            if own:
                lt.conn.execute("COMMIT")
        except BaseException:
            if own:
                lt.conn.execute("ROLLBACK")
            raise

    def page_out(self, k: int, node: bool, reindex: bool = True) -> bool:
        """Write block ``k`` (when changed since read) to lt_graph and drop it from RAM. False: it
        holds a property value that is not plain data, and stays. ``reindex`` False: the caller
        rebuilds the node index (``reindex``) after moving a node block out."""
        pg = self.pages
        b = (self.nb if node else self.eb)[k]
        rows = self.row_n if node else self.row_e
        lz = self.lz_n if node else self.lz_e
        blob = lz.get(k) if b is None else None
        if b is None and blob is None:
            return True
        if blob is not None and node and not self.named[k]:  # its ids are needed below
            blob = None
            b = self._load(k, True)
        if blob is not None or b.dirty or rows[k] <= 0:  # (a snapshot's page: maybe newer than lt_graph's)
            if blob is None:
                d = _encode_block(b, True)
                if d is None:
                    return False
                blob = pickle.dumps(d, protocol=5)
            if rows[k] > self.snap_row:  # written since the last snapshot: no snapshot names it, rewrite it
                pg.store.execute("UPDATE lt_graph SET v = ? WHERE rowid = ?", (blob, rows[k]))
            else:
                cur = pg.store.execute("INSERT INTO lt_graph (space, kind, block, v) VALUES (?, ?, ?, ?)",
                                       (pg.space, 0 if node else 1, k, blob))
                rows[k] = cur.lastrowid
        if node:
            base = k << self.sh
            if not self.named[k]:
                pg.store.conn.executemany("INSERT INTO lt_gnames (space, name, idx) VALUES (?, ?, ?)",
                                          [(pg.space, n, base + j) for j, n in enumerate(_block_names(b))])
                self.named[k] = 1
                self.paged_names = True
            self.nb[k] = None
            lz.pop(k, None)
            self.rn -= 1
            if reindex:
                self.reindex()
        else:
            self.eb[k] = None
            lz.pop(k, None)
            self.re -= 1
        return True

    # -------------------------------------------------------------- helpers
    def rel(self, relation: str) -> int:
        r = self.rel_ids.get(relation)
        if r is None:
            if not isinstance(relation, str):
                raise GraphError(f"relation must be a string, got {type(relation).__name__}")
            r = self.rel_ids[relation] = len(self.rels)
            self.rels.append(relation)
        return r

    def src_code(self, e: int, source: Any) -> int:
        t = type(source)
        if t is int and 0 <= source <= _MAX_SRC:
            return source
        if source is None:
            return _NONE_SRC
        if t is str:
            s = self.str_ids.get(source)
            if s is None:
                s = self.str_ids[source] = len(self.strs)
                self.strs.append(source)
            return -3 - s
        self.other_src[e] = source
        return _OTHER_SRC

    def source(self, b: _EB, e: int) -> Any:
        c = b.srcid[e & self.mk]
        if c >= 0:
            return c
        if c == _NONE_SRC:
            return None
        if c == _OTHER_SRC:
            return self.other_src[e]
        return self.strs[-3 - c]

    def set_source(self, b: _EB, e: int, source: Any) -> None:
        self.other_src.pop(e, None)
        _put(b, "srcid", e & self.mk, self.src_code(e, source))

    def out_ids(self, u: int) -> list[int]:
        """Edges out of node ``u`` in the order they were added."""
        out, e, sh, mk, eb = [], self.N(u).hout[u & self.mk], self.sh, self.mk, self.eb
        while e >= 0:
            out.append(e)
            b = eb[e >> sh] or self.load(e >> sh, False)
            e = b.nxo[e & mk]
        out.reverse()
        return out

    def in_ids(self, v: int) -> list[int]:
        out, e, sh, mk, eb = [], self.N(v).hin[v & self.mk], self.sh, self.mk, self.eb
        while e >= 0:
            out.append(e)
            b = eb[e >> sh] or self.load(e >> sh, False)
            e = b.nxi[e & mk]
        out.reverse()
        return out

    def ends(self, e: int) -> tuple[int, int, int]:
        """(source node, target node, key) of edge ``e``."""
        b, i = self.E(e), e & self.mk
        return b.src[i], b.dst[i], b.key[i]

    def nx_order(self, ids: list[int]) -> list[int]:
        """Edges of one source node in networkx's order: by target in the order each target was
        first linked, then by key."""
        first: dict[int, int] = {}
        info = {e: self.ends(e) for e in ids}
        for e in ids:
            first.setdefault(info[e][1], e)
        return sorted(ids, key=lambda e: (first[info[e][1]], info[e][2]))

    def next_key(self, u: int, v: int) -> int:
        """networkx's key for a new edge u -> v: the number of u -> v edges, raised past any key in use."""
        nbu = self.N(u)
        if nbu.deg[u & self.mk] < _PAIR_INDEX_AT:
            keys = []
            e, sh, mk, eb = nbu.hout[u & self.mk], self.sh, self.mk, self.eb
            while e >= 0:
                b = eb[e >> sh] or self.load(e >> sh, False)
                i = e & mk
                if b.dst[i] == v:
                    keys.append(b.key[i])
                e = b.nxo[i]
            k = len(keys)
            while k in keys:
                k += 1
            return k
        idx = self.pairs.get(u)
        if idx is None:  # target -> one past its largest key (the count, where keys are 0, 1, ...)
            idx = self.pairs[u] = {}
            for e in self.out_ids(u):
                _s, d, key = self.ends(e)
                idx[d] = max(idx.get(d, 0), key + 1)
        return idx.get(v, 0)

    def add_edge(self, u: int, v: int, rel: int, vf: float, vt: float, rec: float, source: Any, conf: float,
                 props: dict[str, Any], key: int | None = None) -> int:
        e = self.ne
        if e >= (1 << 31) - 1:
            raise GraphError("the graph holds 2**31 - 1 edges, its most")
        mk, sh, nb = self.mk, self.sh, self.nb
        iu, iv = u & mk, v & mk
        bu = nb[u >> sh] or self.load(u >> sh, True)
        if key is not None:
            k = key
        elif bu.deg[iu]:
            k = self.next_key(u, v)
        else:  # no edge out of u yet (edges are never removed): networkx's first key
            k = 0
        if bu.deg[iu] >= _PAIR_INDEX_AT:  # (only such a node has a pair index: a degree never falls)
            idx = self.pairs.get(u)
            if idx is not None:
                idx[v] = max(idx.get(v, 0), k + 1)
        bv = nb[v >> sh] or self.load(v >> sh, True)
        blk = e >> sh
        if blk == len(self.eb):
            self.eb.append(_EB())
            self.re += 1
            self.tick += 1
            self.used_e.append(self.tick)
            self.row_e.append(0)
        b = self.eb[blk]
        assert b is not None  # the last block never moves out
        b.src.append(u)
        b.dst.append(v)
        try:
            b.rel.append(rel)
        except OverflowError:
            _push(b, "rel", rel)
        try:
            b.key.append(k)
        except OverflowError:
            _push(b, "key", k)
        b.vf.append(vf)
        b.vt.append(vt)
        col = b.rec  # _Coded.append, inline for the common case: a value already in the table
        ci = col.index
        c = ci.get(rec) if ci is not None and rec else None
        if c is None:
            col.append(rec)
        else:
            col.codes.append(c)
        col = b.conf
        ci = col.index
        c = ci.get(conf) if ci is not None and conf else None
        if c is None:
            col.append(conf)
        else:
            col.codes.append(c)
        c = source if type(source) is int and 0 <= source <= _MAX_SRC else self.src_code(e, source)
        try:
            b.srcid.append(c)
        except OverflowError:
            _push(b, "srcid", c)
        if props:
            _put_props(b, props)
        else:
            b.shape.append(0)
            b.row.append(0)
        b.nxo.append(bu.hout[iu])
        bu.hout[iu] = e
        b.nxi.append(bv.hin[iv])
        bv.hin[iv] = e
        bu.deg[iu] += 1
        b.dirty = bu.dirty = bv.dirty = True
        self.ne = e + 1
        return e

    def add_node(self, node_id: str, kind: int, props: dict[str, Any]) -> int:
        i = self.nn
        blk = i >> self.sh
        if blk == len(self.nb):
            self.nb.append(_NB())
            self.rn += 1
            self.tick += 1
            self.used_n.append(self.tick)
            self.row_n.append(0)
            self.named.append(0)
        b = self.nb[blk]
        assert b is not None  # the last block never moves out
        names = b.names
        if names is None:  # a block kept as text (only full ones are) grows: back to a list
            names = b.names = _block_names(b)
            b.text = b.off = None
        names.append(node_id)
        self.grow[node_id] = i
        if type(node_id) is not str and _salted(node_id):
            self.salted = True
        self.miss = _NO_MISS
        b.kind.append(kind)
        _put_props(b, props)
        b.hout.append(-1)
        b.hin.append(-1)
        b.deg.append(0)
        b.dirty = True
        self.nn = i + 1
        if len(names) == 1 << self.sh:  # the block is full: its ids go to the index, the next block starts
            self.index_growing()
            self.grow = {}
            _freeze_names(b)
        return i

    def edge_dict(self, e: int, b: _EB | None = None) -> dict[str, Any]:
        if b is None:
            b = self.E(e)
        i = e & self.mk
        vt = b.vt[i]
        d = {"relation": self.rels[b.rel[i]], "valid_from": b.vf[i], "valid_to": None if vt != vt else vt,
             "recorded_at": b.rec[i], "source": self.source(b, e), "confidence": b.conf[i]}
        s = b.shape[i]
        if s:
            d.update(_props(b, s, b.row[i]))
        return d

    def node_dict(self, i: int, b: _NB | None = None) -> dict[str, Any]:
        if b is None:
            b = self.N(i)
        j = i & self.mk
        d = {"kind": _KINDS[b.kind[j]]}
        d.update(_props(b, b.shape[j], b.row[j]))
        return d

    def columns(self, names: tuple[str, ...]) -> dict[str, Any]:
        """Edge columns ``names`` over every edge, as numpy arrays (a scan: paged blocks are read, not kept)."""
        import numpy as np

        out: dict[str, list] = {n: [] for n in names}
        for b in self.blocks(False):
            for n in names:
                out[n].append(np.frombuffer(getattr(b, n), np.dtype(getattr(b, n).typecode)))
        return {n: (np.concatenate(v) if v else np.zeros(0)) for n, v in out.items()}


# ---------------------------------------------------------------------- edge views
def _get_rel(s: _Store, b: _EB, e: int) -> Any:
    return s.rels[b.rel[e & s.mk]]


def _get_vt(s: _Store, b: _EB, e: int) -> Any:
    vt = b.vt[e & s.mk]
    return None if vt != vt else vt


_GETTERS = {
    "relation": _get_rel,
    "valid_from": lambda s, b, e: b.vf[e & s.mk],
    "valid_to": _get_vt,
    "recorded_at": lambda s, b, e: b.rec[e & s.mk],
    "source": lambda s, b, e: s.source(b, e),
    "confidence": lambda s, b, e: b.conf[e & s.mk],
}


def _time(v: Any, name: str) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise GraphError(f"{name} must be a number, got {v!r}") from None
    if f != f:
        raise GraphError(f"{name} must be a number, got NaN")
    return f


def _set_vt(s: _Store, b: _EB, e: int, v: Any) -> None:
    b.vt[e & s.mk] = math.nan if v is None else _time(v, "valid_to")


def _set_conf(s: _Store, b: _EB, e: int, v: Any) -> None:
    b.conf[e & s.mk] = v if type(v) is float and v == v else _time(v, "confidence")


_BITEMPORAL = frozenset(_GETTERS)

_SETTERS = {
    "relation": lambda s, b, e, v: _put(b, "rel", e & s.mk, s.rel(v)),
    "valid_from": lambda s, b, e, v: b.vf.__setitem__(e & s.mk, _time(v, "valid_from")),
    "valid_to": _set_vt,
    "recorded_at": lambda s, b, e, v: b.rec.__setitem__(e & s.mk, _time(v, "recorded_at")),
    "source": lambda s, b, e, v: s.set_source(b, e, v),
    "confidence": _set_conf,
}


class EdgeData(MutableMapping):
    """The data of one edge: a live view that reads and writes like a dict (``d["valid_to"]``,
    ``d["position"] = p``, ``dict(d)``), holding only the graph's storage and the edge's row
    number ``id``. Two views of one edge are equal; a view equals a dict with the same items.
    The bi-temporal fields (``relation``, ``valid_from``, ``valid_to``, ``recorded_at``, ``source``,
    ``confidence``) cannot be deleted; times and confidence must be numbers (not NaN). A view of an
    edge whose block is paged out reads it back on its next access."""

    __slots__ = ("_s", "id")

    def __init__(self, store: _Store, edge_id: int) -> None:
        self._s = store
        self.id = edge_id

    def __reduce__(self) -> tuple:
        return (EdgeData, (self._s, self.id))

    def __getitem__(self, key: str) -> Any:
        s = self._s
        e = self.id
        b = s.eb[e >> s.sh] or s.load(e >> s.sh, False)
        i = e & s.mk
        c = b.shapes[b.shape[i]].colmap.get(key)
        if c is not None:
            return c.getter(b.row[i])
        g = _GETTERS.get(key)
        if g is None:
            raise KeyError(key)
        return g(s, b, e)

    def __setitem__(self, key: str, value: Any) -> None:
        s = self._s
        e = self.id
        b = s.eb[e >> s.sh] or s.load(e >> s.sh, False)
        i = e & s.mk
        c = b.shapes[b.shape[i]].colmap.get(key)
        b.dirty = True
        if c is not None:
            c.set(b.row[i], value)
            return
        f = _SETTERS.get(key)
        if f is not None:
            f(s, b, e, value)
        else:
            _set_prop(b, i, key, value)

    def __delitem__(self, key: str) -> None:
        if key in _GETTERS:
            raise GraphError(f"an edge's {key!r} cannot be deleted (facts are closed, never erased)")
        s = self._s
        b = s.E(self.id)
        _del_prop(b, self.id & s.mk, key)
        b.dirty = True

    def _names(self) -> tuple[str, ...]:
        s = self._s
        b = s.E(self.id)
        return b.shapes[b.shape[self.id & s.mk]].names

    def __contains__(self, key: object) -> bool:
        if key in _GETTERS:
            return True
        return key in self._names()

    def __iter__(self) -> Iterator[str]:
        yield from _CORE
        yield from self._names()

    def __len__(self) -> int:
        return len(_CORE) + len(self._names())

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EdgeData) and other._s is self._s:
            return other.id == self.id
        if isinstance(other, Mapping):
            return self._s.edge_dict(self.id) == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dict it replaces

    def copy(self) -> dict[str, Any]:
        return self._s.edge_dict(self.id)

    def __repr__(self) -> str:
        return f"EdgeData({self._s.edge_dict(self.id)!r})"


# ---------------------------------------------------------------------- the graph
class MemoryGraph:
    """Typed, bi-temporal knowledge graph. Node ids are strings; edges are keyed per (u, v)."""

    def __init__(self) -> None:
        self._s = _Store()

    def adopt(self, other: MemoryGraph) -> None:
        """Take ``other``'s contents (a graph restored from a snapshot) into this graph object; views
        of ``other``'s edges stay valid and now read this graph."""
        st = getattr(other, "_s", None)
        if not isinstance(st, _Store):
            raise GraphError("not a graph of this version (its storage is missing)")
        self._s = st

    # ------------------------------------------------------------------ long-term pages
    def use_long_term(self, store: Any, cap: int | None = None) -> None:
        """Keep the graph's blocks (1024 nodes or edges each) within about ``cap`` bytes of RAM
        (default: the store's ``graph`` share of the budget), the blocks used longest ago in
        ``store``'s ``lt_graph`` table, read back by the first query that touches them (answers
        are unchanged). ``store`` None: every block in RAM."""
        from .memory.longterm import Pages

        s = self._s
        if store is None:
            s.pages, s.cap = None, 0
            return
        cap = int(cap if cap is not None else store.sizes.get("graph", 0))
        s.pages = Pages(store, cap)
        least = (_MIN_BLOCKS * ((_BYTES_PER_NODE + _BYTES_PER_ID + _BYTES_PER_EDGE) << s.sh)
                 + 2 * _MIN_BLOCKS * _BYTES_PER_BLOCK + _BYTES_FIXED)  # room for the growing blocks
        s.cap = s.floor = max(cap, least)

    @property
    def pages(self) -> Any:
        """The graph's handle on the long-term store (None: no RAM budget, every block in RAM)."""
        return self._s.pages

    def ram_bytes(self) -> int:
        """Estimated bytes of RAM the graph holds (its resident blocks)."""
        return self._s.cost()

    def paged_out(self) -> tuple[int, int]:
        """(nodes, edges) whose blocks are in the long-term table now, not in RAM."""
        s = self._s
        n = sum(min(1 << s.sh, s.nn - (k << s.sh)) for k, b in enumerate(s.nb) if b is None and k not in s.lz_n)
        e = sum(min(1 << s.sh, s.ne - (k << s.sh)) for k, b in enumerate(s.eb) if b is None and k not in s.lz_e)
        return n, e

    def fit(self, room: int) -> None:
        """Keep the resident blocks within ``room`` bytes from now on (at least the graph's own share
        of the budget, and room for a few blocks: the growing ones and those a query reads), moving
        the ones used longest ago out now. No effect without long-term pages."""
        s = self._s
        if s.pages is None:
            return
        s.cap = max(int(room), s.floor)
        s.trim()

    def settle(self) -> None:
        """Move blocks out to the long-term table until the resident ones fit the cap (called by
        the writers and readers; cheap when they fit)."""
        self._s.trim()

    # ------------------------------------------------------------------ nodes
    def add_node(self, node_id: str, kind: str, **props: Any) -> str:
        """Add (or update the properties of) a node of ``kind``. Returns its id."""
        k = _KIND_ID.get(kind) if isinstance(kind, str) else None
        if k is None:
            raise GraphError(f"node kind must be one of {sorted(NODE_KINDS)}, got {kind!r}")
        s = self._s
        if s.cap:
            s.trim()
        # an id just asked about (``in``) and not found, nothing added since: not a node (unless paged out)
        i = None if node_id is s.miss and not s.paged_names else s.find(node_id)
        if i is not None:
            b = s.N(i)
            j = i & s.mk
            existing = _KINDS[b.kind[j]]
            if existing != kind:
                raise GraphError(f"node {node_id!r} already exists with kind {existing!r}, not {kind!r}")
            if props:
                b.dirty = True
                for name, v in props.items():
                    _set_prop(b, j, name, v)
        else:
            s.add_node(node_id, k, props)
        return node_id

    def nodes(self, kind: str | None = None) -> list[str]:
        """Node ids (of ``kind``), in the order they were added."""
        s = self._s
        k = None
        if kind is not None:
            k = _KIND_ID.get(kind)
            if k is None:
                return []
        out: list[str] = []
        for b in s.blocks(True):
            if k is None:
                out.extend(_block_names(b))
            else:
                out.extend(n for n, kk in zip(_block_names(b), b.kind) if kk == k)
        return out

    def node(self, node_id: str) -> dict[str, Any]:
        """The node's ``kind`` and properties, as a new dict (changing it does not change the graph:
        use ``add_node`` with the same kind to update properties)."""
        s = self._s
        if s.cap:
            s.trim()
        i = s.find(node_id)
        if i is None:
            raise GraphError(f"no node {node_id!r} in the memory graph")
        return s.node_dict(i)

    def __contains__(self, node_id: object) -> bool:
        try:
            s = self._s
            return node_id in s.hot or node_id in s.grow or s.find(node_id) is not None
        except TypeError:  # unhashable: never a node
            return False

    def __len__(self) -> int:
        return self._s.nn

    def number_of_nodes(self) -> int:
        return self._s.nn

    def number_of_edges(self) -> int:
        return self._s.ne

    def edge_data(self, edge_id: int) -> EdgeData:
        """The live data view of edge number ``edge_id`` (``EdgeData.id``; edges are numbered 0, 1, ...
        in the order they were added, and never renumbered: keeping the int is enough to find it)."""
        if type(edge_id) is not int or not 0 <= edge_id < self._s.ne:
            raise GraphError(f"no edge number {edge_id!r} (the graph has {self._s.ne} edges)")
        return EdgeData(self._s, edge_id)

    def set_edges_field(self, edge_ids: Sequence[int], name: str, value: Any) -> None:
        """Set ``name`` of every edge numbered in ``edge_ids`` to ``value`` (as ``edge_data(e)[name] =
        value`` for each, in one call: a memory module updating many facts at once -- e.g. every
        object seen again in one percept gets the percept's ``last_seen`` -- pays one call, not one
        per edge). An edge number that does not exist raises :class:`GraphError` before anything is
        written; a bad value for a bi-temporal field raises as ``EdgeData`` does."""
        s = self._s
        if not len(edge_ids):
            return
        n = s.ne
        lo, hi = min(edge_ids), max(edge_ids)
        if type(lo) is not int or type(hi) is not int or lo < 0 or hi >= n:
            bad = next((e for e in edge_ids if type(e) is not int or not 0 <= e < n), lo)
            raise GraphError(f"no edge number {bad!r} (the graph has {n} edges)")
        if name in _SETTERS:
            for e in edge_ids:
                EdgeData(s, e)[name] = value
            return
        eb, sh, mk = s.eb, s.sh, s.mk
        lb, last, col, fast, data = None, -1, None, False, None
        fv = type(value) is float
        for e in edge_ids:
            b = eb[e >> sh] or s.load(e >> sh, False)
            i = e & mk
            shp = b.shape[i]
            if b is not lb or shp != last:
                lb, last = b, shp
                b.dirty = True
                col = b.shapes[shp].colmap.get(name)
                fast = col is not None and fv and col.kind == "d"
                data = col.data if fast else None
            if fast:
                data[b.row[i]] = value  # type: ignore[index]
            elif col is not None:
                col.set(b.row[i], value)
                if col.kind != "d":  # the column may have changed its kind: look it up again
                    last = -1
            else:
                _set_prop(b, i, name, value)
                last = -1

    # ------------------------------------------------------------------ edges
    def add_edge(
        self,
        u: str,
        v: str,
        relation: str,
        *,
        valid_from: float,
        source: str | int | None,
        confidence: float = 1.0,
        recorded_at: float,
        **props: Any,
    ) -> EdgeData:
        """Add a fact ``u --relation--> v`` valid from ``valid_from``; returns its (live) data view."""
        s = self._s
        if s.cap:
            s.trim()
        hot, grow = s.hot, s.grow
        a, b = hot.get(u), hot.get(v)  # nodes used lately or new; find() also reads paged-out names back
        if a is None:
            a = grow.get(u)
            if a is None:
                a = s.find(u)
        if b is None:
            b = grow.get(v)
            if b is None:
                b = s.find(v)
        if a is None or b is None:
            raise GraphError(f"edge endpoint {u if a is None else v!r} is not a node; add it first")
        if props and not _BITEMPORAL.isdisjoint(props):
            k = next(k for k in props if k in _BITEMPORAL)
            raise GraphError(f"edge property {k!r} is one of the bi-temporal fields; pass it as such")
        r = s.rel_ids.get(relation)
        # floats (not NaN) as they come; anything else through _time (converted, or GraphError)
        vf = valid_from if type(valid_from) is float and valid_from == valid_from else _time(valid_from, "valid_from")
        rec = recorded_at if type(recorded_at) is float and recorded_at == recorded_at else _time(recorded_at,
                                                                                                  "recorded_at")
        conf = confidence if type(confidence) is float and confidence == confidence else _time(confidence,
                                                                                               "confidence")
        e = s.add_edge(a, b, s.rel(relation) if r is None else r, vf, math.nan, rec, source, conf, props)
        return EdgeData(s, e)

    @staticmethod
    def invalidate_data(data: Mapping[str, Any], t: float) -> None:
        """Close an edge's validity at ``t`` (clamped to ``valid_from``). No-op if already closed.
        ``data`` is an edge's :class:`EdgeData` (or a plain dict of the same fields)."""
        if type(data) is EdgeData:
            s, e = data._s, data.id
            b = s.E(e)
            i = e & s.mk
            if b.vt[i] != b.vt[i]:
                b.vt[i] = max(_time(t, "t"), b.vf[i])
                b.dirty = True
            return
        if data["valid_to"] is None:
            data["valid_to"] = max(float(t), data["valid_from"])  # type: ignore[index]

    def invalidate(self, u: str, v: str, key: int, t: float) -> None:
        s = self._s
        a, b = s.find(u), s.find(v)
        e = -1
        if a is not None and b is not None:
            for x in s.out_ids(a):
                _src, d, k = s.ends(x)
                if d == b and k == key:
                    e = x
                    break
        if e < 0:
            raise GraphError(f"no edge {u!r} -> {v!r} with key {key}")
        self.invalidate_data(EdgeData(s, e), t)

    @staticmethod
    def valid_at(data: Mapping[str, Any], t: float | None) -> bool:
        """True when the fact holds at ``t`` (``valid_from <= t < valid_to``); ``t=None`` means now."""
        if type(data) is EdgeData:
            s, e = data._s, data.id
            b = s.eb[e >> s.sh] or s.load(e >> s.sh, False)
            i = e & s.mk
            vt = b.vt[i]
            if t is None:
                return vt != vt
            return b.vf[i] <= t and (vt != vt or vt > t)
        if t is None:
            return data["valid_to"] is None
        vt = data["valid_to"]
        return data["valid_from"] <= t and (vt is None or vt > t)

    def _order(self, cols: dict[str, Any]) -> Any:
        """Every edge id in networkx's order (by source node, then target as first linked, then key),
        from the columns ``src``, ``dst``, ``key`` of a scan."""
        import numpy as np

        src, dst, key = cols["src"], cols["dst"], cols["key"]
        if not len(src):
            return np.zeros(0, np.int64)
        pair = src.astype(np.int64) * max(self._s.nn, 1) + dst
        _, first_idx, inv = np.unique(pair, return_index=True, return_inverse=True)
        first = first_idx[inv.reshape(-1)]  # np.unique returns the first occurrence: the pair's first edge
        return np.lexsort((key, first, src))

    def _edge_ids(self, u: str | None) -> list[int]:
        """Edge ids in networkx's order (by source node, then target as first linked, then key)."""
        s = self._s
        if u is not None:
            a = s.find(u)
            return [] if a is None else s.nx_order(s.out_ids(a))  # not a node: no edges
        return self._order(s.columns(("src", "dst", "key"))).tolist()

    def edges(
        self, u: str | None = None, relation: str | None = None, at: float | None = None, current: bool = False
    ) -> Iterator[tuple[str, str, int, EdgeData]]:
        """Edges (u, v, key, data), optionally from ``u``, of ``relation``, valid at ``at`` or now.
        ``data`` is a live :class:`EdgeData` view. Without ``u``, a scan of the whole graph (with a
        RAM budget, paged-out blocks are read for it and not kept)."""
        s = self._s
        if s.cap:
            s.trim()
        rel = -2
        if relation is not None:
            rel = s.rel_ids.get(relation, -1)
            if rel < 0:
                return
        if u is not None:
            a = s.find(u)
            if a is None:
                return
            name_u = s.name(a)
            for e in s.nx_order(s.out_ids(a)):
                b = s.E(e)
                i = e & s.mk
                if rel >= 0 and b.rel[i] != rel:
                    continue
                end = b.vt[i]
                if current and end == end:
                    continue
                if at is not None and not (b.vf[i] <= at and (end != end or end > at)):
                    continue
                yield name_u, s.name(b.dst[i]), b.key[i], EdgeData(s, e)
            return
        import numpy as np

        cols = s.columns(("src", "dst", "key", "rel", "vf", "vt"))
        order = self._order(cols)
        keep = np.ones(len(order), bool)
        vf, vt = cols["vf"], cols["vt"]
        with np.errstate(invalid="ignore"):
            if rel >= 0:
                keep &= cols["rel"] == rel
            if current:
                keep &= np.isnan(vt)
            if at is not None:
                keep &= (vf <= at) & (np.isnan(vt) | (vt > at))
        order = order[keep[order]]
        if not len(order):
            return
        names = self.nodes()
        src, dst, key = cols["src"].tolist(), cols["dst"].tolist(), cols["key"].tolist()
        for e in order.tolist():
            yield names[src[e]], names[dst[e]], key[e], EdgeData(s, e)

    def history(self, node_id: str) -> list[dict[str, Any]]:
        """Every fact touching ``node_id`` (in and out, valid or invalidated), by ``valid_from``."""
        s = self._s
        if s.cap:
            s.trim()
        i = s.find(node_id)
        if i is None:
            raise GraphError(f"no node {node_id!r} in the memory graph")
        out = []
        for e in s.nx_order(s.out_ids(i)) + self._in_nx_order(i):
            u, v, k = s.ends(e)
            out.append({"u": s.name(u), "v": s.name(v), "key": k, **s.edge_dict(e)})
        out.sort(key=lambda e: (e["valid_from"], e["recorded_at"]))
        return out

    def _in_nx_order(self, v: int) -> list[int]:
        """Edges into ``v`` as networkx lists them: by source (in the order each first linked to
        ``v``), then key. (Self-loops appear among the out-edges too; ``history`` lists them twice,
        as networkx did.)"""
        s = self._s
        ids = s.in_ids(v)
        info = {e: s.ends(e) for e in ids}
        first: dict[int, int] = {}
        for e in ids:
            first.setdefault(info[e][0], e)
        return sorted(ids, key=lambda e: (first[info[e][0]], info[e][2]))

    def _scan(self) -> tuple[list[Any], list[Any], list[str]]:
        """Every node block, every edge block and every node id (a whole-graph read: paged blocks are
        read for it and not kept)."""
        s = self._s
        nbs, ebs = s.blocks(True), s.blocks(False)
        names = [n for b in nbs for n in _block_names(b)]
        return nbs, ebs, names

    def as_of(self, t: float) -> MemoryGraph:
        """A new graph holding the facts valid at ``t`` and the nodes created at or before ``t``."""
        s = self._s
        nbs, ebs, names = self._scan()
        g = MemoryGraph()
        gs = g._s
        mk, sh = s.mk, s.sh
        remap = array("i", [-1]) * len(names)
        for i, name in enumerate(names):
            b, j = nbs[i >> sh], i & mk
            d = _props(b, b.shape[j], b.row[j])
            created = d.get("created")
            if created is None or created <= t:
                remap[i] = gs.add_node(name, b.kind[j], d)
        if not s.ne:
            return g
        import numpy as np

        cols = s.columns(("src", "dst", "key", "vf", "vt"))
        vf, vt = cols["vf"], cols["vt"]
        rm = np.frombuffer(remap, np.int32)
        with np.errstate(invalid="ignore"):
            keep = (vf <= t) & (np.isnan(vt) | (vt > t))
        keep &= (rm[cols["src"]] >= 0) & (rm[cols["dst"]] >= 0)
        order = self._order(cols)  # networkx's order, as the old copy was made
        for e in order[keep[order]].tolist():
            b, j = ebs[e >> sh], e & mk
            props = _props(b, b.shape[j], b.row[j]) if b.shape[j] else {}
            gs.add_edge(remap[b.src[j]], remap[b.dst[j]], gs.rel(s.rels[b.rel[j]]), b.vf[j], b.vt[j],
                        b.rec[j], s.source(b, e), b.conf[j], props, key=b.key[j])
        return g

    # ------------------------------------------------------------------ export
    def _export(self) -> Iterator[tuple[str, Any, Any]]:
        """("node", id, dict) for every node in order, then ("edge", (u, v, key), dict) for every edge
        in networkx's order: what every export writes."""
        s = self._s
        nbs, ebs, names = self._scan()
        mk, sh = s.mk, s.sh
        for i, n in enumerate(names):
            yield "node", n, s.node_dict(i, nbs[i >> sh])
        if not s.ne:
            return
        for e in self._order(s.columns(("src", "dst", "key"))).tolist():
            b, j = ebs[e >> sh], e & mk
            yield "edge", (names[b.src[j]], names[b.dst[j]], b.key[j]), s.edge_dict(e, b)

    def to_nx(self) -> nx.MultiDiGraph:
        """A networkx ``MultiDiGraph`` copy of the graph (same ids, keys, attributes and iteration
        order as the graph's own ``nodes``/``edges``). Costs O(nodes + edges) time and about 1 KB of
        RAM per edge; changes to the copy do not reach the graph."""
        import networkx

        g = networkx.MultiDiGraph()
        for what, x, d in self._export():
            if what == "node":
                g.add_node(x, **d)
            else:
                g.add_edge(x[0], x[1], key=x[2], **d)
        return g

    @property
    def nx(self) -> nx.MultiDiGraph:
        """A networkx copy of the graph, built on each access (see ``to_nx``): for export and
        analysis, not for lookups (use ``in``, ``node``, ``edges``, ``number_of_nodes``)."""
        return self.to_nx()

    def to_dict(self) -> dict[str, Any]:
        """Node-link JSON form (networkx ``node_link_data`` layout), positions as lists."""
        nodes, edges = [], []
        for what, x, d in self._export():
            if what == "node":
                nodes.append({**d, "id": x})
            else:
                edges.append({**d, "source": x[0], "target": x[1], "key": x[2]})
        return {"directed": True, "multigraph": True, "graph": {}, "nodes": nodes, "edges": edges}

    def to_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), default=_jsonable))
        return path

    def to_graphml(self, path: str | Path) -> Path:
        """Write GraphML. None values are dropped (GraphML has no null); tuples become JSON strings;
        characters XML cannot hold (NUL and other control characters, lone surrogates) are written
        as the text ``\\u`` and four hex digits, so that every export reads back."""
        import networkx as nx

        g = nx.MultiDiGraph()
        for what, x, d in self._export():
            if what == "node":
                g.add_node(_xml_text(x), **_graphml_attrs(d))
            else:
                g.add_edge(_xml_text(x[0]), _xml_text(x[1]), key=_xml_text(x[2]), **_graphml_attrs(d))
        path = Path(path)
        nx.write_graphml(g, path)
        return path


def _jsonable(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    return str(o)


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(v: Any) -> Any:
    if isinstance(v, str) and _NOT_XML.search(v):
        return _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", v)
    return v


def _graphml_attrs(d: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if v is None:
            continue
        if isinstance(v, (bool, int, float, str)):
            out[_xml_text(k)] = _xml_text(v)
        else:
            out[_xml_text(k)] = json.dumps(v, default=_jsonable)
    return out
