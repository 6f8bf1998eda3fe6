"""``TermCounts`` makes what scikit-learn's ``CountVectorizer(analyzer=analyze,
dtype=float32)`` makes, bit for bit (vocabulary, matrix entries and their order), so the
lexical index and every ranking built on it are unchanged without importing scikit-learn;
and the copied stop words are still scikit-learn's."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS as SKLEARN_STOP_WORDS
from sklearn.feature_extraction.text import CountVectorizer

from digest.demo import sample_papers_path
from digest.rank.lexical import TermCounts
from digest.rank.stop_words import ENGLISH_STOP_WORDS
from digest.rank.text import analyze


def same(ours, theirs) -> None:  # type: ignore[no-untyped-def]
    assert ours.shape == theirs.shape
    for part in ("data", "indices", "indptr"):
        mine, other = getattr(ours, part), getattr(theirs, part)
        assert mine.dtype == other.dtype, part
        assert np.array_equal(mine, other), part  # the same entries in the same order


def texts() -> list[str]:
    lines = sample_papers_path().read_text().splitlines()
    papers = [json.loads(line) for line in lines]
    return [f"{p['title']} {p['title']} {p['abstract']}" for p in papers]


def test_term_counts_are_count_vectorizers() -> None:
    documents = texts()
    fitted, queries = documents[:40], [*documents[40:], "speech recognition", "", "zzz unseen"]
    ours, theirs = TermCounts(analyze), CountVectorizer(analyzer=analyze, dtype=np.float32)
    same(ours.fit_transform(fitted), theirs.fit_transform(fitted))
    assert ours.vocabulary_ == theirs.vocabulary_
    assert list(ours.get_feature_names_out()) == list(theirs.get_feature_names_out())
    same(ours.transform(queries), theirs.transform(queries))


def test_an_empty_vocabulary_is_a_value_error_as_in_scikit_learn() -> None:
    with pytest.raises(ValueError):
        TermCounts(analyze).fit_transform(["the of and", ""])


def test_the_stop_words_are_scikit_learns() -> None:
    assert ENGLISH_STOP_WORDS == SKLEARN_STOP_WORDS
