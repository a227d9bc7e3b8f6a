"""The journal's percept payload (``percept.journal_dict``, what ``MemoryStore`` journals for each
observed percept) encodes to exactly the bytes ``Percept.to_dict()`` gives, for every shape of
percept: files written now are the files written before (same rows, same checksums), and they
replay to equal percepts."""

from __future__ import annotations

import random
import sqlite3

import numpy as np
import pytest

from embodied_mem import Memory, Percept, Pose, Sighting
from embodied_mem.percept import View, journal_dict, percept_from_journal
from embodied_mem.store import MemoryStore, decode_row, encode_payload


def _percept(rng: random.Random, t: float) -> Percept:
    """A percept using a random subset of every field a percept can have."""
    pose = Pose(rng.uniform(-50, 50), rng.uniform(-50, 50), rng.choice([0.0, 1.5]), rng.uniform(-3, 3)) \
        if rng.random() < 0.8 else None
    sightings = []
    for _ in range(rng.randrange(0, 6)):
        pos = (rng.uniform(-9, 9), rng.uniform(-9, 9)) if rng.random() < 0.3 else \
            (rng.uniform(-9, 9), rng.uniform(-9, 9), rng.uniform(0, 2))
        sightings.append(Sighting(rng.choice(["cup", "tree", "key_3", "Bäume"]), pos,
                                  instance=rng.choice([None, None, "k1", "kÿ"]),
                                  confidence=rng.choice([1.0, 1.0, 0.25, 0.0, 1])))
    view = None
    r = rng.random()
    if r < 0.2:
        view = View.disc((rng.uniform(-5, 5), 1.0), 3.5)
    elif r < 0.4:
        view = View.rect(-1.0, -2.0, 3.0, 4.0)
    elif r < 0.6 and pose is not None:
        view = View.cone(pose, 4.0, 1.2)
    elif r < 0.7:
        view = View.disc((0.0, 0.0), 5.0).without([(1.0, 1.0), (2.0, -1.0)], radius=0.5)
    cells = lambda: np.array([[rng.uniform(-3, 3), rng.uniform(-3, 3)] for _ in range(rng.randrange(0, 4))])  # noqa: E731
    return Percept(
        t=t, pose=pose, sightings=tuple(sightings), view=view,
        events=tuple(rng.sample(["collected wood", "door opened", "ate"], rng.randrange(0, 3))),
        region=rng.choice([None, "kitchen"]), source=rng.choice(["default", "cam1"]),
        free=cells() if rng.random() < 0.3 else None, blocked=cells() if rng.random() < 0.3 else None,
        action=rng.choice([None, "do"]), target=rng.choice([None, "tree"]),
    )


def test_the_payload_encodes_to_the_bytes_of_to_dict_for_every_shape_of_percept():
    rng = random.Random(7)
    for i in range(400):
        p = _percept(rng, float(i))
        d = journal_dict(p)
        assert list(d) == list(p.to_dict())  # same keys, same order
        blob = encode_payload(d)
        assert blob == encode_payload(p.to_dict()), p
        assert percept_from_journal(decode_row("percept", 0.0, blob)) == p


def test_the_sqlite_store_journals_the_payload_and_other_stores_get_to_dict():
    assert MemoryStore.percept_payload is journal_dict


@pytest.mark.parametrize("batched", [False, True])
def test_observed_percepts_are_journaled_as_before_and_replay_equal(tmp_path, batched):
    rng = random.Random(3)
    ps = [_percept(rng, float(i)) for i in range(120)]
    path = tmp_path / "m.db"
    with Memory.open(path, durability="batch") as mem:
        if batched:
            mem.observe_many(ps)
        else:
            for p in ps:
                mem.observe(p)
        live = mem.stats()
    c = sqlite3.connect(path)
    rows = c.execute("SELECT payload FROM journal WHERE kind='percept' ORDER BY seq").fetchall()
    c.close()
    assert [r[0] for r in rows] == [encode_payload(p.to_dict()) for p in ps]  # what earlier versions wrote
    with Memory.open(path, readonly=True) as again:
        assert again.stats() == live
