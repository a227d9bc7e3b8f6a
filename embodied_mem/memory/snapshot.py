"""Snapshots: the in-RAM state of a memory, saved beside its journal so that reopening replays only
the journal entries after it.

The journal (``store.py``) stays the source of truth; a snapshot is a cache of "the state after
journal entry N". It lives in its own file beside the database (``memory.db`` ->
``memory.db.snapshot``), written atomically (temporary file, fsync, rename, fsync of the folder),
so a crash while writing leaves the previous snapshot (or none), never half of one.

File layout (format version ``FORMAT_VERSION``)::

    b"EMSNAP\\r\\n"  magic (8 bytes)
    u32 little-endian   length H of the header
    H bytes             header: JSON (format, memory id, journal position, last-entry fingerprint, the journal's
                        edit count -- or, for a journal that does not count edits, the CRC-32 of
                        every entry before it --, config and encoder fingerprints, payload length
                        and CRC-32)
    u32 little-endian   CRC-32 of the header bytes
    payload             the module state, pickle protocol 5: bulk data (temporal columns and its
                        per-label times grouped in one array, chunk keys, trajectories) are
                        ``array``/numpy buffers stored column by column; a module class with its own
                        ``__getstate__``/``__setstate__`` (temporal memory) is saved in that compact form.
                        The pickle stream comes first (``pickle_len`` bytes); every ``array`` column of
                        64 KiB or more follows it as a raw out-of-band buffer, 64-byte aligned (the
                        header's ``buffers``: offset and length of each, in payload bytes), read
                        with one copy from the file's pages into the column

Format 10 (this version) reads only format-10 files: older snapshots are reported ("snapshot format
9, this version reads 10") and ignored, and the journal is replayed in full. (Format 4: spatial
memory's trajectory is five columns instead of one object per pose; large ``array`` columns are
out-of-band buffers in the machine's byte order, recorded in the header: a snapshot of another
byte order is ignored. Format 5: spatial memory's places, place grid, adjacency -- edge numbers,
not edge views --, occupancy, frontier and walked cells and per-label count columns are columns.
Format 6: spatial memory's places are one columnar table -- positions, visits, region edge numbers
and votes, adjacency rows --, their grid derived from the positions; the knowledge graph is stored
as blocks of 1024 nodes or edges, each a dict of column bytes; under a RAM budget, blocks paged out
to ``lt_graph`` are named by their row, not stored; episodic memory's per-chunk columns are one
``chunkcolumns.ChunkColumns``, paged under a RAM budget with their chunk's items and key postings,
and a lexical encoder's keys are always posting lists. Format 7: under a RAM budget, spatial memory
records which labels are paged out as one int64 column by label id, not a dict, and its places in blocks
(``lt_places``); episodic memory's episode and place names are a ``chunkcolumns.NameTable``, under a RAM
budget those used longest ago named by their row in ``lt_enames``, not stored. Format 8: under a RAM
budget, spatial memory's label names whose rows are paged out are in ``lt_slabels``, their slot in its
label list None. Format 9: temporal memory's percept runs (time, source, first entry) and its label
index's runs are stored as they are, not its per-entry times and sources and per-label grouped times
(which a reopen re-derived the runs and one index run from). Format 10: temporal memory keeps no kind
column (an event holds ~slot in the label column) and each entry's position as a row of a positions table,
and its label index's percept-run numbers may be uint16; spatial memory's sightings log may keep its back
links as int32 distances, not uint16 codes, when most of them are far.)

A snapshot is used only when every check passes; otherwise it is ignored and the whole journal
is replayed (``read_snapshot`` returns ``(None, reason)``; ``Memory.snapshot_status`` shows it). Checks: magic and format version; header CRC; payload
length and CRC (a torn or bit-flipped file); the memory id of the database (a snapshot of another
file); the journal entry it ends at still exists with the same fingerprint (seq, kind, recorded
time, CRC of the payload bytes), and no journal row was edited since: the journal's edit count
(``MemoryStore.edit_count``: SQLite triggers count every UPDATE, DELETE and replacing INSERT of a
row) is the one the snapshot recorded -- one read, whatever the journal's length. A journal that
does not count edits (schema version 1 opened read-only, triggers dropped) is checked the old way,
by the CRC-32 of every entry before the snapshot. So a snapshot newer than the journal, or of a
journal that has since diverged or been edited, is refused (the full replay then reports damaged
rows). Damage below SQL (a flipped bit on disk in an earlier row) is not seen by this check:
``embodied-mem memory check`` reads every row. Also checked: the memory config and key encoder
it was made with (the state depends on them). The payload is unpickled with an allow-list of classes (this package's, networkx's,
numpy's arrays, ``array``, builtin containers), never arbitrary callables.
"""

