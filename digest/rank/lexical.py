"""Lexical relevance over one candidate pool: BM25 with a title field weight, phrases and
pseudo-relevance feedback, plus TF-IDF vectors for paper-to-paper similarity.

Everything is a sparse matrix product over the whole batch of queries at once:
  * documents are the title (repeated ``title_weight`` times: a title match weighs more) plus
    the abstract, analysed into stemmed unigrams and bigrams (:func:`digest.rank.text.analyze`);
  * a topic is scored by BM25 (a long description's first sentence, its heading, weighing
    more: ``head_weight``) and then expanded with the strongest terms of its best
    ``prf_docs`` papers, each weighed by its score (RM3 pseudo-relevance feedback), and
    scored again, which finds papers that say the same thing in other words; a glossary
    (the arXiv taxonomy) and a TF-IDF cosine blend are research knobs, off;
  * a topic *matches* a paper only when enough of its distinct words occur in it (two of a
    short topic, one of a long description: see :func:`required_words`);
  * for topics (BM25 and matching), each paper's text is completed with the other form of
    the acronyms it uses, learned from the pool's definitions (:mod:`digest.rank.acronyms`);
    the TF-IDF vectors that compare papers read only what the papers say.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import sparse

from digest.domain import Paper
from digest.rank.acronyms import Acronyms
from digest.rank.options import LexicalParams
from digest.rank.text import MAX_QUERY_CHARS, analyze


@lru_cache(maxsize=100_000)
def analyze_query(text: str) -> frozenset[str]:
    """The distinct terms of a topic (topics recur across readers and batches)."""
    return frozenset(query_counts(text))


@lru_cache(maxsize=100_000)
def topic_words(text: str) -> frozenset[str]:
    """The distinct words of a topic, without its phrases."""
    return frozenset(t for t in analyze_query(text) if " " not in t)


@lru_cache(maxsize=100_000)
def query_counts(text: str) -> dict[str, int]:
    """Each term of a topic with how often the topic says it."""
    return dict(Counter(analyze(text[:MAX_QUERY_CHARS])))


def paper_text(paper: Paper, title_weight: int = 1) -> str:
    return " ".join([paper.title] * title_weight + [paper.abstract])


SHORT_TOPIC = 6  # distinct words; longer topics are descriptions


def required_words(n_words: np.ndarray) -> np.ndarray:
    """How many distinct words of a topic a paper must contain to match it: two (one for a
    one-word topic) for a short topic, so 'continual learning' does not match every paper
    about learning; one for a description, whose BM25 score then does the ranking (a
    stricter rule lost 0.02 nDCG@10 on the tuning days)."""
    return np.where(n_words <= SHORT_TOPIC, np.minimum(n_words, 2), 1).astype(np.float32)


class TermCounts:
    """Documents -> a sparse matrix of their terms' counts, over a vocabulary learned from
    them (``fit_transform``) in sorted order: what scikit-learn's ``CountVectorizer`` with a
    callable analyzer makes, bit for bit (tests/rank/test_term_counts.py compares them),
    without importing scikit-learn, which cost every ranking process 0.6 s before its
    first reader (``digest run`` waits for it before sending anything)."""

    def __init__(self, analyzer: Callable[[str], list[str]]):
        self.analyzer = analyzer
        self.vocabulary_: dict[str, int] = {}

    def fit_transform(self, documents: Iterable[str]) -> sparse.csr_matrix:
        # Terms numbered in order of first use (a missing term gets the next number), then
        # renumbered in sorted order; CountVectorizer's order of a row's entries comes from
        # this too. The loops over terms run in C (map, Counter): 2,000 abstracts a second
        # more than a loop in Python.
        first_use: defaultdict[str, int] = defaultdict()
        first_use.default_factory = first_use.__len__
        values: list[int] = []
        indices: list[int] = []
        indptr = [0]
        for document in documents:
            counts = Counter(self.analyzer(document))
            indices.extend(map(first_use.__getitem__, counts))
            values.extend(counts.values())
            indptr.append(len(indices))
        if not first_use:
            raise ValueError("empty vocabulary: the documents have no indexable word")
        matrix = _csr(values, indices, indptr, n_terms=len(first_use))
        terms = sorted(first_use)
        renumbered = np.empty(len(terms), dtype=matrix.indices.dtype)
        renumbered[np.fromiter(map(first_use.__getitem__, terms), np.int64, len(terms))] = (
            np.arange(len(terms))
        )
        matrix.indices = renumbered.take(matrix.indices)
        self.vocabulary_ = dict(zip(terms, range(len(terms)), strict=True))
        return matrix

    def transform(self, documents: Iterable[str]) -> sparse.csr_matrix:
        """Counts over the learned vocabulary (terms it does not have are left out)."""
        number = self.vocabulary_.get
        values: list[int] = []
        indices: list[int] = []
        indptr = [0]
        for document in documents:
            for term, n in Counter(self.analyzer(document)).items():
                if (j := number(term)) is not None:
                    indices.append(j)
                    values.append(n)
            indptr.append(len(indices))
        return _csr(values, indices, indptr, n_terms=len(self.vocabulary_))

    def get_feature_names_out(self) -> np.ndarray:
        return np.array(sorted(self.vocabulary_), dtype=object)


def _csr(
    values: list[int], indices: list[int], indptr: list[int], *, n_terms: int
) -> sparse.csr_matrix:
    """Documents x terms, float32 counts, each row's entries sorted by term number."""
    matrix = sparse.csr_matrix(
        (
            np.array(values, dtype=np.float32),
            np.array(indices, dtype=np.int32),
            np.array(indptr, dtype=np.int32),
        ),
        shape=(len(indptr) - 1, n_terms),
    )
    matrix.sort_indices()
    return matrix


