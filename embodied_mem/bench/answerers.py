"""The memories compared by the QA benchmark, all fed the same percept stream.

Each answerer has ``observe(percept)`` and ``answer(question) -> answer`` (the answer kinds of
``questions.py``; ``None`` when it does not know). They map a question's *type and parameters* to
queries — no language model, no parsing of the text (except the vector store, which embeds it).

- ``EmbodiedMemAnswerer``: ``embodied_mem.Memory`` and its query API (temporal index, spatial
  beliefs with bi-temporal validity, trajectory).
- ``FifoAnswerer``: a window of the last ``k`` percepts, answered by an exact scan of the window.
- ``VectorStoreAnswerer``: a flat vector store (ReMEmbR-style retrieval memory without the LLM):
  one document per percept (its labels, events, action, time and position as text, hashed
  bag-of-words, L2-normalised), top-``k`` cosine retrieval with the question text, then an exact
  scan of the retrieved percepts.
- ``SentenceVectorAnswerer``: the same flat store with real sentence embeddings (MiniLM, or a
  static model2vec distillation of it, ``sentence_embedders.py``) of a one-sentence caption per
  percept (``caption``), as in ReMEmbR / Mem0-style stores; the same top-``k`` retrieval with the
  question text and the same scan of the hits.
- ``FullLogAnswerer``: every percept, scanned in full for each question (exact, slow: the upper bound).

The scans are one function, ``answer_from_log``, so the baselines differ only in what they keep.
"""

from __future__ import annotations

import gc
import math
import re
import sys
import zlib
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..percept import Percept
from .questions import Question

__all__ = ["Record", "to_record", "answer_from_log", "EmbodiedMemAnswerer", "FifoAnswerer", "VectorStoreAnswerer",
           "SentenceVectorAnswerer", "caption", "FullLogAnswerer", "make_answerers", "deep_sizeof", "MOVING_LABELS"]

# Things that walk (a sighting one cell away may be the same thing, moved); everything else stays put.
MOVING_LABELS = frozenset({"cow", "zombie", "skeleton", "arrow"})


def _num(v: float) -> float | int:
    return int(v) if float(v).is_integer() and abs(v) < 2**31 else v  # small ints are shared: less memory


class Record:
    """A compact copy of a percept: time, pose (x, y, yaw), sightings ``(label, x, y)``, view."""

    __slots__ = ("t", "x", "y", "yaw", "sightings", "view")

    def __init__(self, t: float, x: float | None, y: float | None, yaw: float | None,
                 sightings: tuple[tuple[str, Any, Any], ...], view: Any) -> None:
        self.t, self.x, self.y, self.yaw, self.sightings, self.view = t, x, y, yaw, sightings, view


def to_record(p: Percept) -> Record:
    pose = p.pose
    sights = tuple((sys.intern(s.label), _num(s.position[0]), _num(s.position[1])) for s in p.sightings)
    return Record(p.t, None if pose is None else pose.x, None if pose is None else pose.y,
                  None if pose is None else pose.yaw, sights, p.view)


def _in_view(view: Any, x: float, y: float) -> bool:
    if view is None:
        return False
    b = view.bounds()
    if not (b[0] <= x <= b[2] and b[1] <= y <= b[3]):
        return False
    return view.contains((x, y))


