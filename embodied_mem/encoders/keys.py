"""Learned chunk keys and place recognition for memory: the label-bag variant of the encoder.

``PlaceTransformerKeys`` is a ``KeyEncoder`` (``.dim``, ``.encode(texts) -> (n, dim)`` float32,
L2-normalised) for episodic memory (``memory.episodic.encoder=place_transformer``). A text is
read as a bag of tokens (``featurize.tokens``: lower-cased words, crude plural stem): each
distinct token becomes one input (a learned embedding, plus a log-count embedding); a transformer
layer without positions mixes the set; count-weighted mean pooling and a projection give the key.
Words outside the training vocabulary fall back to hashed buckets (CRC32), so no text is ignored.

It is trained contrastively (InfoNCE, in-batch negatives) on the agent's own Crafter experience:
the anchor is a chunk text (consecutive percepts within ``radius`` cells), the positive the text
of one percept at a later revisit of that place. So a key says "what this place looks like",
and a query made of what the agent sees now recalls the chunks of the same place.

``recognize_place(memory, observation)`` answers "is this a place I know?": the known place whose
chunk keys best match the observation's text, or None below a similarity threshold.
"""

from __future__ import annotations

import json
import math
import zlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..memory.featurize import KeyEncoder, tokens

__all__ = ["LabelBagEncoder", "PlaceTransformerKeys", "train_place_keys", "recognize_place", "DEFAULT_KEYS"]

DEFAULT_KEYS = Path(__file__).with_name("pretrained") / "place_keys"
_MAX_COUNT = 15


class LabelBagEncoder(nn.Module):
    """Token set → unit vector. ``vocab`` maps known tokens to ids 1..V; 0 is padding."""

    def __init__(self, vocab: dict[str, int], d_model: int = 64, n_heads: int = 4, dim: int = 64,
                 buckets: int = 64) -> None:
        super().__init__()
        self.vocab = dict(vocab)
        self.buckets = int(buckets)
        self.hparams = {"d_model": d_model, "n_heads": n_heads, "dim": dim, "buckets": buckets}
        self.token = nn.Embedding(len(vocab) + 1 + buckets, d_model, padding_idx=0)
        self.count = nn.Embedding(_MAX_COUNT + 1, d_model)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, 2 * d_model, dropout=0.0, batch_first=True,
                                           norm_first=True)
        self.mix = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.proj = nn.Linear(d_model, dim)
        self.dim = int(dim)

    def tokenize(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(ids, counts), each (n, L) int64, L = most distinct tokens in a text (>= 1)."""
        bags = [Counter(tokens(t)) for t in texts]
        L = max([len(b) for b in bags] + [1])
        ids = torch.zeros(len(texts), L, dtype=torch.long)
        cnt = torch.zeros(len(texts), L, dtype=torch.long)
        V = len(self.vocab)
        for i, bag in enumerate(bags):
            for j, (tok, c) in enumerate(sorted(bag.items())):
                ids[i, j] = self.vocab.get(tok) or V + 1 + zlib.crc32(tok.encode()) % self.buckets
                cnt[i, j] = min(c, _MAX_COUNT)
        return ids, cnt

    def forward(self, ids: torch.Tensor, cnt: torch.Tensor) -> torch.Tensor:
        pad = ids == 0
        x = self.token(ids) + self.count(cnt)
        # an all-padding row keeps slot 0 visible (no NaN); its output is zeroed below
        keep0 = pad.all(1, keepdim=True) & (torch.arange(ids.shape[1]) == 0)
        x = self.mix(x, src_key_padding_mask=pad & ~keep0)
        w = torch.log1p(cnt.float()) * (~pad)
        pooled = (w.unsqueeze(-1) * x).sum(1) / w.sum(1, keepdim=True).clamp(min=1e-6)
        out = nn.functional.normalize(self.proj(pooled), dim=-1)
        return out * (~pad).any(1, keepdim=True)  # a text with no tokens encodes to zeros


class PlaceTransformerKeys(KeyEncoder):
    """A trained ``LabelBagEncoder`` behind episodic memory's ``KeyEncoder`` interface (CPU, no grad)."""

    def __init__(self, model: LabelBagEncoder) -> None:
        self.model = model.eval()
        self.dim = model.dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("encode takes a list of texts, got a single str")
        if len(texts) == 0:
            return np.zeros((0, self.dim), np.float32)
        with torch.no_grad():
            out = self.model(*self.model.tokenize(list(texts)))
        return out.numpy().astype(np.float32)

    def save(self, path: str | Path) -> Path:
        """Directory with ``model.safetensors`` + ``config.json`` (vocabulary and sizes)."""
        from safetensors.torch import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.model.state_dict().items()}, str(path / "model.safetensors"))
        (path / "config.json").write_text(json.dumps({"kind": "place_transformer_keys", "vocab": self.model.vocab,
                                                      **self.model.hparams}, indent=1, sort_keys=True))
        return path

    @staticmethod
    def load(path: str | Path) -> PlaceTransformerKeys:
        """Load a directory written by ``save``; ``FileNotFoundError`` / ``ValueError`` name the problem."""
        from safetensors.torch import load_file

        path = Path(path)
        for name in ("model.safetensors", "config.json"):
            if not (path / name).is_file():
                raise FileNotFoundError(f"place_transformer key checkpoint {path} has no {name} "
                                        "(train one with embodied_mem.encoders.keys.train_place_keys)")
        cfg = json.loads((path / "config.json").read_text())
        if cfg.get("kind") != "place_transformer_keys":
            raise ValueError(f"{path} is not a place_transformer key checkpoint (kind={cfg.get('kind')!r})")
        model = LabelBagEncoder(cfg["vocab"], cfg["d_model"], cfg["n_heads"], cfg["dim"], cfg["buckets"])
        model.load_state_dict(load_file(str(path / "model.safetensors")))
        return PlaceTransformerKeys(model)