from __future__ import annotations

import dataclasses
import gc
import glob
import hashlib
import io
import json
import mmap
import os
import pickle
import struct
import sys
import time
import types
import zlib
from array import array
from pathlib import Path
from typing import Any

__all__ = ["FORMAT_VERSION", "MAGIC", "Snapshot", "snapshot_path", "write_snapshot", "read_snapshot",
           "config_fingerprint", "entry_fingerprint"]

MAGIC = b"EMSNAP\r\n"
FORMAT_VERSION = 10
# Formats 1 and 2 pickled temporal memory (and, with the graph and spatial helpers' changes, the
# graph and spatial beliefs) object by object, format 3 the trajectory as one Pose per pose, format 4
# spatial places, adjacency edge views and cells object by object; their
# states no longer fit this version's modules, so they are ignored (full replay) rather than
# half-trusted. The journal-CRC check (format 1's) stays for journals that do not count edits.
# Format 7: temporal memory keeps names by slot with global ids (names no entry in RAM refers to
# moved out to lt_tlabels under a budget) and a byte cap from ``fit``; format 6's temporal state lacks them.
# Format 8: spatial memory's label list may hold None (a name paged out to lt_slabels), which format 7's
# readers do not expect; format 7's state lacks the count of paged names.
# Format 9: temporal memory's runs and label index as they are (format 8's temporal state has per-entry
# times and sources; its reader rebuilt them); the knowledge graph stores its blocks as their pages (bytes,
# decoded on first use) and its id index (CRC-32 hashes) as it is (format 8's graph state lacks them);
# spatial memory's sightings log keeps its times run-length (``trt``/``trs``) and each belief's latest
# time (``tl``) (spatial's reader still converts a format-8 state, one time per entry, but the others cannot).
# Format 10: temporal memory's entries hold each event as ~slot in the label column (no kind column) and
# each position as a row of a positions table (``_pid``; or one x and y per entry where positions rarely
# repeat); its label-index runs may hold their percept-run numbers as uint16 (format 9's temporal state
# has a kind column and one x and y per entry). Spatial memory's sightings log may hold its back links as
# int32 distances (``hprev`` an ``array("i")``: a log whose links are mostly far, see spatial._HP_FAR),
# which format 9's readers would take for uint16 codes.
_READS = (10,)
_U32 = struct.Struct("<I")
_OUT_OF_BAND = 1 << 16  # array columns from this many bytes on are raw buffers after the pickle stream
_ALIGN = 64


def snapshot_path(db_path: str | Path) -> Path:
    """Where the snapshot of the memory database at ``db_path`` lives."""
    p = Path(db_path)
    return p.with_name(p.name + ".snapshot")


