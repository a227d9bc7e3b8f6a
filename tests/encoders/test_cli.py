"""`embodied-mem train-encoder` / `eval-encoder` through the CLI dispatcher and Hydra."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("hydra")

from embodied_mem.cli import main  # noqa: E402

SMALL = ["encoder=tiny", "train.steps=6", "train.eval_every=3", "train.eval_samples=32", "train.progress=false",
         "room_ballet.rows=1", "room_ballet.cols=2", "room_ballet.steps=12"]


def test_train_then_evaluate_writes_artefacts(tmp_path) -> None:
    run = tmp_path / "train"
    assert main(["train-encoder", *SMALL, "memory.kind=fifo", "memory.budget=0.5", f"hydra.run.dir={run}"]) == 0
    for name in ("metrics.json", "history.json", "learning_curve.png", "checkpoint/model.safetensors",
                 "checkpoint/config.json", ".hydra/config.yaml"):
        assert (run / name).is_file(), name
    m = json.loads((run / "metrics.json").read_text())
    assert m["memory"] == "fifo" and m["budget_slots"] == 6 and 0.0 <= m["accuracy"] <= 1.0
    ev = tmp_path / "eval"
    assert main(["eval-encoder", f"checkpoint={run / 'checkpoint'}", "train.eval_samples=32",
                 f"hydra.run.dir={ev}"]) == 0
    e = json.loads((ev / "metrics.json").read_text())
    assert e["memory"] == "fifo" and e["samples"] == 32 and e["chance"] == pytest.approx(0.125)
    assert (ev / "learning_curve.png").is_file()


def test_bad_override_fails_with_a_clear_message(tmp_path, capsys) -> None:
    # refused while composing the config (an Enum in the schema), before any training starts
    assert main(["train-encoder", *SMALL, "memory.kind=lifo", f"hydra.run.dir={tmp_path / 'run'}"]) == 2
    err = capsys.readouterr().err
    assert "Invalid value 'lifo', expected one of [fifo, place]" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()
