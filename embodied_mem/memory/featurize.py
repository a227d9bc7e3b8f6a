"""Deterministic text featurizer for chunk keys and queries (feature hashing, no model needed).

Tokens are lower-cased alphanumeric words with a crude plural stem ("keys" -> "key") and a few
question words removed; each token maps to a fixed dimension by CRC32 (stable across processes,
unlike Python's salted ``hash``) and adds +1 there per occurrence. Vectors are L2-normalised float32.

Key scheme ``HASHING_SCHEME`` = 2 (unsigned slots). Scheme 1 gave each token a hashed sign too, so
two words in one slot with opposite signs cancelled: a short query could encode to the zero vector
and recall nothing (about 1 in 512 two-word queries at ``key_dim`` 256, e.g. "blue spoon"), and a
chunk whose words cancelled was not found by either word. With unsigned slots a text with at least
one token always has a non-zero key, and a key is non-zero in the slot of every token of its text
(words sharing a slot add up, never cancel), so every chunk sharing a token with a query has a
positive similarity to it. Stored keys depend on the scheme: snapshots record it (``Memory``'s
encoder fingerprint ``"hashing/2"``; a snapshot of scheme 1 is refused and the journal replayed,
which recomputes every key), and a featurizer unpickled from before the scheme existed keeps
encoding with scheme 1, so it stays consistent with the keys pickled beside it.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np

__all__ = ["HASHING_SCHEME", "HashingFeaturizer", "tokens", "KeyEncoder", "register_key_encoder", "make_key_encoder", "key_encoders"]

HASHING_SCHEME = 2  # the key scheme HashingFeaturizer() encodes with (see the module docstring)

_WORD = re.compile(r"[a-z0-9]+")
# byte -> itself for [a-z0-9], else a space: ``low.encode().translate(...).split()`` of an ASCII,
# lower-cased text gives the words ``_WORD.findall`` finds (as bytes), several times faster
_ASCII_SEPARATORS = bytes(c if 48 <= c <= 57 or 97 <= c <= 122 else 32 for c in range(256))
STOPWORDS = frozenset(
    "a an the is are was were where when what which who how did do does i you we it of in on at to "
    "for with and or my your there here this that these those have has had see saw seen last first "
    "ever now near from by be been any".split()
)


@lru_cache(maxsize=1 << 16)
def _stem(w: str) -> str:
    if len(w) > 3 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        return w[:-1]
    return w


def tokens(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.lower().replace("_", " ")) if w not in STOPWORDS]


class KeyEncoder:
    """What episodic memory needs from a key encoder: ``dim`` and ``encode(texts) -> (n, dim)``."""

    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError


class HashingFeaturizer(KeyEncoder):
    """Feature hashing of ``tokens(text)`` into ``dim`` unsigned slots (token ``w`` adds its count
    to slot ``crc32(w) % dim``), L2-normalised. Never cancels: every text with a token has a
    non-zero key. ``scheme`` is the key scheme (``HASHING_SCHEME``; 1 only in a featurizer
    unpickled from an older version, which then keeps encoding as it did: signed slots).

    ``lexical = True`` tells episodic memory that similarity means shared words, so hash collisions
    (two different words in one slot) are filtered out by checking for a shared token.
    """

    lexical = True

    def __init__(self, dim: int = 256) -> None:
        if dim < 8:
            raise ValueError(f"key_dim must be >= 8, got {dim}")
        self.dim = int(dim)
        self.scheme = HASHING_SCHEME
        self._cache: dict[str, tuple[int, float]] = {}
        self._words: dict[bytes, tuple[int, float] | tuple[()]] = {}  # word (UTF-8) -> its token's slot, () for a stopword

    def __getstate__(self) -> dict:
        d = dict(self.__dict__)
        d.pop("_words", None)  # a cache of the words met (rebuilt as they come): not worth a snapshot's bytes
        return d

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("scheme", 1)  # pickled before key schemes: signed slots, as its keys were

    def _slot(self, tok: str) -> tuple[int, float]:
        s = self._cache.get(tok)
        if s is None:
            h = zlib.crc32(tok.encode())
            sign = 1.0 if self.scheme >= 2 or (h >> 31) & 1 else -1.0
            s = self._cache[tok] = (h % self.dim, sign)
        return s

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), dim)`` float32 keys, each row L2-normalised (all zeros only for a text
        without tokens: no words, or only stopwords). Each distinct word of a text is looked up
        once, weighted by its count."""
        out = np.zeros((len(texts), self.dim), np.float32)
        words = self.__dict__.setdefault("_words", {})  # (absent in a featurizer from an older snapshot)
        for i, text in enumerate(texts):
            low = text.lower()
            if low.isascii():  # the words of _WORD, as bytes: separators mapped to spaces, then split
                counts = Counter(low.encode().translate(_ASCII_SEPARATORS).split())
            else:
                counts = Counter(w.encode() for w in _WORD.findall(low.replace("_", " ")))
            acc: dict[int, float] = {}
            for w, c in counts.items():
                s = words.get(w)
                if s is None:
                    if len(words) >= 1 << 16:
                        words.clear()
                    tok = w.decode()
                    s = words[w] = () if tok in STOPWORDS else self._slot(_stem(tok))
                if s:
                    j, sign = s
                    acc[j] = acc.get(j, 0.0) + sign * c
            # per-slot sums of +1 (scheme 1: +-1): exact integers, the same as adding the words one by one
            ss = sum(v * v for v in acc.values())
            if not ss:
                continue
            row = out[i]
            row[list(acc)] = list(acc.values())
            if ss < 1 << 24:  # exact in float32 too: the norm numpy computes, correctly rounded
                row /= np.float32(math.sqrt(ss))
            else:  # as np.linalg.norm(out, axis=1) sums the float32 squares
                row /= np.sqrt(np.add.reduce(row * row))
        return out


# Learned key encoders, injected by the layer above (``embodied_mem/__init__.py`` registers the
# place transformer of ``embodied_mem.encoders``): memory itself imports no encoder module.
_KEY_ENCODERS: dict[str, Callable[[object], KeyEncoder]] = {}


def register_key_encoder(name: str, factory: Callable[[object], KeyEncoder]) -> None:
    """Make ``memory.episodic.encoder=<name>`` build its keys with ``factory(episodic_config)``."""
    if not name or name == "hashing":
        raise ValueError(f"key encoder name must be non-empty and not 'hashing', got {name!r}")
    _KEY_ENCODERS[name] = factory


def key_encoders() -> tuple[str, ...]:
    """The names ``memory.episodic.encoder`` accepts."""
    return ("hashing", *sorted(_KEY_ENCODERS))


def make_key_encoder(name: str, episodic_config: object) -> KeyEncoder | None:
    """The registered encoder ``name`` (None for ``"hashing"``: episodic memory's own featurizer).

    Raises ``ValueError`` naming the registered encoders for an unknown name.
    """
    if name == "hashing":
        return None
    try:
        factory = _KEY_ENCODERS[name]
    except KeyError:
        raise ValueError(f"memory.episodic.encoder must be one of {list(key_encoders())}, got {name!r}") from None
    return factory(episodic_config)
