"""Rank candidate papers for many readers at once, with a true reason for every pick.

Signals, each computed for the whole batch with matrix operations:
  * hard filters first: an excluded keyword removes a paper whatever else it has; when
    required keywords are set, a paper must contain at least one of them;
  * followed authors: their papers always make the digest (top of the list);
  * topics: normalized BM25 per topic, each topic kept as its own interest;
  * liked / disliked papers: TF-IDF cosine to each seed, the maximum over seeds (not the
    mean, so several interests stay separate); disliked papers push down;
  * categories: a boost, or a hard filter when ``category_mode='filter'``;
  * a small trending prior (upvotes, stars, comments).
A paper is eligible only if some interest signal fired, so readers get only papers that
match them. Readers with no usable interest (cold start) get the trending papers.
Diversity: interests take turns, so each interest is represented before any gets a second.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from digest.domain import Paper, Pick, Profile
from digest.rank.lexical import Bm25Index
from digest.rank.text import analyze, author_key, fold, keyword_pattern

AUTHOR_SECTION = "Authors you follow"
TRENDING_SECTION = "Trending today"


@dataclass(frozen=True)
class RankOptions:
    """Weights and thresholds of the blend (documented in docs/ranking.md)."""

    topic_threshold: float = 0.12
    topic_coverage: float = 0.5  # share of a topic's words a paper must contain
    liked_threshold: float = 0.15
    topic_weight: float = 1.0
    liked_weight: float = 0.8
    disliked_weight: float = 0.8
    category_boost: float = 0.1
    category_mode: str = "boost"  # or "filter"
    trending_weight: float = 0.02
    author_bonus: float = 10.0


@dataclass
class _Interest:
    label: str
    section: str


def rank(
    profiles: Sequence[Profile],
    candidates: Sequence[Paper],
    *,
    history: Sequence[Paper] = (),
    already_sent: Mapping[str, set[str]] | None = None,
    top_k: int = 10,
    options: RankOptions | None = None,
) -> list[list[Pick]]:
    """For each profile (in order), up to ``top_k`` picks, best first."""
    opts = options or RankOptions()
    already_sent = already_sent or {}
    if not candidates:
        return [[] for _ in profiles]
    papers = list({p.id: p for p in candidates}.values())
    folded = [fold(f"{p.title}\n{p.abstract}") for p in papers]
    trending = _trending_prior(papers)
    index = Bm25Index.build(papers)
    liked_sim = _SeedSimilarity(papers, history)

    results: list[list[Pick]] = []
    for profile in profiles:
        results.append(
            _rank_one(
                profile,
                papers,
                folded,
                trending,
                index,
                liked_sim,
                already_sent.get(profile.id, set()),
                top_k,
                opts,
            )
        )
    return results


def _rank_one(
    profile: Profile,
    papers: list[Paper],
    folded: list[str],
    trending: np.ndarray,
    index: Bm25Index | None,
    seeds: _SeedSimilarity,
    sent: set[str],
    top_k: int,
    opts: RankOptions,
) -> list[Pick]:
    n = len(papers)
    allowed = np.array([p.id not in sent for p in papers])
    exclude = keyword_pattern(profile.exclude)
    if exclude is not None:
        allowed &= np.array([exclude.search(text) is None for text in folded])
    require = keyword_pattern(profile.require)
    if require is not None:
        allowed &= np.array([require.search(text) is not None for text in folded])
    wanted_categories = {c.strip() for c in profile.categories if c.strip()}
    in_category = np.array([bool(wanted_categories & set(p.categories)) for p in papers])
    if wanted_categories and opts.category_mode == "filter":
        allowed &= in_category

    score = np.zeros(n, dtype=np.float64)
    eligible = np.zeros(n, dtype=bool)
    reasons: list[str | None] = [None] * n
    sections: list[str] = [""] * n

    # Topics: each topic is its own interest; a paper belongs to its best topic.
    topics = [t.strip() for t in profile.topics if t.strip()]
    if topics and index is not None:
        relevance, coverage, in_title = index.score(topics)
        relevance = np.where(
            (coverage >= opts.topic_coverage) & (relevance >= opts.topic_threshold), relevance, 0.0
        )
        best = relevance.argmax(axis=0)
        best_rel = relevance[best, np.arange(n)]
        hit = best_rel > 0
        score += opts.topic_weight * np.where(hit, best_rel, 0.0)
        eligible |= hit
        for i in np.flatnonzero(hit):
            topic = topics[best[i]]
            where = "title" if in_title[best[i], i] else "abstract"
            reasons[i] = f"matches your topic '{_short(topic)}' ({where})"
            sections[i] = _short(topic, 60)

    # Liked and disliked papers: maximum similarity over seeds.
    if profile.liked:
        sim, seed_titles = seeds.max_similarity(profile.liked)
        if sim is not None:
            hit = sim.max(axis=0) >= opts.liked_threshold
            best_seed = sim.argmax(axis=0)
            gain = opts.liked_weight * sim.max(axis=0)
            for i in np.flatnonzero(hit):
                if reasons[i] is None or gain[i] > score[i]:
                    title = seed_titles[best_seed[i]]
                    reasons[i] = f"close to '{_short(title)}', which you liked"
                    sections[i] = "Because you liked"
            score += np.where(hit, gain, 0.0)
            eligible |= hit
    if profile.disliked:
        sim, _ = seeds.max_similarity(profile.disliked)
        if sim is not None:
            score -= opts.disliked_weight * sim.max(axis=0)

    # Categories: a boost for matching papers, and enough on their own for a
    # reader who gave only categories.
    if wanted_categories:
        score += opts.category_boost * in_category
        if not topics and not profile.liked:
            eligible |= in_category
            for i in np.flatnonzero(in_category & (np.array(reasons) == None)):  # noqa: E711
                cats = sorted(wanted_categories & set(papers[i].categories))
                reasons[i] = f"in your category {', '.join(cats)}"
                sections[i] = f"New in {', '.join(cats)}"

    # Followed authors: always in, at the top, marked as such.
    followed = {author_key(a): a for a in profile.authors if a.strip()}
    if followed:
        for i, paper in enumerate(papers):
            names = [followed[k] for k in map(author_key, paper.authors) if k in followed]
            if names:
                score[i] += opts.author_bonus
                eligible[i] = True
                reasons[i] = f"by {' and '.join(names[:2])}, whom you follow"
                sections[i] = AUTHOR_SECTION

    if profile.is_empty:  # cold start: the day's trending papers
        eligible[:] = True
        for i, paper in enumerate(papers):
            reasons[i] = _trending_reason(paper)
            sections[i] = TRENDING_SECTION

    score += opts.trending_weight * trending
    candidates = np.flatnonzero(eligible & allowed)
    order = candidates[np.argsort(-score[candidates], kind="stable")]
    picks = [Pick(papers[i].id, float(score[i]), reasons[i] or "", sections[i]) for i in order]
    return _diversify(picks, top_k)


def _diversify(picks: list[Pick], top_k: int) -> list[Pick]:
    """Round-robin over sections (authors first), so every interest gets a place."""
    by_section: dict[str, list[Pick]] = {}
    for pick in picks:
        by_section.setdefault(pick.section, []).append(pick)
    chosen: list[Pick] = []
    while len(chosen) < top_k and any(by_section.values()):
        for queue in by_section.values():
            if queue and len(chosen) < top_k:
                chosen.append(queue.pop(0))
    return sorted(chosen, key=lambda p: -p.score)


class _SeedSimilarity:
    """TF-IDF cosine between candidate papers and seed papers (liked or disliked)."""

    def __init__(self, papers: list[Paper], history: Sequence[Paper]):
        self.papers = papers
        self.known = {p.id: p for p in history} | {p.id: p for p in papers}
        self._vectorizer: TfidfVectorizer | None = None
        self._matrix = None

    def _fit(self) -> None:
        docs = [f"{p.title} {p.title} {p.abstract}" for p in self.known.values()]
        self._vectorizer = TfidfVectorizer(analyzer=analyze, sublinear_tf=True)
        self._vectorizer.fit(docs)
        texts = [f"{p.title} {p.title} {p.abstract}" for p in self.papers]
        self._matrix = self._vectorizer.transform(texts)

    def max_similarity(self, seed_ids: Sequence[str]) -> tuple[np.ndarray | None, list[str]]:
        seeds = [self.known[s] for s in seed_ids if s in self.known]
        if not seeds:
            return None, []
        if self._vectorizer is None:
            try:
                self._fit()
            except ValueError:  # empty vocabulary
                return None, []
        assert self._vectorizer is not None
        seed_matrix = self._vectorizer.transform(
            [f"{p.title} {p.title} {p.abstract}" for p in seeds]
        )
        sim = (seed_matrix @ self._matrix.T).toarray()
        for row, seed in enumerate(seeds):  # a seed is not similar to itself for ranking
            for i, paper in enumerate(self.papers):
                if paper.id == seed.id:
                    sim[row, i] = 0.0
        return sim, [p.title for p in seeds]


def _trending_prior(papers: list[Paper]) -> np.ndarray:
    return np.array(
        [
            math.log1p((p.upvotes or 0) + (p.github_stars or 0) / 10 + (p.num_comments or 0))
            for p in papers
        ]
    )


def _trending_reason(paper: Paper) -> str:
    if paper.upvotes:
        return f"trending: {paper.upvotes} upvotes"
    if paper.github_stars:
        return f"trending: {paper.github_stars} GitHub stars"
    return "new today; set your interests to get papers picked for you"


def _short(text: str, limit: int = 48) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
