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

import json
import math
import re
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
        if k == "s" and (t is str or v is None):
            self.data.append(self._code(v))
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
            c.append(v)
        self.n += 1
        return self.n - 1


# ---------------------------------------------------------------------- storage
class _Store:
    """All of a graph's data, in arrays. Edge views point here, so a graph that adopts another's
    store (a snapshot being restored) keeps every view valid."""

    __slots__ = (
        "names", "ids", "n_kind", "n_shape", "n_row", "head_out", "head_in", "out_deg",
        "e_src", "e_dst", "e_rel", "e_key", "e_vf", "e_vt", "e_rec", "e_conf", "e_srcid", "e_shape", "e_row",
        "next_out", "next_in", "rels", "rel_ids", "strs", "str_ids", "other_src", "shapes", "shape_ids", "pairs",
    )

    def __init__(self) -> None:
        self.names: list[str] = []  # node index -> id
        self.ids: dict[str, int] = {}  # node id -> index
        self.n_kind = array("b")
        self.n_shape = array("i")
        self.n_row = array("i")
        self.head_out = array("i")  # last edge out of the node, -1: none (chain through next_out)
        self.head_in = array("i")
        self.out_deg = array("i")
        self.e_src = array("i")
        self.e_dst = array("i")
        self.e_rel = array("i")
        self.e_key = array("i")
        self.e_vf = array("d")
        self.e_vt = array("d")  # NaN: still valid (valid_to None)
        self.e_rec = array("d")
        self.e_conf = array("d")
        self.e_srcid = array("q")
        self.e_shape = array("i")
        self.e_row = array("i")
        self.next_out = array("i")  # the previous edge out of the same node, -1: none
        self.next_in = array("i")
        self.rels: list[str] = []
        self.rel_ids: dict[str, int] = {}
        self.strs: list[str] = []  # string sources
        self.str_ids: dict[str, int] = {}
        self.other_src: dict[int, Any] = {}  # edge -> a source that is neither str, None nor an int >= 0
        self.shapes: list[_Shape] = [_Shape(())]  # 0: no properties
        self.shape_ids: dict[tuple[str, ...], int] = {(): 0}
        self.pairs: dict[int, dict[int, int]] = {}  # high out-degree node -> {target: edges}, rebuilt lazily

    # -------------------------------------------------------------- pickling: columns as buffers
    _ARRAYS = ("n_kind", "n_shape", "n_row", "head_out", "head_in", "out_deg", "e_src", "e_dst", "e_rel", "e_key",
               "e_vf", "e_vt", "e_rec", "e_conf", "e_srcid", "e_shape", "e_row", "next_out", "next_in")

    def __getstate__(self) -> dict[str, Any]:
        st: dict[str, Any] = {k: getattr(self, k) for k in self._ARRAYS}
        st["names"] = self.names
        st["rels"] = self.rels
        st["strs"] = self.strs
        st["other_src"] = self.other_src
        st["shapes"] = [(s.names, s.n, [c.state() for c in s.cols]) for s in self.shapes]
        st["version"] = 1
        return st

    def __setstate__(self, st: dict[str, Any]) -> None:
        if not isinstance(st, dict) or st.get("version") != 1:
            raise GraphError("graph state of another format version")
        self.__init__()  # type: ignore[misc]
        for k in self._ARRAYS:
            setattr(self, k, st[k])
        self.names, self.rels, self.strs, self.other_src = st["names"], st["rels"], st["strs"], st["other_src"]
        self.ids = dict(zip(self.names, range(len(self.names))))
        self.rel_ids = dict(zip(self.rels, range(len(self.rels))))
        self.str_ids = dict(zip(self.strs, range(len(self.strs))))
        self.shapes, self.shape_ids = [], {}
        for names, n, cols in st["shapes"]:
            sh = _Shape(tuple(names), [_Col.from_state(c) for c in cols], n)
            self.shape_ids[sh.names] = len(self.shapes)
            self.shapes.append(sh)

    # -------------------------------------------------------------- helpers
    def shape(self, names: tuple[str, ...]) -> int:
        s = self.shape_ids.get(names)
        if s is None:
            s = self.shape_ids[names] = len(self.shapes)
            self.shapes.append(_Shape(names))
        return s

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

    def source(self, e: int) -> Any:
        c = self.e_srcid[e]
        if c >= 0:
            return c
        if c == _NONE_SRC:
            return None
        if c == _OTHER_SRC:
            return self.other_src[e]
        return self.strs[-3 - c]

    def set_source(self, e: int, source: Any) -> None:
        self.other_src.pop(e, None)
        self.e_srcid[e] = self.src_code(e, source)

    def out_ids(self, u: int) -> list[int]:
        """Edges out of node ``u`` in the order they were added."""
        out, e, nxt = [], self.head_out[u], self.next_out
        while e >= 0:
            out.append(e)
            e = nxt[e]
        out.reverse()
        return out

    def in_ids(self, v: int) -> list[int]:
        out, e, nxt = [], self.head_in[v], self.next_in
        while e >= 0:
            out.append(e)
            e = nxt[e]
        out.reverse()
        return out

    def nx_order(self, ids: list[int]) -> list[int]:
        """Edges of one source node in networkx's order: by target in the order each target was
        first linked, then by key."""
        first: dict[int, int] = {}
        dst = self.e_dst
        for e in ids:
            first.setdefault(dst[e], e)
        return sorted(ids, key=lambda e: (first[dst[e]], self.e_key[e]))

    def next_key(self, u: int, v: int) -> int:
        """networkx's key for a new edge u -> v: the number of u -> v edges, raised past any key in use."""
        if self.out_deg[u] < _PAIR_INDEX_AT:
            dst, key, keys = self.e_dst, self.e_key, []
            e, nxt = self.head_out[u], self.next_out
            while e >= 0:
                if dst[e] == v:
                    keys.append(key[e])
                e = nxt[e]
            k = len(keys)
            while k in keys:
                k += 1
            return k
        idx = self.pairs.get(u)
        if idx is None:  # target -> one past its largest key (the count, where keys are 0, 1, ...)
            idx = self.pairs[u] = {}
            for e in self.out_ids(u):
                d = self.e_dst[e]
                idx[d] = max(idx.get(d, 0), self.e_key[e] + 1)
        return idx.get(v, 0)

    def add_edge(self, u: int, v: int, rel: int, vf: float, vt: float, rec: float, source: Any, conf: float,
                 props: dict[str, Any], key: int | None = None) -> int:
        e = len(self.e_src)
        if e >= (1 << 31) - 1:
            raise GraphError("the graph holds 2**31 - 1 edges, its most")
        k = self.next_key(u, v) if key is None else key
        idx = self.pairs.get(u)
        if idx is not None:
            idx[v] = max(idx.get(v, 0), k + 1)
        self.e_src.append(u)
        self.e_dst.append(v)
        self.e_rel.append(rel)
        self.e_key.append(k)
        self.e_vf.append(vf)
        self.e_vt.append(vt)
        self.e_rec.append(rec)
        self.e_conf.append(conf)
        self.e_srcid.append(self.src_code(e, source))
        s = self.shape(tuple(props)) if props else 0
        self.e_shape.append(s)
        self.e_row.append(self.shapes[s].add(props.values()) if props else 0)
        self.next_out.append(self.head_out[u])
        self.head_out[u] = e
        self.next_in.append(self.head_in[v])
        self.head_in[v] = e
        self.out_deg[u] += 1
        return e

    def add_node(self, node_id: str, kind: int, props: dict[str, Any]) -> int:
        i = len(self.names)
        self.names.append(node_id)
        self.ids[node_id] = i
        self.n_kind.append(kind)
        s = self.shape(tuple(props))
        self.n_shape.append(s)
        self.n_row.append(self.shapes[s].add(props.values()))
        self.head_out.append(-1)
        self.head_in.append(-1)
        self.out_deg.append(0)
        return i

    def props(self, shape: int, row: int) -> dict[str, Any]:
        sh = self.shapes[shape]
        return {k: c.get(row) for k, c in zip(sh.names, sh.cols)}

    def set_prop(self, shapes: array, rows: array, i: int, name: str, value: Any) -> None:
        """Set property ``name`` of row ``i`` (a node or an edge: ``shapes``/``rows`` are its columns);
        a name the row does not have yet moves it to the table of its new set of names."""
        sh = self.shapes[shapes[i]]
        j = sh.pos.get(name)
        if j is not None:
            sh.cols[j].set(rows[i], value)
            return
        d = self.props(shapes[i], rows[i]) if sh.names else {}
        d[name] = value
        s = self.shape(tuple(d))
        shapes[i] = s
        rows[i] = self.shapes[s].add(d.values())

    def del_prop(self, shapes: array, rows: array, i: int, name: str) -> None:
        d = self.props(shapes[i], rows[i])
        del d[name]  # KeyError when absent, as a dict
        s = self.shape(tuple(d))
        shapes[i] = s
        rows[i] = self.shapes[s].add(d.values())

    def edge_dict(self, e: int) -> dict[str, Any]:
        vt = self.e_vt[e]
        d = {"relation": self.rels[self.e_rel[e]], "valid_from": self.e_vf[e], "valid_to": None if vt != vt else vt,
             "recorded_at": self.e_rec[e], "source": self.source(e), "confidence": self.e_conf[e]}
        s = self.e_shape[e]
        if s:
            d.update(self.props(s, self.e_row[e]))
        return d

    def node_dict(self, i: int) -> dict[str, Any]:
        d = {"kind": _KINDS[self.n_kind[i]]}
        d.update(self.props(self.n_shape[i], self.n_row[i]))
        return d


