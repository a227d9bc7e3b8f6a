"""PlaceCentricTransformer: shapes, masking, chunk reading, observation kinds, bad input."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
gym = pytest.importorskip("gymnasium")

from embodied_mem.encoders.model import EncoderConfig, PlaceCentricTransformer, PlaceRecallModel, to_tensors  # noqa: E402
from embodied_mem.encoders.tasks import RoomBallet  # noqa: E402


def _setup(place_embedding: str = "learned", budget: int = 12, batch: int = 3):
    torch.manual_seed(0)
    task = RoomBallet(rows=2, cols=2, steps=24)
    cfg = EncoderConfig(d_model=32, n_heads=2, features_dim=24, n_places=4, max_time=24,
                        place_embedding=place_embedding)
    enc = PlaceCentricTransformer(task.observation_space, cfg).eval()
    b = task.batch(np.random.default_rng(0), batch, budget, "place", cfg.chunk_size)
    return task, enc, b


@pytest.mark.parametrize("place_embedding", ["learned", "sinusoidal"])
def test_features_have_the_declared_width(place_embedding: str) -> None:
    _, enc, b = _setup(place_embedding)
    out = enc(to_tensors(b))
    assert enc.features_dim == 24
    assert out.shape == (3, 24) and torch.isfinite(out).all()


def test_padded_slots_do_not_change_the_output() -> None:
    _, enc, b = _setup(budget=40)  # 24 steps in 40 slots: 16 padded
    assert not b["mask"].all()
    with torch.no_grad():
        ref = enc(to_tensors(b))
        noisy = {k: v.copy() for k, v in b.items()}
        pad = ~noisy["mask"]
        noisy["obs"][pad] = np.random.default_rng(1).random(noisy["obs"][pad].shape)
        noisy["place_id"][pad] = 3
        noisy["time"][pad] = 5.0
        assert torch.allclose(enc(to_tensors(noisy)), ref, atol=1e-5)


def test_only_the_top_k_chunks_are_read() -> None:
    task = RoomBallet(rows=2, cols=2, steps=24)
    cfg = EncoderConfig(d_model=32, n_heads=2, features_dim=24, n_places=4, max_time=24, top_k=1)
    torch.manual_seed(0)
    enc = PlaceCentricTransformer(task.observation_space, cfg).eval()
    with torch.no_grad():
        enc.place_match.fill_(1000.0)  # chunk choice then follows the place match alone
    b = task.batch(np.random.default_rng(0), 1, 24, "place", cfg.chunk_size)
    q = int(b["query_place_id"][0])
    here = (b["place_id"][0] == q) & b["mask"][0]
    elsewhere = (b["place_id"][0] != q) & b["mask"][0]
    assert here.any() and elsewhere.any()
    with torch.no_grad():
        ref = enc(to_tensors(b))
        for sel, should_change in ((elsewhere, False), (here, True)):
            changed = {k: v.copy() for k, v in b.items()}
            changed["obs"][0, sel] = np.random.default_rng(2).random(changed["obs"][0, sel].shape)
            diff = float((enc(to_tensors(changed)) - ref).abs().max())
            assert (diff > 1e-4) == should_change, (should_change, diff)


def test_empty_memory_reads_nothing_but_still_answers() -> None:
    _, enc, b = _setup()
    b["mask"][:] = False
    out = enc(to_tensors(b))
    assert torch.isfinite(out).all()


def test_symbolic_and_vector_observation_spaces() -> None:
    for space in (gym.spaces.MultiDiscrete(np.full((7, 9), 19)), gym.spaces.Box(-1, 1, (5,), np.float32)):
        enc = PlaceCentricTransformer(space, EncoderConfig(d_model=16, n_heads=2, features_dim=8, n_places=4))
        obs = np.stack([space.sample() for _ in range(2 * 6)]).reshape(2, 6, *space.shape)
        batch = {"obs": obs, "mask": np.ones((2, 6), bool), "chunk": np.repeat(np.arange(3), 2)[None].repeat(2, 0),
                 "place_id": np.zeros((2, 6), np.int64), "time": np.arange(6, dtype=np.float32)[None].repeat(2, 0),
                 "query_place_id": np.zeros(2, np.int64), "query_time": np.full(2, 6.0, np.float32)}
        assert enc(to_tensors(batch)).shape == (2, 8)


def test_bad_inputs_are_refused_by_name() -> None:
    _, enc, b = _setup()
    bad = dict(b, obs=b["obs"][..., :2])
    with pytest.raises(ValueError, match="obs"):
        enc(to_tensors(bad))
    bad = dict(b, place_id=b["place_id"] + 10)
    with pytest.raises(ValueError, match="place ids"):
        enc(to_tensors(bad))
    with pytest.raises(ValueError, match="d_model"):
        EncoderConfig(d_model=30, n_heads=4)
    with pytest.raises(ValueError, match="place_embedding"):
        EncoderConfig(place_embedding="grid")
    with pytest.raises(ValueError, match="observation space"):
        PlaceCentricTransformer(gym.spaces.Discrete(3))


def test_recall_model_logits_and_loss() -> None:
    task, _, b = _setup()
    m = PlaceRecallModel(task.observation_space, EncoderConfig(d_model=32, n_heads=2, n_places=4, max_time=24))
    t = to_tensors(b)
    logits = m(t)
    assert logits.shape == (3, 8)
    loss = m.loss(logits, t["target"])
    loss.backward()
    assert all(p.grad is not None for p in m.encoder.obs_encoder.parameters())
