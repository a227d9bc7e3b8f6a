"""``spatial.path``: no cutting corners, and the segments the agent walked count as known free."""

from __future__ import annotations

from pathlib import Path

import pytest

from embodied_mem import Memory, Percept, Pose
from embodied_mem.memory import MemoryConfig


def _mem(connectivity: int = 8, **spatial: object) -> Memory:
    return Memory(config=MemoryConfig.from_dict({"spatial": {"connectivity": connectivity, **spatial}}))


def _steps(path: list) -> list[tuple[int, int]]:
    return [(round(b[0] - a[0]), round(b[1] - a[1])) for a, b in zip(path, path[1:])]


@pytest.mark.parametrize("blocked", [[(1, 0, 0), (0, 1, 0)], [(1, 0, 0)], [(0, 1, 0)]])
def test_a_diagonal_step_needs_both_side_cells_free(blocked: list) -> None:
    m = _mem()
    free = [(x, y, 0) for x in range(3) for y in range(3) if (x, y, 0) not in blocked]
    m.observe(Percept(t=0.0, pose=Pose(0, 0, 0), free=free, blocked=blocked))
    path = m.spatial.path((0, 0, 0), (1, 1, 0))
    if len(blocked) == 2:
        assert path is None  # the only way is between two blocked cells
    else:
        assert path is not None and (1, 1) not in _steps(path)  # around the corner, not across it
        assert all(abs(dx) + abs(dy) == 1 for dx, dy in _steps(path))
    open_m = _mem()
    open_m.observe(Percept(t=0.0, pose=Pose(0, 0, 0), free=[(x, y, 0) for x in range(3) for y in range(3)]))
    assert open_m.spatial.path((0, 0, 0), (1, 1, 0)) == [(0.0, 0.0, 0.0), (1.0, 1.0, 0.0)]  # diagonal when free


def test_no_path_diagonal_squeezes_past_walls_in_a_bigger_grid() -> None:
    # a wall with a diagonal gap of touching corners: 8-connectivity must not slip through
    m = _mem()
    wall = [(x, 2 - x, 0) for x in range(-3, 6)] + [(x, 3 - x, 0) for x in range(-3, 6)]
    free = [(x, y, 0) for x in range(-3, 6) for y in range(-3, 6) if (x, y, 0) not in wall]
    m.observe(Percept(t=0.0, pose=Pose(0, 0, 0), free=free, blocked=wall))
    assert m.spatial.path((0, 0, 0), (3, 3, 0)) is None


@pytest.mark.parametrize("connectivity", [4, 8])
def test_a_walked_segment_is_a_path_even_without_free_cells(connectivity: int, tmp_path: Path) -> None:
    # the hall-to-kitchen walk whose views did not overlap: only the two pose cells were ever marked
    with Memory.open(tmp_path / "m.db", config=MemoryConfig.from_dict({"spatial": {"connectivity": connectivity}})) as m:
        m.observe(Percept(t=0.0, pose=Pose(3, 4, 0), region="kitchen"))
        m.observe(Percept(t=1.0, pose=Pose(9, 6, 0), region="hall"))
        path = m.spatial.path((9, 6, 0), (3, 4, 0))
        assert path is not None and path[0] == (9.0, 6.0, 0.0) and path[-1] == (3.0, 4.0, 0.0)
        assert all(max(abs(dx), abs(dy)) == 1 for dx, dy in _steps(path))
        assert all(3 <= p[0] <= 9 and 4 <= p[1] <= 6 for p in path)  # along the walk, not anywhere
        assert m.spatial.occupancy((6, 5, 0)) == "unknown"  # walked cells are not claimed as observed
    with Memory.open(tmp_path / "m.db", readonly=True) as again:  # rebuilt from the journal
        assert again.spatial.path((9, 6, 0), (3, 4, 0)) == path


def test_a_walked_cell_observed_blocked_later_is_not_a_path() -> None:
    m = _mem(4)
    m.observe(Percept(t=0.0, pose=Pose(0, 0, 0)))
    m.observe(Percept(t=1.0, pose=Pose(4, 0, 0)))
    assert m.spatial.path((0, 0, 0), (4, 0, 0)) is not None
    m.observe(Percept(t=2.0, pose=Pose(4, 0, 0), blocked=[(2, 0, 0)]))  # a door closed behind the agent
    assert m.spatial.path((0, 0, 0), (4, 0, 0)) is None


def test_resets_and_jumps_are_not_walks() -> None:
    m = _mem(4, place_radius=3.0)
    m.observe(Percept(t=0.0, pose=Pose(0, 0, 0)))
    m.observe(Percept(t=1.0, pose=Pose(20, 0, 0)))  # 20 > 4 * place_radius: a teleport, not a walk
    assert m.spatial.path((0, 0, 0), (20, 0, 0)) is None
    m.new_episode()
    m.observe(Percept(t=2.0, pose=Pose(20, 4, 0)))  # a new episode starts somewhere else
    assert m.spatial.path((20, 0, 0), (20, 4, 0)) is None
    m.observe(Percept(t=3.0, pose=Pose(22, 4, 0)))
    assert m.spatial.path((20, 4, 0), (22, 4, 0)) is not None