# ---------------------------------------------------------------------- edge views
def _get_rel(s: _Store, e: int) -> Any:
    return s.rels[s.e_rel[e]]


def _get_vt(s: _Store, e: int) -> Any:
    vt = s.e_vt[e]
    return None if vt != vt else vt


_GETTERS = {
    "relation": _get_rel,
    "valid_from": lambda s, e: s.e_vf[e],
    "valid_to": _get_vt,
    "recorded_at": lambda s, e: s.e_rec[e],
    "source": _Store.source,
    "confidence": lambda s, e: s.e_conf[e],
}


def _time(v: Any, name: str) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise GraphError(f"{name} must be a number, got {v!r}") from None
    if f != f:
        raise GraphError(f"{name} must be a number, got NaN")
    return f


def _set_vt(s: _Store, e: int, v: Any) -> None:
    s.e_vt[e] = math.nan if v is None else _time(v, "valid_to")


_SETTERS = {
    "relation": lambda s, e, v: s.e_rel.__setitem__(e, s.rel(v)),
    "valid_from": lambda s, e, v: s.e_vf.__setitem__(e, _time(v, "valid_from")),
    "valid_to": _set_vt,
    "recorded_at": lambda s, e, v: s.e_rec.__setitem__(e, _time(v, "recorded_at")),
    "source": _Store.set_source,
    "confidence": lambda s, e, v: s.e_conf.__setitem__(e, v if type(v) is float and v == v else _time(v, "confidence")),
}


