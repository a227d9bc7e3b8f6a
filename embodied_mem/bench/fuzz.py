"""Hostile-input harness for memory: generators of hostile percepts and damaged files, and the oracle.

Used by the CI fuzz tests (``tests/fuzz``, a small fixed budget) and by ``benchmarks/fuzz.py`` (a
longer run that prints the reliability table). Needs ``hypothesis`` (a dev dependency), imported
only when a strategy is built.

Outcomes, per input:

- ``accepted``: observed (or the damaged file opened) without error;
- ``refused``: one of the library's ``ValueError``/``TypeError`` subclasses (``PerceptError``,
  ``PerceptTypeError``, ``TimeOrderError``; ``StoreError`` for files), whose messages name the
  field or the file — and nothing changed (journal rows, percept count, answers); a bare
  ``ValueError``/``TypeError`` (which names nothing) counts as ``crashed``;
- ``crashed``: any other exception; ``hung``: over the time limit (``SIGALRM``);
- ``state_changed``: refused, but the journal or the answers changed anyway;
- ``lost``: after close and reopen, an acknowledged percept is missing or an answer differs
  (for damaged files: it opened without a word but holds fewer percepts than before the damage);
- ``undetectable`` (damaged files only): the WAL was cut short. The file is then exactly what a
  power cut before the WAL reached the disk leaves (``synchronous="normal"``): SQLite keeps the
  commits before the cut, and nothing in the files can tell that more existed.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import signal
import sqlite3
import warnings
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from ..memory import Memory, TimeOrderError
from ..percept import Percept, PerceptError, PerceptTypeError
from ..store import StoreError

__all__ = ["percept_dicts", "Oracle", "answers", "damage_file", "check_damaged_open", "make_memory", "copy_memory",
           "Hung", "time_limit", "OUTCOMES", "DAMAGES"]

_NAMED_REFUSALS = (PerceptError, PerceptTypeError, TimeOrderError, StoreError)
OUTCOMES = ("tried", "accepted", "refused", "crashed", "hung", "state_changed", "lost", "undetectable")
LABELS = ["key", "tree", "apple", "door", "cup"]


class Hung(Exception):
    """An input ran past its time limit."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise ``Hung`` in the main thread after ``seconds`` (SIGALRM; a no-op in other threads)."""
    import threading

    if threading.current_thread() is not threading.main_thread() or seconds <= 0:
        yield
        return

    def fire(signum: int, frame: Any) -> None:
        raise Hung(f"over {seconds:g} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# ------------------------------------------------------------------ generators
def percept_dicts() -> Any:
    """A hypothesis strategy of percept dicts for ``Percept.from_dict``: mostly plausible, with
    hostile values mixed in everywhere (NaN/inf, 1e200, 10**400, bools, numeric strings, bytes,
    Decimals, lone surrogates, NUL, over-long text, huge views, wrong shapes, unknown fields)."""
    from hypothesis import strategies as st

    hostile_num = st.one_of(
        st.sampled_from([math.nan, math.inf, -math.inf, 1e200, -1e200, 1e10, 10**400, -(10**400), True, False,
                         "1.0", b"1", Decimal("1.5"), None, [1.0], 1j, np.float64(np.nan), np.int64(3)]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(min_value=-(10**30), max_value=10**30),
    )
    num = st.one_of(st.floats(-50, 50, allow_nan=False), st.integers(-50, 50))
    any_num = st.one_of(num, num, num, hostile_num)
    time_ = st.one_of(st.floats(0, 1e6, allow_nan=False), hostile_num)
    label = st.one_of(st.sampled_from(LABELS), st.sampled_from(LABELS), st.sampled_from(LABELS),
                      st.text(min_size=0, max_size=12), st.text(max_size=3).map(lambda s: s + "\x00"),
                      st.just("k\udcff"), st.just("x" * 300), st.just("  "), st.integers(), st.none(),
                      st.binary(max_size=4))
    point = st.one_of(st.lists(num, min_size=2, max_size=3), st.lists(any_num, min_size=0, max_size=4),
                      st.just("1,2"), any_num)
    sighting = st.fixed_dictionaries(
        {"label": label, "position": point},
        optional={"instance": st.one_of(st.sampled_from(["k1", "k2"]), label),
                  "confidence": st.one_of(st.floats(0, 1), hostile_num, st.just(1.5))})
    radius = st.one_of(st.floats(0, 20), st.sampled_from([1e4, 1e7, 1e9, 1e12, -1.0]), hostile_num)
    view = st.one_of(
        st.fixed_dictionaries({"kind": st.just("disc"), "center": point, "radius": radius}),
        st.fixed_dictionaries({"kind": st.just("rect"), "xmin": st.one_of(num, st.just(-1e9), hostile_num),
                               "ymin": st.one_of(num, st.just(-1e9)), "xmax": st.one_of(num, st.just(1e9)),
                               "ymax": st.one_of(num, st.just(1e9), hostile_num)}),
        st.fixed_dictionaries({"kind": st.just("cone"), "x": num, "y": num, "yaw": any_num, "radius": radius,
                               "fov": st.one_of(st.floats(0.1, 6.3), hostile_num)}),
        st.fixed_dictionaries({"kind": st.just("masked"),
                               "base": st.fixed_dictionaries({"kind": st.just("disc"), "center": point,
                                                              "radius": radius}),
                               "holes": st.lists(st.lists(any_num, min_size=2, max_size=2), max_size=4),
                               "hole_radius": st.one_of(st.floats(0, 2), hostile_num)}),
        st.fixed_dictionaries({"kind": st.sampled_from(["blob", None, 3])}),
    )
    cells = st.one_of(st.lists(st.lists(num, min_size=2, max_size=2), max_size=6),
                      st.lists(st.lists(any_num, min_size=0, max_size=3), max_size=3), st.just("free"), st.just([]))
    pose = st.one_of(st.fixed_dictionaries({"x": num, "y": num}, optional={"z": num, "yaw": any_num}),
                     st.fixed_dictionaries({"x": any_num, "y": any_num}), st.just({"x": 1}), st.just({"q": 1}))
    text = st.one_of(st.sampled_from(["collected wood", "ate the apple", "door opened"]), label,
                     st.just("y" * 5000), st.just("two\nlines"))
    clean_point = st.lists(num, min_size=2, max_size=3)
    clean = st.fixed_dictionaries(
        # the oracle turns dt into t = clock + dt; one in ten is late (from another source, or refused)
        {"dt": st.integers(0, 9).flatmap(lambda i: st.floats(-2, 0) if i == 0 else st.floats(0, 10))},
        optional={"source": st.sampled_from(["a", "b", "c"]),
                  "pose": st.fixed_dictionaries({"x": num, "y": num}, optional={"yaw": st.floats(-4, 4)}),
                  "sightings": st.lists(st.fixed_dictionaries(
                      {"label": st.sampled_from(LABELS), "position": clean_point},
                      optional={"instance": st.sampled_from(["k1", "k2"]), "confidence": st.floats(0, 1)}),
                      max_size=5),
                  "view": st.one_of(
                      st.fixed_dictionaries({"kind": st.just("disc"), "center": clean_point,
                                             "radius": st.one_of(st.floats(0, 20), st.sampled_from([1e7, 1e9]))}),
                      st.just({"kind": "rect", "xmin": -1e9, "ymin": -1e9, "xmax": 1e9, "ymax": 1e9})),
                  "events": st.lists(st.sampled_from(["collected wood", "ate the apple", "two\nlines"]), max_size=2),
                  "region": st.sampled_from(["kitchen", "hall"]),
                  "free": st.lists(st.lists(num, min_size=2, max_size=2), max_size=6),
                  "blocked": st.lists(st.lists(num, min_size=2, max_size=2), max_size=6),
                  "action": st.sampled_from(["do", "move"]), "target": st.sampled_from(LABELS)})
    hostile = st.fixed_dictionaries(
        {"t": time_},
        optional={"source": st.one_of(st.sampled_from(["a", "b"]), label), "pose": pose,
                  "sightings": st.one_of(st.lists(sighting, max_size=5), st.just("key"), st.just({"label": "x"})),
                  "view": view, "events": st.one_of(st.lists(text, max_size=3), st.just("e")),
                  "region": st.one_of(st.sampled_from(["kitchen", "hall"]), label), "free": cells,
                  "blocked": cells, "action": label, "target": label})
    unknown_field = hostile.map(lambda d: {**d, "bogus": 1})
    mix = [clean, clean, clean, hostile, hostile, unknown_field]  # one_of would merge the repeats
    return st.integers(0, len(mix) - 1).flatmap(lambda i: mix[i])


# ------------------------------------------------------------------ oracle
def answers(mem: Memory) -> str:
    """What a user would ask, as one comparable string (stats, locate, last seen, between, facts)."""
    out: dict[str, Any] = {"stats": {k: v for k, v in mem.stats().items() if not k.startswith("episodic.keys")}}
    for lbl in sorted(mem.temporal.labels())[:20]:
        out[f"locate {lbl}"] = [repr(x) for x in mem.spatial.locate(lbl)]
        out[f"last {lbl}"] = mem.temporal.last_seen(lbl)
        out[f"count {lbl}"] = mem.temporal.count(lbl)
    out["between"] = [repr(e) for e in mem.temporal.between(-1e15, 1e15, limit=50)]
    out["trajectory"] = len(mem.spatial.trajectory())
    out["known_cells"] = mem.spatial.n_known_cells
    return json.dumps(out, sort_keys=True, default=repr)


def _rows(path: Path) -> int:
    c = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return c.execute("SELECT COUNT(*) FROM journal").fetchone()[0]
    finally:
        c.close()


class Oracle:
    """Feeds percept dicts to one file-backed memory and classifies each outcome (``counts``).

    ``finish()`` closes, reopens and compares answers: a difference or a missing percept is ``lost``.
    ``examples`` keeps one input per bad outcome (crashed, hung, state_changed, lost)."""

    def __init__(self, path: str | Path, time_limit_s: float = 10.0, durability: str = "percept") -> None:
        self.path = Path(path)
        self.limit = time_limit_s
        self.mem = Memory.open(self.path, durability=durability)
        self.counts: Counter[str] = Counter({k: 0 for k in OUTCOMES})
        self.examples: dict[str, str] = {}
        self.refusals: Counter[str] = Counter()
        self.clock = 0.0

    def _bad(self, kind: str, what: str) -> None:
        self.counts[kind] += 1
        self.examples.setdefault(kind, what[:500])

    def feed(self, d: Any) -> str:
        """Observe ``d`` (a percept dict); returns the outcome."""
        self.counts["tried"] += 1
        if isinstance(d, dict) and "dt" in d:  # a plausible percept: time mostly moves on
            d = dict(d)
            t = self.clock + d.pop("dt")
            self.clock = max(self.clock, t)
            d["t"] = t
        mem = self.mem
        before = (mem.stats()["percepts"], mem._store.next_seq if mem._store else 0)  # noqa: SLF001
        try:
            with time_limit(self.limit):
                p = Percept.from_dict(d)
                mem.observe(p)
                self.clock = max(self.clock, p.t)  # plausible percepts go on from the newest time
        except Hung as exc:
            self._bad("hung", f"{exc}: {d!r}")
            return "hung"
        except (ValueError, TypeError) as exc:
            after = (mem.stats()["percepts"], mem._store.next_seq if mem._store else 0)  # noqa: SLF001
            if after != before:
                self._bad("state_changed", f"{exc}: {d!r}")
                return "state_changed"
            msg = str(exc)
            if not isinstance(exc, _NAMED_REFUSALS):  # a bare ValueError/TypeError names no field
                self._bad("crashed", f"unnamed refusal {type(exc).__name__}: {exc}: {d!r}")
                return "crashed"
            self.refusals[msg.split(" ")[0][:40]] += 1
            self.counts["refused"] += 1
            return "refused"
        except Exception as exc:  # noqa: BLE001 - a crash is what this counts
            self._bad("crashed", f"{type(exc).__name__}: {exc}: {d!r}")
            return "crashed"
        self.counts["accepted"] += 1
        return "accepted"

    def finish(self) -> None:
        mem = self.mem
        want = answers(mem)
        n = mem.stats()["percepts"]
        mem.close()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # a replay that skips rows would be a loss here
                with time_limit(max(self.limit, 60)):
                    again = Memory.open(self.path, readonly=True)
        except Exception as exc:  # noqa: BLE001
            self._bad("lost", f"reopen failed: {type(exc).__name__}: {exc}")
            return
        try:
            got = answers(again)
            if again.stats()["percepts"] != n or got != want or _rows(self.path) < n:
                self._bad("lost", f"after reopen: {n} percepts before, {again.stats()['percepts']} after; answers "
                                  f"{'equal' if got == want else 'differ'}")
        finally:
            again.close()


# ------------------------------------------------------------------ damaged files
DAMAGES = ("flip_db", "flip_wal", "truncate_db", "truncate_wal", "garbage_tail", "bad_row", "drop_table",
           "zero_page", "swap_pages")


def damage_file(path: Path, rng: random.Random, kind: str) -> str:
    """Damage a memory file (closed, or with a WAL after a crash) in one of ``DAMAGES`` ways."""
    wal = Path(f"{path}-wal")
    if kind in ("flip_wal", "truncate_wal") and not (wal.exists() and wal.stat().st_size > 32):
        kind = "flip_db"
    target = wal if kind in ("flip_wal", "truncate_wal") else path
    data = bytearray(target.read_bytes())
    if kind in ("flip_db", "flip_wal"):
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
    elif kind in ("truncate_db", "truncate_wal"):
        data = data[:rng.randrange(len(data))]
    elif kind == "garbage_tail":
        data += bytes(rng.randrange(256) for _ in range(rng.randint(1, 5000)))
    elif kind == "zero_page" and len(data) >= 8192:
        p = rng.randrange(1, len(data) // 4096)
        data[p * 4096:(p + 1) * 4096] = bytes(4096)
    elif kind == "swap_pages" and len(data) >= 3 * 4096:
        a, b = rng.sample(range(1, len(data) // 4096), 2)
        pa, pb = data[a * 4096:(a + 1) * 4096], data[b * 4096:(b + 1) * 4096]
        data[a * 4096:(a + 1) * 4096], data[b * 4096:(b + 1) * 4096] = pb, pa
    elif kind in ("bad_row", "drop_table"):
        c = sqlite3.connect(path)
        try:
            if kind == "drop_table":
                c.execute(rng.choice(["DROP TABLE journal", "DROP TABLE meta", "ALTER TABLE journal RENAME TO j2"]))
            else:
                payload = rng.choice(['{"t":NaN}', "{", "[]", '{"t":1e999}', '"x"', "null", '{"t":"1"}',
                                      '{"t":1,"sightings":[{"label":"k","position":[1e300,0,0]}]}',
                                      '{"t":1,"sightings":7}', "{" * 100_000,
                                      # MessagePack (schema 2): an array, a cut map, t=NaN, deep nesting, junk
                                      b"\x93\x01\x02\x03", b"\xde\xff\xff", b"\x81\xa1t\xcb\x7f\xf8" + bytes(6),
                                      b"\x91" * 100_000, bytes(rng.randrange(256) for _ in range(40))])
                rec = rng.choice([1.0, None, "x", float("nan"), 1e308])
                kind_col = rng.choice(["percept", "episode", "strengthen", "reinforce", "assert", "zzz", None])
                seq = rng.choice([c.execute("SELECT MAX(seq) FROM journal").fetchone()[0] or 0, 1, -5])
                with contextlib.suppress(sqlite3.Error):
                    c.execute("INSERT OR REPLACE INTO journal VALUES (?, ?, ?, ?)", (seq, kind_col, rec, payload))
            c.commit()
        finally:
            c.close()
        return kind
    target.write_bytes(bytes(data))
    return kind


def check_damaged_open(path: Path, n_before: int, limit_s: float = 20.0) -> tuple[str, str]:
    """Open a damaged file (for writing, then read-only); classify: ``accepted`` (opened, and any
    missing percepts were reported), ``refused`` (a ``StoreError`` naming the file, and the writer
    lock released), ``crashed``, ``hung`` or ``lost`` (opened silently with fewer percepts)."""
    import fcntl

    for readonly in (False, True):
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                with time_limit(limit_s):
                    mem = Memory.open(path, readonly=readonly)
            try:
                n = mem.stats()["percepts"]
                reported = bool(mem.replay_problems) or any("damaged" in str(w.message) for w in caught)
            finally:
                mem.close()
            if n < n_before and not reported:
                return "lost", f"opened silently with {n} of {n_before} percepts (readonly={readonly})"
        except Hung as exc:
            return "hung", str(exc)
        except StoreError as exc:
            if str(path) not in str(exc):
                return "crashed", f"StoreError without the file name: {exc}"
            if not readonly:
                fd = os.open(path, os.O_RDWR)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    fcntl.flock(fd, fcntl.LOCK_UN)
                except BlockingIOError:
                    return "crashed", f"writer lock leaked after: {exc}"
                finally:
                    os.close(fd)
            return "refused", str(exc)
        except Exception as exc:  # noqa: BLE001
            return "crashed", f"{type(exc).__name__}: {exc}"
    return "accepted", ""


def make_memory(path: Path, n: int, seed: int, crash: bool) -> int:
    """A small memory of ``n`` percepts at ``path``; ``crash=True`` kills the writing process
    (``os._exit``) so that the WAL is left as a SIGKILL leaves it. Returns ``n``."""
    import subprocess
    import sys

    code = f"""
import os, random
from embodied_mem import Memory, Percept
rng = random.Random({seed})
mem = Memory.open({str(path)!r})
for i in range({n}):
    mem.observe(Percept.from_dict({{"t": i, "pose": {{"x": rng.uniform(-5, 5), "y": rng.uniform(-5, 5)}},
        "sightings": [{{"label": rng.choice({LABELS!r}), "position": [rng.uniform(-5, 5), rng.uniform(-5, 5)]}}],
        "events": ["step"] if i % 5 == 0 else []}}))
if {crash!r}:
    os._exit(0)
mem.close()
"""
    subprocess.run([sys.executable, "-c", code], check=True)
    return n


def copy_memory(src: Path, dst: Path) -> None:
    """Copy a memory file with its WAL (if any), as bytes."""
    import shutil

    for suffix in ("", "-wal"):
        if Path(f"{src}{suffix}").exists():
            shutil.copyfile(f"{src}{suffix}", f"{dst}{suffix}")
