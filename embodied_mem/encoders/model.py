"""The place-centric transformer (torch): step tokens, chunked memory, HCAM-style hierarchical read.

A memory of past steps (laid out FIFO or place-centric, see :mod:`.layout`) is encoded token by
token: ``token = obs_encoder(obs) + place_embedding(place) + time_embedding(t)``. Tokens attend to
the other tokens of their own chunk (``chunk_layers`` transformer layers with a block mask), and
each chunk is summarised by the mean of its tokens. A query about a place reads the memory
hierarchically (HCAM): attention over chunk summaries, keep the ``top_k`` best chunks, attend to
the tokens inside each of them, and mix the per-chunk readouts with the renormalised chunk
weights. The output, ``features_dim`` wide, is what a task head (or an RL policy) consumes —
SB3's ``BaseFeaturesExtractor`` shape: built from a gymnasium observation space.

Shapes: ``B`` batch, ``M`` memory slots (padded; ``mask`` marks real ones). Positions are in
world cells/metres (x, y); times in steps. Bad shapes raise ``ValueError`` naming the input.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = ["EncoderConfig", "PlaceCentricTransformer", "PlaceRecallModel", "obs_kind"]


@dataclass
class EncoderConfig:
    """Architecture of the encoder (plain values only: it is saved as JSON beside the weights)."""

    d_model: int = 64
    n_heads: int = 4
    chunk_layers: int = 1  # transformer layers inside each chunk
    chunk_size: int = 4  # memory slots per chunk (used by the layout; stored for the record)
    top_k: int = 2  # chunks read in detail
    place_embedding: str = "learned"  # "learned" (place ids) or "sinusoidal" (positions)
    time_embedding: str = "sinusoidal"  # "sinusoidal" or "learned" (step ids < max_time)
    n_places: int = 256  # size of the learned place table
    max_time: int = 1024  # size of the learned time table; scale of the sinusoidal one
    position_scale: float = 64.0  # longest wavelength / 2π of the sinusoidal place embedding, map units
    features_dim: int = 64
    n_classes: int = 8
    multilabel: bool = False

    def __post_init__(self) -> None:
        if self.d_model % 4:
            raise ValueError(f"d_model must be a multiple of 4 (sinusoidal embeddings), got {self.d_model}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if self.place_embedding not in ("learned", "sinusoidal"):
            raise ValueError(f"place_embedding must be 'learned' or 'sinusoidal', got {self.place_embedding!r}")
        if self.time_embedding not in ("learned", "sinusoidal"):
            raise ValueError(f"time_embedding must be 'learned' or 'sinusoidal', got {self.time_embedding!r}")
        if self.top_k < 1 or self.chunk_size < 1:
            raise ValueError(f"top_k and chunk_size must be >= 1, got {self.top_k}, {self.chunk_size}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict[str, Any]) -> EncoderConfig:
        valid = {f.name for f in fields(EncoderConfig)}
        unknown = set(d) - valid
        if unknown:
            raise ValueError(f"unknown encoder config key(s) {sorted(unknown)}; valid keys: {sorted(valid)}")
        return EncoderConfig(**d)


def obs_kind(space: Any) -> str:
    """``"image"`` (Box H×W×C), ``"symbolic"`` (MultiDiscrete grid) or ``"vector"`` (Box 1-D)."""
    import gymnasium as gym

    if isinstance(space, gym.spaces.MultiDiscrete):
        return "symbolic"
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 3:
        return "image"
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 1:
        return "vector"
    raise ValueError(f"observation space must be Box (H, W, C), Box (n,) or MultiDiscrete, got {space}")


def sinusoid(x: torch.Tensor, dim: int, scale: float) -> torch.Tensor:
    """Transformer sinusoids of ``x`` (..., ) → (..., dim); wavelengths from 2π to 2π·scale."""
    half = dim // 2
    freq = torch.exp(-math.log(max(scale, 1.0)) * torch.arange(half, dtype=torch.float32) / max(half - 1, 1))
    ang = x.unsqueeze(-1).float() * freq
    return torch.cat([torch.sin(ang), torch.cos(ang)], -1)


class ObservationEncoder(nn.Module):
    """Small CNN for images (HWC, values scaled by the space's high), one-hot + MLP for symbolic grids."""

    def __init__(self, space: Any, d: int) -> None:
        super().__init__()
        self.kind = obs_kind(space)
        self.shape = tuple(space.shape)
        if self.kind == "image":
            h, w, c = self.shape
            high = float(np.max(space.high)) if np.isfinite(space.high).all() else 1.0
            self.register_buffer("scale", torch.tensor(1.0 / max(high, 1e-6)), persistent=False)
            h2, w2 = (h + 1) // 2, (w + 1) // 2
            self.net = nn.Sequential(
                nn.Conv2d(c, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, stride=2, padding=1), nn.ReLU(),
                nn.Flatten(), nn.Linear(16 * h2 * w2, d))
        elif self.kind == "symbolic":
            self.n_values = int(np.max(space.nvec))
            self.net = nn.Sequential(nn.Linear(self.n_values * int(np.prod(self.shape)), 2 * d), nn.ReLU(),
                                     nn.Linear(2 * d, d))
        else:
            self.net = nn.Sequential(nn.Linear(self.shape[0], 2 * d), nn.ReLU(), nn.Linear(2 * d, d))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        lead = obs.shape[: obs.dim() - len(self.shape)]
        if tuple(obs.shape[len(lead):]) != self.shape:
            raise ValueError(f"obs must end in shape {self.shape}, got {tuple(obs.shape)}")
        x = obs.reshape(-1, *self.shape)
        if self.kind == "image":
            x = self.net(x.float().permute(0, 3, 1, 2) * self.scale)
        elif self.kind == "symbolic":
            x = self.net(nn.functional.one_hot(x.long(), self.n_values).float().flatten(1))
        else:
            x = self.net(x.float())
        return x.reshape(*lead, -1)


class PlaceCentricTransformer(nn.Module):
    """Memory encoder + HCAM reader. ``forward(batch) -> (B, features_dim)``.

    ``batch`` is a mapping of tensors as produced by :mod:`.tasks` (``obs``, ``mask``, ``chunk``,
    ``place_id`` or ``place_pos``, ``time``, ``query_place_id`` or ``query_place_pos``,
    ``query_time``). A sample with an empty memory reads zeros (its features come from the query).
    """

    def __init__(self, observation_space: Any, config: EncoderConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or EncoderConfig()
        self.observation_space = observation_space
        self.features_dim = cfg.features_dim
        d = cfg.d_model
        self.obs_encoder = ObservationEncoder(observation_space, d)
        if cfg.place_embedding == "learned":
            self.place_table = nn.Embedding(cfg.n_places, d)
        else:
            self.place_proj = nn.Linear(4 * (d // 4), d)
        if cfg.time_embedding == "learned":
            self.time_table = nn.Embedding(cfg.max_time + 1, d)
        self.token_norm = nn.LayerNorm(d)
        layer = nn.TransformerEncoderLayer(d, cfg.n_heads, 2 * d, dropout=0.0, batch_first=True, norm_first=True)
        self.chunk_encoder = nn.TransformerEncoder(layer, cfg.chunk_layers, enable_nested_tensor=False)
        self.query_bias = nn.Parameter(torch.zeros(d))
        # Place-aware read: a direct cosine match of query and memory place embeddings is added to
        # the learned attention scores (scaled by a learned temperature), so a query about a place
        # finds that place's memories from the first step of training.
        self.place_match = nn.Parameter(torch.tensor(5.0))
        self.q_proj = nn.Linear(d, d)
        self.k_summary = nn.Linear(d, d)
        self.k_token = nn.Linear(d, d)
        self.v_token = nn.Linear(d, d)
        self.out = nn.Sequential(nn.Linear(2 * d, cfg.features_dim), nn.ReLU(),
                                 nn.Linear(cfg.features_dim, cfg.features_dim))

    # -------------------------------------------------------------- embeddings
    def embed_place(self, place_id: torch.Tensor | None, place_pos: torch.Tensor | None) -> torch.Tensor:
        cfg = self.config
        if cfg.place_embedding == "learned":
            if place_id is None:
                raise ValueError("the learned place embedding needs place ids (place_id / query_place_id)")
            if place_id.numel() and (int(place_id.min()) < 0 or int(place_id.max()) >= cfg.n_places):
                raise ValueError(f"place ids must lie in [0, {cfg.n_places}), got {int(place_id.min())}.."
                                 f"{int(place_id.max())}; raise encoder.n_places")
            return self.place_table(place_id.long())
        if place_pos is None:
            raise ValueError("the sinusoidal place embedding needs positions (place_pos / query_place_pos)")
        half = cfg.d_model // 2
        e = torch.cat([sinusoid(place_pos[..., 0], half, cfg.position_scale),
                       sinusoid(place_pos[..., 1], half, cfg.position_scale)], -1)
        return self.place_proj(e)

    def embed_time(self, t: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        if cfg.time_embedding == "learned":
            return self.time_table(t.long().clamp(0, cfg.max_time))
        return sinusoid(t, cfg.d_model, cfg.max_time)

    # -------------------------------------------------------------- forward
    def encode_memory(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Tokens (B, M, d) after in-chunk attention, chunk one-hot (B, M, C), chunk validity (B, C)
        and the unit place embedding of each slot (B, M, d)."""
        mask = batch["mask"].bool()
        if mask.dim() != 2:
            raise ValueError(f"mask must be (B, M), got {tuple(mask.shape)}")
        B, M = mask.shape
        chunk = batch["chunk"].long()
        if chunk.shape != (B, M):
            raise ValueError(f"chunk must be (B, M) = {(B, M)}, got {tuple(chunk.shape)}")
        place = self.embed_place(batch.get("place_id"), batch.get("place_pos"))
        tok = self.token_norm(self.obs_encoder(batch["obs"]) + place + self.embed_time(batch["time"]))
        same = (chunk.unsqueeze(2) == chunk.unsqueeze(1)) & mask.unsqueeze(1) & mask.unsqueeze(2)
        same = same | torch.eye(M, dtype=torch.bool).unsqueeze(0)  # padded slots attend to themselves
        attn_mask = torch.zeros(B, M, M).masked_fill(~same, float("-inf"))
        attn_mask = attn_mask.repeat_interleave(self.config.n_heads, 0)
        tok = self.chunk_encoder(tok, mask=attn_mask)
        tok = tok * mask.unsqueeze(-1)
        C = M
        onehot = nn.functional.one_hot(chunk.clamp(0, C - 1), C).float() * mask.unsqueeze(-1)  # (B, M, C)
        valid = onehot.sum(1) > 0
        return tok, onehot, valid, nn.functional.normalize(place, dim=-1) * mask.unsqueeze(-1)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        tok, onehot, valid, place = self.encode_memory(batch)
        d = self.config.d_model
        B = tok.shape[0]
        q_place = self.embed_place(batch.get("query_place_id"), batch.get("query_place_pos"))
        q_in = q_place + self.embed_time(batch["query_time"]) + self.query_bias
        q = self.q_proj(q_in)  # (B, d)
        q_unit = nn.functional.normalize(q_place, dim=-1).unsqueeze(-1)  # (B, d, 1)
        counts = onehot.sum(1).clamp(min=1.0)  # (B, C)
        summaries = onehot.transpose(1, 2) @ tok / counts.unsqueeze(-1)  # (B, C, d)
        s_place = nn.functional.normalize(onehot.transpose(1, 2) @ place, dim=-1)  # (B, C, d)
        s_score = ((self.k_summary(summaries) @ q.unsqueeze(-1)).squeeze(-1) / math.sqrt(d)
                   + self.place_match * (s_place @ q_unit).squeeze(-1))
        s_score = s_score.masked_fill(~valid, float("-inf"))
        k = min(self.config.top_k, s_score.shape[1])
        top_s, top_i = s_score.topk(k, dim=1)  # (B, k)
        top_ok = torch.isfinite(top_s)
        w = torch.softmax(top_s.masked_fill(~top_ok, -1e9), 1) * top_ok  # renormalised over the top-k
        t_score = ((self.k_token(tok) @ q.unsqueeze(-1)).squeeze(-1) / math.sqrt(d)
                   + self.place_match * (place @ q_unit).squeeze(-1))  # (B, M)
        in_chunk = torch.gather(onehot, 2, top_i.unsqueeze(1).expand(-1, onehot.shape[1], -1)) > 0  # (B, M, k)
        scores = t_score.unsqueeze(-1).masked_fill(~in_chunk, float("-inf"))  # (B, M, k)
        att = torch.softmax(scores, 1).nan_to_num(0.0)  # empty chunk -> zeros
        readouts = torch.einsum("bmk,bmd->bkd", att, self.v_token(tok))  # (B, k, d)
        read = (w.unsqueeze(-1) * readouts).sum(1)
        read = torch.where(top_ok.any(1, keepdim=True), read, torch.zeros_like(read))
        return self.out(torch.cat([read, q_in], -1)).reshape(B, self.features_dim)


class PlaceRecallModel(nn.Module):
    """Encoder + linear head: logits (B, n_classes) for the place-recall tasks."""

    def __init__(self, observation_space: Any, config: EncoderConfig | None = None) -> None:
        super().__init__()
        self.config = config or EncoderConfig()
        self.encoder = PlaceCentricTransformer(observation_space, self.config)
        self.head = nn.Linear(self.encoder.features_dim, self.config.n_classes)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.head(torch.relu(self.encoder(batch)))

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.config.multilabel:
            return nn.functional.binary_cross_entropy_with_logits(logits, target.float())
        return nn.functional.cross_entropy(logits, target.long())


def to_tensors(batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """numpy batch → torch tensors (no copy where possible)."""
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in batch.items()}
