"""Spatial memory: where things are, where the agent has been, and how to get there.

Three layers, all in the world frame (map units):

- **Object-location beliefs**: each believed location is an ``object --located_at--> place`` edge
  in the memory graph with ``valid_from`` / ``valid_to`` (None while current), ``recorded_at``,
  ``source`` and ``confidence``. A sighting with an ``instance`` is one object: seen farther than
  ``match_tolerance`` from its belief, the old edge is invalidated (never deleted) and a new one
  starts. A label-level sighting matches the nearest current belief of that label within the
  tolerance, else it is a new object. Believed objects inside a percept's ``View`` that it did not
  see are invalidated from the percept's time (negative evidence).
- **Topological places**: a new place node whenever the agent is farther than ``place_radius``
  from every known place; ``connected_to`` edges record traversals between places; a place takes
  the ``region`` label reported most often while the agent is there (a bi-temporal ``in_region``
  edge, replaced when another label overtakes it).
- **Occupancy**: known free and blocked cells (edge ``cell_size``), the frontier between known
  free space and the unknown, and A* ``path()`` over free cells (or over the place graph when no
  cells are known).
  In RAM a cell is keyed by one int (``cell_key``: ``(i << 32) + j`` within 2**30 cells of the
  origin, the tuple (i, j) past it); queries answer cells as (i, j) tuples.

Storage: beliefs are rows of a columnar table (``_Beliefs``: ``array`` columns, a log of
sightings with their values run-length shared), not one Python object each; a snapshot pickles
those columns and rebuilds the belief hash from them. About 60 bytes a belief and 16 a sighting.
``count()``'s per-label columns (first-belief times, label-level objects' first positions) are chains
through shared columns (``_LabelSeqs``), one array only for a label with more than 32 objects.

The trajectory is five ``array`` columns (time, x, y, z, yaw), 40 bytes a pose; ``Pose`` objects are
made by the queries that return them. Places are rows of a columnar table too (``_Places``: x-y
position and the place grid, mostly a sorted array of cell keys, always in RAM; z, visits, region
edge and votes, adjacency rows in blocks of 1024 places), about 130 bytes a place.
``ram_bytes()`` tells what spatial memory holds in RAM now.

With a RAM budget (``use_long_term``), only the newest poses of the trajectory stay in RAM; older
ones move, in time order, into the ``lt_poses`` table of the long-term store (``longterm.py``)
and ``trajectory()``/``walks()`` read them back, so their answers do not change. Likewise the
sightings log keeps about ``sizes["sightings"]`` entries: past it, every belief's sightings older
than a time cut, except each belief's latest, move to the ``lt_sightings`` table; ``locate(at=)``,
``nearest(at=)``, ``follow()`` and a late sighting older than RAM read them back (indexed by
belief and time), exactly. Current answers of beliefs in RAM (``locate``, ``nearest``, matching,
negative evidence) never read that table.

Belief rows move out too, a label at a time: past about ``belief_rows(budget)`` rows in RAM, the
labels seen longest ago (every row of each: columns, latest sighting, ``follow`` links, ``count``
positions) go to the ``lt_beliefs`` table, their other sightings to ``lt_sightings`` and the index
cells of their current beliefs to ``lt_bcells``; the rows left are renumbered (a permanent number,
``rid``, names a belief in the tables). A label comes back whole when a query asks about it
(``locate``, ``nearest``, ``history``, ``count``, ``follow``, ``region_counts``, ``label_counts``) or
a percept sees it, sees one of its instances, or views a cell holding one of its current beliefs (a
revisited place brings its beliefs back: matching and negative evidence then see them). Labels
linked by an instance seen under both stay in RAM. The graph keeps every ``located_at`` edge of a
paged belief (its data, its validity): only spatial memory's own rows move.

The occupancy grid moves out in tiles of 32 x 32 cells: past about ``grid_cells(budget)`` known and
walked cells, the tiles used longest ago go to ``lt_tiles``; a percept brings back every tile within
two cells of a cell it changes (the frontier test reads neighbours), ``path()`` and ``occupancy()``
bring back the tiles they read, and ``occupancy_cells()`` / ``frontiers()`` read the moved tiles
without bringing them back.

Places move out in blocks of 1024 consecutive place numbers (``lt_places``): past about
``place_blocks(budget)`` blocks in RAM, those used longest ago; a percept or query that touches a
place of a block brings the block back (a revisited place brings its record back), ``places()``
reads the moved blocks without bringing them back. Place numbers (ids) never change; a place's
x-y position and grid entry (28 bytes) stay in RAM for the nearness searches.

``fit(max_bytes)`` (the budget's controller hands spatial memory its share) shrinks every working
set above in proportion until ``ram_bytes()`` fits, moving the rest out at once; with room to spare
they grow back to the sizes the budget first gave. The name of a label whose rows moved out moves
too (``lt_slabels``: the label's id and name; its slot in the label list is None) and comes back with
them; a sighting of a label not in RAM costs one indexed look-up there. What stays in RAM whatever
the budget: instance names, places' positions and grid, about 40 bytes per label (its ids, list heads
and counts, which labels are out), one entry per moved tile and place block.
"""

from __future__ import annotations

import heapq
import io
import itertools
import math
import pickle
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..percept import DiscView, Percept, Pose, Position, as_position
from .config import SpatialConfig
from .snapshot import is_behaviour as _is_behaviour

if TYPE_CHECKING:
    from ..graph import MemoryGraph
    from .longterm import LongTermStore, Pages

__all__ = ["SpatialMemory", "Location", "Place"]

FREE, BLOCKED = 1, 2


@dataclass(frozen=True, slots=True)
class Location:
    """One believed location of an object. Times are percept times of *this* location."""

    label: str
    instance: str | None
    position: Position
    place: str | None
    region: str | None
    first_seen: float
    last_seen: float
    confidence: float
    object_id: str
    valid_to: float | None = None

    def __str__(self) -> str:
        x, y, z = self.position
        where = f" in {self.region}" if self.region else ""
        return f"{self.label} at ({x:g}, {y:g}, {z:g}){where}, last seen t={self.last_seen:g}"


@dataclass(frozen=True, slots=True)
class Place:
    """A node of the topological place graph."""

    id: str
    position: Position
    region: str | None
    visits: int
    first_visit: float | None
    last_visit: float | None


