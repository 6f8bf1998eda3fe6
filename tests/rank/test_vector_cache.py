"""The text -> vector LRU in front of the embedding model (pure: a counting stand-in model)."""

from __future__ import annotations

import numpy as np

from digest.rank.semantic import DIMENSION, VectorCache


class Model:
    """Deterministic vectors from the text's hash; records what it was asked to embed."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts):  # type: ignore[no-untyped-def]
        self.calls.append(list(texts))
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row, hash(text) % DIMENSION] = 1.0
        return out


def test_only_unseen_texts_reach_the_model_and_rows_keep_their_order() -> None:
    model, cache = Model(), VectorCache(10)
    first = cache.embed(["a", "b", "a"], model)
    assert model.calls == [["a", "b"]]  # the duplicate is embedded once
    assert np.array_equal(first[0], first[2]) and not np.array_equal(first[0], first[1])
    second = cache.embed(["c", "b", "a"], model)
    assert model.calls[-1] == ["c"]
    assert np.array_equal(second[1], first[1]) and np.array_equal(second[2], first[0])
    assert (cache.hits, cache.misses) == (2, 3)  # misses count distinct texts


def test_least_recently_used_text_is_evicted() -> None:
    model, cache = Model(), VectorCache(2)
    cache.embed(["a", "b"], model)
    cache.embed(["a"], model)  # a is now more recent than b
    cache.embed(["c"], model)  # evicts b
    cache.embed(["a", "b"], model)
    assert model.calls[-1] == ["b"]


def test_size_zero_caches_nothing() -> None:
    model, cache = Model(), VectorCache(0)
    cache.embed(["a"], model)
    cache.embed(["a"], model)
    assert model.calls == [["a"], ["a"]]
    assert cache.embed([], model).shape == (0, DIMENSION)
