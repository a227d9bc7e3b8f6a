"""Fuzz suite over Memory.observe, the store and reopen, with a small fixed budget (issue 18).

The longer run with the reliability table is ``benchmarks/fuzz.py``; both use the generators and the
oracle in ``embodied_mem/bench/fuzz.py``. A failure here prints the input hypothesis found."""

from __future__ import annotations

import random
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embodied_mem.bench.fuzz import (
    DAMAGES,
    Oracle,
    check_damaged_open,
    copy_memory,
    damage_file,
    make_memory,
    percept_dicts,
)

BUDGET = settings(max_examples=60, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))


@BUDGET
@given(st.lists(percept_dicts(), min_size=1, max_size=12))
def test_observe_refuses_cleanly_and_reopen_answers_the_same(tmp_path_factory, batch):
    oracle = Oracle(tmp_path_factory.mktemp("fuzz") / "m.db", time_limit_s=20)
    for d in batch:
        oracle.feed(d)
    oracle.finish()
    bad = {k: oracle.counts[k] for k in ("crashed", "hung", "state_changed", "lost") if oracle.counts[k]}
    assert not bad, (bad, oracle.examples)


@settings(max_examples=40, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(st.lists(percept_dicts(), min_size=1, max_size=8))
def test_batch_mode_loses_nothing_flushed_on_close(tmp_path_factory, batch):
    oracle = Oracle(tmp_path_factory.mktemp("fuzz") / "m.db", time_limit_s=20, durability="batch")
    for d in batch:
        oracle.feed(d)
    oracle.finish()
    assert not any(oracle.counts[k] for k in ("crashed", "hung", "state_changed", "lost")), oracle.examples


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    d = tmp_path_factory.mktemp("templates")
    out = []
    for crash in (False, True):
        path = d / f"t{int(crash)}.db"
        out.append((path, make_memory(path, 30, seed=7, crash=crash)))
    return out


@pytest.mark.parametrize("kind", DAMAGES)
@pytest.mark.parametrize("crash", [False, True])
def test_damaged_files_open_or_are_refused_naming_the_file(tmp_path, templates, kind, crash):
    rng = random.Random(zlib.crc32(f"{kind}{crash}".encode()))
    src, n = templates[int(crash)]
    for i in range(4):
        path = tmp_path / f"d{i}.db"
        copy_memory(src, path)
        done = damage_file(path, rng, kind)
        outcome, why = check_damaged_open(path, n)
        if done == "truncate_wal" and outcome == "lost":
            continue  # a WAL cut short is what a power cut leaves: undetectable (see bench/fuzz.py)
        assert outcome in ("accepted", "refused"), (done, outcome, why)