def _d2(a: Position, b: Position) -> float:
    return (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2 + (a[2] - b[2]) ** 2


_NONE = -1  # "no value" in an int column (no instance, no place, never indexed)
_NAN = math.nan  # valid_to of a belief that still holds
_PAGED = -2  # hprev of a belief's earliest sighting in RAM when older ones are in the lt_sightings table
# The log's back links (``_Beliefs.hprev``) are stored as distance codes: 0 for none (-1), d in
# 1 .. hfc - 1 for the entry d before, ``hfc`` (the log's far code) for a link kept aside: _PAGED, a
# late sighting's link forward, or (narrow log only) a belief seen again hfc or more sightings later.
# Links kept aside are in two sorted int32 columns ``hfk`` (entries, in the order they were appended)
# and ``hfv`` (their links); a late sighting's link forward (it rewrites an older entry's) in the
# dict ``hfar``, which wins over the columns. The log has one of two widths:
# - narrow (``array("H")``, hfc = _HP_FAR = 65535): 2 bytes a sighting, 10 for one whose link is
#   kept aside. In the benchmark stream every link is a short step back (99 % within 150 entries).
# - wide (``array("i")``, hfc = _HP_FAR_W = 2**31 - 1): 4 bytes a sighting, every back link fits.
#   A patrol robot that sees each object once per long loop (more than 65534 sightings) makes
#   most links far: the narrow log would cost 10 bytes a sighting and a bisection a step back.
# A narrow log widens (once, O(n)) when more than a quarter of the last _HP_WIN entries' links are
# kept aside (``_Beliefs.link``): so either width costs at most about 4 bytes a sighting. The width is
# chosen afresh (narrow when under an eighth of the links are far) whenever the links are rebuilt
# (``set_prev``: a budget's compaction, an older snapshot's conversion).
_HP_FAR = 0xFFFF
_HP_FAR_W = 0x7FFFFFFF
_HP_WIN = 1 << 16
_HP_CHK = 255  # the widening test runs at every 256th link kept aside (a mask)


def _hp_codes(hp: np.ndarray) -> tuple[array, array, array, dict[int, int]]:
    """Back links (entries, -1, ``_PAGED``; one per entry) as ``_Beliefs.hprev``'s distance codes,
    ``hfk``, ``hfv`` and ``hfar`` (empty: every link kept aside goes to the sorted columns). The codes
    are narrow (uint16) unless an eighth or more of the links are links back past _HP_FAR - 1 entries;
    then wide (int32)."""
    hp = np.asarray(hp, np.int64)
    d = np.arange(len(hp), dtype=np.int64) - hp
    ok = (hp >= 0) & (d >= 1)  # a late sighting's link forward (d < 0) is kept in hfar
    near = ok & (d < _HP_FAR)
    # wide when an eighth or more are links back that only int32 fits (_PAGED and links forward are
    # kept aside at either width)
    wide = len(hp) and 8 * int(np.count_nonzero(ok & (d >= _HP_FAR))) >= len(hp)
    fc, tc, dt = (_HP_FAR_W, "i", np.int32) if wide else (_HP_FAR, "H", np.uint16)
    if wide:
        near = ok & (d < _HP_FAR_W)
    code = np.where(near, d, np.where(hp == -1, 0, fc)).astype(dt)
    far = np.flatnonzero(code == fc)
    return (array(tc, code.tobytes()), array("i", far.astype(np.int32).tobytes()),
            array("i", hp[far].astype(np.int32).tobytes()), {})


_NOCELL = -(2**63)  # ecx/ecy of a belief never filed under an index cell
_BIG = 2**62  # index cells farther out than this are kept in ``moved`` (Python ints)
_TILE = 5  # occupancy tiles moved out under a RAM budget: 32 x 32 cells (tile = cell >> _TILE)
_PB = 10  # places move out under a RAM budget in blocks of 1024 consecutive place numbers (block = k >> _PB)
_PM = (1 << _PB) - 1

# RAM estimates (ram_bytes): a dict or set entry keyed by a cell tuple (the tuple, its two ints, the
# hash table's slot at its usual load), and an ``array`` object's own header
_CELL_KEY_BYTES = 130
_DICT_ENTRY_BYTES = _CELL_KEY_BYTES
_ARRAY_BYTES = 80
_NAME_BYTES = 115  # a label or instance name: the string, its list slot and its id's dict entry
_I31 = 2**31  # place grid cells within +-2**31 are kept sorted as one int64 key each
_GRID_MERGE = 4096  # newest places (grid cells) kept in a dict before they join the sorted part
_LIST_BYTES = 120  # a short list (its header and a few slots)
_SEQ_SMALL = 32  # a label's count() items chained in shared columns up to this many, one array each past it

# Occupancy cells (``_occ``, ``_walked``, ``_inner``) are keyed by one int, ``(i << 32) + j``, for a
# cell with |i| and |j| < _CK_LIM (2**30 cells from the origin: 5e7 m at 5 cm cells), and by the tuple
# (i, j) itself past that: exact for every pair of ints (``cell_key`` / ``key_cell``). An int key is
# one 32-byte object where a tuple key is three (about 110 bytes). Percepts whose cells all lie within
# _CK_FAST of the origin take the fast path: neighbours by key arithmetic (+-1 in j, +-2**32 in i),
# exact for cells up to two steps away, which stay inside _CK_LIM.
_CK_LIM = 1 << 30
_CK_FAST = _CK_LIM - 4
_CK_I = 1 << 32  # one step in i
_CK_HALF = 1 << 31
_OCC_BYTES = 72  # a known cell: its int key and its dict entry at the usual load
_WALKED_BYTES = 76  # a walked cell: its int key in a set that also holds the slots of cells gone known
_SET_SLOT_BYTES = 40  # a set entry (inner cells: mostly their own int key, see ram_bytes)


def cell_key(i: int, j: int) -> int | tuple[int, int]:
    """The occupancy key of cell (i, j): ``(i << 32) + j`` when |i| and |j| are below 2**30, else the
    tuple (i, j). One key per cell and one cell per key, for any ints (``key_cell`` inverts it)."""
    if -_CK_LIM < i < _CK_LIM and -_CK_LIM < j < _CK_LIM:
        return (i << 32) + j
    return (i, j)


def key_cell(k: int | tuple[int, int]) -> tuple[int, int]:
    """The cell (i, j) of an occupancy key made by ``cell_key``."""
    if type(k) is int:
        i = (k + _CK_HALF) >> 32
        return i, k - (i << 32)
    return k  # type: ignore[return-value]


def _abytes(a: array) -> int:
    """Bytes an ``array`` column holds (its items and header; over-allocation not counted)."""
    if type(a) is _ConstCol:
        return _ARRAY_BYTES + (0 if a.a is None else len(a.a) * 8)
    return len(a) * a.itemsize + _ARRAY_BYTES


def _same(a: float, b: float) -> bool:
    """Equal bit for bit (as far as a float's value goes: -0.0 is not 0.0, NaN is never the same)."""
    return a == b and (a != 0.0 or math.copysign(1.0, a) == math.copysign(1.0, b))


class _ConstCol:
    """A float64 column (``array("d")``'s interface as the trajectory uses it: ``append``, ``insert``,
    items and slices, ``del col[:i]``, ``len``) stored as one value and a length while every item is
    that value, as an array from the first item that differs. A trajectory's z and yaw are often
    constant (a ground robot): 16 bytes a pose less. Items read back bit for bit."""

    __slots__ = ("n", "v", "a")

    def __init__(self) -> None:
        self.n = 0
        self.v = 0.0
        self.a: array | None = None

    def _spill(self) -> array:
        a = self.a = array("d", [self.v]) * self.n
        return a

    def append(self, x: float) -> None:
        if self.a is not None:
            self.a.append(x)
        elif self.n == 0 or _same(self.v, x):
            self.v = x if self.n == 0 else self.v
            self.n += 1
        else:
            self._spill().append(x)

    def insert(self, i: int, x: float) -> None:
        if self.a is None and (self.n == 0 or _same(self.v, x)):
            self.append(x)
        else:
            (self.a if self.a is not None else self._spill()).insert(i, x)

    def __len__(self) -> int:
        return self.n if self.a is None else len(self.a)

    def __getitem__(self, i: int | slice) -> Any:
        if self.a is not None:
            return self.a[i]
        if type(i) is slice:
            return array("d", [self.v]) * len(range(*i.indices(self.n)))
        if -self.n <= i < self.n:
            return self.v
        raise IndexError("trajectory column index out of range")

    def __delitem__(self, i: slice) -> None:
        if self.a is not None:
            del self.a[i]
        else:
            self.n -= len(range(*i.indices(self.n)))
            if not self.n:
                self.v = 0.0


_POSE_SET = tuple(getattr(Pose, n).__set__ for n in ("x", "y", "z", "yaw"))


def _pose(x: float, y: float, z: float, yaw: float) -> Pose:
    """A Pose from trajectory columns, without ``Pose.__init__``'s checks (the values were checked
    when the pose was observed): a third of the cost, which counts when a query returns 100k poses."""
    p = object.__new__(Pose)
    sx, sy, sz, sw = _POSE_SET
    sx(p, x)
    sy(p, y)
    sz(p, z)
    sw(p, yaw)
    return p


class _Beliefs:
    """Every object belief, one row each, stored column by column (``array`` columns: a few bytes a
    row, no Python object per belief). Row ``r`` is one ``located_at`` edge of the graph.

    Row columns: ``lab`` (label id), ``inst`` (instance id or -1), ``obj`` (the object number of a
    label-level object's node, ``object:<label>#<obj>``), ``place`` (index into ``place_ids`` or
    -1), ``vf``/``vt`` (valid from / to, percept time; ``vt`` NaN while the belief holds), ``ecx``/``ecy``
    (the index cell the belief was first filed under, ``_NOCELL`` for a closed late belief that never
    was), ``hlast`` (its latest sighting in the log), ``tl`` (that sighting's time) and ``edge`` (the
    graph edge's number, ``MemoryGraph.edge_data``; its data is kept in step).

    Sightings: a log with one entry per sighting, ``hprev`` (the same belief's sighting before it in
    time order, -1 for its first, ``_PAGED`` when the ones before it are in the long-term table; stored
    as a distance back, uint16 or int32 (``hfc``: the far code), links that do not fit in
    ``hfk``/``hfv`` and ``hfar``, see ``prev()`` and ``_HP_FAR``),
    ``hv`` (index of its value) and, under a RAM budget, ``hrow`` (its belief). Times are run-length:
    the entries of one percept are appended together and share its time, so the log keeps one
    (time, first entry) pair per run (``trt``/``trs``, 12 bytes a percept) and ``time(k)`` bisects
    them; a run's time is stored bit for bit. Values ``vc, vx, vy, vz`` (confidence, position) are
    appended only when a belief's value changes, so a thing that stays put costs about 9 bytes a
    sighting. A belief's current position, confidence and last-seen time are those of its latest
    sighting (``hlast``; ``tl`` keeps its time so that current answers and ingest never bisect).

    Per label (indexed by label id), two lists threaded through the rows: every belief of the label
    in creation order (``lhead``, ``ltail``, row column ``lnext``) and its current beliefs (``chead``,
    ``ccount``, row columns ``cnext``/``cprev``), so a label costs 16 bytes, not a container.

    Derived indices (rebuilt from the columns when unpickled, never pickled): ``grid`` (index cell, keyed
    by ``cell_key`` like occupancy cells: one int, not a tuple of two -> rows of the current beliefs
    there) and ``instances`` (instance -> its current row).
    """

    __slots__ = ("ic", "lab", "inst", "obj", "place", "vf", "vt", "ecx", "ecy", "hlast", "tl", "edge", "trt", "trs",
                 "hprev", "hfk", "hfv", "hfar", "hv", "hrow", "vc", "vx", "vy", "vz", "labels", "lab_id", "insts", "inst_id", "moved", "next",
                 "lnext", "lhead", "ltail", "cnext", "cprev", "chead", "ccount",
                 "pages", "cap", "limit", "n_paged", "rid", "lp", "grid", "instances", "mono", "hfc")
    _COLUMNS = ("lab", "inst", "obj", "place", "vf", "vt", "ecx", "ecy", "hlast", "tl", "edge", "trt", "trs", "hprev",
                "hfk", "hfv",
                "hv", "hrow",
                "vc", "vx", "vy", "vz", "lnext", "lhead", "ltail", "cnext", "cprev", "chead", "ccount", "rid")
    _PICKLED = ("ic", "lab", "inst", "obj", "place", "vf", "vt", "ecx", "ecy", "hlast", "tl", "edge", "trt", "trs",
                "hprev", "hfk", "hfv", "hfar", "hv",
                "hrow", "vc", "vx", "vy", "vz", "labels", "insts", "moved", "next",
                "lnext", "lhead", "ltail", "cnext", "cprev", "chead", "ccount", "pages", "cap", "limit", "n_paged",
                "rid", "lp")

    def __init__(self, index_cell: float) -> None:
        self.ic = float(index_cell)
        self.lab, self.inst, self.obj, self.place = array("i"), array("i"), array("i"), array("i")
        self.vf, self.vt = array("d"), array("d")
        self.ecx, self.ecy = array("q"), array("q")
        self.hlast = array("i")
        self.tl = array("d")  # per row: the time of its latest sighting (the log entry hlast)
        self.edge = array("i")
        # the log's times, run-length: entries trs[j] .. trs[j+1]-1 were seen at trt[j] (see time())
        self.trt, self.trs = array("d"), array("i")
        self.hprev, self.hv, self.hrow = array("H"), array("i"), array("i")  # hprev: codes, see _HP_FAR
        self.hfc = _HP_FAR  # hprev's far code: _HP_FAR while it is narrow ("H"), _HP_FAR_W once wide ("i")
        self.hfk, self.hfv = array("i"), array("i")
        self.hfar: dict[int, int] = {}
        self.vc, self.vx, self.vy, self.vz = array("d"), array("d"), array("d"), array("d")
        self.labels: list[str | None] = []  # None: the name is in lt_slabels (its label's rows are paged out)
        self.insts: list[str] = []
        # per label, two lists threaded through the rows (no container per label): every belief of
        # the label in creation order (lhead/ltail -> lnext) and its current beliefs (chead -> cnext,
        # cprev; ccount of them)
        self.lnext, self.lhead, self.ltail = array("i"), array("i"), array("i")
        self.cnext, self.cprev, self.chead, self.ccount = array("i"), array("i"), array("i"), array("i")
        # rows that left the index cell they were first filed under -> the other cells they were in
        self.moved: dict[int, list[tuple[int, int]]] = {}
        # beliefs that may continue a belief once it ends (see SpatialMemory.follow): row -> rows
        self.next: dict[int, list[int]] = {}
        # a RAM budget: sightings beyond ``limit`` in the log move to the lt_sightings table
        self.pages: Pages | None = None
        self.cap = self.limit = 0
        self.n_paged = 0  # sightings in the table
        # a RAM budget: each row's permanent number (rows are renumbered when cold labels move out;
        # the long-term tables name a belief by it) and the labels in the lt_beliefs table
        self.rid = array("i")  # like every row number here: 2**31 beliefs at most
        self.lp: _LabelPages | None = None
        self._derive()

    def __getstate__(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self._PICKLED}

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "ht" in state:  # snapshot format 8: one time per log entry; runs and each row's latest time from it
            state = dict(state)
            ht = np.frombuffer(state.pop("ht"), np.float64)
            state["tl"] = array("d", ht[np.frombuffer(state["hlast"], np.int32)].tobytes())
            state["trt"], state["trs"] = _runs(ht)
        if "hfar" not in state:  # back links as int32 entry numbers (format 9 before the uint16 codes)
            state = dict(state)
            hp = state["hprev"]
            state["hprev"], state["hfk"], state["hfv"], state["hfar"] = _hp_codes(np.frombuffer(hp, np.int32))
        for k in self._PICKLED:
            setattr(self, k, state[k])
        self.hfc = _HP_FAR if self.hprev.typecode == "H" else _HP_FAR_W
        if not isinstance(self.edge, array):  # a snapshot from before edge numbers: the edges' data views
            self.edge = array("i", [d.id for d in self.edge])
        self._derive()

    def _derive(self) -> None:
        """Rebuild the derived indices from the columns (vectorised: one pass per label and cell)."""
        self.mono = bool(np.all(np.diff(np.frombuffer(self.trt, np.float64)) >= 0))  # see back()
        self.lab_id = dict(zip(self.labels, range(len(self.labels))))  # C-level (a reopen builds it once)
        self.lab_id.pop(None, None)  # None: paged out
        self.inst_id = dict(zip(self.insts, range(len(self.insts))))
        self._derive_grid()

    def _derive_grid(self) -> None:
        """Rebuild ``grid`` and ``instances`` from the columns."""
        self.grid: dict[int | tuple[int, int], array] = {}  # keyed by cell_key(cx, cy)
        self.instances: dict[str, int] = {}
        if not len(self.lab):
            return
        live = np.flatnonzero(np.isnan(np.frombuffer(self.vt, np.float64))).astype(np.int32)
        if len(live):
            v = np.frombuffer(self.hv, np.int32)[np.frombuffer(self.hlast, np.int32)[live]]
            fx = np.floor(np.frombuffer(self.vx, np.float64)[v] / self.ic)
            fy = np.floor(np.frombuffer(self.vy, np.float64)[v] / self.ic)
            if len(fx) and max(np.abs(fx).max(), np.abs(fy).max()) < _BIG:
                cx, cy = fx.astype(np.int64), fy.astype(np.int64)
                o = np.lexsort((live, cy, cx))
                cx, cy, rows = cx[o], cy[o], live[o]
                cuts = np.flatnonzero((np.diff(cx) != 0) | (np.diff(cy) != 0)) + 1
                starts = np.concatenate(([0], cuts))
                ends = np.concatenate((cuts, [len(rows)])).tolist()
                flat = array("i", rows.tobytes())  # one array, sliced per cell (C slices, no numpy call each)
                sx, sy = cx[starts], cy[starts]
                if len(sx) and max(np.abs(sx).max(), np.abs(sy).max()) < _CK_LIM:
                    keys = ((sx << 32) + sy).tolist()  # cell_key, vectorised
                else:
                    keys = list(map(cell_key, sx.tolist(), sy.tolist()))
                self.grid = dict(zip(keys, map(flat.__getitem__, map(slice, starts.tolist(), ends))))
            else:  # cells beyond int64: one by one, as Python ints
                for r, k in zip(live.tolist(), v.tolist()):
                    c = cell_key(math.floor(self.vx[k] / self.ic), math.floor(self.vy[k] / self.ic))
                    self.grid.setdefault(c, array("i")).append(r)
            inst = np.frombuffer(self.inst, np.int32)[live]
            for r, i in zip(live[inst >= 0].tolist(), inst[inst >= 0].tolist()):
                self.instances[self.insts[i]] = r

    def __len__(self) -> int:
        return len(self.lab)

    def label_id(self, label: str) -> int:
        i = self.lab_id.get(label)
        if i is None and self.lp is not None and self.lp.n_names:
            i = self.paged_label(label)
            if i is not None:
                self.name_in(i, label)
        if i is None:
            i = self.lab_id[label] = len(self.labels)
            self.labels.append(label)
            for col in (self.lhead, self.ltail, self.chead):
                col.append(-1)
            self.ccount.append(0)
        return i

    def paged_label(self, label: str) -> int | None:
        """The id of ``label`` when its name is in the lt_slabels table (a RAM budget), else None."""
        pg = self.pages
        if pg is None or self.lp is None or not self.lp.n_names:
            return None
        row = pg.store.execute("SELECT li FROM lt_slabels WHERE space=? AND name=? ORDER BY rowid DESC LIMIT 1",
                               (pg.space, label)).fetchone()
        if row is None:
            return None
        li = row[0]
        if type(li) is not int or not 0 <= li < len(self.labels):
            raise RuntimeError(f"spatial memory: a damaged lt_slabels row for label {label!r}")
        return li if self.labels[li] is None else None

    def name_of(self, li: int) -> str:
        """Label ``li``'s name, read from lt_slabels when it is paged out (not brought back)."""
        name = self.labels[li]
        if name is not None:
            return name
        pg = self.pages
        assert pg is not None
        row = pg.store.execute("SELECT name FROM lt_slabels WHERE space=? AND li=? ORDER BY rowid DESC LIMIT 1",
                               (pg.space, li)).fetchone()
        if row is None or type(row[0]) is not str:
            raise RuntimeError(f"spatial memory: the name of label {li} is missing from lt_slabels")
        return row[0]

    def name_in(self, li: int, name: str | None = None) -> None:
        """Bring label ``li``'s name back into RAM (``name``: already read)."""
        if self.labels[li] is not None:
            return
        name = self.name_of(li) if name is None else name
        self.labels[li] = name
        self.lab_id[name] = li
        assert self.lp is not None
        self.lp.n_names -= 1

    def names_out(self, lis: list[int]) -> None:
        """Move the names of labels ``lis`` (whose rows just moved out) to lt_slabels."""
        pg, lp = self.pages, self.lp
        assert pg is not None and lp is not None
        out = [(pg.space, li, self.labels[li]) for li in lis if self.labels[li] is not None]
        pg.store.insert_many("INSERT INTO lt_slabels (space, li, name) VALUES (?, ?, ?)", out)
        for _, li, name in out:
            del self.lab_id[name]
            self.labels[li] = None
        lp.n_names += len(out)
        if out:  # a dict's table never shrinks when entries leave: a copy sized to what stays (once a move)
            self.lab_id = dict(self.lab_id)

    def all_labels(self) -> list[str]:
        """Every label's name in id order, those paged out read from lt_slabels (not brought back)."""
        if self.lp is None or not self.lp.n_names:
            return list(self.labels)  # type: ignore[arg-type]
        pg = self.pages
        assert pg is not None
        paged = dict(pg.store.execute("SELECT li, name FROM lt_slabels WHERE space=?", (pg.space,)).fetchall())
        out = []
        for li, name in enumerate(self.labels):
            if name is None:
                name = paged.get(li)
                if type(name) is not str:
                    raise RuntimeError(f"spatial memory: the name of label {li} is missing from lt_slabels")
            out.append(name)
        return out

    def rows(self, label: str) -> list[int]:
        """Every belief row of ``label``, in creation order."""
        li = self.lab_id.get(label)
        out: list[int] = []
        if li is None:
            return out
        r, nxt = self.lhead[li], self.lnext
        while r >= 0:
            out.append(r)
            r = nxt[r]
        return out

    def current_rows(self, label: str) -> list[int]:
        """The rows of ``label``'s current beliefs (in no particular order)."""
        li = self.lab_id.get(label)
        out: list[int] = []
        if li is None:
            return out
        r, nxt = self.chead[li], self.cnext
        while r >= 0:
            out.append(r)
            r = nxt[r]
        return out

    def n_current(self, label: str) -> int:
        li = self.lab_id.get(label)
        return 0 if li is None else self.ccount[li]

    def make_current(self, r: int) -> None:
        li = self.lab[r]
        h = self.chead[li]
        self.cnext[r], self.cprev[r] = h, -1
        if h >= 0:
            self.cprev[h] = r
        self.chead[li] = r
        self.ccount[li] += 1

    def drop_current(self, r: int) -> None:
        li = self.lab[r]
        p, n = self.cprev[r], self.cnext[r]
        if p >= 0:
            self.cnext[p] = n
        elif self.chead[li] == r:
            self.chead[li] = n
        else:
            return  # not in the list
        if n >= 0:
            self.cprev[n] = p
        self.cnext[r] = self.cprev[r] = -1
        self.ccount[li] -= 1

    def time(self, k: int) -> float:
        """The time of log entry ``k`` (its run's time: a bisection over the runs' starts)."""
        return self.trt[bisect_right(self.trs, k) - 1]

    def tpush(self, t: float) -> None:
        """Before a log entry of time ``t`` is appended: start a run unless the last run's time is
        ``t`` (bit for bit: -0.0 and 0.0 are different runs, so each time reads back as it came)."""
        trt = self.trt
        if trt:
            last = trt[-1]
            if t == last and (t != 0.0 or math.copysign(1.0, t) == math.copysign(1.0, last)):
                return
            if t < last:
                self.mono = False
        trt.append(t)
        self.trs.append(len(self.hv))

    def ht_array(self) -> np.ndarray:
        """Every log entry's time (a new float64 array, one per entry)."""
        n = len(self.hv)
        if not n:
            return np.zeros(0, np.float64)
        starts = np.frombuffer(self.trs, np.int32).astype(np.int64)
        return np.repeat(np.frombuffer(self.trt, np.float64), np.diff(np.append(starts, n)))

    def set_ht(self, ht: np.ndarray) -> None:
        """Set the log's times from one per entry (after the log was compacted)."""
        self.trt, self.trs = _runs(ht)
        self.mono = bool(np.all(np.diff(np.frombuffer(self.trt, np.float64)) >= 0))

    def prev(self, k: int) -> int:
        """Entry ``k``'s back link: the same belief's entry before it, -1 for none, or ``_PAGED``."""
        d = self.hprev[k]
        return k - d if 0 < d < self.hfc else (-1 if d == 0 else self.far(k))

    def far(self, k: int) -> int:
        """Entry ``k``'s back link kept aside (its code is _HP_FAR): ``hfar``, else ``hfk``/``hfv``."""
        j = self.hfar.get(k)
        if j is None:
            j = self.hfv[bisect_left(self.hfk, k)]
        return j

    def link(self, k: int, j: int) -> None:
        """Append entry ``k``'s back link ``j`` (an entry, -1 or ``_PAGED``); k is the next entry."""
        d = k - j
        if 0 <= j and d < self.hfc:
            self.hprev.append(d)
        elif j == -1:
            self.hprev.append(0)
        else:
            self.hprev.append(self.hfc)
            hfk = self.hfk
            hfk.append(k)  # k is the newest entry: the column stays sorted
            self.hfv.append(j)
            if not len(hfk) & _HP_CHK and self.hfc == _HP_FAR and k >= _HP_WIN:
                # every 256 links kept aside: more than a quarter of the last _HP_WIN entries? widen
                if 4 * (len(hfk) - bisect_left(hfk, k - _HP_WIN)) > _HP_WIN:
                    self.widen()

    def widen(self) -> None:
        """Store the back links as int32 distances (``hprev`` becomes ``array("i")``, 4 bytes a
        sighting): every link that fits moves out of ``hfk``/``hfv``. O(n), once. Callers that hold
        ``hprev`` (or the far code) in a local fetch it again after ``link``."""
        if self.hfc != _HP_FAR:
            return
        d = np.frombuffer(self.hprev, np.uint16).astype(np.int32) if len(self.hprev) else np.zeros(0, np.int32)
        fk = np.frombuffer(self.hfk, np.int32)
        fv = np.frombuffer(self.hfv, np.int32).astype(np.int64)
        fit = fv >= 0  # a real entry back (not _PAGED); links forward are in hfar and keep their code
        dist = fk[fit].astype(np.int64) - fv[fit]
        d[d == _HP_FAR] = _HP_FAR_W
        d[fk[fit]] = dist
        if self.hfar:  # links forward (they win over the columns) keep their code
            d[np.fromiter(self.hfar.keys(), np.int64, len(self.hfar))] = _HP_FAR_W
        self.hfk = array("i", fk[~fit].tobytes())
        self.hfv = array("i", fv[~fit].astype(np.int32).tobytes())
        self.hprev = array("i", d.tobytes())
        self.hfc = _HP_FAR_W

    def prev_array(self) -> np.ndarray:
        """Every entry's back link (int64: an entry, -1 or ``_PAGED``), decoded."""
        dt = np.uint16 if self.hprev.typecode == "H" else np.int32
        d = np.frombuffer(self.hprev, dt).astype(np.int64) if len(self.hprev) else np.zeros(0, np.int64)
        hp = np.arange(len(d), dtype=np.int64) - d
        hp[d == 0] = -1
        if len(self.hfk):
            hp[np.frombuffer(self.hfk, np.int32)] = np.frombuffer(self.hfv, np.int32)
        if self.hfar:  # (after the columns: it wins)
            hp[np.fromiter(self.hfar.keys(), np.int64, len(self.hfar))] = np.fromiter(self.hfar.values(), np.int64,
                                                                                      len(self.hfar))
        return hp

    def set_prev(self, hp: np.ndarray) -> None:
        """Set every entry's back link from ``prev_array()``'s form."""
        self.hprev, self.hfk, self.hfv, self.hfar = _hp_codes(hp)
        self.hfc = _HP_FAR if self.hprev.typecode == "H" else _HP_FAR_W

    def back(self, r: int, t: float) -> tuple[int, float, int]:
        """Walk row ``r``'s sightings from its latest back to the first at or before ``t``: (that
        entry, or -1 / ``_PAGED`` when there is none in RAM; its time, NaN for none; the entry walked
        just before it, -1 when the latest is at or before ``t``). While the runs' times never
        decrease (``mono``: no late percept), an entry is at or before ``t`` exactly when its index
        is below the first run after ``t``, one bisection for the walk; otherwise the walk follows
        the runs as it goes (a step back costs a compare, a far jump a bisection)."""
        hprev, far, fc = self.hprev, self.far, self.hfc
        k = self.hlast[r]
        tk = self.tl[r]
        after = -1
        if tk <= t:
            return k, tk, after
        trs, trt = self.trs, self.trt
        if self.mono:
            j = bisect_right(trt, t)
            lim = trs[j] if j < len(trs) else len(hprev)
            while k >= lim:
                d = hprev[k]  # prev(), inlined
                after, k = k, (k - d if 0 < d < fc else (-1 if d == 0 else far(k)))
            return k, (trt[bisect_right(trs, k) - 1] if k >= 0 else _NAN), after
        nr = len(trs)
        j = bisect_right(trs, k) - 1
        while True:
            d = hprev[k]
            after, k = k, (k - d if 0 < d < fc else (-1 if d == 0 else far(k)))
            if k < 0:
                return k, _NAN, after
            if k < trs[j]:
                j -= 1
                if trs[j] > k:
                    j = bisect_right(trs, k, 0, j) - 1
            elif j + 1 < nr and k >= trs[j + 1]:
                j = bisect_right(trs, k, j + 1) - 1
            tk = trt[j]
            if tk <= t:
                return k, tk, after

    def add_value(self, r: int, c: float, p: Position) -> int:
        """The index of value (c, p) for a new sighting of row ``r`` (the row's latest value when equal)."""
        if r < len(self.hlast):
            v = self.hv[self.hlast[r]]
            if self.vc[v] == c and self.vx[v] == p[0] and self.vy[v] == p[1] and self.vz[v] == p[2]:
                return v  # equal as in ==: -0.0 joins 0.0, as a belief's position always did
        v = len(self.vc)
        self.vc.append(c)
        self.vx.append(p[0])
        self.vy.append(p[1])
        self.vz.append(p[2])
        return v

    def sighting(self, r: int, t: float, c: float, p: Position) -> None:
        """Log a sighting of row ``r`` (an existing row). A late one (older than the row's latest,
        from another source) is linked in at its place in time order; the cost is the sightings
        after it, not all of them. One older than every sighting of the row in RAM while older ones
        are paged out goes straight to the long-term table."""
        hprev = self.hprev
        k = self.hlast[r]
        if t >= self.tl[r]:
            v = self.add_value(r, c, p)
            n = len(hprev)
            self.hlast[r] = n
            self.tl[r] = t
            self.tpush(t)
            self.link(n, k)
        else:
            k, _, after = self.back(r, t)  # after: the earliest sighting later than t: the new one goes just before it
            if k == _PAGED:
                self._write([(r, t, c, p[0], p[1], p[2])])
                return
            v = self.add_value(r, c, p)
            n = len(hprev)
            hprev[after] = self.hfc  # a link forward: kept in hfar
            self.hfar[after] = n
            self.tpush(t)
            self.link(n, k)
        self.hv.append(v)
        if self.pages is not None:
            self.hrow.append(r)

    def at(self, r: int, t: float) -> tuple[float, float, Position] | None:
        """(time, confidence, position) of row ``r``'s latest sighting at or before ``t``; None: none."""
        k, tk, _ = self.back(r, t)
        if k >= 0:
            v = self.hv[k]
            return tk, self.vc[v], (self.vx[v], self.vy[v], self.vz[v])
        if k == _PAGED:
            return self._read("t<=? ORDER BY t DESC, rowid DESC", r, t)
        return None

    def first(self, r: int) -> tuple[float, float, Position]:
        """(time, confidence, position) of row ``r``'s earliest sighting."""
        k = self.hlast[r]
        j = self.prev(k)
        while j >= 0:
            k, j = j, self.prev(j)
        if j == _PAGED:
            got = self._read("1 ORDER BY t, rowid", r)
            assert got is not None
            return got
        v = self.hv[k]
        return self.time(k), self.vc[v], (self.vx[v], self.vy[v], self.vz[v])

    def next_after(self, r: int, t: float) -> float | None:
        """The time of row ``r``'s earliest sighting later than ``t`` (None: none)."""
        k, _, after = self.back(r, t)
        nxt = None if after < 0 else self.time(after)
        if k == _PAGED:
            got = self._read("t>? ORDER BY t, rowid", r, t)
            if got is not None:
                nxt = got[0]
        return nxt

    # ------------------------------------------------------------------ long-term pages
    def page_out(self) -> None:
        """Move the older sightings of every belief (all but each one's latest, older than a time cut
        that leaves about half the working set) to the ``lt_sightings`` table and compact the log.
        The latest sighting of every belief stays: current answers never read the table."""
        pg = self.pages
        assert pg is not None
        n = len(self.hv)
        ht = self.ht_array()
        hl = np.frombuffer(self.hlast, np.int32)
        keep_n = max(1, self.cap // 2)
        tcut = np.partition(ht, n - keep_n)[n - keep_n] if n > keep_n else -math.inf
        out = ht < tcut
        out[hl] = False  # each belief's latest sighting stays
        idx = np.flatnonzero(out)
        if len(idx):
            hv = np.frombuffer(self.hv, np.int32)
            vals = hv[idx]
            block = np.empty((len(idx), 5), np.float64)
            block[:, 0] = ht[idx]
            for j, col in enumerate((self.vc, self.vx, self.vy, self.vz), 1):
                block[:, j] = np.frombuffer(col, np.float64)[vals]
            raw = block.tobytes()
            w = 40  # SIGHT_V: five doubles
            rows = np.frombuffer(self.rid, np.int32)[np.frombuffer(self.hrow, np.int32)[idx]].tolist()
            pg.store.insert_many("INSERT INTO lt_sightings (space, row, t, v) VALUES (?, ?, ?, ?)",
                                 [(pg.space, r, t, raw[i * w:(i + 1) * w])
                                  for i, (r, t) in enumerate(zip(rows, block[:, 0].tolist()))])
            self.n_paged += len(idx)
            keep = ~out
            newidx = np.cumsum(keep, dtype=np.int64) - 1
            hp = self.prev_array()[keep]
            src = np.clip(hp, 0, None)
            hp = np.where(hp >= 0, np.where(out[src], _PAGED, newidx[src]), hp)
            used, hv_new = np.unique(hv[keep], return_inverse=True)
            cols = [np.frombuffer(c, np.float64)[used].tobytes() for c in (self.vc, self.vx, self.vy, self.vz)]
            ht_new, hrow_new = ht[keep], np.frombuffer(self.hrow, np.int32)[keep].tobytes()
            hlast_new = newidx[hl].astype(np.int32).tobytes()
            del ht, hl, hv, vals, src, keep, out
            self.set_ht(ht_new)
            del ht_new
            self.hrow = array("i", hrow_new)
            self.set_prev(hp)
            self.hv = array("i", hv_new.astype(np.int32).tobytes())
            self.hlast = array("i", hlast_new)
            self.vc, self.vx, self.vy, self.vz = (array("d", c) for c in cols)
        # Each belief keeps one sighting in RAM: with more beliefs than the working set, wait until
        # the log has grown by half the working set again (a move costs O(log), so amortised O(1)).
        self.limit = max(self.cap, len(self.hv) + max(1, self.cap // 2))

    def _write(self, entries: list[tuple[int, float, float, float, float, float]]) -> None:
        from .longterm import SIGHT_V

        pg = self.pages
        assert pg is not None
        pg.store.insert_many("INSERT INTO lt_sightings (space, row, t, v) VALUES (?, ?, ?, ?)",
                             [(pg.space, self.rid[r], t, SIGHT_V.pack(t, c, x, y, z)) for r, t, c, x, y, z in entries])
        self.n_paged += len(entries)

    def _read(self, where: str, r: int, *args: float) -> tuple[float, float, Position] | None:
        from .longterm import SIGHT_V

        pg = self.pages
        assert pg is not None
        row = pg.store.execute(f"SELECT v FROM lt_sightings WHERE space=? AND row=? AND {where} LIMIT 1",
                               (pg.space, self.rid[r], *args)).fetchone()
        if row is None:
            return None
        t, c, x, y, z = SIGHT_V.unpack(row[0])
        return t, c, (x, y, z)


def _runs(ht: np.ndarray) -> tuple[array, array]:
    """Times one per log entry as runs: (the runs' times, the runs' first entries). Equal means
    equal bits, so -0.0 and 0.0 (and any NaN payload) read back as they came."""
    ht = np.ascontiguousarray(ht, np.float64)
    if not len(ht):
        return array("d"), array("i")
    bits = ht.view(np.int64)
    starts = np.concatenate(([0], np.flatnonzero(bits[1:] != bits[:-1]) + 1))
    return array("d", ht[starts].tobytes()), array("i", starts.astype(np.int32).tobytes())


class _Gens:
    """Label id -> rowid (>= 1) of the ``lt_beliefs`` row holding the label's paged belief rows, as one
    int64 column indexed by label id (0: in RAM), with the few dict methods spatial memory uses. 8
    bytes a label instead of a dict entry and an int object (about 90), so a memory that has seen a
    million labels does not spend ~90 MB on knowing which of them are paged out."""

    __slots__ = ("g", "n")

    def __init__(self) -> None:
        self.g = array("q")
        self.n = 0  # labels paged out

    def __getstate__(self) -> tuple[array, int]:
        return self.g, self.n

    def __setstate__(self, state: tuple[array, int]) -> None:
        self.g, self.n = state

    def __len__(self) -> int:
        return self.n

    def __bool__(self) -> bool:
        return self.n > 0

    def __contains__(self, li: object) -> bool:
        return type(li) is int and 0 <= li < len(self.g) and self.g[li] > 0

    def get(self, li: int, default: int | None = None) -> int | None:
        if 0 <= li < len(self.g):
            v = self.g[li]
            if v > 0:
                return v
        return default

    def pop(self, li: int) -> int:
        v = self.get(li)
        if v is None:
            raise KeyError(li)
        self.g[li] = 0
        self.n -= 1
        return v

    def update(self, gens: dict[int, int]) -> None:
        g = self.g
        for li, gen in gens.items():
            if gen <= 0:
                raise ValueError(f"lt_beliefs rowid must be >= 1, got {gen}")
            if li >= len(g):
                g.extend(array("q", bytes(8 * (li + 1 - len(g)))))
            if g[li] <= 0:
                self.n += 1
            g[li] = gen

    def nbytes(self) -> int:
        return _abytes(self.g)


class _LabelSeqs:
    """Per label (indexed by label id), a sequence of float items of ``width`` doubles each (``count()``'s
    first-belief times, width 1, kept sorted; label-level objects' first positions, width 3), without
    an ``array`` per label: the items of a label with at most ``_SEQ_SMALL`` of them are a chain through
    two shared columns (``val``, ``nxt``; freed slots are reused), the rest one ``array`` each in ``big``.
    About 12 (times) or 28 (positions) bytes an item and 8 a label, where an array per label cost ~100
    bytes of header and spare room more. ``get(li)`` / iteration give a label's items as an ``array``
    (None: none), in order; the snapshot stores exactly that (the columns of the list it replaced)."""

    __slots__ = ("w", "ordered", "head", "n", "val", "nxt", "free", "big")

    def __init__(self, width: int, ordered: bool = False) -> None:
        self.w = int(width)
        # ordered (width 1): items kept sorted, a chain newest (largest) first, so the usual add -- a time
        # no earlier than the label's others -- is O(1); get() and the big arrays are ascending
        self.ordered = bool(ordered)
        self.head, self.n = array("i"), array("i")  # per label: first chained slot (-1: none), items
        self.val, self.nxt = array("d"), array("i")  # per slot: w doubles, next slot of its label (-1: last)
        self.free = -1  # freed slots, chained through nxt
        self.big: dict[int, array] = {}

    def __getstate__(self) -> tuple:
        return self.w, self.ordered, self.head, self.n, self.val, self.nxt, self.free, self.big

    def __setstate__(self, state: tuple) -> None:
        self.w, self.ordered, self.head, self.n, self.val, self.nxt, self.free, self.big = state

    def __len__(self) -> int:
        return len(self.head)

    def __iter__(self) -> Iterator[array | None]:
        return map(self.get, range(len(self.head)))

    def _grow(self, li: int) -> None:
        k = li + 1 - len(self.head)
        if k > 0:
            self.head.extend(array("i", [-1]) * k)
            self.n.extend(array("i", [0]) * k)

    def _slot(self, item: Sequence[float], nxt: int) -> int:
        j = self.free
        w = self.w
        if j >= 0:
            self.free = self.nxt[j]
            self.val[w * j:w * j + w] = array("d", item)
            self.nxt[j] = nxt
        else:
            j = len(self.nxt)
            self.val.extend(item)
            self.nxt.append(nxt)
        return j

    def get(self, li: int) -> array | None:
        """Label ``li``'s items as one array (w doubles each, in order); None: none."""
        a = self.big.get(li)
        if a is not None:
            return array("d", a)
        if li >= len(self.head) or not self.n[li]:
            return None
        out, w, val, nxt = array("d"), self.w, self.val, self.nxt
        j = self.head[li]
        while j >= 0:
            out.extend(val[w * j:w * j + w])
            j = nxt[j]
        if self.ordered:
            out.reverse()
        return out

    def pop(self, li: int) -> array | None:
        """Label ``li``'s items (as ``get``), removed."""
        a = self.big.pop(li, None)
        if a is not None:
            return a
        out = self.get(li)
        if out is not None:
            j, nxt = self.head[li], self.nxt
            while nxt[j] >= 0:
                j = nxt[j]
            nxt[j], self.free = self.free, self.head[li]
            self.head[li], self.n[li] = -1, 0
        return out

    def put(self, li: int, items: array) -> None:
        """Set label ``li``'s items (it has none now)."""
        self._grow(li)
        w = self.w
        k = len(items) // w
        if k > _SEQ_SMALL:
            self.big[li] = array("d", items)
            return
        nxt = -1
        for i in (range(k) if self.ordered else range(k - 1, -1, -1)):
            nxt = self._slot(items[w * i:w * i + w], nxt)
        self.head[li], self.n[li] = nxt, k

    def add(self, li: int, item: Sequence[float]) -> None:
        """Add ``item`` to label ``li``'s items (ordered: after every item <= it; else anywhere: ``get``
        then gives the items in an order that depends only on the adds, pops and puts made)."""
        a = self.big.get(li)
        ordered = self.ordered
        if a is not None:
            if ordered and a and item[0] < a[-1]:
                a.insert(bisect_right(a, item[0]), item[0])
            else:
                a.extend(item)
            return
        self._grow(li)
        if self.n[li] >= _SEQ_SMALL:  # a label with many items: one array of its own
            a = self.pop(li)
            assert a is not None
            self.big[li] = a
            self.add(li, item)
            return
        h = self.head[li]
        if not ordered or h < 0 or self.val[h] <= item[0]:  # first in the chain: O(1)
            self.head[li] = self._slot(item, h)
            self.n[li] += 1
            return
        val, nxt = self.val, self.nxt  # a late time: after (in the chain) every larger one
        prev, j = -1, h
        while j >= 0 and val[j] > item[0]:
            prev, j = j, nxt[j]
        s = self._slot(item, j)
        if prev < 0:
            self.head[li] = s
        else:
            self.nxt[prev] = s
        self.n[li] += 1

    def size(self, li: int, at: float | None = None) -> int:
        """Label ``li``'s items (with ``at``: those <= ``at``, width 1; O(log n) for a big label)."""
        a = self.big.get(li)
        if a is not None:
            return len(a) // self.w if at is None else bisect_right(a, at)
        if li >= len(self.n):
            return 0
        if at is None:
            return self.n[li]
        k, j, val, nxt = 0, self.head[li], self.val, self.nxt  # newest first: skip those after ``at``
        while j >= 0 and val[j] > at:
            k, j = k + 1, nxt[j]
        return self.n[li] - k

    def any_near(self, li: int, pos: Position, lim: float) -> bool:
        """True when an item (a position, width 3) of label ``li`` lies within sqrt(``lim``) of ``pos``."""
        a = self.big.get(li)
        if a is not None:
            q = np.frombuffer(a, np.float64).reshape(-1, 3)
            near = bool((((q[:, 0] - pos[0]) ** 2 + (q[:, 1] - pos[1]) ** 2 + (q[:, 2] - pos[2]) ** 2) <= lim).any())
            del q  # release the buffer before the array grows
            return near
        if li >= len(self.head):
            return False
        j, val, nxt = self.head[li], self.val, self.nxt
        x, y, z = pos
        while j >= 0:
            if (val[3 * j] - x) ** 2 + (val[3 * j + 1] - y) ** 2 + (val[3 * j + 2] - z) ** 2 <= lim:
                return True
            j = nxt[j]
        return False

    def nbytes(self) -> int:
        """Bytes in RAM: the columns and each big label's array. O(big labels)."""
        n = _abytes(self.head) + _abytes(self.n) + _abytes(self.val) + _abytes(self.nxt)
        return n + sum(_abytes(a) + _DICT_ENTRY_BYTES for a in self.big.values())

    @classmethod
    def of(cls, width: int, col: Iterable[array | None], ordered: bool = False) -> _LabelSeqs:
        """The sequences of a per-label list of arrays (None: none), as a snapshot stores them."""
        out = cls(width, ordered)
        for li, a in enumerate(col):
            out._grow(li)
            if a:
                out.put(li, a)
        return out


class _LabelPages:
    """Which labels' belief rows are in the ``lt_beliefs`` table (a RAM budget): ``paged`` (label id ->
    rowid of the table row that holds them, a ``_Gens`` column), ``inst`` (instance -> label id, for
    the instances whose current belief is paged out), ``pinned`` (labels that never move out: an
    instance seen under two labels links their rows), row counts, the row budget ``cap`` and the size
    that starts a move."""

    def __init__(self, cap: int) -> None:
        self.paged = _Gens()
        self.inst = _Gens()  # instance id -> 1 + label id of its paged current belief
        # coarse cells (index cell >> 4) holding paged current beliefs -> how many: a percept whose
        # view touches none of them needs no look-up in lt_bcells
        self.coarse: dict[tuple[int, int], int] = {}
        self.pinned: set[int] = set()
        self.n_rows = 0  # rows in the table
        self.n_cur = 0  # current beliefs among them
        self.n_names = 0  # label names in lt_slabels (their labels' rows are in the table)
        self.cap = self.limit = max(1, int(cap))
        self.next_rid = 0


class _Tiles:
    """Occupancy tiles (``2**_TILE`` cells a side) in the ``lt_tiles`` table (a RAM budget): ``paged``
    (tile -> rowid of its row), ``touch`` (tile in RAM -> the percept count when last needed), the
    known cells in the table (``n_occ``), the cell budget ``cap`` and the size that starts a move."""

    def __init__(self, cap: int) -> None:
        self.paged: dict[tuple[int, int], int] = {}
        self.touch: dict[tuple[int, int], int] = {}
        self.tick = 0
        self.n_occ = 0
        self.cap = self.limit = max(1, int(cap))


class _PBlock:
    """The columns of up to ``2**_PB`` consecutive places (place ``k`` at row ``k & (2**_PB - 1)`` of
    block ``k >> _PB``) that leave RAM together under a budget: ``pz``, ``visits``, ``first``/``last``
    visit time (NaN: none), ``redge``/``rreg`` (the current ``in_region`` edge's number and region,
    -1: none), the first region voted for (``v1r``/``v1c``) and other votes (``vmore``: row -> region
    -> count), and the ``connected_to`` adjacency (``ahead``/``atail`` per row -> block-local rows
    ``av`` (the neighbour's place number), ``ae`` (the edge's number), ``anext``)."""

    __slots__ = ("pz", "visits", "first", "last", "redge", "rreg", "v1r", "v1c", "ahead", "atail", "av", "ae",
                 "anext", "vmore")
    _COLS = (("pz", "d"), ("visits", "q"), ("first", "d"), ("last", "d"), ("redge", "i"), ("rreg", "i"),
             ("v1r", "i"), ("v1c", "q"), ("ahead", "i"), ("atail", "i"), ("av", "i"), ("ae", "i"), ("anext", "i"))

    def __init__(self) -> None:
        for k, tc in self._COLS:
            setattr(self, k, array(tc))
        self.vmore: dict[int, dict[int, int]] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k in self.__slots__:
            setattr(self, k, state[k])

    def to_page(self) -> dict[str, Any]:
        """This block as plain data (bytes, ints, dicts) for an ``lt_places`` row."""
        d: dict[str, Any] = {k: getattr(self, k).tobytes() for k, _ in self._COLS}
        d["vmore"] = {j: dict(m) for j, m in self.vmore.items()}
        return d

    @classmethod
    def from_page(cls, d: dict[str, Any]) -> _PBlock:
        """The block an ``lt_places`` row holds; ``ValueError`` for a row that is not one (damaged)."""
        b = cls.__new__(cls)
        try:
            for k, tc in cls._COLS:
                setattr(b, k, array(tc, d[k]))
            b.vmore = {int(j): {int(r): int(c) for r, c in m.items()} for j, m in d["vmore"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ValueError(f"spatial memory: a damaged lt_places row ({e})") from None
        n = len(b.pz)
        if any(len(getattr(b, k)) != n for k in ("visits", "first", "last", "redge", "rreg", "v1r", "v1c", "ahead",
                                                 "atail")) or not (len(b.av) == len(b.ae) == len(b.anext)):
            raise ValueError("spatial memory: a damaged lt_places row (columns of different lengths)")
        return b

    def nbytes(self) -> int:
        return sum(_abytes(getattr(self, k)) for k, _ in self._COLS) + len(self.vmore) * (_DICT_ENTRY_BYTES + 120)


class _Places:
    """Every topological place, stored column by column (no Python object per place): place ``k``
    (id ``"<world>/place:<k>"``) has its x-y position in two columns always in RAM (``px``, ``py``:
    the grid and every nearness search read them) and the rest in blocks of ``2**_PB`` consecutive
    places (``_PBlock``: z, visits, visit times, region edge and votes, adjacency), reached through
    ``blk(k)``. Under a RAM budget (``pages``), blocks used longest ago move to the ``lt_places`` table
    (``bpaged``: block -> rowid) past ``limit`` resident blocks, and ``blk`` brings one back when a
    percept or a query touches one of its places (a revisited place brings its record back, as in
    RTAB-Map's retrieval); place numbers never change. ``btouch`` is each block's last use (``tick``:
    percepts). So a place costs 28 bytes in RAM (position and grid entry) while its block is out.

    The grid (cell of edge ``place_radius`` -> its places, in creation order) is derived from the
    positions (rebuilt when unpickled, never pickled), in two parts: ``gkeys``/``gks``, every place
    but the newest few thousand as (cell key ``ix * 2**32 + iy``, place) sorted (12 bytes a place,
    found by bisection), and a dict for the newest ones (the first of a cell in ``gfirst``, others in
    ``gmore``), merged into the sorted part when it grows past ``_GRID_MERGE`` cells. A cell beyond
    int32 stays in the dict.
    """

    __slots__ = ("r", "px", "py", "blocks", "bpaged", "btouch", "tick", "cap", "limit", "pages", "regions", "reg_id",
                 "gfirst", "gmore", "gkeys", "gks", "gcol0", "gcol1", "gnext", "n_res", "res_bytes")
    _PICKLED = ("r", "px", "py", "blocks", "bpaged", "btouch", "tick", "cap", "limit", "pages", "regions")

    def __init__(self, radius: float) -> None:
        self.r = float(radius)
        self.px, self.py = array("d"), array("d")
        self.blocks: list[_PBlock | None] = []
        self.bpaged: dict[int, int] = {}  # block -> rowid of its lt_places row (blocks out of RAM)
        self.btouch = array("q")  # block -> tick when last used
        self.tick = 0
        self.cap = self.limit = 1 << 62  # resident blocks (a RAM budget sets it)
        self.pages: Pages | None = None
        self.regions: list[str] = []
        self._derive()

    def __getstate__(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self._PICKLED}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k in self._PICKLED:
            setattr(self, k, state[k])
        self._derive()

    def _derive(self) -> None:
        """Rebuild ``reg_id`` and the grid from the columns (vectorised where the cells fit int64)."""
        self.reg_id = dict(zip(self.regions, range(len(self.regions))))
        self.n_res = sum(b is not None for b in self.blocks)
        self.res_bytes = sum(b.nbytes() for b in self.blocks if b is not None)
        self.gfirst: dict[tuple[int, int], int] = {}
        self.gmore: dict[tuple[int, int], list[int]] = {}
        self.gkeys, self.gks = array("q"), array("i")
        self.gcol0, self.gcol1 = _BIG, -_BIG  # the columns (ix) the sorted part spans (none: lo > hi)
        self.gnext = _GRID_MERGE  # the dict part's size that starts the next merge
        n = len(self.px)
        if not n:
            return
        fx = np.floor(np.frombuffer(self.px, np.float64) / self.r)
        fy = np.floor(np.frombuffer(self.py, np.float64) / self.r)
        fits = (np.abs(fx + 0.5) < _I31) & (np.abs(fy + 0.5) < _I31)  # -2**31 <= cell < 2**31
        ks = np.flatnonzero(fits)
        keys = fx[ks].astype(np.int64) * (1 << 32) + fy[ks].astype(np.int64)
        o = np.lexsort((ks, keys))
        self.gkeys, self.gks = array("q", keys[o].tobytes()), array("i", ks[o].astype(np.int32).tobytes())
        if len(ks):
            self.gcol0, self.gcol1 = int(fx[ks].min()), int(fx[ks].max())
        for k in np.flatnonzero(~fits).tolist():  # cells beyond int32: the dict, in creation order
            self._file(k, self.cell(self.px[k], self.py[k]))
        self.gnext = len(self.gfirst) + _GRID_MERGE

    def _file(self, k: int, c: tuple[int, int]) -> None:
        if c in self.gfirst:
            self.gmore.setdefault(c, []).append(k)
        else:
            self.gfirst[c] = k

    def _merge(self) -> None:
        """Move the dict part's places (cells within int32) into the sorted part."""
        ks = [k for c, k in self.gfirst.items() if -_I31 <= c[0] < _I31 and -_I31 <= c[1] < _I31]
        ks += [k for c, more in self.gmore.items() if -_I31 <= c[0] < _I31 and -_I31 <= c[1] < _I31 for k in more]
        if not ks:
            self.gnext = len(self.gfirst) + _GRID_MERGE  # only cells beyond int32 (they stay)
            return
        new_ks = np.array(ks, np.int64)
        fx = np.floor(np.frombuffer(self.px, np.float64)[new_ks] / self.r).astype(np.int64)
        fy = np.floor(np.frombuffer(self.py, np.float64)[new_ks] / self.r).astype(np.int64)
        keys = np.concatenate((np.frombuffer(self.gkeys, np.int64), fx * (1 << 32) + fy))
        allk = np.concatenate((np.frombuffer(self.gks, np.int32).astype(np.int64), new_ks))
        o = np.lexsort((allk, keys))
        self.gkeys, self.gks = array("q", keys[o].tobytes()), array("i", allk[o].astype(np.int32).tobytes())
        lo, hi = int(fx.min()), int(fx.max())
        self.gcol0, self.gcol1 = (lo, hi) if self.gcol0 > self.gcol1 else (min(lo, self.gcol0), max(hi, self.gcol1))
        self.gfirst = {c: k for c, k in self.gfirst.items() if not (-_I31 <= c[0] < _I31 and -_I31 <= c[1] < _I31)}
        self.gmore = {c: m for c, m in self.gmore.items() if not (-_I31 <= c[0] < _I31 and -_I31 <= c[1] < _I31)}
        self.gnext = len(self.gfirst) + _GRID_MERGE

    def __len__(self) -> int:
        return len(self.px)

    def cell(self, x: float, y: float) -> tuple[int, int]:
        return (math.floor(x / self.r), math.floor(y / self.r))

    # ------------------------------------------------------------------ blocks
    def blk(self, k: int) -> _PBlock:
        """Place ``k``'s block (brought back from lt_places if it is out), marked used now."""
        bi = k >> _PB
        b = self.blocks[bi]
        if b is None:
            b = self._block_in(bi)
        self.btouch[bi] = self.tick
        return b

    def peek(self, bi: int) -> _PBlock:
        """Block ``bi``, read from lt_places if it is out, without bringing it back (queries over all places)."""
        b = self.blocks[bi]
        return b if b is not None else self._read_block(bi)

    def _read_block(self, bi: int) -> _PBlock:
        pg = self.pages
        assert pg is not None
        row = pg.store.execute("SELECT v FROM lt_places WHERE rowid=?", (self.bpaged[bi],)).fetchone()
        if row is None:
            raise RuntimeError(f"spatial memory: place block {bi} is missing from lt_places")
        return _PBlock.from_page(_load_page(row[0]))

    def _block_in(self, bi: int) -> _PBlock:
        b = self._read_block(bi)
        del self.bpaged[bi]
        self.blocks[bi] = b
        self.n_res += 1
        self.res_bytes += b.nbytes()
        return b

    def trim(self, keep: set[int] | None = None) -> None:
        """Move the blocks used longest ago (but the blocks in ``keep``; None: those used in this
        tick) to lt_places until at most 3/4 of ``cap`` are in RAM; then wait until ``limit``."""
        pg = self.pages
        if pg is None:
            return
        target = (3 * self.cap) // 4
        if self.n_res > target:
            res = [bi for bi, b in enumerate(self.blocks) if b is not None
                   and (bi not in keep if keep is not None else self.btouch[bi] != self.tick)]
            res.sort(key=self.btouch.__getitem__)
            out = res[:max(0, self.n_res - target)]
            if out:
                gens = pg.store.insert_each("INSERT INTO lt_places (space, block, v) VALUES (?, ?, ?)",
                                            [(pg.space, bi, pickle.dumps(self.blocks[bi].to_page(), protocol=5))  # type: ignore[union-attr]
                                             for bi in out])
                for bi, g in zip(out, gens):
                    self.res_bytes -= self.blocks[bi].nbytes()  # type: ignore[union-attr]
                    self.blocks[bi] = None
                    self.bpaged[bi] = g
                self.n_res -= len(out)
        self.limit = max(self.cap, self.n_res + max(1, self.cap // 4))

    def add(self, pos: Position) -> int:
        """A new place at ``pos`` (no visit yet); its number."""
        k = len(self.px)
        if k >> _PB == len(self.blocks):
            self.blocks.append(_PBlock())
            self.btouch.append(self.tick)
            self.n_res += 1
        b = self.blk(k)
        n0 = b.nbytes()
        self.px.append(pos[0])
        self.py.append(pos[1])
        b.pz.append(pos[2])
        b.visits.append(0)
        b.first.append(_NAN)
        b.last.append(_NAN)
        for col in (b.redge, b.rreg, b.v1r, b.ahead, b.atail):
            col.append(-1)
        b.v1c.append(0)
        self.res_bytes += b.nbytes() - n0
        self._file(k, self.cell(pos[0], pos[1]))
        if len(self.gfirst) > self.gnext:
            self._merge()
        return k

    def in_cell(self, c: tuple[int, int]) -> list[int]:
        """The places filed under grid cell ``c``, in creation order."""
        out: list[int] = []
        x, y = c
        gkeys = self.gkeys
        if self.gcol0 <= x <= self.gcol1 and -_I31 <= y < _I31:
            key = (x << 32) + y
            i = bisect_left(gkeys, key)
            n = len(gkeys)
            while i < n and gkeys[i] == key:
                out.append(self.gks[i])
                i += 1
        k = self.gfirst.get(c)
        if k is not None:
            out.append(k)
            more = self.gmore.get(c)
            if more is not None:
                out.extend(more)
        return out

    def pos(self, k: int) -> Position:
        return (self.px[k], self.py[k], self.blk(k).pz[k & _PM])

    def vote(self, k: int, reg: int, add: int = 0) -> int:
        """Place ``k``'s votes for region ``reg`` (after adding ``add``)."""
        b, j = self.blk(k), k & _PM
        if b.v1r[j] == reg:
            b.v1c[j] += add
            return b.v1c[j]
        if b.v1r[j] < 0:
            if add:
                b.v1r[j], b.v1c[j] = reg, add
            return add
        more = b.vmore.get(j)
        if more is None:
            if not add:
                return 0
            more = b.vmore[j] = {}
            self.res_bytes += _DICT_ENTRY_BYTES + 120
        n = more.get(reg, 0) + add
        if add:
            more[reg] = n
        return n

    def votes(self, k: int) -> dict[str, int]:
        """Place ``k``'s votes by region name, in the order first voted for."""
        b, j = self.blk(k), k & _PM
        if b.v1r[j] < 0:
            return {}
        out = {self.regions[b.v1r[j]]: b.v1c[j]}
        for reg, n in b.vmore.get(j, {}).items():
            out[self.regions[reg]] = n
        return out

    def region_edge(self, k: int) -> int:
        """The graph edge number of place ``k``'s current ``in_region`` edge (-1: none)."""
        return self.blk(k).redge[k & _PM]

    def neighbours(self, k: int, b: _PBlock | None = None) -> list[tuple[int, int]]:
        """(neighbour place, edge number) of place ``k``'s ``connected_to`` edges, in creation order
        (``b``: its block, when the caller read it without bringing it back)."""
        if b is None:
            b = self.blk(k)
        out = []
        j = b.ahead[k & _PM]
        av, ae, anext = b.av, b.ae, b.anext
        while j >= 0:
            out.append((av[j], ae[j]))
            j = anext[j]
        return out

    def link(self, u: int, v: int) -> int:
        """The edge number of u -> v, or -1."""
        b = self.blk(u)
        j = b.ahead[u & _PM]
        av, anext = b.av, b.anext
        while j >= 0:
            if av[j] == v:
                return b.ae[j]
            j = anext[j]
        return -1

    def add_link(self, u: int, v: int, e: int) -> None:
        b, ju = self.blk(u), u & _PM
        j = len(b.av)
        b.av.append(v)
        b.ae.append(e)
        b.anext.append(-1)
        if b.atail[ju] >= 0:
            b.anext[b.atail[ju]] = j
        else:
            b.ahead[ju] = j
        b.atail[ju] = j
        self.res_bytes += 12

    def nbytes(self) -> int:
        """Bytes these places hold in RAM (positions, grid, resident blocks, one entry per block; an
        estimate for the dicts). O(1)."""
        n = _abytes(self.px) + _abytes(self.py) + _abytes(self.gkeys) + _abytes(self.gks) + _abytes(self.btouch)
        n += self.res_bytes + 8 * len(self.blocks) + len(self.bpaged) * _DICT_ENTRY_BYTES
        return n + _DICT_ENTRY_BYTES * (len(self.gfirst) + len(self.gmore))


class SpatialMemory:
    """Object beliefs, places, occupancy. Built and fed by ``Memory``; query methods are public."""

    def __init__(self, graph: MemoryGraph, config: SpatialConfig | None = None, world: str | None = None) -> None:
        self.graph = graph
        # World (map) id: beliefs, places and regions of different worlds are different graph nodes
        # ("<world>/place:3"); None (the default world) keeps the plain ids.
        self.world = world
        self._ns = "" if world is None else f"{world}/"
        self.config = config or SpatialConfig()
        self.enabled = self.config.enabled
        self._tol = float(self.config.match_tolerance)
        self._tol2 = self._tol * self._tol
        self._ic = float(self.config.index_cell)
        self._pr = float(self.config.place_radius)
        self._cs = float(self.config.cell_size)
        # beliefs: one row each in a columnar table (see _Beliefs)
        self._b = _Beliefs(self._ic)
        self._n_objects = 0
        # count(): per label, the times at which a new distinct object was first believed (sorted),
        # and the positions (x, y, z flat) where a label-level object was first believed.
        # (indexed by label id, ``_b.lab_id``; none while the label's rows are paged out)
        self._new_obj_t = _LabelSeqs(1, ordered=True)
        self._obj_pos = _LabelSeqs(3)
        self._ended_now: list[int] | None = None
        self.n_sightings = 0
        # places
        self._pl = _Places(self._pr)  # one row each, in columns (see _Places)
        self._current_place: str | None = None
        self._current_k = -1  # its number
        # trajectory, column by column (time order): time, x, y, z, yaw; Pose objects are made by the
        # queries that return them (a pose costs 40 bytes, and a snapshot stores five arrays)
        self._traj_t = array("d")
        self._traj_x, self._traj_y = array("d"), array("d")
        self._traj_z, self._traj_yaw = _ConstCol(), _ConstCol()  # one value while constant
        # occupancy
        self._occ: dict[tuple[int, int], int] = {}
        # the frontier is stored as its complement among known free cells: ``_inner`` holds the known
        # free cells whose four neighbours are all known; every other known free cell is a frontier
        # cell (an explored area is mostly frontier: at 1M benchmark sightings 6k inner cells against
        # 59k frontier cells, 2 MiB less). _frontier_keys() lists the frontier.
        self._inner: set[tuple[int, int]] = set()
        # cells the agent walked through between consecutive poses: known free for path() unless a
        # later observation blocked them (a step longer than walk_max_step is no walk: a reset, a glitch).
        # Only cells not in _occ (a known cell's state decides, walked or not): a cell observed later
        # leaves the set (most walked cells are pose cells, known free: about 8 MiB at 1M sightings)
        self._walked: set[tuple[int, int]] = set()
        self._walk_from: Pose | None = None
        self._walk_starts: list[float] = []  # times at which a new walk began (see walks())
        self._agent_node = "agent"
        # long-term pages (a RAM budget): poses older than _traj_cut live in the lt_poses table
        self._pages: Pages | None = None
        self._traj_cut = -math.inf
        self._n_paged_poses = 0
        self._tiles: _Tiles | None = None  # occupancy tiles in the lt_tiles table

    # -------------------------------------------------------------- snapshot state
    # Places, their grid and adjacency, occupancy and the count() columns are saved as columns (a few
    # arrays and string lists) rather than one pickled object each: unpickling a 1M-sighting memory's
    # ~10k place records, ~35k edge views and ~150k cell tuples one by one was most of its reopen time.
    _PACKED = ("_occ", "_inner", "_walked", "_new_obj_t", "_obj_pos")

    def __getstate__(self) -> dict[str, Any]:
        """This module's snapshot state: its data attributes, with ``_PACKED`` ones as columns (an
        attribute whose values do not fit a column, e.g. a cell beyond int64, is kept as it is)."""
        st = {k: v for k, v in vars(self).items() if k not in self._PACKED and not _is_behaviour(v)}
        st["_packed"] = _pack_spatial(self)
        return st

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore ``__getstate__``'s state (wrappers already set on this instance stay)."""
        st = dict(state)
        packed = st.pop("_packed")
        self.__dict__.update(st)
        _unpack_spatial(self, packed)
        for name in ("_traj_z", "_traj_yaw"):  # a snapshot from before _ConstCol: one value while constant
            a = self.__dict__.get(name)
            if type(a) is array:
                col = _ConstCol()
                bits = np.frombuffer(a, np.uint64)
                if len(bits) and bool(np.all(bits == bits[0])) and a[0] == a[0]:
                    col.n, col.v = len(a), a[0]
                elif len(bits):
                    col.a = a
                setattr(self, name, col)

    def use_long_term(self, store: LongTermStore | None, cap: int | None = None) -> None:
        """Keep at most about ``cap`` poses in RAM, the older ones in ``store`` (before any percept);
        likewise the sightings log, belief rows (``sizes["beliefs"]``, else ``belief_rows``) and
        occupancy cells (``sizes["cells"]``, else ``grid_cells``): see the module docstring."""
        from .longterm import Pages

        if self._traj_t or self._n_paged_poses or len(self._b.lab):
            raise ValueError("use_long_term must be called before the first percept")
        self._pages = None if store is None else Pages(store, cap if cap is not None else store.sizes["poses"])
        B = self._b
        B.pages = self._pages
        if store is not None:
            from .longterm import belief_rows, grid_cells

            B.cap = B.limit = int(store.sizes.get("sightings", 1 << 16))
            B.lp = _LabelPages(int(store.sizes.get("beliefs") or belief_rows(store.ram_budget_mb)))
            self._tiles = _Tiles(int(store.sizes.get("cells") or grid_cells(store.ram_budget_mb)))
            from .longterm import place_blocks

            pl = self._pl
            pl.pages = self._pages
            pl.cap = pl.limit = max(1, int(store.sizes.get("place_blocks") or place_blocks(store.ram_budget_mb)))
            self._caps0 = self._caps()

    @property
    def pages(self) -> Pages | None:
        """This module's handle on the long-term store (None: no RAM budget, all poses in RAM)."""
        return self._pages

    # ================================================================== ingest
    def observe(self, p: Percept, pid: int, recorded_at: float) -> None:
        if not self.enabled:
            return
        t = p.t
        tl = self._tiles
        if tl is not None and (p.free is not None or p.blocked is not None or p.pose is not None):
            self._tiles_for(p)
        if p.pose is not None:
            self._observe_pose(p, pid, recorded_at)
        if p.free is not None or p.blocked is not None or p.pose is not None:
            self._observe_cells(p)
            if tl is not None and len(self._occ) + len(self._walked) > tl.limit:
                self._trim_tiles()
        if not p.sightings and p.view is None:
            return
        B = self._b
        if B.lp is not None and B.lp.paged:
            self._page_in_for(p)
        matched, born = self._file_sightings(p, pid, recorded_at)
        self.n_sightings += len(p.sightings)
        if B.pages is not None and len(B.hv) > B.limit:
            B.page_out()
        if p.view is not None:
            if born is None:
                self._negative_evidence(p.view, matched, t)
            else:
                self._ended_now = ended = []
                try:
                    self._negative_evidence(p.view, matched, t)
                finally:
                    self._ended_now = None
                for r in ended:
                    if B.inst[r] < 0:
                        nb = born.get(B.labels[B.lab[r]])
                        if nb is not None:
                            B.next[r] = nb
        if B.lp is not None and len(B.lab) > B.lp.limit:
            # (a label seen only on an instance that matched a belief of another label has no rows)
            self._trim_beliefs({li for li in (B.lab_id.get(s.label) for s in p.sightings) if li is not None})

    def _file_sightings(self, p: Percept, pid: int, recorded_at: float) -> tuple[set[int], dict[str, list[int]] | None]:
        """File every sighting of ``p`` (each as ``_observe_sighting`` would); returns the rows they went to
        and, per label, the label-level beliefs they made (None: none).

        The common case inline (the same thing seen again where it was, no later sighting of it
        known): one log entry, and one graph call for the percept's ``last_seen``. The belief's state
        is read from the columns (the graph's edge data is only written, kept in step). A label-level
        sighting's match looks in its own index cell first: a belief exactly there (distance 0) ends
        the search, as no belief elsewhere can be nearer or tie with it."""
        B = self._b
        t = p.t
        n0 = len(B.lab)
        matched: set[int] = set()
        born: dict[str, list[int]] | None = None
        grid, lab, lab_id, instances, edge = B.grid, B.lab, B.lab_id, B.instances, B.edge
        seen: list[int] = []  # edges whose last_seen becomes t (one graph call for them all)
        hlast, hv, tl, hprev, vc, vx, vy, vz = B.hlast, B.hv, B.tl, B.hprev, B.vc, B.vx, B.vy, B.vz
        trt, hfc = B.trt, B.hfc
        hrow = B.hrow if B.pages is not None else None
        tol, ic, tol2 = self._tol, self._ic, self._tol2
        within = tol2 + 1e-12  # _match's bound
        floor, lim = math.floor, _CK_LIM
        for s in p.sightings:
            pos, conf, inst = s.position, s.confidence, s.instance
            px, py, pz = pos
            r = -1
            if inst is None:
                li = lab_id.get(s.label)
                if li is not None:  # _match, inlined: the sighting's own index cell first
                    ox, oy = floor(px / ic), floor(py / ic)
                    own = (ox << 32) + oy if -lim < ox < lim and -lim < oy < lim else (ox, oy)  # cell_key, inlined
                    best_d = within
                    bucket = grid.get(own)
                    if bucket:
                        for q in bucket:
                            if lab[q] == li:
                                v = hv[hlast[q]]
                                d = (vx[v] - px) ** 2 + (vy[v] - py) ** 2 + (vz[v] - pz) ** 2
                                if d < best_d or (d == best_d and q > r):
                                    r, best_d = q, d
                    # A belief at distance 0 (and any tie with it) is filed under the sighting's own cell:
                    # no other cell can beat it. Otherwise the other cells within the tolerance too.
                    if best_d != 0.0:
                        x0, x1 = floor((px - tol) / ic), floor((px + tol) / ic)
                        y0, y1 = floor((py - tol) / ic), floor((py + tol) / ic)
                        if x0 != x1 or y0 != y1:
                            for cell in [cell_key(ix, iy) for ix in range(x0, x1 + 1) for iy in range(y0, y1 + 1)]:
                                bucket = grid.get(cell) if cell != own else None
                                if bucket:
                                    for q in bucket:
                                        if lab[q] == li:
                                            v = hv[hlast[q]]
                                            d = (vx[v] - px) ** 2 + (vy[v] - py) ** 2 + (vz[v] - pz) ** 2
                                            if d < best_d or (d == best_d and q > r):
                                                r, best_d = q, d
            else:
                q = instances.get(inst)
                if q is not None:
                    v = hv[hlast[q]]
                    if (vx[v] - px) ** 2 + (vy[v] - py) ** 2 + (vz[v] - pz) ** 2 <= tol2:
                        r = q
            if r >= 0:
                k = hlast[r]
                v = hv[k]
                if t >= tl[r] and vc[v] == conf and vx[v] == px and vy[v] == py and vz[v] == pz:
                    if not trt or trt[-1] != t or t == 0.0:  # a new run of times (B.tpush, inlined)
                        B.tpush(t)
                        trt = B.trt
                    n = len(hv)
                    hlast[r] = n
                    tl[r] = t
                    if n - k < hfc:  # B.link(n, k), inlined (k is an entry: a row's latest)
                        hprev.append(n - k)
                    else:
                        B.link(n, k)
                        hprev, hfc = B.hprev, B.hfc  # (link may widen the log)
                    hv.append(v)
                    if hrow is not None:
                        hrow.append(r)
                    seen.append(edge[r])
                else:
                    self._resight(r, pos, conf, t)
                    hprev, hfc = B.hprev, B.hfc  # (a link may widen the log)
            elif inst is None:  # no belief of the label within the tolerance (what _observe_sighting finds)
                r = self._new_belief(s.label, pos, None, conf, t, pid, recorded_at)
                hprev, hfc = B.hprev, B.hfc
            else:
                r = self._observe_sighting(s.label, pos, inst, conf, t, pid, recorded_at)
                hprev, hfc = B.hprev, B.hfc
            matched.add(r)
            if r >= n0 and B.inst[r] < 0:
                if born is None:
                    born = {}
                born.setdefault(s.label, []).append(r)
        if seen:
            self.graph.set_edges_field(seen, "last_seen", t)
        return matched, born

    def _observe_pose(self, p: Percept, pid: int, recorded_at: float) -> None:
        pose = p.pose
        assert pose is not None
        t = p.t
        if t < self._traj_cut:  # a late pose older than every pose in RAM: straight to the table
            self._page_poses([(t, pose.x, pose.y, pose.z, pose.yaw)])
        elif self._traj_t and t < self._traj_t[-1]:
            i = bisect_right(self._traj_t, t)
            for col, v in zip(self._traj_cols(), (t, pose.x, pose.y, pose.z, pose.yaw)):
                col.insert(i, v)
        else:
            self._traj_t.append(t)
            self._traj_x.append(pose.x)
            self._traj_y.append(pose.y)
            self._traj_z.append(pose.z)
            self._traj_yaw.append(pose.yaw)
            if not self._walk(self._walk_from, pose):
                self._walk_starts.append(t)
            self._walk_from = pose
            pg = self._pages
            if pg is not None and len(self._traj_t) > pg.cap:
                self._trim_poses((3 * pg.cap) // 4)
        if self._agent_node not in self.graph:
            self.graph.add_node(self._agent_node, "agent", created=t)
        pl = self._pl
        pl.tick += 1
        k = self._place_near(pose.position, create=True, t=t)
        prev = self._current_k
        b, j = pl.blk(k), k & _PM
        if k != prev:
            b.visits[j] += 1
            if prev >= 0:
                self._connect(prev, k, t, pid, recorded_at)
            self._current_k = k
            self._current_place = self._place_id(k)
        last = b.last[j]
        if last != last:  # NaN: the first visit
            b.first[j] = b.last[j] = t
        else:
            b.last[j] = max(last, t)
        if p.region is not None:
            self._set_region(k, p.region, t, pid, recorded_at)
        if pl.n_res > pl.limit:
            pl.trim()

    def _trim_poses(self, keep: int) -> None:
        """Move the oldest poses to the lt_poses table, keeping about the newest ``keep`` (at least
        one; never splitting the poses of one time)."""
        tt = self._traj_t
        keep = max(1, keep)
        if len(tt) <= keep:
            return
        i = bisect_left(tt, tt[len(tt) - keep])
        if i:
            self._page_poses(list(zip(*(col[:i] for col in self._traj_cols()))))
            self._traj_cut = tt[i]
            for col in self._traj_cols():
                del col[:i]

    def _place_id(self, k: int) -> str:
        return f"{self._ns}place:{k}"

    def _place_k(self, place: str) -> int:
        """The number of place id ``place`` (``"<world>/place:<k>"``), or -1 if no such place."""
        head = f"{self._ns}place:"
        if type(place) is not str or not place.startswith(head):
            return -1
        tail = place[len(head):]
        if not (tail.isdigit() and tail.isascii()):
            return -1
        k = int(tail)
        return k if k < len(self._pl) and str(k) == tail else -1

    def _connect(self, a: int, b: int, t: float, pid: int, recorded_at: float) -> None:
        pl = self._pl
        for u, v in ((a, b), (b, a)):
            e = pl.link(u, v)  # the edge's number in the graph
            if e < 0:
                d = self.graph.add_edge(self._place_id(u), self._place_id(v), "connected_to", valid_from=t,
                                        source=pid, recorded_at=recorded_at, traversals=0)
                pl.add_link(u, v, d.id)
            else:
                d = self.graph.edge_data(e)
            d["traversals"] += 1

    def _set_region(self, k: int, region: str, t: float, pid: int, recorded_at: float) -> None:
        pl = self._pl
        reg = pl.reg_id.get(region)
        if reg is None:
            self.graph.add_node(f"{self._ns}region:{region}", "region", name=region, created=t)
            reg = pl.reg_id[region] = len(pl.regions)
            pl.regions.append(region)
        # A place near a doorway hears several region labels: it takes the one reported most often
        # while the agent is there (ties keep the current label), so it does not flip at each pass.
        b, j = pl.blk(k), k & _PM
        cur = b.rreg[j]
        if cur == reg and b.v1r[j] == reg:  # the common case: one more vote for the place's region
            b.v1c[j] += 1
            return
        n = pl.vote(k, reg, 1)
        if cur >= 0 and (cur == reg or n <= pl.vote(k, cur)):
            return
        node = f"{self._ns}region:{region}"
        if cur >= 0:
            self.graph.invalidate_data(self.graph.edge_data(b.redge[j]), t)
        b.redge[j] = self.graph.add_edge(self._place_id(k), node, "in_region", valid_from=t, source=pid,
                                         recorded_at=recorded_at, region=region).id
        b.rreg[j] = reg

    def _place_near(self, pos: Position, create: bool, t: float) -> int:
        """The place within ``place_radius`` of ``pos`` (the nearest; ties: the last in grid order),
        else a new one there (``create``) or -1."""
        pl = self._pl
        r = self._pr
        gx, gy = math.floor(pos[0] / r), math.floor(pos[1] / r)
        best, best_d = -1, r * r + 1e-9
        gfirst, gmore, px, py, gkeys, gks = pl.gfirst, pl.gmore, pl.px, pl.py, pl.gkeys, pl.gks
        n = len(gkeys)
        # the sorted part: one bisection per column of three cells (their keys are consecutive)
        sorted_ok = n and -_I31 < gx - 1 and gx + 1 < _I31 and -_I31 < gy - 1 and gy + 1 < _I31
        if sorted_ok and (gx + 1 < pl.gcol0 or gx - 1 > pl.gcol1):
            sorted_ok = n = 0  # no column of the sorted part is near: the dict part only
        for ix in (gx - 1, gx, gx + 1):
            if sorted_ok:
                base = ix << 32
                m = bisect_left(gkeys, base + gy - 1)
            for iy in (gy - 1, gy, gy + 1):
                if sorted_ok:
                    key = base + iy
                    while m < n and gkeys[m] == key:
                        k = gks[m]
                        m += 1
                        d = (px[k] - pos[0]) ** 2 + (py[k] - pos[1]) ** 2
                        if d <= best_d:
                            best, best_d = k, d
                elif n:
                    for k in pl.in_cell((ix, iy)):
                        d = (px[k] - pos[0]) ** 2 + (py[k] - pos[1]) ** 2
                        if d <= best_d:
                            best, best_d = k, d
                    continue
                k = gfirst.get((ix, iy))
                if k is None:
                    continue
                d = (px[k] - pos[0]) ** 2 + (py[k] - pos[1]) ** 2
                if d <= best_d:
                    best, best_d = k, d
                if gmore:
                    for k in gmore.get((ix, iy), ()):
                        d = (px[k] - pos[0]) ** 2 + (py[k] - pos[1]) ** 2
                        if d <= best_d:
                            best, best_d = k, d
        if best >= 0 or not create:
            return best
        k = pl.add(pos)
        self.graph.add_node(self._place_id(k), "place", position=pos, created=t)
        return k

    def _place_for_object(self, pos: Position, t: float) -> int:
        """The place an object belongs to: the nearest known place (searching outwards), else -1."""
        pl = self._pl
        if not len(pl):
            return -1
        r = self._pr
        gx, gy = math.floor(pos[0] / r), math.floor(pos[1] / r)
        best, best_d = -1, float("inf")
        qx, qy = pl.px, pl.py
        px, py = pos[0], pos[1]
        # rings 0 and 1 (the 3 x 3 cells around), in the order of the ring loop below
        cells = ((gx, gy), (gx - 1, gy - 1), (gx - 1, gy), (gx - 1, gy + 1), (gx, gy - 1), (gx, gy + 1),
                 (gx + 1, gy - 1), (gx + 1, gy), (gx + 1, gy + 1))
        if gx + 1 < pl.gcol0 or gx - 1 > pl.gcol1:  # none in the sorted part: the dict part only
            gfirst, gmore = pl.gfirst, pl.gmore
            for c in cells:
                k = gfirst.get(c)
                if k is not None:
                    d = (qx[k] - px) ** 2 + (qy[k] - py) ** 2
                    if d < best_d:
                        best, best_d = k, d
                    if gmore:
                        for k in gmore.get(c, ()):
                            d = (qx[k] - px) ** 2 + (qy[k] - py) ** 2
                            if d < best_d:
                                best, best_d = k, d
        else:
            for c in cells:
                for k in pl.in_cell(c):
                    d = (qx[k] - px) ** 2 + (qy[k] - py) ** 2
                    if d < best_d:
                        best, best_d = k, d
        if best >= 0:
            return best
        for ring in range(2, 4):
            for ix in range(gx - ring, gx + ring + 1):
                # the ring's cells only, in (ix, iy) order: whole columns at its two ends, else top and bottom
                iys = range(gy - ring, gy + ring + 1) if abs(ix - gx) == ring else (gy - ring, gy + ring)
                for iy in iys:
                    for k in pl.in_cell((ix, iy)):
                        d = (qx[k] - pos[0]) ** 2 + (qy[k] - pos[1]) ** 2
                        if d < best_d:
                            best, best_d = k, d
            if best >= 0 and ring >= 1:
                return best
        if best >= 0:
            return best
        return self._current_k

    # ------------------------------------------------------------ sightings
    def _icell(self, x: float, y: float) -> tuple[int, int]:
        return (math.floor(x / self._ic), math.floor(y / self._ic))

    def _node(self, r: int) -> str:
        """The graph node of the object of belief row ``r``."""
        B = self._b
        i = B.inst[r]
        if i >= 0:
            return f"{self._ns}object:{B.insts[i]}"
        return f"{self._ns}object:{B.labels[B.lab[r]]}#{B.obj[r]}"

    def _observe_sighting(self, label: str, pos: Position, instance: str | None, conf: float, t: float, pid: int,
                          recorded_at: float) -> int:
        """File one sighting; returns the row of the belief it went to."""
        B = self._b
        if instance is not None:
            r = B.instances.get(instance)
            if r is not None:
                k = B.hlast[r]
                v = B.hv[k]
                if (B.vx[v] - pos[0]) ** 2 + (B.vy[v] - pos[1]) ** 2 + (B.vz[v] - pos[2]) ** 2 <= self._tol2:
                    self._resight(r, pos, conf, t)
                    return r
                if t < B.tl[r]:
                    # A late percept (another source) saw it elsewhere before its latest sighting:
                    # history, not the current belief.
                    return self._past_belief(r, label, pos, instance, conf, t, pid, recorded_at)
                # the same object, seen elsewhere: it moved
                if B.lp is not None and B.labels[B.lab[r]] != label:  # rows of two labels linked: never paged
                    B.lp.pinned.update((B.lab[r], B.label_id(label)))
                self._end(r, t)
                nr = self._new_belief(label, pos, instance, conf, t, pid, recorded_at, node=self._node(r))
                B.next[r] = [nr]
                return nr
            return self._new_belief(label, pos, instance, conf, t, pid, recorded_at)
        r = self._match(label, pos)
        if r >= 0:
            self._resight(r, pos, conf, t)
            return r
        return self._new_belief(label, pos, None, conf, t, pid, recorded_at)

    def _match(self, label: str, pos: Position) -> int:
        """The current label-level-or-instance belief of ``label`` nearest ``pos`` within the
        tolerance (ties: the newest belief), or -1."""
        B = self._b
        li = B.lab_id.get(label)
        if li is None:
            return -1
        tol, ic = self._tol, self._ic
        x0, x1 = math.floor((pos[0] - tol) / ic), math.floor((pos[0] + tol) / ic)
        y0, y1 = math.floor((pos[1] - tol) / ic), math.floor((pos[1] + tol) / ic)
        best, best_d = -1, self._tol2 + 1e-12
        grid, lab, hlast, hv, vx, vy, vz = B.grid, B.lab, B.hlast, B.hv, B.vx, B.vy, B.vz
        px, py, pz = pos
        cells = (cell_key(x0, y0),) if x0 == x1 and y0 == y1 else [cell_key(ix, iy) for ix in range(x0, x1 + 1)
                                                                   for iy in range(y0, y1 + 1)]
        for cell in cells:
            bucket = grid.get(cell)
            if not bucket:
                continue
            for r in bucket:
                if lab[r] != li:
                    continue
                v = hv[hlast[r]]
                d = (vx[v] - px) ** 2 + (vy[v] - py) ** 2 + (vz[v] - pz) ** 2
                if d < best_d or (d == best_d and r > best):
                    best, best_d = r, d
        return best

    def _resight(self, r: int, pos: Position, conf: float, t: float) -> None:
        B = self._b
        k = B.hlast[r]
        last, v0 = B.tl[r], B.hv[k]
        if t >= last and B.vc[v0] == conf and B.vx[v0] == pos[0] and B.vy[v0] == pos[1] and B.vz[v0] == pos[2]:
            # the common case, seen again where it was: one log entry, the edge's last_seen
            B.tpush(t)
            n = len(B.hv)
            B.hlast[r] = n
            B.tl[r] = t
            B.link(n, k)
            B.hv.append(v0)
            if B.pages is not None:
                B.hrow.append(r)
            d = self.graph.edge_data(B.edge[r])
            d["last_seen"] = t
            d["confidence"] = conf
            return
        B.sighting(r, t, conf, pos)
        if t >= last:
            d = self.graph.edge_data(B.edge[r])
            d["last_seen"] = t
            d["confidence"] = conf
            old = (B.vx[v0], B.vy[v0], B.vz[v0])
            if old != pos:
                d["position"] = pos
                cell, new = self._icell(old[0], old[1]), self._icell(pos[0], pos[1])
                if cell != new:
                    self._unindex(r, cell)
                    self._index(r, new)

    def _new_belief(self, label: str, pos: Position, instance: str | None, conf: float, t: float, pid: int,
                    recorded_at: float, node: str | None = None) -> int:
        obj = -1
        if node is None:
            if instance is not None:
                node = f"{self._ns}object:{instance}"
            else:
                obj = self._n_objects
                node = f"{self._ns}object:{label}#{obj}"
            if node not in self.graph:  # an instance seen again after it was invalidated is the same object
                self._n_objects += 1
                self.graph.add_node(node, "object", label=label, instance=instance, created=t)
                if instance is not None:
                    self._count_new(label, t)
            if instance is None and self._is_new_object(label, pos):
                self._count_new(label, t)
        place = self._place_for_object(pos, t)
        if place < 0:
            place = self._place_near(pos, create=True, t=t)
        data = self.graph.add_edge(node, self._place_id(place), "located_at", valid_from=t, source=pid, confidence=conf,
                                   recorded_at=recorded_at, position=pos, last_seen=t)
        r = self._add_row(label, instance, obj, place, float(t), conf, pos, data.id)
        self._index(r, self._icell(pos[0], pos[1]))
        B = self._b
        B.make_current(r)
        if instance is not None:
            B.instances[instance] = r
        return r

    def _add_row(self, label: str, instance: str | None, obj: int, place: int, t: float, conf: float, pos: Position,
                 edge: int) -> int:
        """Append a belief row with its first sighting (not indexed, not current)."""
        B = self._b
        r = len(B.lab)
        li = B.lab_id.get(label)
        if li is None:
            li = B.label_id(label)
        B.lab.append(li)
        if instance is None:
            B.inst.append(_NONE)
        else:
            i = B.inst_id.get(instance)
            if i is None:
                i = B.inst_id[instance] = len(B.insts)
                B.insts.append(instance)
            B.inst.append(i)
        B.obj.append(obj)
        B.place.append(place)
        B.vf.append(t)
        B.vt.append(_NAN)
        B.ecx.append(_NOCELL)
        B.ecy.append(_NOCELL)
        v = B.add_value(r, conf, pos)
        B.tpush(t)
        B.hlast.append(len(B.hv))
        B.tl.append(t)
        B.hprev.append(0)  # no link (-1)
        B.hv.append(v)
        if B.pages is not None:
            B.hrow.append(r)
            if B.lp is not None:
                B.rid.append(B.lp.next_rid)
                B.lp.next_rid += 1
        B.edge.append(edge)
        B.lnext.append(-1)
        B.cnext.append(-1)
        B.cprev.append(-1)
        ltail = B.ltail
        if ltail[li] >= 0:
            B.lnext[ltail[li]] = r
        else:
            B.lhead[li] = r
        ltail[li] = r
        return r

    def _is_new_object(self, label: str, pos: Position) -> bool:
        """True (and remembered) unless a label-level belief of ``label`` ever started within the tolerance."""
        li = self._b.label_id(label)
        if self._obj_pos.any_near(li, pos, self._tol2 + 1e-12):
            return False
        self._obj_pos.add(li, pos)
        return True

    def _count_new(self, label: str, t: float) -> None:
        self._new_obj_t.add(self._b.label_id(label), (t,))

    def _past_belief(self, cur: int, label: str, pos: Position, instance: str | None, conf: float, t: float,
                     pid: int, recorded_at: float) -> int:
        """Record a late sighting of an instance elsewhere as a closed location edge (never current).

        It is valid from ``t`` until the next known sighting of the object after ``t``.
        """
        B = self._b
        nxt = B.next_after(cur, t)
        assert nxt is not None  # the caller saw a sighting later than t
        place = self._place_for_object(pos, t)
        if place < 0:
            place = self._place_near(pos, create=True, t=t)
        data = self.graph.add_edge(self._node(cur), self._place_id(place), "located_at", valid_from=t, source=pid,
                                   confidence=conf, recorded_at=recorded_at, position=pos, last_seen=t)
        self.graph.invalidate_data(data, nxt)
        r = self._add_row(label, instance, _NONE, place, float(t), conf, pos, data.id)
        B.vt[r] = max(float(nxt), float(t))
        return r

    def _index(self, r: int, cell: tuple[int, int]) -> None:
        B = self._b
        key = cell_key(*cell)
        rows = B.grid.get(key)
        if rows is None:
            rows = B.grid[key] = array("i")
        rows.append(r)
        if B.ecx[r] == _NOCELL and -_BIG < cell[0] < _BIG and -_BIG < cell[1] < _BIG:
            B.ecx[r], B.ecy[r] = cell
        elif cell != (B.ecx[r], B.ecy[r]):
            other = B.moved.setdefault(r, [])
            if cell not in other:
                other.append(cell)

    def _unindex(self, r: int, cell: tuple[int, int]) -> None:
        grid = self._b.grid
        key = cell_key(*cell)
        rows = grid.get(key)
        if rows is not None:
            try:
                rows.remove(r)
            except ValueError:
                pass
            if not rows:
                del grid[key]

    def _end(self, r: int, t: float) -> None:
        B = self._b
        if self._ended_now is not None:
            self._ended_now.append(r)
        self.graph.invalidate_data(self.graph.edge_data(B.edge[r]), t)
        if math.isnan(B.vt[r]):
            B.vt[r] = max(float(t), B.vf[r])
        v = B.hv[B.hlast[r]]
        self._unindex(r, self._icell(B.vx[v], B.vy[v]))
        B.drop_current(r)
        i = B.inst[r]
        if i >= 0 and B.instances.get(B.insts[i]) == r:
            del B.instances[B.insts[i]]

    def _negative_evidence(self, view: Any, matched: set[int], t: float) -> None:
        # Cost: the index cells the view covers or the cells holding current beliefs, whichever is
        # fewer (a view of radius 1e7 touches no more than the beliefs there are).
        B = self._b
        grid = B.grid
        if not grid:
            return
        ic = self._ic
        if type(view) is DiscView:  # the common view, row by row (a few dozen rows: cheaper than numpy's calls)
            cx, cy, _ = view.center
            rad = view.radius
            floor = math.floor
            x0, x1 = floor((cx - rad) / ic), floor((cx + rad) / ic)  # DiscView.bounds(), inlined
            y0, y1 = floor((cy - rad) / ic), floor((cy + rad) / ic)
            if (x1 - x0 + 1) * (y1 - y0 + 1) <= len(grid):
                get = grid.get
                buckets = [bk for bk in (get(cell_key(ix, iy)) for ix in range(x0, x1 + 1) for iy in range(y0, y1 + 1))
                           if bk]
            else:
                buckets = [bk for (ix, iy), bk in zip(map(key_cell, grid), grid.values())
                           if x0 <= ix <= x1 and y0 <= iy <= y1]
            lim = rad * rad + 1e-9  # the test of DiscView.contains_xy, in the same float arithmetic
            hlast, hv, vx, vy, tl = B.hlast, B.hv, B.vx, B.vy, B.tl
            gone = []
            for bucket in buckets:
                for r in bucket:
                    if r not in matched:
                        if tl[r] <= t:  # a late percept (from another source) cannot disprove a later sighting
                            v = hv[hlast[r]]
                            dx, dy = vx[v] - cx, vy[v] - cy
                            if dx * dx + dy * dy <= lim:
                                gone.append(r)
            for r in gone:
                self._end(r, t)
            return
        xmin, ymin, xmax, ymax = view.bounds()
        x0, x1 = math.floor(xmin / ic), math.floor(xmax / ic)
        y0, y1 = math.floor(ymin / ic), math.floor(ymax / ic)
        if (x1 - x0 + 1) * (y1 - y0 + 1) <= len(grid):
            buckets = [bk for bk in (grid.get(cell_key(ix, iy)) for ix in range(x0, x1 + 1)
                                     for iy in range(y0, y1 + 1)) if bk]
        else:
            buckets = [bk for (ix, iy), bk in zip(map(key_cell, grid), grid.values())
                       if x0 <= ix <= x1 and y0 <= iy <= y1]
        if not buckets:
            return
        # every candidate row at once (the buckets' bytes joined); the rows seen in this percept are
        # dropped from the few that qualify, not looked up one by one
        rows = np.frombuffer(b"".join(buckets), np.int32)
        k = np.frombuffer(B.hlast, np.int32)[rows]
        v = np.frombuffer(B.hv, np.int32)[k]
        inside = view.contains_xy(np.frombuffer(B.vx, np.float64)[v], np.frombuffer(B.vy, np.float64)[v])
        # A late percept (from another source) cannot disprove a sighting made after it.
        gone = [r for r in rows[inside & (np.frombuffer(B.tl, np.float64)[rows] <= t)].tolist() if r not in matched]
        del k, v, inside  # release the columns' buffers before they change
        for r in gone:
            self._end(r, t)

    # ------------------------------------------------------------ long-term belief pages (a RAM budget)
    def _need(self, label: str) -> None:
        """Bring ``label``'s belief rows back into RAM if they are in the lt_beliefs table (a query or
        a percept needs them); makes room first if RAM holds more rows than the budget."""
        B = self._b
        lp = B.lp
        if lp is None or not lp.paged:
            return
        li = B.lab_id.get(label)
        if li is None and lp.n_names:
            li = B.paged_label(label)
        if li is None or li not in lp.paged:
            return
        if len(B.lab) > 2 * lp.limit:  # percepts trim; queries only far past the budget (keeps their p99 low)
            self._trim_beliefs()
        self._page_in(li)

    def _page_in_for(self, p: Percept) -> None:
        """Before a percept is filed: page in the labels it sees, the instances it sees whose current
        belief is paged out, and every label with a current belief inside its view (a revisited
        place brings its beliefs back: negative evidence and matching then see them)."""
        B = self._b
        lp = B.lp
        assert lp is not None
        need: set[int] = set()
        gens, n_gens, lab_id = lp.paged.g, len(lp.paged.g), B.lab_id  # _Gens, read inline (once a sighting)
        for s in p.sightings:
            li = lab_id.get(s.label)
            if li is None and lp.n_names:  # a name out of RAM (or a new label): one indexed look-up
                li = B.paged_label(s.label)
            if li is not None and li < n_gens and gens[li] > 0:
                need.add(li)
            if s.instance is not None and lp.inst:
                i = B.inst_id.get(s.instance)
                g = None if i is None else lp.inst.get(i)
                if g is not None:
                    need.add(g - 1)
        if p.view is not None and lp.coarse:
            xmin, ymin, xmax, ymax = p.view.bounds()
            ic = self._ic
            pg = B.pages
            assert pg is not None
            c = [_clamp(math.floor(v / ic)) if math.isfinite(v) else _clamp(v) for v in (xmin, ymin, xmax, ymax)]
            x0, y0, x1, y1 = c[0] >> 4, c[1] >> 4, c[2] >> 4, c[3] >> 4
            coarse = lp.coarse
            if (x1 - x0 + 1) * (y1 - y0 + 1) <= len(coarse):
                hit = any((x, y) in coarse for x in range(x0, x1 + 1) for y in range(y0, y1 + 1))
            else:
                hit = any(x0 <= x <= x1 and y0 <= y <= y1 for x, y in coarse)
            rows = pg.store.execute(
                    "SELECT DISTINCT label, gen FROM lt_bcells WHERE space=? AND cx>=? AND cx<=? AND cy>=? AND cy<=?",
                    (pg.space, c[0], c[2], c[1], c[3])).fetchall() if hit else ()
            for li, gen in rows:
                if lp.paged.get(li) == gen:
                    need.add(li)
        for li in sorted(need):
            if li in lp.paged:
                self._page_in(li)

    def _trim_beliefs(self, keep: set[int] | None = None) -> None:
        """Move the labels seen longest ago (every belief row of each, with its sightings) to the
        long-term tables until RAM holds at most 3/4 of the row budget (pinned labels and ``keep``,
        the labels the percept just filed saw, stay)."""
        B = self._b
        lp = B.lp
        assert lp is not None
        n = len(B.lab)
        target = (3 * lp.cap) // 4
        if n > target:
            lab = np.frombuffer(B.lab, np.int32).copy()
            last = np.frombuffer(B.tl, np.float64)
            recent = np.full(len(B.labels), -math.inf)
            np.maximum.at(recent, lab, last)
            count = np.bincount(lab, minlength=len(B.labels))
            del last
            cand = np.flatnonzero(count > 0)
            stay = lp.pinned | keep if keep else lp.pinned
            if stay:
                cand = cand[~np.isin(cand, np.fromiter(stay, np.int64))]
            cand = cand[np.argsort(recent[cand], kind="stable")]
            cum = np.cumsum(count[cand])
            k = int(np.searchsorted(cum, n - target)) + 1  # the fewest oldest labels that get to the target
            out = cand[:k].tolist()
            if out:
                self._page_out(out)
        # A hot label larger than the budget cannot move: wait for a quarter of the budget more rows.
        lp.limit = max(lp.cap, len(B.lab) + max(1, lp.cap // 4))

    def _page_out(self, labels: list[int]) -> None:
        """Move every belief row of ``labels`` (label ids) out of RAM: per label one lt_beliefs row (its
        columns, each row's latest sighting, its follow links and count() positions), its rows' other
        sightings to lt_sightings, its current beliefs' index cells to lt_bcells; the rows left are
        renumbered (their order kept)."""
        B = self._b
        lp, pg = B.lp, B.pages
        assert lp is not None and pg is not None
        st = pg.store
        lab = np.frombuffer(B.lab, np.int32).copy()
        gone = np.isin(lab, np.array(labels, np.int32))
        hl = np.frombuffer(B.hlast, np.int32).copy()
        ht = B.ht_array()
        hv = np.frombuffer(B.hv, np.int32).copy()
        hp = B.prev_array()
        hrow = np.frombuffer(B.hrow, np.int32).copy()
        rid = np.frombuffer(B.rid, np.int32).copy()
        vals = np.stack([np.frombuffer(c, np.float64) for c in (B.vc, B.vx, B.vy, B.vz)], 1)
        # the leaving rows' sightings but their latest: to lt_sightings
        e_gone = gone[hrow]
        latest = np.zeros(len(ht), bool)
        latest[hl] = True
        idx = np.flatnonzero(e_gone & ~latest)
        if len(idx):
            block = np.empty((len(idx), 5), np.float64)
            block[:, 0] = ht[idx]
            block[:, 1:] = vals[hv[idx]]
            raw = block.tobytes()
            st.insert_many("INSERT INTO lt_sightings (space, row, t, v) VALUES (?, ?, ?, ?)",
                           [(pg.space, r, t, raw[i * 40:(i + 1) * 40])
                            for i, (r, t) in enumerate(zip(rid[hrow[idx]].tolist(), ht[idx].tolist()))])
            B.n_paged += len(idx)
        cols = {k: np.frombuffer(getattr(B, k), np.int32 if getattr(B, k).typecode == "i" else
                                 (np.int64 if getattr(B, k).typecode == "q" else np.float64)).copy()
                for k in ("inst", "obj", "place", "vf", "vt", "ecx", "ecy", "edge", "tl")}
        rows_of = np.flatnonzero(gone)
        grp = rows_of[np.argsort(lab[rows_of], kind="stable")]  # by label, creation order within
        cuts = np.flatnonzero(np.diff(lab[grp])) + 1
        blobs, cells = [], []
        for rows in np.split(grp, cuts):
            li = int(lab[rows[0]])
            local = {int(r): j for j, r in enumerate(rows.tolist())}
            k = hl[rows]
            d = {k2: v[rows].tobytes() for k2, v in cols.items() if k2 != "tl"}
            d["rid"] = rid[rows].tobytes()
            d["last"] = np.concatenate([ht[k][:, None], vals[hv[k]]], 1).tobytes()
            d["older"] = (hp[k] != -1).tobytes()
            d["next"] = {local[r]: [local[c] for c in B.next[r]] for r in local if r in B.next}
            d["moved"] = {local[r]: B.moved[r] for r in local if r in B.moved}
            op, nt = self._obj_pos.pop(li), self._new_obj_t.pop(li)
            d["obj_pos"] = None if op is None else op.tobytes()
            d["new_t"] = None if nt is None else nt.tobytes()
            blobs.append((li, pickle.dumps(d, protocol=5)))
        gens = st.insert_each("INSERT INTO lt_beliefs (space, label, v) VALUES (?, ?, ?)",
                              [(pg.space, li, v) for li, v in blobs])
        gen_of = {li: g for (li, _), g in zip(blobs, gens)}
        cur = rows_of[np.isnan(cols["vt"][rows_of])]
        ic = self._ic
        for r in cur.tolist():
            v = hv[hl[r]]
            li = int(lab[r])
            cx, cy = _clamp(math.floor(vals[v, 1] / ic)), _clamp(math.floor(vals[v, 2] / ic))
            cells.append((pg.space, cx, cy, li, gen_of[li]))
            lp.coarse[(cx >> 4, cy >> 4)] = lp.coarse.get((cx >> 4, cy >> 4), 0) + 1
            i = B.inst[r]
            if i >= 0:
                lp.inst.update({i: li + 1})
        st.insert_many("INSERT INTO lt_bcells (space, cx, cy, label, gen) VALUES (?, ?, ?, ?, ?)", cells)
        lp.paged.update(gen_of)
        lp.n_rows += len(rows_of)
        lp.n_cur += len(cur)
        # renumber what stays
        keep = ~gone
        newslot = np.cumsum(keep, dtype=np.int64) - 1

        def remap(a: np.ndarray) -> np.ndarray:
            return np.where(a >= 0, newslot[np.clip(a, 0, None)], a)

        for k2 in ("lab", "inst", "obj", "place", "vf", "vt", "ecx", "ecy", "edge", "rid", "tl"):
            a = getattr(B, k2)
            src = lab if k2 == "lab" else (rid if k2 == "rid" else cols[k2])
            setattr(B, k2, array(a.typecode, src[keep].tobytes()))
        for k2 in ("lnext", "cnext", "cprev"):
            a = getattr(B, k2)
            setattr(B, k2, array("i", remap(np.frombuffer(a, np.int32)[keep].astype(np.int64)).astype(np.int32).tobytes()))
        for k2 in ("lhead", "ltail", "chead"):
            a = np.frombuffer(getattr(B, k2), np.int32).astype(np.int64)
            a[labels] = -1
            setattr(B, k2, array("i", remap(a).astype(np.int32).tobytes()))
        for li in labels:
            B.ccount[li] = 0
        B.next = {int(newslot[r]): [int(newslot[c]) for c in cs] for r, cs in B.next.items() if keep[r]}
        B.moved = {int(newslot[r]): cs for r, cs in B.moved.items() if keep[r]}
        # the log: drop the leaving rows' entries, renumber
        ek = ~e_gone
        newidx = np.cumsum(ek, dtype=np.int64) - 1
        hp2 = hp[ek].astype(np.int64)
        hp2 = np.where(hp2 >= 0, newidx[np.clip(hp2, 0, None)], hp2)
        used, hv2 = np.unique(hv[ek], return_inverse=True)
        B.set_ht(ht[ek])
        B.set_prev(hp2)
        B.hv = array("i", hv2.astype(np.int32).tobytes())
        B.hrow = array("i", newslot[hrow[ek]].astype(np.int32).tobytes())
        B.hlast = array("i", newidx[hl[keep]].astype(np.int32).tobytes())
        B.vc, B.vx, B.vy, B.vz = (array("d", np.ascontiguousarray(vals[used, j]).tobytes()) for j in range(4))
        B.limit = max(B.cap, len(B.hv) + max(1, B.cap // 2))
        B._derive_grid()
        B.names_out(labels)

    def _page_in(self, li: int) -> None:
        """Bring label ``li``'s belief rows back from lt_beliefs (appended after the rows in RAM; a
        label's rows are all in RAM or all out, so their order among themselves is kept)."""
        B = self._b
        lp, pg = B.lp, B.pages
        assert lp is not None and pg is not None
        B.name_in(li)
        gen = lp.paged.pop(li)
        row = pg.store.execute("SELECT v FROM lt_beliefs WHERE rowid=?", (gen,)).fetchone()
        if row is None:
            raise RuntimeError(f"spatial memory: paged beliefs of label {B.labels[li]!r} are missing from lt_beliefs")
        d = _load_page(row[0])
        n = len(B.lab)
        inst = array("i", d["inst"])
        k = len(inst)
        B.lab.extend(array("i", [li]) * k)
        B.inst.extend(inst)
        for k2, tc in (("obj", "i"), ("place", "i"), ("vf", "d"), ("vt", "d"), ("ecx", "q"), ("ecy", "q"),
                       ("edge", "i"), ("rid", "i")):
            getattr(B, k2).extend(array(tc, d[k2]))
        B.lnext.extend(array("i", range(n + 1, n + k)))
        B.lnext.append(-1)
        B.cnext.extend(array("i", [-1]) * k)
        B.cprev.extend(array("i", [-1]) * k)
        B.lhead[li], B.ltail[li] = n, n + k - 1
        last = array("d", d["last"])
        older = d["older"]
        vt = B.vt
        ic = self._ic
        for j in range(k):
            r = n + j
            t, c, x, y, z = last[5 * j:5 * j + 5]
            v = len(B.vc)
            B.vc.append(c)
            B.vx.append(x)
            B.vy.append(y)
            B.vz.append(z)
            B.tpush(t)
            B.hlast.append(len(B.hv))
            B.tl.append(t)
            B.link(len(B.hv), _PAGED if older[j] else -1)
            B.hv.append(v)
            B.hrow.append(r)
            if vt[r] != vt[r]:  # NaN: a current belief
                B.make_current(r)
                B.grid.setdefault(cell_key(math.floor(x / ic), math.floor(y / ic)), array("i")).append(r)
                i = inst[j]
                if i >= 0:
                    B.instances[B.insts[i]] = r
                    if i in lp.inst:
                        lp.inst.pop(i)
                lp.n_cur -= 1
                cc = (_clamp(math.floor(x / ic)) >> 4, _clamp(math.floor(y / ic)) >> 4)
                if lp.coarse[cc] > 1:
                    lp.coarse[cc] -= 1
                else:
                    del lp.coarse[cc]
        for a, cs in d["next"].items():
            B.next[n + a] = [n + c for c in cs]
        for a, cells in d["moved"].items():
            B.moved[n + a] = cells
        for col, raw in ((self._obj_pos, d["obj_pos"]), (self._new_obj_t, d["new_t"])):
            if raw:
                col.put(li, array("d", raw))
        lp.n_rows -= k

    # ------------------------------------------------------------ long-term occupancy tiles (a RAM budget)
    def _tiles_for(self, p: Percept) -> None:
        """Before a percept changes the grid: bring back every tile within two cells of a cell it may
        change (the frontier of a changed cell's neighbours reads their neighbours), and mark them
        used now."""
        tl = self._tiles
        assert tl is not None
        tl.tick += 1
        need: set[tuple[int, int]] = set()
        for pts in (p.free, p.blocked):
            if pts is not None and len(pts):
                c = np.floor(pts / self._cs + 0.5).astype(np.int64)
                for dx in (-2, 0, 2):  # steps of 2 <= a tile's side: every tile within 2 cells
                    for dy in (-2, 0, 2):
                        tx, ty = (c[:, 0] + dx) >> _TILE, (c[:, 1] + dy) >> _TILE
                        need.update(zip(tx.tolist(), ty.tolist()))
        if p.pose is not None:
            x, y = self._cell(p.pose.x, p.pose.y)
            need.update(((x + dx) >> _TILE, (y + dy) >> _TILE) for dx in (-2, 0, 2) for dy in (-2, 0, 2))
        touch = tl.touch
        for t in need:
            if t in tl.paged:
                self._tile_in(t)
            touch[t] = tl.tick

    def _tile_in(self, t: tuple[int, int]) -> None:
        """Bring tile ``t``'s cells back from lt_tiles (cells walked since it moved out stay: a union)."""
        tl, pg = self._tiles, self._pages
        assert tl is not None and pg is not None
        gen = tl.paged.pop(t)
        row = pg.store.execute("SELECT v FROM lt_tiles WHERE rowid=?", (gen,)).fetchone()
        if row is None:
            raise RuntimeError(f"spatial memory: occupancy tile {t} is missing from lt_tiles")
        d = _load_page(row[0])
        occ, walked = self._occ, self._walked
        for x, y, v in d["occ"]:
            occ[cell_key(x, y)] = v
        if walked:  # cells walked while the tile was out (not known then) that it knows
            walked.difference_update(cell_key(x, y) for x, y, _ in d["occ"])
        walked.update(c for c in (cell_key(x, y) for x, y in d["walked"]) if c not in occ)
        fr = {cell_key(x, y) for x, y in d["frontier"]}  # a page lists its frontier cells: the rest are inner
        self._inner.update(c for c in (cell_key(x, y) for x, y, v in d["occ"] if v == FREE) if c not in fr)
        tl.n_occ -= len(d["occ"])
        tl.touch.setdefault(t, 0)

    def _trim_tiles(self) -> None:
        """Move the tiles used longest ago (not by this percept) to lt_tiles until RAM holds at most
        3/4 of the cell budget (known plus walked cells)."""
        tl, pg = self._tiles, self._pages
        assert tl is not None and pg is not None
        occ, walked, inner = self._occ, self._walked, self._inner
        target = (3 * tl.cap) // 4
        n = len(occ) + len(walked)
        if n > target:
            per: dict[tuple[int, int], int] = {}
            for x, y in map(key_cell, occ):
                t = (x >> _TILE, y >> _TILE)
                per[t] = per.get(t, 0) + 1
            for x, y in map(key_cell, walked):
                t = (x >> _TILE, y >> _TILE)
                per[t] = per.get(t, 0) + 1
            touch = tl.touch
            order = sorted((touch.get(t, 0), t) for t in per if touch.get(t, 0) != tl.tick)
            out: set[tuple[int, int]] = set()
            for _, t in order:
                if n <= target:
                    break
                out.add(t)
                n -= per[t]
            if out:
                for t in out:
                    if t in tl.paged:  # cells walked in a tile that was out: merge with what is in the table
                        self._tile_in(t)
                pages: dict[tuple[int, int], dict[str, list]] = {t: {"occ": [], "walked": [], "frontier": []}
                                                                 for t in out}
                # (a page holds cells as (x, y) tuples, whatever the keys in RAM)
                for k, v in list(occ.items()):
                    x, y = key_cell(k)
                    d = pages.get((x >> _TILE, y >> _TILE))
                    if d is not None:
                        d["occ"].append((x, y, v))
                        del occ[k]
                        if v == FREE:  # a page lists its frontier cells (known free, not inner)
                            if k in inner:
                                inner.discard(k)
                            else:
                                d["frontier"].append((x, y))
                for k in list(walked):
                    x, y = key_cell(k)
                    d = pages.get((x >> _TILE, y >> _TILE))
                    if d is not None:
                        d["walked"].append((x, y))
                        walked.discard(k)
                keys = list(pages)
                gens = pg.store.insert_each("INSERT INTO lt_tiles (space, v) VALUES (?, ?)",
                                            [(pg.space, pickle.dumps(pages[t], protocol=5)) for t in keys])
                for t, g in zip(keys, gens):
                    tl.paged[t] = g
                    tl.n_occ += len(pages[t]["occ"])
                    touch.pop(t, None)
            # forget when tiles with no cell in RAM were last used (a percept touches its neighbours' too)
            tl.touch = {t: v for t, v in touch.items() if t in per and t not in out}
            if out:
                # a dict's or set's table never shrinks when entries leave: copies sized to what stays
                # (amortised: a move happens once the cells grew by a quarter of the budget)
                self._occ, self._walked, self._inner = dict(occ), set(walked), set(inner)
        tl.limit = max(tl.cap, len(occ) + len(walked) + max(1, tl.cap // 4))

    def _paged_tiles(self) -> list[dict[str, list]]:
        """Every tile in lt_tiles, read (not brought back)."""
        tl, pg = self._tiles, self._pages
        if tl is None or not tl.paged or pg is None:
            return []
        out = []
        for gen in tl.paged.values():
            row = pg.store.execute("SELECT v FROM lt_tiles WHERE rowid=?", (gen,)).fetchone()
            if row is None:
                raise RuntimeError("spatial memory: an occupancy tile is missing from lt_tiles")
            out.append(_load_page(row[0]))
        return out

    def _ensure_cell(self, c: tuple[int, int]) -> None:
        tl = self._tiles
        if tl is not None and tl.paged:
            t = (c[0] >> _TILE, c[1] >> _TILE)
            if t in tl.paged:
                self._tile_in(t)

    # ------------------------------------------------------------ occupancy
    def _cell(self, x: float, y: float) -> tuple[int, int]:
        cs = self._cs
        return (math.floor(x / cs + 0.5), math.floor(y / cs + 0.5))

    def _cells_of(self, pts: np.ndarray) -> Iterable[tuple[int, int]]:
        c = np.floor(pts / self._cs + 0.5).astype(np.int64)
        return zip(c[:, 0].tolist(), c[:, 1].tolist())

    def _keys_of(self, pts: np.ndarray) -> tuple[list, bool]:
        """The occupancy keys of the cells holding points ``pts`` (N, >= 2), and whether every one of
        them lies within _CK_FAST cells of the origin (neighbours by key arithmetic)."""
        c = np.floor(pts[:, :2] / self._cs + 0.5)
        if bool((np.abs(c) < _CK_FAST).all()):  # (NaN fails it: the exact path then says what is wrong)
            ci = c.astype(np.int64)
            return ((ci[:, 0] << 32) + ci[:, 1]).tolist(), True
        return [cell_key(x, y) for x, y in self._cells_of(pts)], False

    def _observe_cells(self, p: Percept) -> None:
        # The latest percept decides a cell; inside one percept blocked beats free (a laser ray passes
        # through a cell another ray ends in), and the agent's own cell is free.
        changed: list = []
        occ = self._occ
        fast = True
        if p.free is not None and len(p.free):
            keys, fast = self._keys_of(p.free)
            for c in keys:
                if occ.get(c) != FREE:
                    occ[c] = FREE
                    changed.append(c)
        if p.blocked is not None and len(p.blocked):
            keys, f = self._keys_of(p.blocked)
            fast = fast and f
            for c in keys:
                if occ.get(c) != BLOCKED:
                    occ[c] = BLOCKED
                    changed.append(c)
        if p.pose is not None:
            x, y = self._cell(p.pose.x, p.pose.y)
            fast = fast and -_CK_FAST < x < _CK_FAST and -_CK_FAST < y < _CK_FAST
            c = cell_key(x, y)
            if occ.get(c) != FREE:
                occ[c] = FREE
                changed.append(c)
        if changed:
            if self._walked:
                self._walked.difference_update(changed)  # known now: its state decides
            self._update_frontier(changed, fast)

    def break_walk(self) -> None:
        """The next pose starts a new walk (a new episode, a reset): no segment joins it to the last."""
        self._walk_from = None

    def _walk(self, a: Pose | None, b: Pose) -> bool:
        """Remember the cells of the segment a -> b as walked (4-connected: a diagonal crossing adds
        the side cell the segment passes nearer to). False when b starts a new walk (no a, or a jump)."""
        if a is None:
            return False
        d = math.hypot(b.x - a.x, b.y - a.y)
        limit = self.config.walk_max_step
        if d > (4.0 * self.config.place_radius if limit is None else limit):
            return False
        if d == 0.0:
            return True
        cs, floor, lim = self._cs, math.floor, _CK_LIM
        n = max(1, math.ceil(d / cs * 4))
        ax, ay, bx, by = a.x, a.y, b.x, b.y
        walked, occ = self._walked, self._occ
        px, py = floor(ax / cs + 0.5), floor(ay / cs + 0.5)  # self._cell(ax, ay), inlined
        c = cell_key(px, py)
        if c not in occ:
            walked.add(c)
        dx, dy = bx - ax, by - ay
        for k in range(1, n + 1):
            cx, cy = floor((ax + dx * k / n) / cs + 0.5), floor((ay + dy * k / n) / cs + 0.5)
            if cx == px:
                if cy == py:
                    continue
            elif cy != py:  # crossed a corner: add the side cell nearer the segment (the first on a tie)
                if _seg_dist((cx * cs, py * cs, 0.0), a, b) <= _seg_dist((px * cs, cy * cs, 0.0), a, b):
                    side = cell_key(cx, py)
                else:
                    side = cell_key(px, cy)
                if side not in occ:
                    walked.add(side)
            c = (cx << 32) + cy if -lim < cx < lim and -lim < cy < lim else (cx, cy)  # cell_key, inlined
            if c not in occ:
                walked.add(c)
            px, py = cx, cy
        return True

    def _neigh4(self, c: tuple[int, int]) -> tuple[tuple[int, int], ...]:
        x, y = c
        return ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1))

    def _update_frontier(self, changed: list, fast: bool = False) -> None:
        """Re-decide the frontier around the cells (keys) ``changed``; ``fast``: every one of them lies
        within _CK_FAST cells of the origin, so neighbours are key arithmetic. The frontier is kept as
        its complement: a known free cell with its four neighbours known joins ``_inner``, any other
        cell leaves it."""
        occ, inner = self._occ, self._inner
        todo = set(changed)
        if fast:
            step_i = _CK_I
            for c in changed:
                todo.update((c + step_i, c - step_i, c + 1, c - 1))
            for c in todo:
                # the four neighbour checks inlined: this loop is the hot spot of occupancy updates
                if occ.get(c) == FREE:
                    if c + step_i in occ and c - step_i in occ and c + 1 in occ and c - 1 in occ:
                        inner.add(c)
                        continue
                inner.discard(c)
            return
        for c in changed:
            todo.update(cell_key(x, y) for x, y in self._neigh4(key_cell(c)))
        for c in todo:
            if occ.get(c) == FREE:
                if all(cell_key(x, y) in occ for x, y in self._neigh4(key_cell(c))):
                    inner.add(c)
                    continue
            inner.discard(c)

    def _frontier_keys(self) -> list:
        """The frontier cells in RAM (keys): known free cells that are not inner."""
        inner = self._inner
        return [k for k, v in self._occ.items() if v == FREE and k not in inner]

    # ================================================================== queries
    def _location(self, r: int, at: float | None) -> Location:
        B = self._b
        if at is None:
            k = B.hlast[r]
            v = B.hv[k]
            last, conf, pos = B.tl[r], B.vc[v], (B.vx[v], B.vy[v], B.vz[v])
        else:
            got = B.at(r, at)
            assert got is not None  # a belief valid at ``at`` was seen at or before it
            last, conf, pos = got
        pk = B.place[r]
        place = None if pk < 0 else f"{self._ns}place:{pk}"
        i = B.inst[r]
        vt = B.vt[r]
        return Location(
            label=B.labels[B.lab[r]],
            instance=None if i < 0 else B.insts[i],
            position=pos,
            place=place,
            region=self._region_of(place, at),
            first_seen=B.vf[r],
            last_seen=last,
            confidence=conf,
            object_id=self._node(r),
            valid_to=(None if vt != vt else vt) if at is None else None,
        )

    def _region_of(self, place: str | None, at: float | None) -> str | None:
        if place is None:
            return None
        pl = self._pl
        k = self._place_k(place)
        if k < 0:
            return None
        reg = pl.blk(k).rreg[k & _PM]
        if reg < 0:
            return None
        if at is None:
            return pl.regions[reg]
        for _, _, _, d in self.graph.edges(place, relation="in_region", at=at):
            return d["region"]
        return None

    def _valid_rows(self, label: str, at: float) -> list[int]:
        """Rows of ``label`` whose belief holds at ``at`` (valid_from <= at < valid_to)."""
        B = self._b
        rows = B.rows(label)
        vf, vt = B.vf, B.vt
        return [r for r in rows if vf[r] <= at and not (vt[r] <= at)]  # NaN (still holds) compares False

    def locate(self, label: str, at: float | None = None) -> list[Location]:
        """Believed locations of ``label``, most recently seen first.

        ``at=None``: the current belief. ``at=t``: the belief held after every percept with
        timestamp <= t (objects invalidated at or before t are gone).
        """
        if not self.enabled:
            return []
        self._need(label)
        if at is None:
            rows = self._b.current_rows(label)
        else:
            at = float(at)
            rows = self._valid_rows(label, at)
        locs = [self._location(r, at) for r in rows]
        locs.sort(key=lambda loc: (-loc.last_seen, loc.object_id))
        return locs

    def nearest(self, label: str, point: Sequence[float], at: float | None = None) -> Location | None:
        """The believed ``label`` closest (Euclidean, x–y–z) to ``point``, or None."""
        if not self.enabled:
            return None
        p = as_position(point, "point")
        self._need(label)
        if at is not None:
            best, best_d = None, float("inf")
            for loc in self.locate(label, at=at):
                d = sum((a - b) ** 2 for a, b in zip(loc.position, p))
                if d < best_d:
                    best, best_d = loc, d
            return best
        n = self._b.n_current(label)
        if not n:
            return None
        # Ties go to the most recently seen, then the smaller object id (as in ``locate``'s order).
        r = self._nearest_in_grid(label, p, n) if n > 64 else None
        if r is None:
            r = min(self._b.current_rows(label), key=lambda r: self._near_key(r, p))
        return self._location(r, None)

    def _near_key(self, r: int, p: Position) -> tuple[float, float, str]:
        B = self._b
        k = B.hlast[r]
        v = B.hv[k]
        return ((B.vx[v] - p[0]) ** 2 + (B.vy[v] - p[1]) ** 2 + (B.vz[v] - p[2]) ** 2, -B.tl[r], self._node(r))

    def _nearest_in_grid(self, label: str, p: Position, n: int) -> int | None:
        """Ring search over the belief hash: rings of index cells around ``p`` until no unvisited
        belief can be closer. None when that would visit more cells than there are beliefs (the
        caller then scans them all)."""
        B = self._b
        ic, grid, lab, li = self._ic, B.grid, B.lab, B.lab_id[label]
        cx, cy = math.floor(p[0] / ic), math.floor(p[1] / ic)
        best, best_key, seen, visited, r = None, None, 0, 0, 0
        while True:
            # every belief outside rings 0..r-1 is at least (r - 1) * ic away in x or y
            if best_key is not None and best_key[0] < ((r - 1) * ic) ** 2:
                return best
            if seen >= n or visited > 4 * n:
                return best if seen >= n else None
            cells = [(cx, cy)] if r == 0 else (
                [(cx + i, cy - r) for i in range(-r, r + 1)] + [(cx + i, cy + r) for i in range(-r, r + 1)]
                + [(cx - r, cy + j) for j in range(-r + 1, r)] + [(cx + r, cy + j) for j in range(-r + 1, r)])
            visited += len(cells)
            for c in cells:
                bucket = grid.get(cell_key(*c))
                if not bucket:
                    continue
                for row in bucket:
                    if lab[row] != li:
                        continue
                    seen += 1
                    key = self._near_key(row, p)
                    if best_key is None or key < best_key:
                        best, best_key = row, key
            r += 1

    def history(self, label: str) -> list[Location]:
        """Every location ever believed for ``label`` (current and invalidated), by first sighting."""
        if not self.enabled:
            return []
        self._need(label)
        out = [self._location(r, None) for r in self._b.rows(label)]
        out.sort(key=lambda loc: (loc.first_seen, loc.object_id))
        return out

    def count(self, label: str, at: float | None = None) -> int:
        """How many different ``label`` objects were ever believed (up to time ``at`` if given).

        Counted once each: every ``instance`` seen; for label-level sightings, every place where a
        belief of ``label`` started farther than ``match_tolerance`` from wherever one ever started
        before. So a thing hidden for a while (its belief invalidated) and seen again where it was
        is one object, not two; a label-level thing that moved out of tolerance and could not be
        matched counts again (no identity to tell it apart). Objects invalidated since still count
        (use ``len(locate(label))`` for the ones believed now). O(1) now, O(log n) with ``at``.
        """
        if not self.enabled:
            return 0
        self._need(label)
        li = self._b.lab_id.get(label)
        return 0 if li is None else self._new_obj_t.size(li, None if at is None else float(at))

    def follow(self, label: str, position: Sequence[float], t: float, reach: float | None = None) -> Location | None:
        """Where is it now? The ``label`` believed within ``match_tolerance`` of ``position`` at time
        ``t``, followed through its moves to its current belief; None if no such belief or it was
        seen to be gone.

        A belief ends when the object was looked for and not seen (negative evidence) or, for an
        instance, when it was seen elsewhere. An instance continues in its next belief; a
        label-level belief continues in the nearest new belief of the same label, within ``reach``
        (map units; default ``match_tolerance``, e.g. 1 cell for a thing that walks one cell per
        step), started by the very percept that ended it. No such belief: it is gone (None).
        O(beliefs near ``position`` + moves followed), not O(history).
        """
        if not self.enabled:
            return None
        p = as_position(position, "position")
        t = float(t)
        r = self._tol if reach is None else float(reach)
        if not (r >= 0 and math.isfinite(r)):
            raise ValueError(f"follow: reach must be a finite distance >= 0 (map units), got {reach!r}")
        self._need(label)
        B = self._b
        rows = B.rows(label)
        if not rows:
            return None
        tol, ic = self._tol, self._ic
        x0, x1 = math.floor((p[0] - tol) / ic), math.floor((p[0] + tol) / ic)
        y0, y1 = math.floor((p[1] - tol) / ic), math.floor((p[1] + tol) / ic)
        # candidates: beliefs of the label ever filed under an index cell near p
        ra = np.array(rows, np.int64)
        ex, ey = np.frombuffer(B.ecx, np.int64)[ra], np.frombuffer(B.ecy, np.int64)[ra]
        cands = set(ra[(ex >= x0) & (ex <= x1) & (ey >= y0) & (ey <= y1)].tolist())
        del ra, ex, ey
        li = B.lab_id[label]
        for row, cells in B.moved.items():
            if B.lab[row] == li and any(x0 <= cx <= x1 and y0 <= cy <= y1 for cx, cy in cells):
                cands.add(row)
        lim = self._tol2 + 1e-12
        best, best_d = -1, lim
        for row in sorted(cands):
            if not (B.vf[row] <= t and not (B.vt[row] <= t)):
                continue
            got = B.at(row, t)
            if got is None:
                continue
            q = got[2]
            d = (q[0] - p[0]) ** 2 + (q[1] - p[1]) ** 2 + (q[2] - p[2]) ** 2
            if d < best_d:
                best, best_d = row, d
        cur = best
        if cur < 0:
            return None
        r2 = r * r + 1e-12
        while not math.isnan(B.vt[cur]):
            v = B.hv[B.hlast[cur]]
            cp = (B.vx[v], B.vy[v], B.vz[v])
            nxt, nd = -1, r2
            for c in B.next.get(cur, ()):
                if B.inst[c] >= 0 and self._node(c) == self._node(cur):
                    nxt = c
                    break
                q = B.first(c)[2]
                d = (q[0] - cp[0]) ** 2 + (q[1] - cp[1]) ** 2 + (q[2] - cp[2]) ** 2
                if d <= nd:
                    nxt, nd = c, d
            if nxt < 0:
                return None
            cur = nxt
        return self._location(cur, None)

    def labels(self) -> list[str]:
        """Every object label ever sighted."""
        return sorted(self._b.all_labels())

    def places(self) -> list[Place]:
        if not self.enabled:
            return []
        pl = self._pl  # blocks out of RAM are read, not brought back
        return [self._place(k, b) for bi in range(len(pl.blocks)) for b in (pl.peek(bi),)
                for k in range(bi << _PB, (bi << _PB) + len(b.pz))]

    def _place(self, k: int, b: _PBlock | None = None) -> Place:
        pl = self._pl
        if b is None:
            b = pl.blk(k)
        j = k & _PM
        reg, first, last = b.rreg[j], b.first[j], b.last[j]
        return Place(self._place_id(k), (pl.px[k], pl.py[k], b.pz[j]), None if reg < 0 else pl.regions[reg],
                     b.visits[j], None if first != first else first, None if last != last else last)

    def place_of(self, point: Sequence[float]) -> Place | None:
        """The known place within ``place_radius`` of ``point``, or None (is this a place I know?)."""
        if not self.enabled:
            return None
        k = self._place_near(as_position(point, "point"), create=False, t=0.0)
        return None if k < 0 else self._place(k)

    @property
    def current_place(self) -> str | None:
        return self._current_place

    def neighbours(self, place: str) -> list[str]:
        k = self._place_k(place)
        return [] if k < 0 else sorted(self._place_id(v) for v, _ in self._pl.neighbours(k))

    def regions(self) -> list[str]:
        return sorted(self._pl.regions)

    def trajectory(self, t0: float | None = None, t1: float | None = None) -> list[tuple[float, Pose]]:
        """The agent's poses with ``t0 <= t <= t1`` (inclusive; None = unbounded), in time order."""
        if not self.enabled:
            return []
        i0 = 0 if t0 is None else bisect_left(self._traj_t, t0)
        i1 = len(self._traj_t) if t1 is None else bisect_right(self._traj_t, t1)
        tt, xs, ys, zs, ws = (col[i0:i1] for col in self._traj_cols())
        return self._paged_poses(t0, t1) + list(zip(tt, map(_pose, xs, ys, zs, ws)))

    def _traj_cols(self) -> tuple[array, array, array, Any, Any]:
        """The trajectory's columns: time, x, y, z, yaw (one row per pose in RAM, in time order; z and
        yaw ``_ConstCol``s, arrays in a snapshot from before them)."""
        return self._traj_t, self._traj_x, self._traj_y, self._traj_z, self._traj_yaw

    def _page_poses(self, poses: list[tuple[float, float, float, float, float]]) -> None:
        """Move poses, each ``(t, x, y, z, yaw)``, into the long-term table."""
        from .longterm import POSE_V

        pg = self._pages
        assert pg is not None
        pg.store.insert_many("INSERT INTO lt_poses (space, t, v) VALUES (?, ?, ?)",
                             [(pg.space, row[0], POSE_V.pack(*row)) for row in poses])
        self._n_paged_poses += len(poses)

    def _paged_poses(self, t0: float | None, t1: float | None) -> list[tuple[float, Pose]]:
        """Poses in the long-term table with t0 <= t <= t1, in time order (exact values)."""
        if not self._n_paged_poses or (t0 is not None and t0 >= self._traj_cut):
            return []
        from .longterm import POSE_V

        pg = self._pages
        assert pg is not None
        rows = pg.store.execute("SELECT v FROM lt_poses WHERE space=? AND t>=? AND t<=? ORDER BY t, rowid",
                                (pg.space, -math.inf if t0 is None else t0, math.inf if t1 is None else t1))
        out = []
        for (v,) in rows.fetchall():
            t, x, y, z, yaw = POSE_V.unpack(v)
            out.append((t, Pose(x, y, z, yaw)))
        return out

    def walks(self) -> list[list[tuple[float, Pose]]]:
        """The trajectory cut into walks: a new walk starts at a new episode and after a step longer
        than ``walk_max_step`` (a reset or a teleport), so a plot never joins them through walls."""
        if not self.enabled or not self._traj_t:
            return []
        traj = self.trajectory()
        times = [t for t, _ in traj]
        cuts = sorted({bisect_left(times, t) for t in self._walk_starts} | {0, len(traj)})
        return [traj[a:b] for a, b in zip(cuts, cuts[1:]) if b > a]

    @property
    def n_poses_in_ram(self) -> int:
        """Poses of the trajectory held in RAM (the rest in the long-term table under a RAM budget)."""
        return len(self._traj_t)

    def pose(self) -> Pose | None:
        """The agent's latest pose."""
        if not (self.enabled and self._traj_t):
            return None
        return _pose(self._traj_x[-1], self._traj_y[-1], self._traj_z[-1], self._traj_yaw[-1])

    # ------------------------------------------------------------ occupancy queries
    def cell_of(self, point: Sequence[float]) -> tuple[int, int]:
        p = as_position(point, "point")
        return self._cell(p[0], p[1])

    def cell_center(self, cell: tuple[int, int]) -> Position:
        return (cell[0] * self._cs, cell[1] * self._cs, 0.0)

    def occupancy(self, point: Sequence[float]) -> str:
        """"free", "blocked" or "unknown" for the cell holding ``point``."""
        if not self.enabled:
            return "unknown"
        c = self.cell_of(point)
        self._ensure_cell(c)
        return {FREE: "free", BLOCKED: "blocked"}.get(self._occ.get(cell_key(c[0], c[1]), 0), "unknown")

    def occupancy_cells(self) -> tuple[np.ndarray, np.ndarray]:
        """Every known cell, sparse: (cells (N, 2) int64 [ix, iy], states (N,) int8: 1 free, 2 blocked),
        in (ix, iy) order. Memory is proportional to the known cells, however far apart they are
        (under a RAM budget the tiles moved out are read for it, not brought back)."""
        paged = self._paged_tiles() if self.enabled else []
        if not self.enabled or not (self._occ or paged):
            return np.zeros((0, 2), np.int64), np.zeros(0, np.int8)
        keys = list(map(key_cell, self._occ))
        vals = list(self._occ.values())
        for d in paged:
            keys.extend((x, y) for x, y, _ in d["occ"])
            vals.extend(v for _, _, v in d["occ"])
        cells = np.array(keys, dtype=np.int64).reshape(-1, 2)
        o = np.lexsort((cells[:, 1], cells[:, 0]))
        return cells[o], np.array(vals, np.int8)[o]

    def occupancy_grid(self, window: tuple[int, int, int, int] | None = None,
                       max_cells: int = 1 << 24) -> tuple[np.ndarray, tuple[int, int]]:
        """(grid, (ix0, iy0)): a dense int8 view indexed [iy - iy0, ix - ix0]; 0 unknown, 1 free, 2 blocked.

        ``window=(ix0, iy0, ix1, iy1)`` (cells, inclusive) bounds the view; by default it is the
        bounding box of the known cells. A view of more than ``max_cells`` cells (16 Mi, 16 MiB)
        raises ``ValueError`` instead of allocating it: known cells kilometres apart (a pose glitch,
        an outdoor run) are read with ``occupancy_cells()`` or drawn with ``occupancy_image()``.
        """
        cells, vals = self.occupancy_cells()
        if window is None:
            if not len(cells):
                return np.zeros((0, 0), np.int8), (0, 0)
            (ix0, iy0), (ix1, iy1) = cells.min(0), cells.max(0)
        else:
            ix0, iy0, ix1, iy1 = (int(v) for v in window)
            if ix1 < ix0 or iy1 < iy0:
                raise ValueError(f"window {window} is empty: give (ix0, iy0, ix1, iy1) with ix0 <= ix1, iy0 <= iy1")
        w, h = int(ix1) - int(ix0) + 1, int(iy1) - int(iy0) + 1
        if w * h > max_cells:
            raise ValueError(f"an occupancy view of {w} x {h} cells is more than max_cells={max_cells}; pass a "
                             f"window, or use occupancy_cells() (sparse) or occupancy_image() (bounded)")
        g = np.zeros((h, w), np.int8)
        inside = (cells[:, 0] >= ix0) & (cells[:, 0] <= ix1) & (cells[:, 1] >= iy0) & (cells[:, 1] <= iy1)
        g[cells[inside, 1] - iy0, cells[inside, 0] - ix0] = vals[inside]
        return g, (int(ix0), int(iy0))

    def occupancy_image(self, max_side: int = 2048) -> tuple[np.ndarray, tuple[float, float, float, float]]:
        """A bounded picture of the whole occupancy layer, for plots: (image, (xmin, xmax, ymin, ymax)).

        ``image[row, col]`` (row = y, upwards) holds the strongest state of the ``step × step`` cells
        it covers (2 blocked > 1 free > 0 unknown), with ``step`` the smallest whole number that keeps
        both sides within ``max_side``; the extent is in world units (cell edges). Memory:
        O(known cells + max_side²)."""
        cells, vals = self.occupancy_cells()
        if not len(cells):
            return np.zeros((0, 0), np.int8), (0.0, 0.0, 0.0, 0.0)
        lo = cells.min(0)
        span = cells.max(0) - lo + 1
        step = max(1, int(-(-int(span.max()) // max(1, int(max_side)))))
        idx = (cells - lo) // step
        w, h = (int(v) for v in idx.max(0) + 1)
        img = np.zeros(h * w, np.int8)
        np.maximum.at(img, idx[:, 1] * w + idx[:, 0], vals)
        cs = self._cs
        x0, y0 = (lo[0] - 0.5) * cs, (lo[1] - 0.5) * cs
        return img.reshape(h, w), (float(x0), float(x0 + w * step * cs), float(y0), float(y0 + h * step * cs))

    @property
    def n_known_cells(self) -> int:
        return len(self._occ) + (self._tiles.n_occ if self._tiles is not None else 0)

    def frontiers(self, near: Sequence[float] | None = None, limit: int | None = None) -> list[Position]:
        """Known free cells (centres) that border unknown space; nearest to ``near`` first if given."""
        if not self.enabled:
            return []
        cells = list(map(key_cell, self._frontier_keys()))
        for d in self._paged_tiles():
            cells.extend((x, y) for x, y in d["frontier"])
        if near is not None:
            c0 = self.cell_of(near)
            cells.sort(key=lambda c: (abs(c[0] - c0[0]) + abs(c[1] - c0[1]), c))
        else:
            cells.sort()
        if limit is not None:
            cells = cells[:limit]
        return [self.cell_center(c) for c in cells]

    def path(self, start: Sequence[float], goal: Sequence[float], *, adjacent: bool = False,
             max_expansions: int = 200_000) -> list[Position] | None:
        """Waypoints (cell centres) from ``start`` to ``goal`` over known free space, or None.

        Known free: cells observed free, and cells on the segments the agent walked between
        consecutive poses (unless observed blocked since). A* with the configured connectivity; a
        diagonal step needs both side cells free (no cutting corners); the start cell may be unknown. With ``adjacent=True``
        the path ends next to ``goal`` (to interact with a tree, a table). When no cell is known
        at all, it plans over the place graph instead (waypoints are place positions).
        """
        if not self.enabled:
            return None
        s, g = as_position(start, "start"), as_position(goal, "goal")
        tl = self._tiles
        paged = tl.paged if tl is not None else None
        if not self._occ and not paged:
            return self._place_path(s, g)
        sc, gc = self._cell(s[0], s[1]), self._cell(g[0], g[1])
        occ, walked = self._occ, self._walked

        def free(c: tuple[int, int]) -> bool:  # observed free, or walked through and not blocked since
            if paged and (c[0] >> _TILE, c[1] >> _TILE) in paged:  # a RAM budget: bring its tile back
                self._tile_in((c[0] >> _TILE, c[1] >> _TILE))
            k = cell_key(c[0], c[1])
            v = occ.get(k)
            return v == FREE or (v is None and k in walked)

        if adjacent:
            goals = {n for n in self._moves(gc) if free(n) or n == sc}
            if gc == sc:
                goals.add(sc)
        else:
            goals = {gc} if (free(gc) or gc == sc) else set()
        if not goals:
            return None
        if sc in goals:
            return [self.cell_center(sc)]
        eight = self.config.connectivity == 8

        def h(c: tuple[int, int]) -> float:
            best = float("inf")
            for gg in goals:
                dx, dy = abs(c[0] - gg[0]), abs(c[1] - gg[1])
                v = (dx + dy + (math.sqrt(2) - 2) * min(dx, dy)) if eight else (dx + dy)
                if v < best:
                    best = v
            return best

        open_heap = [(h(sc), 0.0, sc)]
        came: dict[tuple[int, int], tuple[int, int] | None] = {sc: None}
        cost = {sc: 0.0}
        expansions = 0
        while open_heap:
            _, gcost, c = heapq.heappop(open_heap)
            if c in goals:
                out = []
                node: tuple[int, int] | None = c
                while node is not None:
                    out.append(self.cell_center(node))
                    node = came[node]
                return out[::-1]
            if gcost > cost.get(c, float("inf")):
                continue
            expansions += 1
            if expansions > max_expansions:
                return None
            for n in self._moves(c):
                if not free(n):
                    continue
                straight = n[0] == c[0] or n[1] == c[1]
                if not straight and not (free((n[0], c[1])) and free((c[0], n[1]))):
                    continue  # a diagonal step needs both side cells free: no cutting past a corner
                step = 1.0 if straight else math.sqrt(2)
                nc = gcost + step
                if nc < cost.get(n, float("inf")):
                    cost[n] = nc
                    came[n] = c
                    heapq.heappush(open_heap, (nc + h(n), nc, n))
        return None

    def _moves(self, c: tuple[int, int]) -> tuple[tuple[int, int], ...]:
        x, y = c
        four = ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1))
        if self.config.connectivity == 8:
            return four + ((x + 1, y + 1), (x - 1, y - 1), (x - 1, y + 1), (x + 1, y - 1))
        return four

    def _place_path(self, s: Position, g: Position) -> list[Position] | None:
        pl = self._pl
        if not len(pl):
            return None
        a = self._nearest_place(s)
        b = self._nearest_place(g)
        if a < 0 or b < 0:
            return None
        px, py = pl.px, pl.py

        def dist(u: int, v: int) -> float:
            return math.dist((px[u], py[u]), (px[v], py[v]))

        # heap entries carry the place id: ties go by id, as when places were keyed by it
        heap = [(dist(a, b), 0.0, self._place_id(a), a)]
        came: dict[int, int] = {a: -1}
        cost = {a: 0.0}
        while heap:
            _, c, _, u = heapq.heappop(heap)
            if u == b:
                nodes = []
                n = u
                while n >= 0:
                    nodes.append(n)
                    n = came[n]
                return [s] + [pl.pos(n) for n in reversed(nodes)] + [g]
            if c > cost[u]:
                continue
            for v, _ in pl.neighbours(u):
                nc = c + dist(u, v)
                if nc < cost.get(v, float("inf")):
                    cost[v] = nc
                    came[v] = u
                    heapq.heappush(heap, (nc + dist(v, b), nc, self._place_id(v), v))
        return None

    def _nearest_place(self, p: Position) -> int:
        best, bd = -1, float("inf")
        px, py = self._pl.px, self._pl.py
        for k in range(len(px)):
            d = (px[k] - p[0]) ** 2 + (py[k] - p[1]) ** 2
            if d < bd:
                best, bd = k, d
        return best

    # ------------------------------------------------------------ stats
    def ram_bytes(self) -> int:
        """Bytes spatial memory holds in RAM now (beliefs, sightings, places, trajectory, occupancy):
        array columns exactly, dict and set entries at a measured average per entry (so an estimate,
        within about 20 % of tracemalloc's count on the benchmark stream). O(1): a few dozen
        ``len`` calls, no walk over the entries. The graph's nodes and edges are the graph's."""
        B = self._b
        cols = sum(_abytes(getattr(B, k)) for k in _Beliefs._COLUMNS)
        n_lab, n_inst, n_rows = len(B.labels), len(B.insts), len(B.lab)
        n_out = B.lp.n_names if B.lp is not None else 0  # names in lt_slabels: a list slot each in RAM
        n = cols + (n_lab - n_out + n_inst) * _NAME_BYTES + 8 * n_out + n_rows * 4  # names, ids; the grid's rows
        n += len(B.grid) * (_OCC_BYTES + _ARRAY_BYTES + 15) + (len(B.instances) + len(B.hfar)) * _DICT_ENTRY_BYTES
        n += len(B.moved) * (_LIST_BYTES + _CELL_KEY_BYTES) + len(B.next) * (_LIST_BYTES + _DICT_ENTRY_BYTES)
        lp = B.lp
        if lp is not None:
            n += lp.paged.nbytes() + lp.inst.nbytes() + len(lp.coarse) * _CELL_KEY_BYTES + len(lp.pinned) * 60
        # count(): per label a times column and a positions column, at most one time and one position an object
        n += self._new_obj_t.nbytes() + self._obj_pos.nbytes()
        n += self._pl.nbytes()
        n += sum(_abytes(c) for c in self._traj_cols()) + len(self._walk_starts) * 32
        n += len(self._occ) * _OCC_BYTES + len(self._walked) * _WALKED_BYTES + len(self._inner) * _SET_SLOT_BYTES
        tl = self._tiles
        if tl is not None:
            n += (len(tl.paged) + len(tl.touch)) * _DICT_ENTRY_BYTES
        return n

    # ------------------------------------------------------------ the RAM budget's controller
    # the smallest working sets fit() leaves (about 1 MiB in all: smaller sets would move rows out
    # every few percepts for nothing): poses, sightings, belief rows, cells, place blocks
    _FLOORS = (256, 4096, 1024, 4096, 2)

    def _caps(self) -> tuple[int, int, int, int, int]:
        """The working-set sizes now: poses, sightings, belief rows, occupancy cells, place blocks."""
        B, tl, pg = self._b, self._tiles, self._pages
        assert B.lp is not None and tl is not None and pg is not None
        return pg.cap, B.cap, B.lp.cap, tl.cap, self._pl.cap

    def _pageable(self) -> tuple[tuple[int, int], ...]:
        """(bytes in RAM, items) of each working set fit() can shrink, as ``ram_bytes`` counts them:
        poses, sightings (beyond each belief's latest, which stays with its row), belief rows (with
        their index entries and latest sighting), occupancy cells (known plus walked)."""
        B = self._b
        n_rows, n_log, n_val = len(B.lab), len(B.hv), len(B.vc)
        per_val = 32 * n_val / max(1, n_log)
        poses = sum(_abytes(c) for c in self._traj_cols())
        per_link = B.hprev.itemsize + 8 * len(B.hfk) / max(1, n_log)  # the code and the far columns
        sights = int((n_log - n_rows) * (9 + per_link + per_val))  # hprev, hv, hrow and about a byte of time runs
        rows = int(n_rows * (20 + per_val + 4 * 10 + 8 * 4 + 4 + 32))  # log entry (8 of its 20: tl), columns, grid slot, count() + len(B.grid) * (_CELL_KEY_BYTES + _ARRAY_BYTES + 15)
        rows += len(B.instances) * _DICT_ENTRY_BYTES + len(B.moved) * (_LIST_BYTES + _CELL_KEY_BYTES)
        rows += len(B.next) * (_LIST_BYTES + _DICT_ENTRY_BYTES)
        cells = len(self._occ) * _OCC_BYTES + len(self._walked) * _WALKED_BYTES + len(self._inner) * _SET_SLOT_BYTES
        pl = self._pl
        return ((poses, len(self._traj_t)), (sights, n_log), (rows, n_rows), (cells, len(self._occ) + len(self._walked)),
                (pl.res_bytes, pl.n_res))

    def fit(self, max_bytes: int) -> None:
        """Keep spatial memory's RAM (``ram_bytes()``) within ``max_bytes`` from now on, best effort:
        shrink its working sets (trajectory, sightings log, belief rows, occupancy tiles) in
        proportion and move what falls outside them, oldest / used longest ago first, to the
        long-term tables now; later percepts keep to the smaller sets. With room to spare (below 3/4
        of ``max_bytes``) the sets grow back, up to the sizes the budget first gave them (nothing is
        paged in for that: queries and percepts bring back what they need). What never moves out
        (label and instance names, places, one entry per paged label or tile) is not shrunk: past
        it, the working sets stay at their floors. Answers do not change. No effect without a RAM
        budget (no long-term store)."""
        if self._pages is None or self._tiles is None or self._b.lp is None or not self.enabled:
            return
        max_bytes = int(max_bytes)
        caps0 = getattr(self, "_caps0", None) or self._caps()
        n = self.ram_bytes()
        if n < (3 * max_bytes) // 4:  # room to spare: let the working sets grow back
            caps = self._caps()
            if caps != caps0:
                self._set_caps(tuple(min(c0, max(c + 1, (5 * c) // 4)) for c, c0 in zip(caps, caps0)))
            return
        for _ in range(3):  # the estimates per item are averages: a second pass corrects
            if n <= max_bytes:
                return
            parts = self._pageable()
            total = sum(b for b, _ in parts)
            if total <= 0:
                return
            f = max(0.0, 1.0 - (n - max_bytes) / total)
            caps = self._caps()
            new = tuple(max(min(lo, c0), min(c, int(k * f)))  # never above what the budget first gave
                        for (_, k), c, c0, lo in zip(parts, caps, caps0, self._FLOORS))
            if new == caps and f > 0.99:
                return
            self._set_caps(new, trim=True)
            m = self.ram_bytes()
            if m >= n and new == caps:
                return  # nothing left to move (every working set at its floor)
            n = m

    def _set_caps(self, caps: tuple[int, ...], trim: bool = False) -> None:
        """New working-set sizes (poses, sightings, belief rows, cells, place blocks); ``trim``: move out now what
        exceeds them (each part to its usual low-water mark below the size)."""
        B, tl, pg = self._b, self._tiles, self._pages
        lp = B.lp
        assert lp is not None and tl is not None and pg is not None
        cp, cs, cb, cc, cpl = (max(1, int(c)) for c in caps)
        pl = self._pl
        pl.cap = cpl
        pl.limit = max(cpl, min(pl.limit, pl.n_res + max(1, cpl // 4)))
        if trim and pl.n_res > cpl:
            pl.trim({self._current_k >> _PB} if self._current_k >= 0 else set())
        pg.cap = cp
        if trim and len(self._traj_t) > cp:
            self._trim_poses((3 * cp) // 4)
        lp.cap = cb
        lp.limit = max(cb, min(lp.limit, len(B.lab) + max(1, cb // 4)))
        if trim and len(B.lab) > cb:
            self._trim_beliefs()
        B.cap = cs
        B.limit = max(cs, min(B.limit, len(B.hv) + max(1, cs // 2)))
        if trim and len(B.hv) > cs:
            B.page_out()
        tl.cap = cc
        tl.limit = max(cc, min(tl.limit, len(self._occ) + len(self._walked) + max(1, cc // 4)))
        if trim and len(self._occ) + len(self._walked) > cc:
            self._trim_tiles()

    def stats(self) -> dict[str, int]:
        return {
            "objects": self._n_objects,
            "beliefs": len(self._b.lab) + (self._b.lp.n_rows if self._b.lp is not None else 0),
            "current_beliefs": sum(self._b.ccount) + (self._b.lp.n_cur if self._b.lp is not None else 0),
            "sightings": self.n_sightings,
            "places": len(self._pl),
            "known_cells": self.n_known_cells,
            "poses": len(self._traj_t) + self._n_paged_poses,
        }

    def region_counts(self) -> dict[tuple[str, str], int]:
        """(label, region) -> number of objects of that label ever believed in that region."""
        B = self._b
        out: dict[tuple[str, str], int] = {}
        for label in B.all_labels():
            self._need(label)
            seen: set[str] = set()
            for r in B.rows(label):
                node = self._node(r)
                if node in seen:
                    continue
                seen.add(node)
                pk = B.place[r]
                reg = None if pk < 0 else self._region_of(f"{self._ns}place:{pk}", None)
                if reg is not None:
                    out[(label, reg)] = out.get((label, reg), 0) + 1
        return out

    def label_counts(self) -> dict[str, int]:
        """label -> number of distinct objects ever believed."""
        out = {}
        for label in self._b.all_labels():
            self._need(label)
            out[label] = len({self._node(r) for r in self._b.rows(label)})
        return out



# ---------------------------------------------------------------------- snapshot columns
class _NoColumns(Exception):
    """A value that does not fit the column form (kept as an object instead)."""


def _floats(values: Iterable[Any], none_ok: bool = False) -> array:
    """Floats (None as NaN where ``none_ok``) as one column; ``_NoColumns`` for anything else."""
    out = array("d")
    for v in values:
        if v is None and none_ok:
            out.append(math.nan)
        elif type(v) is float and v == v:
            out.append(v)
        else:
            raise _NoColumns
    return out


def _ints(values: Iterable[Any]) -> array:
    try:
        out = array("q", values)
    except (OverflowError, TypeError):
        raise _NoColumns from None
    return out


def _cells(cells: Iterable[tuple[int, int]]) -> tuple[array, array]:
    cs = list(cells)
    if not all(type(c) is tuple and len(c) == 2 and type(c[0]) is int and type(c[1]) is int for c in cs):
        raise _NoColumns
    return _ints([c[0] for c in cs]), _ints([c[1] for c in cs])


def _pack_spatial(sp: SpatialMemory) -> dict[str, Any]:
    """``SpatialMemory._PACKED`` attributes as columns: ``(True, columns)`` each, or ``(False, value)``."""
    out: dict[str, Any] = {}

    def put(name: str, pack: Any) -> None:
        try:
            out[name] = (True, pack())
        except _NoColumns:
            out[name] = (False, getattr(sp, name))

    # cells as x and y columns (the layout before int keys: snapshots of either read alike)
    def pack_occ() -> tuple:
        x, y = _cells(map(key_cell, sp._occ))
        return x, y, _ints(sp._occ.values())

    put("_occ", pack_occ)
    put("_inner", lambda: _cells(map(key_cell, sp._inner)))
    put("_walked", lambda: _cells(map(key_cell, sp._walked)))
    for name in ("_new_obj_t", "_obj_pos"):
        seqs = getattr(sp, name)
        if isinstance(seqs, _LabelSeqs):  # its chained columns as they are (a reopen does not rebuild the chains)
            big = sorted(seqs.big)
            flat = array("d")
            for li in big:
                flat.extend(seqs.big[li])
            out[name] = (True, ("chains", seqs.w, seqs.ordered, seqs.head, seqs.n, seqs.val, seqs.nxt, seqs.free,
                                _ints(big), _ints(len(seqs.big[li]) for li in big), flat))
            continue
        col = list(seqs)  # per label its items as an array, None: none

        def pack_lists(col: list[array | None] = col) -> tuple:
            if not all(a is None or (type(a) is array and a.typecode == "d") for a in col):
                raise _NoColumns
            lis = [i for i, a in enumerate(col) if a is not None]
            flat = array("d")
            for i in lis:
                flat.extend(col[i])  # type: ignore[arg-type]
            return len(col), _ints(lis), _ints(len(col[i]) for i in lis), flat  # type: ignore[arg-type]

        put(name, pack_lists)
    return out


def _cell_keys(x: array, y: array) -> list[int | tuple[int, int]]:
    """``cell_key`` of each cell (x[k], y[k]) of two int64 columns, as a list: computed as one numpy
    expression when every cell lies within ``_CK_LIM`` (the usual case; equal to ``cell_key``'s
    ints there), else cell by cell."""
    if len(x) != len(y):
        raise ValueError("spatial state: occupancy cell columns of unequal length")
    if not len(x):
        return []
    if x.typecode == y.typecode == "q":
        xa, ya = np.frombuffer(x, np.int64), np.frombuffer(y, np.int64)
        if max(-int(xa.min()), int(xa.max()), -int(ya.min()), int(ya.max())) < _CK_LIM:
            return ((xa << 32) + ya).tolist()
    return list(map(cell_key, x.tolist(), y.tolist()))


def _unpack_spatial(sp: SpatialMemory, packed: dict[str, Any]) -> None:
    for name in SpatialMemory._PACKED:
        if name in packed and not packed[name][0]:
            setattr(sp, name, packed[name][1])
    # cells kept as objects: keyed again by cell_key (older snapshots keyed every cell by its tuple)
    if "_occ" in packed and not packed["_occ"][0]:
        sp._occ = {cell_key(*key_cell(k)): v for k, v in sp._occ.items()}
    for name in ("_frontier", "_inner", "_walked"):
        if name in packed and not packed[name][0]:
            setattr(sp, name, {cell_key(*key_cell(k)) for k in packed[name][1]})
    ok = {k for k, (cols, _) in packed.items() if cols}
    if "_occ" in ok:
        x, y, v = packed["_occ"][1]
        sp._occ = dict(zip(_cell_keys(x, y), v.tolist()))
    for name in ("_frontier", "_inner", "_walked"):
        if name in ok:
            x, y = packed[name][1]
            setattr(sp, name, set(_cell_keys(x, y)))
    fr = sp.__dict__.pop("_frontier", None)
    if fr is not None:  # a snapshot from before inner cells (format 9 and older) lists the frontier
        sp._inner = {k for k, v in sp._occ.items() if v == FREE and k not in fr}
    for name in ("_new_obj_t", "_obj_pos"):
        if name in ok and packed[name][1][0] == "chains":
            _, w, ordered, head, n, val, nxt, free, big, lens, flat = packed[name][1]
            seqs = _LabelSeqs(w, ordered)
            seqs.head, seqs.n, seqs.val, seqs.nxt, seqs.free = head, n, val, nxt, free
            ends = list(itertools.accumulate(lens.tolist()))
            seqs.big = {li: flat[a:b] for li, a, b in zip(big.tolist(), [0] + ends[:-1], ends)}
            setattr(sp, name, seqs)
        elif name in ok:
            n, lis, lens, flat = packed[name][1]
            ends = list(itertools.accumulate(lens.tolist()))
            starts = [0] + ends[:-1]
            col: list[array | None] = [None] * n
            for i, a in zip(lis.tolist(), map(flat.__getitem__, map(slice, starts, ends))):
                col[i] = a
            setattr(sp, name, col)
    for name, width in (("_new_obj_t", 1), ("_obj_pos", 3)):
        if not isinstance(getattr(sp, name), _LabelSeqs):  # the columns (or a list kept as it was)
            setattr(sp, name, _LabelSeqs.of(width, getattr(sp, name), ordered=width == 1))

class _PlainUnpickler(pickle.Unpickler):
    """Reads a page this module wrote (dicts, lists, tuples, numbers, bytes): names no class or
    function, so a crafted memory file cannot run code through it."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"a long-term page refers to {module}.{name}: damaged or crafted file")


def _load_page(blob: bytes) -> Any:
    return _PlainUnpickler(io.BytesIO(blob)).load()


def _clamp(c: float) -> int:
    """An index cell number as an SQLite integer (cells past +-2**62 are one cell: a superset)."""
    return int(max(-_BIG, min(_BIG, c)))


def _seg_dist(p: Position, a: Pose, b: Pose) -> float:
    """Distance in the x-y plane from ``p`` to the segment a -> b."""
    ax, ay, bx, by = a.x, a.y, b.x, b.y
    dx, dy = bx - ax, by - ay
    L = dx * dx + dy * dy
    u = 0.0 if L == 0 else max(0.0, min(1.0, ((p[0] - ax) * dx + (p[1] - ay) * dy) / L))
    return math.hypot(p[0] - ax - u * dx, p[1] - ay - u * dy)
