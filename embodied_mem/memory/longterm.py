"""Long-term memory on disk: where a memory with a RAM budget keeps what falls out of its working set.

With ``memory.ram_budget_mb`` set, the modules keep only a *working set* in RAM (the newest
temporal entries, the newest part of the trajectory, each object belief's newest sightings, the
object labels seen lately, the occupancy tiles used lately, the newest episodic chunks' items) and
move the older part, in blocks, into indexed SQLite tables (``lt_events``, ``lt_poses``,
``lt_sightings``; ``lt_beliefs`` with ``lt_bcells`` and ``lt_tiles`` for spatial memory's cold labels
and far tiles; ``lt_chunks`` for the items of older episodic chunks). Queries that reach back past the working set
page the rows they need in from those tables, so every answer is exactly the one an unbounded
memory gives (RTAB-Map's working / long-term memory split, with retrieval by query).

Where the tables live: in the memory's own SQLite file (beside the journal, through the same
connection) for ``Memory.open(path)``; in a temporary file, deleted on ``close()``, for an
in-RAM ``Memory()`` or a read-only or non-SQLite store. The journal stays the source of truth:
the tables are derived from it. Each snapshot records how far the tables were written
(``marks``); reopening from that snapshot deletes rows written after it (they belong to journal
entries that are replayed again), and reopening without a snapshot empties the tables and
rebuilds them by the replay. So a crash between a block move and a snapshot costs nothing.

Nothing is ever deleted from the long-term tables while the memory lives: a block moved out is
still read by every query that reaches its time range. Row values are stored as packed IEEE
doubles (``v`` blobs), so paged-in answers are bit-identical (``-0.0`` included).

Rows are ordered by ``(t, rowid)``: a late entry (another source, older time) appended to a
table sorts after every earlier row of the same time, as ``bisect_right`` places it in RAM.
"""

from __future__ import annotations

import os
import sqlite3
import struct
import tempfile
import weakref
from typing import Any

__all__ = ["LongTermStore", "Pages", "working_set_sizes", "belief_rows", "grid_cells", "place_blocks", "TABLES", "EVENT_V",
           "POSE_V", "SIGHT_V", "ESTIMATE_SHARE", "FIXED_MB", "estimate_room", "MODULE_SHARES", "fit_shares", "journal_batch_rows", "cache_kib"]

TABLES = ("lt_events", "lt_poses", "lt_sightings")
TABLES += ("lt_chunks",)  # episodic memory (below)

_SCHEMA = (
    # temporal memory: one row per sighting or event moved out of RAM
    "CREATE TABLE IF NOT EXISTS lt_events (space INTEGER NOT NULL, t REAL NOT NULL, kind INTEGER NOT NULL, "
    "sym INTEGER NOT NULL, src INTEGER NOT NULL, v BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS lt_events_t ON lt_events (space, t)",
    "CREATE INDEX IF NOT EXISTS lt_events_sym ON lt_events (space, kind, sym, t)",
    # spatial memory: the agent's older poses
    "CREATE TABLE IF NOT EXISTS lt_poses (space INTEGER NOT NULL, t REAL NOT NULL, v BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS lt_poses_t ON lt_poses (space, t)",
    # spatial memory: the older sightings of each object belief (row = the belief's row number)
    "CREATE TABLE IF NOT EXISTS lt_sightings (space INTEGER NOT NULL, row INTEGER NOT NULL, t REAL NOT NULL, "
    "v BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS lt_sightings_row ON lt_sightings (space, row, t)",
)
_SCHEMA += (
    # episodic memory: the items of older closed chunks, one row per chunk (row = the chunk's row number;
    # v = item times then percept ids, packed little-endian doubles / int64; texts = JSON list)
    "CREATE TABLE IF NOT EXISTS lt_chunks (space INTEGER NOT NULL, row INTEGER NOT NULL, v BLOB NOT NULL, "
    "texts TEXT NOT NULL)",
    "CREATE UNIQUE INDEX IF NOT EXISTS lt_chunks_row ON lt_chunks (space, row)",
)

