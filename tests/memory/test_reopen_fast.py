"""Fast reopen (issue 16): what a reopen skips is still checked where it matters.

- ``quick_check`` is skipped only for a file exactly as a writer of this library left it (the
  ``PATH.checked`` stamp); any later change to the file -- damaged pages, with or without its
  modification time set back -- is checked, and damage is refused with a ``StoreError``.
- The trajectory is stored column by column: poses (late ones, windows, walks, the latest pose)
  are the same from the snapshot, from a full replay and in the memory before it was closed.
- Temporal memory slices its per-label times lazily after a load: answers before and after new
  percepts, and a snapshot written from the lazy state, equal those of a memory never closed.
- Large ``array`` columns are raw buffers after the pickle stream; a buffer table that does not fit
  the payload, or a snapshot of the other byte order, is ignored (full replay).
- The collector settles the loaded objects without unfreezing what a program froze itself.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import math
import os
import sqlite3
import struct
import sys
import zlib
from pathlib import Path

import pytest

from embodied_mem import Memory, Percept, Pose, Sighting, StoreError
from embodied_mem.memory.snapshot import MAGIC, snapshot_path
from embodied_mem.memory.spatial import key_cell
from embodied_mem.store import MemoryStore


def _sibling(name: str):
    spec = importlib.util.spec_from_file_location(f"_reopen_{name}", Path(__file__).with_name(f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_persistence = _sibling("test_persistence")
answers, feed = _persistence.answers, _persistence.feed


def _big_memory(path: Path, n: int = 400) -> None:
    """A journal of several B-tree pages (so damage can hit a page that is not the first)."""
    with Memory.open(path, durability="batch") as mem:
        feed(mem)
        for i in range(n):
            mem.observe(Percept(t=10 + i, pose=Pose(i % 17, i % 5), region=f"r{i % 3}",
                                sightings=[Sighting(f"thing{i % 29}", (i % 17 + 0.5, i % 5)),
                                           Sighting("key", (i % 7, 1.0))]))


def _journal_pages(path: Path) -> tuple[int, list[int]]:
    """(page size, the journal table's page numbers, root first)."""
    con = sqlite3.connect(path)
    try:
        size = con.execute("PRAGMA page_size").fetchone()[0]
        root = con.execute("SELECT rootpage FROM sqlite_master WHERE name='journal'").fetchone()[0]
        try:
            pages = [r[0] for r in con.execute("SELECT pageno FROM dbstat WHERE name='journal' ORDER BY pageno")]
        except sqlite3.OperationalError:  # no dbstat in this SQLite: the root alone
            pages = [root]
    finally:
        con.close()
    return size, [root] + [p for p in pages if p != root]


def test_an_unchanged_file_skips_quick_check(tmp_path):
    path = tmp_path / "m.db"
    _big_memory(path)
    assert path.with_name("m.db.checked").exists()
    with Memory.open(path, readonly=True) as m:
        assert m._store.structure_check == "unchanged since checked"
        assert m.snapshot_status == "ok"
        before = answers(m)
    with Memory.open(path) as m:  # a writer that changes nothing leaves it unchanged too
        assert m._store.structure_check == "unchanged since checked"
        m.observe(Percept(t=1e6, sightings=[Sighting("cup", (1, 1))]))
    with Memory.open(path, readonly=True) as m:  # its own writes, then its stamp at close
        assert m._store.structure_check == "unchanged since checked"
        assert answers(m) != before


@pytest.mark.parametrize("set_mtime_back", [False, True])
def test_a_damaged_page_is_still_refused(tmp_path, set_mtime_back):
    path = tmp_path / "m.db"
    _big_memory(path)
    st = path.stat()
    size, pages = _journal_pages(path)
    assert len(pages) > 4
    with open(path, "r+b") as fh:  # a page in the middle of the journal (one the reopen never reads): garbage
        fh.seek((pages[len(pages) // 2] - 1) * size)
        fh.write(os.urandom(size))
    if set_mtime_back:  # a program hiding its edit: the change time still moves
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert path.stat().st_mtime_ns == st.st_mtime_ns
    with pytest.raises(StoreError, match=str(path)):
        Memory.open(path, readonly=True)
    # what refuses it is quick_check: with a stamp forged to match, the snapshot alone would open it
    store = object.__new__(MemoryStore)
    store.path = path
    path.with_name("m.db.checked").write_text(json.dumps(store._file_stamp()))
    with Memory.open(path, readonly=True) as m:
        assert m._store.structure_check == "unchanged since checked" and m.snapshot_status == "ok"


def test_a_stamp_that_does_not_match_means_quick_check(tmp_path):
    path = tmp_path / "m.db"
    _big_memory(path, n=20)
    stamp = path.with_name("m.db.checked")
    for content in ("not json", json.dumps({"ino": 1}), ""):
        stamp.write_text(content)
        with Memory.open(path, readonly=True) as m:
            assert m._store.structure_check == "quick_check"
    stamp.unlink()
    with Memory.open(path, readonly=True) as m:
        assert m._store.structure_check == "quick_check"
    with Memory.open(path) as m:  # a writer's close stamps it again
        assert m._store.structure_check == "quick_check"
    with Memory.open(path, readonly=True) as m:
        assert m._store.structure_check == "unchanged since checked"


def test_a_file_with_a_write_ahead_log_is_checked(tmp_path):
    path = tmp_path / "m.db"
    _big_memory(path, n=20)
    writer = Memory.open(path)  # still open: its percept is in the write-ahead log
    writer.observe(Percept(t=1e6, sightings=[Sighting("cup", (1, 1))]))
    try:
        assert os.path.getsize(f"{path}-wal") > 0
        with Memory.open(path, readonly=True) as m:
            assert m._store.structure_check == "quick_check"
            assert m.temporal.last_seen("cup") == 1e6
    finally:
        writer.close()


def _poses_stream(mem: Memory) -> None:
    mem.observe(Percept(t=1, pose=Pose(0, 0, 0, 0.5), sightings=[Sighting("key", (1, 1))]))
    mem.observe(Percept(t=2, pose=Pose(1, 0, 0.25, 1.0)))
    mem.observe(Percept(t=1.5, source="cam", pose=Pose(0.5, 0.1, 0, -1.0)))  # late pose: inserted in order
    mem.new_episode()  # a new walk
    mem.observe(Percept(t=3, pose=Pose(40, 40)))  # a jump: a new walk too
    mem.observe(Percept(t=4, pose=Pose(41, 40, 0, 3.0)))


def _trajectory_answers(mem: Memory) -> list:
    sp = mem.spatial
    return [sp.trajectory(), sp.trajectory(1.5, 3), sp.trajectory(None, 1.5), sp.trajectory(3.5, None),
            sp.trajectory(10, 20), sp.walks(), sp.pose(), sp.n_poses_in_ram, mem.stats()]


def test_trajectory_columns_round_trip(tmp_path):
    path = tmp_path / "m.db"
    with Memory.open(path) as mem:
        _poses_stream(mem)
        before = _trajectory_answers(mem)
        assert [t for t, _ in before[0]] == [1, 1.5, 2, 3, 4]
        assert before[0][1][1] == Pose(0.5, 0.1, 0, -1.0) and before[6] == Pose(41, 40, 0, 3.0)
        assert len(before[5]) >= 2
    with Memory.open(path, readonly=True) as m:
        assert m.snapshot_status == "ok"
        assert _trajectory_answers(m) == before
        assert all(type(p) is Pose and p.position == (p.x, p.y, p.z) for _, p in m.spatial.trajectory())
    snapshot_path(path).unlink()
    with Memory.open(path, readonly=True) as m:  # the full replay agrees
        assert _trajectory_answers(m) == before
    with Memory.open(path) as m:  # and a snapshot, then more poses (a late one among them)
        m.observe(Percept(t=5, pose=Pose(42, 40)))
        m.observe(Percept(t=3.5, source="cam2", pose=Pose(40.5, 40)))
        after = _trajectory_answers(m)
    with Memory.open(path, readonly=True) as m:
        assert _trajectory_answers(m) == after


def _temporal_answers(mem: Memory) -> list:
    tm = mem.temporal
    out = []
    for lbl in ("key", "apple", "tree", "cup", "thing3", "thing28", "nothing"):
        out.append((tm.first_seen(lbl), tm.last_seen(lbl), tm.last_seen(lbl, at=50), tm.count(lbl),
                    tm.count(lbl, 20, 200), tm.seen_times(lbl, 30, 90), tm.longest_gap(lbl),
                    tm.longest_gap(lbl, 15, 300)))
    return out + [tm.labels(), len(tm)]


def test_lazy_temporal_times_answer_and_snapshot_as_a_memory_never_closed(tmp_path):
    path = tmp_path / "m.db"
    _big_memory(path, n=120)
    live = Memory()  # the same stream, never closed
    feed(live)
    for i in range(120):
        live.observe(Percept(t=10 + i, pose=Pose(i % 17, i % 5), region=f"r{i % 3}",
                             sightings=[Sighting(f"thing{i % 29}", (i % 17 + 0.5, i % 5)),
                                        Sighting("key", (i % 7, 1.0))]))
    with Memory.open(path) as m:
        assert m.snapshot_status == "ok"
        assert m.temporal.seen_times("key", 0, 20) == live.temporal.seen_times("key", 0, 20)  # one label sliced
        m.observe(Percept(t=200, sightings=[Sighting("key", (0, 0))]))  # a new percept... then
        m.checkpoint()
    live.observe(Percept(t=200, sightings=[Sighting("key", (0, 0))]))
    with Memory.open(path) as m:
        assert _temporal_answers(m) == _temporal_answers(live)
        m.checkpoint()  # written from the lazy state (nothing observed since the load)
    with Memory.open(path, readonly=True) as m:
        assert m.snapshot_status == "ok"
        assert _temporal_answers(m) == _temporal_answers(live)
    with Memory.open(path) as m:  # new sightings after a lazy load, late ones among them
        for mm in (m, live):
            mm.observe(Percept(t=210, sightings=[Sighting("thing3", (1, 1)), Sighting("newcomer", (2, 2))]))
            mm.observe(Percept(t=55.5, source="late", sightings=[Sighting("thing28", (3, 3))]))
        assert _temporal_answers(m) == _temporal_answers(live)
    with Memory.open(path, readonly=True) as m:
        assert _temporal_answers(m) == _temporal_answers(live)


def test_the_collector_stays_on_and_a_programs_frozen_objects_stay_frozen(tmp_path):
    path = tmp_path / "m.db"
    _big_memory(path, n=20)
    assert gc.isenabled()
    with Memory.open(path, readonly=True):
        assert gc.isenabled()
    keep = [[i] for i in range(100)]
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with Memory.open(path, readonly=True):
            # neither unfrozen (0) nor frozen again (grows by the loaded objects); a few frozen objects
            # may be freed meanwhile by reference counting, so the count may drop a little
            assert frozen - 1000 < gc.get_freeze_count() <= frozen and gc.isenabled()
    finally:
        gc.unfreeze()
    del keep
    gc.disable()
    try:
        with Memory.open(path, readonly=True):
            assert not gc.isenabled()  # a program that turned it off keeps it off
    finally:
        gc.enable()


def _header(path: Path) -> tuple[dict, bytes]:
    blob = snapshot_path(path).read_bytes()
    (hlen,) = struct.unpack_from("<I", blob, len(MAGIC))
    h0 = len(MAGIC) + 4
    return json.loads(blob[h0:h0 + hlen]), blob[h0 + hlen + 4:]


def _restamp(path: Path, header: dict, payload: bytes) -> None:
    hb = json.dumps(header).encode()
    snapshot_path(path).write_bytes(MAGIC + struct.pack("<I", len(hb)) + hb + struct.pack("<I", zlib.crc32(hb)) + payload)


def test_large_columns_are_out_of_band_buffers_and_a_bad_buffer_table_is_refused(tmp_path):
    path = tmp_path / "m.db"
    _big_memory(path, n=9000)  # temporal columns of 18k entries (4 bytes each): past the 64 KiB out-of-band size
    with Memory.open(path, readonly=True) as m:
        assert m.snapshot_status == "ok"
        before = answers(m), _temporal_answers(m), _trajectory_answers(m)
    header, payload = _header(path)
    assert header["buffers"] and header["pickle_len"] < header["payload_len"] == len(payload)
    assert all(off % 64 == 0 and size >= 1 << 16 for off, size in header["buffers"])
    (off, size), *_ = header["buffers"]
    plen = header["pickle_len"]
    bad_tables = [[[plen - 8, size]], [[off, len(payload)]], [[off, size], [off, size]], [[off, -1]], [["0", 1]], {}]
    for table in bad_tables:
        _restamp(path, {**header, "buffers": table}, payload)
        with Memory.open(path, readonly=True) as m:
            assert "buffer table" in m.snapshot_status, (table, m.snapshot_status)
            assert (answers(m), _temporal_answers(m), _trajectory_answers(m)) == before
    other = "big" if sys.byteorder == "little" else "little"
    _restamp(path, {**header, "byteorder": other}, payload)
    with Memory.open(path, readonly=True) as m:
        assert m.snapshot_status == f"snapshot written on a {other}-endian machine"
        assert (answers(m), _temporal_answers(m), _trajectory_answers(m)) == before
    _restamp(path, header, payload)  # the same file as written: used
    with Memory.open(path, readonly=True) as m:
        assert m.snapshot_status == "ok"
        assert (answers(m), _temporal_answers(m), _trajectory_answers(m)) == before



def _places_stream(mem: Memory, world: str | None = None) -> None:
    """Places (some revisited: their adjacency edges counted again), regions voted on by several
    passes, free and blocked cells, walks, and objects counted per label."""
    if world is not None:
        mem.enter_world(world)
    t = mem.now if math.isfinite(mem.now) else 0.0
    for lap in range(3):
        for i in range(12):
            t += 1
            x, y = (i % 6) * 3.0, (i // 6) * 3.0
            mem.observe(Percept(t=t, pose=Pose(x, y, 0, 0.1 * i), region="kitchen" if (i + lap) % 4 else "hall",
                                free=[(x + 1, y)], blocked=[(x + 0.5, y + 2.5)],
                                sightings=[Sighting(f"cup{i % 3}", (x + 0.2, y + 0.2)),
                                           Sighting("apple", (x - 1.0, y + 1.0 + lap))]))


def _places_answers(mem: Memory) -> list:
    sp = mem.spatial
    places = sp.places()
    return [repr(places), [sp.neighbours(p.id) for p in places], [repr(sp.place_of(p.position)) for p in places],
            sp.regions(), sp.frontiers(), sp.path((0, 0), (15, 3)), sp.n_known_cells,
            [sp.occupancy((x * 1.0, y * 1.0)) for x in range(-2, 18) for y in range(-2, 6)],
            [sp.count(label) for label in ("cup0", "cup1", "apple", "none")],
            [sp.count(label, at=t) for label in ("cup0", "apple") for t in (2, 10, 30)],
            repr(sp.current_place), mem.graph.to_dict(), mem.stats()]


def _places_state(sp) -> list:
    """Spatial memory ``sp``'s attributes saved as columns: equal, in the same iteration order."""
    pl = sp._pl  # noqa: SLF001 - the place columns are the point of this test
    recs = [(p.id, p.position, None if pl.region_edge(k) < 0 else
             (pl.region_edge(k), {n: v for n, v in sp.graph.edge_data(pl.region_edge(k)).items() if n != "recorded_at"}),
             list(pl.votes(k).items()), p.visits, p.first_visit, p.last_visit) for k, p in enumerate(sp.places())]
    grid = [(c, pl.in_cell(c)) for c in sorted({pl.cell(p.position[0], p.position[1]) for p in sp.places()})]
    adj = [(p.id, pl.neighbours(k)) for k, p in enumerate(sp.places()) if pl.neighbours(k)]
    return [recs, grid, adj, list(sp._occ.items()),  # noqa: SLF001
            sorted(map(key_cell, sp._frontier_keys())), sorted(map(key_cell, sp._walked)),  # noqa: SLF001
            list(enumerate(sp._new_obj_t)),  # noqa: SLF001
            list(enumerate(sp._obj_pos)),  # noqa: SLF001
            [(u, [(v, sp.graph.edge_data(e)["traversals"]) for v, e in d]) for u, d in adj]]


def _both_worlds(mem: Memory) -> list:
    """The current world's (w2) answers and state, and the default world's state."""
    return [_places_answers(mem), _places_state(mem.spatial), _places_state(mem._worlds[None][0])]  # noqa: SLF001


def test_places_adjacency_and_cells_as_columns_round_trip(tmp_path):
    """Spatial memory's places, place grid, adjacency (edge numbers), occupancy, frontier, walked
    cells and per-label count columns are snapshot columns: after a reopen, the answers and the
    state are those of the memory before it was closed, in every world, and more percepts (revisits
    that count an adjacency edge again) give what a memory never closed gives."""
    path = tmp_path / "m.db"
    with Memory.open(path) as mem:
        _places_stream(mem)
        _places_stream(mem, "w2")
        before = _both_worlds(mem)
    recs, _, adj = before[1][:3]
    assert len(recs) >= 4 and any(len(d) > 1 for _, d in adj)
    assert any(r[3] for r in recs) and any(r[2] is not None for r in recs)  # region votes and edges
    assert before[2][0] and before[2][3]  # the default world has places and cells too
    with Memory.open(path, readonly=True) as m:
        assert m.snapshot_status == "ok" and m.world == "w2"
        assert _both_worlds(m) == before
    with Memory.open(path) as m, Memory.open(tmp_path / "never.db") as never:
        _places_stream(never)
        _places_stream(never, "w2")
        for mem in (m, never):
            _places_stream(mem, "w2")  # the same places again: traversals counted on the restored edges
        got, want = _both_worlds(m), _both_worlds(never)
        assert got[0][:-2] == want[0][:-2] and got[1:] == want[1:]  # (graph and stats: other wall-clock times)
        after = got
    with Memory.open(path, readonly=True) as m:
        assert m.snapshot_status == "ok"
        assert _both_worlds(m) == after


def test_values_that_do_not_fit_a_column_are_kept_as_objects(tmp_path):
    """An attribute whose values do not fit a column (here a cell number beyond int64, set by hand:
    percepts keep coordinates within 1e9 m) is saved as it is; the others still as columns."""
    path = tmp_path / "m.db"
    with Memory.open(path) as mem:
        _places_stream(mem)
        mem.spatial._occ[(2**70, -(2**70))] = 2  # noqa: SLF001
        mem.spatial._walked.add((2**64, 0))  # noqa: SLF001
        before = _places_answers(mem), _places_state(mem.spatial)
    with Memory.open(path, readonly=True) as m:
        assert m.snapshot_status == "ok"
        assert (_places_answers(m), _places_state(m.spatial)) == before
        assert m.spatial._occ[(2**70, -(2**70))] == 2 and (2**64, 0) in m.spatial._walked  # noqa: SLF001
