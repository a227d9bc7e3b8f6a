"""``Memory``: the lifelong memory facade — one knowledge graph, four modules, one journal.

``observe(percept)`` validates the percept (types and values at construction, time order per
source here), journals it (durable before returning, unless ``durability="batch"``), then updates
spatial, temporal, episodic and semantic memory, which all write into ``self.graph``.
``retrieve(query)`` asks the four modules concurrently and returns a ``Recall``.

A refused percept raises ``ValueError``/``TypeError`` naming the field and changes nothing.
Modules switched off in the config answer empty. With ``long_term.enabled=False`` only a working
memory is kept: the modules are rebuilt from the last ``working_memory_size`` percepts whenever
twice that many have accumulated (so queries see between K and 2K recent percepts).

Threads: one writer thread (``observe``, ``new_episode``, ``flush``, ...) and any number of reader
threads (``retrieve``, ``stats``, and the modules' public query methods such as
``mem.episodic.recall`` or ``mem.spatial.locate``) may share one ``Memory``: every public method
takes the memory's lock, so a reader sees memory before or after a percept, never halfway. Readers
wait while a percept is applied (tens of microseconds). The graph's readers (``as_of``, ``edges``,
``to_json``, ``to_nx`` ...) take the lock too; ``mem.graph.nx`` (a networkx copy built on each
access) is not guarded: call ``mem.graph.to_nx()`` from other threads.

Reopening: ``Memory.open`` loads the snapshot beside the file (``snapshot.py``) when it is
intact and matches the journal, and replays only the journal entries after it; otherwise it
replays the whole journal. Snapshots are written at ``close()``/``checkpoint()`` and every
``snapshot_every`` journal entries. Checking a snapshot against the journal reads the journal's
edit count (``MemoryStore.edit_count``), not its rows, so it costs the same at any length;
``snapshot_status`` says why a snapshot was or was not used, ``open_timings`` where the time went.

RAM budget: with ``memory.ram_budget_mb`` set, what falls out of each module's working set
(temporal entries, trajectory poses, belief rows and sightings, occupancy tiles, chunk items and
columns, the knowledge graph's blocks of nodes and edges) lives in long-term SQLite tables
(``longterm.py``) and queries read it back; answers do not change. A read-only (or non-SQLite)
open keeps them in a scratch file and so replays the whole journal instead of loading the
snapshot.

What the budget promises: the growth of the process's resident set (RSS) that the memory causes
(as ``benchmarks/memory_ops.py`` measures it: the RSS growth of a process that builds the memory
from a stream, less that of the same process generating the stream alone) is kept within
``ram_budget_mb`` MiB on Linux with glibc, as long as the modules can page down to their parts
(``fit``) and the parts that are never paged fit in it.
How: each module estimates the RAM it holds (``ram_bytes()``: spatial, temporal and episodic
memory, the graph; a module without one is counted by the sizes of its containers), summed by
``Memory.ram_bytes()``. Every ``_FIT_EVERY`` percepts the controller (``_fit_budget``) keeps that
sum within ``longterm.estimate_room`` (``ESTIMATE_SHARE`` of the budget less ``FIXED_MB``): the modules that page and are over their part
(``longterm.MODULE_SHARES``) are told to ``fit`` it, the graph gets what the others leave (at least
a few blocks), and the heap freed by paging goes back to the system (``heap.release_free_heap``).
The rest of the budget is headroom for what the estimates do not see (allocator overhead, SQLite's
page cache): measured, the memory's RSS was 1.38x the estimates at 1M sightings and 1.75x at 3M.
Not covered: the Python interpreter and imported libraries (RSS before the memory is made), the
stream of percepts and whatever else the caller holds, query results and what a query pages in
until the next check (a whole-graph export builds the whole graph), another C library's (musl,
macOS) free heap, and the modules' parts that never page when they alone outgrow the budget.
Kept in RAM forever (never paged): per-label first/last times and names, places and
their grid, each world's small tables, semantic facts, the open chunk, and the last (growing)
block of the graph's nodes and of its edges.

Worlds: ``enter_world(id)`` scopes spatial and temporal memory (map, places, trajectory, the
per-source clock) to one world or map; semantic facts and episodic memory (chunks, utilities)
are shared by every world. Returning to a world brings back its map.
"""

from __future__ import annotations

