"""Episodic memory held within a byte bound (``EpisodicMemory.fit``): under a RAM budget the items,
keys and columns of old chunks, the episode and place names used longest ago (``lt_enames``) and the
words only paged-out items used leave RAM, and recall, retention, utility and chunk reads answer
exactly as an unbudgeted memory does (also after a snapshot reopen, a full replay and a crash)."""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import textwrap
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embodied_mem import Memory, MemoryConfig, Percept, Pose, Sighting
from embodied_mem.memory import chunkcolumns, episodic, longterm
from embodied_mem.memory.chunkcolumns import ItemTexts, NameTable
from embodied_mem.memory.snapshot import _SafeUnpickler

QUERIES = ["obj 3", "cup", "obj 40 cup", "door opened", "kitchen", "obj 77 obj 78", "nothing"]


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    """Blocks of 16 chunk rows, two cold blocks of scores cached: short streams page them too."""
    monkeypatch.setattr(chunkcolumns, "BLOCK", 16)
    monkeypatch.setattr(chunkcolumns, "_MCACHED", 2)


def sizes(_mb: float) -> dict[str, int]:
    return {"temporal": 64, "poses": 64, "sightings": 64, "chunk_items": 400}


def budgeted(path=None, **kw) -> Memory:
    with mock.patch.object(longterm, "working_set_sizes", sizes):
        cfg = MemoryConfig.from_dict({"ram_budget_mb": 1, "episodic": {"max_chunk_size": 4}})
        return Memory(cfg) if path is None else Memory.open(path, config=cfg, **kw)


def plain() -> Memory:
    return Memory(MemoryConfig.from_dict({"episodic": {"max_chunk_size": 4}}))