# spatial memory: cold object labels (every belief row of a label, packed together; ``v`` a pickled
# dict of columns) and, for each current belief of such a label, its index cell (so a percept whose
# view reaches it pages the label back in). A label paged in again keeps its old rows (never deleted:
# a snapshot may name them); ``gen`` (the lt_beliefs rowid) tells the live rows from stale ones.
_SCHEMA += (
    "CREATE TABLE IF NOT EXISTS lt_beliefs (space INTEGER NOT NULL, label INTEGER NOT NULL, v BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS lt_bcells (space INTEGER NOT NULL, cx INTEGER NOT NULL, cy INTEGER NOT NULL, "
    "label INTEGER NOT NULL, gen INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS lt_bcells_xy ON lt_bcells (space, cx, cy)",
)
TABLES += ("lt_beliefs", "lt_bcells")
# spatial memory: the names of cold labels (their rows are in lt_beliefs): label id ``li`` -> ``name``; a
# name paged in again keeps its row (a later move writes another, with the same id)
_SCHEMA += (
    "CREATE TABLE IF NOT EXISTS lt_slabels (space INTEGER NOT NULL, li INTEGER NOT NULL, name TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS lt_slabels_name ON lt_slabels (space, name)",
    "CREATE INDEX IF NOT EXISTS lt_slabels_li ON lt_slabels (space, li)",
)
TABLES += ("lt_slabels",)
# spatial memory: occupancy tiles (32 x 32 cells) far from where the agent works: one row per move,
# ``v`` a pickled dict of the tile's known, walked and frontier cells
_SCHEMA += ("CREATE TABLE IF NOT EXISTS lt_tiles (space INTEGER NOT NULL, v BLOB NOT NULL)",)
TABLES += ("lt_tiles",)
# episodic memory: the key postings of older chunks (a lexical encoder's sparse keys), one row per
# dimension and move (rows: int32 chunk rows ascending, vals: their float32 values; r0: first row moved)
_SCHEMA += ("CREATE TABLE IF NOT EXISTS lt_ckeys (space INTEGER NOT NULL, dim INTEGER NOT NULL, r0 INTEGER NOT NULL, "
            "rows BLOB NOT NULL, vals BLOB NOT NULL)",
            "CREATE INDEX IF NOT EXISTS lt_ckeys_dim ON lt_ckeys (space, dim, r0)")
TABLES += ("lt_ckeys",)
# episodic memory: the per-chunk columns of older chunks (times, codes, item end, strength, last access,
# utility), one row per block of up to 1024 chunk rows from r0 (memory/chunkcolumns.py)
_SCHEMA += ("CREATE TABLE IF NOT EXISTS lt_ccols (space INTEGER NOT NULL, r0 INTEGER NOT NULL, v BLOB NOT NULL)",
            "CREATE UNIQUE INDEX IF NOT EXISTS lt_ccols_r0 ON lt_ccols (space, r0)")
TABLES += ("lt_ccols",)
# episodic memory: the keys of older chunks from a dense (learned) encoder, one row per block of up to
# 1024 chunk rows from r0 (float32, (key_dim, rows) in C order; memory/keycolumns.py DenseKeyColumns)
_SCHEMA += ("CREATE TABLE IF NOT EXISTS lt_dkeys (space INTEGER NOT NULL, r0 INTEGER NOT NULL, v BLOB NOT NULL)",
            "CREATE UNIQUE INDEX IF NOT EXISTS lt_dkeys_r0 ON lt_dkeys (space, r0)")
TABLES += ("lt_dkeys",)

EVENT_V = struct.Struct("<dddd")  # t, x, y, z
POSE_V = struct.Struct("<ddddd")  # t, x, y, z, yaw
SIGHT_V = struct.Struct("<ddddd")  # t, confidence, x, y, z

# Bytes one in-RAM item costs (measured with tracemalloc on the benchmark stream), used to turn the
# budget into working-set sizes.
_BYTES_PER_ENTRY = 32  # temporal: an upper bound on its entries (it fits its share in bytes at its own measured 35-39 B an entry)
_BYTES_PER_POSE = 130  # spatial trajectory: a Pose (4 floats, slots) + its time + list slots
_SHARE_TEMPORAL = 0.25  # share of the budget for the temporal working set
_SHARE_TRAJECTORY = 0.05  # share of the budget for the trajectory working set
_BYTES_PER_SIGHTING = 20  # spatial sightings log: t, back link, value index, belief (+ values, shared)
_SHARE_SIGHTINGS = 0.10  # share of the budget for the sightings log of object beliefs
_BYTES_PER_CHUNK_ITEM = 24  # episodic: time, percept id, text pointer (texts interned, shared)
_SHARE_CHUNK_ITEMS = 0.05  # share of the budget for the items of closed chunks
_BYTES_PER_BELIEF = 160  # spatial belief row: ~14 columns, its latest sighting and value, index cell, first position
_SHARE_BELIEFS = 0.10  # share of the budget for object belief rows (cold labels move to lt_beliefs)


