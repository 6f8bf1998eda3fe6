"""Everything about one candidate pool that ranking computes once per batch, not per reader:
the lexical index, embeddings, postings of authors, categories and words (for keyword
filters), the trending prior, recency, and near-duplicate pairs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date
from functools import lru_cache

import numpy as np
from scipy import sparse

from digest.domain import Paper
from digest.rank.lexical import LexicalIndex, analyze_query, topic_words
from digest.rank.options import LexicalParams
from digest.rank.semantic import Embedder, embed_papers
from digest.rank.text import (
    MAX_QUERY_CHARS,
    TOKEN,
    analyze,
    author_key,
    code_owners,
    fold,
    keyword_pattern,
    plurals,
    tokens,
    words,
)


class Pool:
    """A candidate pool, plus the earlier papers (history) that seeds may refer to."""

    def __init__(
        self,
        papers: Sequence[Paper],
        history: Sequence[Paper] = (),
        *,
        lexical: LexicalParams | None = None,
        embedder: Embedder | None = None,
        vectors: Mapping[str, np.ndarray] | None = None,
        recency_half_life: float = 3.0,
        glossary: Mapping[str, str] | None = None,
    ):
        self.papers = list(papers)
        self.n = len(self.papers)
        self.index = {p.id: i for i, p in enumerate(self.papers)}
        self.known = {p.id: p for p in history} | {p.id: p for p in self.papers}
        self.lexical = LexicalIndex.build(self.papers, lexical, glossary)
        self.embedder = embedder
        self.vectors = dict(vectors or {})
        self.dense = self._embed(self.papers) if embedder is not None else None
        self.trending = trending_prior(self.papers)
        self.recency = recency(self.papers, recency_half_life)
        self._folded: list[str] | None = None
        self._postings: dict[str, np.ndarray] | None = None
        self._keyword_cache: dict[str, np.ndarray] = {}
        self.authors: dict[str, list[int]] = {}
        self.categories: dict[str, list[int]] = {}
        self.owned: dict[str, list[int]] = {}  # code owner -> papers linking to their code
        self._owners: dict[str, frozenset[str]] = {}
        self._coauthors: dict[tuple[object, ...], dict[int, list[str]]] = {}
        for i, paper in enumerate(self.papers):
            for owner in self.owners(paper.id):
                self.owned.setdefault(owner, []).append(i)
            for name in paper.authors:
                self.authors.setdefault(author_key(name), []).append(i)
            for category in paper.categories:
                self.categories.setdefault(category.strip(), []).append(i)
        self._category_arrays: dict[str, np.ndarray] = {}
        self._duplicates: list[frozenset[int]] | None = None
        self._title_terms: dict[int, set[str]] = {}
        self._paper_terms: dict[int, set[str]] = {}
        # paper -> (words its acronyms' other forms say, each use, its own words once needed)
        self._said: dict[
            int, tuple[frozenset[str], list[tuple[str, frozenset[str]]], frozenset[str] | None]
        ] = {}
        self._seed_rows: dict[str, sparse.csr_matrix] = {}
        # The reason a topic matched a paper, by (topic, paper): readers share topics, so
        # the chunks of an edition explain each pair once (see ranker._Chunk._words_reason).
        self.word_reasons: dict[tuple[str, int], str] = {}

    def add_readers(
        self,
        history: Sequence[Paper],
        *,
        vectors: Mapping[str, np.ndarray] | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        """Before ranking another group of readers with the same pool: the earlier papers
        their seeds refer to (and those papers' stored embeddings), and the embedder that
        answers for their topics (semantic backend). The candidates and their index stay."""
        self.known.update({p.id: p for p in history if p.id not in self.index})
        self.vectors.update(vectors or {})
        if embedder is not None and self.embedder is not None:
            self.embedder = embedder

    def in_title(self, topic: str, i: int) -> bool:
        """Whether a word or phrase of ``topic`` is in paper ``i``'s title (for reasons), an
        acronym counting as its long form and the other way round."""
        if i not in self._title_terms:
            title = self.papers[i].title
            completion = self.lexical.acronyms.completion(title) if self.lexical else ""
            self._title_terms[i] = set(analyze(f"{title} . {completion}"))
        return not analyze_query(topic).isdisjoint(self._title_terms[i])

    def words_found(self, topic: str, i: int) -> tuple[list[str], list[str]]:
        """The words of ``topic`` that paper ``i`` says, as the reader wrote them, adjacent
        ones joined into phrases: those in the title, then those only in the abstract (an
        acronym counting as its long form and the other way round). For reasons."""
        if i not in self._paper_terms:
            paper = self.papers[i]
            text = f"{paper.title} . {paper.abstract}"
            completion = self.lexical.acronyms.completion(text) if self.lexical else ""
            self._paper_terms[i] = set(tokens(f"{text} . {completion}"))
        self.in_title(topic, i)  # fills the title's terms
        title, anywhere = self._title_terms[i], self._paper_terms[i]
        in_title: list[str] = []
        in_abstract: list[str] = []
        phrase: list[str] = []
        where: list[str] | None = None
        for word in [*TOKEN.findall(topic[:MAX_QUERY_CHARS]), ""]:
            term = word_terms(word) if word else ()
            place = None
            if term and term[0] in anywhere:
                place = in_title if term[0] in title else in_abstract
            if phrase and place is not where:  # the phrase ends here
                assert where is not None
                where.append(" ".join(phrase))
                phrase = []
            if place is not None:
                phrase.append(word)
                where = place
        return list(dict.fromkeys(in_title)), list(dict.fromkeys(in_abstract))

    def via_acronym(self, topic: str, i: int) -> str:
        """How paper ``i`` says words of ``topic`` that it has only through an acronym or its
        long form ('AI' for the topic 'artificial intelligence'), or '' (for reasons)."""
        if self.lexical is None or not self.lexical.uses[i]:
            return ""
        if i not in self._said:
            uses = [(said, frozenset(tokens(other))) for said, other in self.lexical.uses[i]]
            self._said[i] = (frozenset().union(*(other for _, other in uses)), uses, None)
        others, uses, own = self._said[i]
        wanted = topic_words(topic)
        if wanted.isdisjoint(others):  # most picks: no acronym says the topic's words
            return ""
        if own is None:
            own = frozenset(tokens(f"{self.papers[i].title}\n{self.papers[i].abstract}"))
            self._said[i] = (others, uses, own)
        missing = wanted - own
        return next((said for said, other in uses if missing & other), "") if missing else ""

    def owners(self, paper_id: str) -> frozenset[str]:
        """Owners of the code and project pages a known paper links to (see ``code_owners``):
        in its abstract, its comment, or its repository and project links (Hugging Face)."""
        if paper_id not in self._owners:
            paper = self.known[paper_id]
            links = paper.links or {}
            self._owners[paper_id] = code_owners(
                paper.abstract, paper.comment, links.get("github"), links.get("project")
            )
        return self._owners[paper_id]

    def coauthors(self, seed_id: str, max_authors: int, limit: int) -> dict[int, list[str]]:
        """Pool papers sharing authors with a known paper -> the shared author keys, in the
        seed's order; computed once per pool (seeds recur across chunks). Names on more than
        ``limit`` pool papers are skipped, and so are seeds with more than ``max_authors``
        authors (collaborations; 0: no cap)."""
        names = self.known[seed_id].authors
        cache_key = (seed_id, names, max_authors, limit)
        if cache_key not in self._coauthors:
            shared: dict[int, list[str]] = {}
            if max_authors <= 0 or len(names) <= max_authors:
                for key in dict.fromkeys(author_key(a) for a in names):
                    docs = self.authors.get(key, ())
                    if not key or len(docs) > limit:
                        continue
                    for i in docs:
                        if self.papers[i].id != seed_id:
                            shared.setdefault(i, []).append(key)
            self._coauthors[cache_key] = shared
        return self._coauthors[cache_key]

    def category_docs(self, category: str) -> np.ndarray:
        """Indices of the pool papers in ``category``, as an array made once per pool
        (every chunk's readers ask for the same few categories)."""
        found = self._category_arrays.get(category)
        if found is None:
            docs = self.categories.get(category, ())
            found = self._category_arrays[category] = np.array(docs, dtype=np.int64)
        return found

    def seed_tfidf(self, seed_ids: Sequence[str]) -> sparse.csr_matrix:
        """Unit TF-IDF rows of seed papers, analysed once per pool (seeds recur across chunks)."""
        assert self.lexical is not None
        missing = [s for s in dict.fromkeys(seed_ids) if s not in self._seed_rows]
        if missing:
            matrix = self.lexical.vectors([self.known[s] for s in missing])
            for row, seed in enumerate(missing):
                self._seed_rows[seed] = matrix[row]
        return sparse.vstack([self._seed_rows[s] for s in seed_ids]).tocsr()

    # -- embeddings ---------------------------------------------------------------------
    def _embed(self, papers: Sequence[Paper]) -> np.ndarray:
        """Stored vectors where given (embedded once at ingest), the model for the rest."""
        assert self.embedder is not None
        missing = [p for p in papers if p.id not in self.vectors]
        if missing:
            for paper, vector in zip(missing, embed_papers(missing, self.embedder), strict=True):
                self.vectors[paper.id] = vector
        if not papers:
            return np.zeros((0, 0), dtype=np.float32)
        return np.vstack([np.asarray(self.vectors[p.id], dtype=np.float32) for p in papers])

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        assert self.embedder is not None
        return self.embedder.embed(list(texts))

    def seed_vectors(self, seed_ids: Sequence[str]) -> np.ndarray:
        return self._embed([self.known[s] for s in seed_ids])

    # -- keyword filters ----------------------------------------------------------------
    @property
    def folded(self) -> list[str]:
        if self._folded is None:
            self._folded = [fold(f"{p.title}\n{p.abstract}") for p in self.papers]
        return self._folded

    def postings(self) -> dict[str, np.ndarray]:
        """Each folded word -> the papers saying it, sorted: the keyword filters' index."""
        if self._postings is None:
            postings: dict[str, set[int]] = {}
            for i, text in enumerate(self.folded):
                for word in set(words(text)):
                    postings.setdefault(word, set()).add(i)
            self._postings = {w: np.array(sorted(d)) for w, d in postings.items()}
        return self._postings

    def keyword_docs(self, keyword: str) -> np.ndarray:
        """Indices of papers containing ``keyword`` as whole words (a phrase allowed)."""
        key = fold(keyword).strip()
        if key in self._keyword_cache:
            return self._keyword_cache[key]
        postings = self.postings()
        pattern = keyword_pattern([keyword])
        found = np.zeros(0, dtype=np.int64)
        if pattern is not None:
            candidates: np.ndarray | None = None
            # A paper must hold every word (the last one maybe plural) before the regex runs.
            said = words(key)
            for forms in [(w,) for w in said[:-1]] + [plurals(w) for w in said[-1:]]:
                lists = [postings[w] for w in forms if w in postings]
                docs = np.unique(np.concatenate(lists)) if lists else np.zeros(0, dtype=np.int64)
                candidates = docs if candidates is None else np.intersect1d(candidates, docs)
            if candidates is None:  # no word characters at all ('C++' is 'c', '++' is none)
                candidates = np.arange(self.n)
            found = np.array(
                [i for i in candidates if pattern.search(self.folded[i])], dtype=np.int64
            )
        self._keyword_cache[key] = found
        return found

    def warm(self, duplicate_threshold: float | None) -> None:
        """Compute now what every group of readers asks of the pool, which would otherwise
        be done for the first one: the near duplicates (``None``: diversity is off) and the
        keyword filters' postings. For a pool built ahead, in a thread, while the edition
        is planned, so its first readers are ranked at once."""
        if duplicate_threshold is not None:
            self.duplicates(duplicate_threshold)
        self.postings()

    # -- near duplicates ----------------------------------------------------------------
    def duplicates(self, threshold: float) -> list[frozenset[int]]:
        """For each paper, the papers whose TF-IDF cosine with it is at least ``threshold``."""
        if self._duplicates is None:
            pairs: list[set[int]] = [set() for _ in range(self.n)]
            if self.lexical is not None and self.n > 1:
                tfidf = self.lexical.tfidf
                for start in range(0, self.n, 2000):
                    block = (tfidf[start : start + 2000] @ tfidf.T).tocoo()
                    keep = (block.data >= threshold) & (block.row + start != block.col)
                    for r, c in zip(block.row[keep] + start, block.col[keep], strict=True):
                        pairs[r].add(int(c))
            self._duplicates = [frozenset(p) for p in pairs]
        return self._duplicates


def trending_prior(papers: Sequence[Paper]) -> np.ndarray:
    """log(1 + upvotes + stars/10 + comments), scaled so the pool's most trending paper is 1."""
    raw = np.array(
        [
            math.log1p((p.upvotes or 0) + (p.github_stars or 0) / 10 + (p.num_comments or 0))
            for p in papers
        ],
        dtype=np.float32,
    )
    top = raw.max(initial=0.0)
    return raw / top if top > 0 else raw


def recency(papers: Sequence[Paper], half_life: float) -> np.ndarray:
    """1 for the pool's newest papers, halving every ``half_life`` days; 1 when undated."""
    days = [p.announced or p.published for p in papers]
    known = [d for d in days if d is not None]
    if not known or half_life <= 0:
        return np.ones(len(papers), dtype=np.float32)
    newest: date = max(known)
    age = np.array([(newest - d).days if d else 0 for d in days], dtype=np.float32)
    weights: np.ndarray = np.power(0.5, age / half_life).astype(np.float32)
    return weights


@lru_cache(maxsize=100_000)
def word_terms(word: str) -> tuple[str, ...]:
    """The terms one word of a topic analyses to (reasons look up the same words for every
    paper they explain)."""
    return tuple(tokens(word))


def membership(rows: Sequence[Sequence[int] | np.ndarray], n: int) -> np.ndarray:
    """A dense readers x papers boolean matrix from per-reader lists of paper indices."""
    out = np.zeros((len(rows), n), dtype=bool)
    filled = [(r, x) for r, x in enumerate(rows) if len(x)]  # most rows are empty
    if filled:
        r = np.repeat([r for r, _ in filled], [len(x) for _, x in filled])
        out[r, np.concatenate([np.asarray(x, dtype=np.int64) for _, x in filled])] = True
    return out
