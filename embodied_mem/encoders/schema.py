"""Structured schema of ``configs/train_encoder.yaml`` (``train-encoder`` / ``eval-encoder``).

Choice fields are Enums, so Hydra refuses ``memory.kind=fif`` or ``task=x`` while composing the
config, listing the valid choices, before any training starts. Importing this needs no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = ["MemoryKind", "TaskName", "PlaceEmbedding", "TimeEmbedding", "TrainEncoderConfig", "register"]


class MemoryKind(str, Enum):
    """How the encoder's memory keeps slots: FIFO, or shared out per place (FIFO inside a place)."""

    fifo = "fifo"
    place = "place"


class TaskName(str, Enum):
    room_ballet = "room_ballet"
    crafter_recall = "crafter_recall"


class PlaceEmbedding(str, Enum):
    learned = "learned"  # from place ids
    sinusoidal = "sinusoidal"  # from positions


class TimeEmbedding(str, Enum):
    sinusoidal = "sinusoidal"
    learned = "learned"


@dataclass
class EncoderSize:
    d_model: int = 64
    n_heads: int = 4
    chunk_layers: int = 1
    chunk_size: int = 4
    top_k: int = 2
    place_embedding: PlaceEmbedding = PlaceEmbedding.learned
    time_embedding: TimeEmbedding = TimeEmbedding.sinusoidal
    features_dim: int = 64


@dataclass
class RoomBallet:
    rows: int = 3
    cols: int = 3
    steps: int = 72
    move_prob: float = 0.125


@dataclass
class CrafterRecall:
    steps: int = 64
    walks: int = 4
    walk_length: int = 500
    place_cell: int = 4


@dataclass
class EncoderMemory:
    kind: MemoryKind = MemoryKind.place
    budget: float = 0.5  # fraction of the trajectory length (<= 1) or a number of slots (> 1)


@dataclass
class TrainSettings:
    steps: int = 1200
    batch_size: int = 64
    lr: float = 0.002
    weight_decay: float = 0.0
    eval_every: int = 100
    eval_samples: int = 512
    progress: bool = True


@dataclass
class TrainEncoderConfig:
    encoder: EncoderSize = field(default_factory=EncoderSize)
    task: TaskName = TaskName.room_ballet
    room_ballet: RoomBallet = field(default_factory=RoomBallet)
    crafter_recall: CrafterRecall = field(default_factory=CrafterRecall)
    memory: EncoderMemory = field(default_factory=EncoderMemory)
    train: TrainSettings = field(default_factory=TrainSettings)
    seed: int = 0
    threads: int = 1
    checkpoint: Any = None  # eval-encoder: the checkpoint directory (…/checkpoint)


def register() -> None:
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="train_encoder_schema", node=TrainEncoderConfig)