# ---------------------------------------------------------------------- the exact scan
def answer_from_log(q: Question, records: Sequence[Record]) -> Any:
    """Answer ``q`` by scanning ``records`` (time order). Exact when ``records`` is the whole stream."""
    p, qt = q.params, q.type
    if qt in ("position", "as_of_position"):
        label, upto = p["label"], p.get("t", math.inf)
        for r in reversed(records):
            if r.t > upto:
                continue
            for lbl, x, y in r.sightings:
                if lbl == label:
                    return [float(x), float(y)]
        return None
    if qt in ("binary", "order", "time"):
        want = {p["a"], p["b"]} if qt == "binary" else set(p["labels"]) if qt == "order" else {p["label"]}
        first: dict[str, float] = {}
        for r in records:
            for lbl, _, _ in r.sightings:
                if lbl in want and lbl not in first:
                    first[lbl] = r.t
            if len(first) == len(want):
                break
        if qt == "time":
            return first.get(p["label"])
        if qt == "binary":
            fa, fb = first.get(p["a"]), first.get(p["b"])
            return fa is not None and (fb is None or fa < fb)
        return [lbl for _, lbl in sorted((first[lbl], lbl) for lbl in p["labels"] if lbl in first)]
    if qt == "duration":
        label, prev, best = p["label"], None, None
        for r in records:
            if any(lbl == label for lbl, _, _ in r.sightings):
                if prev is not None and (best is None or r.t - prev > best):
                    best = r.t - prev
                prev = r.t
        return best
    if qt == "count":
        label = p["label"]
        return len({(x, y) for r in records for lbl, x, y in r.sightings if lbl == label})
    if qt == "change":
        label, s = p["label"], p["t"]
        cx, cy = p["position"]
        reach = 1.0 if label in MOVING_LABELS else 0.0
        lost = False
        for r in records:
            if r.t <= s:
                continue
            best, bd = None, reach + 1e-9
            for lbl, x, y in r.sightings:
                if lbl == label:
                    dd = abs(x - cx) + abs(y - cy)
                    if dd <= bd:
                        best, bd = (x, y), dd
            if best is not None:
                cx, cy, lost = best[0], best[1], False
            elif not lost and _in_view(r.view, cx, cy):
                lost = True
        return None if lost else [float(cx), float(cy)]
    poses = [r for r in records if r.x is not None]
    if qt == "robot_position":
        s = p["t"]
        for r in reversed(poses):
            if r.t <= s:
                return [r.x, r.y]
        return None
    if qt == "distance":
        seg = [r for r in poses if p["t0"] <= r.t <= p["t1"]]
        if len(seg) < 2:
            return None if not seg else 0.0
        return sum(math.hypot(b.x - a.x, b.y - a.y) for a, b in zip(seg, seg[1:]))
    if qt == "standstill":
        seg = [r for r in poses if p["t0"] <= r.t <= p["t1"]]
        if len(seg) < 2:
            return None
        return _standstill([r.t for r in seg], [r.x for r in seg], [r.y for r in seg], [r.yaw for r in seg],
                           p["max_speed"], p["max_turn_rate"])
    if qt == "closest_time":
        px, py = p["point"]
        best, bt = math.inf, None
        for r in poses:
            d = math.hypot(r.x - px, r.y - py)
            if d < best:
                best, bt = d, r.t
        return bt
    raise ValueError(f"unknown question type {qt!r}")


def _standstill(ts: Sequence[float], xs: Sequence[float], ys: Sequence[float], yaws: Sequence[float],
                max_speed: float, max_turn_rate: float) -> float:
    """Seconds spent still: sum of the intervals between consecutive poses slower than both limits."""
    total = 0.0
    for i in range(1, len(ts)):
        dt = ts[i] - ts[i - 1]
        if dt <= 0:
            continue
        dyaw = abs((yaws[i] - yaws[i - 1] + math.pi) % (2 * math.pi) - math.pi)
        if math.hypot(xs[i] - xs[i - 1], ys[i] - ys[i - 1]) / dt < max_speed and dyaw / dt < max_turn_rate:
            total += dt
    return total


# ---------------------------------------------------------------------- answerers
class FullLogAnswerer:
    """Keeps every percept (compact records); answers by scanning all of them. Exact, O(n) per question."""

    name = "full_log"

    def __init__(self) -> None:
        self.records: list[Record] = []

    def observe(self, p: Percept) -> None:
        self.records.append(to_record(p))

    def answer(self, q: Question) -> Any:
        return answer_from_log(q, self.records)


