"""Place-centric transformer encoders (Spatially-Aware Transformer + HCAM chunk memory).

Importing this package does not import torch: the names below load their modules on first use.

- ``PlaceCentricTransformer``, ``EncoderConfig``, ``PlaceRecallModel`` (:mod:`.model`, torch)
- ``organise`` — FIFO or place-centric memory layout (:mod:`.layout`, numpy)
- ``RoomBallet``, ``CrafterPlaceRecall`` — task generators (:mod:`.tasks`, numpy; Crafter lazily)
- ``fit`` / ``evaluate_checkpoint`` — training and evaluation (``embodied-mem train-encoder`` /
  ``eval-encoder``), ``save`` / ``load`` checkpoints (safetensors + JSON)
- ``key_encoder(name, episodic_config)`` — the key encoder episodic memory asks for, and
  ``recognize_place(memory, observation)`` — "is this a place I know?" (:mod:`.keys`)
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["key_encoder", "PlaceCentricTransformer", "EncoderConfig", "PlaceRecallModel", "organise",
           "RoomBallet", "CrafterPlaceRecall", "fit", "evaluate_checkpoint", "save", "load",
           "PlaceTransformerKeys", "recognize_place", "KEY_ENCODERS"]

_LAZY = {
    "PlaceCentricTransformer": ".model", "EncoderConfig": ".model", "PlaceRecallModel": ".model",
    "organise": ".layout", "RoomBallet": ".tasks", "CrafterPlaceRecall": ".tasks", "fit": ".train",
    "evaluate_checkpoint": ".evaluate", "save": ".checkpoint", "load": ".checkpoint",
    "PlaceTransformerKeys": ".keys", "recognize_place": ".keys",
}

KEY_ENCODERS = ("hashing", "place_transformer")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def key_encoder(name: str, episodic_config: Any = None) -> Any:
    """The ``KeyEncoder`` episodic memory uses for chunk keys and queries.

    ``"hashing"``: the deterministic featurizer (``key_dim`` wide). ``"place_transformer"``: the
    trained label-bag encoder loaded from ``episodic_config.encoder_checkpoint`` (a directory with
    ``model.safetensors`` + ``config.json``), or the one shipped in ``encoders/pretrained/place_keys``
    when that is None. Its width is its own (``key_dim`` does not apply). Unknown names raise
    ``ValueError``; a missing checkpoint ``FileNotFoundError``; torch missing ``DependencyNotInstalled``.
    """
    from ..memory.featurize import HashingFeaturizer

    if name == "hashing":
        return HashingFeaturizer(int(getattr(episodic_config, "key_dim", 256)))
    if name == "place_transformer":
        from ..deps import require

        require("torch", "the place_transformer key encoder")
        require("safetensors", "the place_transformer key encoder")
        from .keys import DEFAULT_KEYS, PlaceTransformerKeys

        path = getattr(episodic_config, "encoder_checkpoint", None) or DEFAULT_KEYS
        return PlaceTransformerKeys.load(path)
    raise ValueError(f"memory.episodic.encoder must be one of {KEY_ENCODERS}, got {name!r}")