_BYTES_PER_CELL = 110  # spatial occupancy: a known or walked cell (a tuple key in a dict or set)
_SHARE_CELLS = 0.05  # share of the budget for the occupancy grid (far tiles move to lt_tiles)


# the knowledge graph (graph.py): blocks of 1024 nodes or edges used longest ago (``kind`` 0: nodes, 1:
# edges; ``v`` a pickled dict of the block's columns; a block written again gets a new row, the graph
# keeps the rowid of the latest) and the ids of the nodes in paged-out blocks (``idx``: the node's number)
_SCHEMA += (
    "CREATE TABLE IF NOT EXISTS lt_graph (space INTEGER NOT NULL, kind INTEGER NOT NULL, block INTEGER NOT NULL, "
    "v BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS lt_gnames (space INTEGER NOT NULL, name TEXT NOT NULL, idx INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS lt_gnames_name ON lt_gnames (space, name)",
)
TABLES += ("lt_graph", "lt_gnames")
_SHARE_GRAPH = 0.15  # share of the budget for the knowledge graph's resident blocks (graph.py)

# The budget controller (``Memory._fit_budget``): what the modules' own estimates (``ram_bytes()``)
# may sum to, as a share of the budget. The rest is for what the estimates do not see: the
# allocators' overhead (headers, size classes, partly used Python arenas, heap fragmentation from
# paging out and in), SQLite's page cache, the journal's batch buffer. The estimates themselves are
# close to tracemalloc's count (benchmarks/memory_ops.py --ram-trace, budget 256 MiB, 1M sightings:
# estimates 139.8 MiB, traced embodied_mem 139.7 MiB; spatial 61.3 vs 67.9, temporal 29.5 vs 29.1,
# episodic 13.3 vs 13.9, graph 35.7 vs 27.5), so the gap is the process's, not the estimates'. At
# 3M sightings, back to back on one machine: share 0.55 -> estimates 133.7 MiB, memory RSS 274.1 MiB (2.05x, over the
# budget); share 0.42 -> estimates 116.0 MiB, memory RSS 150.7 MiB (1.30x). 1/2.05 = 0.49, less a
# margin: the ratio is not constant (1.38x at 1M) and grows with the stream's length.
ESTIMATE_SHARE = 0.42
# What a process holding a memory pays whatever the memory holds, outside the estimates (measured at
# 1M sightings under a 16 MiB budget, beside a process generating the stream alone, /proc/self/smaps and
# glibc's mallinfo2): the code pages of numpy and SQLite the memory touches (~3.6 MiB, file-backed),
# SQLite's connection, schema and statements (~0.7 MiB beside its page cache), partly used Python arenas.
# The estimates get ESTIMATE_SHARE of the budget less this (``estimate_room``), so that it weighs on small
# budgets (16 MiB: 0.75 of the share) and hardly on large ones (256 MiB: 0.98).
FIXED_MB = 4.0
# How the controller splits the estimates' share among the modules that page (``fit``) when their
# sum exceeds it: in these proportions (what each held without a budget on the benchmark stream at
# 1M sightings: spatial 64, graph 37, temporal 35, episodic 14 MB), a module under its part leaving
# the rest to the others. A module not named here weighs 0.1.
MODULE_SHARES = {"spatial": 0.43, "graph": 0.25, "temporal": 0.23, "episodic": 0.09}


