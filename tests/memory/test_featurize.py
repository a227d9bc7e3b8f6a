"""The hashing featurizer's keys are the documented feature hashing of ``tokens(text)``, whatever
path a text takes inside ``encode`` (ASCII fast split, non-ASCII regex, repeated words, long texts)."""

from __future__ import annotations

import zlib

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from embodied_mem.memory.featurize import HashingFeaturizer, tokens

WORDS = ["chair", "chairs", "the", "a", "tree_stump", "Kitchen", "keys", "batteries", "glass", "phone_-1",
         "x1", "9", "K\u212a", "\u0130stanbul", "caf\u00e9", "x\u00b2", "ǅa", "  ", "\t", "--", "BOXES"]


def reference(text: str, dim: int, scheme: int = 2) -> np.ndarray:
    """Each token adds 1 (scheme 1: its hashed sign) to its hashed slot, in float64; then
    L2-normalised in float32."""
    v = np.zeros(dim)
    for tok in tokens(text):
        h = zlib.crc32(tok.encode())
        v[h % dim] += 1.0 if scheme == 2 or (h >> 31) & 1 else -1.0
    out = v.astype(np.float32)[None, :]
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out[0]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from(WORDS), max_size=60).map(" ".join), min_size=1, max_size=4),
       st.sampled_from([8, 64, 256]))
def test_keys_are_the_hashing_of_the_tokens(texts, dim):
    f = HashingFeaturizer(dim)
    keys = f.encode(texts)
    assert keys.dtype == np.float32 and keys.shape == (len(texts), dim)
    for text, key in zip(texts, keys):
        assert np.array_equal(key, reference(text, dim)), text
    assert np.array_equal(f.encode(texts), keys)  # the word cache gives the same keys again
    old = HashingFeaturizer.__new__(HashingFeaturizer)  # as unpickled from before key schemes
    old.__setstate__({"dim": dim, "_cache": {}})
    for text, key in zip(texts, old.encode(texts)):
        assert np.array_equal(key, reference(text, dim, scheme=1)), text


def test_a_word_repeated_past_float32_exact_range_still_normalises():
    f = HashingFeaturizer(8)
    for text in ("chair " * 5000, "chair " * 4096 + "tree " * 3, ""):
        assert np.array_equal(f.encode([text])[0], reference(text, 8))
