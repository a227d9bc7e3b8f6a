"""Temporal memory: a time index over every sighting and event.

Columnar storage (``array`` of times, kinds, interned labels, positions) kept sorted by time, so
``between`` is a binary search plus the k items returned (O(log n + k)); ``first_seen`` and
``last_seen`` are O(1) for "now" and O(log n) with ``at=``. Intervals are inclusive at both ends.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

from ..percept import Percept, Position
from .config import TemporalConfig

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


class TemporalMemory:
    def __init__(self, config: TemporalConfig | None = None) -> None:
        self.config = config or TemporalConfig()
        self.enabled = self.config.enabled
        self._t = array("d")
        self._kind = array("b")
        self._sym = array("l")  # interned label or text
        self._src = array("l")  # interned source
        self._x = array("d")
        self._y = array("d")
        self._z = array("d")
        self._names: list[str] = []
        self._ids: dict[str, int] = {}
        self._first: dict[str, float] = {}
        self._last: dict[str, float] = {}
        self._times: dict[str, array] = {}  # label -> sorted sighting times (for at=)

    def _intern(self, s: str) -> int:
        i = self._ids.get(s)
        if i is None:
            i = self._ids[s] = len(self._names)
            self._names.append(s)
        return i

    def observe(self, p: Percept) -> None:
        if not self.enabled:
            return
        t = p.t
        src = self._intern(p.source)
        late = bool(self._t) and t < self._t[-1]
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
                ts.insert(bisect_right(ts, t), t)
            else:
                ts.append(t)
        for e in p.events:
            self._add(t, EVENT, self._intern(e), src, (0.0, 0.0, 0.0), late)

    def _add(self, t: float, kind: int, sym: int, src: int, pos: Position, late: bool) -> None:
        if late:
            i = bisect_right(self._t, t)
            for arr, v in ((self._t, t), (self._kind, kind), (self._sym, sym), (self._src, src),
                           (self._x, pos[0]), (self._y, pos[1]), (self._z, pos[2])):
                arr.insert(i, v)
        else:
            self._t.append(t)
            self._kind.append(kind)
            self._sym.append(sym)
            self._src.append(src)
            self._x.append(pos[0])
            self._y.append(pos[1])
            self._z.append(pos[2])

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
        ts = self._times.get(label)
        if not ts:
            return None
        i = bisect_right(ts, at)
        return ts[i - 1] if i else None

    def seen_times(self, label: str, t0: float | None = None, t1: float | None = None) -> list[float]:
        """Every time ``label`` was sighted in [t0, t1] (inclusive), ascending."""
        if not self.enabled:
            return []
        ts = self._times.get(label)
        if not ts:
            return []
        i0 = 0 if t0 is None else bisect_left(ts, t0)
        i1 = len(ts) if t1 is None else bisect_right(ts, t1)
        return ts[i0:i1].tolist()

    def count(self, label: str, t0: float | None = None, t1: float | None = None) -> int:
        """Number of sightings of ``label`` in [t0, t1]."""
        ts = self._times.get(label) if self.enabled else None
        if not ts:
            return 0
        i0 = 0 if t0 is None else bisect_left(ts, t0)
        i1 = len(ts) if t1 is None else bisect_right(ts, t1)
        return max(0, i1 - i0)

    def between(self, t0: float, t1: float, kind: str | None = None, limit: int | None = None) -> list[Event]:
        """Sightings and events with ``t0 <= t <= t1``, in time order (ties in arrival order)."""
        if not self.enabled:
            return []
        i0 = bisect_left(self._t, t0)
        i1 = bisect_right(self._t, t1)
        want = None if kind is None else _KIND.index(kind)
        out = []
        names = self._names
        for i in range(i0, i1):
            k = self._kind[i]
            if want is not None and k != want:
                continue
            if k == SIGHTING:
                out.append(Event(self._t[i], "sighting", label=names[self._sym[i]],
                                 position=(self._x[i], self._y[i], self._z[i]), source=names[self._src[i]]))
            else:
                out.append(Event(self._t[i], "event", text=names[self._sym[i]], source=names[self._src[i]]))
            if limit is not None and len(out) >= limit:
                break
        return out

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
        return (self._t[0], self._t[-1])

    def __len__(self) -> int:
        return len(self._t)