def _idf(df: np.ndarray, n: int) -> np.ndarray:
    return np.log1p((n - df + 0.5) / (df + 0.5))


def _row_normalize(m: sparse.csr_matrix, order: int = 2) -> sparse.csr_matrix:
    m = m.tocsr(copy=True)
    if order == 2:
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    else:
        norms = np.asarray(abs(m).sum(axis=1)).ravel()
    scale = np.where(norms > 0, 1.0 / np.maximum(norms, 1e-12), 0.0).astype(np.float32)
    m.data *= np.repeat(scale, np.diff(m.indptr))
    return m


def _top_per_row(m: sparse.csr_matrix, k: int) -> sparse.csr_matrix:
    """Keep the ``k`` largest entries of each row of a sparse matrix."""
    m = m.tocsr()
    m.eliminate_zeros()
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    order = np.lexsort((-m.data, rows))  # by row, then by value descending
    rank = np.arange(len(order)) - np.repeat(m.indptr[:-1], np.diff(m.indptr))
    keep = order[rank < k]
    return sparse.csr_matrix((m.data[keep], (rows[keep], m.indices[keep])), shape=m.shape)


def _by_best(raw: np.ndarray) -> np.ndarray:
    """Each row divided by its maximum (rows without a positive value: zeros)."""
    best = raw.max(axis=1, initial=0.0)
    out: np.ndarray = np.divide(raw, best[:, None], out=np.zeros_like(raw), where=best[:, None] > 0)
    return out


@dataclass
class TopicScores:
    relevance: np.ndarray  # topics x docs, BM25 (expanded), divided by the topic's best score
    matched: np.ndarray  # topics x docs, bool: enough of the topic's words are in the paper