# ---------------------------------------------------------------------------------------- training
def _pairs(texts: list[str], pos: np.ndarray, rng: np.random.Generator, n: int, radius: float, min_gap: int,
           max_chunk: int) -> tuple[list[str], list[str], np.ndarray]:
    """Anchor chunk texts, positive single-percept texts at a revisit, and the anchors' places."""
    T = len(texts)
    anchors, positives, where = [], [], []
    tries = 0
    while len(anchors) < n and tries < 50 * n:
        tries += 1
        s = int(rng.integers(T))
        e = s + 1
        while e < min(T, s + max_chunk) and np.abs(pos[e] - pos[s]).max() <= radius:
            e += 1
        centre = pos[s:e].mean(0)
        far = np.abs(np.arange(T) - s) >= min_gap
        near = np.abs(pos - centre).max(1) <= radius
        cand = np.flatnonzero(far & near)
        if len(cand) == 0:
            continue
        anchors.append(" ".join(texts[s:e]))
        positives.append(texts[int(cand[rng.integers(len(cand))])])
        where.append(centre)
    return anchors, positives, np.asarray(where)


def train_place_keys(walks: list[tuple[list[str], np.ndarray]], *, steps: int = 400, batch_size: int = 64,
                     d_model: int = 64, dim: int = 64, lr: float = 2e-3, radius: float = 3.0, min_gap: int = 10,
                     max_chunk: int = 8, temperature: float = 0.1, seed: int = 0, progress: bool = True
                     ) -> PlaceTransformerKeys:
    """Train keys on ``walks``: each a (percept texts per step, (T, 2) positions in cells) pair.

    In-batch negatives closer than ``radius`` to the anchor's place are masked out (they are the
    same place). Deterministic for a seed (single thread, deterministic algorithms).
    """
    from tqdm import tqdm

    from .train import set_determinism

    set_determinism(seed, 1)
    rng = np.random.default_rng(seed)
    vocab_counts = Counter(t for texts, _ in walks for text in texts for t in tokens(text))
    vocab = {tok: i + 1 for i, tok in enumerate(sorted(vocab_counts))}
    model = LabelBagEncoder(vocab, d_model=d_model, dim=dim)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    for _ in tqdm(range(steps), desc="train place keys", disable=not progress, mininterval=1.0):
        texts, pos = walks[int(rng.integers(len(walks)))]
        a, p, where = _pairs(texts, pos, rng, batch_size, radius, min_gap, max_chunk)
        if len(a) < 2:
            continue
        za = model(*model.tokenize(a))
        zp = model(*model.tokenize(p))
        logits = za @ zp.T / temperature
        same = torch.from_numpy(np.abs(where[:, None] - where[None]).max(-1) <= radius) & ~torch.eye(len(a), dtype=torch.bool)
        logits = logits.masked_fill(same, -1e9)
        loss = nn.functional.cross_entropy(logits, torch.arange(len(a)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return PlaceTransformerKeys(model)


# ------------------------------------------------------------------------------ place recognition
def place_keys(memory: Any, encoder: KeyEncoder | None = None) -> tuple[list[str], np.ndarray]:
    """(place id per closed-or-open chunk, (n, dim) keys) of a ``Memory``'s episodic chunks."""
    enc = encoder or memory.episodic.encoder
    places, texts = [], []
    for cid in memory.episodic.chunks():
        items = memory.episodic.chunk_items(cid)
        if items and items[0].place is not None:
            places.append(items[0].place)
            texts.append(" ".join(it.text for it in items))
    keys = enc.encode(texts) if texts else np.zeros((0, enc.dim), np.float32)
    return places, keys


def recognize_place(memory: Any, observation: Any, *, threshold: float = 0.8, encoder: KeyEncoder | None = None,
                    keys: tuple[list[str], np.ndarray] | None = None) -> Any:
    """Is this a place I know? The known ``Place`` (spatial memory's) whose chunks best match ``observation``.

    ``memory``: a ``Memory`` (its episodic chunks, each tied to a spatial place, are the known
    places). ``observation``: a ``Percept`` (its ``text()`` is used) or a text. Returns the best
    place id when its cosine similarity is >= ``threshold``, else None (also when memory holds no
    chunk or the observation has no tokens). ``keys`` (from ``place_keys``) saves re-encoding the
    memory for many queries. Uses ``encoder`` or else the memory's own key encoder.
    """
    text = observation if isinstance(observation, str) else getattr(observation, "text", None)
    if callable(text):
        text = text()
    if not isinstance(text, str):
        raise TypeError(f"observation must be a Percept or a str, got {type(observation).__name__}")
    if not math.isfinite(threshold):
        raise ValueError(f"threshold must be finite, got {threshold}")
    enc = encoder or memory.episodic.encoder
    places, k = keys if keys is not None else place_keys(memory, enc)
    if not places:
        return None
    q = enc.encode([text])[0]
    if not q.any():
        return None
    sims = k @ q
    best = int(np.argmax(sims))
    if sims[best] < threshold:
        return None
    return next((p for p in memory.spatial.places() if p.id == places[best]), None)