import gc
import json
import math
import os
import sys
import threading
import time
import uuid
import warnings
from collections import deque
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..graph import MemoryGraph
from ..percept import Percept, percept_from_journal
from ..store import MemoryStore, StoreError
from ..stores import open_store
from .config import MemoryConfig
from .episodic import Chunk, EpisodicMemory
from .featurize import HASHING_SCHEME, make_key_encoder, tokens
from .heap import release_free_heap
from .longterm import MODULE_SHARES, LongTermStore, estimate_room, fit_shares, journal_batch_rows
from .semantic import Fact, Operation, SemanticMemory, load_knowledge
from .snapshot import (
    config_fingerprint,
    entry_fingerprint,
    has_own_state,
    is_behaviour,
    read_snapshot,
    snapshot_path,
    write_snapshot,
)
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
        self._tls = threading.local()  # .inherit: a retrieve() worker running under its caller's lock
        self._pool: ThreadPoolExecutor | None = None
        self._next_seq = 0
        self._replaying = False
        self._window: deque[tuple[int, float, Percept]] | None = None
        self._priors: list[Any] = []
        self.replay_problems: list[str] = []  # damaged journal rows skipped when the file was opened
        self._world: str | None = None
        self._worlds: dict[str | None, tuple[Any, ...]] = {}  # other worlds' spatial/temporal state
        self._snap_upto = 0  # journal position of the snapshot on disk (0: none usable)
        self._snap_fp: str | None = None  # config fingerprint; None: snapshots off (explicit encoder)
        self.snapshot_status = "no file"  # why the last open did or did not use a snapshot
        self.replayed_entries = 0  # journal entries replayed by the last open (after the snapshot, if one)
        # wall seconds of the last open: "store" (open and check the file), "snapshot" (verify and load
        # it), "replay" (the journal after it, or all of it), "total"
        self.open_timings: dict[str, float] = {}
        if not self.config.long_term.enabled:
            self._window = deque()
        # RAM budget: the modules' older parts live in long-term tables (memory/longterm.py); a
        # working memory (long_term.enabled=False) is bounded already
        budget = self.config.ram_budget_mb
        self._longterm = LongTermStore(budget) if budget is not None and self._window is None else None
        self._build_modules()

    def _build_modules(self) -> None:
        cfg = self.config
        self.graph = MemoryGraph()
        self.spatial = SpatialMemory(self.graph, cfg.spatial, world=getattr(self, "_world", None))
        self.temporal = TemporalMemory(cfg.temporal)
        self.episodic = EpisodicMemory(self.graph, cfg.episodic, encoder=self._make_encoder())
        self.semantic = SemanticMemory(self.graph, cfg.semantic)
        self._last_t: dict[str, float] = {}
        self.now = -math.inf
        self._n_percepts = 0
        self._use_long_term(self.spatial, self.temporal, self.episodic)
        if self._longterm is not None:
            self.graph.use_long_term(self._longterm)
        self._wrap_journaled_methods()
        self._guard_readers()

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
             encoder: Any = None, robot: str | None = None, fleet: str | None = None) -> Memory:
        """Open (or create) a memory database at ``path`` and replay it.

        ``path`` may be a ``postgresql://`` URL: a fleet memory on a PostgreSQL server, where
        ``robot`` (and ``fleet``) name whose memory this is (``embodied_mem.fleet``).

        A missing or empty file makes a new memory. ``config`` defaults to the one stored in the
        file (so answers are exactly as before); pass one to re-derive memory with other settings.
        Refuses foreign files and newer schema versions with a ``StoreError`` naming the file.
        """
        t0 = time.perf_counter()
        store = open_store(path, robot=robot, fleet=fleet, durability=durability, synchronous=synchronous,
                           readonly=readonly)
        t1 = time.perf_counter()
        try:
            stored = store.get_meta("config")
            if config is None and stored is not None:
                try:
                    config = MemoryConfig.from_dict(json.loads(stored))
                except (ValueError, TypeError) as exc:
                    raise StoreError(f"{store.path}: the stored config is damaged ({str(exc)[:200]}); "
                                     "pass config= to open it with a given config") from None
            mem = cls(config, encoder=encoder)
            if stored is None and not readonly:
                store.set_meta("config", json.dumps(mem.config.to_dict()))
            if store.get_meta("memory_id") is None and not readonly:
                store.set_meta("memory_id", uuid.uuid4().hex)
            mem._snap_fp = None if encoder is not None else config_fingerprint(mem.config.to_dict(),
                                                                                mem._encoder_fingerprint())
            lt = mem._longterm
            scratch = lt is not None and not lt.attach(getattr(store, "conn", None), writable=not readonly)
            if lt is not None and isinstance(getattr(store, "batch_size", None), int):
                store.batch_size = journal_batch_rows(lt.ram_budget_mb, store.batch_size)  # the buffer within the budget
            if scratch:  # pages in a scratch file (read-only or non-SQLite store): rebuilt by a full replay
                mem._snap_fp = None
            t2 = time.perf_counter()
            gc_was = gc.isenabled()
            gc.disable()  # the load and the replay make long-lived objects only (see _settle_gc)
            mem._opening = True  # reads inside the load and the replay start no budget check (_count_read)
            try:
                start = mem._load_snapshot(store)
                t3 = time.perf_counter()
                if scratch:
                    mem.snapshot_status = "snapshot not used: ram_budget_mb pages are rebuilt in a scratch file"
                if lt is not None:
                    mem._adopt_long_term(start)
                mem._replay(store, start)
            finally:
                mem._opening = False
                if gc_was:
                    _settle_gc()
                    gc.enable()
            mem.open_timings = {"store": t1 - t0, "snapshot": t3 - t2, "replay": time.perf_counter() - t3,
                                "total": time.perf_counter() - t0}
            mem._store = store
            share = getattr(store, "share_from", None)  # a fleet store: places and facts shared with the fleet
            if share is not None and not readonly:
                share(mem)
        except BaseException:
            store.close()
            raise
        return mem

    def _replay(self, store: MemoryStore, start: int = 0) -> None:
        """Apply every journal row from ``start`` on. A damaged row (undecodable, out of range, or
        failing to apply) is skipped and named in ``self.replay_problems`` (and a warning): one bad
        row never makes a file unopenable."""
        problems = self.replay_problems
        self._replaying = True
        # Python's cyclic collector would re-scan the growing state hundreds of times (about a fifth
        # of a long replay); replay makes no garbage cycles worth collecting meanwhile
        gc_was = gc.isenabled()
        gc.disable()
        try:
            n = 0
            for seq, kind, recorded_at, payload in store.entries(problems, start=start):
                try:
                    self._apply_entry(seq, kind, recorded_at, payload)
                except Exception as exc:  # noqa: BLE001 - any damage in one row: skip it, say so
                    problems.append(f"journal row seq {seq} ({kind}): {type(exc).__name__}: {exc}"[:300])
                self._next_seq = seq + 1
                n += 1
            self.replayed_entries = n
        finally:
            self._replaying = False
            if gc_was:
                gc.enable()
        if problems:
            warnings.warn(f"{store.path}: skipped {len(problems)} damaged journal row(s) on open; first: "
                          f"{problems[0]} (see Memory.replay_problems; `embodied-mem memory check`)",
                          RuntimeWarning, stacklevel=3)

    def _apply_entry(self, seq: int, kind: str, recorded_at: float, d: dict[str, Any]) -> None:
        if kind == "percept":
            self._apply(percept_from_journal(d), seq, recorded_at)
        elif kind == "episode":
            self.episodic.new_episode(d["t"], d.get("name"), recorded_at)
            self.spatial.break_walk()
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
        elif kind == "world":
            self._switch_world(d["id"], recorded_at)
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
        self._maybe_snapshot()
        return seq

    _GRAPH_READERS = ("nodes", "node", "edges", "history", "as_of", "valid_at", "to_dict", "to_json", "to_graphml",
                      "to_nx")

    def _guard_readers(self, modules: tuple[Any, ...] | None = None, graph: bool = True) -> None:
        """Make the modules' public methods (and the graph's readers) take the memory's lock, so that
        queries in other threads never see a half-applied percept (threading rule: module docstring)."""
        lock, tls = self._lock, self._tls
        budgeted = self._longterm is not None
        owned = getattr(lock, "_is_owned", None)  # CPython's RLock: held by this thread already (a nested read)

        def guard(fn: Any) -> Any:
            def run(*a: Any, **k: Any) -> Any:
                if getattr(tls, "inherit", False):
                    return fn(*a, **k)
                if budgeted and owned is not None and not owned():  # an outermost read: counted for the budget
                    with lock:
                        out = fn(*a, **k)
                        self._count_read()
                        return out
                with lock:
                    return fn(*a, **k)
            run.__wrapped__ = fn  # type: ignore[attr-defined]
            run._memory_lock_guard = True  # type: ignore[attr-defined]
            run.__doc__ = fn.__doc__
            return run

        for module in modules if modules is not None else (self.spatial, self.temporal, self.episodic, self.semantic):
            for name in dir(type(module)):
                if name.startswith("_") or name in ("observe", "observe_many") or not callable(getattr(type(module), name)):
                    continue
                if getattr(vars(module).get(name), "_memory_lock_guard", False):
                    continue  # already guarded (a world's modules guarded again on return)
                setattr(module, name, guard(getattr(module, name)))
        if not graph:
            return
        for name in self._GRAPH_READERS:
            setattr(self.graph, name, guard(getattr(self.graph, name)))
        raw_edges = self.graph.edges.__wrapped__  # a generator: collect it under the lock
        self.graph.edges = guard(lambda *a, **k: iter(list(raw_edges(*a, **k))))  # type: ignore[method-assign]

    # ------------------------------------------------------------------ snapshots
    _MODULES = ("spatial", "temporal", "episodic", "semantic")
    _NOT_STATE = frozenset({"strengthen", "reinforce", "assert_fact", "retract", "load_priors", "consolidate",
                            "encoder", "config"})  # journaling wrappers, the encoder and settings: rebuilt
    _FACADE_STATE = ("_last_t", "now", "_n_percepts", "_next_seq", "_priors", "_window", "_world", "_worlds",
                     "replay_problems")  # damaged rows skipped before the snapshot are still reported

    def _encoder_fingerprint(self) -> str:
        ep = self.config.episodic
        if ep.encoder == "hashing":  # the key scheme too: a snapshot of older keys is refused (full replay)
            return f"hashing/{HASHING_SCHEME}"
        ckpt = ep.encoder_checkpoint
        stamp = None
        if ckpt and os.path.exists(ckpt):
            st = os.stat(ckpt)
            stamp = [st.st_size, st.st_mtime_ns]
        return json.dumps([ep.encoder, ckpt, stamp])

    def _state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"graph": self.graph}
        for name in self._MODULES:
            state[name] = self._module_state(getattr(self, name))
        state["facade"] = {k: getattr(self, k) for k in self._FACADE_STATE}
        return state

    def _module_state(self, mod: Any) -> dict[str, Any]:
        """What a snapshot keeps of one module: its own compact form where it has one, else its
        data attributes (wrappers, the encoder and settings left out: rebuilt)."""
        if has_own_state(type(mod)):
            return {k: v for k, v in mod.__getstate__().items() if k not in self._NOT_STATE}
        return {k: v for k, v in vars(mod).items() if k not in self._NOT_STATE and not is_behaviour(v)}

    def _restore(self, state: dict[str, Any]) -> None:
        # A snapshot written by another version of a module (attributes added or removed) is refused
        # before anything changes: its state would be wrong in ways no checksum sees.
        for name in self._MODULES:
            want = set(self._module_state(getattr(self, name)))
            if set(state[name]) != want:
                raise ValueError(f"{name} state has other fields than this version's "
                                 f"({sorted(set(state[name]) ^ want)[:5]})")
        if set(state["facade"]) != set(self._FACADE_STATE):
            raise ValueError("memory state has other fields than this version's")
        for name in self._MODULES:
            mod = getattr(self, name)
            if has_own_state(type(mod)):  # its compact form (keeps the wrappers set on it)
                mod.__setstate__({**mod.__getstate__(), **state[name]})
            else:
                vars(mod).update(state[name])
        for k, v in state["facade"].items():
            setattr(self, k, v)
        # The graph's contents go into this memory's own graph object (wrappers set on it stay);
        # every module, of every world, points at that one graph.
        saved = state["graph"]
        self.graph.adopt(saved)
        for mod in [getattr(self, n) for n in self._MODULES] + [m for w in self._worlds.values() for m in w[:2]]:
            if getattr(mod, "graph", None) is saved:
                mod.graph = self.graph

    def _use_long_term(self, *modules: Any) -> None:
        if self._longterm is not None:
            for m in modules:
                m.use_long_term(self._longterm)

    def _adopt_long_term(self, start: int) -> None:
        """After a snapshot load: attach its modules' pages to the store and drop table rows written
        after the snapshot (start > 0); without one, empty the tables (the replay rebuilds them)."""
        lt = self._longterm
        assert lt is not None
        pages = [m.pages for m in (self.spatial, self.temporal, self.episodic, self.graph,
                                   *(x for w in self._worlds.values() for x in w[:2]))]
        marks = next((p.marks for p in pages if p is not None and p.marks is not None), None) if start else None
        for p in pages:
            if p is not None and p.lt is None:
                lt.adopt(p)
        lt.reset(marks)

    def _load_snapshot(self, store: MemoryStore) -> int:
        """Restore the snapshot beside ``store`` when it can be trusted; the journal position to replay from."""
        if self._snap_fp is None:
            self.snapshot_status = "snapshots off (explicit encoder)"
            return 0

        def entry_at(seq: int) -> list[Any] | None:
            raw = store.raw_entry(seq)
            return None if raw is None else entry_fingerprint(*raw)

        snap, why = read_snapshot(self._snapshot_location(store), memory_id=self._memory_id(store),
                                  config_fp=self._snap_fp, journal_next_seq=store.committed_next_seq,
                                  entry_at=entry_at, journal_crc=store.checksum, journal_edits=_edit_count(store))
        self.snapshot_status = why
        if snap is None:
            return 0
        try:
            self._restore(snap.state)
        except Exception as exc:  # a verified file of an incompatible shape: rebuild from the journal
            self.snapshot_status = f"snapshot state unusable: {type(exc).__name__}: {exc}"
            self._world, self._worlds, self._next_seq = None, {}, 0
            self._build_modules()
            return 0
        self._snap_upto = snap.upto
        return snap.upto

    @staticmethod
    def _snapshot_location(store: Any) -> Path:
        """The snapshot file: beside the database file, or a local copy of a fleet store's snapshot."""
        return store.snapshot_file() if hasattr(store, "snapshot_file") else snapshot_path(store.path)

    @staticmethod
    def _memory_id(store: MemoryStore) -> str:
        return store.get_meta("memory_id") or f"created:{store.get_meta('created_at')}"

    def checkpoint(self) -> int | None:
        """Make everything durable and write a snapshot, so that reopening replays nothing.

        Returns the snapshot's size in bytes (None for an in-RAM, read-only or explicit-encoder
        memory). A failure to write the snapshot (disk full, read-only folder) raises ``OSError``;
        the journal, and so the memory, is unaffected by it.
        """
        with self._lock:
            self._check_open()
            return self._write_snapshot()

    def _write_snapshot(self) -> int | None:
        store = self._store
        if store is None or store.readonly or store.conn is None or self._snap_fp is None:
            return None
        store.flush()
        upto = store.committed_next_seq
        if upto == 0:
            return None
        raw = store.raw_entry(upto - 1)
        if raw is None:
            return None
        edits = _edit_count(store)  # counted edits: no need to checksum every row before the snapshot
        where = self._snapshot_location(store)
        size = write_snapshot(where, self._state(), memory_id=self._memory_id(store),
                              upto=upto, last_entry=entry_fingerprint(*raw), config_fp=self._snap_fp,
                              journal_edits=edits, journal_crc=store.checksum(upto) if edits is None else None)
        if hasattr(store, "snapshot_saved"):  # a fleet store keeps the snapshot on its server
            store.snapshot_saved(where, upto)
        self._snap_upto = upto
        return size

    def _maybe_snapshot(self) -> None:
        every = self.config.snapshot_every
        if (every and self._store is not None and not self._replaying
                and self._next_seq - self._snap_upto >= every and not self._store.readonly):
            try:
                self._write_snapshot()
            except OSError as exc:  # the journal holds everything: warn, go on, retry later
                self._snap_upto = self._next_seq
                warnings.warn(f"could not write the snapshot of {self._store.path}: {exc}", RuntimeWarning,
                              stacklevel=3)

    # ------------------------------------------------------------------ worlds
    @property
    def world(self) -> str | None:
        """The world (map) id spatial and temporal memory are scoped to; None for the default world."""
        return self._world

    def worlds(self) -> list[str]:
        """Ids of every world this memory has entered (the default world, None, not listed)."""
        return sorted(w for w in (self._world, *self._worlds) if w is not None)

    def enter_world(self, world: str) -> None:
        """Continue in world (map) ``world``: a new id starts an empty map and clock, a known id brings
        back that world's map. Semantic facts and episodic memory carry over. Journaled (on a
        read-only memory it only changes which world's map the queries see)."""
        if not isinstance(world, str) or not world.strip() or "/" in world:
            raise ValueError(f"world must be a non-empty id without '/', got {world!r}")
        with self._lock:
            if not self.readonly:
                self._check_open()
            if world == self._world:
                return
            recorded_at = time.time()
            self._switch_world(world, recorded_at)
            if not self.readonly:
                self._journal("world", {"id": world}, recorded_at)

    def _switch_world(self, world: str, recorded_at: float) -> None:
        if world == self._world:
            return
        if self._window is not None:  # working memory only: nothing of the old world is kept
            self._window.clear()
            priors = self._priors
            self._world = world
            self._build_modules()
            self._priors = priors
            self._replaying, was = True, self._replaying
            try:
                for knowledge in priors:
                    self.semantic.load_priors(knowledge, t=0.0, recorded_at=recorded_at)
            finally:
                self._replaying = was
            return
        self._worlds[self._world] = (self.spatial, self.temporal, self._last_t, self.now)
        saved = self._worlds.pop(world, None)
        if saved is not None:
            self.spatial, self.temporal, self._last_t, self.now = saved
        else:
            self.spatial = SpatialMemory(self.graph, self.config.spatial, world=world)
            self.temporal = TemporalMemory(self.config.temporal)
            self._use_long_term(self.spatial, self.temporal)
            self._last_t, self.now = {}, -math.inf
        self._world = world
        self._guard_readers(modules=(self.spatial, self.temporal), graph=False)  # new or restored from a snapshot

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
            known = getattr(self._store, "known_percept", None)  # a fleet store: idempotent by percept id
            if known is not None:
                self._check_open()
                seq = known(percept)
                if seq is not None:
                    return seq
            self._check_time(percept)
            self._check_open()
            recorded_at = time.time()
            store = self._store
            if store is not None:
                seq = store.append("percept", recorded_at, _percept_payload(store)(percept))
            else:
                seq = self._next_seq
            self._next_seq = seq + 1
            if self._window is None:  # long-term memory (the usual case): straight to the modules
                self._apply_modules(percept, seq, recorded_at)
            else:
                self._apply(percept, seq, recorded_at)
            self._maybe_snapshot()
            return seq

    def observe_many(self, percepts: Iterable[Percept]) -> list[int]:
        """Observe several percepts, in order; returns their ids. All or none: every percept is
        checked first (a ``TypeError`` for a non-``Percept``, ``TimeOrderError`` for time going
        backwards within the batch or against memory, each naming its index), so a bad one refuses
        the whole batch and changes nothing. The batch is journaled in one write (one transaction
        with ``durability="percept"``: durable together on return); a write error (disk full)
        raises ``StoreError`` and none of the batch is taken. Answers are the same as observing the
        percepts one by one; a periodic snapshot falls after the batch."""
        ps = list(percepts)
        with self._lock:
            return self._observe_many(ps)

    def _observe_many(self, ps: list[Percept]) -> list[int]:
        last = dict(self._last_t)
        known = getattr(self._store, "known_percept", None)  # a fleet store: re-sent percepts are answered by id
        for i, p in enumerate(ps):
            if not isinstance(p, Percept):
                raise TypeError(f"percepts[{i}] must be a Percept, got {type(p).__name__}")
            if known is not None and known(p) is not None:
                continue
            prev = last.get(p.source)
            if prev is not None and p.t < prev:
                raise TimeOrderError(f"percepts[{i}]: Percept.t={p.t:g} goes backwards for source {p.source!r} "
                                     f"(last t={prev:g})")
            last[p.source] = p.t
        store = self._store
        if not ps or known is not None or (store is not None and not hasattr(store, "append_many")):
            return [self.observe(p) for p in ps]
        self._check_open()
        recorded_at = time.time()
        if store is not None:
            payload = _percept_payload(store)
            seq = store.append_many("percept", recorded_at, map(payload, ps))  # each dict freed once packed
        else:
            seq = self._next_seq
        self._next_seq = seq + len(ps)
        if self._window is None and self._longterm is None:
            # long-term memory without a RAM budget (the usual case): temporal memory, which no other
            # module reads while observing, takes the batch in one call after the others (the same state)
            apply_modules = self._apply_modules
            for i, p in enumerate(ps):
                apply_modules(p, seq + i, recorded_at, False)
            self.temporal.observe_many(ps)
        else:
            apply = self._apply
            for i, p in enumerate(ps):
                apply(p, seq + i, recorded_at)
        self._maybe_snapshot()
        return list(range(seq, seq + len(ps)))

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
                        # stamped with this percept's journaled time, so that a replay rebuilds the same
                        self.semantic.load_priors(knowledge, t=0.0, recorded_at=recorded_at)
                finally:
                    self._replaying = was
                for s, r, q in keep[:-1]:
                    self._apply_modules(q, s, r)
                self._apply_modules(p, seq, recorded_at)
                return
        self._apply_modules(p, seq, recorded_at)

    def _apply_modules(self, p: Percept, seq: int, recorded_at: float, temporal: bool = True) -> None:
        """Apply ``p`` to every module (``temporal=False``: all but temporal memory, which the caller
        gives the percept after, in a batch)."""
        prev = self._last_t.get(p.source)
        self._last_t[p.source] = p.t if prev is None else max(prev, p.t)
        if p.t > self.now:
            self.now = p.t
        self._n_percepts += 1
        self.spatial.observe(p, seq, recorded_at)
        if temporal:
            self.temporal.observe(p)
        place = self.spatial.current_place if p.pose is not None else None
        self.episodic.observe(p, seq, place, recorded_at)
        self.semantic.observe(p)
        if self._longterm is not None and self._n_percepts % self._FIT_EVERY == 0:
            self._fit_budget()
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
            self.spatial.break_walk()  # the next pose may be a reset, not a step
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
        with self._lock:
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
                    self._tls.inherit = True  # the caller holds the lock and waits for this worker
                    try:
                        t0 = time.perf_counter()
                        out = fn()
                        return out, time.perf_counter() - t0
                    finally:
                        self._tls.inherit = False
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
        with self._lock:
            return self._stats()

    _FIT_EVERY = 1024  # percepts between checks of the parts' RAM against the budget
    _READ_FIT_EVERY = 1024  # outermost module reads (queries) between checks, under a budget
    _RELEASE_EVERY = 32  # budget checks between heap releases at the latest
    _RELEASE_EACH_FIT_MB = 64  # a budget up to this many MiB gives the free heap back at every check
    _reads = 0  # outermost module reads since the last budget check
    _opening = False  # in Memory.open's load and replay
    _ram_peak = 0  # the parts' estimated total at its highest since the heap was last given back
    _fits_since_release = 0

    def ram_bytes(self) -> dict[str, int]:
        """Estimated bytes of RAM each part of memory holds now (``spatial``, ``temporal``,
        ``episodic``, ``semantic``, ``graph``, ``worlds``: the spatial and temporal memory of
        worlds not entered now) and their ``total``: what ``memory.ram_budget_mb`` bounds (see the
        module docstring for what it does not count). Each module's own ``ram_bytes()`` (O(1): sizes
        of its columns and tables); a module without one is counted by the sizes of its containers."""
        with self._lock:
            return self._ram_bytes()

    def _ram_bytes(self) -> dict[str, int]:
        parts = {name: _module_bytes(getattr(self, name)) for name in self._MODULES}
        parts["graph"] = self.graph.ram_bytes()
        parts["worlds"] = sum(_module_bytes(m) for w in self._worlds.values() for m in w[:2])
        parts["total"] = sum(parts.values())
        return parts

    def _count_read(self) -> None:
        """Under a budget, after each outermost module read (the lock held): every ``_READ_FIT_EVERY``
        reads, a budget check (``_fit_budget``), so that what queries paged in (and the heap their
        temporaries left free) is fitted and given back even when no percept comes."""
        self._reads += 1
        if self._reads >= self._READ_FIT_EVERY and not self._opening and (self._store is None or
                                                                          self._store.conn is not None):
            self._fit_budget()

    def _fit_budget(self) -> None:
        """The budget controller (every ``_FIT_EVERY`` percepts, and ``_READ_FIT_EVERY`` reads): when the parts'
        estimates exceed their room (``longterm.estimate_room``: ``ESTIMATE_SHARE`` of the budget less
        ``FIXED_MB``), split that room
        among the modules that page (``fit(max_bytes)``: spatial, temporal, episodic memory, the
        graph) by ``MODULE_SHARES`` (a module under its part leaves the rest to the others) and have
        each one over its part page out down to it; the graph gets what the others leave (at least a
        few blocks). Then, when the estimates fell by a sixteenth of the budget since their peak (or
        every ``_RELEASE_EVERY`` checks), the freed heap goes back to the operating system
        (``heap.release_free_heap``)."""
        budget = self.config.ram_budget_mb
        if budget is None:
            return
        parts = self._ram_bytes()
        room = estimate_room(budget)
        fits = {name: fn for name in ("spatial", "temporal", "episodic")
                if callable(fn := getattr(getattr(self, name), "fit", None))}
        if parts["total"] > room and fits:
            fixed = parts["total"] - parts["graph"] - sum(parts[n] for n in fits)  # no fit: counted as is
            sizes = {n: parts[n] for n in fits} | {"graph": parts["graph"]}
            caps = fit_shares(sizes, room - fixed, MODULE_SHARES)
            for name, fit in fits.items():
                if parts[name] > caps[name]:
                    fit(caps[name])
            parts = self._ram_bytes()
        self.graph.fit(room - (parts["total"] - parts["graph"]))
        total = self._ram_bytes()["total"]
        self._fits_since_release += 1
        self._reads = 0
        # fell by a sixteenth of the budget (pages moved out), or a while since, or a small budget (its heap
        # is small: a release takes ~1-3 ms, and what it gives back is a large part of the budget): give
        # the free heap back
        if (total < self._ram_peak - budget * 2**16 or self._fits_since_release >= self._RELEASE_EVERY
                or budget <= self._RELEASE_EACH_FIT_MB):
            release_free_heap()
            self._ram_peak, self._fits_since_release = total, 0
        else:
            self._ram_peak = max(self._ram_peak, total)

    def _stats(self) -> dict[str, Any]:
        span = self.temporal.span()
        return {
            "percepts": self._n_percepts,
            "time_span": list(span) if span else None,
            **{f"spatial.{k}": v for k, v in self.spatial.stats().items()},
            "temporal.entries": len(self.temporal),
            **{f"episodic.{k}": v for k, v in self.episodic.stats().items()},
            **{f"semantic.{k}": v for k, v in self.semantic.stats().items()},
            "graph.nodes": self.graph.number_of_nodes(),
            "graph.edges": self.graph.number_of_edges(),
            "regions": self.spatial.regions(),
        }

    @property
    def fleet(self) -> Any:
        """Queries across the robots of a fleet memory (``fleet.view.FleetView``: ``locate(label,
        robots=[...] | fleet=True, at=)``). ``ValueError`` for a memory that is not a fleet memory."""
        view = getattr(self._store, "fleet_view", None)
        if view is None:
            raise ValueError("fleet queries need a fleet memory: Memory.open('postgresql://…', robot=…)")
        if self._store.conn is None:
            raise ValueError("this memory is closed")
        return view()

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
        """Flush, write a snapshot when the journal grew since the last one, close the file."""
        with self._lock:
            if self._store is not None:
                if self._store.conn is not None and self._next_seq > self._snap_upto:
                    try:
                        self._write_snapshot()
                    except OSError as exc:  # reopening then replays the journal: slower, same answers
                        warnings.warn(f"could not write the snapshot of {self._store.path}: {exc}", RuntimeWarning,
                                      stacklevel=2)
                self._store.close()
            if self._longterm is not None:
                self._longterm.close()
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