class FifoAnswerer:
    """Keeps only the last ``k`` percepts (a context window); answers by scanning them."""

    def __init__(self, k: int = 500) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
            raise ValueError(f"FifoAnswerer k must be a positive int (percepts kept), got {k!r}")
        self.k = k
        self.name = f"fifo_{k}"
        self.records: deque[Record] = deque(maxlen=k)

    def observe(self, p: Percept) -> None:
        self.records.append(to_record(p))

    def answer(self, q: Question) -> Any:
        return answer_from_log(q, list(self.records))


_TOKEN = re.compile(r"[a-z_]+|-?\d+")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class VectorStoreAnswerer:
    """A flat vector store of per-percept text; top-``k`` cosine retrieval, then a scan of the hits.

    Document text: the labels seen, events, action, ``time <t>`` and ``at <x> <y>`` (rounded).
    Embedding: hashed bag-of-words (``dim`` buckets, CRC32, L2-normalised), float32.
    """

    def __init__(self, k: int = 32, dim: int = 512) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
            raise ValueError(f"VectorStoreAnswerer k must be a positive int (documents retrieved), got {k!r}")
        if isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0:
            raise ValueError(f"VectorStoreAnswerer dim must be a positive int, got {dim!r}")
        self.k, self.dim = k, dim
        self.name = f"vector_top{k}"
        self._keys = np.zeros((1024, dim), np.float32)
        self._n = 0
        self.records: list[Record] = []
        self._cache: dict[str, int] = {}

    def _embed(self, toks: Sequence[str]) -> np.ndarray:
        v = np.zeros(self.dim, np.float32)
        cache = self._cache
        for tok in toks:
            h = cache.get(tok)
            if h is None:
                h = zlib.crc32(tok.encode()) % self.dim
                if len(cache) < 100_000:
                    cache[tok] = h
            v[h] += 1.0
        n = float(np.linalg.norm(v))
        return v / n if n > 0 else v

    @staticmethod
    def document(p: Percept) -> list[str]:
        toks = sorted({s.label for s in p.sightings})
        for e in p.events:
            toks += _tokens(e)
        if p.action:
            toks.append(p.action)
        toks += ["time", str(int(round(p.t)))]
        if p.pose is not None:
            toks += ["at", str(int(round(p.pose.x))), str(int(round(p.pose.y)))]
        return toks

    def observe(self, p: Percept) -> None:
        if self._n == len(self._keys):
            self._keys = np.concatenate([self._keys, np.zeros_like(self._keys)])
        self._keys[self._n] = self._embed(self.document(p))
        self._n += 1
        self.records.append(to_record(p))

    def retrieve(self, text: str) -> list[Record]:
        if self._n == 0:
            return []
        q = self._embed(_tokens(text))
        sims = self._keys[: self._n] @ q
        k = min(self.k, self._n)
        idx = np.argpartition(-sims, k - 1)[:k]
        return [self.records[i] for i in sorted(idx.tolist())]

    def answer(self, q: Question) -> Any:
        return answer_from_log(q, self.retrieve(q.text))


def _place(x: float) -> str:
    return str(int(round(x))) if abs(x - round(x)) < 1e-6 else f"{x:.2f}"


def caption(p: Percept) -> str:
    """One English sentence per percept: when, where, what was seen, what happened, what was done.

    E.g. ``"At time 1234, at (12, 40): I see coal, tree and water. Events: +1 wood. I did do on tree."``
    (time in the percept's units: steps in Crafter, seconds on robots; position in world-frame cells or metres).
    """
    parts = [f"At time {_place(p.t)}"]
    if p.pose is not None:
        parts.append(f", at ({_place(p.pose.x)}, {_place(p.pose.y)})")
    parts.append(":")
    labels = sorted({s.label.replace("_", " ") for s in p.sightings})
    if labels:
        seen = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
        parts.append(f" I see {seen}.")
    else:
        parts.append(" I see nothing of note.")
    if p.events:
        parts.append(" Events: " + "; ".join(e.replace("_", " ") for e in p.events) + ".")
    if p.action:
        act = p.action.replace("_", " ")
        parts.append(f" I did {act}" + (f" on {p.target.replace('_', ' ')}." if p.target else "."))
    return "".join(parts)


