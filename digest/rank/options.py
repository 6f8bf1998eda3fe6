"""The weights and thresholds of the ranking blend, documented in docs/ranking.md.

Defaults were chosen with ``benchmarks/ranking.py --tune`` and ``benchmarks/shown.py`` on
the tuning months (2025-04 .. 2025-09). An operator sets only the few ``DEPLOYMENT`` keys
with ``DIGEST_RANK`` (a comma-separated ``key=value`` list, for example
``DIGEST_RANK="semantic=off,trending_weight=0.1"``); every other field is a research knob
that the benchmarks set (``RankOptions.parse(text, research=True)``, their ``--options``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from digest.errors import ConfigError

# What an operator may set with DIGEST_RANK: the backend and memory, product choices
# (categories as boost or filter, the trending prior, how topics weigh against liked
# papers) and how sure a match must be to be mailed. Everything else is fixed by the
# tuning months' ablation (docs/ranking.md, "Which knobs a deployment sees").
DEPLOYMENT = (
    "semantic",
    "chunk_size",
    "category_mode",
    "topic_weight",
    "liked_weight",
    "trending_weight",
    "show_topic_cover",
    "show_description_cover",
    "show_topic_cosine",
    "show_liked_cosine",
    "show_liked_dense",
    "trending_fill",
)


@dataclass(frozen=True)
class LexicalParams:
    """BM25 and expansion parameters (see :mod:`digest.rank.lexical`)."""

    k1: float = 1.2
    b: float = 0.75
    title_weight: int = 2
    query_k3: float = 3.0  # topic words said n times weigh (k3+1)n/(k3+n); 0: each weighs 1
    prf_docs: int = 5  # papers a topic is expanded from (0 = no expansion)
    prf_terms: int = 30  # terms added to the topic
    prf_weight: float = 0.5  # share of the expanded query that comes from those terms
    # Issue 18, item 4 (docs/ranking.md, "Lifting the unseen-days figures"): the first two
    # adopted on the tuning months, the other two tried and left off.
    prf_scored: bool = True  # RM3: feedback papers weigh by their score, not equally
    head_weight: float = 0.15  # share of a description's query given to its first sentence
    glossary_weight: float = 0.0  # share of a topic taken from the glossary entry it names
    glossary_match: float = 1.0  # Jaccard of stemmed words at which a topic names an entry
    topic_cosine: float = 0.0  # share of topic relevance from the TF-IDF cosine (CombSUM)
    acronyms: bool = True  # topics match a paper's acronyms and their long forms alike


@dataclass(frozen=True)
class RankOptions:
    """Every knob of the ranker. Scores are sums of weighted signals (see docs/ranking.md)."""

    # Text relevance to a topic: lexical (BM25, expanded) blended with semantic when on.
    topic_weight: float = 1.0
    semantic_share: float = 0.7  # share of topic relevance taken from embeddings
    semantic_topic_threshold: float = 0.3  # cosine at which a topic matches by meaning
    # Similarity to liked papers (and 👍 feedback): mean of the best ``liked_top_k`` seeds.
    liked_weight: float = 1.0
    liked_top_k: int = 3
    liked_threshold: float = 0.06  # TF-IDF cosine to one seed that makes a paper a match
    semantic_liked_threshold: float = 0.55  # or this embedding cosine to one seed
    liked_standardize: bool = True  # each seed's similarities standardized over the pool
    semantic_liked_share: float = 0.5  # share of the (standardized) embedding similarity
    coauthor_weight: float = 8.0  # std devs closer to a seed per author shared with it
    coauthor_max_authors: int = 0  # seeds with more authors are skipped; 0: no cap (chosen)
    code_owner_weight: float = 1.0  # a paper linking to code of the same owner as a seed
    group_max_share: float = 0.01  # names, owners on more of the pool (>= 2 papers): skipped
    disliked_weight: float = 0.8
    # Per-reader logistic regression, once there is enough feedback.
    learned_weight: float = 0.5
    min_feedback: int = 3
    learned_c: float = 1.0
    # Categories, trending prior, recency, followed authors.
    category_boost: float = 0.1
    category_mode: str = "boost"  # default for profiles that do not choose: boost | filter
    trending_weight: float = 0.05
    recency_weight: float = 0.02
    recency_half_life: float = 3.0  # days
    author_bonus: float = 10.0
    # What the digest shows: a pick whose match is too weak stays in the ranking but is not
    # mailed. Calibrated by benchmarks/shown.py on the tuning months (docs/ranking.md).
    show_topic_cover: float = 0.625  # topics of <= 6 words: IDF-weighted share of words said
    show_description_cover: float = 0.1  # longer topics (descriptions)
    show_topic_cosine: float = 0.225  # or, with embeddings, this cosine to the topic
    show_liked_cosine: float = 0.075  # TF-IDF cosine to the closest liked paper
    show_liked_dense: float = 0.75  # or, with embeddings, this cosine
    # When fewer than top_k papers match a personalised reader, at most this many of the
    # day's most trending papers fill a separate "Also trending" section (0: none).
    trending_fill: int = 3
    # Diversity: per-interest quotas (round robin) and near-duplicate suppression.
    diversity: bool = True
    duplicate_threshold: float = 0.8
    # Backend and batching.
    semantic: bool | None = None  # None: use embeddings when the extra is installed
    chunk_size: int = 1000  # readers scored at once (bounds memory: chunk x papers floats)
    lexical: LexicalParams = field(default_factory=LexicalParams)

    def with_(self, **changes: object) -> RankOptions:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def parse(
        cls, text: str, base: RankOptions | None = None, *, research: bool = False
    ) -> RankOptions:
        """``"key=value, key=value"`` -> options. ``DIGEST_RANK`` may set only the
        ``DEPLOYMENT`` keys; with ``research=True`` (the benchmarks) every field, the lexical
        ones as ``lexical.k1=1.5``."""
        opts = base or cls()
        own = {f.name: f for f in fields(cls) if f.name != "lexical"}
        lexical = {f.name: f for f in fields(LexicalParams)}
        changes: dict[str, object] = {}
        lex_changes: dict[str, object] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            key, sep, raw = item.partition("=")
            key, raw = key.strip(), raw.strip()
            if not sep:
                raise ConfigError(f"DIGEST_RANK: expected key=value, got {item!r}")
            known = key in own or (key.startswith("lexical.") and key[8:] in lexical)
            if known and not research and key not in DEPLOYMENT:
                raise ConfigError(
                    f"DIGEST_RANK: {key!r} is a research knob, not a deployment setting"
                    f" (allowed: {', '.join(DEPLOYMENT)})"
                )
            if key.startswith("lexical."):
                name = key[len("lexical.") :]
                if name not in lexical:
                    raise ConfigError(f"DIGEST_RANK: unknown option {key!r}")
                lex_changes[name] = _convert(key, raw, getattr(opts.lexical, name))
            elif key in own:
                changes[key] = _convert(key, raw, getattr(opts, key))
            else:
                allowed = ", ".join(DEPLOYMENT)
                raise ConfigError(f"DIGEST_RANK: unknown option {key!r} (allowed: {allowed})")
        if "category_mode" in changes and changes["category_mode"] not in ("boost", "filter"):
            raise ConfigError("DIGEST_RANK: category_mode must be boost or filter")
        if not 0 <= int(changes.get("trending_fill", 0)) <= 100:  # type: ignore[call-overload]
            raise ConfigError("DIGEST_RANK: trending_fill must be 0 to 100")
        if lex_changes:
            changes["lexical"] = replace(opts.lexical, **lex_changes)  # type: ignore[arg-type]
        return replace(opts, **changes)  # type: ignore[arg-type]


def _convert(key: str, raw: str, current: object) -> object:
    try:
        if key == "semantic" or isinstance(current, bool):
            value = raw.lower()
            if key == "semantic" and value == "auto":
                return None
            if value in ("1", "true", "yes", "on"):
                return True
            if value in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if isinstance(current, int):
            return int(raw)
        if isinstance(current, float):
            return float(raw)
        return raw
    except ValueError:
        raise ConfigError(f"DIGEST_RANK: bad value for {key}: {raw!r}") from None