def fit_shares(sizes: dict[str, int], room: int, shares: dict[str, float]) -> dict[str, int]:
    """Split ``room`` bytes among the modules of ``sizes`` (bytes each holds now) in proportion to
    ``shares``, a module that holds less than its part keeping what it holds and leaving the rest to
    the others (water-filling). Returns each module's cap; when the sizes fit in ``room`` every cap is
    at least the module's size. ``room`` below 0 counts as 0."""
    room = max(0, int(room))
    caps: dict[str, int] = {}
    left = dict(sizes)
    while left:
        if sum(left.values()) <= room:  # the rest fits (decided in integers: no rounding asks a module to shrink)
            caps.update(left)
            return caps
        level = room / sum(shares.get(k, 0.1) for k in left)  # bytes per unit of share
        under = [k for k, v in left.items() if v <= level * shares.get(k, 0.1)]
        if not under:  # every module left is over its part: each gets exactly its part
            for k in left:
                caps[k] = int(level * shares.get(k, 0.1))
            return caps
        for k in under:
            caps[k] = left.pop(k)
            room -= caps[k]
    return caps


def estimate_room(ram_budget_mb: float) -> int:
    """Bytes the modules' estimates may sum to under a budget of ``ram_budget_mb`` MiB (what the budget
    controller keeps them within): ``ESTIMATE_SHARE`` of the budget less ``FIXED_MB``, and never less
    than the share of half the budget."""
    b = float(ram_budget_mb)
    return int(max(b / 2, b - FIXED_MB) * 2**20 * ESTIMATE_SHARE)


def grid_cells(ram_budget_mb: float) -> int:
    """Occupancy cells (known plus walked) spatial memory keeps in RAM under a budget of
    ``ram_budget_mb`` (MiB); past it, the tiles used longest ago move out until a quarter is free."""
    return max(4096, int(float(ram_budget_mb) * 2**20 * _SHARE_CELLS / _BYTES_PER_CELL))


def belief_rows(ram_budget_mb: float) -> int:
    """Object belief rows spatial memory keeps in RAM under a budget of ``ram_budget_mb`` (MiB); past
    it, the labels seen longest ago move out whole (``lt_beliefs``) until a quarter is free."""
    return max(256, int(float(ram_budget_mb) * 2**20 * _SHARE_BELIEFS / _BYTES_PER_BELIEF))


def working_set_sizes(ram_budget_mb: float) -> dict[str, int]:
    """Items each paged module keeps in RAM under a budget of ``ram_budget_mb`` (MiB): the newest
    ``temporal`` entries and ``poses``, ``sightings`` of object beliefs (spatial: past it, all but
    each belief's latest sighting older than a time cut move out) and ``chunk_items`` of closed
    episodic chunks (past it, the oldest chunks' items move out whole). A module moves its oldest
    quarter out when it holds more."""
    b = float(ram_budget_mb) * 2**20
    return {"temporal": max(256, int(b * _SHARE_TEMPORAL / _BYTES_PER_ENTRY)),
            "poses": max(256, int(b * _SHARE_TRAJECTORY / _BYTES_PER_POSE)),
            "sightings": max(256, int(b * _SHARE_SIGHTINGS / _BYTES_PER_SIGHTING)),
            "chunk_items": max(256, int(b * _SHARE_CHUNK_ITEMS / _BYTES_PER_CHUNK_ITEM)),
            "graph": int(b * _SHARE_GRAPH)}


# spatial memory: blocks of 1024 consecutive topological places (z, visits, visit times, region edge and
# votes, adjacency; ``v`` a pickled dict of the block's column bytes) used longest ago; a block written
# again gets a new row (``block``: its number), spatial memory keeps the rowid of the latest
_SCHEMA += ("CREATE TABLE IF NOT EXISTS lt_places (space INTEGER NOT NULL, block INTEGER NOT NULL, v BLOB NOT NULL)",)
TABLES += ("lt_places",)
_BYTES_PER_PLACE_IN_BLOCK = 100  # a place's block part: ~60 bytes of columns, ~3 adjacency rows, votes
_SHARE_PLACES = 0.02  # share of the budget for the resident place blocks (positions and grid always stay)


def place_blocks(ram_budget_mb: float) -> int:
    """Blocks of 1024 places spatial memory keeps in RAM under a budget of ``ram_budget_mb`` (MiB); past
    it, the blocks used longest ago move to ``lt_places`` until a quarter is free."""
    return max(2, int(float(ram_budget_mb) * 2**20 * _SHARE_PLACES / (_BYTES_PER_PLACE_IN_BLOCK * 1024)))


_WORKING_SET_SIZES = working_set_sizes

