"""Key encoders for episodic memory and place recognition."""

from __future__ import annotations

import numpy as np
import pytest

from embodied_mem import Memory, Percept, Pose, Sighting
from embodied_mem.encoders import key_encoder
from embodied_mem.memory.config import EpisodicConfig
from embodied_mem.memory.featurize import HashingFeaturizer


def test_hashing_and_unknown_names() -> None:
    enc = key_encoder("hashing", EpisodicConfig(key_dim=64))
    assert isinstance(enc, HashingFeaturizer) and enc.dim == 64
    with pytest.raises(ValueError, match="episodic.encoder"):
        key_encoder("word2vec", EpisodicConfig())


def _walk(rng: np.random.Generator, n: int, offset: float = 0.0) -> tuple[list[str], np.ndarray]:
    """Synthetic label-bag walk: place k (x = 10k) shows labels of its own kind."""
    kinds = [["tree", "water"], ["stone", "coal"], ["sand", "water", "cow"], ["tree", "cow"], ["lava", "stone"]]
    texts, pos = [], []
    for _ in range(n):
        k = int(rng.integers(len(kinds)))
        words = [w for w in kinds[k] for _ in range(int(rng.integers(1, 4)))]
        texts.append(" ".join(words))
        pos.append((10.0 * k + offset, 0.0))
    return texts, np.asarray(pos)


@pytest.fixture(scope="module")
def learned(tmp_path_factory: pytest.TempPathFactory):
    pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    from embodied_mem.encoders.keys import PlaceTransformerKeys, train_place_keys

    rng = np.random.default_rng(0)
    enc = train_place_keys([_walk(rng, 120)], steps=30, batch_size=16, d_model=16, dim=16, seed=0, progress=False)
    path = enc.save(tmp_path_factory.mktemp("keys") / "k")
    return PlaceTransformerKeys.load(path), path, enc


def test_learned_keys_are_unit_vectors_and_round_trip(learned) -> None:
    loaded, _, enc = learned
    texts = ["tree water water", "stone coal", "unseen words here", ""]
    a, b = enc.encode(texts), loaded.encode(texts)
    assert a.shape == (4, 16) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.linalg.norm(a[:3], axis=1), 1.0, atol=1e-5)
    assert not a[3].any()  # no tokens -> zero key (never recalled)
    with pytest.raises(TypeError):
        enc.encode("tree")


def _percepts() -> list[Percept]:
    ps = []
    for t in range(30):
        x = 0.0 if t < 15 else 20.0
        labels = ["tree", "water"] if t < 15 else ["stone", "coal"]
        ps.append(Percept(t=float(t), pose=Pose(x, 0.0), sightings=tuple(Sighting(lab, (x + 1, 0.0)) for lab in labels)))
    return ps


def test_memory_uses_the_place_transformer_checkpoint(learned) -> None:
    _, path, _ = learned
    mem = Memory({"episodic": {"encoder": "place_transformer", "encoder_checkpoint": str(path)}})
    for p in _percepts():
        mem.observe(p)
    assert mem.episodic.encoder.dim == 16
    got = mem.episodic.recall("stone coal", k=1)
    assert got and got[0].place == mem.spatial.place_of((20.0, 0.0)).id
    with pytest.raises(FileNotFoundError, match="has no model.safetensors"):
        Memory({"episodic": {"encoder": "place_transformer", "encoder_checkpoint": str(path.parent)}})


def test_recognize_place_known_and_unknown() -> None:
    from embodied_mem.encoders.keys import recognize_place

    mem = Memory()
    assert recognize_place(mem, "tree water") is None  # nothing known yet
    for p in _percepts():
        mem.observe(p)
    here = Percept(t=40.0, pose=Pose(0.5, 0.0), sightings=(Sighting("tree", (1, 0)), Sighting("water", (1, 1))))
    got = recognize_place(mem, here, threshold=0.5)
    assert got is not None and got.id == mem.spatial.place_of((0.0, 0.0)).id and got.visits >= 1
    assert recognize_place(mem, "diamond lava", threshold=0.5) is None
    with pytest.raises(TypeError, match="observation"):
        recognize_place(mem, 3)


def test_shipped_place_keys_checkpoint_serves_memory() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    mem = Memory({"episodic": {"encoder": "place_transformer"}})  # no checkpoint named: the shipped one
    for p in _percepts():
        mem.observe(p)
    keys = mem.episodic.encoder.encode(["tree water", "stone coal"])
    np.testing.assert_allclose(np.linalg.norm(keys, axis=1), 1.0, atol=1e-5)
    assert mem.episodic.recall("tree water", k=2)
