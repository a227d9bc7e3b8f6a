"""Occupancy cells keyed by one int (``cell_key``): the key is exact and total (every pair of ints,
however far out, has its own key and comes back from it), and every occupancy answer is the one of
a plain tuple-keyed model, wherever in the plane the agent is: the same stream shifted across the
int / tuple boundary (2**30 cells) or far past it answers the same, shifted."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from embodied_mem import Memory, MemoryConfig, Percept, Pose
from embodied_mem.memory.spatial import cell_key, key_cell

_EDGES = [0, 1, -1, 2**30 - 2, 2**30 - 1, 2**30, 2**30 + 1, -(2**30) + 1, -(2**30), -(2**30) - 1,
          2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**32, -(2**32), 2**62, -(2**63), 2**63, 2**70, -(2**70)]


def test_cell_key_is_exact_and_one_to_one_on_extreme_and_negative_cells() -> None:
    cells = list(itertools.product(_EDGES, _EDGES))
    rng = np.random.default_rng(5)
    cells += [(int(a), int(b)) for a, b in rng.integers(-(2**31), 2**31, (2000, 2))]
    cells += [(int(a), int(b)) for a, b in rng.integers(-(2**40), 2**40, (2000, 2))]
    cells += [(x + dx, y + dy) for x, y in cells[:400] for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1))]
    keys = {}
    for c in cells:
        k = cell_key(*c)
        assert key_cell(k) == c and type(key_cell(k)[0]) is int
        assert keys.setdefault(k, c) == c, f"cells {keys[k]} and {c} share key {k!r}"
        assert hash(k) == hash(cell_key(*c))  # the same key each time (a dict finds it)
    assert isinstance(cell_key(2**30 - 1, -(2**30) + 1), int) and isinstance(cell_key(2**30, 0), tuple)



def test_cell_keys_of_snapshot_columns_equal_cell_key_one_by_one() -> None:
    """A reopen keys the occupancy cells of a snapshot's x / y columns in one numpy expression when
    they all lie within the int-key range, else one by one: either way exactly ``cell_key``'s keys."""
    from array import array

    from embodied_mem.memory.spatial import _cell_keys

    rng = np.random.default_rng(9)
    inside = [(int(a), int(b)) for a, b in rng.integers(-(2**30) + 1, 2**30, (3000, 2))]
    inside += [(a, b) for a in _EDGES for b in _EDGES if abs(a) < 2**30 and abs(b) < 2**30]
    mixed = inside + [(a, b) for a in _EDGES for b in _EDGES if -(2**63) <= a < 2**63 and -(2**63) <= b < 2**63]
    for cells in (inside, mixed, inside[:1], []):
        x, y = array("q", [c[0] for c in cells]), array("q", [c[1] for c in cells])
        got = _cell_keys(x, y)
        want = [cell_key(*c) for c in cells]
        assert got == want and [type(k) for k in got] == [type(k) for k in want]
    with pytest.raises(ValueError):
        _cell_keys(array("q", [1, 2]), array("q", [1]))

def _stream(seed: int, n: int = 300) -> list[tuple[float, float, np.ndarray | None, np.ndarray | None]]:
    """Integer poses (a random walk, sometimes a jump) and integer free / blocked points."""
    rng = np.random.default_rng(seed)
    x = y = 0
    out = []
    for t in range(n):
        if t % 97 == 50:
            x, y = x + 40, y - 30  # a jump: a new walk
        x, y = int(np.clip(x + rng.integers(-3, 4), -60, 60)), int(np.clip(y + rng.integers(-3, 4), -60, 60))
        free = (rng.integers(-4, 5, (int(rng.integers(0, 10)), 2)) + (x, y)) if t % 2 == 0 else None
        blocked = (rng.integers(-5, 6, (int(rng.integers(0, 4)), 2)) + (x, y)) if t % 3 == 0 else None
        out.append((x, y, free, blocked))
    return out


CS = 1 / 64  # cell size (m): 2**35 cells stay within the 1e9 m percepts allow, and positions are exact


def _feed(mem: Memory, stream: list, sx: int, sy: int, t0: float = 0.0) -> None:
    """``stream`` (in cells) shifted by (sx, sy) cells, in metres."""
    for t, (x, y, free, blocked) in enumerate(stream):
        mem.observe(Percept(t=t0 + t, pose=Pose((x + sx) * CS, (y + sy) * CS),
                            free=None if free is None else (free + (sx, sy)) * CS,
                            blocked=None if blocked is None else (blocked + (sx, sy)) * CS))