def walk(n: int, t0: int = 0):
    """A long exploration: new places and new object labels all along (both grow with life length),
    some revisited; episodes, recalls and reinforcements between the percepts."""
    ops = []
    for i in range(t0, t0 + n):
        if i % 97 == 0:
            ops.append(("episode", None))
        if i % 31 == 5:
            ops.append(("recall", QUERIES[i % len(QUERIES)]))
        if i % 23 == 7:
            ops.append(("reinforce", (f"chunk-{(i * 7) % max(1, i // 4)}", [1.0, -0.5, 0.25][i % 3])))
        x = 12.0 * (i // 3) if i % 5 else 12.0 * ((i * 13) % (i // 3 + 1))  # mostly onwards, sometimes back
        sights = (Sighting(f"obj_{i // 4}", (x, 1.0)), Sighting("cup" if i % 2 else "key", (x, 2.0)))
        ops.append(("p", Percept(t=float(i), pose=Pose(x, 0.0), sightings=sights,
                                 events=("door opened",) if i % 11 == 0 else (),
                                 region="kitchen" if i % 7 < 3 else None)))
    return ops


def feed(mem: Memory, ops, fit: int | None = None) -> list:
    """Apply ``ops`` (with ``fit``: ``episodic.fit(fit)`` every 16 percepts); what recalls answered."""
    got = []
    for j, (kind, item) in enumerate(ops):
        if kind == "p":
            mem.observe(item)
            if fit is not None and j % 16 == 0:
                mem.episodic.fit(fit)
        elif kind == "episode":
            mem.new_episode()
        elif kind == "recall":
            got.append([repr(c) for c in mem.episodic.recall(item, k=3)])  # strengthens: state changes too
        else:
            try:
                got.append(mem.reinforce(*item))
            except KeyError as exc:
                got.append(str(exc))
    return got


def answers(mem: Memory) -> str:
    ep = mem.episodic
    out = {"stats": ep.stats(), "chunks": ep.chunks(),
           "recall": [[repr(c) for c in ep.recall(q, k=k, strengthen=False)] for q in QUERIES for k in (1, 5, 40)],
           "items": {c: [repr(i) for i in ep.chunk_items(c)] for c in ep.chunks()},
           "retention": [ep.retention(c) for c in ep.chunks()],
           "utility": [float(ep._utility[r]) for r in range(len(ep._c_t0))]}  # noqa: SLF001
    return json.dumps(out, sort_keys=True)


def assert_same(got: str, want: str) -> None:
    if got != want:
        g, w = json.loads(got), json.loads(want)
        diff = {k: (g[k], w[k]) for k in g if g[k] != w[k]}
        raise AssertionError(f"budgeted != unbudgeted in {sorted(diff)}: {str(diff)[:1500]}")


def test_fit_bounds_episodic_ram_and_answers_stay_exact():
    """A long walk with a tiny byte bound: RAM stays near the bound while the unbounded memory's
    grows with the walk (names, words, per-chunk columns), and every answer is the same."""
    ops = walk(1500)
    small, big = budgeted(), plain()
    bound = 250_000
    with mock.patch.object(chunkcolumns, "_VOCAB_MIN", 64), mock.patch.object(episodic, "_NAMES_KEPT", 32):
        assert feed(small, ops, fit=bound) == feed(big, ops)
    ep = small.episodic
    ep.fit(bound)
    assert ep.ram_bytes() <= bound * 1.25  # best effort: a chunk's worth over at most
    assert big.episodic.ram_bytes() > 1.5 * bound
    names = ep._names  # noqa: SLF001 - the paged name table
    assert names.paged and len(names._hot) < len(names)  # noqa: SLF001
    store = ep.pages.store
    assert store.execute("SELECT COUNT(*) FROM lt_enames").fetchone()[0] == names.flushed <= len(names)
    assert len(ep._i_text.vocab) < len(big.episodic._i_text.vocab) // 2  # noqa: SLF001 - words forgotten
    assert ep.in_ram()["items_in_ram"] < big.episodic.in_ram()["items_in_ram"] // 3
    cols = ep._cols  # noqa: SLF001 - scores of old chunks in lt_cmut, changed there by recall and reinforce
    assert cols.mcold >= 64 and cols.mut_nbytes < big.episodic._cols.mut_nbytes  # noqa: SLF001
    assert store.execute("SELECT COUNT(DISTINCT b), COUNT(*) FROM lt_cmut").fetchone()[0] == cols.mcold // 16
    assert_same(answers(small), answers(big))
    # changed cold blocks were written again as new versions, the superseded ones deleted (no snapshot)
    assert max(cols._mrow) > cols.mcold // 16  # noqa: SLF001
    assert store.execute("SELECT COUNT(*) FROM lt_cmut").fetchone()[0] == cols.mcold // 16
    # a place visited long ago, visited again, keeps its code (read back by name)
    n = len(names)
    again = [("p", Percept(t=2000.0 + i, pose=Pose(12.0, 0.0), sightings=(Sighting("cup", (12.0, 1.0)),)))
             for i in range(12)]
    feed(small, again, fit=bound)
    feed(big, again)
    assert len(names) <= n + 1
    assert_same(answers(small), answers(big))


def test_fit_without_a_budget_only_empties_caches_and_bad_bounds_are_refused():
    mem = plain()
    feed(mem, walk(200))
    before = answers(mem)
    mem.episodic.fit(0)
    assert mem.episodic.in_ram()["items_in_ram"] == mem.episodic.stats()["items"]
    for bad in ["1", 1.5, None, True]:
        with pytest.raises(TypeError, match="max_bytes"):
            mem.episodic.fit(bad)
    assert_same(answers(mem), before)


def test_a_larger_bound_later_lets_items_stay_in_ram_again():
    mem = budgeted()
    feed(mem, walk(300), fit=10_000)
    low = mem.episodic.in_ram()["items_in_ram"]
    feed(mem, walk(300, 300), fit=10**9)
    assert mem.episodic.in_ram()["items_in_ram"] > low + 60  # up to the pages' own cap (400 here)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.integers(50, 700), st.sampled_from([8_000, 40_000]))
def test_reopen_with_and_without_snapshot_answers_as_before(tmp_path_factory, cut, bound):
    path = tmp_path_factory.mktemp("ep") / "m.db"
    ops = walk(800)
    mem = budgeted(path)
    with mock.patch.object(longterm, "working_set_sizes", sizes):
        feed(mem, ops[:cut], fit=bound)
        mem.checkpoint()
        feed(mem, ops[cut:], fit=bound)
    before = answers(mem)
    mem.close()
    again = budgeted(path)
    assert again.snapshot_status == "ok", again.snapshot_status
    assert again.episodic._cols.mcold > 0  # noqa: SLF001 - scores of old chunks came back through lt_cmut
    assert_same(answers(again), before)
    feed(again, walk(100, 800), fit=bound)  # continues: new names get new codes, old ones read back
    after = answers(again)
    again.close()
    os.unlink(str(path) + ".snapshot")
    full = budgeted(path)
    assert_same(answers(full), after)
    full.close()


CRASH = textwrap.dedent("""
    import os, sys
    from unittest import mock
    sys.path.insert(0, sys.argv[3])
    from embodied_mem.memory import chunkcolumns
    from test_episodic_paging import budgeted, feed, walk
    chunkcolumns.BLOCK, chunkcolumns._MCACHED = 16, 2
    mem = budgeted(sys.argv[1])
    ops = walk(int(sys.argv[2]))
    feed(mem, ops[:300], fit=8000)
    mem.checkpoint()
    feed(mem, ops[300:], fit=8000)
    os._exit(0)  # a crash: lt_enames / lt_chunks rows written after the checkpoint stay in the file
""")


def test_crash_after_checkpoint_leaves_no_stray_name_rows(tmp_path):
    path = tmp_path / "m.db"
    subprocess.run([sys.executable, "-c", CRASH, str(path), "700", os.path.dirname(__file__)], check=True, timeout=300)
    big = plain()
    feed(big, walk(700))
    mem = budgeted(path)
    assert mem.snapshot_status == "ok" and mem.replayed_entries > 0
    assert_same(answers(mem), answers(big))
    store = mem.episodic.pages.store
    codes = [c for (c,) in store.execute("SELECT code FROM lt_enames ORDER BY code")]
    assert codes == list(range(len(codes))) and len(codes) == mem.episodic._names.flushed  # noqa: SLF001
    mem.close()


def test_a_damaged_or_crafted_name_row_is_refused_with_a_clear_error():
    mem = budgeted()
    with mock.patch.object(episodic, "_NAMES_KEPT", 8):
        feed(mem, walk(400), fit=8000)
    ep = mem.episodic
    names = ep._names  # noqa: SLF001
    cold, other = [c for c in range(len(names)) if c not in names._hot][:2]  # noqa: SLF001
    ep.pages.store.execute("UPDATE lt_enames SET name=X'00' WHERE code=?", (cold,))
    with pytest.raises(RuntimeError, match="lt_enames"):
        names[cold]
    ep.pages.store.execute("UPDATE lt_enames SET name='place:x', code=-5 WHERE code=?", (other,))
    with pytest.raises(RuntimeError, match="lt_enames"):
        names.code("place:x")
    with pytest.raises(IndexError):
        names[len(names)]


def test_the_name_table_in_a_snapshot_unpickles_and_nothing_else_does():
    t = NameTable()
    for w in ["a", "b", "a", "c"]:
        t.code(w)
    back = _SafeUnpickler(io.BytesIO(pickle.dumps(t, protocol=5))).load()
    assert [back[i] for i in range(len(back))] == ["a", "b", "c"] and back.code("b") == 1
    t._hot[7] = _Boom()  # noqa: SLF001 - a crafted state: a callable where a name belongs
    with pytest.raises(pickle.UnpicklingError, match="may not contain"):
        _SafeUnpickler(io.BytesIO(pickle.dumps(t, protocol=5))).load()


class _Boom:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.lists(st.integers(0, 9000), min_size=1, max_size=6), st.integers(0, 40)),
                max_size=60))
def test_vocabulary_compaction_keeps_every_text_exact(batches):
    texts, want = ItemTexts(), []
    for words, drop in batches:
        batch = [" ".join(f"w{w + k}" for w in words) for k in range(20)]
        texts.extend(batch)
        want += batch
        k = min(drop, len(want))
        texts.drop(k)
        del want[:k]
        assert texts.get(0, len(want)) == want
        assert len(texts.vocab) <= max(4096, 2 * len(set(" ".join(want).split(" ")))) + 6 * 20