def config_fingerprint(config: dict[str, Any], encoder: str) -> str:
    """SHA-256 of the settings the in-RAM state depends on (storage-only keys left out)."""
    d = {k: v for k, v in config.items() if k not in ("path", "snapshot_every")}
    blob = json.dumps({"config": d, "encoder": encoder}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def entry_fingerprint(seq: int, kind: str, recorded_at: float, payload_text: str | bytes) -> list[Any]:
    """What identifies one journal entry: its position, kind, wall-clock time and payload CRC."""
    data = payload_text.encode() if isinstance(payload_text, str) else bytes(payload_text)
    return [int(seq), str(kind), float(recorded_at), zlib.crc32(data)]


@dataclasses.dataclass
class Snapshot:
    """A loaded, verified snapshot: ``state`` is the state after journal entries ``< upto``."""

    upto: int
    state: dict[str, Any]
    header: dict[str, Any]


def write_snapshot(path: str | Path, state: dict[str, Any], *, memory_id: str, upto: int,
                   last_entry: list[Any], journal_crc: int | None = None, config_fp: str,
                   journal_edits: int | None = None) -> int:
    """Atomically write a snapshot of ``state`` (the state after entries ``< upto``); returns its size.

    ``last_entry`` is ``entry_fingerprint`` of entry ``upto - 1``; ``journal_edits`` the journal's
    edit count (``MemoryStore.edit_count``) or, when it does not count edits, ``journal_crc`` the
    CRC-32 of every entry before ``upto`` (``MemoryStore.checksum``). Raises ``OSError`` when the
    folder cannot be written (the caller decides whether that matters: the journal is untouched).
    """
    if journal_edits is None and journal_crc is None:
        raise ValueError("a snapshot needs journal_edits or journal_crc to be checked against its journal")
    path = Path(path)
    buf = io.BytesIO()
    bufs: list[memoryview] = []

    def out_of_band(pb: pickle.PickleBuffer) -> bool:  # False: written after the stream
        raw = pb.raw()
        if type(raw.obj) is array:
            bufs.append(raw)
            return False
        return True

    was = gc.isenabled()
    gc.disable()
    try:
        _Pickler(buf, protocol=5, buffer_callback=out_of_band).dump(state)
    finally:
        if was:
            gc.enable()
    stream = buf.getbuffer()
    parts: list[Any] = [stream]
    where, pos = [], len(stream)
    for b in bufs:
        pad = -pos % _ALIGN
        if pad:
            parts.append(bytes(pad))
        where.append([pos + pad, b.nbytes])
        parts.append(b)
        pos += pad + b.nbytes
    crc = 0
    for part in parts:
        crc = zlib.crc32(part, crc)
    header = json.dumps({
        "format": FORMAT_VERSION, "memory_id": memory_id, "upto": int(upto), "last_entry": last_entry,
        "journal_crc": None if journal_crc is None else int(journal_crc),
        "journal_edits": None if journal_edits is None else int(journal_edits),
        "config": config_fp, "payload_len": pos, "payload_crc": crc,
        "pickle_len": len(stream), "buffers": where, "byteorder": sys.byteorder,
        "written_at": time.time(),
    }, separators=(",", ":")).encode()
    for stale in path.parent.glob(glob.escape(path.name) + ".tmp*"):  # left by a writer killed mid-write (one writer per file)
        try:
            stale.unlink()
        except OSError:
            pass
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(MAGIC + _U32.pack(len(header)) + header + _U32.pack(zlib.crc32(header)))
            for part in parts:
                f.write(part)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    try:
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
    return len(MAGIC) + 8 + len(header) + pos


def _slotted(cls: type, values: tuple[Any, ...]) -> Any:
    """Rebuild an instance of a slotted dataclass from its field values (no ``__init__`` checks: the
    values were checked when the object was first made)."""
    obj = _new(cls)
    setters = _SETTERS.get(cls)
    if setters is None:  # the slots' own descriptors: a third faster than object.__setattr__ by name
        setters = _SETTERS[cls] = tuple(getattr(cls, n).__set__ for n in _field_names(cls))
    for put, v in zip(setters, values):
        put(obj, v)
    return obj


_new = object.__new__
_SETTERS: dict[type, tuple[Any, ...]] = {}
_FIELDS: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def _with_dict(cls: type, state: dict[str, Any]) -> Any:
    """Rebuild an instance of one of this package's classes from its data attributes."""
    obj = object.__new__(cls)
    obj.__dict__.update(state)
    return obj


def _with_state(cls: type, state: Any) -> Any:
    """Rebuild an instance of one of this package's classes that defines its own snapshot state."""
    obj = object.__new__(cls)
    obj.__setstate__(state)
    return obj


def has_own_state(cls: type) -> bool:
    """True for a class with its own ``__getstate__``/``__setstate__`` pair (its snapshot form)."""
    return cls.__getstate__ is not object.__getstate__ and "__setstate__" in dir(cls)


def is_behaviour(value: Any) -> bool:
    """Functions and bound methods set on an instance (journaling or locking wrappers) are behaviour,
    rebuilt by whoever makes the object, never state."""
    return isinstance(value, (types.FunctionType, types.MethodType, types.BuiltinMethodType))


def _array_from(typecode: str, data: Any) -> array:
    """An ``array`` column from its raw bytes (machine byte order): one copy."""
    a = array(typecode)
    a.frombytes(data)
    return a


class _Pickler(pickle.Pickler):
    """Slotted dataclasses (poses, chunk records) as one tuple each (unpickling them through the
    dataclass ``__setstate__`` costs several times more); this package's other objects as their
    data attributes only (wrappers set on an instance are left out)."""

    def reducer_override(self, obj: Any) -> Any:
        cls = type(obj)
        if cls is array:  # a large column: its raw bytes, out of band (the default reduce copies twice on load)
            if len(obj) * obj.itemsize >= _OUT_OF_BAND:
                return _array_from, (obj.typecode, pickle.PickleBuffer(obj))
            return NotImplemented  # a small one: array's own reduce (C, no Python call per array)
        if "__dataclass_fields__" in cls.__dict__ and "__slots__" in cls.__dict__:
            return _slotted, (cls, tuple(getattr(obj, n) for n in _field_names(cls)))
        if (isinstance(cls.__module__, str) and cls.__module__.startswith("embodied_mem.")
                and not isinstance(obj, type) and hasattr(obj, "__dict__")):
            if has_own_state(cls):  # a module with a compact snapshot form of its own
                return _with_state, (cls, obj.__getstate__())
            return _with_dict, (cls, {k: v for k, v in vars(obj).items() if not is_behaviour(v)})
        return NotImplemented


class _Rejected(Exception):
    pass


class _MappedReader:
    """A read-only file over ``size`` bytes of a memory map from ``start``, for the unpickler: each
    read copies only the piece asked for (``readinto`` straight into the object being built)."""

    def __init__(self, mm: mmap.mmap | None, start: int, size: int) -> None:
        self.mm = mm
        self.view = memoryview(mm)[start:start + size] if mm is not None else memoryview(b"")
        self.start, self.pos, self.size = start, 0, size

    def read(self, n: int = -1) -> bytes:
        p = self.pos
        end = self.size if n is None or n < 0 else min(p + n, self.size)
        self.pos = end
        return bytes(self.view[p:end])

    def readinto(self, b: Any) -> int:
        out = memoryview(b).cast("B")
        p = self.pos
        k = min(len(out), self.size - p)
        out[:k] = self.view[p:p + k]
        self.pos = p + k
        return k

    def readline(self) -> bytes:
        if self.mm is None:
            return b""
        i = self.mm.find(b"\n", self.start + self.pos, self.start + self.size)
        return self.read(-1 if i < 0 else i - self.start - self.pos + 1)

    def close(self) -> None:
        self.view.release()


def read_snapshot(path: str | Path, *, memory_id: str, config_fp: str, journal_next_seq: int,
                  entry_at: Any, journal_crc: Any, journal_edits: int | None = None) -> tuple[Snapshot | None, str]:
    """Load and verify the snapshot at ``path``; ``(None, why)`` when it is absent or not to be trusted.

    ``entry_at(seq)`` returns ``entry_fingerprint`` of the committed journal entry ``seq``, or None;
    ``journal_edits`` is the journal's edit count (None when it does not count edits); only then,
    or for a snapshot without an edit count, ``journal_crc(stop)`` is called: the CRC-32 of the
    committed entries before ``stop`` (it reads them all).
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return _verify(f, memory_id, config_fp, journal_next_seq, entry_at, journal_crc, journal_edits), "ok"
    except FileNotFoundError:
        return None, "no snapshot"
    except OSError as exc:
        return None, f"snapshot unreadable: {exc}"
    except _Rejected as exc:
        return None, str(exc)


def _verify(f: Any, memory_id: str, config_fp: str, next_seq: int, entry_at: Any, journal_crc: Any,
            journal_edits: int | None) -> Snapshot:
    head = f.read(len(MAGIC) + 4)
    if len(head) < len(MAGIC) + 4 or head[:len(MAGIC)] != MAGIC:
        raise _Rejected("not a snapshot file (bad magic or too short)")
    (hlen,) = _U32.unpack_from(head, len(MAGIC))
    hbytes = f.read(hlen + 4) if hlen < (1 << 24) else b""
    if len(hbytes) != hlen + 4:
        raise _Rejected("torn snapshot (header cut short)")
    (hcrc,) = _U32.unpack_from(hbytes, hlen)
    hbytes = hbytes[:hlen]
    if zlib.crc32(hbytes) != hcrc:
        raise _Rejected("damaged snapshot (header checksum mismatch)")
    try:
        header = json.loads(hbytes)
    except ValueError:
        raise _Rejected("damaged snapshot (header is not JSON)") from None
    if not isinstance(header, dict) or header.get("format") not in _READS:
        raise _Rejected(f"snapshot format {header.get('format') if isinstance(header, dict) else None!r}, "
                        f"this version reads {', '.join(map(str, _READS))}")
    if header.get("memory_id") != memory_id:
        raise _Rejected("snapshot of another memory database")
    if header.get("config") != config_fp:
        raise _Rejected("snapshot made with other memory settings or another key encoder")
    upto = header.get("upto")
    if not isinstance(upto, int) or upto < 1 or upto > next_seq:
        raise _Rejected(f"snapshot ends at journal entry {upto}, past the journal's end ({next_seq})")
    if entry_at(upto - 1) != header.get("last_entry"):
        raise _Rejected(f"snapshot does not match journal entry {upto - 1} (the journal diverged)")
    edits = header.get("journal_edits")
    if journal_edits is not None and isinstance(edits, int):
        if edits != journal_edits:  # a row was updated, deleted or replaced since: replay it all
            raise _Rejected(f"the journal before entry {upto} changed since the snapshot "
                            f"({journal_edits - edits} row edit(s) since; the journal diverged)")
    else:
        want = header.get("journal_crc")
        if not isinstance(want, int) or journal_crc(upto) != want:  # an earlier entry was changed since
            raise _Rejected(f"the journal before entry {upto} changed since the snapshot (the journal diverged)")
    n = header.get("payload_len")
    start = f.tell()
    have = os.fstat(f.fileno()).st_size - start
    if not isinstance(n, int) or n < 0 or have != n:
        raise _Rejected(f"torn snapshot (payload {max(have, 0)} bytes, expected {n})")
    if header.get("byteorder") != sys.byteorder:
        raise _Rejected(f"snapshot written on a {header.get('byteorder')}-endian machine")
    plen, where = header.get("pickle_len"), header.get("buffers")
    if (not isinstance(plen, int) or not 0 <= plen <= n or not isinstance(where, list)
            or not _buffers_fit(where, plen, n)):
        raise _Rejected("damaged snapshot (its buffer table does not fit the payload)")
    # The payload is read through a read-only memory map: its CRC and the unpickler read the page
    # cache directly, so neither a copy of the whole payload nor its RAM is needed. (Snapshots are
    # replaced by rename, never rewritten in place, so the mapped file does not change under us.)
    mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if n else None
    reader = _MappedReader(mm, start, n)
    views: list[memoryview] = []
    was = gc.isenabled()
    try:
        if zlib.crc32(reader.view) != header.get("payload_crc"):
            raise _Rejected("damaged snapshot (payload checksum mismatch)")
        views = [reader.view[off:off + size] for off, size in where]
        reader.size = plen  # the pickle stream; the buffers after it are handed over by position
        gc.disable()  # millions of small objects: the cyclic collector would run hundreds of times
        try:
            state = _SafeUnpickler(reader, buffers=views).load()
        except Exception as exc:  # a payload that passed its CRC but does not unpickle: refuse it
            raise _Rejected(f"snapshot payload unreadable: {type(exc).__name__}: {exc}") from None
    finally:
        for v in views:  # every column was copied out of them (_array_from)
            v.release()
        reader.close()
        if mm is not None:
            mm.close()
        if was:
            gc.enable()
    if not isinstance(state, dict):
        raise _Rejected("snapshot payload is not a state mapping")
    return Snapshot(upto=upto, state=state, header=header)


def _buffers_fit(where: list[Any], start: int, end: int) -> bool:
    """Each ``[offset, length]`` lies in ``[start, end)``, in order, none overlapping."""
    pos = start
    for item in where:
        if (not isinstance(item, list) or len(item) != 2 or not all(type(v) is int for v in item)
                or item[0] < pos or item[1] < 0 or item[0] + item[1] > end):
            return False
        pos = item[0] + item[1]
    return True


_BUILTINS = frozenset({"set", "frozenset", "dict", "list", "tuple", "int", "float", "str", "bytes", "bytearray",
                       "complex", "bool", "slice", "range", "object"})
_FUNCTIONS = frozenset({("copyreg", "_reconstructor"), ("copyreg", "__newobj__"), ("array", "_array_reconstructor"),
                        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
                        ("numpy", "dtype"), ("_codecs", "encode"), (__name__, "_slotted"),
                        (__name__, "_with_dict"), (__name__, "_with_state"), (__name__, "_array_from")})
_TYPE_MODULES = ("embodied_mem.memory.spatial", "embodied_mem.memory.temporal", "embodied_mem.memory.episodic",
                 "embodied_mem.memory.semantic", "embodied_mem.memory.config", "embodied_mem.memory.featurize",
                 "embodied_mem.memory.longterm", "embodied_mem.memory.ann", "embodied_mem.graph", "embodied_mem.percept",
                 "networkx.classes.",
                 "collections")
_TYPE_MODULES += ("embodied_mem.memory.keycolumns",)  # episodic memory's sparse chunk keys
_TYPE_MODULES += ("embodied_mem.memory.chunkcolumns",)  # episodic memory's per-chunk columns
_NUMPY_TYPES = frozenset({"ndarray", "dtype"})


class _SafeUnpickler(pickle.Unpickler):
    """Resolves only data classes (no arbitrary callables, nothing that opens files): a crafted file
    cannot run code."""

    def find_class(self, module: str, name: str) -> Any:
        ok = False
        if module == "builtins":
            ok = name in _BUILTINS
        elif (module, name) in _FUNCTIONS:
            ok = True
        elif module == "array":
            ok = name == "array"
        elif module.startswith("numpy"):
            ok = name in _NUMPY_TYPES or (name.endswith("DType") and module == "numpy.dtypes")
        elif module in _TYPE_MODULES or module.startswith(_TYPE_MODULES):
            ok = isinstance(getattr(__import__(module, fromlist=[name]), name, None), type)
        if not ok:
            raise pickle.UnpicklingError(f"snapshot refers to {module}.{name}, which a snapshot may not contain")
        return super().find_class(module, name)