# What a RAM budget also bounds outside the modules: the journal's batch buffer (durability="batch":
# encoded rows waiting for one executemany; ~800 bytes a percept row on the benchmark stream, so the
# store's default 10,000 rows are ~8 MB whatever the budget) and SQLite's page cache (its default is
# 2000 KiB). Each gets a small share of the budget, never more than its default.
_SHARE_JOURNAL_BUFFER = 0.02
_BYTES_PER_JOURNAL_ROW = 1024  # an encoded percept row and its tuple (an upper figure: rows vary)
_SHARE_SQLITE_CACHE = 0.02


def journal_batch_rows(ram_budget_mb: float, default: int = 10_000) -> int:
    """Rows the journal buffers before one write (durability="batch") under a budget of
    ``ram_budget_mb`` MiB: 2 % of the budget at ~1 KiB a row, between 256 and ``default``. A smaller
    batch costs one more commit every few hundred percepts (ingest speed changes by under a percent)."""
    return max(256, min(int(default), int(float(ram_budget_mb) * 2**20 * _SHARE_JOURNAL_BUFFER / _BYTES_PER_JOURNAL_ROW)))


def cache_kib(ram_budget_mb: float) -> int:
    """SQLite page cache (KiB, ``PRAGMA cache_size=-N``) for the memory's connection under a budget of
    ``ram_budget_mb`` MiB: 2 % of the budget, between 256 KiB and SQLite's default 2000 KiB."""
    return max(256, min(2000, int(float(ram_budget_mb) * 1024 * _SHARE_SQLITE_CACHE)))