def _module_bytes(mod: Any) -> int:
    """A module's ``ram_bytes()``; for a module without one, the sizes of its attributes' containers
    (``sys.getsizeof``, numpy ``nbytes``: the objects a list or dict holds are not counted)."""
    fn = getattr(mod, "ram_bytes", None)
    if callable(fn):
        return int(fn())
    n = 0
    for v in vars(mod).values():
        nb = getattr(v, "nbytes", None)
        n += nb if isinstance(nb, int) else sys.getsizeof(v)
    return n


def _percept_payload(store: Any) -> Any:
    """How ``store`` wants a percept journaled: its ``percept_payload`` (the SQLite store: the
    MessagePack-ready form, ``percept.journal_dict``), else ``Percept.to_dict``."""
    return getattr(store, "percept_payload", Percept.to_dict)


def _settle_gc() -> None:
    """Move the objects just made (the loaded or replayed state: all of it long-lived) straight into
    Python's oldest collector generation, so that the young-generation collections do not each
    traverse them once more (about 0.1 s of CPU per 500k objects). The next full collection still
    traverses them, as it would anyway. Done through ``gc.freeze``/``gc.unfreeze`` only when nothing
    else is frozen (a program that froze objects itself, before a fork, keeps them frozen)."""
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()


def _edit_count(store: Any) -> int | None:
    """The store's count of journal edits; None for a store (backend) that does not count them
    (snapshots are then checked by the CRC of every entry before them)."""
    count = getattr(store, "edit_count", None)
    return None if count is None else count()


def _plain(obj: Any) -> Any:
    """Knowledge mapping -> JSON-safe plain data."""
    return json.loads(json.dumps(obj, default=str))
