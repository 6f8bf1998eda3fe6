"""BM25 over a pool of papers, vectorized: every query of a batch is scored at once.

Documents are the title (counted twice, so a title match weighs more) plus the abstract,
analyzed into unigrams and bigrams. Scores are normalized by the query's own maximum
(sum of its terms' idf x (k1 + 1)), so a threshold means the same for short and long topics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer

from digest.domain import Paper
from digest.rank.text import MAX_QUERY_CHARS, analyze

K1 = 1.2
B = 0.75
TITLE_WEIGHT = 2


@dataclass
class Bm25Index:
    """A BM25-weighted document x term matrix for one candidate pool."""

    vectorizer: CountVectorizer
    weights: sparse.csr_matrix  # docs x terms, BM25 term weights
    idf: np.ndarray  # terms
    title_terms: sparse.csr_matrix  # docs x terms, 1 where the term is in the title
    presence: sparse.csr_matrix  # docs x terms, 1 where a single word occurs in the doc
    unigram: np.ndarray  # terms, 1.0 for single words, 0.0 for bigrams

    @classmethod
    def build(cls, papers: Sequence[Paper]) -> Bm25Index | None:
        texts = [" ".join([p.title] * TITLE_WEIGHT + [p.abstract]) for p in papers]
        vectorizer = CountVectorizer(analyzer=analyze, dtype=np.float32)
        try:
            counts = vectorizer.fit_transform(texts).tocsr()
        except ValueError:  # empty vocabulary: every document is empty
            return None
        n_docs = counts.shape[0]
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        idf = np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        lengths = np.asarray(counts.sum(axis=1)).ravel()
        norm = K1 * (1 - B + B * lengths / max(lengths.mean(), 1e-9))
        tf = counts.copy()
        row_norm = np.repeat(norm, np.diff(tf.indptr))
        tf.data = tf.data * (K1 + 1) / (tf.data + row_norm)
        weights = tf.multiply(idf).tocsr()
        titles = vectorizer.transform([p.title for p in papers]).tocsr()
        titles.data[:] = 1
        unigram = np.array(
            [" " not in t for t in vectorizer.get_feature_names_out()], dtype=np.float32
        )
        presence = counts.multiply(unigram).tocsr()
        presence.data[:] = 1
        presence.eliminate_zeros()
        return cls(vectorizer, weights.astype(np.float32), idf, titles, presence, unigram)

    def query_matrix(self, queries: Sequence[str]) -> sparse.csr_matrix:
        """Binary query x term matrix (a term counts once per query)."""
        q = self.vectorizer.transform([text[:MAX_QUERY_CHARS] for text in queries]).tocsr()
        q.data[:] = 1
        return q

    def score(self, queries: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per query x doc: normalized BM25 in [0, 1], the share of the query's words that
        occur in the doc (coverage), and whether any query term is in the title."""
        q = self.query_matrix(queries)
        raw = (q @ self.weights.T).toarray()
        # A query word the pool never uses still counts in the ceiling (at the highest idf),
        # or a topic would look like a perfect match when only its commonest word appears.
        vocabulary = self.vectorizer.vocabulary_
        words = [{t for t in analyze(text[:MAX_QUERY_CHARS]) if " " not in t} for text in queries]
        unseen = np.array([len(w - vocabulary.keys()) for w in words], dtype=np.float32)
        n_words = np.array([max(len(w), 1) for w in words], dtype=np.float32)
        coverage = (q @ self.presence.T).toarray() / n_words[:, None]
        ceiling = q @ (self.idf * (K1 + 1)) + unseen * float(self.idf.max(initial=1.0)) * (K1 + 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            normalized = np.where(ceiling[:, None] > 0, raw / ceiling[:, None], 0.0)
        in_title = (q @ self.title_terms.T).toarray() > 0
        return normalized.astype(np.float32), coverage.astype(np.float32), in_title