class LongTermStore:
    """The long-term tables of one memory, on one SQLite connection (see the module docstring).

    Not thread-safe by itself: the ``Memory`` lock serialises every call (writer and readers).
    """

    def __init__(self, ram_budget_mb: float) -> None:
        self.ram_budget_mb = float(ram_budget_mb)
        # every module's size, also those a replaced ``working_set_sizes`` (a test's) leaves out
        self.sizes = {**_WORKING_SET_SIZES(self.ram_budget_mb), **working_set_sizes(self.ram_budget_mb)}
        self._conn: sqlite3.Connection | None = None
        self._own_path: str | None = None  # a temporary file we made (deleted on close)
        self._next_space = 0
        self._finalizer: Any = None

    # ------------------------------------------------------------------ connection
    def attach(self, conn: Any, writable: bool) -> bool:
        """Keep the tables in the memory file behind ``conn`` (a ``sqlite3.Connection`` of a
        writable store). Returns False (and keeps a temporary file instead) otherwise."""
        if not isinstance(conn, sqlite3.Connection) or not writable:
            return False
        self._close_own()
        self._conn = conn
        self._ensure_schema()
        self._size_cache()
        return True

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            fd, path = tempfile.mkstemp(prefix="embodied-mem-longterm-", suffix=".db")
            os.close(fd)
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=OFF")  # a scratch file: the journal is elsewhere
            conn.execute("PRAGMA synchronous=OFF")
            self._conn, self._own_path = conn, path
            self._finalizer = weakref.finalize(self, _drop_file, conn, path)
            self._ensure_schema()
            self._size_cache()
        return self._conn

    def _size_cache(self) -> None:
        """Bound SQLite's page cache on this connection to the budget's share (``cache_kib``)."""
        assert self._conn is not None
        self._conn.execute(f"PRAGMA cache_size=-{cache_kib(self.ram_budget_mb)}")

    def _ensure_schema(self) -> None:
        c = self._conn
        assert c is not None
        for stmt in _SCHEMA:
            c.execute(stmt)

    def close(self) -> None:
        """Forget the connection (the store closes its own); delete a temporary file."""
        self._close_own()
        self._conn = None

    def _close_own(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None
            self._conn, self._own_path = None, None

    # ------------------------------------------------------------------ consistency with snapshots
    def marks(self) -> dict[str, int]:
        """How far each table is written (its largest rowid): recorded in every snapshot."""
        if self._conn is None:
            return {t: 0 for t in TABLES}
        return {t: self._conn.execute(f"SELECT COALESCE(MAX(rowid), 0) FROM {t}").fetchone()[0] for t in TABLES}

    def reset(self, marks: dict[str, int] | None) -> None:
        """Make the tables match a state: ``marks`` of the snapshot just loaded (rows written after
        it are dropped: the replay writes them again), or None (empty: the replay rebuilds all)."""
        if self._conn is None and not marks:
            return
        c = self.conn
        for t in TABLES:
            c.execute(f"DELETE FROM {t} WHERE rowid > ?", (int((marks or {}).get(t, 0)),))

    # ------------------------------------------------------------------ spaces
    def new_space(self) -> int:
        """An id separating one module instance's rows (each world has its own temporal memory)."""
        s = self._next_space
        self._next_space += 1
        return s

    def adopt(self, pages: Pages) -> None:
        """Attach a module's ``Pages`` restored from a snapshot to this store."""
        pages.lt = self
        self._next_space = max(self._next_space, pages.space + 1)

    # ------------------------------------------------------------------ rows
    def execute(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, args)

    def insert_each(self, sql: str, rows: Any) -> list[int]:
        """Insert ``rows`` one by one in one transaction; their rowids, in order."""
        c = self.conn
        own = not c.in_transaction
        if own:
            c.execute("BEGIN")
        try:
            ids = [c.execute(sql, r).lastrowid for r in rows]
            if own:
                c.execute("COMMIT")
        except BaseException:
            if own:
                c.execute("ROLLBACK")
            raise
        return ids

    def insert_many(self, sql: str, rows: Any) -> None:
        c = self.conn
        if c.in_transaction:
            c.executemany(sql, rows)
            return
        c.execute("BEGIN")
        try:
            c.executemany(sql, rows)
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise


class Pages:
    """A module's handle on the long-term store: its space id and working-set size. Pickles (into a
    snapshot) as those numbers and the store's ``marks``, never the rows or the connection."""

    __slots__ = ("lt", "space", "cap", "marks")

    def __init__(self, lt: LongTermStore, cap: int) -> None:
        self.lt: LongTermStore | None = lt
        self.space = lt.new_space()
        self.cap = int(cap)
        self.marks: dict[str, int] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"space": self.space, "cap": self.cap, "marks": self.lt.marks() if self.lt is not None else None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.lt = None  # re-attached by the memory that loads the snapshot (LongTermStore.adopt)
        self.space = state["space"]
        self.cap = state["cap"]
        self.marks = state["marks"]

    @property
    def store(self) -> LongTermStore:
        if self.lt is None:
            raise RuntimeError("long-term pages restored from a snapshot were not re-attached to a store")
        return self.lt


def _drop_file(conn: sqlite3.Connection, path: str) -> None:
    try:
        conn.close()
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass

# episodic memory: episode and place names used longest ago (memory/chunkcolumns.py NameTable), one row
# per name, written once (code: the number the chunk columns hold)
_SCHEMA += ("CREATE TABLE IF NOT EXISTS lt_enames (space INTEGER NOT NULL, code INTEGER NOT NULL, name TEXT NOT NULL)",
            "CREATE UNIQUE INDEX IF NOT EXISTS lt_enames_code ON lt_enames (space, code)",
            "CREATE INDEX IF NOT EXISTS lt_enames_name ON lt_enames (space, name)")
TABLES += ("lt_enames",)
# episodic memory: strength, last access and utility of older chunks (memory/chunkcolumns.py), one row
# per version of a block of 1024 chunk rows (b: the block number; v: the three float64 columns packed)
_SCHEMA += ("CREATE TABLE IF NOT EXISTS lt_cmut (space INTEGER NOT NULL, b INTEGER NOT NULL, v BLOB NOT NULL)",)
TABLES += ("lt_cmut",)

# temporal memory: names (labels, event texts, sources) no entry in RAM refers to, one row each time one
# moves out (the latest row of a name is its state; gid = the id lt_events rows hold; v = TLABEL_V: first and
# latest sighting times, latest paged sighting time, longest paged gap, paged sightings)
_SCHEMA += ("CREATE TABLE IF NOT EXISTS lt_tlabels (space INTEGER NOT NULL, gid INTEGER NOT NULL, name TEXT NOT NULL, "
            "sighted INTEGER NOT NULL, v BLOB NOT NULL)",
            "CREATE INDEX IF NOT EXISTS lt_tlabels_name ON lt_tlabels (space, name)",
            "CREATE INDEX IF NOT EXISTS lt_tlabels_gid ON lt_tlabels (space, gid)")
TABLES += ("lt_tlabels",)
TLABEL_V = struct.Struct("<ddddq")
__all__ += ["TLABEL_V"]