class EdgeData(MutableMapping):
    """The data of one edge: a live view that reads and writes like a dict (``d["valid_to"]``,
    ``d["position"] = p``, ``dict(d)``), holding only the graph's storage and the edge's row
    number ``id``. Two views of one edge are equal; a view equals a dict with the same items.
    The bi-temporal fields (``relation``, ``valid_from``, ``valid_to``, ``recorded_at``, ``source``,
    ``confidence``) cannot be deleted; times and confidence must be numbers (not NaN)."""

    __slots__ = ("_s", "id")

    def __init__(self, store: _Store, edge_id: int) -> None:
        self._s = store
        self.id = edge_id

    def __reduce__(self) -> tuple:
        return (EdgeData, (self._s, self.id))

    def __getitem__(self, key: str) -> Any:
        s = self._s
        e = self.id
        c = s.shapes[s.e_shape[e]].colmap.get(key)
        if c is not None:
            return c.getter(s.e_row[e])
        g = _GETTERS.get(key)
        if g is None:
            raise KeyError(key)
        return g(s, e)

    def __setitem__(self, key: str, value: Any) -> None:
        s = self._s
        e = self.id
        c = s.shapes[s.e_shape[e]].colmap.get(key)
        if c is not None:
            c.set(s.e_row[e], value)
            return
        f = _SETTERS.get(key)
        if f is not None:
            f(s, e, value)
        else:
            s.set_prop(s.e_shape, s.e_row, e, key, value)

    def __delitem__(self, key: str) -> None:
        if key in _GETTERS:
            raise GraphError(f"an edge's {key!r} cannot be deleted (facts are closed, never erased)")
        s = self._s
        s.del_prop(s.e_shape, s.e_row, self.id, key)

    def __contains__(self, key: object) -> bool:
        if key in _GETTERS:
            return True
        s = self._s
        return key in s.shapes[s.e_shape[self.id]].pos

    def __iter__(self) -> Iterator[str]:
        s = self._s
        yield from _CORE
        yield from s.shapes[s.e_shape[self.id]].names

    def __len__(self) -> int:
        s = self._s
        return len(_CORE) + len(s.shapes[s.e_shape[self.id]].names)

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

    # ------------------------------------------------------------------ nodes
    def add_node(self, node_id: str, kind: str, **props: Any) -> str:
        """Add (or update the properties of) a node of ``kind``. Returns its id."""
        k = _KIND_ID.get(kind) if isinstance(kind, str) else None
        if k is None:
            raise GraphError(f"node kind must be one of {sorted(NODE_KINDS)}, got {kind!r}")
        s = self._s
        i = s.ids.get(node_id)
        if i is not None:
            existing = _KINDS[s.n_kind[i]]
            if existing != kind:
                raise GraphError(f"node {node_id!r} already exists with kind {existing!r}, not {kind!r}")
            for name, v in props.items():
                s.set_prop(s.n_shape, s.n_row, i, name, v)
        else:
            s.add_node(node_id, k, props)
        return node_id

    def nodes(self, kind: str | None = None) -> list[str]:
        """Node ids (of ``kind``), in the order they were added."""
        s = self._s
        if kind is None:
            return list(s.names)
        k = _KIND_ID.get(kind)
        if k is None:
            return []
        return [n for n, kk in zip(s.names, s.n_kind) if kk == k]

    def node(self, node_id: str) -> dict[str, Any]:
        """The node's ``kind`` and properties, as a new dict (changing it does not change the graph:
        use ``add_node`` with the same kind to update properties)."""
        s = self._s
        i = s.ids.get(node_id)
        if i is None:
            raise GraphError(f"no node {node_id!r} in the memory graph")
        return s.node_dict(i)

    def __contains__(self, node_id: object) -> bool:
        try:
            return node_id in self._s.ids
        except TypeError:  # unhashable: never a node
            return False

    def __len__(self) -> int:
        return len(self._s.names)

    def number_of_nodes(self) -> int:
        return len(self._s.names)

    def number_of_edges(self) -> int:
        return len(self._s.e_src)

    def edge_data(self, edge_id: int) -> EdgeData:
        """The live data view of edge number ``edge_id`` (``EdgeData.id``; edges are numbered 0, 1, ...
        in the order they were added, and never renumbered: keeping the int is enough to find it)."""
        if type(edge_id) is not int or not 0 <= edge_id < len(self._s.e_src):
            raise GraphError(f"no edge number {edge_id!r} (the graph has {len(self._s.e_src)} edges)")
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
        n = len(s.e_src)
        lo, hi = min(edge_ids), max(edge_ids)
        if type(lo) is not int or type(hi) is not int or lo < 0 or hi >= n:
            bad = next((e for e in edge_ids if type(e) is not int or not 0 <= e < n), lo)
            raise GraphError(f"no edge number {bad!r} (the graph has {n} edges)")
        if name in _SETTERS:
            for e in edge_ids:
                EdgeData(s, e)[name] = value
            return
        shapes, e_shape, e_row = s.shapes, s.e_shape, s.e_row
        last, col, fast = -1, None, False
        fv = type(value) is float
        for e in edge_ids:
            sh = e_shape[e]
            if sh != last:
                col = shapes[sh].colmap.get(name)
                last = sh
                fast = col is not None and fv and col.kind == "d"
                data = col.data if fast else None
            if fast:
                data[e_row[e]] = value  # type: ignore[index]
            elif col is not None:
                col.set(e_row[e], value)
                if col.kind != "d":  # the column may have changed its kind: look it up again
                    last = -1
            else:
                s.set_prop(e_shape, e_row, e, name, value)
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
        ids = s.ids
        a, b = ids.get(u), ids.get(v)
        if a is None or b is None:
            raise GraphError(f"edge endpoint {u if a is None else v!r} is not a node; add it first")
        for k in props:
            if k in _GETTERS:
                raise GraphError(f"edge property {k!r} is one of the bi-temporal fields; pass it as such")
        e = s.add_edge(a, b, s.rel(relation), _time(valid_from, "valid_from"), math.nan,
                       _time(recorded_at, "recorded_at"), source, _time(confidence, "confidence"), props)
        return EdgeData(s, e)

    @staticmethod
    def invalidate_data(data: Mapping[str, Any], t: float) -> None:
        """Close an edge's validity at ``t`` (clamped to ``valid_from``). No-op if already closed.
        ``data`` is an edge's :class:`EdgeData` (or a plain dict of the same fields)."""
        if type(data) is EdgeData:
            s, e = data._s, data.id
            if s.e_vt[e] != s.e_vt[e]:
                s.e_vt[e] = max(_time(t, "t"), s.e_vf[e])
            return
        if data["valid_to"] is None:
            data["valid_to"] = max(float(t), data["valid_from"])  # type: ignore[index]

    def invalidate(self, u: str, v: str, key: int, t: float) -> None:
        s = self._s
        a, b = s.ids.get(u), s.ids.get(v)
        e = -1
        if a is not None and b is not None:
            e = s.head_out[a]
            while e >= 0 and not (s.e_dst[e] == b and s.e_key[e] == key):
                e = s.next_out[e]
        if e < 0:
            raise GraphError(f"no edge {u!r} -> {v!r} with key {key}")
        self.invalidate_data(EdgeData(s, e), t)

    @staticmethod
    def valid_at(data: Mapping[str, Any], t: float | None) -> bool:
        """True when the fact holds at ``t`` (``valid_from <= t < valid_to``); ``t=None`` means now."""
        if type(data) is EdgeData:
            s, e = data._s, data.id
            vt = s.e_vt[e]
            if t is None:
                return vt != vt
            return s.e_vf[e] <= t and (vt != vt or vt > t)
        if t is None:
            return data["valid_to"] is None
        vt = data["valid_to"]
        return data["valid_from"] <= t and (vt is None or vt > t)

    def _edge_ids(self, u: str | None) -> list[int]:
        """Edge ids in networkx's order (by source node, then target as first linked, then key)."""
        s = self._s
        if u is not None:
            a = s.ids.get(u)
            return [] if a is None else s.nx_order(s.out_ids(a))  # not a node: no edges
        n = len(s.e_src)
        if n == 0:
            return []
        import numpy as np

        src = np.frombuffer(s.e_src, np.int32)
        dst = np.frombuffer(s.e_dst, np.int32)
        key = np.frombuffer(s.e_key, np.int32)
        pair = src.astype(np.int64) * max(len(s.names), 1) + dst
        _, first_idx, inv = np.unique(pair, return_index=True, return_inverse=True)
        first = first_idx[inv.reshape(-1)]  # np.unique returns the first occurrence: the pair's first edge
        return np.lexsort((key, first, src)).tolist()

    def edges(
        self, u: str | None = None, relation: str | None = None, at: float | None = None, current: bool = False
    ) -> Iterator[tuple[str, str, int, EdgeData]]:
        """Edges (u, v, key, data), optionally from ``u``, of ``relation``, valid at ``at`` or now.
        ``data`` is a live :class:`EdgeData` view."""
        s = self._s
        ids = self._edge_ids(u)
        rel = -2
        if relation is not None:
            rel = s.rel_ids.get(relation, -1)
            if rel < 0:
                return
        names, src, dst, key, er, vf, vt = s.names, s.e_src, s.e_dst, s.e_key, s.e_rel, s.e_vf, s.e_vt
        for e in ids:
            if rel >= 0 and er[e] != rel:
                continue
            end = vt[e]
            if current and end == end:
                continue
            if at is not None and not (vf[e] <= at and (end != end or end > at)):
                continue
            yield names[src[e]], names[dst[e]], key[e], EdgeData(s, e)

    def history(self, node_id: str) -> list[dict[str, Any]]:
        """Every fact touching ``node_id`` (in and out, valid or invalidated), by ``valid_from``."""
        s = self._s
        i = s.ids.get(node_id)
        if i is None:
            raise GraphError(f"no node {node_id!r} in the memory graph")
        out = []
        for e in s.nx_order(s.out_ids(i)) + self._in_nx_order(i):
            out.append({"u": s.names[s.e_src[e]], "v": s.names[s.e_dst[e]], "key": s.e_key[e], **s.edge_dict(e)})
        out.sort(key=lambda e: (e["valid_from"], e["recorded_at"]))
        return out

    def _in_nx_order(self, v: int) -> list[int]:
        """Edges into ``v`` as networkx lists them: by source (in the order each first linked to
        ``v``), then key. (Self-loops appear among the out-edges too; ``history`` lists them twice,
        as networkx did.)"""
        s = self._s
        ids = s.in_ids(v)
        first: dict[int, int] = {}
        for e in ids:
            first.setdefault(s.e_src[e], e)
        return sorted(ids, key=lambda e: (first[s.e_src[e]], s.e_key[e]))

    def as_of(self, t: float) -> MemoryGraph:
        """A new graph holding the facts valid at ``t`` and the nodes created at or before ``t``."""
        s = self._s
        g = MemoryGraph()
        gs = g._s
        remap = array("i", [-1]) * len(s.names)
        for i, name in enumerate(s.names):
            d = s.props(s.n_shape[i], s.n_row[i])
            created = d.get("created")
            if created is None or created <= t:
                remap[i] = gs.add_node(name, s.n_kind[i], d)
        n = len(s.e_src)
        if not n:
            return g
        import numpy as np

        vf = np.frombuffer(s.e_vf, np.float64)
        vt = np.frombuffer(s.e_vt, np.float64)
        rm = np.frombuffer(remap, np.int32)
        with np.errstate(invalid="ignore"):
            keep = (vf <= t) & (np.isnan(vt) | (vt > t))
        keep &= (rm[np.frombuffer(s.e_src, np.int32)] >= 0) & (rm[np.frombuffer(s.e_dst, np.int32)] >= 0)
        order = np.asarray(self._edge_ids(None), np.int64)  # networkx's order, as the old copy was made
        for e in order[keep[order]].tolist():
            vte = s.e_vt[e]
            props = s.props(s.e_shape[e], s.e_row[e]) if s.e_shape[e] else {}
            gs.add_edge(remap[s.e_src[e]], remap[s.e_dst[e]], gs.rel(s.rels[s.e_rel[e]]), s.e_vf[e], vte,
                        s.e_rec[e], s.source(e), s.e_conf[e], props, key=s.e_key[e])
        return g

    # ------------------------------------------------------------------ export
    def to_nx(self) -> nx.MultiDiGraph:
        """A networkx ``MultiDiGraph`` copy of the graph (same ids, keys, attributes and iteration
        order as the graph's own ``nodes``/``edges``). Costs O(nodes + edges) time and about 1 KB of
        RAM per edge; changes to the copy do not reach the graph."""
        import networkx

        s = self._s
        g = networkx.MultiDiGraph()
        for i, n in enumerate(s.names):
            g.add_node(n, **s.node_dict(i))
        names = s.names
        for e in self._edge_ids(None):
            g.add_edge(names[s.e_src[e]], names[s.e_dst[e]], key=s.e_key[e], **s.edge_dict(e))
        return g

    @property
    def nx(self) -> nx.MultiDiGraph:
        """A networkx copy of the graph, built on each access (see ``to_nx``): for export and
        analysis, not for lookups (use ``in``, ``node``, ``edges``, ``number_of_nodes``)."""
        return self.to_nx()

    def to_dict(self) -> dict[str, Any]:
        """Node-link JSON form (networkx ``node_link_data`` layout), positions as lists."""
        s = self._s
        names = s.names
        return {
            "directed": True,
            "multigraph": True,
            "graph": {},
            "nodes": [{**s.node_dict(i), "id": n} for i, n in enumerate(names)],
            "edges": [{**s.edge_dict(e), "source": names[s.e_src[e]], "target": names[s.e_dst[e]], "key": s.e_key[e]}
                      for e in self._edge_ids(None)],
        }

    def to_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), default=_jsonable))
        return path

    def to_graphml(self, path: str | Path) -> Path:
        """Write GraphML. None values are dropped (GraphML has no null); tuples become JSON strings;
        characters XML cannot hold (NUL and other control characters, lone surrogates) are written
        as the text ``\\uXXXX``, so that every export reads back."""
        import networkx as nx

        s = self._s
        g = nx.MultiDiGraph()
        for i, n in enumerate(s.names):
            g.add_node(_xml_text(n), **_graphml_attrs(s.node_dict(i)))
        names = s.names
        for e in self._edge_ids(None):
            g.add_edge(_xml_text(names[s.e_src[e]]), _xml_text(names[s.e_dst[e]]), key=_xml_text(s.e_key[e]),
                       **_graphml_attrs(s.edge_dict(e)))
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