class SentenceVectorAnswerer:
    """A flat vector store of per-percept captions embedded by a sentence model; top-``k`` cosine
    retrieval with the question text, then the same scan of the hits as ``VectorStoreAnswerer``.

    ``embedder``: an object with ``encode(list[str]) -> float32 (n, dim)`` unit rows, ``name`` and
    ``dim`` (``sentence_embedders.make_embedder``). Captions are encoded in batches of ``batch``
    (``observe`` buffers them; ``flush`` encodes the rest; ``answer`` flushes first). The store holds
    the float32 keys and compact records; the model's weights are shared code, not memory contents
    (``deep_sizeof`` skips them: the answerer keeps only the bound ``encode`` method).
    """

    def __init__(self, embedder: Any, k: int = 32, batch: int = 256) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
            raise ValueError(f"SentenceVectorAnswerer k must be a positive int (documents retrieved), got {k!r}")
        if isinstance(batch, bool) or not isinstance(batch, int) or batch <= 0:
            raise ValueError(f"SentenceVectorAnswerer batch must be a positive int (captions per encode), got {batch!r}")
        self.k, self.batch, self.dim = k, batch, int(embedder.dim)
        self.name = f"{embedder.name}_top{k}"
        self._encode = embedder.encode  # a bound method: deep_sizeof does not count the model
        self._keys = np.zeros((1024, self.dim), np.float32)
        self._n = 0
        self._pending: list[str] = []
        self.records: list[Record] = []

    def observe(self, p: Percept) -> None:
        self._pending.append(caption(p))
        self.records.append(to_record(p))
        if len(self._pending) >= self.batch:
            self.flush()

    def flush(self) -> None:
        """Encode the buffered captions into the store."""
        if not self._pending:
            return
        v = self._encode(self._pending)
        while self._n + len(v) > len(self._keys):
            self._keys = np.concatenate([self._keys, np.zeros_like(self._keys)])
        self._keys[self._n: self._n + len(v)] = v
        self._n += len(v)
        self._pending = []

    def retrieve(self, text: str) -> list[Record]:
        self.flush()
        if self._n == 0:
            return []
        q = self._encode([text])[0]
        sims = self._keys[: self._n] @ q
        k = min(self.k, self._n)
        idx = np.argpartition(-sims, k - 1)[:k]
        return [self.records[i] for i in sorted(idx.tolist())]

    def answer(self, q: Question) -> Any:
        return answer_from_log(q, self.retrieve(q.text))