class LexicalIndex:
    """BM25 and TF-IDF matrices of one pool of papers."""

    def __init__(
        self,
        papers: Sequence[Paper],
        params: LexicalParams | None = None,
        glossary: Mapping[str, str] | None = None,
    ):
        self.params = p = params or LexicalParams()
        self.glossary = Glossary(glossary or {})
        self.n_docs = n = len(papers)
        self.vectorizer = TermCounts(analyze)
        texts = [paper_text(paper, p.title_weight) for paper in papers]
        acronyms = Acronyms.learn(texts) if p.acronyms else Acronyms({})
        self.acronyms = acronyms
        # Each paper's acronyms and long forms, with their other forms (reasons use them too).
        self.uses = [acronyms.uses(text) if acronyms.table else [] for text in texts]
        completions = [" . ".join(o for _, o in u) for u in self.uses] if acronyms.table else []
        # ValueError on an empty vocabulary
        both = self.vectorizer.fit_transform(texts + completions).tocsr()
        counts = both[:n]  # what the papers say
        topical = counts + both[n:] if completions else counts  # and their acronyms' forms
        self.vocabulary: dict[str, int] = self.vectorizer.vocabulary_
        # TF-IDF compares papers by what they say: terms only the completions hold weigh 0.
        said = np.bincount(counts.indices, minlength=counts.shape[1])
        self.idf = np.where(said > 0, _idf(said, n), 0.0).astype(np.float32)
        df = np.bincount(topical.indices, minlength=topical.shape[1])
        idf = _idf(df, n)
        self.topic_idf = idf.astype(np.float32)  # what a topic's word tells, acronyms counted
        lengths = np.asarray(topical.sum(axis=1)).ravel()
        norm = p.k1 * (1 - p.b + p.b * lengths / max(float(lengths.mean()), 1e-9))
        tf = topical.copy()
        tf.data = tf.data * (p.k1 + 1) / (tf.data + np.repeat(norm, np.diff(tf.indptr)))
        self.bm25_t = tf.multiply(idf).tocsr().astype(np.float32).T.tocsr()  # terms x docs
        self.tfidf = self._tfidf(counts)  # docs x terms, unit rows
        # Each paper's strongest terms: what expansion draws from (keeps it sparse and fast).
        self.strongest = _top_per_row(self.tfidf, p.prf_terms)
        presence = topical.copy()
        presence.data[:] = 1
        terms = self.vectorizer.get_feature_names_out()
        self.unigram = np.array([" " not in t for t in terms])
        self.presence_t = presence.multiply(self.unigram.astype(np.float32)).T.tocsr()
        self.presence_t.eliminate_zeros()

    @classmethod
    def build(
        cls,
        papers: Sequence[Paper],
        params: LexicalParams | None = None,
        glossary: Mapping[str, str] | None = None,
    ) -> LexicalIndex | None:
        """The index, or None when no paper has a single indexable word."""
        try:
            return cls(papers, params, glossary)
        except ValueError:
            return None

    def _tfidf(self, counts: sparse.csr_matrix) -> sparse.csr_matrix:
        tf = counts.tocsr(copy=True).astype(np.float32)
        tf.data = 1 + np.log(tf.data)
        return _row_normalize(tf.multiply(self.idf).tocsr())

    def vectors(self, papers: Sequence[Paper]) -> sparse.csr_matrix:
        """Unit TF-IDF rows for any papers (seeds from history, too) in this pool's terms."""
        counts = self.vectorizer.transform(
            [paper_text(p, self.params.title_weight) for p in papers]
        )
        return self._tfidf(counts)

    def query_matrix(
        self, queries: Sequence[str], k3: float = 0.0
    ) -> tuple[sparse.csr_matrix, np.ndarray]:
        """Query x term matrix, and each query's count of distinct words. With ``k3`` = 0
        every term weighs 1; otherwise a term said ``n`` times weighs (k3 + 1) n / (k3 + n)
        (Okapi's query-term saturation), so a description's recurring words count more."""
        vocabulary = self.vocabulary
        indptr: list[int] = [0]
        indices: list[int] = []
        data: list[float] = []
        n_words: list[int] = []
        for text in queries:
            counts = query_counts(text)
            found = sorted((vocabulary[t], n) for t, n in counts.items() if t in vocabulary)
            indices.extend(i for i, _ in found)
            data.extend(n for _, n in found)
            indptr.append(len(indices))
            n_words.append(sum(1 for t in counts if " " not in t))
        weights = np.array(data, dtype=np.float32)
        weights = (k3 + 1) * weights / (k3 + weights) if k3 > 0 else np.ones_like(weights)
        shape = (len(queries), len(vocabulary))
        q = sparse.csr_matrix((weights, np.array(indices, dtype=np.int64), indptr), shape=shape)
        return q, np.array(n_words, dtype=np.float32)

    def score_topics(self, topics: Sequence[str]) -> TopicScores:
        """Relevance and match of every topic against every paper of the pool."""
        p = self.params
        q, n_words = self.query_matrix(topics, p.query_k3)
        present = q.copy()
        present.data[:] = 1  # matching counts the topic's distinct words, whatever their
        # weight (not the glossary's)
        if p.glossary_weight > 0 and self.glossary.entries:
            q = self._with_glossary(topics, q)
        if p.head_weight > 0:
            q = self._with_head(topics, q, n_words)
        raw = (q @ self.bm25_t).toarray()
        if p.prf_docs > 0 and p.prf_weight > 0 and self.n_docs > 0:
            raw = self._expanded(q, raw)
        relevance = _by_best(raw)
        if p.topic_cosine > 0:  # CombSUM with the topic's TF-IDF cosine, each by its best
            said = self.vectorizer.transform([t[:MAX_QUERY_CHARS] for t in topics])
            cosine = (self._tfidf(said) @ self.tfidf.T).toarray()
            relevance = (1 - p.topic_cosine) * relevance + p.topic_cosine * _by_best(cosine)
        found = (present @ self.presence_t).toarray()
        matched = (found >= required_words(n_words)[:, None]) & (found > 0)
        return TopicScores(relevance.astype(np.float32), matched)

    def coverage(self, topics: Sequence[str]) -> np.ndarray:
        """Topics x docs: the share of each topic's distinct words that the paper says
        (acronyms counting as their long forms), each word weighed by its IDF, so a paper
        that has only a topic's common words ('systems', 'AI') covers little of it. Unlike
        BM25 relevance, which is divided by the pool's best, this is absolute: it says how
        well a paper matches on a day when nothing matches well (a word no paper of the pool
        says weighs as much as the rarest one)."""
        unseen = float(_idf(np.zeros(1), self.n_docs)[0])
        indptr, indices, data, totals = [0], [], [], []
        for text in topics:
            total = 0.0
            for word in sorted(topic_words(text)):
                j = self.vocabulary.get(word)
                weight = unseen if j is None else float(self.topic_idf[j])
                total += weight
                if j is not None:
                    indices.append(j)
                    data.append(weight)
            indptr.append(len(indices))
            totals.append(total)
        shape = (len(topics), len(self.vocabulary))
        q = sparse.csr_matrix((np.array(data, dtype=np.float32), indices, indptr), shape=shape)
        found = (q @ self.presence_t).toarray()
        norm = np.maximum(np.array(totals, dtype=np.float32), 1e-9)[:, None]
        cover: np.ndarray = (found / norm).astype(np.float32)
        return cover

    def _expanded(self, q: sparse.csr_matrix, raw: np.ndarray) -> np.ndarray:
        p = self.params
        m = min(p.prf_docs, self.n_docs)
        top = np.argpartition(-raw, m - 1, axis=1)[:, :m]
        rows = np.repeat(np.arange(raw.shape[0]), m)
        # Only papers that match the topic at all feed the expansion (a small pool's
        # "top 5" may hold papers with no shared word).
        scores = np.take_along_axis(raw, top, axis=1)
        if p.prf_scored:  # RM3: a feedback paper weighs by its score (its share of the top m)
            total = scores.sum(axis=1, keepdims=True)
            weight = np.divide(scores, total, out=np.zeros_like(scores), where=total > 0)
            weight = np.maximum(weight, 0).astype(np.float32).ravel()
        else:
            weight = (scores > 0).astype(np.float32).ravel() / m
        picked = sparse.csr_matrix((weight, (rows, top.ravel())), shape=raw.shape)
        centroid = _top_per_row(picked @ self.strongest, p.prf_terms)
        expanded = (1 - p.prf_weight) * _row_normalize(q, 1) + p.prf_weight * _row_normalize(
            centroid, 1
        )
        expanded_scores: np.ndarray = (expanded.tocsr() @ self.bm25_t).toarray()
        return expanded_scores

    def _with_glossary(self, topics: Sequence[str], q: sparse.csr_matrix) -> sparse.csr_matrix:
        """Each topic that names a glossary entry (an arXiv category's name, say) takes
        ``glossary_weight`` of its query from the entry's text (its description): query
        expansion from a curated vocabulary, mixed like the pseudo-relevance terms."""
        p = self.params
        texts = [self.glossary.lookup(t, p.glossary_match) for t in topics]
        if not any(texts):
            return q
        extra, _ = self.query_matrix([t or "" for t in texts], p.query_k3)
        has = np.array([bool(t) for t in texts], dtype=np.float32)
        w = sparse.diags(has * p.glossary_weight)
        keep = sparse.diags(1 - has * p.glossary_weight)
        mixed = keep @ _row_normalize(q, 1) + w @ _row_normalize(extra, 1)
        return mixed.tocsr().astype(np.float32)

    def _with_head(
        self, topics: Sequence[str], q: sparse.csr_matrix, n_words: np.ndarray
    ) -> sparse.csr_matrix:
        """A description (more than ``SHORT_TOPIC`` words) whose first sentence is shorter
        than the whole ('Computation and Language. Covers natural language processing ...')
        gives ``head_weight`` of its query to that sentence's terms: its heading says what
        the rest explains (title queries beat description queries at TREC)."""
        heads = [
            head_of(t) if n > SHORT_TOPIC else "" for t, n in zip(topics, n_words, strict=True)
        ]
        if not any(heads):
            return q
        extra, _ = self.query_matrix(heads, self.params.query_k3)
        has = np.array([bool(h) for h in heads], dtype=np.float32) * self.params.head_weight
        mixed = sparse.diags(1 - has) @ _row_normalize(q, 1) + sparse.diags(has) @ _row_normalize(
            extra, 1
        )
        return mixed.tocsr().astype(np.float32)