def test_the_longest_walked_step_is_configurable() -> None:
    m = _mem(4, walk_max_step=1.5)
    m.observe(Percept(t=0.0, pose=Pose(0, 0, 0)))
    m.observe(Percept(t=1.0, pose=Pose(1, 0, 0)))
    m.observe(Percept(t=2.0, pose=Pose(3, 0, 0)))  # a 2-cell step: more than 1.5
    assert m.spatial.path((0, 0, 0), (1, 0, 0)) is not None
    assert m.spatial.path((1, 0, 0), (3, 0, 0)) is None


def test_walks_split_the_trajectory_at_resets_and_jumps() -> None:
    m = _mem(4, place_radius=1.0)
    for t, x in enumerate([0, 1, 2, 30, 31]):  # 28 > 4 * place_radius: a teleport
        m.observe(Percept(t=float(t), pose=Pose(x, 0, 0)))
    m.new_episode()
    m.observe(Percept(t=9.0, pose=Pose(32, 0, 0)))  # a new episode: a new walk even one step away
    assert [[p.x for _, p in w] for w in m.spatial.walks()] == [[0, 1, 2], [30, 31], [32]]
    assert sum(len(w) for w in m.spatial.walks()) == len(m.spatial.trajectory())


class _EveryWalkedCell(set):
    """The walked set as it was before known cells left it: every cell walked, never removed."""

    def difference_update(self, *cells: object) -> None:
        return None


def _old_walk(self, a, b) -> bool:  # noqa: ANN001 - the rule before: every walked cell into the set
    import math

    from embodied_mem.memory.spatial import _seg_dist, cell_key

    if a is None:
        return False
    d = math.hypot(b.x - a.x, b.y - a.y)
    limit = self.config.walk_max_step
    if d > (4.0 * self.config.place_radius if limit is None else limit):
        return False
    if d == 0.0:
        return True
    n = max(1, math.ceil(d / self._cs * 4))
    prev = self._cell(a.x, a.y)
    self._walked.add(cell_key(*prev))
    for k in range(1, n + 1):
        c = self._cell(a.x + (b.x - a.x) * k / n, a.y + (b.y - a.y) * k / n)
        if c == prev:
            continue
        if c[0] != prev[0] and c[1] != prev[1]:
            side1, side2 = (c[0], prev[1]), (prev[0], c[1])
            self._walked.add(cell_key(*min((side1, side2), key=lambda q: _seg_dist(self.cell_center(q), a, b))))
        self._walked.add(cell_key(*c))
        prev = c
    return True


def test_walked_cells_that_become_known_answer_paths_as_when_every_walked_cell_was_kept() -> None:
    """Walked cells already known (or observed later) are not kept in the walked set (their state
    decides): every path answer is the one of a memory that keeps every walked cell."""
    from unittest import mock

    import numpy as np

    from embodied_mem.memory.spatial import SpatialMemory

    rng = np.random.default_rng(11)
    new = _mem(connectivity=8, walk_max_step=6.0)
    with mock.patch.object(SpatialMemory, "_walk", _old_walk):
        old = _mem(connectivity=8, walk_max_step=6.0)
        old.spatial._walked = _EveryWalkedCell()  # noqa: SLF001 - the reference rule
        x = y = 0.0
        found = []
        for t in range(400):
            x, y = float(np.clip(x + rng.normal(0, 1.6), -9, 9)), float(np.clip(y + rng.normal(0, 1.6), -9, 9))
            free = rng.integers(-10, 11, (int(rng.integers(0, 4)), 2)).astype(float) if t % 3 == 0 else None
            blocked = rng.integers(-10, 11, (int(rng.integers(0, 3)), 2)).astype(float) if t % 4 == 0 else None
            p = Percept(t=float(t), pose=Pose(x, y), free=free, blocked=blocked)
            new.observe(p)
            old.observe(p)
            if t % 50 == 49:
                pts = [tuple(q) for q in rng.integers(-10, 11, (12, 2)).astype(float)]
                for a, b in zip(pts, pts[1:]):
                    for adj in (False, True):
                        got = new.spatial.path(a, b, adjacent=adj)
                        assert got == old.spatial.path(a, b, adjacent=adj)
                        found.append(got is not None and len(got) > 3)
    assert any(found) and not all(found)  # long paths and no paths among the answers
    assert len(new.spatial._walked) < len(old.spatial._walked)  # noqa: SLF001 - the point: fewer kept
