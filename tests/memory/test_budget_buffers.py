"""A RAM budget also bounds what lives outside the modules: the journal's batch buffer and SQLite's
page cache scale down with ``memory.ram_budget_mb`` (never above their defaults), and what the
smaller buffer acknowledges still survives a reopen."""

from __future__ import annotations

from embodied_mem import Memory, Percept, Pose, Sighting
from embodied_mem.memory import longterm
from embodied_mem.memory.config import MemoryConfig


def test_budget_sizes_grow_with_the_budget_up_to_the_defaults():
    assert longterm.journal_batch_rows(1) == 256 and longterm.cache_kib(1) == 256
    assert longterm.journal_batch_rows(16) < longterm.journal_batch_rows(256) <= 10_000
    assert longterm.journal_batch_rows(1e6) == 10_000 and longterm.cache_kib(1e6) == 2000
    assert longterm.journal_batch_rows(1e6, default=500) == 500


def _cache_kib(mem: Memory) -> int:
    return -mem._store.conn.execute("PRAGMA cache_size").fetchone()[0]  # noqa: SLF001 - the store's own connection


def test_a_budget_bounds_the_batch_buffer_and_the_page_cache(tmp_path):
    with Memory.open(tmp_path / "a.db", durability="batch") as m:
        assert m._store.batch_size == 10_000 and _cache_kib(m) == 2000  # noqa: SLF001 - defaults, no budget
    cfg = MemoryConfig.from_dict({"ram_budget_mb": 16})
    with Memory.open(tmp_path / "b.db", config=cfg, durability="batch") as m:
        assert m._store.batch_size == longterm.journal_batch_rows(16) < 10_000  # noqa: SLF001
        assert _cache_kib(m) == longterm.cache_kib(16) < 2000


def test_the_smaller_buffer_is_written_as_it_fills_and_survives_reopen(tmp_path):
    cfg = MemoryConfig.from_dict({"ram_budget_mb": 1})
    n = longterm.journal_batch_rows(1) + 10
    path = tmp_path / "m.db"
    m = Memory.open(path, config=cfg, durability="batch")
    for i in range(n):
        m.observe(Percept(t=float(i), pose=Pose(i * 0.5, 0.0), sightings=(Sighting(f"l{i % 7}", (i * 0.5, 1.0)),)))
    assert len(m._store._pending) == n - longterm.journal_batch_rows(1)  # noqa: SLF001 - one batch already written
    ro = Memory.open(path, readonly=True)  # another reader sees the written batch before any flush
    assert ro.spatial.stats()["sightings"] == longterm.journal_batch_rows(1)
    ro.close()
    answers = [m.spatial.locate(f"l{j}") for j in range(7)]
    m.close()
    with Memory.open(path, config=cfg) as again:
        assert [again.spatial.locate(f"l{j}") for j in range(7)] == answers
        assert again.spatial.stats()["sightings"] == n
