"""``Memory``: the lifelong memory facade — one knowledge graph, four modules, one journal.

``observe(percept)`` validates the percept (types and values at construction, time order per
source here), journals it (durable before returning, unless ``durability="batch"``), then updates
spatial, temporal, episodic and semantic memory, which all write into ``self.graph``.
``retrieve(query)`` asks the four modules concurrently and returns a ``Recall``.

A refused percept raises ``ValueError``/``TypeError`` naming the field and changes nothing.
Modules switched off in the config answer empty. With ``long_term.enabled=False`` only a working
memory is kept: the modules are rebuilt from the last ``working_memory_size`` percepts whenever
twice that many have accumulated (so queries see between K and 2K recent percepts).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..graph import MemoryGraph
from ..percept import Percept, percept_from_journal
from ..store import MemoryStore
from .config import MemoryConfig
from .episodic import Chunk, EpisodicMemory
from .featurize import make_key_encoder, tokens
from .semantic import Fact, Operation, SemanticMemory, load_knowledge
from .spatial import Location, SpatialMemory
from .temporal import TemporalMemory

__all__ = ["Memory", "Recall", "TimeOrderError"]


class TimeOrderError(ValueError):
    """A percept's time goes backwards for its source."""


@dataclass
class Recall:
    """The answer of ``Memory.retrieve``: one section per module, and how long each took (seconds)."""

    query: str
    labels: list[str]
    spatial: dict[str, list[Location]] = field(default_factory=dict)
    temporal: dict[str, dict[str, Any]] = field(default_factory=dict)
    episodic: list[Chunk] = field(default_factory=list)
    semantic: list[Fact] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"query: {self.query!r}  labels: {self.labels}"]
        for label, locs in self.spatial.items():
            lines.append(f"  where {label}: " + ("; ".join(str(loc) for loc in locs[:3]) or "unknown"))
        for label, d in self.temporal.items():
            lines.append(f"  when {label}: first {d['first_seen']}, last {d['last_seen']}, {d['count']} sightings")
        for c in self.episodic[:3]:
            lines.append("  recalled " + str(c).replace("\n", "\n  "))
        for f in self.semantic[:5]:
            lines.append(f"  fact: {f}")
        lines.append("  timings (ms): " + ", ".join(f"{k} {v * 1e3:.2f}" for k, v in self.timings.items()))
        return "\n".join(lines)


