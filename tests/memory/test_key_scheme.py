"""Hashed-word keys never cancel (key scheme 2, unsigned slots): a query of words always encodes to a
non-zero key ("blue spoon" did not under scheme 1, whose signed slots cancelled), every stored chunk
is recalled by each of its words, and a memory file written by the code of scheme 1 still opens and
answers: its snapshot (keys of the old scheme) is refused and the journal replayed with new keys.

``python tests/memory/test_key_scheme.py --write DIR`` writes the old-scheme fixture
(``data/hashing_scheme1.db`` and its snapshot) when run with the code of scheme 1."""

from __future__ import annotations

import pickle
import random
import shutil
import sys
import zlib
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from embodied_mem import Memory, Percept, Pose, Sighting
from embodied_mem.graph import MemoryGraph
from embodied_mem.memory.config import EpisodicConfig
from embodied_mem.memory.episodic import EpisodicMemory
from embodied_mem.memory.featurize import HashingFeaturizer, tokens
from embodied_mem.memory.snapshot import snapshot_path

FIXTURE = Path(__file__).with_name("data") / "hashing_scheme1.db"


def signed_slot(word: str, dim: int) -> tuple[int, int]:
    """Where scheme 1 put a token: its CRC-32 slot and hashed sign."""
    h = zlib.crc32(word.encode())
    return h % dim, 1 if (h >> 31) & 1 else -1


def cancelling_pairs(dim: int, n_words: int, seed: int) -> list[tuple[str, str]]:
    """Pairs of random words that scheme 1 put in one slot with opposite signs (their sum was zero)."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = {"".join(rng.choice(letters) for _ in range(rng.randint(4, 9))) for _ in range(n_words)}
    by_slot: dict[int, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for w in sorted(words):
        if tokens(w) != [w]:  # stopwords and plural stems left out: the pair must be two tokens
            continue
        slot, sign = signed_slot(w, dim)
        by_slot[slot][sign].append(w)
    return [(s[1][i], s[-1][i]) for s in by_slot.values() for i in range(min(len(s[1]), len(s[-1])))]


def test_blue_spoon_encodes_and_recalls():
    assert signed_slot("blue", 256)[0] == signed_slot("spoon", 256)[0]  # one slot: scheme 1 cancelled them
    assert signed_slot("blue", 256)[1] != signed_slot("spoon", 256)[1]
    key = HashingFeaturizer(256).encode(["blue spoon"])[0]
    assert key.any() and np.isclose(np.linalg.norm(key), 1.0)
    mem = Memory()
    mem.observe(Percept(t=0, pose=Pose(0, 0), region="kitchen", sightings=[Sighting("blue_spoon", (1, 0))]))
    mem.observe(Percept(t=1, pose=Pose(10, 0), region="hall", sightings=[Sighting("red_cup", (11, 0))]))
    for query in ("blue spoon", "where is the blue spoon?", "spoon", "blue"):
        got = mem.episodic.recall(query, k=3)
        assert [c.id for c in got] == ["chunk-0"], query
        assert got[0].items[0].text == "kitchen blue_spoon"


@pytest.mark.parametrize("dim", [8, 64, 256])
def test_no_random_pair_of_words_cancels(dim):
    """Every pair scheme 1 cancelled (found by a randomized search) now encodes to a key positive in
    their slot, and any text's key is positive in the slot of each of its tokens."""
    pairs = cancelling_pairs(dim, 4000, seed=dim)
    assert len(pairs) > 50  # the search finds what it looks for
    f = HashingFeaturizer(dim)
    keys = f.encode([f"{a} {b}" for a, b in pairs])
    for (a, b), key in zip(pairs, keys):
        slot = signed_slot(a, dim)[0]
        assert key[slot] > 0 and np.isclose(np.linalg.norm(key), 1.0), (a, b)
    rng = random.Random(dim)
    vocab = [w for pair in pairs for w in pair]
    for _ in range(300):
        words = rng.sample(vocab, rng.randint(1, 12))
        key = f.encode([" ".join(words)])[0]
        assert all(key[signed_slot(w, dim)[0]] > 0 for w in words), words


