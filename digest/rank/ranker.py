"""Rank candidate papers for many readers at once, with a true reason for every pick.

For a chunk of readers (``chunk_size``) every signal is a readers x papers matrix, built
with sparse/dense matrix operations over the distinct topics and seeds of the chunk:

  hard filters   excluded keyword -> out, whatever else the paper has; required keywords
                 (any one of them) -> in; already sent -> out; category_mode=filter -> only
                 papers in the reader's categories;
  topics         lexical BM25 with phrases and expansion (and embeddings when the semantic
                 backend is on), per topic; a paper belongs to its best matching topic;
  liked          similarity to liked papers and 👍 feedback, standardized per seed over the
                 pool (TF-IDF, plus embeddings when on): the mean of the ``liked_top_k``
                 closest seeds (never the mean over all seeds, which would blur interests);
                 a paper sharing authors with a seed is closer to it; plus a match for
                 papers linking code of the same owner as a seed;
  disliked       similarity to the closest disliked / 👎 paper, subtracted;
  learned        a per-reader logistic regression once there is enough feedback;
  categories     a boost (or the filter above); alone enough for a category-only reader;
  authors        followed authors' papers always make the digest, first;
  trending       upvotes, stars and comments; recency.

A paper is eligible only when an interest fired (topic, liked, learned, author, category
for category-only readers), so readers get only papers that match them. A reader with no
usable interest (cold start) gets the pool's trending papers. Diversity: followed authors
first, then interests take turns (a quota per interest), skipping near-duplicates.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from digest.domain import Paper, Pick, Profile
from digest.rank import feedback as fb
from digest.rank import fill, semantic
from digest.rank.lexical import SHORT_TOPIC, topic_words
from digest.rank.options import RankOptions
from digest.rank.pool import Pool, membership
from digest.rank.text import author_key, short

AUTHOR_SECTION = "Authors you follow"
TRENDING_SECTION = "Trending today"
LIKED_SECTION = "Close to papers you liked"
LEARNED_SECTION = "Picked from your feedback"
KIND_AUTHOR, KIND_TOPIC, KIND_LIKED, KIND_LEARNED, KIND_CATEGORY, KIND_COLD = range(6)
SECTIONS = {
    KIND_AUTHOR: AUTHOR_SECTION,
    KIND_LIKED: LIKED_SECTION,
    KIND_LEARNED: LEARNED_SECTION,
    KIND_COLD: TRENDING_SECTION,
}
MAX_TOPICS = 100  # per reader; more are ignored (a form should not allow them anyway)
MAX_SEEDS = 500
MAX_SHARED_AUTHORS = 3  # authors shared with a seed that count
WORD_REASONS = 200_000  # (topic, paper) reasons kept by a pool


def rank(
    profiles: Sequence[Profile],
    candidates: Sequence[Paper],
    *,
    history: Sequence[Paper] = (),
    already_sent: Mapping[str, Collection[str]] | None = None,
    top_k: int = 10,
    options: RankOptions | None = None,
    embedder: semantic.Embedder | None = None,
    vectors: Mapping[str, np.ndarray] | None = None,
    shown_only: bool = False,
) -> list[list[Pick]]:
    """For each profile (in order), up to ``top_k`` picks, best first (with ``shown_only``
    only those the digest mails: see :func:`rank_pool`).

    ``embedder`` forces a semantic backend (tests pass a small one); otherwise
    ``options.semantic`` decides (None: the bundled model when the extra is installed).
    ``vectors`` are stored paper embeddings (paper id -> unit vector), used instead of
    embedding those papers again.
    """
    opts = options or RankOptions()
    papers = list({p.id: p for p in candidates}.values())
    if not profiles:
        return []
    if not papers or top_k <= 0:
        return [[] for _ in profiles]
    pool = build_pool(papers, history, opts, embedder=embedder, vectors=vectors)
    return rank_pool(
        pool, profiles, already_sent=already_sent, top_k=top_k, options=opts, shown_only=shown_only
    )


def topic_texts(profiles: Sequence[Profile]) -> list[str]:
    """The distinct topic texts ranking these profiles embeds (with the semantic backend),
    exactly as it passes them to the model: so callers can supply stored vectors."""
    return list(dict.fromkeys(t for p in profiles for t in _clean(p.topics)[:MAX_TOPICS]))


def build_pool(
    papers: Sequence[Paper],
    history: Sequence[Paper],
    opts: RankOptions,
    *,
    embedder: semantic.Embedder | None = None,
    vectors: Mapping[str, np.ndarray] | None = None,
    glossary: Mapping[str, str] | None = None,
) -> Pool:
    wanted = opts.semantic or (opts.semantic is None and semantic.available())
    if embedder is None and wanted:
        embedder = semantic.default_embedder()  # ConfigError if forced but missing
    return Pool(
        papers,
        history,
        lexical=opts.lexical,
        embedder=embedder,
        vectors=vectors,
        recency_half_life=opts.recency_half_life,
        glossary=glossary,
    )


def rank_pool(
    pool: Pool,
    profiles: Sequence[Profile],
    *,
    already_sent: Mapping[str, Collection[str]] | None = None,
    top_k: int = 10,
    options: RankOptions | None = None,
    shown_only: bool = False,
) -> list[list[Pick]]:
    """Rank a prepared pool for many profiles, ``chunk_size`` readers at a time. With
    ``shown_only`` (what the digest mails) the picks are only those whose match is real,
    possibly fewer than ``top_k`` or none, then, for a personalised reader with places left,
    up to ``trending_fill`` trending papers (``Pick.trending``, after the matches, only on a
    day with trending figures: :mod:`digest.rank.fill`); otherwise every eligible paper
    competes, each pick says whether it would be shown, and nothing is filled."""
    opts = options or RankOptions()
    sent = already_sent or {}
    out: list[list[Pick]] = []
    size = max(1, opts.chunk_size)
    for start in range(0, len(profiles), size):
        chunk = _Chunk(pool, profiles[start : start + size], sent, opts, shown_only)
        out.extend(chunk.picks(top_k))
    return out


class _BestTopics:
    """Which of each reader's topics explains a paper, and what that topic says of it
    (matched by meaning only, cover, cosine), worked out only where asked: the chunk needs
    them for a few dozen candidates a reader, not for the whole pool."""

    def __init__(
        self,
        relevance: np.ndarray,
        ids: np.ndarray,
        best: np.ndarray,
        semantic_only: np.ndarray,
        cover: np.ndarray,
        cosine: np.ndarray,
    ):
        self.relevance = relevance  # distinct topics x papers, then a row of zeros
        self.ids = ids  # readers x their topics -> row of ``relevance`` (-1: no such topic)
        self.best = best  # readers x papers: the best relevance (0: no topic matched)
        self.semantic_only, self.cover, self.cosine = semantic_only, cover, cosine

    def which(self, rows: np.ndarray, papers: np.ndarray) -> np.ndarray:
        """At ``[rows, papers]`` (index arrays that broadcast together): the index of the
        reader's topic that gave the best relevance, the first of equals (the topic a
        running maximum keeps), 0 where none matched."""
        best = self.best[rows, papers]
        found = np.zeros(best.shape, dtype=np.int64)
        done = ~(best > 0)
        for j in range(self.ids.shape[1]):
            hit = ~done & (self.relevance[self.ids[rows, j], papers] == best)
            found[hit] = j
            done |= hit
        return found

    def at(
        self, values: np.ndarray, rows: np.ndarray, papers: np.ndarray, which: np.ndarray
    ) -> np.ndarray:
        """A topics x papers matrix's values at ``[rows, papers]``, each from the topic that
        explains the paper (``which``), zero where no topic matched."""
        topic = self.ids[rows, which]
        found: np.ndarray = np.where(
            self.best[rows, papers] > 0, values[topic, papers], values.dtype.type(0)
        )
        return found


@dataclass
class _Signals:
    """Per reader x paper matrices kept to explain the picks."""

    topic: np.ndarray  # best topic relevance where a topic matched, else 0
    topics: _BestTopics  # which topic that is, and what it says (by meaning, cover, cosine)
    liked: np.ndarray  # top-k seed similarity
    liked_hit: np.ndarray
    liked_seed: np.ndarray  # best seed (index into the reader's seed list)
    liked_close: np.ndarray  # raw similarity to the closest seed (TF-IDF / embedding cosine)
    liked_close_dense: np.ndarray
    learned: np.ndarray
    author: np.ndarray
    category: np.ndarray


@dataclass
class _Candidates:
    """The candidates that compete for each reader of a chunk, best first, one reader after
    the other (reader ``r``'s from ``start[r]`` to ``start[r + 1]``): what the per-reader
    steps read, made from the chunk's arrays at once."""

    start: list[int]
    paper: list[int]  # pool index
    score: list[float]
    kind: list[int]  # KIND_*
    topic: list[int]  # the reader's best topic for it (index into their topics)
    topic_shown: list[bool]  # as a topic match: real enough to be mailed
    topic_match: list[float]  # as a topic match: its strength (Pick.match)
    by_meaning: list[bool]  # as a topic match: by meaning only


class _Chunk:
    def __init__(
        self,
        pool: Pool,
        profiles: Sequence[Profile],
        sent: Mapping[str, Collection[str]],
        opts: RankOptions,
        shown_only: bool = False,
    ):
        self.pool, self.profiles, self.sent, self.opts = pool, profiles, sent, opts
        self.shown_only = shown_only
        self.size, self.n = len(profiles), pool.n
        self.topics = [_clean(p.topics)[:MAX_TOPICS] for p in profiles]
        self.labels = [fb.labels(p.feedback) for p in profiles]
        self.seeds = [self._seeds(p, lab) for p, lab in zip(profiles, self.labels, strict=True)]
        # (reader, paper) -> (seed index, owner) where the paper links to the code of a
        # seed's owner: filled by _code_owner_matches, read by the reasons.
        self.owner_match: dict[tuple[int, int], tuple[int, str]] = {}
        # (topic, paper, score) -> the pick it makes, the same for every reader: see _pick.
        self.topic_picks: dict[tuple[str, int, float], Pick] = {}
        # Cold start: nothing usable to steer ranking (empty, only exclusions, unknown ids).
        self.cold = np.array(
            [
                not (t or s or _clean(p.authors) or _clean(p.categories))
                for p, t, s in zip(profiles, self.topics, self.seeds, strict=True)
            ]
        )

    def _seeds(self, profile: Profile, labels: fb.Labels) -> list[str]:
        """Liked papers and 👍 feedback that are known (in the pool or the history)."""
        ids = list(dict.fromkeys([*profile.liked, *labels.positive]))
        return [s for s in ids if s in self.pool.known and s not in labels.negative][:MAX_SEEDS]

    # -- the whole chunk ----------------------------------------------------------------
    def picks(self, top_k: int) -> list[list[Pick]]:
        opts, pool = self.opts, self.pool
        allowed = self._allowed()
        score = np.zeros((self.size, self.n), dtype=np.float32)
        signals = _Signals(
            *self._topics(),
            *self._liked(),
            self._learned(),
            self._authors(),
            self._categories(),
        )
        score += opts.topic_weight * signals.topic
        _add_where_any(score, opts.liked_weight, signals.liked)
        _add_where_any(score, opts.disliked_weight, self._disliked(), subtract=True)
        _add_where_any(score, opts.learned_weight, signals.learned)
        _add_where_any(score, opts.category_boost, signals.category)
        _add_where_any(score, opts.author_bonus, signals.author)
        score += opts.trending_weight * pool.trending + opts.recency_weight * pool.recency

        category_only = np.array(
            [not t and not s for t, s in zip(self.topics, self.seeds, strict=True)]
        )
        eligible = (
            (signals.topic > 0)
            | signals.liked_hit
            | (signals.learned >= 0.5)
            | signals.author
            | (signals.category & category_only[:, None])
            | self.cold[:, None]
        )
        final = np.where(eligible & allowed, score, -np.inf)
        m = min(self.n, max(4 * top_k, top_k + 10))
        if m < self.n:
            top = np.argpartition(-final, m - 1, axis=1)[:, :m]
        else:
            top = np.broadcast_to(np.arange(self.n), (self.size, self.n))
        rows = np.arange(self.size)[:, None]
        order = np.argsort(-final[rows, top], axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        kinds = self._kinds(signals, rows, top)
        finite = np.isfinite(final[rows, top])
        topic_idx = signals.topics.which(rows, top)
        topic_shown, topic_match, by_meaning = self._topic_strengths(signals, rows, top, topic_idx)
        # With shown_only, only candidates whose match is real compete: decided for the
        # whole chunk at once (the same rule as _strength, which explains the chosen).
        keeps = finite
        if self.shown_only:
            keeps = self._shown(signals, rows, top, kinds, finite, topic_shown)
        # Each reader's kept candidates, best first, one reader after the other.
        candidates = _Candidates(
            np.concatenate([[0], np.cumsum(keeps.sum(axis=1))]).tolist(),
            top[keeps].tolist(),
            final[rows, top][keeps].tolist(),
            kinds[keeps].tolist(),
            topic_idx[keeps].tolist(),
            topic_shown[keeps].tolist(),
            topic_match[keeps].tolist(),
            by_meaning[keeps].tolist(),
        )
        results = [
            self._select(r, profile, candidates, signals, top_k)
            for r, profile in enumerate(self.profiles)
        ]
        if self.shown_only and opts.trending_fill > 0:
            self._fill(results, allowed, top_k)
        return results

    def _fill(self, results: list[list[Pick]], allowed: np.ndarray, top_k: int) -> None:
        """The digest's "Also trending" section (:mod:`digest.rank.fill`): when fewer than
        ``top_k`` papers match a personalised reader, up to ``trending_fill`` of the pool's
        most trending papers they may get, after their matches; never a match
        (``shown`` False, ``trending`` True)."""
        pool = self.pool
        hot = fill.hot_order(pool.trending)
        if not hot:  # no trending data today: nothing fills
            return
        duplicates = pool.duplicates(self.opts.duplicate_threshold) if self.opts.diversity else ()
        for r, picks in enumerate(results):
            places = fill.fill_places(
                len(picks), top_k, self.opts.trending_fill, cold=bool(self.cold[r])
            )
            taken = [pool.index[p.paper_id] for p in picks]
            for i in fill.choose(hot, allowed[r], taken, places, duplicates):
                paper = pool.papers[i]
                picks.append(
                    Pick(
                        paper.id,
                        float(pool.trending[i]),
                        _trending_reason(paper),
                        fill.SECTION,
                        shown=False,
                        match=0.0,
                        trending=True,
                    )
                )

    def _kinds(self, s: _Signals, rows: np.ndarray, top: np.ndarray) -> np.ndarray:
        """Which signal explains each candidate: the strongest interest that fired."""
        opts = self.opts
        topic = np.where(s.topic[rows, top] > 0, opts.topic_weight * s.topic[rows, top], -1.0)
        liked = np.where(s.liked_hit[rows, top], opts.liked_weight * s.liked[rows, top], -1.0)
        learned_raw = s.learned[rows, top]
        learned = np.where(learned_raw >= 0.5, opts.learned_weight * learned_raw, -1.0)
        stacked = np.stack([topic, liked, learned])
        kind = np.argmax(stacked, axis=0) + KIND_TOPIC  # ties: topic, then liked
        kind = np.where(stacked.max(axis=0) < 0, KIND_CATEGORY, kind)
        kind = np.where(s.author[rows, top], KIND_AUTHOR, kind)
        return np.where(self.cold[:, None], KIND_COLD, kind)

    def _topic_strengths(
        self, s: _Signals, rows: np.ndarray, top: np.ndarray, which: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For every reader x candidate of the chunk at once, as :meth:`_strength` would say
        for a topic match: whether it is real enough to be mailed, its strength, and whether
        it matched by meaning only. Thresholds compare in float32, as float32 scalars do."""
        opts = self.opts
        width = max(1, *(len(t) for t in self.topics))
        needed = np.zeros((self.size, width), dtype=np.float32)
        for r, topics in enumerate(self.topics):
            for j, topic in enumerate(topics):
                long = len(topic_words(topic)) > SHORT_TOPIC
                needed[r, j] = opts.show_description_cover if long else opts.show_topic_cover
        best = s.topics
        cover = best.at(best.cover, rows, top, which)
        cosine = best.at(best.cosine, rows, top, which)
        enough = cover >= needed[rows, which]
        if self.pool.dense is not None:
            enough |= cosine >= opts.show_topic_cosine
        by_meaning = best.at(best.semantic_only, rows, top, which)
        return enough, np.where(by_meaning, cosine, cover), by_meaning

    def _shown(
        self,
        s: _Signals,
        rows: np.ndarray,
        top: np.ndarray,
        kinds: np.ndarray,
        candidates: np.ndarray,
        topic_shown: np.ndarray,
    ) -> np.ndarray:
        """Which of the ``candidates`` have a match real enough to be mailed: the first
        answer of :meth:`_strength` for every reader x candidate of the chunk at once
        (topics (``topic_shown``) and cold starts as arrays; liked papers, rare, one by
        one)."""
        shown = np.where(candidates & (kinds == KIND_TOPIC), topic_shown, candidates)
        cold = candidates & (kinds == KIND_COLD)
        if cold.any():
            trending = np.array([bool(_trending_reason(p)) for p in self.pool.papers], dtype=bool)
            shown = np.where(cold, trending[top], shown)
        for r, j in zip(*np.nonzero(candidates & (kinds == KIND_LIKED)), strict=True):
            shown[r, j] = self._liked_strength(int(r), int(top[r, j]), s)[0]
        return shown

    def _select(
        self, r: int, profile: Profile, c: _Candidates, s: _Signals, top_k: int
    ) -> list[Pick]:
        """Diversify the reader's best candidates, then explain only the chosen ones. With
        ``shown_only`` (the digest) the candidates are only those whose match is real
        (:meth:`_shown`), so the email gets up to ``top_k`` of them from further down the
        ranking."""
        start, end = c.start[r], c.start[r + 1]
        idx, kinds, topics = c.paper[start:end], c.kind[start:end], c.topic[start:end]
        named = [short(t, 60) for t in self.topics[r]]
        sections = [
            named[t] if k == KIND_TOPIC else self._section(r, profile, i, k, t)
            for i, k, t in zip(idx, kinds, topics, strict=True)
        ]
        chosen = self._diversify(idx, c.score[start:end], sections, top_k)
        return [self._pick(r, profile, start + j, c, sections[j], s) for j in chosen]

    def _section(self, r: int, profile: Profile, i: int, kind: int, topic: int) -> str:
        if kind == KIND_TOPIC:
            return short(self.topics[r][topic], 60)
        if kind == KIND_CATEGORY:
            paper = self.pool.papers[i]
            return ", ".join(sorted(set(_clean(profile.categories)) & set(paper.categories)))
        return SECTIONS[kind]

    def _allowed(self) -> np.ndarray:
        pool = self.pool
        rows_sent: list[list[int]] = []
        rows_excluded: list[list[int]] = []
        rows_required: list[list[int]] = []
        rows_filter: list[np.ndarray | None] = []
        for profile in self.profiles:
            sent = self.sent.get(profile.id, ())
            rows_sent.append([pool.index[s] for s in sent if s in pool.index])
            excluded = [i for k in _clean(profile.exclude) for i in pool.keyword_docs(k)]
            rows_excluded.append(excluded)
            rows_required.append([i for k in _clean(profile.require) for i in pool.keyword_docs(k)])
            mode = profile.category_mode if profile.category_mode in ("boost", "filter") else None
            filtering = (mode or self.opts.category_mode) == "filter"
            rows_filter.append(self._category_docs(profile) if filtering else None)
        allowed: np.ndarray = ~membership(rows_sent, self.n) & ~membership(rows_excluded, self.n)
        needs = np.array([bool(_clean(p.require)) for p in self.profiles])
        if needs.any():
            allowed &= ~needs[:, None] | membership(rows_required, self.n)
        filters = np.array([f is not None for f in rows_filter])
        if filters.any():
            empty = np.zeros(0, dtype=np.int64)
            rows = [empty if f is None else f for f in rows_filter]
            allowed &= ~filters[:, None] | membership(rows, self.n)
        return allowed

    def _category_docs(self, profile: Profile) -> np.ndarray:
        """Indices of the pool papers in the reader's categories (a paper in two of them
        twice: callers only mark them)."""
        found = [self.pool.category_docs(c) for c in _clean(profile.categories)]
        if len(found) == 1:
            return found[0]
        return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)

    # -- signals ------------------------------------------------------------------------
    def _topics(self) -> tuple[np.ndarray, _BestTopics]:
        """Each reader x paper: the best relevance of the reader's topics (0 where none
        matched); which topic gave it and what explains it are worked out for the
        candidates only (:class:`_BestTopics`)."""
        pool, opts = self.pool, self.opts
        best = np.zeros((self.size, self.n), dtype=np.float32)
        unique = list(dict.fromkeys(t for ts in self.topics for t in ts))
        width = max(1, *(len(t) for t in self.topics))
        ids = np.full((self.size, width), -1, dtype=np.int64)
        if not unique or (pool.lexical is None and pool.dense is None):
            nothing = np.zeros((1, self.n), dtype=np.float32)
            return best, _BestTopics(nothing, ids, best, nothing > 0, nothing, nothing)
        slot = {t: i for i, t in enumerate(unique)}
        cosine = np.zeros((len(unique), self.n), dtype=np.float32)
        if pool.lexical is not None:
            lexical = pool.lexical.score_topics(unique)
            relevance, matched = lexical.relevance, lexical.matched
            covered = pool.lexical.coverage(unique)
        else:
            relevance = np.zeros((len(unique), self.n), dtype=np.float32)
            matched = np.zeros((len(unique), self.n), dtype=bool)
            covered = np.zeros((len(unique), self.n), dtype=np.float32)
        semantic_only = np.zeros_like(matched)
        if pool.dense is not None:
            cosine = pool.embed_texts(unique) @ pool.dense.T
            top = cosine.max(axis=1, initial=0.0)
            scaled = np.divide(
                cosine, top[:, None], out=np.zeros_like(cosine), where=top[:, None] > 0
            )
            share = opts.semantic_share
            relevance = (1 - share) * relevance + share * scaled
            by_meaning_u = cosine >= opts.semantic_topic_threshold
            semantic_only = by_meaning_u & ~matched
            matched = matched | by_meaning_u
        relevance = np.where(matched, relevance, 0.0).astype(np.float32)
        for r, ts in enumerate(self.topics):
            ids[r, : len(ts)] = [slot[t] for t in ts]
        # A reader without a j-th topic reads a row of zeros (index -1), which never beats
        # the best so far (at least 0): every step runs on the whole chunk, in place.
        padded = np.vstack([relevance, np.zeros((1, self.n), dtype=np.float32)])
        for j in range(width):
            values = padded[ids[:, j]]
            np.copyto(best, values, where=values > best)
        return best, _BestTopics(padded, ids, best, semantic_only, covered, cosine)

    def _similarity(self, seed_ids: list[str]) -> np.ndarray:
        """Seeds x papers raw similarity (for disliked papers): TF-IDF cosine, blended with
        the embedding cosine when the semantic backend is on."""
        lexical, dense = self._raw_similarity(seed_ids)
        if dense is None:
            return lexical
        share = self.opts.semantic_liked_share
        return ((1 - share) * lexical + share * dense).astype(np.float32)

    def _raw_similarity(self, seed_ids: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
        """Seeds x papers TF-IDF cosine and (semantic backend) embedding cosine; a seed that
        is itself in the pool is not a candidate for itself."""
        pool = self.pool
        lexical = np.zeros((len(seed_ids), self.n), dtype=np.float32)
        dense = None
        if seed_ids and pool.lexical is not None:
            lexical = (pool.seed_tfidf(seed_ids) @ pool.lexical.tfidf.T).toarray()
        if seed_ids and pool.dense is not None:
            dense = pool.seed_vectors(seed_ids) @ pool.dense.T
        for row, seed in enumerate(seed_ids):
            if seed in pool.index:
                lexical[row, pool.index[seed]] = 0.0
                if dense is not None:
                    dense[row, pool.index[seed]] = 0.0
        return lexical.astype(np.float32), dense

    def _seed_scores(
        self, seed_ids: list[str]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """Seeds x papers: how close each paper is to each seed, and whether it is close
        enough to count as a match (TF-IDF cosine >= ``liked_threshold``, or embedding
        cosine >= ``semantic_liked_threshold``); and the raw cosines (for what is shown).

        With ``liked_standardize`` each seed's similarities are standardized over the pool
        (minus their mean, over their spread): a seed written in common words is close to
        every paper and would otherwise outvote a seed whose closeness is rare and telling.
        The semantic backend then adds the embedding cosine, standardized the same way,
        with the share ``semantic_liked_share``.

        A paper sharing authors with a seed is then closer to that seed by
        ``coauthor_weight`` standard deviations per shared author (see ``_shared_authors``):
        per seed, so that among many 👍 seeds one seed's co-author counts as one close
        seed does, not as a match of its own that would crowd out the reader's topics."""
        opts = self.opts
        lexical, dense = self._raw_similarity(seed_ids)
        hit = lexical >= opts.liked_threshold
        if dense is not None:
            hit |= dense >= opts.semantic_liked_threshold
        if not opts.liked_standardize:
            score = self._similarity(seed_ids)
            unit: float | np.ndarray = score.std(axis=1, keepdims=True)
        else:
            score = _standardize(lexical) if self.pool.lexical is not None else lexical
            if dense is not None:
                share = opts.semantic_liked_share
                score = (1 - share) * score + share * _standardize(dense)
            unit = 1.0  # standardized: the weight is in standard deviations already
        shared = self._shared_authors(seed_ids)
        if shared is not None:
            score = score + opts.coauthor_weight * unit * shared
            hit |= shared > 0
        return score.astype(np.float32), hit, lexical, dense

    def _group_limit(self) -> int:
        """Papers a name or code owner may be on before it says too little to count."""
        return max(2, int(self.opts.group_max_share * self.pool.n))

    def _shared_authors(self, seed_ids: list[str]) -> np.ndarray | None:
        """Seeds x papers: how many authors each paper shares with each seed (a group's
        next paper, even on another subject), up to ``MAX_SHARED_AUTHORS``; see
        ``Pool.coauthors`` for the names that are skipped."""
        if self.opts.coauthor_weight <= 0 or not self.pool.authors:
            return None
        shared = np.zeros((len(seed_ids), self.n), dtype=np.float32)
        for u, seed in enumerate(seed_ids):
            for i, keys in self._coauthors(seed).items():
                shared[u, i] = min(len(keys), MAX_SHARED_AUTHORS)
        return shared

    def _coauthors(self, seed: str) -> dict[int, list[str]]:
        return self.pool.coauthors(seed, self.opts.coauthor_max_authors, self._group_limit())

    def _liked(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        k = max(1, self.opts.liked_top_k)
        score = np.zeros((self.size, self.n), dtype=np.float32)
        hit = np.zeros((self.size, self.n), dtype=bool)
        which = np.zeros((self.size, self.n), dtype=np.int16)
        close = np.zeros((self.size, self.n), dtype=np.float32)
        close_dense = np.zeros((self.size, self.n), dtype=np.float32)
        unique = list(dict.fromkeys(s for ss in self.seeds for s in ss))
        if not unique:
            return score, hit, which, close, close_dense
        sim, seed_hit, raw, raw_dense = self._seed_scores(unique)
        slot = {s: i for i, s in enumerate(unique)}
        width = max(len(s) for s in self.seeds)
        floor = np.float32(-np.inf) if self.opts.liked_standardize else np.float32(0)
        tops = np.full((k, self.size, self.n), floor, dtype=np.float32)  # running top-k
        for j in range(width):
            rows = np.flatnonzero([len(s) > j for s in self.seeds])
            picked = [slot[self.seeds[r][j]] for r in rows]
            values = sim[picked]
            hit[rows] |= seed_hit[picked]
            close[rows] = np.maximum(close[rows], raw[picked])
            if raw_dense is not None:
                close_dense[rows] = np.maximum(close_dense[rows], raw_dense[picked])
            better = values > tops[0, rows]
            which[rows] = np.where(better, j, which[rows])
            carry = values
            for level in range(k):
                current = tops[level, rows]
                tops[level, rows] = np.maximum(current, carry)
                carry = np.minimum(current, carry)
        counts = np.array([max(1, min(k, len(s))) for s in self.seeds], dtype=np.float32)
        levels = np.arange(k)[:, None, None] < counts[None, :, None]
        score = np.where(levels, tops, 0).sum(axis=0) / counts[:, None]
        if self.opts.liked_standardize:
            # Back to 0..1 like the topic relevance: the reader's closest paper scores 1.
            score = np.maximum(score, 0)
            top = score.max(axis=1, keepdims=True)
            score = np.divide(score, top, out=np.zeros_like(score), where=top > 0)
        self._code_owner_matches(score, hit)
        return score.astype(np.float32), hit, which, close, close_dense

    def _code_owner_matches(self, score: np.ndarray, hit: np.ndarray) -> None:
        """Papers that link to code or a project page of the same owner as one of the
        reader's seeds (a group's next paper): a match, worth ``code_owner_weight`` more.
        Owners that a large share of the pool links to (``group_max_share``, at least two
        papers: big companies) are skipped."""
        pool, opts = self.pool, self.opts
        if opts.code_owner_weight <= 0 or not pool.owned:
            return
        limit = self._group_limit()
        for r, seeds in enumerate(self.seeds):
            for j, seed in enumerate(seeds):
                for owner in sorted(pool.owners(seed)):
                    docs = pool.owned.get(owner, ())
                    if len(docs) > limit:
                        continue
                    for i in docs:
                        if pool.papers[i].id != seed and (r, i) not in self.owner_match:
                            self.owner_match[(r, i)] = (j, owner)
                            score[r, i] += opts.code_owner_weight
                            hit[r, i] = True

    def _disliked(self) -> np.ndarray:
        negatives = [
            [s for s in dict.fromkeys([*p.disliked, *lab.negative]) if s in self.pool.known]
            for p, lab in zip(self.profiles, self.labels, strict=True)
        ]
        out = np.zeros((self.size, self.n), dtype=np.float32)
        unique = list(dict.fromkeys(s for ss in negatives for s in ss))
        if not unique:
            return out
        sim = self._similarity(unique)
        slot = {s: i for i, s in enumerate(unique)}
        for r, ss in enumerate(negatives):
            if ss:
                out[r] = sim[[slot[s] for s in ss]].max(axis=0)
        return out

    def _learned(self) -> np.ndarray:
        """P(liked) from each reader's own model, for readers with enough 👍."""
        pool, opts = self.pool, self.opts
        out = np.zeros((self.size, self.n), dtype=np.float32)
        for r, labels in enumerate(self.labels):
            positive = [p for p in labels.positive if p in pool.known]
            if len(positive) < max(1, opts.min_feedback) or pool.n < 2:
                continue
            negative = [p for p in labels.negative if p in pool.known]
            if pool.dense is not None:
                features = pool.dense
                pos, neg = pool.seed_vectors(positive), pool.seed_vectors(negative)
                if not negative:
                    neg = np.zeros((0, features.shape[1]), dtype=np.float32)
            elif pool.lexical is not None:
                features = pool.lexical.tfidf
                pos = pool.lexical.vectors([pool.known[p] for p in positive])
                neg = pool.lexical.vectors([pool.known[p] for p in negative])
            else:
                continue
            exclude = np.zeros(pool.n, dtype=bool)
            exclude[[pool.index[p] for p in positive if p in pool.index]] = True
            weights = np.array([labels.positive[p] for p in positive])
            out[r] = fb.fit_and_score(
                pos, weights, neg, features, exclude=exclude, c=opts.learned_c
            )
        return out

    def _authors(self) -> np.ndarray:
        rows = []
        for profile in self.profiles:
            keys = {author_key(a) for a in profile.authors if a.strip()}
            rows.append([i for k in keys for i in self.pool.authors.get(k, ())])
        return membership(rows, self.n)

    def _categories(self) -> np.ndarray:
        return membership([self._category_docs(p) for p in self.profiles], self.n)

    # -- one reader ---------------------------------------------------------------------
    def _strength(self, r: int, i: int, kind: int, s: _Signals) -> tuple[bool, float]:
        """Whether the match that explains paper ``i`` for reader ``r`` is real enough to be
        mailed, and its strength on its signal's absolute scale (see ``Pick.match``); for
        a topic match :meth:`_topic_strengths` decides, for the whole chunk at once."""
        if kind == KIND_COLD:  # a new reader: only what is trending is worth mailing
            return bool(_trending_reason(self.pool.papers[i])), 1.0
        if kind == KIND_LIKED:
            return self._liked_strength(r, i, s)
        return True, 1.0  # followed authors, categories, the learned model

    def _liked_strength(self, r: int, i: int, s: _Signals) -> tuple[bool, float]:
        opts = self.opts
        j = int(s.liked_seed[r, i])
        if (r, i) in self.owner_match or self._coauthors(self.seeds[r][j]).get(i):
            return True, 1.0  # a group's next paper: code or authors in common
        close = float(s.liked_close[r, i])
        shown = close >= opts.show_liked_cosine or bool(
            self.pool.dense is not None and s.liked_close_dense[r, i] >= opts.show_liked_dense
        )
        return shown, close

    def _pick(
        self, r: int, profile: Profile, place: int, c: _Candidates, section: str, s: _Signals
    ) -> Pick:
        """The pick with its reason (the signal that explains it, in the reader's words,
        plus trending if it counted) and whether its match is strong enough to be shown."""
        i, score, kind = c.paper[place], c.score[place], c.kind[place]
        if kind == KIND_TOPIC:
            # Topic, paper and score say all of such a pick (the section is the topic's, the
            # match what the topic says of the paper): readers who share a topic share it.
            topic = self.topics[r][c.topic[place]]
            key = (topic, i, score)
            pick = self.topic_picks.get(key)
            if pick is None:
                shown, match = c.topic_shown[place], c.topic_match[place]
                why = self._topic_reason(topic, i, shown, c.by_meaning[place])
                pick = Pick(self.pool.papers[i].id, score, why, section, shown=shown, match=match)
                self.topic_picks[key] = pick
            return pick
        paper = self.pool.papers[i]
        opts = self.opts
        shown, match = self._strength(r, i, kind, s)
        if kind == KIND_COLD:
            why = _trending_reason(paper) or _cold_reason()
            return Pick(paper.id, score, why, section, shown=shown, match=match)
        if kind == KIND_AUTHOR:
            keys = {author_key(a) for a in profile.authors if a.strip()}
            names = [a for a in paper.authors if author_key(a) in keys]  # as the paper spells it
            why = f"by {' and '.join(names[:2])}, whom you follow"
        elif kind == KIND_CATEGORY:
            why = f"in your category {section}"
        elif kind == KIND_LIKED:
            j = int(s.liked_seed[r, i])
            j, owner = self.owner_match.get((r, i), (j, ""))
            shared = self._coauthors(self.seeds[r][j]).get(i) if opts.coauthor_weight > 0 else None
            seed = self.pool.known[self.seeds[r][j]]
            verb = "which you liked" if seed.id in profile.liked else "which you rated 👍"
            if shared:
                name = next(a for a in paper.authors if author_key(a) == shared[0])
                why = f"by {name}, an author of '{short(seed.title)}', {verb}"
            elif owner:
                why = f"code from {owner}, like '{short(seed.title)}', {verb}"
            else:
                why = f"close to '{short(seed.title)}', {verb}"
        else:
            why = "like the papers you rated 👍"
        why = _with_trend(opts, why, paper)
        return Pick(paper.id, score, why, section, shown=shown, match=match)

    def _topic_reason(self, topic: str, i: int, shown: bool, by_meaning: bool) -> str:
        """Why paper ``i`` matched ``topic``, in the topic's words."""
        if by_meaning:
            why = "close in meaning, in other words" if shown else "loosely close in meaning"
        else:
            why = self._words_reason(topic, i)
            why = why if shown else f"partly: {why}"
        return _with_trend(self.opts, why, self.pool.papers[i])

    def _words_reason(self, topic: str, i: int) -> str:
        """Which of the topic's words the paper says, and where: "'jailbreak' and 'language
        models' in the title" (the section already names the topic). Made once per topic
        and paper for the pool (readers share topics)."""
        reasons = self.pool.word_reasons
        why = reasons.get((topic, i))
        if why is None:
            if len(reasons) >= WORD_REASONS:  # many distinct topics: keep the cache bounded
                reasons.clear()
            why = reasons[topic, i] = self._new_words_reason(topic, i)
        return why

    def _new_words_reason(self, topic: str, i: int) -> str:
        in_title, in_abstract = self.pool.words_found(topic, i)
        parts = []
        if in_title:
            parts.append(f"{_quoted(in_title)} in the title")
        if in_abstract:
            parts.append(f"{_quoted(in_abstract)} in the abstract")
        via = self.pool.via_acronym(topic, i)
        said = f" (as '{short(via, 24)}')" if via else ""
        return (", ".join(parts) or "its words") + said

    def _diversify(
        self, idx: list[int], scores: list[float], sections: list[str], top_k: int
    ) -> list[int]:
        """Positions of the chosen candidates: followed authors first, then a round robin
        over interests (a quota each), skipping near-copies of what is already chosen."""
        if not self.opts.diversity:
            return list(range(min(top_k, len(idx))))
        duplicates = self.pool.duplicates(self.opts.duplicate_threshold)
        queues: dict[str, list[int]] = {}
        for j, section in enumerate(sections):
            queues.setdefault(section, []).append(j)
        chosen: list[int] = list(queues.pop(AUTHOR_SECTION, [])[:top_k])
        taken = {idx[j] for j in chosen}
        skipped: list[int] = []
        # Rounds over the sections in order of their best candidate, each taking its next
        # candidate that is not a near-copy of one chosen; a section left with none drops out.
        active = [iter(queue) for queue in queues.values()]
        while active and len(chosen) < top_k:
            going_on = []
            for queue in active:
                if len(chosen) >= top_k:
                    break
                for j in queue:
                    near = duplicates[idx[j]]
                    if near and not near.isdisjoint(taken):
                        skipped.append(j)
                        continue
                    chosen.append(j)
                    taken.add(idx[j])
                    going_on.append(queue)
                    break
            active = going_on
        chosen.extend(skipped[: max(0, top_k - len(chosen))])  # near-copies fill what is left
        return sorted(chosen, key=lambda j: (sections[j] != AUTHOR_SECTION, -scores[j], j))


def _add_where_any(
    score: np.ndarray, weight: float, signal: np.ndarray, *, subtract: bool = False
) -> None:
    """``score += weight * signal`` (``-=`` with ``subtract``) on the readers whose signal
    row is not all zeros: most readers have no liked paper or followed author, and adding
    zeros leaves a score as it is (a sum starting at 0.0 is never -0.0). The same
    operations, element by element, on fewer rows."""
    rows = np.flatnonzero(signal.any(axis=1))
    if not rows.size:
        return
    target: slice | np.ndarray = slice(None) if rows.size == len(score) else rows
    change = weight * signal[target]
    if subtract:
        score[target] -= change
    else:
        score[target] += change


def _standardize(sim: np.ndarray) -> np.ndarray:
    """Each row minus its mean, over its standard deviation (rows without spread: zeros)."""
    mean = sim.mean(axis=1, keepdims=True)
    spread = sim.std(axis=1, keepdims=True)
    standard: np.ndarray = np.divide(
        sim - mean, spread, out=np.zeros_like(sim), where=spread > 1e-9
    )
    return standard


def _clean(items: Sequence[str]) -> list[str]:
    if not items:  # most readers leave most fields empty
        return []
    return list(dict.fromkeys(" ".join(x.split()) for x in items if x and x.strip()))


def _trending_reason(paper: Paper) -> str:
    if paper.upvotes:
        return f"trending: {paper.upvotes} upvotes"
    if paper.github_stars:
        return f"trending: {paper.github_stars} GitHub stars"
    if paper.num_comments:
        return f"trending: {paper.num_comments} comments"
    return ""


def _cold_reason() -> str:
    return "new today; set your interests to get papers picked for you"


def _quoted(items: Sequence[str], most: int = 3) -> str:
    """'a', 'a' and 'b', 'a', 'b' and 'c' (at most ``most`` items)."""
    shown = [f"'{short(x, 40)}'" for x in items[:most]]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"


def _with_trend(opts: RankOptions, why: str, paper: Paper) -> str:
    """Adds the trending figure when the trending prior counted in the score."""
    trend = _trending_reason(paper) if opts.trending_weight > 0 else ""
    return f"{why}; {trend}" if trend else why
