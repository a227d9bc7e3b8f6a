"""Shared helpers of the RAM-budget tests: a budgeted memory with tiny working sets beside an
unbudgeted one, fed the same operations, must answer identically (in every world, after a
snapshot reopen, a full replay and a read-only open).

Test files import the helpers (``from .conftest import budgeted, feed, ...``); each passes its own
``answers`` function (what it compares) and working-set sizes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from unittest import mock

from embodied_mem import Memory, MemoryConfig
from embodied_mem.memory import longterm

# working sets of a few items: almost everything is paged out
TINY_SIZES = {"temporal": 4, "poses": 3, "sightings": 4, "beliefs": 2, "cells": 3, "chunk_items": 3}

Answers = Callable[[Memory], str]


def sizes_of(sizes: Mapping[str, int]) -> Callable[[float], dict[str, int]]:
    """A stand-in for ``longterm.working_set_sizes`` that gives ``sizes`` at any budget."""
    return lambda _mb: dict(sizes)


def tiny_working_sets(sizes: Mapping[str, int] = TINY_SIZES) -> Any:
    """Context manager: memories made (and worlds entered) inside get working sets of ``sizes``."""
    return mock.patch.object(longterm, "working_set_sizes", sizes_of(sizes))


def budgeted(path: Path | None = None, *, sizes: Mapping[str, int] | None = TINY_SIZES,
             config: Mapping[str, Any] | None = None, encoder: Any = None, **open_kw: Any) -> Memory:
    """A memory with ``ram_budget_mb=1`` (plus ``config``), in RAM or opened at ``path`` (``open_kw``
    go to ``Memory.open``), its working sets ``sizes`` (None: whatever ``working_set_sizes`` is now,
    e.g. patched by a fixture)."""
    cfg = MemoryConfig.from_dict({"ram_budget_mb": 1, **(config or {})})
    with (tiny_working_sets(sizes) if sizes is not None else _nothing()):
        if path is None:
            return Memory(cfg, encoder=encoder)
        return Memory.open(path, config=cfg, encoder=encoder, **open_kw)


def unbudgeted(config: Mapping[str, Any] | None = None, encoder: Any = None) -> Memory:
    """The same memory without a budget (everything in RAM)."""
    return Memory(MemoryConfig.from_dict(dict(config or {})), encoder=encoder)


def feed(mem: Memory, ops: Iterable[tuple[str, Any]]) -> list:
    """Apply ``ops``: ("p", Percept), ("episode", None), ("world", id), ("recall", query: recall and
    retrieve, both strengthening), ("reinforce", (chunk number, reward)). Returns what the recalls
    and reinforcements answered (a KeyError's text for an unknown chunk)."""
    got: list = []
    for kind, item in ops:
        if kind == "p":
            mem.observe(item)
        elif kind == "episode":
            mem.new_episode()
        elif kind == "world":
            mem.enter_world(item)
        elif kind == "recall":
            got.append([repr(c) for c in mem.episodic.recall(item, k=3)])
            got.append([repr(c) for c in mem.retrieve(f"where is the {item}?").episodic])
        elif kind == "reinforce":
            try:
                got.append(mem.reinforce(f"chunk-{item[0]}", item[1]))
            except KeyError as exc:
                got.append(str(exc))
        else:
            raise ValueError(f"unknown operation {kind!r}")
    return got


def assert_same(got: str, want: str) -> None:
    """Equal answers (JSON texts); on a difference, name the first queries that differ."""
    if got != want:
        g, w = json.loads(got), json.loads(want)
        diff = {k: (g.get(k), w.get(k)) for k in sorted(set(g) | set(w)) if g.get(k) != w.get(k)}
        raise AssertionError(f"budgeted != unbudgeted in {sorted(diff)}: {str(diff)[:1500]}")


def fed_pair(ops: list, small: Memory, plain: Memory) -> tuple[Memory, Memory]:
    """Feed ``ops`` to both memories; what their recalls and reinforcements answered must match."""
    assert feed(small, ops) == feed(plain, ops)
    return small, plain


def same_in_every_world(small: Memory, plain: Memory, *answers: Answers, twice: bool = False) -> None:
    """In every world the unbudgeted memory knows (re-entered in both: leaving and coming back brings
    paged memories back), each ``answers`` function gives the same text for both memories (``twice``:
    and again, after the first queries paged things in and out). Closes both."""
    try:
        for w in [None, *plain.worlds()]:
            if w is not None:
                plain.enter_world(w)
                small.enter_world(w)
            for _ in range(2 if twice else 1):
                for fn in answers:
                    assert_same(fn(small), fn(plain))
    finally:
        small.close()
        plain.close()


def reopens_answer_as_before(path: Path, open_budgeted: Callable[..., Memory], before: Mapping[str, str],
                             *, readonly: bool = True, replayed: bool = False) -> None:
    """A closed budgeted memory at ``path`` answers ``before`` (answers function -> its text there)
    when reopened from its snapshot, by a full replay (snapshot deleted) and, with ``readonly``,
    read-only (pages in a scratch file). ``open_budgeted(path, **kw)`` opens it. ``replayed``: the
    full replay must have replayed journal entries."""
    again = open_budgeted(path)
    try:
        assert again.snapshot_status == "ok", again.snapshot_status
        for fn, want in before.items():
            assert_same(fn(again), want)
    finally:
        again.close()
    os.unlink(str(path) + ".snapshot")
    full = open_budgeted(path)
    try:
        assert full.replayed_entries > 0 or not replayed
        for fn, want in before.items():
            assert_same(fn(full), want)
    finally:
        full.close()
    if readonly:
        ro = open_budgeted(path, readonly=True)
        try:
            for fn, want in before.items():
                assert_same(fn(ro), want)
        finally:
            ro.close()


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None