def test_every_chunk_is_recalled_by_each_of_its_words():
    """Chunks of random words, many of them pairs that cancelled under scheme 1: recalling a word
    returns every chunk that holds it (and only those), whichever the other words."""
    pairs = cancelling_pairs(256, 6000, seed=7)
    rng = random.Random(7)
    graph = MemoryGraph()
    ep = EpisodicMemory(graph, EpisodicConfig())
    holds: dict[str, set[str]] = defaultdict(set)
    for i in range(300):
        chosen = rng.sample(pairs, 3)
        words = [w for pair in chosen for w in pair] + [f"unique{i}x"]
        rng.shuffle(words)
        ep.observe(Percept(t=i, sightings=[Sighting(w, (i, 0)) for w in words]), i, f"place-{i}", 0.0)
        for w in words:
            holds[w].add(f"chunk-{i}")
    ep.new_episode(300.0)  # closes the last chunk
    for w, chunk_ids in holds.items():
        got = ep.recall(w, k=len(chunk_ids) + 5, strengthen=False)
        assert {c.id for c in got} == chunk_ids, w
    for a, b in pairs[:100]:  # a cancelling pair as the query: the chunks holding either word
        want = holds.get(a, set()) | holds.get(b, set())
        got = ep.recall(f"{a} {b}", k=len(want) + 5, strengthen=False)
        assert {c.id for c in got} == want, (a, b)


def test_a_featurizer_pickled_before_key_schemes_keeps_its_scheme():
    """Keys pickled beside a scheme-1 featurizer stay comparable with its queries: it keeps signing."""
    f = HashingFeaturizer(256)
    state = {k: v for k, v in pickle.loads(pickle.dumps(f.__getstate__())).items() if k != "scheme"}
    old = HashingFeaturizer.__new__(HashingFeaturizer)
    old.__setstate__(state)
    assert old.scheme == 1 and not old.encode(["blue spoon"]).any()
    new = pickle.loads(pickle.dumps(f))
    assert new.scheme == 2 and new.encode(["blue spoon"]).any()


def feed(mem: Memory) -> None:
    """The fixture's percepts (also how the old-scheme file was written): rooms with objects, some
    chunks holding words that cancelled under scheme 1."""
    rooms = ["kitchen", "hall", "bedroom", "garage"]
    objects = ["blue_spoon", "red_cup", "spoon", "blue_plate", "key", "knife", "pillow", "lamp"]
    rng = random.Random(3)
    for t in range(120):
        room = rooms[(t // 3) % 4]
        seen = rng.sample(objects, 2)
        mem.observe(Percept(t=t, pose=Pose(10 * ((t // 3) % 4), t % 3), region=room,
                            sightings=[Sighting(o, (10 * ((t // 3) % 4) + 1, t % 3)) for o in seen]))


QUERIES = ["blue spoon", "spoon", "blue", "red cup", "where is the key?", "lamp in the garage", "knife pillow"]


def recall_answers(mem: Memory) -> list:
    return [[(c.id, round(c.score, 9), [it.text for it in c.items]) for c in mem.episodic.recall(q, k=5, strengthen=False)]
            for q in QUERIES]


@pytest.mark.parametrize("budget", [None, 1.0])
def test_a_memory_file_of_the_old_scheme_opens_and_answers(tmp_path, budget):
    """A memory file and snapshot written by the code of scheme 1 (``data/hashing_scheme1.db``): the
    snapshot is refused (its keys are of the old scheme), the journal replayed with new keys; recall
    then answers as a memory fed the same percepts now, "blue spoon" included; the snapshot written
    at close is of the new scheme and used at the next open."""
    path = tmp_path / "m.db"
    shutil.copy(FIXTURE, path)
    shutil.copy(snapshot_path(FIXTURE), snapshot_path(path))
    fresh = Memory({"ram_budget_mb": budget} if budget else None)
    feed(fresh)
    want = recall_answers(fresh)
    assert want[0] and all(want)
    cfg = None if budget is None else {"ram_budget_mb": budget}
    with Memory.open(path, readonly=True, config=cfg) as m:
        if budget is None:  # (with a budget given here, other settings refuse the snapshot anyway;
            # a later snapshot format refuses it before its encoder is looked at)
            assert m.snapshot_status == "snapshot made with other memory settings or another key encoder" or (
                m.snapshot_status.startswith("snapshot format 5, "))
        assert m.replayed_entries > 0 and recall_answers(m) == want
    with Memory.open(path, config=cfg) as m:  # a writer: replays, then snapshots with the new keys
        assert m.replayed_entries > 0 and recall_answers(m) == want
    with Memory.open(path, config=cfg) as m:
        assert m.snapshot_status == "ok" and m.replayed_entries == 0
        assert recall_answers(m) == want


if __name__ == "__main__":  # write the fixture (run with the code whose scheme it should hold)
    if len(sys.argv) != 3 or sys.argv[1] != "--write":
        sys.exit("usage: python tests/memory/test_key_scheme.py --write DIR")
    out = Path(sys.argv[2]) / FIXTURE.name
    with Memory.open(out) as m:
        feed(m)
    print(out, out.stat().st_size, snapshot_path(out).stat().st_size)
