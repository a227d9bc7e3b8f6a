"""A small TF buffer: the frame tree of ``/tf`` and ``/tf_static``, looked up at a time.

Transforms are rigid 3-D (translation in metres, rotation as a unit quaternion x, y, z, w), as in
tf2. ``lookup(target, source, t)`` returns ``T_target_source``, mapping points given in ``source``
to ``target``; between two recorded transforms it interpolates (linear + slerp). A stamp outside
an edge's recorded span by at most ``tolerance`` seconds uses the nearest transform; farther, or
an unknown frame, or frames in different trees raise ``TfError`` (a ``LookupError``) naming them.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass

import numpy as np

__all__ = ["Transform", "TfBuffer", "TfError", "TfExtrapolationError", "quat_to_matrix", "yaw_of"]


class TfError(LookupError):
    """A transform cannot be resolved (unknown frame, disconnected trees, stamp out of range)."""


class TfExtrapolationError(TfError):
    """The stamp is newer than the newest transform (by more than the tolerance): it may still come."""


def quat_to_matrix(x: float, y: float, z: float, w: float) -> np.ndarray:
    """Unit quaternion -> 3×3 rotation matrix. Raises ``ValueError`` for NaN or a zero quaternion."""
    n = x * x + y * y + z * z + w * w
    if not math.isfinite(n) or n < 1e-12:
        raise ValueError(f"quaternion ({x}, {y}, {z}, {w}) is not a rotation")
    s = 2.0 / n
    return np.array([
        [1 - s * (y * y + z * z), s * (x * y - z * w), s * (x * z + y * w)],
        [s * (x * y + z * w), 1 - s * (x * x + z * z), s * (y * z - x * w)],
        [s * (x * z - y * w), s * (y * z + x * w), 1 - s * (x * x + y * y)],
    ])


def yaw_of(rot: np.ndarray) -> float:
    """Heading (rad, CCW from +x) of a rotation matrix's x axis projected on the x–y plane."""
    return math.atan2(rot[1, 0], rot[0, 0])


@dataclass(frozen=True, slots=True)
class Transform:
    """``T_parent_child`` as rotation ``R`` (3×3) and translation ``p`` (3,): x_parent = R @ x_child + p."""

    R: np.ndarray
    p: np.ndarray

    @staticmethod
    def identity() -> Transform:
        return Transform(np.eye(3), np.zeros(3))

    def __matmul__(self, other: Transform) -> Transform:
        return Transform(self.R @ other.R, self.R @ other.p + self.p)

    def inverse(self) -> Transform:
        Rt = self.R.T
        return Transform(Rt, -Rt @ self.p)

    def apply(self, pts: np.ndarray) -> np.ndarray:
        """Transform (N, 3) points."""
        return pts @ self.R.T + self.p

    @property
    def yaw(self) -> float:
        return yaw_of(self.R)


def _slerp(q0: np.ndarray, q1: np.ndarray, a: float) -> np.ndarray:
    d = float(np.dot(q0, q1))
    if d < 0:
        q1, d = -q1, -d
    if d > 0.9995:
        q = q0 + a * (q1 - q0)
        return q / np.linalg.norm(q)
    th = math.acos(min(1.0, d))
    s = math.sin(th)
    return (math.sin((1 - a) * th) * q0 + math.sin(a * th) * q1) / s


class _Edge:
    __slots__ = ("parent", "static", "ts", "ps", "qs", "cache")

    def __init__(self, parent: str, static: bool):
        self.parent = parent
        self.static = static
        self.ts: list[float] = []
        self.ps: list[np.ndarray] = []
        self.qs: list[np.ndarray] = []
        self.cache: Transform | None = None


