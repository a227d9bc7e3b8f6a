"""Temporal memory: a time index over every sighting and event.

Columnar storage kept sorted by time: percept runs (time, source, first entry), and per entry its
interned label (an event: ~ its text's slot, so no kind column) and its position as a row of a table of
positions (dictionary mode: an object seen again at the same place adds 4 bytes, not 16; where positions
rarely repeat, one x and y per entry instead, see ``_check_positions``; a height column only once a
height other than 0 comes). So
``between`` is a binary search plus the k items returned (O(log n + k)); ``first_seen`` and
``last_seen`` are O(1) for "now" (one pair of times per interned name, in two arrays) and O(log n)
with ``at=``. Intervals are inclusive at both ends.

Per-label times: a tiered (LSM-style) label index. Ingest leaves the newest entries unindexed
(scanned by a query) and, past ``_SEAL`` (16,384) of them, seals them into a *run*: their sightings
grouped by label id (times ascending within a label; 2 bytes a sighting: the number of its
percept run, whose time ``_rt`` holds, less the run's first, as uint16 while they span < 65,536
percept runs, else int32 or int64; a change that would outgrow the type widens it first). Runs follow each other
in entry (time) order; a new run is merged with the one before while that one is at most twice as
big and the two cover at most ``_RUN_MAX`` (131,072) entries, so each entry is merged O(log n)
times (amortized O(log n) per entry at ingest) and no single merge reads more than ``_RUN_MAX``
entries: no query (and no percept) pays for indexing the whole history at once. A query reads the
runs its time window reaches (two binary searches each) and scans the unindexed entries (a query
seals them when there are more than ``_TAIL_MIN``). ``longest_gap`` (the longest time a label went
unseen between two of its sightings) keeps a max hierarchy over the gaps of each label queried for
gaps (built on its first gap query, extended by its sightings since): O(log n) per range after that.

With a RAM budget (``use_long_term``), only the newest entries stay in the columns: when there
are more than the working set allows, the oldest quarter moves, in time order, into the
``lt_events`` table of the long-term store (``longterm.py``); the runs over them are dropped or
cut. What is kept per name (names, first and last times, paged counts, gap hierarchies:
``ram_bytes`` counts them all) counts against the same share. Names (labels, event texts,
sources) live in *slots*; the columns and runs hold slots, ``lt_events`` holds each name's global
id. After a move, every name no entry in RAM refers to moves out to ``lt_tlabels`` (its global id,
first/last sighting times, paged count, latest paged time, longest paged gap; a new row each
time) and its slot is reused; a query or a new sighting of it brings it back (one indexed
look-up). So what is kept per name is bounded by the working set's names (plus at most
``_QUERIED_NAMES`` brought back by queries since the last move), not by the names ever met.
``fit(max_bytes)`` keeps ``ram_bytes`` within a byte count given by the budget controller. A time
boundary ``_cut`` separates RAM and table (every moved entry is older than every entry in RAM); a
query reaching before it reads the table, so every answer is exactly what the unbounded memory
gives.

Snapshots (``__getstate__``): the columns, the label index (the runs and the unindexed entries
merged) as one array of times grouped by slot with offsets, first/last times as arrays by slot,
the names by slot (None: free) with their global ids; nothing per label as a Python object.
Loading takes the index as one run.
"""

from __future__ import annotations

import math
import sys
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate, chain, compress
from operator import attrgetter, not_
from typing import TYPE_CHECKING, Any

import numpy as np

from ..percept import Percept, Position
from .config import TemporalConfig

if TYPE_CHECKING:
    from .longterm import LongTermStore, Pages

__all__ = ["TemporalMemory", "Event"]

SIGHTING, EVENT = 0, 1
_KIND = ("sighting", "event")


@dataclass(frozen=True, slots=True)
class Event:
    """A sighting or a free-text event at time ``t``; ``position`` where known (sightings)."""

    t: float
    kind: str
    label: str | None = None
    text: str | None = None
    position: Position | None = None
    source: str | None = None

    def __str__(self) -> str:
        if self.kind == "sighting":
            x, y, z = self.position or (float("nan"),) * 3
            return f"t={self.t:g}: saw {self.label} at ({x:g}, {y:g}, {z:g})"
        return f"t={self.t:g}: {self.text}"


_FAN = 64  # gaps per block of the max hierarchy