class EmbodiedMemAnswerer:
    """``embodied_mem.Memory`` answering through its query API (a small type → query mapping)."""

    name = "embodied_mem"

    def __init__(self, memory: Any = None, config: Any = None) -> None:
        from embodied_mem import Memory

        self.mem = memory if memory is not None else Memory(config)

    def observe(self, p: Percept) -> None:
        self.mem.observe(p)

    def _position_at(self, label: str, t: float | None) -> list[float] | None:
        tm = self.mem.temporal
        ts = tm.last_seen(label, at=t)
        if ts is None:
            return None
        for e in tm.between(ts, ts, kind="sighting"):
            if e.label == label:
                return [e.position[0], e.position[1]]
        return None

    def answer(self, q: Question) -> Any:
        mem, p, qt = self.mem, q.params, q.type
        tm, sp = mem.temporal, mem.spatial
        if qt == "position":
            return self._position_at(p["label"], None)
        if qt == "as_of_position":
            return self._position_at(p["label"], p["t"])
        if qt == "time":
            return tm.first_seen(p["label"])
        if qt == "binary":
            fa, fb = tm.first_seen(p["a"]), tm.first_seen(p["b"])
            return fa is not None and (fb is None or fa < fb)
        if qt == "order":
            return tm.order(p["labels"])
        if qt == "duration":
            return tm.longest_gap(p["label"])
        if qt == "count":
            # Distinct things ever believed (static things: one per cell; one hidden for a moment, as
            # under a flying arrow, and seen again where it was is the same thing, not a new one).
            return sp.count(p["label"])
        if qt == "change":
            return self._follow(p["label"], p["t"], p["position"])
        if qt == "robot_position":
            s, w = float(p["t"]), 1.0
            span = tm.span()
            while True:
                traj = sp.trajectory(s - w, s)
                if traj:
                    pose = traj[-1][1]
                    return [pose.x, pose.y]
                if span is None or s - w < span[0] - 1.0 or w > 1e9:
                    traj = sp.trajectory(None, s)
                    return [traj[-1][1].x, traj[-1][1].y] if traj else None
                w *= 8
        if qt == "distance":
            traj = sp.trajectory(p["t0"], p["t1"])
            if len(traj) < 2:
                return None if not traj else 0.0
            xy = np.array([[pose.x, pose.y] for _, pose in traj])
            return float(np.hypot(*np.diff(xy, axis=0).T).sum())
        if qt == "standstill":
            traj = sp.trajectory(p["t0"], p["t1"])
            if len(traj) < 2:
                return None
            return _standstill([t for t, _ in traj], [ps.x for _, ps in traj], [ps.y for _, ps in traj],
                               [ps.yaw for _, ps in traj], p["max_speed"], p["max_turn_rate"])
        if qt == "closest_time":
            traj = sp.trajectory()
            if not traj:
                return None
            xy = np.array([[pose.x, pose.y] for _, pose in traj])
            i = int(np.argmin(np.hypot(xy[:, 0] - p["point"][0], xy[:, 1] - p["point"][1])))
            return traj[i][0]
        raise ValueError(f"unknown question type {qt!r}")

    def _follow(self, label: str, s: float, position: Sequence[float]) -> list[float] | None:
        """Where is it now: ``spatial.follow`` from the belief at time ``s``, through the moves of
        things that walk (one cell per step) to the current belief; None when seen to be gone."""
        loc = self.mem.spatial.follow(label, position, s, reach=1.0 if label in MOVING_LABELS else 0.0)
        return None if loc is None else [loc.position[0], loc.position[1]]


def make_answerers(fifo_k: int = 500, vector_k: int = 32, vector_dim: int = 512, memory_config: Any = None,
                   memory: Any = None, embedders: Sequence[Any] = ()) -> list:
    """The answerers of the benchmark, fresh (``memory``: an embodied_mem ``Memory`` to use, e.g. on
    SQLite; ``embedders``: sentence embedders, one ``SentenceVectorAnswerer`` each, top-``vector_k``)."""
    return [EmbodiedMemAnswerer(memory=memory, config=memory_config), FifoAnswerer(fifo_k),
            VectorStoreAnswerer(vector_k, vector_dim), *(SentenceVectorAnswerer(e, vector_k) for e in embedders),
            FullLogAnswerer()]


def deep_sizeof(root: Any) -> int:
    """Bytes reachable from ``root`` (``sys.getsizeof`` over ``gc.get_referents``), skipping
    modules, classes and functions (shared code, not memory contents)."""
    import types

    skip = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType)
    seen: set[int] = set()
    stack = [root]
    total = 0
    while stack:
        obj = stack.pop()
        i = id(obj)
        if i in seen or isinstance(obj, skip):
            continue
        seen.add(i)
        try:
            total += sys.getsizeof(obj)
        except TypeError:
            continue
        if isinstance(obj, np.ndarray):
            if obj.base is not None:
                stack.append(obj.base)
            continue
        stack.extend(gc.get_referents(obj))
    return total
