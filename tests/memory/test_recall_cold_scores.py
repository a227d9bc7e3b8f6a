"""Recall under a RAM budget reads the paged-out scores (strength, last access, utility in
``lt_cmut``) only of chunks that could still be in the top k, and answers exactly as a memory
without a budget: long walks with recalls that strengthen old chunks, reinforcements (utilities of
both signs) and every k from 1 to 40, on small blocks so that short walks page their scores."""

from __future__ import annotations

from unittest import mock

import pytest

from embodied_mem import Memory, MemoryConfig, Percept, Pose, Sighting
from embodied_mem.memory import chunkcolumns, episodic, longterm
from embodied_mem.memory.chunkcolumns import ChunkColumns
from embodied_mem.memory.episodic import EpisodicMemory

QUERIES = ["cup", "red cup", "obj 3", "key kitchen", "door opened", "obj 12 cup", "nothing here"]


def _sizes(_mb: float) -> dict[str, int]:
    return {"temporal": 64, "poses": 64, "sightings": 64, "chunk_items": 200}


def _memory(budget: bool) -> Memory:
    cfg = {"episodic": {"max_chunk_size": 2}}
    if not budget:
        return Memory(MemoryConfig.from_dict(cfg))
    with mock.patch.object(longterm, "working_set_sizes", _sizes):
        return Memory(MemoryConfig.from_dict(cfg | {"ram_budget_mb": 1}))


def _walk(seed: int, n: int) -> list:
    import random

    rng = random.Random(seed)
    ops, t = [], 0.0
    for i in range(n):
        t += rng.choice([0.0, 1.0, 1.0, 3.0])  # time sometimes stands still: retention ties
        if rng.random() < 0.02:
            ops.append(("recall", rng.choice(QUERIES), rng.choice([1, 3])))  # strengthens old chunks too
        if rng.random() < 0.03:
            ops.append(("reinforce", f"chunk-{rng.randrange(max(1, i // 3))}", rng.choice([2.0, -1.0, 0.5])))
        label = rng.choice(["cup", "key", f"obj_{rng.randrange(30)}"])
        sights = (Sighting(label, (float(i % 40), 1.0)),)
        ops.append(("p", Percept(t=t, pose=Pose(float(i % 40), 0.0),
                                 sightings=sights, events=("door opened",) if i % 13 == 0 else (),
                                 region="kitchen" if i % 9 < 4 else "hall")))
    return ops


def _feed(mem: Memory, ops: list) -> list:
    got = []
    for op in ops:
        if op[0] == "p":
            mem.observe(op[1])
        elif op[0] == "recall":
            got.append([repr(c) for c in mem.episodic.recall(op[1], k=op[2])])
        else:
            try:
                got.append(mem.reinforce(op[1], op[2]))
            except KeyError as exc:
                got.append(str(exc))
    return got


@pytest.mark.parametrize("seed", range(3))
def test_recall_with_paged_scores_equals_recall_without_a_budget(seed: int, monkeypatch) -> None:
    monkeypatch.setattr(chunkcolumns, "BLOCK", 16)  # blocks of 16 rows' scores, 2 cached: short walks page them
    monkeypatch.setattr(chunkcolumns, "_MCACHED", 2)
    monkeypatch.setattr(episodic, "_BLOCK", 8)  # retention bounds per 8 rows: old blocks' bounds fall apart
    small, big = _memory(True), _memory(False)
    ops = _walk(seed, 1500)
    assert _feed(small, ops) == _feed(big, ops)
    small.episodic.fit(60_000)  # the scores of most old chunks out to lt_cmut
    assert small.episodic._cols.mcold > 200  # noqa: SLF001 - the paged part of the score columns
    reads = []
    real, real_many = ChunkColumns._mblock, ChunkColumns._mblocks

    def counted(self, b):  # noqa: ANN001, ANN202
        reads.append(b)
        return real(self, b)

    def counted_many(self, bs):  # noqa: ANN001, ANN202
        reads.extend(bs)
        return real_many(self, bs)

    monkeypatch.setattr(ChunkColumns, "_mblock", counted)
    monkeypatch.setattr(ChunkColumns, "_mblocks", counted_many)
    for q in QUERIES:
        for k in (1, 3, 10, 40):
            assert [repr(c) for c in small.episodic.recall(q, k=k, strengthen=False)] == \
                [repr(c) for c in big.episodic.recall(q, k=k, strengthen=False)], (q, k)
    # strengthening recalls change paged scores, then the same answers again
    for q in QUERIES[:3]:
        assert [repr(c) for c in small.episodic.recall(q, k=5)] == [repr(c) for c in big.episodic.recall(q, k=5)]
    for q in QUERIES:
        assert [repr(c) for c in small.episodic.recall(q, k=10, strengthen=False)] == \
            [repr(c) for c in big.episodic.recall(q, k=10, strengthen=False)], q
    # fewer cold blocks read than when every candidate's scores are read
    def blocks_read() -> int:
        reads.clear()
        for q in QUERIES:
            small.episodic.recall(q, k=3, strengthen=False)
        return len(reads)

    lazy = blocks_read()
    monkeypatch.setattr(EpisodicMemory, "_rank_cold_last", lambda self, *a: EpisodicMemory._rank(self, *a, cold_last=False))
    eager = blocks_read()
    assert lazy < eager, (lazy, eager)  # (how many fewer depends on the utilities: their bound is shared)


def test_scores_of_paged_rows_equal_the_three_gathers(monkeypatch) -> None:
    """``scores_of`` over rows in many cold blocks (more than the LRU holds, some changed in the cache
    and not yet written, one row twice, hot rows among them) gives what ``gather`` gives column by
    column, and reads each cold block not cached in one statement."""
    import numpy as np

    monkeypatch.setattr(chunkcolumns, "BLOCK", 16)
    monkeypatch.setattr(chunkcolumns, "_MCACHED", 2)
    lt = longterm.LongTermStore(1)
    cols = ChunkColumns(longterm.Pages(lt, 64))
    for r in range(200):
        cols.append(float(r), r + 0.5, 0, -1, r + 1, 1.0 + r % 7, float(r * 3 % 11), (r % 5) - 2.0)
    cols.page_out_mut(160)
    assert cols.mcold == 160
    cols.set("strength", 5, 9.5)  # block 0 changed in the cache (dirty), then pushed out by later reads
    cols.set("utility", 150, -7.0)
    rng = np.random.default_rng(0)
    statements = []
    lt.conn.set_trace_callback(statements.append)
    for _ in range(20):
        rows = rng.integers(0, 200, size=int(rng.integers(1, 40)))
        rows[0] = rows[-1]
        want = (cols.gather("last", rows), cols.gather("strength", rows), cols.gather("utility", rows))
        statements.clear()
        got = cols.scores_of(rows)
        for g, w in zip(got, want):
            assert g.dtype == np.float64 and np.array_equal(g, w)
        assert sum("lt_cmut WHERE rowid IN" in s for s in statements) <= 1
        assert not [s for s in statements if "lt_cmut WHERE rowid=" in s]
    assert cols.get("strength", 5) == 9.5 and cols.get("utility", 150) == -7.0
    lt.close()