class _Gaps:
    """Gaps between consecutive sighting times of one label, with block maxima for range queries.

    ``levels[0][i] = ts[i + 1] - ts[i]`` (0 for sightings in the same percept time);
    ``levels[k + 1][j] = max(levels[k][j * 64 : (j + 1) * 64])``. Appending is O(levels); a range
    maximum reads at most 2 × 64 entries per level (C-speed slices), so O(log n) overall.
    """

    __slots__ = ("levels", "best")

    def __init__(self) -> None:
        self.levels: list[array] = [array("d")]
        self.best = -1.0

    def append(self, g: float) -> None:
        lv0 = self.levels[0]
        i = len(lv0)
        lv0.append(g)
        if g > self.best:
            self.best = g
        if i < _FAN:  # no block maximum yet (most labels): nothing above level 0
            return
        k = 0
        while len(self.levels[k]) > _FAN:
            i //= _FAN
            if k + 1 == len(self.levels):
                lv = self.levels[k]
                self.levels.append(array("d", (max(lv[j:j + _FAN]) for j in range(0, len(lv), _FAN))))
                return
            up = self.levels[k + 1]
            if i == len(up):
                up.append(g)
            elif g > up[i]:
                up[i] = g
            k += 1

    def insert(self, i: int, ts: array) -> None:
        """``ts`` just had a late time inserted at index ``i`` (``0 <= i < len(ts) - 1``): split the
        gap it falls into and refresh the block maxima from there on (O((n - i) / 64) plus memmoves)."""
        lv0 = self.levels[0]
        if i == 0:
            lv0.insert(0, ts[1] - ts[0])
        else:
            lv0[i - 1] = ts[i] - ts[i - 1]
            lv0.insert(i, ts[i + 1] - ts[i])
        start, k = max(i - 1, 0), 0
        while len(self.levels[k]) > _FAN:
            lv = self.levels[k]
            if k + 1 == len(self.levels):
                self.levels.append(array("d"))
            up = self.levels[k + 1]
            b0 = start // _FAN
            del up[b0:]
            up.extend(max(lv[j:j + _FAN]) for j in range(b0 * _FAN, len(lv), _FAN))
            start, k = b0, k + 1
        self.best = max(self.levels[k]) if self.levels[k] else -1.0

    @classmethod
    def build(cls, ts: array) -> _Gaps:
        """The hierarchy of ``ts`` (ascending times) at once: the same levels ``append`` builds."""
        out = cls()
        if len(ts) < 2:
            return out
        if len(ts) <= 2 * _FAN:
            for a, b in zip(ts, ts[1:]):
                out.append(b - a)
            return out
        lv = np.diff(np.frombuffer(ts, dtype=np.float64))
        out.levels = [array("d", lv.tobytes())]
        out.best = float(lv.max())
        while len(lv) > _FAN:
            pad = -len(lv) % _FAN
            if pad:
                lv = np.concatenate([lv, np.full(pad, -np.inf)])
            lv = lv.reshape(-1, _FAN).max(axis=1)
            out.levels.append(array("d", lv.tobytes()))
        return out

    def max(self, a: int, b: int, k: int = 0) -> float:
        """max(levels[k][a:b]) for a < b."""
        lv = self.levels[k]
        if b - a <= 2 * _FAN or k + 1 == len(self.levels):
            return max(lv[a:b])
        a1, b1 = -(-a // _FAN), b // _FAN
        if a1 >= b1:
            return max(lv[a:b])
        m = self.max(a1, b1, k + 1)
        if a < a1 * _FAN:
            m = max(m, max(lv[a:a1 * _FAN]))
        if b1 * _FAN < b:
            m = max(m, max(lv[b1 * _FAN:b]))
        return m


_TAIL_MIN = 4096  # newest entries a query leaves to a scan (past it, the query seals them into a run)
_SEAL = 16384  # newest entries ingest leaves unindexed (past it, observe seals them into a run)
_RUN_MAX = 1 << 17  # entries a run may cover through merges (so no merge reads more than this)
_ENTRY_BYTES = 32  # longterm._BYTES_PER_ENTRY: cap * this = the share in bytes (entries kept = share / measured bytes an entry)
_QUERIED_NAMES = 4096  # names queries may bring back into RAM (~200 bytes each) before those no entry refers to move out again (an O(n) pass)
_EMPTY = np.zeros(0)
_PCACHE = 4096  # positions the dictionary mode's cache may hold at a seal (past it, it is emptied)
_PKEY_BYTES = 32  # a cache key: one complex x + yj (an atomic object: keys made a batch at a time do not wake the cyclic collector, as tuples did)
_LABEL = attrgetter("label")
_POSITION = attrgetter("position")
_EMPTY_I = np.zeros(0, dtype=np.int32)


class _Run:
    """One sorted run of the label index over ``n`` consecutive entries (events count in ``n`` but
    have no row): for each label id in it (``ul``, ascending; ``off`` the start of its group, one
    more at the end), the *percept runs* of its sightings (``ri``: the percept run's global number
    less ``g0``, ascending within a label, so in time order). A time is read from the percept runs'
    times (``TemporalMemory._rt``): 2 bytes a sighting (uint16 while the span allows, else int32 or
    int64; widened before a shift or insert would outgrow it) plus 12 a distinct label, where a time
    would take 8 and a label id 4. ``lo``/``hi`` the smallest and largest label id in it, ``tlo``/``thi``
    bounds of its times."""

    __slots__ = ("ul", "off", "ri", "g0", "n", "lo", "hi", "tlo", "thi")

    def __init__(self, lab: np.ndarray, g: np.ndarray, n: int, tlo: float, thi: float) -> None:
        """``lab`` label ids (ascending) and ``g`` the global percept-run numbers of the sightings
        (ascending within a label)."""
        self.n, self.tlo, self.thi = n, tlo, thi
        if len(lab):
            starts = np.flatnonzero(np.concatenate([[True], lab[1:] != lab[:-1]]))
            self.ul = lab[starts].astype(np.int32)
            self.off = np.append(starts, len(lab)).astype(np.int64)
            self.g0 = int(g.min())
            span = int(g.max()) - self.g0
            self.ri = (g - self.g0).astype(_ri_dtype(span))
            self.lo, self.hi = int(self.ul[0]), int(self.ul[-1])
        else:
            self.ul, self.off, self.ri, self.g0 = _EMPTY_I, np.zeros(1, np.int64), _EMPTY_I, 0
            self.lo, self.hi = 0, -1

    @property
    def nbytes(self) -> int:
        return self.ul.nbytes + self.off.nbytes + self.ri.nbytes + 400

    def lab(self) -> np.ndarray:
        """The label id of each sighting (ascending), as int32."""
        return np.repeat(self.ul, np.diff(self.off))

    def glob(self) -> np.ndarray:
        """The global percept-run number of each sighting (int64)."""
        return self.ri.astype(np.int64) + self.g0

    def group(self, i: int) -> tuple[int, int]:
        """[a, b) of label id ``i``'s sightings in ``ri`` (a == b: none)."""
        ul = self.ul
        k = int(ul.searchsorted(i))
        if k < len(ul) and ul[k] == i:
            off = self.off
            return int(off[k]), int(off[k + 1])
        return 0, 0

    def shift(self, g: int) -> None:
        """A percept run was inserted at global number ``g``: the numbers from ``g`` on grow by one."""
        if self.g0 >= g:
            self.g0 += 1
        elif len(self.ri):
            k = g - self.g0
            if int(self.ri.max()) >= np.iinfo(self.ri.dtype).max:  # the largest would outgrow its type: widen first
                self.ri = self.glob() - self.g0
            self.ri[self.ri >= k] += 1

    def insert(self, i: int, g: int) -> None:
        """Add a sighting of label id ``i`` in percept run ``g`` (global), after the sightings of
        ``i`` in percept runs up to ``g``."""
        if not len(self.ri):
            self.g0 = g
        elif g < self.g0 or g - self.g0 > np.iinfo(self.ri.dtype).max:  # (checked: never a silent overflow)
            ri = self.glob()
            self.g0 = min(self.g0, g)
            self.ri = ri - self.g0  # int64
        ul = self.ul
        k = int(ul.searchsorted(i))
        if k == len(ul) or ul[k] != i:
            self.ul = np.insert(ul, k, np.int32(i))
            self.off = np.insert(self.off, k, self.off[k])
            self.lo, self.hi = int(self.ul[0]), int(self.ul[-1])
        a, b = int(self.off[k]), int(self.off[k + 1])
        r = g - self.g0
        j = a + int(self.ri[a:b].searchsorted(r, "right"))
        self.ri = np.insert(self.ri, j, r)
        self.off[k + 1:] += 1

    @staticmethod
    def merge(a: _Run, b: _Run) -> _Run:
        """``a`` and the run right after it (newer entries) as one run."""
        lab = np.concatenate([a.lab(), b.lab()])
        order = np.argsort(lab, kind="stable")  # two sorted stretches: a merge; a's sightings before b's
        return _Run(lab[order], np.concatenate([a.glob(), b.glob()])[order], a.n + b.n, a.tlo, b.thi)


def _new_run() -> _Run:
    """An empty ``_Run`` whose slots the caller sets (a snapshot load: no ``__init__`` work)."""
    return object.__new__(_Run)


_TYPECODES = {np.dtype(np.uint16): "H", np.dtype(np.int32): "i", np.dtype(np.int64): "q"}
_DTYPES = {"H": np.uint16, "i": np.int32, "q": np.int64}


def _ri_dtype(span: int) -> type:
    """The narrowest of uint16, int32 and int64 that holds 0..``span``."""
    return np.uint16 if span < 2**16 else np.int32 if span < 2**31 else np.int64


def _col(a: np.ndarray) -> array:
    """An int32/int64 numpy column as an ``array`` of the same items (a snapshot stores large
    ``array`` columns as raw buffers, copied once on load)."""
    out = array(_TYPECODES[a.dtype])
    out.frombytes(np.ascontiguousarray(a).tobytes())
    return out


def _np(a: array, dtype: type) -> np.ndarray:
    """A snapshot column back as numpy (a view of the ``array``'s buffer, which it keeps alive)."""
    out = np.frombuffer(a, dtype) if len(a) else np.zeros(0, dtype)
    return out


def _ranks(ns: list[int]) -> np.ndarray:
    """0, 1, ..., ns[0] - 1, 0, 1, ..., ns[1] - 1, ...: each item's rank within its group (int64)."""
    sizes = np.asarray(ns, np.int64)
    ends = np.cumsum(sizes)
    return np.arange(int(ends[-1]) if len(ends) else 0, dtype=np.int64) - np.repeat(ends - sizes, sizes)


def _first_unknown(names: list[str], known: list[Any]) -> dict[str, int]:
    """Each name of ``names`` whose ``known`` is None, with the index of its first occurrence."""
    at = [i for i, x in enumerate(known) if x is None]
    return dict(zip(reversed([names[i] for i in at]), reversed(at)))


class TemporalMemory:
    def __init__(self, config: TemporalConfig | None = None) -> None:
        self.config = config or TemporalConfig()
        self.enabled = self.config.enabled
        # runs: the entries of one percept time and source, in time order (ties in arrival order);
        # a run's entries are [_r0[r], _r0[r + 1]) (the last one's up to the end); runs are never empty
        self._rt = array("d")  # time of each run
        self._rs = array("i")  # interned source of each run
        self._r0 = array("q")  # index of each run's first entry
        self._rbase = 0  # global number of run 0 (runs paged out so far; the label index holds global numbers)
        self._sym = array("i")  # interned label (a slot) or event text (~slot, < 0: the entry is an event)
        # positions: a table of positions (row 0: (0, 0), what events hold) and each entry's row in it,
        # ``_pid`` (dictionary mode); where positions rarely repeat, one x and y per entry (plain mode,
        # ``_pid`` None; see ``_check_positions``)
        self._x = array("d", [0.0])
        self._y = array("d", [0.0])
        self._pid: array | None = array("i")
        self._pcache: dict[complex, int] = {}  # complex(x, y) -> its row (positions added since a recent seal: a cache)
        self._pc_bytes = 0  # the cache's keys (two floats and a tuple each), for ram_bytes
        self._z: array | None = None  # made on the first z != 0 (grid worlds and floor robots never need it)
        # interned names (labels, event texts, sources) by slot; a name no entry in RAM refers to
        # moves out under a RAM budget (lt_tlabels) and its slot (None) is reused
        self._names: list[str | None] = []
        self._ids: dict[str, int] = {}  # name -> slot
        self._gid = array("q")  # slot -> global id (what lt_events holds; -1: a free slot)
        self._free: list[int] = []
        self._ngid = 0  # global ids given out
        self._n_paged_names = 0  # rows written to lt_tlabels
        self._queried_in = 0  # names queries brought back from lt_tlabels since the last move out
        # by name id: time of the first and latest sighting (NaN: never sighted, e.g. an event text)
        self._first = array("d")
        self._last = array("d")
        self._name_bytes = 0  # sys.getsizeof of every interned name (for ram_bytes)
        # label index: sorted runs over the entries [0, _ix_n), in entry order (each run's entries
        # follow the one before's); the newer entries are scanned until ingest (or a query) seals them
        self._runs: list[_Run] = []
        self._ix_n = 0
        self._ix_bytes = 0  # the runs' bytes (for ram_bytes)
        self._gapc: dict[int, tuple[_Gaps, int]] = {}  # label id -> gaps of its first n RAM times (queried labels)
        self._gap_n = 0  # the n of every kept gap hierarchy, summed (for ram_bytes)
        # long-term pages (a RAM budget): entries older than _cut live in the lt_events table
        self._pages: Pages | None = None
        self._limit = 0  # entries kept in RAM before paging out (the share less the per-label structures)
        self._cut = -math.inf
        self._n_paged = 0
        self._paged_t0 = math.inf  # earliest paged time
        # by name id (made on the first page-out, as long as the names after): paged sightings, the
        # latest paged sighting time, the longest gap between two paged sightings (-1: none)
        self._pn = array("q")
        self._pl = array("d")
        self._pb = array("d")
        self._fit_bytes: int | None = None  # the bytes ``fit`` last allowed (None: the budget's share)

    # ------------------------------------------------------------------ snapshot state
    _COLUMNS = ("_sym", "_x", "_y", "_z", "_pid")
    # the percept runs and the label index, stored as they are (a reopen rebuilds neither)
    _RUNS = ("_rt", "_rs", "_r0", "_rbase", "_ix_n")
    # rebuilt from the names, or caches
    _DERIVED = ("_pcache", "_pc_bytes", "_ids", "_first", "_last", "_name_bytes", "_runs", "_ix_bytes", "_gapc", "_gap_n", "_limit",
                "_pn", "_pl", "_pb") + _RUNS

    def __getstate__(self) -> dict[str, object]:
        """Columnar state for a snapshot: the entry columns, the percept runs and the label index's
        runs as they are (numpy/``array`` buffers, nothing rebuilt on load), the names; no per-label
        objects. Every other attribute is kept as it is (so a field added later changes the state's
        shape, and a snapshot without it is refused)."""
        from .snapshot import is_behaviour

        d = vars(self)
        skip = set(self._COLUMNS) | set(self._DERIVED)
        state: dict[str, object] = {k: v for k, v in d.items() if k not in skip and not is_behaviour(v)}
        state["columns"] = tuple(d[k] for k in self._COLUMNS)
        state["runs"] = tuple(d[k] for k in self._RUNS)
        # each index run as (ul, off, ri, g0, n, lo, hi, tlo, thi); its arrays as ``array`` columns (large
        # ones are out-of-band buffers in the snapshot: one copy on load)
        state["index"] = [(_col(r.ul), _col(r.off), _col(r.ri), r.g0, r.n, r.lo, r.hi, r.tlo, r.thi)
                          for r in self._runs]
        state["labels"] = (array("d", self._first), array("d", self._last))
        # paged counts as dicts by label (the snapshot format's shape)
        paged = [(self._names[i], i) for i in range(len(self._pn)) if self._pn[i]]
        state["_p_count"] = {lbl: self._pn[i] for lbl, i in paged}
        state["_p_last"] = {lbl: self._pl[i] for lbl, i in paged}
        state["_p_best"] = {lbl: self._pb[i] for lbl, i in paged}
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        """Restore ``__getstate__``'s state (keeps wrappers already set on this instance). Raises
        ``ValueError`` for a state whose columns disagree in length (a damaged or foreign state)."""
        d = vars(self)
        for k, v in state.items():
            if k not in ("columns", "runs", "index", "labels", "_p_count", "_p_last", "_p_best"):
                d[k] = v
        d.update(zip(self._COLUMNS, state["columns"]))  # type: ignore[call-overload]
        self._pcache, self._pc_bytes = {}, 0
        pid = self._pid
        if pid is not None and (not isinstance(pid, array) or pid.typecode != "i"):
            raise ValueError("temporal state: the positions' row column is not an int32 array")
        pa = np.frombuffer(pid, np.int32) if pid is not None and len(pid) else None  # (min/max in C: a Python
        # min and max over the array cost ~40 ms a reopen at 1M entries)
        if len(self._x) != len(self._y) or (pid is None and len(self._x) != len(self._sym)) or (
                pid is not None and (len(pid) != len(self._sym) or not len(self._x) or self._x[0] != 0.0
                                     or self._y[0] != 0.0 or (pa is not None and not 0 <= int(pa.min()) <= int(pa.max()) < len(self._x)))):
            raise ValueError("temporal state: the position columns disagree with the entries")
        del pa
        d.update(zip(self._RUNS, state["runs"]))  # type: ignore[call-overload]
        runs: list[_Run] = []
        for ul, off, ri, g0, n, lo, hi, tlo, thi in state["index"]:  # type: ignore[union-attr]
            r = _new_run()
            r.ul, r.off, r.ri = _np(ul, np.int32), _np(off, np.int64), _np(ri, _DTYPES[ri.typecode])
            r.g0, r.n, r.lo, r.hi, r.tlo, r.thi = g0, n, lo, hi, tlo, thi
            if len(r.off) != len(r.ul) + 1 or int(r.off[-1]) != len(r.ri):
                raise ValueError("temporal state: a label-index run's columns disagree")
            runs.append(r)
        self._runs = runs
        self._ix_bytes = sum(r.nbytes for r in runs)
        if (self._ix_n > len(self._sym) or sum(r.n for r in runs) != self._ix_n or len(self._rs) != len(self._rt)
                or len(self._r0) != len(self._rt)):
            raise ValueError("temporal state: the runs disagree with the entries")
        first, last = state["labels"]  # type: ignore[misc]
        names = self._names
        self._ids = ids = dict(zip(names, range(len(names))))  # C-level; free slots (None) dropped next
        ids.pop(None, None)  # type: ignore[call-overload]
        self._first, self._last = first, last
        self._name_bytes = sum(map(sys.getsizeof, names)) - names.count(None) * sys.getsizeof(None)
        self._gapc = {}
        self._gap_n = 0
        self._pn, self._pl, self._pb = array("q"), array("d"), array("d")
        p_count, p_last, p_best = state["_p_count"], state["_p_last"], state["_p_best"]  # type: ignore[index]
        if p_count:
            self._grow_paged()
            ids = self._ids
            for lbl, c in p_count.items():  # type: ignore[union-attr]
                i = ids[lbl]
                self._pn[i], self._pl[i], self._pb[i] = c, p_last[lbl], p_best[lbl]  # type: ignore[index]
        pg = self._pages
        self._limit = 0 if pg is None else pg.cap

    # ------------------------------------------------------------------ runs
    def _times_at(self, idx: np.ndarray) -> np.ndarray:
        """The times of the entries at indexes ``idx``."""
        run = np.frombuffer(self._r0, np.int64).searchsorted(idx, "right") - 1
        return np.frombuffer(self._rt, np.float64)[run]

    def _runs_from(self, a: int) -> np.ndarray:
        """The run (index in ``_rt``) of each entry from index ``a`` (< their number) on: O(entries)."""
        r0 = np.frombuffer(self._r0, np.int64)
        ra = int(r0.searchsorted(a, "right")) - 1
        starts = r0[ra:].copy()
        starts[0] = a
        return np.repeat(np.arange(ra, len(r0)), np.diff(np.append(starts, len(self._sym))))

    def _run_times(self, run: _Run, a: int = 0, b: int | None = None) -> np.ndarray:
        """The times of the sightings ``[a, b)`` of label-index run ``run`` (a copy)."""
        return np.frombuffer(self._rt, np.float64)[run.ri[a:b].astype(np.intp) + (run.g0 - self._rbase)]

    def _start(self, r: int) -> int:
        """Index of run ``r``'s first entry (the number of entries for ``r`` past the last run)."""
        return self._r0[r] if r < len(self._r0) else len(self._sym)

    # ------------------------------------------------------------------ positions
    def _pos_ids(self, keys: list[complex]) -> list[int]:
        """The rows in the position table of positions ``keys`` (``complex(x, y)`` each, which keeps both
        floats exactly, -0.0 included; dictionary mode), in order:
        a position the cache holds gets its row; the others get new rows in order, one per distinct
        position (added to the cache), except that a position with a coordinate 0 gets a row of its
        own each time and is never cached (so 0.0 and -0.0 never share a row: a row holds its position
        byte for byte). The cache is emptied only at a seal (``_seal``), so a batch gets the rows one
        percept at a time would."""
        cache = self._pcache
        ids = list(map(cache.get, keys))
        if None not in ids:  # (cached rows are >= 1: row 0 is the events')
            return ids  # type: ignore[return-value]
        px, py = self._x, self._y
        miss = dict.fromkeys(compress(keys, map(not_, ids)))  # the new positions, in order (in C)
        nx = [k.real for k in miss]
        ny = [k.imag for k in miss]
        if all(nx) and all(ny):  # no x or y 0: one row per distinct new position
            base = len(px)
            rows = dict(zip(miss, range(base, base + len(miss))))
            px.extend(nx)
            py.extend(ny)
            cache.update(rows)
            self._pc_bytes += _PKEY_BYTES * len(rows)
            return list(map(cache.get, keys))
        for k, i in enumerate(ids):  # one at a time
            if i is None:
                key = keys[k]
                i = cache.get(key)  # (added by a miss before it)
                if i is None:
                    i = len(px)
                    x, y = key.real, key.imag
                    px.append(x)
                    py.append(y)
                    if x and y:
                        cache[key] = i
                        self._pc_bytes += _PKEY_BYTES
                ids[k] = i
        return ids  # type: ignore[return-value]

    def _xy(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """x and y of the first ``n`` entries (events: 0, 0), float64 (copies in dictionary mode)."""
        if self._pid is None:
            return np.frombuffer(self._x, np.float64, n), np.frombuffer(self._y, np.float64, n)
        p = np.frombuffer(self._pid, np.int32, n)
        return np.frombuffer(self._x, np.float64)[p], np.frombuffer(self._y, np.float64)[p]

    def _check_positions(self) -> None:
        """Dictionary mode while it pays: once the positions table holds more than 3/4 as many rows as
        there are entries (positions rarely repeat, e.g. noisy detections), go to plain mode (one x
        and y per entry) for good. O(entries) once."""
        pid = self._pid
        if pid is None or len(pid) < _SEAL or 4 * (len(self._x) - 1) <= 3 * len(pid):
            return
        x, y = self._xy(len(pid))
        self._x, self._y = array("d", x.tobytes()), array("d", y.tobytes())
        self._pid, self._pcache, self._pc_bytes = None, {}, 0

    def _compact_positions(self) -> None:
        """Drop the table rows no entry refers to any more (after a page-out), renumbering the rest in
        order (row 0 stays (0, 0)); the cache is emptied."""
        pa = np.frombuffer(self._pid, np.int32)
        used = np.zeros(len(self._x), bool)
        used[0] = True
        used[pa] = True
        keep = np.flatnonzero(used)
        new = (np.cumsum(used, dtype=np.int64) - 1).astype(np.int32)[pa]
        del pa
        self._pid = array("i", new.tobytes())
        self._x = array("d", np.frombuffer(self._x, np.float64)[keep].tobytes())
        self._y = array("d", np.frombuffer(self._y, np.float64)[keep].tobytes())
        self._pcache, self._pc_bytes = {}, 0

    # ------------------------------------------------------------------ the label index
    def _add_run(self, run: _Run) -> None:
        self._runs.append(run)
        self._ix_n += run.n
        self._ix_bytes += run.nbytes

    def _seal(self, merge: bool) -> None:
        """Index the entries newer than the runs as one more run (O(m log m) for m of them); with
        ``merge``, then merge the newest runs while the one before is at most twice as big and the
        two together cover at most ``_RUN_MAX`` entries (each entry is merged O(log) times)."""
        n0, n = self._ix_n, len(self._sym)
        if n == n0:
            return
        m = n - n0
        sym = np.frombuffer(self._sym, np.int32, m, 4 * n0)
        sel = np.flatnonzero(sym >= 0)  # the sightings (events hold ~slot)
        sym = sym[sel]
        g = self._runs_from(n0)[sel] + self._rbase
        order = np.argsort(sym, kind="stable")
        self._add_run(_Run(sym[order], g[order], m, self._time_of(n0), self._rt[-1]))
        runs = self._runs
        while merge and len(runs) >= 2 and runs[-2].n <= 2 * runs[-1].n and runs[-2].n + runs[-1].n <= _RUN_MAX:
            a, b = runs[-2], runs[-1]
            runs[-2:] = [_Run.merge(a, b)]
            self._ix_bytes += runs[-1].nbytes - a.nbytes - b.nbytes
        if merge:
            if len(self._pcache) > _PCACHE:  # the positions' cache: emptied at seals only (see _pos_ids)
                self._pcache, self._pc_bytes = {}, 0
            self._check_positions()

    def _time_of(self, j: int) -> float:
        """The time of entry ``j``."""
        return self._rt[bisect_right(self._r0, j) - 1]

    def _trim_runs(self, i: int) -> None:
        """The entries [0, i) (every one older than the rest) left RAM: drop the runs over them and
        the times before the new boundary ``_cut`` from the run they end in."""
        runs, k, cut = self._runs, 0, self._cut  # _rbase is past the runs moved out
        while k < len(runs) and runs[k].n <= i:
            i -= runs[k].n
            k += 1
        if k == len(runs):  # every run (and perhaps part of the newer entries) went
            self._runs, self._ix_n, self._ix_bytes = [], 0, 0
            return
        del runs[:k]
        r = runs[0]
        if i:
            g = r.glob()
            keep = g >= self._rbase  # the runs before rbase (the time cut) left
            runs[0] = _Run(r.lab()[keep], g[keep], r.n - i, cut, r.thi)
        self._ix_n = sum(x.n for x in runs)
        self._ix_bytes = sum(x.nbytes for x in runs)

    def _grow_paged(self) -> None:
        """Make the paged counts as long as the names (on the first page-out)."""
        k = len(self._names) - len(self._pn)
        if k > 0:
            self._pn.frombytes(bytes(8 * k))
            self._pl.extend([math.nan] * k)
            self._pb.extend([-1.0] * k)

    def _paged(self, i: int) -> int:
        """Sightings of label id ``i`` in the long-term table."""
        return self._pn[i] if i < len(self._pn) else 0

    def _drop_gaps(self) -> None:
        self._gapc.clear()
        self._gap_n = 0

    def _label(self, label: str) -> int | None:
        """The slot of ``label`` if it was ever sighted (else None; paged out: brought back)."""
        i = self._ids.get(label)
        if i is None and self._n_paged_names:
            self._queried_in += 1
            if self._queried_in > _QUERIED_NAMES:  # names brought back by queries: bounded
                self._evict_names()
            i = self._page_in(label)
        if i is None or self._first[i] != self._first[i]:
            return None
        return i

    def _ram_times(self, i: int, t0: float | None = None, t1: float | None = None, newest: bool = False) -> np.ndarray:
        """The sighting times in RAM of label id ``i``, ascending (float64): all of them, or (given
        ``t0``/``t1``) at least those in [t0, t1], reading only the runs whose times reach it; with
        ``newest``, only the newest part holding one at or before ``t1`` (for ``last_seen(at=)``)."""
        n0, n = self._ix_n, len(self._sym)
        if n - n0 > _TAIL_MIN:
            self._seal(merge=False)
            n0 = n
        parts: list[np.ndarray] = []
        if n > n0 and (t1 is None or self._time_of(n0) <= t1):  # the newest entries (reaching t1): a scan
            m = np.flatnonzero(np.frombuffer(self._sym, np.int32, n - n0, 4 * n0) == i)  # (events are < 0)
            if len(m):
                tail = self._times_at(m + n0)
                if newest and (t1 is None or tail[0] <= t1):
                    return tail
                parts.append(tail)
        for r in reversed(self._runs):
            if (t1 is not None and r.tlo > t1) or i < r.lo or i > r.hi:
                continue
            if t0 is not None and r.thi < t0:
                break
            a, b = r.group(i)
            if a < b:
                x = self._run_times(r, a, b)
                parts.append(x)
                if newest and (t1 is None or x[0] <= t1):
                    break
        parts.reverse()
        if len(parts) == 1:
            return parts[0]
        return np.concatenate(parts) if parts else _EMPTY

    def _gaps_of(self, i: int, ts: np.ndarray) -> _Gaps:
        """The gap hierarchy of label id ``i`` (whose RAM times are ``ts``): kept per label once
        queried, extended by the sightings since."""
        c = self._gapc.get(i)
        if c is not None and c[1] >= 1 and len(ts) - c[1] <= 4 * _FAN + c[1] // 8:
            gp, k = c
            for g in np.diff(ts[k - 1:]).tolist():
                gp.append(g)
        else:
            gp = _Gaps.build(array("d", ts.tobytes()))
        self._gap_n += len(ts) - (0 if c is None else c[1])
        self._gapc[i] = (gp, len(ts))
        return gp

    def use_long_term(self, store: LongTermStore | None, cap: int | None = None) -> None:
        """Keep at most about ``cap`` entries in RAM, the older ones in ``store`` (before any percept).
        What this memory keeps per label (names, first/last times, the label index's offsets, paged
        counts) counts against the same share: the entries kept shrink as it grows."""
        from .longterm import Pages

        if self._sym or self._n_paged:
            raise ValueError("use_long_term must be called before the first percept")
        self._pages = None if store is None else Pages(store, cap if cap is not None else store.sizes["temporal"])
        self._limit = 0 if self._pages is None else self._pages.cap

    @property
    def pages(self) -> Pages | None:
        """This module's handle on the long-term store (None: no RAM budget, all entries in RAM)."""
        return self._pages

    def ram_bytes(self) -> int:
        """Bytes this memory holds in RAM now: its columns, names, per-label times and index, paged
        counts and gap hierarchies (``sys.getsizeof`` of each container, allocated capacity included;
        the interned name strings counted once here; gap hierarchies estimated from their sizes). O(1)."""
        return self._entry_bytes() + self._label_bytes()

    def _entry_bytes(self) -> int:
        """The columns and the label index: what grows with the entries in RAM."""
        gs = sys.getsizeof
        n = sum(gs(a) for a in (self._rt, self._rs, self._r0, self._sym, self._x, self._y))
        if self._z is not None:
            n += gs(self._z)
        if self._pid is not None:
            n += gs(self._pid) + gs(self._pcache) + self._pc_bytes
        return n + self._ix_bytes + gs(self._runs)

    def _label_bytes(self) -> int:
        """ram_bytes less the columns and index: what is kept per name in RAM (names, slots, first and
        last times, paged counts) and the gap hierarchies of labels queried for gaps."""
        gs = sys.getsizeof
        n = gs(self._names) + gs(self._ids) + self._name_bytes + gs(self._first) + gs(self._last)
        n += gs(self._gid) + gs(self._free)
        n += 200 * len(self._gapc) + 9 * self._gap_n  # a _Gaps and its levels: ~8.2 bytes per time
        return n + gs(self._gapc) + gs(self._pn) + gs(self._pl) + gs(self._pb)

    def fit(self, max_bytes: int) -> None:
        """Keep this memory's RAM (``ram_bytes()``) within ``max_bytes`` bytes from now on (until the
        next ``fit``), moving the oldest entries and then the names no entry in RAM refers to out to
        the long-term tables now; gap hierarchies (a cache) are dropped when over. Best effort: the
        entries of the newest time stay, and a query reads what it needs back from the tables. No
        effect without long-term pages (no RAM budget). ``max_bytes`` must be an int >= 0
        (ValueError otherwise, nothing changed)."""
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, np.integer)) or max_bytes < 0:
            raise ValueError(f"fit: max_bytes must be an int >= 0, got {max_bytes!r}")
        if self._pages is None:
            return
        self._fit_bytes = int(max_bytes)
        if self.ram_bytes() <= max_bytes:
            return
        self._drop_gaps()
        self._evict_names()
        self._keep_share()

    def _intern(self, s: str) -> int:
        """The slot of name ``s`` in RAM: its own, the one it gets back (paged out: ``_page_in``) or a
        new one (a free slot first) with a new global id."""
        i = self._ids.get(s)
        if i is None:
            i = self._page_in(s) if self._n_paged_names else None
            if i is None:
                i = self._take_slot(s, self._ngid)
                self._ngid += 1
        return i

    def _take_slot(self, s: str, gid: int) -> int:
        """A slot for name ``s`` (global id ``gid``), never sighted and nothing paged (yet)."""
        if self._free:
            i = self._free.pop()
            self._names[i] = s
            self._first[i] = self._last[i] = math.nan
            self._gid[i] = gid
            if self._pn:
                self._pn[i], self._pl[i], self._pb[i] = 0, math.nan, -1.0
        else:
            i = len(self._names)
            self._names.append(s)
            self._first.append(math.nan)
            self._last.append(math.nan)
            self._gid.append(gid)
            if self._pn:
                self._pn.append(0)
                self._pl.append(math.nan)
                self._pb.append(-1.0)
        self._ids[s] = i
        self._name_bytes += sys.getsizeof(s)
        return i

    def _page_in(self, s: str) -> int | None:
        """Bring name ``s`` back from ``lt_tlabels`` (its global id, first and last sighting times,
        paged count, latest paged time, longest paged gap) into a slot; None if it was never paged out."""
        pg = self._pages
        assert pg is not None
        row = pg.store.execute("SELECT gid, v FROM lt_tlabels WHERE space=? AND name=? ORDER BY rowid DESC LIMIT 1",
                               (pg.space, s)).fetchone()
        if row is None:
            return None
        from .longterm import TLABEL_V

        first, last, pl, pb, pn = TLABEL_V.unpack(row[1])
        i = self._take_slot(s, row[0])
        self._grow_paged()
        self._first[i], self._last[i] = first, last
        self._pn[i], self._pl[i], self._pb[i] = pn, pl, pb
        return i

    def _evict_names(self) -> None:
        """Page out every name no entry in RAM refers to (label, event text or source): a row in
        ``lt_tlabels`` (written anew each time, so a snapshot's marks cut it like the other tables),
        its slot freed for the next new name. What is kept per label is then bounded by the labels of
        the working set."""
        pg = self._pages
        if pg is None:
            return
        names = self._names
        used = np.zeros(len(names), dtype=bool)
        sym = np.frombuffer(self._sym, np.int32)
        used[sym[sym >= 0]] = True
        used[~sym[sym < 0]] = True
        del sym
        used[np.frombuffer(self._rs, np.int32)] = True
        cold = [i for i in np.flatnonzero(~used).tolist() if names[i] is not None]
        self._queried_in = 0
        if not cold:
            return
        from .longterm import TLABEL_V

        self._grow_paged()
        first, last, pn, pl, pb, gid = self._first, self._last, self._pn, self._pl, self._pb, self._gid
        pg.store.insert_many("INSERT INTO lt_tlabels (space, gid, name, sighted, v) VALUES (?, ?, ?, ?, ?)",
                             [(pg.space, gid[i], names[i], int(first[i] == first[i]),
                               TLABEL_V.pack(first[i], last[i], pl[i], pb[i], pn[i])) for i in cold])
        ids, gs = self._ids, sys.getsizeof
        for i in cold:
            del ids[names[i]]
            self._name_bytes -= gs(names[i])
            names[i] = None
            gid[i] = -1
            first[i] = last[i] = math.nan
            pn[i], pl[i], pb[i] = 0, math.nan, -1.0
            c = self._gapc.pop(i, None)
            if c is not None:
                self._gap_n -= c[1]
        self._free.extend(reversed(cold))
        self._n_paged_names += len(cold)

    def observe(self, p: Percept) -> None:
        if not self.enabled:
            return
        t = p.t
        src = self._intern(p.source)
        if t < self._cut:
            self._observe_paged(p, src)
            return
        if not self._rt or t >= self._rt[-1]:
            self._observe_in_order(p, t, src)
        else:
            self._observe_late(p, t, src)
        if len(self._sym) - self._ix_n > _SEAL:
            self._seal(merge=True)
        if self._pages is not None and len(self._sym) > self._limit:
            self._keep_share()

    def observe_many(self, ps: Sequence[Percept]) -> None:
        """``observe`` of each of ``ps`` in turn, with the same result (the same entries, runs, name
        slots, first and latest times, and label-index runs sealed at the same entries), in fewer
        steps: the percepts not older than the newest entry are added as stretches, one extend per
        column each; a late percept (older than the newest entry) goes through ``observe``. Under a
        RAM budget (long-term pages) every percept goes through ``observe``. Raises nothing for
        percepts ``Memory`` accepted (they are validated when built)."""
        if not self.enabled:
            return
        if self._pages is not None:
            for p in ps:
                self.observe(p)
            return
        rt = self._rt
        newest = rt[-1] if rt else -math.inf  # the time of the newest run, as the stretch would leave it
        pending = len(self._sym) - self._ix_n  # entries not yet indexed, as the stretch would leave them
        seg: list[Percept] = []
        for p in ps:
            k = len(p.sightings) + len(p.events)
            if k and p.t < newest:  # late: its own way, after the stretch before it
                if seg:
                    self._extend(seg)
                    seg = []
                self.observe(p)
                newest = rt[-1] if rt else -math.inf
                pending = len(self._sym) - self._ix_n
                continue
            seg.append(p)
            if k:
                newest = p.t
                pending += k
            if pending > _SEAL:  # observe seals after this percept: so does the stretch
                self._extend(seg)
                seg = []
                self._seal(merge=True)
                pending = len(self._sym) - self._ix_n
        if seg:
            self._extend(seg)

    def _extend(self, seg: list[Percept]) -> None:
        """``_observe_in_order`` of each percept of ``seg`` (none older than the newest entry, the
        times of those with entries non-decreasing, no seal due before the last): new names get
        their slots in the order ``observe`` interns them (source, labels, event texts, percept by
        percept); one extend per column."""
        ids = self._ids
        sl = list(chain.from_iterable([p.sightings for p in seg]))
        labels = list(map(_LABEL, sl))
        srcs = list(map(ids.get, [p.source for p in seg]))
        lsyms = list(map(ids.get, labels))
        events = any([p.events for p in seg])
        esyms: list[Any] = list(map(ids.get, [e for p in seg for e in p.events])) if events else []
        if None in lsyms or None in srcs or None in esyms:  # new names: slots in observe's order
            self._intern_new(seg, srcs, labels, lsyms, esyms)
            srcs = list(map(ids.get, [p.source for p in seg]))
            lsyms = list(map(ids.get, labels))
            if events:
                esyms = list(map(ids.get, [e for p in seg for e in p.events]))
        rt, rs, r0 = self._rt, self._rs, self._r0
        m0 = len(self._sym)
        nl = np.fromiter(map(len, [p.sightings for p in seg]), np.int64, len(seg))
        ks = nl + np.fromiter(map(len, [p.events for p in seg]), np.int64, len(seg)) if events else nl
        has = np.flatnonzero(ks)  # the percepts with entries (the others add no run)
        if not len(has):
            return
        ks, ns = ks[has], nl[has]
        tall = np.fromiter([p.t for p in seg], np.float64, len(seg))
        tp = tall[has]
        sp = np.asarray(srcs, np.int64)[has]
        ends = np.cumsum(ks)
        m = m0 + int(ends[-1])
        starts = ends - ks  # each percept's first entry, from m0
        # a run per change of time or source (as observe: a percept with the last run's time and
        # source continues it)
        new = np.ones(len(has), bool)
        new[1:] = (tp[1:] != tp[:-1]) | (sp[1:] != sp[:-1])
        if rt and rt[-1] == tp[0] and rs[-1] == sp[0]:
            new[0] = False
        rt.frombytes(tp[new].tobytes())
        rs.frombytes(sp[new].astype(np.int32).tobytes())
        r0.frombytes((starts[new] + m0).tobytes())
        # first and latest time per label: those of its first and of its last sighting here (times
        # are non-decreasing), as observe's per-sighting updates leave them
        ts = np.repeat(tall, nl).tolist()  # (no list per percept: they would wake the cyclic collector)
        first, last = self._first, self._last
        for i, t in dict(zip(reversed(lsyms), reversed(ts))).items():
            if not first[i] <= t:  # NaN: its first sighting
                first[i] = t
        for i, t in dict(zip(lsyms, ts)).items():
            last[i] = t
        # the coordinates as one flat array, copied column by column byte for byte (-0.0 stays -0.0);
        # not zip(*positions), which makes an iterator object per entry (and runs the cyclic collector)
        xyz = np.fromiter(chain.from_iterable(map(_POSITION, sl)), np.float64, 3 * len(sl)).reshape(-1, 3)
        pid = self._pid
        ids = self._pos_ids(list(map(complex, xyz[:, 0].tolist(), xyz[:, 1].tolist()))) if pid is not None else []
        if events:  # sightings, then events (at 0, 0, 0), percept by percept
            sight = np.zeros(m - m0, bool)
            sight[np.repeat(starts, ns) + _ranks(ns)] = True
            full = np.zeros((m - m0, 3))
            full[sight] = xyz
            xyz = full
            syms = np.empty(m - m0, np.int32)
            syms[sight] = lsyms
            syms[~sight] = ~np.asarray(esyms, np.int32)  # an event holds ~slot
            self._sym.frombytes(syms.tobytes())
            if pid is not None:
                pa = np.zeros(m - m0, np.int32)  # events: row 0, (0, 0)
                pa[sight] = ids
                pid.frombytes(pa.tobytes())
        else:
            self._sym.extend(lsyms)
            if pid is not None:
                pid.extend(ids)
        if pid is None:
            self._x.frombytes(xyz[:, 0].tobytes())
            self._y.frombytes(xyz[:, 1].tobytes())
        z = self._z
        if z is None:
            nz = np.flatnonzero(xyz[:, 2])
            if len(nz):  # made at the first percept with a height other than 0: 0.0 for every entry before
                zfrom = int(starts[int(np.searchsorted(starts, nz[0], "right")) - 1])
                z = self._z = array("d", bytes(8 * (m0 + zfrom)))
                z.frombytes(xyz[zfrom:, 2].tobytes())
        else:
            z.frombytes(xyz[:, 2].tobytes())

    def _intern_new(self, seg: list[Percept], srcs: list[Any], labels: list[str], lsyms: list[Any],
                    esyms: list[Any]) -> None:
        """Intern the names of ``seg`` not known yet (None in ``srcs``, ``lsyms``, ``esyms``: the
        percepts' sources, their sightings' labels and their event texts, flat) in the order
        ``observe`` meets them: percept by percept, its source, its labels, its event texts."""
        # the place of each name in that order: percept j's source comes after j percepts' sources,
        # L[j] labels and E[j] event texts; its labels and event texts follow it
        nl = list(map(len, [p.sightings for p in seg]))
        L = list(accumulate(nl, initial=0))
        E = list(accumulate([len(p.events) for p in seg], initial=0))
        new = [(j + L[j] + E[j], seg[j].source) for j, x in enumerate(srcs) if x is None]
        for name, i in _first_unknown(labels, lsyms).items():
            j = bisect_right(L, i) - 1
            new.append((j + 1 + i + E[j], name))
        if esyms:
            for name, i in _first_unknown([e for p in seg for e in p.events], esyms).items():
                j = bisect_right(E, i) - 1
                new.append((j + 1 + L[j + 1] + i, name))
        new.sort()
        ids, intern = self._ids, self._intern
        for _, name in new:
            if name not in ids:
                intern(name)

    def _observe_late(self, p: Percept, t: float, src: int) -> None:
        """``observe`` for a percept older than the newest entry (another source, late): its entries
        are slotted in after every entry of its time; the label index and gap hierarchies follow."""
        ss, evs = p.sightings, p.events
        k = len(ss) + len(evs)
        if not k:
            return
        syms = [self._intern(x.label) for x in ss] + [~self._intern(e) for e in evs]  # an event: ~slot
        rt, rs, r0 = self._rt, self._rs, self._r0
        r = bisect_right(rt, t)
        pos = self._start(r)
        if not (r and rt[r - 1] == t and rs[r - 1] == src):  # a run of its own (else: the end of the one before)
            rt.insert(r, t)
            rs.insert(r, src)
            r0.insert(r, pos)
            for x in self._runs:  # the label index's runs from r on move up by one
                if x.thi >= t:
                    x.shift(r + self._rbase)
            r += 1
        g = r - 1 + self._rbase  # the percept's run (global number)
        if r < len(r0):
            np.frombuffer(r0, np.int64)[r:] += k
        self._sym[pos:pos] = array("i", syms)
        if self._pid is None:
            self._x[pos:pos] = array("d", [x.position[0] for x in ss] + [0.0] * len(evs))
            self._y[pos:pos] = array("d", [x.position[1] for x in ss] + [0.0] * len(evs))
        else:
            ids = self._pos_ids([complex(x.position[0], x.position[1]) for x in ss])
            self._pid[pos:pos] = array("i", ids + [0] * len(evs))
        zs = [x.position[2] for x in ss] + [0.0] * len(evs)
        z = self._z
        if z is None and any(v != 0.0 for v in zs):
            z = self._z = array("d", bytes(8 * (len(self._sym) - k)))
        if z is not None:
            z[pos:pos] = array("d", zs)
        run = None
        if pos < self._ix_n:  # inside the indexed entries: slot each time into its label's group of the run
            j = pos
            for run in self._runs:
                if j < run.n:
                    break
                j -= run.n
            assert run is not None
            run.n += k
            self._ix_n += k
            run.tlo, run.thi = min(run.tlo, t), max(run.thi, t)
        first, last = self._first, self._last
        new: dict[int, int] = {}
        for i in syms[:len(ss)]:
            new[i] = new.get(i, 0) + 1
            if not first[i] <= t:  # NaN (first sighting) or later
                first[i] = t
            if not last[i] >= t:
                last[i] = t
            if run is not None:
                before = run.nbytes
                run.insert(i, g)
                self._ix_bytes += run.nbytes - before
        for i, m in new.items():
            c = self._gapc.get(i)
            if c is None:
                continue
            if m > 1:  # several at once: built again on its next gap query
                del self._gapc[i]
                self._gap_n -= c[1]
                continue
            ts = self._ram_times(i)  # a label queried for gaps: split the gap the time falls into, in place
            j = int(ts.searchsorted(t, "right")) - 1  # after every time equal to it
            if j < c[1]:
                c[0].insert(j, ts)
                self._gapc[i] = (c[0], c[1] + 1)
                self._gap_n += 1

    def _observe_in_order(self, p: Percept, t: float, src: int) -> None:
        """``observe`` for a percept not older than any entry (the usual case): a run (unless it
        continues the last one), the columns grow by one extend each, each label's latest time is set."""
        sightings, events = p.sightings, p.events
        n = len(sightings)
        if not n and not events:
            return
        rt = self._rt
        if not (rt and rt[-1] == t and self._rs[-1] == src):
            rt.append(t)
            self._rs.append(src)
            self._r0.append(len(self._sym))
        if n:
            first, last = self._first, self._last
            labels = [s.label for s in sightings]
            syms = list(map(self._ids.get, labels))
            if None in syms:
                syms = list(map(self._intern, labels))
            for i in syms:
                if not first[i] <= t:  # NaN: its first sighting
                    first[i] = t
                last[i] = t  # t is not older than any time held (in RAM or paged)
            m = len(self._sym)
            self._sym.extend(syms)
            xs, ys, zs = zip(*[s.position for s in sightings])
            if self._pid is None:
                self._x.extend(xs)
                self._y.extend(ys)
            else:
                self._pid.extend(self._pos_ids(list(map(complex, xs, ys))))
            z = self._z
            if z is None and any(zs):  # a height other than 0
                z = self._z = array("d", bytes(8 * m))
            if z is not None:
                z.extend(zs)
        for e in events:
            self._sym.append(~self._intern(e))  # an event: ~slot
            if self._pid is None:
                self._x.append(0.0)
                self._y.append(0.0)
            else:
                self._pid.append(0)
            if self._z is not None:
                self._z.append(0.0)

    # ------------------------------------------------------------------ long-term pages
    def _keep_share(self) -> None:
        """Past the entries allowed in RAM: recompute how many the share (``cap`` entries of
        ``_ENTRY_BYTES``, at most ``cap`` entries; or what ``fit`` allowed) leaves beside what is kept
        per name, at the bytes an entry takes now (columns and index), and move the oldest out until
        a quarter is free."""
        pg = self._pages
        assert pg is not None
        room = pg.cap * _ENTRY_BYTES if self._fit_bytes is None else self._fit_bytes
        n = len(self._sym)
        per = self._entry_bytes() / n if n >= 64 else _ENTRY_BYTES
        floor = max(2, pg.cap // 4) if self._fit_bytes is None else max(2, min(256, pg.cap // 4))
        fits = int((room - self._label_bytes()) / per)
        self._limit = max(floor, fits if self._fit_bytes is not None else min(pg.cap, fits))
        if len(self._sym) > self._limit:
            self._page_out(len(self._sym) - (3 * self._limit) // 4)

    def _page_out(self, n: int) -> None:
        """Move the oldest ``n`` entries (fewer, so that no time is split between RAM and the
        table) into the long-term table, in time order."""
        from .longterm import EVENT_V

        rt, rs, r0 = self._rt, self._rs, self._r0
        r = bisect_left(rt, rt[bisect_right(r0, n) - 1])  # runs [0, r) are all older than entry n
        i = r0[r]  # entries [0, i): the new boundary is rt[r]
        if i == 0:
            return
        pg = self._pages
        assert pg is not None
        space, z, pack = pg.space, self._z, EVENT_V.pack
        sym = self._sym
        gid = np.frombuffer(self._gid, np.int64)
        sa = np.frombuffer(sym, np.int32, i)
        ev = sa < 0  # events hold ~slot
        kind = ev.view(np.int8).tolist()  # EVENT == 1, SIGHTING == 0
        gsym = gid[np.where(ev, ~sa, sa)].tolist()  # the table holds global ids
        gsrc = gid[np.frombuffer(rs, np.int32, r)].tolist()
        xa, ya = (a.tolist() for a in self._xy(i))
        pg.store.insert_many(
            "INSERT INTO lt_events (space, t, kind, sym, src, v) VALUES (?, ?, ?, ?, ?, ?)",
            ((space, t, kind[j], gsym[j], sr, pack(t, xa[j], ya[j], 0.0 if z is None else z[j]))
             for t, sr, a, b in zip(rt[:r], gsrc, r0[:r], r0[1:r + 1]) for j in range(a, b)))
        del gid, gsym, gsrc, kind, xa, ya
        cut = rt[r]
        # per label among the moved sightings: count, first and last time, longest gap between two
        sel = np.flatnonzero(~ev)
        s = sa[sel]
        ts = self._times_at(sel)
        del sel, sa, ev
        self._paged_t0 = min(self._paged_t0, rt[0])
        del sym[:i]
        if self._pid is None:
            del self._x[:i]
            del self._y[:i]
        else:
            del self._pid[:i]
            self._compact_positions()
        if z is not None:
            del z[:i]
        for arr in (rt, rs, r0):
            del arr[:r]
        np.frombuffer(r0, np.int64)[:] -= i
        self._n_paged += i
        self._cut = cut
        self._rbase += r
        self._trim_runs(i)
        self._drop_gaps()  # built again from the times left on the next gap query
        if len(s):
            self._page_counts(s, ts)
        self._evict_names()

    def _page_counts(self, s: np.ndarray, ts: np.ndarray) -> None:
        """Add the sightings just moved out (label slots ``s``, times ``ts``, in time order) to the
        paged counts, latest paged times and longest paged gaps by label."""
        order = np.argsort(s, kind="stable")
        s, ts = s[order], ts[order]
        starts = np.flatnonzero(np.concatenate([[True], s[1:] != s[:-1]]))
        ends = np.append(starts[1:], len(s))
        d = np.empty(len(s))
        d[:-1] = ts[1:] - ts[:-1]
        d[ends - 1] = -math.inf  # no gap across labels
        inner = np.maximum.reduceat(d, starts)
        self._grow_paged()
        pn, pl, pb = self._pn, self._pl, self._pb
        for lid, c, f, lt, g in zip(s[starts].tolist(), (ends - starts).tolist(), ts[starts].tolist(),
                                    ts[ends - 1].tolist(), inner.tolist()):
            best = pb[lid]
            if pn[lid]:
                best = max(best, f - pl[lid])
            pb[lid] = max(best, g)
            pl[lid] = lt
            pn[lid] += c

    def _observe_paged(self, p: Percept, src: int) -> None:
        """A late percept (another source) older than every entry in RAM: its entries go straight to
        the table (after every row of the same time, as in RAM)."""
        from .longterm import EVENT_V

        pg = self._pages
        assert pg is not None
        t, rows = p.t, []
        first, last = self._first, self._last
        for s in p.sightings:
            i = self._intern(s.label)
            rows.append((pg.space, t, SIGHTING, self._gid[i], self._gid[src],
                         EVENT_V.pack(t, s.position[0], s.position[1], s.position[2])))
            if not first[i] <= t:
                first[i] = t
            if not last[i] >= t:
                last[i] = t
        for e in p.events:
            rows.append((pg.space, t, EVENT, self._gid[self._intern(e)], self._gid[src], EVENT_V.pack(t, 0.0, 0.0, 0.0)))
        if not rows:
            return
        pg.store.insert_many("INSERT INTO lt_events (space, t, kind, sym, src, v) VALUES (?, ?, ?, ?, ?, ?)", rows)
        self._n_paged += len(rows)
        self._paged_t0 = min(self._paged_t0, t)
        self._grow_paged()
        for lbl in {s.label for s in p.sightings}:
            i = self._ids[lbl]
            pl = self._pl[i]
            self._pl[i] = t if not self._pn[i] or t > pl else pl
            self._pn[i] += sum(1 for s in p.sightings if s.label == lbl)
            # the new time may split a paged gap: recompute that label's longest paged gap
            row = pg.store.execute(
                "SELECT MAX(t - pt) FROM (SELECT t, LAG(t) OVER (ORDER BY t) AS pt FROM lt_events "
                "WHERE space=? AND kind=0 AND sym=?)", (pg.space, self._gid[i])).fetchone()
            self._pb[i] = -1.0 if row[0] is None else float(row[0])

    def _paged_times(self, i: int, t0: float | None, t1: float | None) -> list[float]:
        """Paged sighting times of label id ``i`` in [t0, t1], ascending (exact values)."""
        from .longterm import EVENT_V

        if not self._paged(i) or (t0 is not None and t0 > self._pl[i]):
            return []
        pg = self._pages
        assert pg is not None
        lo = -math.inf if t0 is None else t0
        hi = math.inf if t1 is None else t1
        rows = pg.store.execute("SELECT v FROM lt_events WHERE space=? AND kind=0 AND sym=? AND t>=? AND t<=? "
                                "ORDER BY t, rowid", (pg.space, self._gid[i], lo, hi))
        return [EVENT_V.unpack(r[0])[0] for r in rows]

    # ------------------------------------------------------------------ queries
    def first_seen(self, label: str, at: float | None = None) -> float | None:
        """Time of the first sighting of ``label`` (at or before ``at`` if given), or None."""
        if not self.enabled:
            return None
        i = self._label(label)
        if i is None:
            return None
        f = self._first[i]
        if at is not None and f > at:
            return None
        return f

    def last_seen(self, label: str, at: float | None = None) -> float | None:
        """Time of the latest sighting of ``label`` (at or before ``at`` if given), or None."""
        if not self.enabled:
            return None
        i = self._label(label)
        if i is None:
            return None
        if at is None:
            return self._last[i]
        ts = self._ram_times(i, None, at, newest=True)
        k = int(ts.searchsorted(at, "right"))
        if k:
            return float(ts[k - 1])
        if not self._paged(i):
            return None
        if at >= self._pl[i]:
            return self._pl[i]
        from .longterm import EVENT_V

        pg = self._pages
        assert pg is not None
        row = pg.store.execute("SELECT v FROM lt_events WHERE space=? AND kind=0 AND sym=? AND t<=? "
                               "ORDER BY t DESC LIMIT 1", (pg.space, self._gid[i], at)).fetchone()
        return None if row is None else EVENT_V.unpack(row[0])[0]

    def _range(self, ts: np.ndarray, t0: float | None, t1: float | None) -> tuple[int, int]:
        """Indexes [i0, i1) of the times of ``ts`` inside [t0, t1]."""
        i0 = 0 if t0 is None else int(ts.searchsorted(t0, "left"))
        i1 = len(ts) if t1 is None else int(ts.searchsorted(t1, "right"))
        return i0, i1

    def seen_times(self, label: str, t0: float | None = None, t1: float | None = None) -> list[float]:
        """Every time ``label`` was sighted in [t0, t1] (inclusive), ascending."""
        i = self._label(label) if self.enabled else None
        if i is None:
            return []
        ts = self._ram_times(i, t0, t1)
        i0, i1 = self._range(ts, t0, t1)
        return self._paged_times(i, t0, t1) + ts[i0:i1].tolist()

    def count(self, label: str, t0: float | None = None, t1: float | None = None) -> int:
        """Number of sightings of ``label`` in [t0, t1]."""
        i = self._label(label) if self.enabled else None
        if i is None:
            return 0
        i0, i1 = self._range(self._ram_times(i), t0, t1)
        n = max(0, i1 - i0)
        if self._paged(i) and (t0 is None or t0 <= self._pl[i]):
            if t0 is None and (t1 is None or t1 >= self._pl[i]):
                n += self._pn[i]
            else:
                pg = self._pages
                assert pg is not None
                n += pg.store.execute("SELECT COUNT(*) FROM lt_events WHERE space=? AND kind=0 AND sym=? AND t>=? "
                                      "AND t<=?", (pg.space, self._gid[i], -math.inf if t0 is None else t0,
                                                   math.inf if t1 is None else t1)).fetchone()[0]
        return n

    def longest_gap(self, label: str, t0: float | None = None, t1: float | None = None) -> float | None:
        """Longest time between two consecutive sightings of ``label`` inside [t0, t1] (inclusive).

        In percept time units; only sightings inside the range count (the stretch before the first
        and after the last one is not a gap). None when ``label`` was sighted at fewer than two
        distinct times in the range. O(log n) per range once a label's gap hierarchy is built (on its
        first gap query, then extended by the sightings since).
        """
        li = self._label(label) if self.enabled else None
        if li is None:
            return None
        if t0 is not None and t1 is not None and t1 < t0:
            raise ValueError(f"longest_gap: t1 ({t1}) is before t0 ({t0})")
        ts = self._ram_times(li)
        i0, i1 = self._range(ts, t0, t1)
        if not self._paged(li):
            if i1 - i0 < 2 or ts[i1 - 1] == ts[i0]:
                return None
            gp = self._gaps_of(li, ts)
            if i0 == 0 and i1 == len(ts):
                return gp.best
            return gp.max(i0, i1 - 1)
        # part of this label's times are paged out: the paged ones in range, the boundary, RAM's
        if t0 is None and t1 is None:
            if self._first[li] == self._last[li]:
                return None
            best = self._pb[li]
            if len(ts):
                best = max(best, float(ts[0]) - self._pl[li])
                if len(ts) >= 2:
                    best = max(best, self._gaps_of(li, ts).best)
            return best
        paged = self._paged_times(li, t0, t1)
        first = paged[0] if paged else (float(ts[i0]) if i1 > i0 else None)
        last = float(ts[i1 - 1]) if i1 > i0 else (paged[-1] if paged else None)
        if first is None or len(paged) + (i1 - i0) < 2 or first == last:
            return None
        best = max((b - a for a, b in zip(paged, paged[1:])), default=-1.0)
        if paged and i1 > i0:
            best = max(best, float(ts[i0]) - paged[-1])
        if i1 - i0 >= 2:
            best = max(best, self._gaps_of(li, ts).max(i0, i1 - 1))
        return best

    def between(self, t0: float, t1: float, kind: str | None = None, limit: int | None = None) -> list[Event]:
        """Sightings and events with ``t0 <= t <= t1``, in time order (ties in arrival order)."""
        if not self.enabled:
            return []
        want = None if kind is None else _KIND.index(kind)
        out: list[Event] = []
        for t, k, sym, src, x, y, z in self._rows(t0, t1, want, None if limit is None else max(limit, 1)):
            if k == SIGHTING:
                out.append(Event(t, "sighting", label=sym, position=(x, y, z), source=src))
            else:
                out.append(Event(t, "event", text=sym, source=src))
            if limit is not None and len(out) >= limit:
                break
        return out

    def _rows(self, t0: float, t1: float, want: int | None, limit: int | None = None) -> Iterator[tuple]:
        """(t, kind, name, source, x, y, z) of the entries with t0 <= t <= t1 (the first ``limit`` of
        the paged ones at most), paged ones first, lazily."""
        if self._n_paged and t0 < self._cut:
            from .longterm import EVENT_V

            pg = self._pages
            assert pg is not None
            sql = "SELECT kind, sym, src, v FROM lt_events WHERE space=? AND t>=? AND t<=?"
            args: tuple = (pg.space, t0, t1)
            if want is not None:
                sql += " AND kind=?"
                args += (want,)
            sql += " ORDER BY t, rowid"
            if limit is not None:
                sql += f" LIMIT {int(limit)}"
            rows = pg.store.execute(sql, args).fetchall()
            name = self._names_of({g for r in rows for g in r[1:3]})
            for k, sym, src, v in rows:
                t, x, y, z = EVENT_V.unpack(v)
                yield t, k, name[sym], name[src], x, y, z
        rt, rs, r0, names = self._rt, self._rs, self._r0, self._names
        sym, xs, ys, zz, pid = self._sym, self._x, self._y, self._z, self._pid
        for r in range(bisect_left(rt, t0), bisect_right(rt, t1)):
            t, src = rt[r], names[rs[r]]
            for i in range(r0[r], self._start(r + 1)):
                s = sym[i]
                k = EVENT if s < 0 else SIGHTING
                if want is not None and k != want:
                    continue
                p = i if pid is None else pid[i]
                yield t, k, names[~s if s < 0 else s], src, xs[p], ys[p], 0.0 if zz is None else zz[i]

    def _names_of(self, gids: set[int]) -> dict[int, str]:
        """The names of global ids (of rows in the long-term table): those paged out from
        ``lt_tlabels``, the others from their slots."""
        out: dict[int, str] = {}
        pg = self._pages
        if self._n_paged_names and pg is not None:
            for k in range(0, len(gids), 500):
                part = sorted(gids)[k:k + 500]
                q = ",".join("?" * len(part))
                out.update(pg.store.execute(f"SELECT gid, name FROM lt_tlabels WHERE space=? AND gid IN ({q})",
                                            (pg.space, *part)).fetchall())
        rest = gids - out.keys()
        if rest:
            gid = np.frombuffer(self._gid, np.int64)
            for g in rest:
                out[g] = self._names[int(np.flatnonzero(gid == g)[0])]  # type: ignore[assignment]
        return out

    def order(self, labels: Iterable[str]) -> list[str]:
        """``labels`` sorted by first sighting; labels never seen are left out."""
        if not self.enabled:
            return []
        seen = [(self._first[i], lbl) for lbl in dict.fromkeys(labels) if (i := self._label(lbl)) is not None]
        seen.sort()
        return [lbl for _, lbl in seen]

    def labels(self) -> list[str]:
        if not self.enabled:
            return []
        names = self._names
        out = {names[i] for i in range(len(names)) if self._first[i] == self._first[i]}
        pg = self._pages
        if self._n_paged_names and pg is not None:
            out.update(r[0] for r in pg.store.execute("SELECT DISTINCT name FROM lt_tlabels WHERE space=? AND sighted=1",
                                                      (pg.space,)))
        return sorted(out)  # type: ignore[arg-type]

    def span(self) -> tuple[float, float] | None:
        if not self._rt:
            return None
        return (min(self._rt[0], self._paged_t0), self._rt[-1])

    def __len__(self) -> int:
        return len(self._sym) + self._n_paged

    @property
    def n_in_ram(self) -> int:
        """Entries held in RAM (the rest, ``len(self) - n_in_ram``, in the long-term table)."""
        return len(self._sym)