HEAD = re.compile(r"^(.{3,120}?)(?:[.:;!?]\s|\s[-–—]\s|\n)")


def head_of(topic: str) -> str:
    """A topic's first sentence or heading, when it has one shorter than the topic."""
    found = HEAD.match(topic.strip())
    return found.group(1) if found else ""


class Glossary:
    """Names (an arXiv category's, say) and a text for each (its description). A topic names
    an entry when the Jaccard index of their stemmed words reaches a threshold; entries
    sharing a name ('Machine Learning': cs.LG, stat.ML) give all their texts."""

    def __init__(self, entries: Mapping[str, str]):
        by_words: dict[frozenset[str], list[str]] = {}
        for name, text in entries.items():
            key = topic_words(name)
            if key and text:
                by_words.setdefault(key, []).append(text)
        self.entries = {k: " ".join(v) for k, v in by_words.items()}
        self._cache: dict[tuple[str, float], str | None] = {}

    def lookup(self, topic: str, threshold: float = 1.0) -> str | None:
        """The text of the entry the topic names best (None when none reaches
        ``threshold``); a topic that is an entry's name and more (its description) names it."""
        key = (topic, threshold)
        if key not in self._cache:
            self._cache[key] = self._lookup(topic, threshold)
        return self._cache[key]

    def _lookup(self, topic: str, threshold: float) -> str | None:
        words = topic_words(topic)
        head = topic_words(topic.split(".")[0]) if "." in topic else words
        best, found = 0.0, None
        for name, text in self.entries.items():
            score = max(len(words & name) / len(words | name), len(head & name) / len(head | name))
            if score > best:
                best, found = score, text
        return found if best >= threshold and words else None