class TfBuffer:
    """Frame tree with per-edge history (``cache_time`` seconds kept). Not thread-safe; the bridge locks.

    Bounded: at most ``max_frames`` frames (a transform naming a new frame beyond that raises
    ``ValueError``), and a dynamic edge not updated for ``cache_time`` s of TF time is dropped, so
    a stream of ever-new frame ids costs O(1) per transform, not O(frames)."""

    def __init__(self, cache_time: float = 30.0, tolerance: float = 0.5, max_frames: int = 10_000) -> None:
        self.cache_time = float(cache_time)
        self.tolerance = float(tolerance)
        self.max_frames = int(max_frames)
        self._edges: dict[str, _Edge] = {}  # child -> edge to its parent
        self._children: dict[str, int] = {}  # parent -> number of edges below it
        self._newest: float | None = None
        self._n_dynamic = 0
        self._last_prune: float | None = None

    def newest_stamp(self) -> float | None:
        """The newest stamp of any dynamic transform (s), or None."""
        return self._newest

    def n_dynamic(self) -> int:
        """Number of dynamic (``/tf``) edges."""
        return self._n_dynamic

    def frames(self) -> set[str]:
        out = set(self._edges)
        out.update(self._children)
        return out

    def has_frame(self, frame: str) -> bool:
        return frame in self._edges or frame in self._children

    def static_ancestors(self, frame: str) -> set[str]:
        """``frame`` and the frames above it reached through static edges only: a dynamic transform
        of any of these moves ``frame``."""
        out = {frame}
        e = self._edges.get(frame)
        while e is not None and e.static and len(out) < 1000:
            frame = e.parent
            out.add(frame)
            e = self._edges.get(frame)
        return out

    def _remove(self, child: str) -> None:
        e = self._edges.pop(child)
        if not e.static:
            self._n_dynamic -= 1
        n = self._children.get(e.parent, 0) - 1
        if n > 0:
            self._children[e.parent] = n
        else:
            self._children.pop(e.parent, None)

    def _prune(self, now: float) -> None:
        """Drop dynamic edges whose newest transform is older than ``cache_time`` (at most once per second)."""
        if self._last_prune is not None and now - self._last_prune < 1.0:
            return
        self._last_prune = now
        old = [c for c, e in self._edges.items() if not e.static and e.ts and now - e.ts[-1] > self.cache_time]
        for c in old:
            self._remove(c)

    def set_transform(self, parent: str, child: str, t: float, translation: tuple[float, float, float],
                      rotation: tuple[float, float, float, float], static: bool = False) -> None:
        """Record ``T_parent_child`` at time ``t`` (s). Raises ``ValueError`` on NaN, empty frames or a cycle."""
        parent, child = parent.lstrip("/"), child.lstrip("/")
        if not parent or not child:
            raise ValueError(f"transform needs parent and child frames, got {parent!r} -> {child!r}")
        if parent == child:
            raise ValueError(f"transform from frame {child!r} to itself")
        p = np.asarray(translation, float)
        q = np.asarray(rotation, float)
        if not (np.isfinite(p).all() and np.isfinite(q).all()):
            raise ValueError(f"transform {parent} -> {child} holds NaN or inf")
        n = float(np.linalg.norm(q))
        if n < 1e-6:
            raise ValueError(f"transform {parent} -> {child} has a zero quaternion")
        q = q / n
        if not math.isfinite(t):
            raise ValueError(f"transform {parent} -> {child} has a non-finite stamp")
        e = self._edges.get(child)
        if e is None or e.parent != parent:
            new = (child not in self._edges and child not in self._children) + (
                parent not in self._edges and parent not in self._children)
            if new and len(self._edges) + len(self._children) + new > self.max_frames:
                self._prune(self._newest if self._newest is not None else t)
                if len(self._edges) + len(self._children) + new > self.max_frames:
                    raise ValueError(f"transform {parent} -> {child} refused: TF already holds max_frames "
                                     f"{self.max_frames} frames")
            # walking up from parent must not reach child (a cycle)
            f, seen = parent, 0
            while f in self._edges and seen < 1000:
                f = self._edges[f].parent
                seen += 1
                if f == child:
                    raise ValueError(f"transform {parent} -> {child} would make a cycle in the TF tree")
            if e is not None:
                self._remove(child)
            e = _Edge(parent, static)
            self._edges[child] = e
            self._children[parent] = self._children.get(parent, 0) + 1
            if not static:
                self._n_dynamic += 1
        if static or e.static:
            if not e.static:
                self._n_dynamic -= 1
            e.static = True
            e.ts, e.ps, e.qs = [t], [p], [q]
            e.cache = None
            return
        if e.ts and t < e.ts[-1]:
            i = bisect_left(e.ts, t)
            e.ts.insert(i, t)
            e.ps.insert(i, p)
            e.qs.insert(i, q)
        else:
            e.ts.append(t)
            e.ps.append(p)
            e.qs.append(q)
        if len(e.ts) > 64 and e.ts[-1] - e.ts[0] > self.cache_time:
            k = bisect_left(e.ts, e.ts[-1] - self.cache_time)
            del e.ts[:k], e.ps[:k], e.qs[:k]
        if self._newest is None or t > self._newest:
            self._newest = t
        self._prune(self._newest)

    def _edge_at(self, child: str, e: _Edge, t: float | None) -> Transform:
        if e.static:
            if e.cache is None:
                e.cache = Transform(quat_to_matrix(*e.qs[0]), e.ps[0])
            return e.cache
        ts = e.ts
        if t is None or t >= ts[-1]:
            if t is not None and t - ts[-1] > self.tolerance:
                raise TfExtrapolationError(f"{e.parent} -> {child}: no transform at t={t:.3f} (latest {ts[-1]:.3f}, "
                              f"tolerance {self.tolerance} s)")
            return Transform(quat_to_matrix(*e.qs[-1]), e.ps[-1])
        if t <= ts[0]:
            if ts[0] - t > self.tolerance:
                raise TfError(f"{e.parent} -> {child}: no transform at t={t:.3f} (earliest {ts[0]:.3f})")
            return Transform(quat_to_matrix(*e.qs[0]), e.ps[0])
        i = bisect_left(ts, t)
        t0, t1 = ts[i - 1], ts[i]
        a = (t - t0) / (t1 - t0) if t1 > t0 else 1.0
        p = e.ps[i - 1] + a * (e.ps[i] - e.ps[i - 1])
        q = _slerp(e.qs[i - 1], e.qs[i], a)
        return Transform(quat_to_matrix(*q), p)

    def _chain(self, frame: str) -> list[str]:
        out = [frame]
        while frame in self._edges and len(out) < 1000:
            frame = self._edges[frame].parent
            out.append(frame)
        return out

    def lookup(self, target: str, source: str, t: float | None = None) -> Transform:
        """``T_target_source`` at time ``t`` (None: latest). Raises ``TfError`` naming what is missing."""
        target, source = target.lstrip("/"), source.lstrip("/")
        if target == source:
            return Transform.identity()
        for f in (target, source):
            if not self.has_frame(f):
                known = sorted(self.frames()) if len(self._edges) < 200 else sorted(list(self._edges)[:200])
                raise TfError(f"unknown frame {f!r} (known: {known[:12]})")
        up_s, up_t = self._chain(source), self._chain(target)
        common = set(up_t)
        root = next((f for f in up_s if f in common), None)
        if root is None:
            raise TfError(f"frames {source!r} and {target!r} are not connected in the TF tree")
        T_root_src = Transform.identity()
        # compose from the root down: T_root_src = T_root_a @ T_a_b @ ... @ T_x_src
        for child in up_s[: up_s.index(root)]:
            T_root_src = self._edge_at(child, self._edges[child], t) @ T_root_src
        T_root_tgt = Transform.identity()
        for child in up_t[: up_t.index(root)]:
            T_root_tgt = self._edge_at(child, self._edges[child], t) @ T_root_tgt
        return T_root_tgt.inverse() @ T_root_src