def _model(stream: list) -> tuple[dict[tuple[int, int], int], set[tuple[int, int]]]:
    """Occupancy and frontier by the documented rule, tuple-keyed: the latest percept decides a
    cell, blocked beats free within one, the pose cell is free; a frontier cell is a known free cell
    with an unknown 4-neighbour."""
    occ: dict[tuple[int, int], int] = {}
    for x, y, free, blocked in stream:
        for c in ([] if free is None else map(tuple, free.tolist())):
            occ[c] = 1
        for c in ([] if blocked is None else map(tuple, blocked.tolist())):
            occ[c] = 2
        occ[(x, y)] = 1
    fr = {(x, y) for (x, y), v in occ.items() if v == 1
          and any(n not in occ for n in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)))}
    return occ, fr


def _answers(mem: Memory, stream: list, sx: int, sy: int) -> list:
    sp = mem.spatial
    cells, vals = sp.occupancy_cells()
    rng = np.random.default_rng(9)
    pts = [((a + sx) * CS, (b + sy) * CS) for a, b in rng.integers(-70, 71, (60, 2)).tolist()]
    poses = [((x + sx) * CS, (y + sy) * CS) for x, y, _, _ in stream[::37]]

    def back(ps: list | None) -> list | None:  # cell centres (m) -> cells, unshifted
        return None if ps is None else [(round(p[0] / CS) - sx, round(p[1] / CS) - sy) for p in ps]

    return [
        sorted(((int(a) - sx, int(b) - sy), int(v)) for (a, b), v in zip(cells.tolist(), vals.tolist())),
        sp.n_known_cells,
        [sp.occupancy(p) for p in pts],
        back(sp.frontiers()),
        [back(sp.frontiers(near=p, limit=7)) for p in pts[:10]],
        sorted((i - sx, j - sy) for i, j in map(key_cell, sp._walked)),  # noqa: SLF001 - walked cells
        [back(sp.path(a, b)) for a, b in zip(poses, poses[1:])],
        [back(sp.path(a, b, adjacent=True)) for a, b in zip(poses[1:], poses)],
    ]


@pytest.mark.parametrize("shift", [(2**30 - 40, -(2**30) + 40), (2**31, 3), (-(2**35), 2**35), (5, -(2**33))])
def test_occupancy_answers_equal_a_tuple_model_and_do_not_depend_on_where_the_cells_are(shift) -> None:
    """Near the origin (int keys, key arithmetic) the answers are the tuple model's; the same stream
    straddling 2**30 cells (both kinds of key, both paths) or far past it answers the same, shifted."""
    cfg = MemoryConfig.from_dict({"spatial": {"cell_size": CS, "connectivity": 8, "walk_max_step": 5 * CS}})
    for seed in (1, 2):
        stream = _stream(seed)
        near = Memory(config=cfg)
        _feed(near, stream, 0, 0)
        occ, fr = _model(stream)
        got = _answers(near, stream, 0, 0)
        assert got[0] == sorted(occ.items()) and got[1] == len(occ)
        assert got[3] == sorted(fr)
        far = Memory(config=cfg)
        _feed(far, stream, *shift)
        assert _answers(far, stream, *shift) == got
        assert any(p is not None and len(p) > 3 for p in got[6]) and got[5]  # long paths, walked cells


def test_cells_past_the_int_range_survive_a_snapshot(tmp_path) -> None:
    """Cells keyed by their tuple (past 2**30 cells) and by an int come back from a snapshot alike."""
    cfg = MemoryConfig.from_dict({"spatial": {"cell_size": CS, "walk_max_step": 5 * CS}})
    path = tmp_path / "m.db"
    stream = _stream(3, 120)
    with Memory.open(path, config=cfg) as mem:
        _feed(mem, stream, 0, 0)
        mem.new_episode()
        _feed(mem, stream, 2**30 - 30, 2**35, t0=1000.0)
        before = _answers(mem, stream, 0, 0), _answers(mem, stream, 2**30 - 30, 2**35)
    with Memory.open(path, config=cfg, readonly=True) as m:
        assert m.snapshot_status == "ok"
        assert (_answers(m, stream, 0, 0), _answers(m, stream, 2**30 - 30, 2**35)) == before
