"""Checkpoints: weights as safetensors plus a plain JSON config — no pickled code.

A checkpoint is a directory holding ``model.safetensors`` (tensors only) and ``config.json``
(``{"encoder": EncoderConfig fields, "task": {...}, "observation_space": {...}, ...}``). The
observation space is stored as plain values and rebuilt with gymnasium on load.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["save", "load", "space_to_dict", "space_from_dict"]

WEIGHTS, CONFIG = "model.safetensors", "config.json"


def space_to_dict(space: Any) -> dict[str, Any]:
    import gymnasium as gym

    if isinstance(space, gym.spaces.MultiDiscrete):
        return {"type": "MultiDiscrete", "nvec": np.asarray(space.nvec).tolist()}
    if isinstance(space, gym.spaces.Box):
        return {"type": "Box", "low": float(np.min(space.low)), "high": float(np.max(space.high)),
                "shape": list(space.shape), "dtype": str(space.dtype)}
    raise ValueError(f"cannot store observation space {space}: only Box and MultiDiscrete are supported")


def space_from_dict(d: dict[str, Any]) -> Any:
    import gymnasium as gym

    if d.get("type") == "MultiDiscrete":
        return gym.spaces.MultiDiscrete(np.asarray(d["nvec"]))
    if d.get("type") == "Box":
        return gym.spaces.Box(d["low"], d["high"], tuple(d["shape"]), np.dtype(d["dtype"]))
    raise ValueError(f"checkpoint observation_space has unknown type {d.get('type')!r}")


def save(model: Any, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (a ``PlaceRecallModel``) to the directory ``path``; returns the directory."""
    from safetensors.torch import save_file

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    save_file(state, str(path / WEIGHTS))
    cfg = {"encoder": model.config.to_dict(), "observation_space": space_to_dict(model.encoder.observation_space),
           **(extra or {})}
    (path / CONFIG).write_text(json.dumps(cfg, indent=2, sort_keys=True))
    return path


def load(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """Load a checkpoint directory → (``PlaceRecallModel`` in eval mode, its config dict).

    Raises ``FileNotFoundError`` naming the missing file, ``ValueError`` for a config that does not
    match the weights.
    """
    from safetensors.torch import load_file

    from .model import EncoderConfig, PlaceRecallModel

    path = Path(path)
    for name in (WEIGHTS, CONFIG):
        if not (path / name).is_file():
            raise FileNotFoundError(f"encoder checkpoint {path} has no {name}")
    cfg = json.loads((path / CONFIG).read_text())
    model = PlaceRecallModel(space_from_dict(cfg["observation_space"]), EncoderConfig.from_dict(cfg["encoder"]))
    try:
        model.load_state_dict(load_file(str(path / WEIGHTS)))
    except RuntimeError as exc:
        raise ValueError(f"weights in {path / WEIGHTS} do not match its config.json: {exc}") from None
    model.eval()
    return model, cfg
