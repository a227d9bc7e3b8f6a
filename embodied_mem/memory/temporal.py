"""Temporal memory: a time index over every sighting and event.

Columnar storage (``array`` of times, kinds, interned labels, positions) kept sorted by time, so
``between`` is a binary search plus the k items returned (O(log n + k)); ``first_seen`` and
``last_seen`` are O(1) for "now" and O(log n) with ``at=``; ``longest_gap`` (the longest time a
label went unseen between two of its sightings) is O(1) unbounded and O(log n) over a time range,
from a per-label max hierarchy over the gaps kept up to date on every sighting. Intervals are
inclusive at both ends.

With a RAM budget (``use_long_term``), only the newest entries stay in the columns: when there
are more than the working-set size, the oldest quarter moves, in time order, into the
``lt_events`` table of the long-term store (``longterm.py``). A time boundary ``_cut`` separates
the two (every moved entry is older than every entry in RAM); a query reaching before it reads the
table, so every answer is exactly what the unbounded memory gives. First and last sighting times
per label stay in RAM (one pair per label, kept forever).

Snapshots (``__getstate__``): the columns, the per-label sighting times as one array grouped by
label (with offsets), first/last times as arrays by label id, the interned names; nothing per
label as a Python object. Loading keeps the grouped times as they are: a label's times are sliced
out on its first query (all labels' at once before the next percept), and its gap hierarchy is
rebuilt, vectorised, on its first gap query or next sighting.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

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


class TemporalMemory:
    def __init__(self, config: TemporalConfig | None = None) -> None:
        self.config = config or TemporalConfig()
        self.enabled = self.config.enabled
        self._t = array("d")
        self._kind = array("b")
        self._sym = array("i")  # interned label or text
        self._src = array("i")  # interned source
        self._x = array("d")
        self._y = array("d")
        self._z: array | None = None  # made on the first z != 0 (grid worlds and floor robots never need it)
        self._names: list[str] = []
        self._ids: dict[str, int] = {}
        self._first: dict[str, float] = {}
        self._last: dict[str, float] = {}
        self._times: dict[str, array] = {}  # label -> sorted sighting times (for at=)
        self._gaps: dict[str, _Gaps] = {}  # label -> gaps between consecutive sighting times
        # after a snapshot load: the loaded per-label times (first, last, grouped times, offsets by
        # label id), sliced into _times per label on first query, all at once on the next percept
        self._lazy: tuple[array, array, array, array] | None = None
        # long-term pages (a RAM budget): entries older than _cut live in the lt_events table
        self._pages: Pages | None = None
        self._cut = -math.inf
        self._n_paged = 0
        self._paged_t0 = math.inf  # earliest paged time
        self._p_count: dict[str, int] = {}  # label -> paged sightings
        self._p_last: dict[str, float] = {}  # label -> latest paged sighting time
        self._p_best: dict[str, float] = {}  # label -> longest gap between two paged sightings (-1: none)

    def _gaps_of(self, label: str, ts: array) -> _Gaps:
        """The gap hierarchy of ``label`` (whose times are ``ts``), built on first use after a
        snapshot load (or for a label with a single sighting so far)."""
        gp = self._gaps.get(label)
        if gp is None:
            gp = self._gaps[label] = _Gaps.build(ts)
        return gp

    # ------------------------------------------------------------------ snapshot state
    _COLUMNS = ("_t", "_kind", "_sym", "_src", "_x", "_y", "_z")
    _DERIVED = ("_ids", "_first", "_last", "_times", "_gaps", "_lazy")  # rebuilt from "labels" and the names

    def __getstate__(self) -> dict[str, object]:
        """Columnar state for a snapshot: a few arrays and the names, no per-label objects. Every
        other attribute is kept as it is (so a field added later changes the state's shape, and a
        snapshot without it is refused)."""
        from .snapshot import is_behaviour

        d = vars(self)
        skip = set(self._COLUMNS) | set(self._DERIVED)
        state: dict[str, object] = {k: v for k, v in d.items() if k not in skip and not is_behaviour(v)}
        state["columns"] = tuple(d[k] for k in self._COLUMNS)
        if self._lazy is not None:  # nothing observed since the load: the loaded times as they are
            state["labels"] = self._lazy
            return state
        ids, n = self._ids, len(self._names)
        first, last = array("d", [math.nan]) * n, array("d", [math.nan]) * n
        offsets = array("q", [0]) * (n + 1)
        grouped = array("d")
        for lbl, f in self._first.items():
            i = ids[lbl]
            first[i], last[i] = f, self._last[lbl]
        pos = 0
        for i in range(n):  # label ids in order; events' ids get empty ranges
            ts = self._times.get(self._names[i]) if not math.isnan(first[i]) else None
            if ts:
                grouped.extend(ts)
                pos += len(ts)
            offsets[i + 1] = pos
        state["labels"] = (first, last, grouped, offsets)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        """Restore ``__getstate__``'s state (keeps wrappers already set on this instance)."""
        d = vars(self)
        for k, v in state.items():
            if k not in ("columns", "labels"):
                d[k] = v
        for k, v in zip(self._COLUMNS, state["columns"]):  # type: ignore[call-overload]
            d[k] = v
        first, last, grouped, offsets = state["labels"]  # type: ignore[misc]
        names = self._names
        self._ids = dict(zip(names, range(len(names))))
        f = np.frombuffer(first, dtype=np.float64) if len(first) else np.zeros(0)
        idx = np.flatnonzero(f == f)  # labels (NaN: an event text or a source name)
        labels = [names[i] for i in idx.tolist()]
        self._first = dict(zip(labels, f[idx].tolist()))
        self._last = dict(zip(labels, np.frombuffer(last, dtype=np.float64)[idx].tolist())) if labels else {}
        self._times = {}  # sliced per label on first use (_ts), all at once before the next percept
        self._lazy = (first, last, grouped, offsets)
        self._gaps = {}  # rebuilt per label on first use (_gaps_of)

    def _ts(self, label: str) -> array | None:
        """The sorted sighting times of ``label`` in RAM (None: never sighted)."""
        ts = self._times.get(label)
        if ts is None and self._lazy is not None and label in self._first:
            _, _, grouped, off = self._lazy
            i = self._ids[label]
            ts = self._times[label] = grouped[off[i]:off[i + 1]]
        return ts

    def _materialize(self) -> None:
        """Slice every label's times out of the loaded arrays (before a percept changes them)."""
        lazy, self._lazy = self._lazy, None
        if lazy is None:
            return
        _, _, grouped, offsets = lazy
        off = np.frombuffer(offsets, dtype=np.int64)
        ids, times = self._ids, self._times
        labels = [lbl for lbl in self._first if lbl not in times]
        if labels:
            idx = np.fromiter(map(ids.__getitem__, labels), dtype=np.int64, count=len(labels))
            times.update(zip(labels, map(grouped.__getitem__, map(slice, off[idx].tolist(), off[idx + 1].tolist()))))

    def use_long_term(self, store: LongTermStore | None, cap: int | None = None) -> None:
        """Keep at most about ``cap`` entries in RAM, the older ones in ``store`` (before any percept)."""
        from .longterm import Pages

        if self._t or self._n_paged:
            raise ValueError("use_long_term must be called before the first percept")
        self._pages = None if store is None else Pages(store, cap if cap is not None else store.sizes["temporal"])

    @property
    def pages(self) -> Pages | None:
        """This module's handle on the long-term store (None: no RAM budget, all entries in RAM)."""
        return self._pages

    def _intern(self, s: str) -> int:
        i = self._ids.get(s)
        if i is None:
            i = self._ids[s] = len(self._names)
            self._names.append(s)
        return i

    def observe(self, p: Percept) -> None:
        if not self.enabled:
            return
        if self._lazy is not None:
            self._materialize()
        t = p.t
        src = self._intern(p.source)
        if t < self._cut:
            self._observe_paged(p, src)
            return
        late = bool(self._t) and t < self._t[-1]
        if not late:
            self._observe_in_order(p, t, src)
            return
        for s in p.sightings:
            self._add(t, SIGHTING, self._intern(s.label), src, s.position, late)
            lbl = s.label
            ts = self._times.get(lbl)
            if ts is None:
                ts = self._times[lbl] = array("d")
                self._first[lbl] = t
                self._last[lbl] = t
            else:
                if t < self._first[lbl]:
                    self._first[lbl] = t
                if t > self._last[lbl]:
                    self._last[lbl] = t
            if ts and t < ts[-1]:
                i = bisect_right(ts, t)
                gp = self._gaps.get(lbl)
                if gp is None:  # none yet (one earlier time), or not rebuilt since a snapshot load
                    ts.insert(i, t)
                    self._gaps[lbl] = _Gaps.build(ts)
                else:
                    ts.insert(i, t)
                    gp.insert(i, ts)  # a late sighting from another source: cost in what follows it
            else:
                if ts:
                    gp = self._gaps.get(lbl)
                    if gp is None:
                        gp = self._gaps[lbl] = _Gaps.build(ts)  # empty for one time; built after a load
                    gp.append(t - ts[-1])
                ts.append(t)
        for e in p.events:
            self._add(t, EVENT, self._intern(e), src, (0.0, 0.0, 0.0), late)
        pg = self._pages
        if pg is not None and len(self._t) > pg.cap:
            self._page_out(len(self._t) - (3 * pg.cap) // 4)

    def _observe_in_order(self, p: Percept, t: float, src: int) -> None:
        """``observe`` for a percept not older than any entry (the usual case): the columns grow by
        one extend each, and each label's times by one append and one gap."""
        sightings = p.sightings
        n = len(sightings)
        if n:
            ids, times, first, last, gaps = self._ids, self._times, self._first, self._last, self._gaps
            syms = []
            for s in sightings:
                lbl = s.label
                i = ids.get(lbl)
                syms.append(self._intern(lbl) if i is None else i)
                ts = times.get(lbl)
                if ts is None:
                    times[lbl] = array("d", (t,))
                    first[lbl] = last[lbl] = t
                    continue
                last[lbl] = t  # t is not older than any time held (in RAM or paged)
                if ts:
                    gp = gaps.get(lbl)
                    if gp is None:
                        gp = gaps[lbl] = _Gaps.build(ts)  # empty for one time; built after a snapshot load
                    gp.append(t - ts[-1])
                ts.append(t)
            tt = self._t
            m = len(tt)
            tt.extend([t] * n)
            self._kind.frombytes(bytes(n))  # SIGHTING == 0
            self._sym.extend(syms)
            self._src.extend([src] * n)
            self._x.extend([s.position[0] for s in sightings])
            self._y.extend([s.position[1] for s in sightings])
            zs = [s.position[2] for s in sightings]
            z = self._z
            if z is None and any(v != 0.0 for v in zs):
                z = self._z = array("d", bytes(8 * m))
            if z is not None:
                z.extend(zs)
        for e in p.events:
            self._add(t, EVENT, self._intern(e), src, (0.0, 0.0, 0.0), False)
        pg = self._pages
        if pg is not None and len(self._t) > pg.cap:
            self._page_out(len(self._t) - (3 * pg.cap) // 4)

    # ------------------------------------------------------------------ long-term pages
    def _page_out(self, n: int) -> None:
        """Move the oldest ``n`` entries (fewer, so that no time is split between RAM and the
        table) into the long-term table, in time order."""
        from .longterm import EVENT_V

        tt = self._t
        i = bisect_left(tt, tt[n])  # entries [0, i) are all older than tt[i]: the new boundary
        if i == 0:
            return
        pg = self._pages
        assert pg is not None
        space, z, pack = pg.space, self._z, EVENT_V.pack
        kind, sym, src, xs, ys = self._kind, self._sym, self._src, self._x, self._y
        pg.store.insert_many(
            "INSERT INTO lt_events (space, t, kind, sym, src, v) VALUES (?, ?, ?, ?, ?, ?)",
            ((space, tt[j], kind[j], sym[j], src[j], pack(tt[j], xs[j], ys[j], 0.0 if z is None else z[j]))
             for j in range(i)))
        cut = tt[i]
        labels = {self._names[sym[j]] for j in range(i) if kind[j] == SIGHTING}
        self._paged_t0 = min(self._paged_t0, tt[0])
        for arr in (tt, kind, sym, src, xs, ys):
            del arr[:i]
        if z is not None:
            del z[:i]
        self._n_paged += i
        self._cut = cut
        for lbl in labels:
            ts = self._times[lbl]
            j = bisect_left(ts, cut)
            if j == 0:
                continue
            best = self._p_best.get(lbl, -1.0)
            prev = self._p_last.get(lbl)
            if prev is not None:
                best = max(best, ts[0] - prev)
            if j >= 2:
                best = max(best, self._gaps_of(lbl, ts).max(0, j - 1))
            self._p_best[lbl] = best
            self._p_last[lbl] = ts[j - 1]
            self._p_count[lbl] = self._p_count.get(lbl, 0) + j
            del ts[:j]
            if len(ts) >= 2:
                self._gaps[lbl] = _Gaps.build(ts)
            else:
                self._gaps.pop(lbl, None)

    def _observe_paged(self, p: Percept, src: int) -> None:
        """A late percept (another source) older than every entry in RAM: its entries go straight to
        the table (after every row of the same time, as in RAM)."""
        from .longterm import EVENT_V

        pg = self._pages
        assert pg is not None
        t, rows = p.t, []
        for s in p.sightings:
            lbl = s.label
            rows.append((pg.space, t, SIGHTING, self._intern(lbl), src,
                         EVENT_V.pack(t, s.position[0], s.position[1], s.position[2])))
            if lbl not in self._times:
                self._times[lbl] = array("d")
                self._first[lbl] = self._last[lbl] = t
            else:
                self._first[lbl] = min(self._first[lbl], t)
                self._last[lbl] = max(self._last[lbl], t)
        for e in p.events:
            rows.append((pg.space, t, EVENT, self._intern(e), src, EVENT_V.pack(t, 0.0, 0.0, 0.0)))
        if not rows:
            return
        pg.store.insert_many("INSERT INTO lt_events (space, t, kind, sym, src, v) VALUES (?, ?, ?, ?, ?, ?)", rows)
        self._n_paged += len(rows)
        self._paged_t0 = min(self._paged_t0, t)
        for lbl in {s.label for s in p.sightings}:
            self._p_count[lbl] = self._p_count.get(lbl, 0) + sum(1 for s in p.sightings if s.label == lbl)
            self._p_last[lbl] = max(self._p_last.get(lbl, -math.inf), t)
            # the new time may split a paged gap: recompute that label's longest paged gap
            row = pg.store.execute(
                "SELECT MAX(t - pt) FROM (SELECT t, LAG(t) OVER (ORDER BY t) AS pt FROM lt_events "
                "WHERE space=? AND kind=0 AND sym=?)", (pg.space, self._ids[lbl])).fetchone()
            self._p_best[lbl] = -1.0 if row[0] is None else float(row[0])

    def _paged_times(self, label: str, t0: float | None, t1: float | None) -> list[float]:
        """Paged sighting times of ``label`` in [t0, t1], ascending (exact values)."""
        from .longterm import EVENT_V

        if not self._p_count.get(label) or (t0 is not None and t0 > self._p_last[label]):
            return []
        pg = self._pages
        assert pg is not None
        lo = -math.inf if t0 is None else t0
        hi = math.inf if t1 is None else t1
        rows = pg.store.execute("SELECT v FROM lt_events WHERE space=? AND kind=0 AND sym=? AND t>=? AND t<=? "
                                "ORDER BY t, rowid", (pg.space, self._ids[label], lo, hi))
        return [EVENT_V.unpack(r[0])[0] for r in rows]

    def _add(self, t: float, kind: int, sym: int, src: int, pos: Position, late: bool) -> None:
        if late:
            i = bisect_right(self._t, t)
            for arr, v in ((self._t, t), (self._kind, kind), (self._sym, sym), (self._src, src),
                           (self._x, pos[0]), (self._y, pos[1])):
                arr.insert(i, v)
        else:
            i = len(self._t)
            self._t.append(t)
            self._kind.append(kind)
            self._sym.append(sym)
            self._src.append(src)
            self._x.append(pos[0])
            self._y.append(pos[1])
        z = self._z
        if z is None and pos[2] != 0.0:
            z = self._z = array("d", bytes(8 * (len(self._t) - 1)))
            z.insert(i, pos[2])
        elif z is not None:
            if late:
                z.insert(i, pos[2])
            else:
                z.append(pos[2])

    # ------------------------------------------------------------------ queries
    def first_seen(self, label: str, at: float | None = None) -> float | None:
        """Time of the first sighting of ``label`` (at or before ``at`` if given), or None."""
        if not self.enabled:
            return None
        f = self._first.get(label)
        if f is None or (at is not None and f > at):
            return None
        return f

    def last_seen(self, label: str, at: float | None = None) -> float | None:
        """Time of the latest sighting of ``label`` (at or before ``at`` if given), or None."""
        if not self.enabled:
            return None
        if at is None:
            return self._last.get(label)
        ts = self._ts(label)
        if ts:
            i = bisect_right(ts, at)
            if i:
                return ts[i - 1]
        if not self._p_count.get(label):
            return None
        if at >= self._p_last[label]:
            return self._p_last[label]
        from .longterm import EVENT_V

        pg = self._pages
        assert pg is not None
        row = pg.store.execute("SELECT v FROM lt_events WHERE space=? AND kind=0 AND sym=? AND t<=? "
                               "ORDER BY t DESC LIMIT 1", (pg.space, self._ids[label], at)).fetchone()
        return None if row is None else EVENT_V.unpack(row[0])[0]

    def seen_times(self, label: str, t0: float | None = None, t1: float | None = None) -> list[float]:
        """Every time ``label`` was sighted in [t0, t1] (inclusive), ascending."""
        if not self.enabled:
            return []
        ts = self._ts(label)
        if ts is None:
            return []
        i0 = 0 if t0 is None else bisect_left(ts, t0)
        i1 = len(ts) if t1 is None else bisect_right(ts, t1)
        return self._paged_times(label, t0, t1) + ts[i0:i1].tolist()

    def count(self, label: str, t0: float | None = None, t1: float | None = None) -> int:
        """Number of sightings of ``label`` in [t0, t1]."""
        ts = self._ts(label) if self.enabled else None
        if ts is None:
            return 0
        i0 = 0 if t0 is None else bisect_left(ts, t0)
        i1 = len(ts) if t1 is None else bisect_right(ts, t1)
        n = max(0, i1 - i0)
        if self._p_count.get(label) and (t0 is None or t0 <= self._p_last[label]):
            if t0 is None and (t1 is None or t1 >= self._p_last[label]):
                n += self._p_count[label]
            else:
                pg = self._pages
                assert pg is not None
                n += pg.store.execute("SELECT COUNT(*) FROM lt_events WHERE space=? AND kind=0 AND sym=? AND t>=? "
                                      "AND t<=?", (pg.space, self._ids[label], -math.inf if t0 is None else t0,
                                                   math.inf if t1 is None else t1)).fetchone()[0]
        return n

    def longest_gap(self, label: str, t0: float | None = None, t1: float | None = None) -> float | None:
        """Longest time between two consecutive sightings of ``label`` inside [t0, t1] (inclusive).

        In percept time units; only sightings inside the range count (the stretch before the first
        and after the last one is not a gap). None when ``label`` was sighted at fewer than two
        distinct times in the range. O(1) without a range, O(log n) with one.
        """
        ts = self._ts(label) if self.enabled else None
        if ts is None:
            return None
        if t0 is not None and t1 is not None and t1 < t0:
            raise ValueError(f"longest_gap: t1 ({t1}) is before t0 ({t0})")
        i0 = 0 if t0 is None else bisect_left(ts, t0)
        i1 = len(ts) if t1 is None else bisect_right(ts, t1)
        if not self._p_count.get(label):
            if i1 - i0 < 2 or ts[i1 - 1] == ts[i0]:
                return None
            gp = self._gaps_of(label, ts)
            if i0 == 0 and i1 == len(ts):
                return gp.best
            return gp.max(i0, i1 - 1)
        # part of this label's times are paged out: the paged ones in range, the boundary, RAM's
        if t0 is None and t1 is None:
            if self._first[label] == self._last[label]:
                return None
            best = self._p_best[label]
            if len(ts):
                best = max(best, ts[0] - self._p_last[label])
                if len(ts) >= 2:
                    best = max(best, self._gaps_of(label, ts).best)
            return best
        paged = self._paged_times(label, t0, t1)
        first = paged[0] if paged else (ts[i0] if i1 > i0 else None)
        last = ts[i1 - 1] if i1 > i0 else (paged[-1] if paged else None)
        if first is None or len(paged) + (i1 - i0) < 2 or first == last:
            return None
        best = max((b - a for a, b in zip(paged, paged[1:])), default=-1.0)
        if paged and i1 > i0:
            best = max(best, ts[i0] - paged[-1])
        if i1 - i0 >= 2:
            best = max(best, self._gaps_of(label, ts).max(i0, i1 - 1))
        return best

    def between(self, t0: float, t1: float, kind: str | None = None, limit: int | None = None) -> list[Event]:
        """Sightings and events with ``t0 <= t <= t1``, in time order (ties in arrival order)."""
        if not self.enabled:
            return []
        want = None if kind is None else _KIND.index(kind)
        out: list[Event] = []
        names = self._names
        for t, k, sym, src, x, y, z in self._rows(t0, t1, want, None if limit is None else max(limit, 1)):
            if k == SIGHTING:
                out.append(Event(t, "sighting", label=names[sym], position=(x, y, z), source=names[src]))
            else:
                out.append(Event(t, "event", text=names[sym], source=names[src]))
            if limit is not None and len(out) >= limit:
                break
        return out

    def _rows(self, t0: float, t1: float, want: int | None, limit: int | None = None) -> Iterator[tuple]:
        """(t, kind, sym, src, x, y, z) of the entries with t0 <= t <= t1 (the first ``limit`` of the
        paged ones at most), paged ones first, lazily."""
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
            for k, sym, src, v in pg.store.execute(sql, args).fetchall():
                t, x, y, z = EVENT_V.unpack(v)
                yield t, k, sym, src, x, y, z
        i0 = bisect_left(self._t, t0)
        i1 = bisect_right(self._t, t1)
        zz = self._z
        for i in range(i0, i1):
            k = self._kind[i]
            if want is not None and k != want:
                continue
            yield self._t[i], k, self._sym[i], self._src[i], self._x[i], self._y[i], 0.0 if zz is None else zz[i]

    def order(self, labels: Iterable[str]) -> list[str]:
        """``labels`` sorted by first sighting; labels never seen are left out."""
        if not self.enabled:
            return []
        seen = [(self._first[lbl], lbl) for lbl in dict.fromkeys(labels) if lbl in self._first]
        seen.sort()
        return [lbl for _, lbl in seen]

    def labels(self) -> list[str]:
        return sorted(self._first) if self.enabled else []

    def span(self) -> tuple[float, float] | None:
        if not self._t:
            return None
        return (min(self._t[0], self._paged_t0), self._t[-1])

    def __len__(self) -> int:
        return len(self._t) + self._n_paged

    @property
    def n_in_ram(self) -> int:
        """Entries held in RAM (the rest, ``len(self) - n_in_ram``, in the long-term table)."""
        return len(self._t)
