"""Task generators: deterministic per seed, well-formed batches, dances told apart by two frames."""

from __future__ import annotations

import numpy as np
import pytest

from embodied_mem.encoders.tasks import DANCES, RoomBallet, make_task


def test_every_dance_has_its_own_set_of_one_step_moves() -> None:
    moves = {}
    for name, seq in DANCES.items():
        moves[name] = {(seq[i], seq[(i + 1) % len(seq)]) for i in range(len(seq))}
        assert len(seq) == 8
    names = list(DANCES)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not moves[a] & moves[b], (a, b)


def test_room_ballet_is_deterministic_per_seed() -> None:
    t = RoomBallet()
    a = t.batch(np.random.default_rng(3), 4, 18, "place", 4)
    b = t.batch(np.random.default_rng(3), 4, 18, "place", 4)
    c = t.batch(np.random.default_rng(4), 4, 18, "place", 4)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["obs"], c["obs"])


def test_room_ballet_batch_shapes_and_contents() -> None:
    t = RoomBallet(rows=2, cols=2, steps=20)
    b = t.batch(np.random.default_rng(0), 8, 10, "fifo", 4)
    assert b["obs"].shape == (8, 10, 7, 7, 3) and b["obs"].dtype == np.float32
    assert t.observation_space.contains(b["obs"][0, 0])
    assert b["mask"].all()  # 20 steps fill a 10-slot memory
    assert (b["obs"][..., 0].reshape(80, -1).sum(1) == 1).all()  # the dancer is always in view
    assert ((0 <= b["target"]) & (b["target"] < 8)).all()
    assert b["time"].max() == 19 and b["query_time"][0] == 20
    assert set(b["query_place_id"].tolist()) <= set(range(4))


def test_room_ballet_query_rooms_were_visited() -> None:
    t = RoomBallet()
    rng = np.random.default_rng(1)
    ep_rng = np.random.default_rng(1)
    b = t.batch(rng, 16, 72, "place", 4)  # full memory: every visited room is in it
    for i in range(16):
        assert b["query_place_id"][i] in set(b["place_id"][i][b["mask"][i]].tolist())
    assert ep_rng is not None


def test_bad_task_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="rooms"):
        RoomBallet(rows=1, cols=1)
    with pytest.raises(ValueError, match="unknown encoder task"):
        make_task("ballet")


def test_crafter_place_recall_batch_from_a_real_crafter_walk() -> None:
    pytest.importorskip("crafter")
    from embodied_mem.encoders.tasks import CRAFTER_CLASSES, CrafterPlaceRecall

    t = CrafterPlaceRecall(steps=16, walks=1, walk_length=40, seed=0)
    b = t.batch(np.random.default_rng(0), 4, 8, "place", 4)
    assert b["obs"].shape == (4, 8, 7, 9)
    assert t.observation_space.contains(b["obs"][0, 0])
    assert b["target"].shape == (4, len(CRAFTER_CLASSES))
    assert (b["target"].sum(1) >= 1).all()  # something (grass at least) is always in view
    walk = t.data()[0]
    assert (walk["view"][:, 3, 4] == 13).all()  # the player stands at the centre of its own view


def test_held_out_crafter_worlds_differ_from_training_worlds() -> None:
    from embodied_mem.encoders.tasks import CrafterPlaceRecall

    t = CrafterPlaceRecall(steps=16, walks=4, walk_length=40, seed=3)
    h = t.heldout()
    assert h.seed != t.seed and h.steps == t.steps and h.place_cell == t.place_cell
    train_seeds = {t.seed * 1000 + i for i in range(t.walks)}
    assert not train_seeds & {h.seed * 1000 + i for i in range(h.walks)}
