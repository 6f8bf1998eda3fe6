"""Vectors as plain data: the float32 bytes they are stored as, the key of a topic text,
and an embedder that answers from vectors it was given. No database here: reading and
storing them is :mod:`digest.db.vectors`, the steps that fill them :mod:`digest.embeddings`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import numpy as np

from digest.rank import semantic


def encode(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def decode(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4")


def decode_all(blobs: Mapping[str, bytes]) -> dict[str, np.ndarray]:
    return {pid: decode(b) for pid, b in blobs.items()}


def text_key(text: str) -> str:
    """How a topic text is stored: its SHA-256, so the table holds no reader's words."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class KnownTexts:
    """An embedder that answers from vectors it was given and runs ``inner`` on the rest."""

    def __init__(self, inner: semantic.Embedder, known: Mapping[str, np.ndarray]):
        self.inner, self.name, self.known = inner, inner.name, known

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return self.inner.embed([])
        missing = [t for t in dict.fromkeys(texts) if t not in self.known]
        computed = dict(zip(missing, self.inner.embed(missing), strict=True)) if missing else {}
        return np.vstack(
            [np.asarray(self.known.get(t, computed.get(t)), dtype=np.float32) for t in texts]
        )