class Memory:
    """Lifelong memory. ``Memory()`` lives in RAM; ``Memory.open(path)`` persists to SQLite."""

    def __init__(self, config: MemoryConfig | Mapping[str, Any] | None = None, *, encoder: Any = None) -> None:
        self.config = MemoryConfig.from_dict(config)
        self._encoder = encoder
        self._store: MemoryStore | None = None
        self._lock = threading.RLock()
        self._pool: ThreadPoolExecutor | None = None
        self._next_seq = 0
        self._replaying = False
        self._window: deque[tuple[int, float, Percept]] | None = None
        self._priors: list[Any] = []
        if not self.config.long_term.enabled:
            self._window = deque()
        self._build_modules()

    def _build_modules(self) -> None:
        cfg = self.config
        self.graph = MemoryGraph()
        self.spatial = SpatialMemory(self.graph, cfg.spatial)
        self.temporal = TemporalMemory(cfg.temporal)
        self.episodic = EpisodicMemory(self.graph, cfg.episodic, encoder=self._make_encoder())
        self.semantic = SemanticMemory(self.graph, cfg.semantic)
        self._last_t: dict[str, float] = {}
        self.now = -math.inf
        self._n_percepts = 0
        self._wrap_journaled_methods()

    def _make_encoder(self) -> Any:
        if self._encoder is not None:
            return self._encoder
        # a learned encoder is injected from above (``featurize.register_key_encoder``), never imported here
        self._encoder = make_key_encoder(self.config.episodic.encoder, self.config.episodic)
        return self._encoder

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | Path, config: MemoryConfig | Mapping[str, Any] | None = None, *,
             durability: str = "percept", synchronous: str = "normal", readonly: bool = False,
             encoder: Any = None) -> Memory:
        """Open (or create) a memory database at ``path`` and replay it.

        A missing or empty file makes a new memory. ``config`` defaults to the one stored in the
        file (so answers are exactly as before); pass one to re-derive memory with other settings.
        Refuses foreign files and newer schema versions with a ``StoreError`` naming the file.
        """
        store = MemoryStore(path, durability=durability, synchronous=synchronous, readonly=readonly)
        try:
            stored = store.get_meta("config")
            if config is None and stored is not None:
                config = json.loads(stored)
            mem = cls(config, encoder=encoder)
            if stored is None and not readonly:
                store.set_meta("config", json.dumps(mem.config.to_dict()))
            mem._replay(store)
            mem._store = store
        except BaseException:
            store.close()
            raise
        return mem

    def _replay(self, store: MemoryStore) -> None:
        self._replaying = True
        try:
            for seq, kind, recorded_at, payload in store.entries():
                self._apply_entry(seq, kind, recorded_at, payload)
                self._next_seq = seq + 1
        finally:
            self._replaying = False

    def _apply_entry(self, seq: int, kind: str, recorded_at: float, d: dict[str, Any]) -> None:
        if kind == "percept":
            self._apply(percept_from_journal(d), seq, recorded_at)
        elif kind == "episode":
            self.episodic.new_episode(d["t"], d.get("name"), recorded_at)
        elif kind == "strengthen":
            self.episodic.strengthen(d["chunks"], d["t"])
        elif kind == "reinforce":
            self.episodic.reinforce(d["chunk"], d["reward"])
        elif kind == "assert":
            self.semantic.assert_fact(d["s"], d["r"], d["o"], confidence=d["confidence"], support=d["support"],
                                      t=d["t"], source=d["source"], exclusive=d.get("exclusive"),
                                      recorded_at=recorded_at)
        elif kind == "retract":
            self.semantic.retract(d["s"], d["r"], d["o"], t=d["t"], source=d["source"])
        elif kind == "priors":
            self.semantic.load_priors(d["knowledge"], t=d["t"], recorded_at=recorded_at)
        elif kind == "consolidate":
            counts = {(a, b): n for a, b, n in d["region_counts"]}
            self.semantic.consolidate(counts, t=d["t"], recorded_at=recorded_at)
        else:
            raise ValueError(f"unknown journal entry kind {kind!r} at seq {seq}")

    def _journal(self, kind: str, payload: dict[str, Any], recorded_at: float | None = None) -> int:
        """Record an operation (not during replay). Returns its sequence number."""
        if self._replaying:
            return -1
        seq = self._next_seq
        if self._store is not None:
            seq = self._store.append(kind, time.time() if recorded_at is None else recorded_at, payload)
        self._next_seq = seq + 1
        return seq

    def _wrap_journaled_methods(self) -> None:
        """Make direct calls on the modules (``mem.episodic.reinforce``...) journaled too."""
        mem = self
        ep, sem = self.episodic, self.semantic
        raw_strengthen, raw_reinforce = ep.strengthen, ep.reinforce
        raw_assert, raw_retract = sem.assert_fact, sem.retract
        raw_priors, raw_consolidate = sem.load_priors, sem.consolidate
        depth = {"n": 0}

        def nested(fn: Any) -> Any:
            def run(*a: Any, **k: Any) -> Any:
                depth["n"] += 1
                try:
                    return fn(*a, **k)
                finally:
                    depth["n"] -= 1
            return run

        def writable() -> bool:
            """Refuse a change before it is made (closed or read-only memory); replay always applies."""
            if depth["n"] == 0 and not mem._replaying:
                mem._check_open()
            return True

        def strengthen(chunk_ids: list[str], t: float) -> None:
            if mem.readonly and not mem._replaying:
                return  # recalling from a read-only memory does not change it
            writable()
            raw_strengthen(chunk_ids, t)
            if depth["n"] == 0 and chunk_ids:
                mem._journal("strengthen", {"chunks": list(chunk_ids), "t": t})

        def reinforce(chunk_id: str, reward: float) -> float:
            writable()
            u = raw_reinforce(chunk_id, reward)
            if depth["n"] == 0:
                mem._journal("reinforce", {"chunk": chunk_id, "reward": float(reward)})
            return u

        # Facts carry the wall-clock time they were learned (recorded_at); the journal keeps that
        # same value so that replaying on open rebuilds identical edges.
        def assert_fact(subject: str, relation: str, obj: str, **kw: Any) -> Operation:
            writable()
            if kw.get("recorded_at") is None:
                kw["recorded_at"] = time.time()
            op = nested(raw_assert)(subject, relation, obj, **kw)
            if depth["n"] == 0 and sem.enabled:
                mem._journal("assert", {"s": subject, "r": relation, "o": obj, "confidence": op.fact.confidence,
                                        "support": op.fact.support, "t": op.t, "source": kw.get("source", "asserted"),
                                        "exclusive": kw.get("exclusive")}, kw["recorded_at"])
            return op

        def retract(subject: str, relation: str, obj: str, **kw: Any) -> Operation:
            writable()
            op = nested(raw_retract)(subject, relation, obj, **kw)
            if depth["n"] == 0:
                mem._journal("retract", {"s": subject, "r": relation, "o": obj, "t": op.t,
                                         "source": kw.get("source", "retracted")})
            return op

        def load_priors(knowledge: Mapping[str, Any], t: float | None = None, recorded_at: float | None = None) -> int:
            writable()
            if isinstance(knowledge, (str, Path)):
                knowledge = load_knowledge(knowledge)
            if recorded_at is None:
                recorded_at = time.time()
            n = nested(raw_priors)(knowledge, t=t, recorded_at=recorded_at)
            if knowledge not in mem._priors:
                mem._priors.append(knowledge)
            if depth["n"] == 0:
                mem._journal("priors", {"knowledge": _plain(knowledge), "t": t}, recorded_at)
            return n

        def consolidate(region_counts: Mapping[tuple[str, str], int], t: float | None = None,
                        recorded_at: float | None = None) -> list[Operation]:
            writable()
            if recorded_at is None:
                recorded_at = time.time()
            if t is None:  # journal the time actually used (never -inf: JSON has no infinities)
                t = sem.now if math.isfinite(sem.now) else 0.0
            ops = nested(raw_consolidate)(region_counts, t=t, recorded_at=recorded_at)
            if depth["n"] == 0 and sem.enabled:
                mem._journal("consolidate", {"region_counts": [[a, b, n] for (a, b), n in
                                                                sorted(region_counts.items())], "t": t}, recorded_at)
            return ops

        ep.strengthen = strengthen  # type: ignore[method-assign]
        ep.reinforce = reinforce  # type: ignore[method-assign]
        sem.assert_fact = assert_fact  # type: ignore[method-assign]
        sem.retract = retract  # type: ignore[method-assign]
        sem.load_priors = load_priors  # type: ignore[method-assign]
        sem.consolidate = consolidate  # type: ignore[method-assign]

    # ------------------------------------------------------------------ writing
    def observe(self, percept: Percept) -> int:
        """Add one percept to memory; returns its id. Durable on return unless ``durability="batch"``."""
        if not isinstance(percept, Percept):
            raise TypeError(f"observe() takes a Percept, got {type(percept).__name__}")
        with self._lock:
            self._check_time(percept)
            self._check_open()
            recorded_at = time.time()
            if self._store is not None:
                seq = self._store.append("percept", recorded_at, percept.to_dict())
            else:
                seq = self._next_seq
            self._next_seq = seq + 1
            self._apply(percept, seq, recorded_at)
            return seq

    def observe_many(self, percepts: Iterable[Percept]) -> list[int]:
        """Observe several percepts; all are checked first, so a bad one refuses the whole batch."""
        ps = list(percepts)
        last = dict(self._last_t)
        for i, p in enumerate(ps):
            if not isinstance(p, Percept):
                raise TypeError(f"percepts[{i}] must be a Percept, got {type(p).__name__}")
            prev = last.get(p.source)
            if prev is not None and p.t < prev:
                raise TimeOrderError(f"percepts[{i}]: Percept.t={p.t:g} goes backwards for source {p.source!r} "
                                     f"(last t={prev:g})")
            last[p.source] = p.t
        return [self.observe(p) for p in ps]

    def _check_time(self, p: Percept) -> None:
        prev = self._last_t.get(p.source)
        if prev is not None and p.t < prev:
            raise TimeOrderError(f"Percept.t={p.t:g} goes backwards for source {p.source!r} (last t={prev:g}); "
                                 "time must be non-decreasing per source")

    @property
    def readonly(self) -> bool:
        """True when opened with ``readonly=True``: queries only; recall does not strengthen."""
        return self._store is not None and self._store.readonly

    def _check_open(self) -> None:
        if self._store is not None and self._store.conn is None:
            raise ValueError("this memory is closed")
        if self._store is not None and self._store.readonly:
            raise ValueError(f"{self._store.path} was opened read-only")

    def _apply(self, p: Percept, seq: int, recorded_at: float) -> None:
        if self._window is not None:
            self._window.append((seq, recorded_at, p))
            k = self.config.long_term.working_memory_size
            if len(self._window) >= 2 * k:
                keep = list(self._window)[-k:]
                self._window = deque(keep)
                priors = self._priors
                self._build_modules()
                self._priors = priors
                self._replaying, was = True, self._replaying
                try:
                    for knowledge in priors:  # priors are knowledge, not long-term memory: keep them
                        self.semantic.load_priors(knowledge, t=0.0)
                finally:
                    self._replaying = was
                for s, r, q in keep[:-1]:
                    self._apply_modules(q, s, r)
                self._apply_modules(p, seq, recorded_at)
                return
        self._apply_modules(p, seq, recorded_at)

    def _apply_modules(self, p: Percept, seq: int, recorded_at: float) -> None:
        prev = self._last_t.get(p.source)
        self._last_t[p.source] = p.t if prev is None else max(prev, p.t)
        if p.t > self.now:
            self.now = p.t
        self._n_percepts += 1
        self.spatial.observe(p, seq, recorded_at)
        self.temporal.observe(p)
        place = self.spatial.current_place if p.pose is not None else None
        self.episodic.observe(p, seq, place, recorded_at)
        self.semantic.observe(p)
        if p.events:
            for i, text in enumerate(p.events):
                node = f"event:{seq}:{i}"
                self.graph.add_node(node, "event", text=text, t=p.t, created=p.t)
                if place is not None:
                    self.graph.add_edge(node, place, "happened_at", valid_from=p.t, source=seq,
                                        recorded_at=recorded_at)

    def new_episode(self, name: str | None = None) -> str:
        """End the current episode (and its open chunk); later percepts belong to a new one."""
        with self._lock:
            self._check_open()
            t = self.now if math.isfinite(self.now) else 0.0
            eid = self.episodic.new_episode(t, name)
            self._journal("episode", {"t": t, "name": eid})
            return eid

    def consolidate(self) -> list[Operation]:
        """Distil semantic facts from what spatial and episodic memory hold (see SemanticMemory)."""
        with self._lock:
            return self.semantic.consolidate(self.spatial.region_counts())

    def load_priors(self, knowledge: str | Path | Mapping[str, Any]) -> int:
        """Load prior facts from a YAML file, a packaged knowledge name ("crafter"), or a mapping."""
        with self._lock:
            return self.semantic.load_priors(knowledge, t=0.0)

    def reinforce(self, chunk_id: str, reward: float) -> float:
        with self._lock:
            return self.episodic.reinforce(chunk_id, reward)

    # ------------------------------------------------------------------ reading
    def labels_in(self, query: str) -> list[str]:
        """Known object labels mentioned in ``query`` (plural-insensitive; "iron pickaxe" matches iron_pickaxe)."""
        q = set(tokens(query))
        vocab = set(self.spatial.labels()) | set(self.temporal.labels())
        out = []
        for label in sorted(vocab):
            lt = tokens(label)
            if lt and all(w in q for w in lt):
                out.append(label)
        return out

    def retrieve(self, query: str, k: int = 5, at: float | None = None) -> Recall:
        """Ask every module about ``query`` concurrently; one section per module, with timings."""
        if not isinstance(query, str):
            raise TypeError(f"query must be a str, got {type(query).__name__}")
        t_start = time.perf_counter()
        with self._lock:
            labels = self.labels_in(query)
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="embodied-mem-retrieve")

            def timed(fn: Any) -> Any:
                def run() -> tuple[Any, float]:
                    t0 = time.perf_counter()
                    out = fn()
                    return out, time.perf_counter() - t0
                return run

            def spatial() -> dict[str, list[Location]]:
                return {lbl: self.spatial.locate(lbl, at=at)[:k] for lbl in labels} if self.spatial.enabled else {}

            def temporal() -> dict[str, dict[str, Any]]:
                if not self.temporal.enabled:
                    return {}
                return {lbl: {"first_seen": self.temporal.first_seen(lbl, at=at),
                              "last_seen": self.temporal.last_seen(lbl, at=at),
                              "count": self.temporal.count(lbl, None, at)} for lbl in labels}

            def episodic() -> list[Chunk]:
                return self.episodic.recall(query, k=k, strengthen=at is None and not self.readonly)

            def semantic() -> list[Fact]:
                names = set(labels) | set(tokens(query))
                if at is None:
                    return self.semantic.about(names)
                return [f for f in self.semantic.facts(at=at)
                        if names & (set(f.subject.split()) | set(f.object.split()) | {f.subject, f.object})]

            futs = {name: self._pool.submit(timed(fn)) for name, fn in
                    (("spatial", spatial), ("temporal", temporal), ("episodic", episodic), ("semantic", semantic))}
            recall = Recall(query, labels)
            for name, fut in futs.items():
                value, dt = fut.result()
                setattr(recall, name, value)
                recall.timings[name] = dt
            recall.timings["total"] = time.perf_counter() - t_start
            return recall

    def stats(self) -> dict[str, Any]:
        span = self.temporal.span()
        return {
            "percepts": self._n_percepts,
            "time_span": list(span) if span else None,
            **{f"spatial.{k}": v for k, v in self.spatial.stats().items()},
            "temporal.entries": len(self.temporal),
            **{f"episodic.{k}": v for k, v in self.episodic.stats().items()},
            **{f"semantic.{k}": v for k, v in self.semantic.stats().items()},
            "graph.nodes": self.graph.nx.number_of_nodes(),
            "graph.edges": self.graph.nx.number_of_edges(),
            "regions": self.spatial.regions(),
        }

    # ------------------------------------------------------------------ lifecycle
    @property
    def path(self) -> Path | None:
        return None if self._store is None else self._store.path

    def flush(self) -> None:
        """Make everything observed so far durable (batch mode); a no-op otherwise."""
        with self._lock:
            if self._store is not None and self._store.conn is not None:
                self._store.flush()

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        where = str(self.path) if self.path else "in-memory"
        return f"Memory({where}, {self._n_percepts} percepts)"


def _plain(obj: Any) -> Any:
    """Knowledge mapping -> JSON-safe plain data."""
    return json.loads(json.dumps(obj, default=str))
