"""Training: beats chance on a tiny run, checkpoints round-trip exactly, deterministic for a seed."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

from embodied_mem.encoders import checkpoint  # noqa: E402
from embodied_mem.encoders.model import to_tensors  # noqa: E402
from embodied_mem.encoders.train import fit, resolve_budget  # noqa: E402

TINY = {
    "room_ballet": {"rows": 1, "cols": 2, "steps": 12, "move_prob": 0.2},
    "encoder": {"d_model": 32, "n_heads": 2, "features_dim": 32},
    "memory": {"kind": "place", "budget": 1.0},
    "train": {"steps": 120, "batch_size": 32, "eval_every": 40, "eval_samples": 256, "progress": False, "lr": 6e-3},
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("enc")
    return fit(TINY, out), out


def test_tiny_training_run_beats_chance_clearly(trained) -> None:
    res, _ = trained
    assert res.metrics["chance"] == pytest.approx(0.125)
    assert res.metrics["accuracy"] >= 0.3, res.history  # chance is 0.125 (8 dances)
    assert res.history[-1]["eval_loss"] < res.history[0]["eval_loss"]


def test_checkpoint_round_trip_gives_identical_outputs(trained) -> None:
    res, out = trained
    model, cfg = checkpoint.load(out / "checkpoint")
    assert cfg["task"]["name"] == "room_ballet" and cfg["memory"]["kind"] == "place"
    assert json.loads((out / "checkpoint" / "config.json").read_text())["encoder"]["d_model"] == 32
    b = to_tensors(res.task.batch(np.random.default_rng(9), 16, res.budget, "place", 4))
    res.model.eval()
    with torch.no_grad():
        assert torch.equal(model(b), res.model(b))
    assert (out / "metrics.json").is_file() and (out / "history.json").is_file()


def test_checkpoint_errors_name_the_problem(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        checkpoint.load(tmp_path)


def test_training_is_deterministic_for_a_seed() -> None:
    short = dict(TINY, train=dict(TINY["train"], steps=8, eval_every=4, eval_samples=32))
    a, b = fit(short), fit(short)
    c = fit(dict(short, seed=1))
    assert a.history == b.history
    sa, sb, sc = a.model.state_dict(), b.model.state_dict(), c.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_settings_are_checked() -> None:
    assert resolve_budget(0.25, 72) == 18 and resolve_budget(30, 72) == 30
    with pytest.raises(ValueError, match="budget"):
        resolve_budget(0, 72)
    with pytest.raises(ValueError, match="unknown train-encoder setting"):
        fit({"train": {"stepz": 3}})
