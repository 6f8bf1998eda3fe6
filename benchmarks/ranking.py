"""Ranking quality: nDCG@10 and P@10 of `digest.rank` against BM25, on arXiv days no choice saw.

    .venv/bin/python benchmarks/ranking.py --every 4         # tuning months (default install)
    .venv/bin/python benchmarks/ranking.py --semantic ...    # with the semantic extra
    .venv/bin/python benchmarks/ranking.py --tune --every 6  # the ablation grid vs the defaults
    .venv/bin/python benchmarks/ranking.py --period report   # once a change is final (a look)

The data are both files (``arxiv-2025-04-05.jsonl.gz``, ``arxiv-2025-06-12.jsonl.gz``; a
paper announced twice counts once, on its first day), split by ``period_days``, the one
split ``benchmarks/shown.py`` uses too: the **tuning months** 2025-04-01 .. 2025-09-30
(``--period tune``, the default, and ``--tune``; ``--every N`` takes every N-th day, for
speed), built from their own papers only, and the **report months** 2025-10-01 .. 2025-12-31
(``--period report``: every day; run it only for a final change and count the look in
docs/ranking.md).

The tasks, each pool one day's papers (the first two are issue 4's):
  stated  profile topics = a category's name and description; the pool has categories
          removed; relevant = the papers carrying that category (categories with >= 5
          papers that day);
  liked   profile liked = an author's 5 most recent papers from earlier days (given as
          history); the pool has authors removed; relevant = that author's papers that day.
  liked+coauthors (extra, not in the issue) the liked task with the pool's authors kept,
          except the relevant author's name, hidden in the seeds so it cannot match: what
          the co-author signal adds when a liked paper's co-authors write again.
  two topics, two authors (extra) readers with two interests: the day's stated (liked)
          tasks paired up; relevant = either one's papers. Also printed: the share of
          readers whose top 10 has papers of both interests, and the intent-aware nDCG@10
          (the mean of each interest's own nDCG@10).
  names   (extra) the stated task with the category's name alone as the topic ("Machine
          Learning", "Graphics"): short topics, as readers type them. Also printed: how many
          papers the digest shows (it shows only papers that match), and how many it shows
          readers whose topic is the name of a category with no paper that day.
  topic + author (extra) readers with a topic and liked papers: each liked reader of the
          day with one of its stated readers (the pool has neither categories nor
          authors); relevant = either one's papers; each interest's nDCG@10 is printed
          too: how the digest weighs a topic against liked papers.
BM25 (Okapi, k1=1.2, b=0.75, title + abstract, lower-cased words without stop words; for
`liked` the query is the five papers' text) runs in the same process on the same pools,
twice: ``bm25`` counts each distinct query word once, ``bm25-qtf`` as often as the query
has it (as Lucene or rank_bm25 do). ``--feedback`` simulates a reader who 👍 the relevant
papers shown each day and reports nDCG day by day with and without that feedback (a liked
reader keeps the liked papers of their first day), on the period's days. ``--options``
sets any ranker option ("k=v, k=v", research knobs included). ``--tune`` runs the ablation
grid (``ABLATIONS``: each research knob off or at its neutral value) against the defaults,
or only the ``--try`` rows. Differences are printed with the 95 % half-width of the paired
per-query differences (vs BM25 in the figures, vs the defaults in ``--tune``): the queries
are a sample, and a row better by less than that is noise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.domain import FeedbackEvent, Paper, Profile  # noqa: E402
from digest.errors import ConfigError  # noqa: E402
from digest.ingest.parse_jsonl import parse_jsonl, read_lines  # noqa: E402
from digest.rank import RankOptions, build_pool, rank_pool  # noqa: E402
from digest.rank import semantic as sem  # noqa: E402
from digest.rank.text import author_key  # noqa: E402

DATA = (
    Path("/work/shared/data/arxiv-2025-04-05.jsonl.gz"),
    Path("/work/shared/data/arxiv-2025-06-12.jsonl.gz"),
)
TUNE_FROM = date(2025, 4, 1)  # tuning months: 2025-04-01 .. 2025-09-30
REPORT_FROM = date(2025, 10, 1)  # report months: 2025-10-01 .. 2025-12-31
REPORT_TO = date(2025, 12, 31)
CATEGORIES = Path("/work/shared/data/arxiv-categories.json")
CACHE = ROOT / "var" / "bench-cache"
K = 10
# arXiv category name -> description: the ranker's glossary (its topic expansion from the
# taxonomy, research knob lexical.glossary_weight); set by main() from --categories.
GLOSSARY: dict[str, str] = {}
MIN_RELEVANT_STATED = 5
LIKED_SEEDS = 5


# -- data and tasks ---------------------------------------------------------------------
@dataclass
class Task:
    """One query of one day: a profile, its pool, the history it needs, the right answers."""

    profile: Profile
    relevant: set[str]
    bm25_query: str
    interests: tuple[frozenset[str], ...] = ()  # two-interest readers: each one's papers


@dataclass
class Day:
    day: date
    stated_pool: list[Paper]
    liked_pool: list[Paper]
    coauthor_pool: list[Paper]  # the day's papers as announced (authors and categories)
    stated: list[Task]
    liked: list[Task]
    history: list[Paper]
    two_topics: list[Task]  # stated tasks paired up
    two_authors: list[Task]  # liked tasks paired up
    mixed_pool: list[Paper]  # neither categories nor authors
    topic_author: list[Task]  # each liked task with a stated one
    names: list[Task]  # stated tasks with the category's name alone
    absent: list[Task]  # names of the categories with no paper that day (nothing relevant)


def load(data: Path, categories: Path) -> tuple[list[Paper], dict[str, dict[str, str]]]:
    result = parse_jsonl(read_lines(data), source="bench")
    if result.errors:
        print(f"warning: {len(result.errors)} bad lines in {data}", file=sys.stderr)
    with open(categories) as fh:
        return result.records, json.load(fh)["categories"]


def load_all(
    paths: Sequence[Path], categories: Path
) -> tuple[list[Paper], dict[str, dict[str, str]]]:
    """The papers of every file, each id once: its first announcement (320 papers of the two
    files are announced again months later; a second copy would be its own liked seed)."""
    papers: dict[str, Paper] = {}
    taxonomy: dict[str, dict[str, str]] = {}
    for path in paths:
        found, taxonomy = load(path, categories)
        for paper in found:
            kept = papers.get(paper.id)
            if kept is None or (paper.announced or date.max) < (kept.announced or date.max):
                papers[paper.id] = paper
    return list(papers.values()), taxonomy


def period_days(
    papers: list[Paper], taxonomy: dict[str, dict[str, str]], period: str, every: int = 1
) -> list[Day]:
    """The split of every ranking benchmark (this one and ``benchmarks/shown.py``): ``tune``
    is every ``every``-th announcement day of the tuning months, built from their papers
    only (no query, seed or history comes from the report months); ``report`` is every day
    of the report months, for a change that is final (count the look in docs/ranking.md)."""
    if period == "tune":
        before = [p for p in papers if p.announced and p.announced < REPORT_FROM]
        all_days = sorted({p.announced for p in before if p.announced >= TUNE_FROM})  # type: ignore[operator]
        wanted = set(all_days[:: max(1, every)])
        return build_days(before, taxonomy, wanted=wanted)
    if period == "report":
        return build_days(papers, taxonomy, wanted=lambda d: REPORT_FROM <= d <= REPORT_TO)
    raise ValueError(period)


def build_days(
    papers: list[Paper],
    taxonomy: dict[str, dict[str, str]],
    *,
    wanted: Container[date] | Callable[[date], bool] | None = None,
) -> list[Day]:
    """One Day per announcement day (of the ``wanted`` ones), with the issue's liked seeds:
    an author's 5 most recent papers from earlier days."""
    if wanted is None:
        keep: Callable[[date], bool] = lambda d: True  # noqa: E731
    elif callable(wanted):
        keep = wanted
    else:
        keep = wanted.__contains__
    by_day: dict[date, list[Paper]] = defaultdict(list)
    for paper in papers:
        if paper.announced is not None:
            by_day[paper.announced].append(paper)
    by_author: dict[str, list[Paper]] = defaultdict(list)  # author -> papers, oldest first
    for day in sorted(by_day):
        for paper in by_day[day]:
            for author in dict.fromkeys(paper.authors):  # a name listed twice counts once
                by_author[author].append(paper)
    days = []
    for day in sorted(d for d in by_day if keep(d)):
        today = by_day[day]
        counts = Counter(c for p in today for c in p.categories)
        stated, names = [], []
        for cat, n in sorted(counts.items()):
            if n < MIN_RELEVANT_STATED or cat not in taxonomy:
                continue
            text = f"{taxonomy[cat]['name']}. {taxonomy[cat]['description']}"
            relevant = {p.id for p in today if cat in p.categories}
            stated.append(Task(Profile(id=cat, topics=(text,)), relevant, text))
            name = taxonomy[cat]["name"]
            names.append(Task(Profile(id=cat, topics=(name,)), relevant, name))
        liked, history = [], {}
        for author in sorted({a for p in today for a in p.authors}):
            seeds = _seeds(by_author[author], day)
            if len(seeds) < LIKED_SEEDS:
                continue
            history.update({s.id: s for s in seeds})
            relevant = {p.id for p in today if author in p.authors}
            query = " ".join(f"{s.title} {s.abstract}" for s in seeds)
            profile = Profile(id=author, liked=tuple(s.id for s in seeds))
            liked.append(Task(profile, relevant, query))
        days.append(
            Day(
                day,
                [replace(p, categories=()) for p in today],
                [replace(p, authors=()) for p in today],
                today,
                stated,
                liked,
                list(history.values()),
                pair_up(stated, day),
                pair_up(liked, day),
                [replace(p, categories=(), authors=()) for p in today],
                mix_up(stated, liked, day),
                names,
                [
                    Task(Profile(id=cat, topics=(taxonomy[cat]["name"],)), set(), "")
                    for cat in sorted(set(taxonomy) - set(counts))
                ],
            )
        )
    return days


def glossary(taxonomy: dict[str, dict[str, str]]) -> dict[str, str]:
    """The taxonomy as the ranker's glossary: each category's name -> its description."""
    out: dict[str, str] = {}
    for entry in taxonomy.values():
        name, text = entry.get("name", ""), entry.get("description", "")
        out[name] = f"{out[name]} {text}".strip() if name in out else text
    return out


def pair_up(tasks: list[Task], day: date) -> list[Task]:
    """Readers with two interests (not in the issue): the day's tasks shuffled, seeded by the
    day, and joined two by two: both topics, or both authors' liked papers; relevant = either
    one's papers. What a single-interest task cannot show: whether a digest keeps both
    interests (per-seed similarity, the interests' turns) or lets one crowd out the other."""
    shuffled = list(tasks)
    random.Random(day.toordinal()).shuffle(shuffled)
    return [_join(a, b) for a, b in zip(shuffled[::2], shuffled[1::2], strict=False)]


def mix_up(stated: list[Task], liked: list[Task], day: date) -> list[Task]:
    """Readers who both state a topic and like papers (not in the issue): each of the day's
    liked readers with one of its stated readers (shuffled, seeded by the day, taken in turn);
    relevant = either one's papers. It shows how the digest weighs a topic against liked
    papers: neither should crowd the other out of a reader's ten places."""
    if not stated:
        return []
    topics = list(stated)
    random.Random(day.toordinal()).shuffle(topics)
    return [_join(topics[k % len(topics)], author) for k, author in enumerate(liked)]


def _join(a: Task, b: Task) -> Task:
    """One reader with both readers' interests (topics and liked papers); relevant = either
    one's papers, each kept as an interest; BM25's query is both texts."""
    profile = Profile(
        id=f"{a.profile.id} + {b.profile.id}",
        topics=a.profile.topics + b.profile.topics,
        liked=a.profile.liked + b.profile.liked,
    )
    interests = (frozenset(a.relevant), frozenset(b.relevant))
    return Task(profile, a.relevant | b.relevant, f"{a.bm25_query} {b.bm25_query}", interests)


def _seeds(papers: list[Paper], day: date) -> list[Paper]:
    """The author's liked papers for ``day``: the 5 most recent before it."""
    return [p for p in papers if p.announced and p.announced < day][-LIKED_SEEDS:]


# -- metrics and the baseline -----------------------------------------------------------
def ndcg(ranked: Sequence[str], relevant: set[str], k: int = K) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, pid in enumerate(ranked[:k]) if pid in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / ideal if ideal else 0.0


def precision(ranked: Sequence[str], relevant: set[str], k: int = K) -> float:
    return sum(1 for pid in ranked[:k] if pid in relevant) / k


WORD = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    return [w for w in WORD.findall(text.lower()) if len(w) > 1 and w not in ENGLISH_STOP_WORDS]


def bm25_rankings(
    pool: Sequence[Paper], queries: Sequence[str], *, query_tf: bool = False
) -> list[list[str]]:
    """Textbook Okapi BM25 (k1=1.2, b=0.75) over title + abstract: the baseline.

    ``query_tf=False`` counts each distinct query word once (Okapi with k3 = 0, the figures
    reported so far); ``query_tf=True`` counts a word as often as the query says it (k3 ->
    infinity: what Lucene or rank_bm25 do with a query text). Both are printed: the second
    is stronger on long queries such as five liked papers or a category description."""
    k1, b = 1.2, 0.75
    vectorizer = CountVectorizer(analyzer=_words)
    counts = vectorizer.fit_transform([f"{p.title} {p.abstract}" for p in pool]).tocsr()
    counts = counts.astype(np.float64)
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
    lengths = np.asarray(counts.sum(axis=1)).ravel()
    norm = k1 * (1 - b + b * lengths / lengths.mean())
    counts.data = counts.data * (k1 + 1) / (counts.data + np.repeat(norm, np.diff(counts.indptr)))
    weights = counts.multiply(idf).tocsr()
    q = vectorizer.transform(queries).tocsr()
    if not query_tf:
        q.data[:] = 1
    scores = (q @ weights.T).toarray()
    ids = [p.id for p in pool]
    return [[ids[i] for i in np.argsort(-row, kind="stable")[:K]] for row in scores]


BASELINES = ("bm25", "bm25-qtf")
TASKS = (
    "stated",
    "liked",
    "liked+coauthors",
    "two topics",
    "two authors",
    "topic + author",
    "names",
)
SIMULATED = TASKS[:3]  # the feedback simulation's tasks
ABSENT = "absent subjects"  # names of categories with no paper that day: only what is shown


# -- running the ranker -----------------------------------------------------------------
class Vectors:
    """Paper embeddings computed once and cached on disk (as stored at ingest in production):
    only the papers a run needs (``needed_ids``), in parts of ``PART`` papers saved as each
    is done, so a run cut short keeps what it embedded and the next run starts from it."""

    PART = 1000

    def __init__(
        self, papers: list[Paper], embedder: sem.Embedder, needed: Container[str] | None = None
    ):
        self.by_id: dict[str, np.ndarray] = {}
        for path in sorted(CACHE.glob("minilm-part-*.npz")):
            with np.load(path) as part:
                self.by_id.update(zip(part["ids"].tolist(), part["vectors"], strict=True))
        todo = [p for p in papers if p.id not in self.by_id and (needed is None or p.id in needed)]
        self.seconds_per_paper = float("nan")
        if not todo:
            return
        started = time.perf_counter()
        CACHE.mkdir(parents=True, exist_ok=True)
        for start in range(0, len(todo), self.PART):
            part = todo[start : start + self.PART]
            matrix = sem.embed_papers(part, embedder)
            ids = [p.id for p in part]
            name = hashlib.sha1("".join(ids).encode()).hexdigest()[:12]
            np.savez(CACHE / f"minilm-part-{name}.npz", ids=np.array(ids), vectors=matrix)
            self.by_id.update(zip(ids, matrix, strict=True))
            print(f"  embedded {start + len(part)}/{len(todo)} papers", flush=True)
        self.seconds_per_paper = (time.perf_counter() - started) / len(todo)


def needed_ids(days: Sequence[Day]) -> set[str]:
    """The papers a run over ``days`` embeds: each day's pool and its liked papers."""
    return {p.id for d in days for p in (*d.coauthor_pool, *d.history)}


def run_ranker(
    pool: list[Paper],
    tasks: Sequence[Task],
    history: Sequence[Paper],
    opts: RankOptions,
    embedder: sem.Embedder | None,
    vectors: Vectors | None,
    profiles: Sequence[Profile] | None = None,
) -> list[list[str]]:
    prepared = build_pool(
        pool,
        history,
        opts,
        embedder=embedder,
        vectors=vectors.by_id if vectors else None,
        glossary=GLOSSARY,
    )
    wanted = profiles if profiles is not None else [t.profile for t in tasks]
    picks = rank_pool(prepared, wanted, top_k=K, options=opts)
    return [[p.paper_id for p in row] for row in picks]


def run_coauthor_task(
    day: Day,
    opts: RankOptions,
    embedder: sem.Embedder | None,
    vectors: Vectors | None,
    profiles: Sequence[Profile] | None = None,
    history: Sequence[Paper] | None = None,
) -> list[list[str]]:
    """The liked task with the pool's authors kept: one reader at a time, its seeds (liked
    and 👍 papers) shown without the relevant author's name, so only the seeds' co-authors
    can match."""
    prepared = build_pool(
        day.coauthor_pool,
        day.history if history is None else history,
        opts,
        embedder=embedder,
        vectors=vectors.by_id if vectors else None,
        glossary=GLOSSARY,
    )
    out = []
    wanted = profiles if profiles is not None else [t.profile for t in day.liked]
    for task, profile in zip(day.liked, wanted, strict=True):
        target = author_key(task.profile.id)
        ids = [*profile.liked, *(e.paper_id for e in profile.feedback)]
        seeds = {s: prepared.known[s] for s in ids if s in prepared.known}
        for sid, seed in seeds.items():
            hidden = tuple(a for a in seed.authors if author_key(a) != target)
            prepared.known[sid] = replace(seed, authors=hidden)
        picks = rank_pool(prepared, [profile], top_k=K, options=opts)[0]
        prepared.known.update(seeds)
        out.append([p.paper_id for p in picks])
    return out


@dataclass
class Score:
    ndcg: list[float]
    precision: list[float]
    both: list[float] = field(default_factory=list)  # two-interest tasks: both in the top K
    per_interest: list[float] = field(default_factory=list)  # and their intent-aware nDCG
    each: list[tuple[float, ...]] = field(default_factory=list)  # each interest's nDCG
    shown: list[int] = field(default_factory=list)  # papers in each top K (the digest may
    # show fewer than K: only papers that match)

    def add(self, ranked: Sequence[str], relevant: set[str], interests: Sequence = ()) -> None:
        self.ndcg.append(ndcg(ranked, relevant))
        self.precision.append(precision(ranked, relevant))
        self.shown.append(len(ranked[:K]))
        if interests:
            top = set(ranked[:K])
            self.both.append(float(all(top & papers for papers in interests)))
            # Intent-aware nDCG (Agrawal et al., 2009), interests equally likely: the mean of
            # each interest's own nDCG, which a top K taken from one interest does not earn.
            each = tuple(ndcg(ranked, set(p)) for p in interests)
            self.each.append(each)
            self.per_interest.append(float(np.mean(each)))

    @property
    def mean(self) -> tuple[float, float]:
        if not self.ndcg:
            return 0.0, 0.0
        return float(np.mean(self.ndcg)), float(np.mean(self.precision))

    @property
    def intent_aware(self) -> float:
        return float(np.mean(self.per_interest)) if self.per_interest else 0.0

    @property
    def interest_means(self) -> list[float]:
        """Each interest's mean nDCG@10 (first interest, second ...): how the top K is shared."""
        return [float(v) for v in np.mean(self.each, axis=0)] if self.each else []

    @property
    def both_share(self) -> float:
        """Two-interest tasks: the share of readers with papers of both in their top K."""
        return float(np.mean(self.both)) if self.both else 0.0

    def minus(self, other: Score) -> tuple[float, float]:
        """Mean per-query nDCG@10 difference from ``other`` (the same queries, in the same
        order) and its 95 % half-width (1.96 standard errors): a difference inside it is
        noise, which matters when grids differ in the third decimal."""
        diff = np.asarray(self.ndcg) - np.asarray(other.ndcg)
        if diff.size < 2:
            return float(diff.sum()), float("nan")
        return float(diff.mean()), float(1.96 * diff.std(ddof=1) / math.sqrt(diff.size))


def evaluate(
    days: Sequence[Day],
    opts: RankOptions,
    embedder: sem.Embedder | None,
    vectors: Vectors | None,
    *,
    baseline: bool = True,
) -> dict[str, dict[str, Score]]:
    out = {task: {name: Score([], []) for name in (*BASELINES, "digest")} for task in TASKS}
    out[ABSENT] = {"digest": Score([], [])}
    for day in days:
        for j, ranked in enumerate(run_coauthor_task(day, opts, embedder, vectors)):
            out["liked+coauthors"]["digest"].add(ranked, day.liked[j].relevant)
        for name, pool, tasks in (
            ("stated", day.stated_pool, day.stated),
            ("liked", day.liked_pool, day.liked),
            ("two topics", day.stated_pool, day.two_topics),
            ("two authors", day.liked_pool, day.two_authors),
            ("topic + author", day.mixed_pool, day.topic_author),
            ("names", day.stated_pool, day.names),
        ):
            if not tasks:
                continue
            ours = run_ranker(pool, tasks, day.history, opts, embedder, vectors)
            for j, task in enumerate(tasks):
                out[name]["digest"].add(ours[j], task.relevant, task.interests)
            if not baseline:
                continue
            queries = [t.bm25_query for t in tasks]
            for method in BASELINES:
                ranked = bm25_rankings(pool, queries, query_tf=method == "bm25-qtf")
                for j, task in enumerate(tasks):
                    out[name][method].add(ranked[j], task.relevant, task.interests)
                    if name == "liked":  # BM25 reads no authors: the same lists
                        out["liked+coauthors"][method].add(ranked[j], task.relevant)
        if day.absent:  # readers whose subject has no paper today: what they are shown
            shown = run_ranker(day.stated_pool, day.absent, day.history, opts, embedder, vectors)
            for task, ranked in zip(day.absent, shown, strict=True):
                out[ABSENT]["digest"].add(ranked, task.relevant)
    return out


@dataclass
class SimDay:
    """One day of the feedback simulation: nDCG@10 without and with the 👍 given so far,
    over all readers and over the readers who had given at least one 👍 before the day."""

    day: date
    readers: int
    with_feedback: int
    plain: float
    fed: float
    plain_fb: float
    fed_fb: float


def feedback_simulation(
    days: Sequence[Day],
    all_papers: dict[str, Paper],
    opts: RankOptions,
    embedder: sem.Embedder | None,
    vectors: Vectors | None,
) -> dict[str, list[SimDay]]:
    """Each day, each reader 👍 the relevant papers among the ten shown; nDCG with that
    feedback accumulated vs. without it, day by day.

    A liked-task reader keeps the liked papers of the first day they appear (their sign-up):
    the task's own profile is re-derived daily from the author's latest papers, which would
    already hold every paper the reader could 👍 and leave feedback nothing to add."""
    out: dict[str, list[SimDay]] = {}
    for name in SIMULATED:
        events: dict[str, list[FeedbackEvent]] = defaultdict(list)
        signed_up: dict[str, Profile] = {}
        rows = []
        for day in days:
            tasks = day.stated if name == "stated" else day.liked
            if not tasks:
                continue
            profiles = [signed_up.setdefault(t.profile.id, t.profile) for t in tasks]
            with_feedback = [replace(p, feedback=tuple(events[p.id])) for p in profiles]
            ids = {e.paper_id for p in profiles for e in events[p.id]}
            ids |= {s for p in profiles for s in p.liked}
            history = [all_papers[i] for i in sorted(ids)]
            if name == "liked+coauthors":
                args = (day, opts, embedder, vectors)
                plain = run_coauthor_task(*args, profiles, history)
                fed = run_coauthor_task(*args, with_feedback, history)
            else:
                pool = day.stated_pool if name == "stated" else day.liked_pool
                plain = run_ranker(pool, tasks, history, opts, embedder, vectors, profiles)
                fed = run_ranker(pool, tasks, history, opts, embedder, vectors, with_feedback)
            had = [bool(events[p.id]) for p in profiles]
            at = datetime(day.day.year, day.day.month, day.day.day)
            for task, shown in zip(tasks, fed, strict=True):
                for pid in shown:
                    if pid in task.relevant:
                        events[task.profile.id].append(FeedbackEvent(pid, "up", at))
            before = [ndcg(r, t.relevant) for r, t in zip(plain, tasks, strict=True)]
            after = [ndcg(r, t.relevant) for r, t in zip(fed, tasks, strict=True)]
            rows.append(
                SimDay(
                    day.day,
                    len(tasks),
                    sum(had),
                    float(np.mean(before)),
                    float(np.mean(after)),
                    float(np.mean([b for b, h in zip(before, had, strict=True) if h] or [0])),
                    float(np.mean([a for a, h in zip(after, had, strict=True) if h] or [0])),
                )
            )
        out[name] = rows
    return out


# -- a per-reader model for liked papers (issue 18, item 4; tuning months only) ----------
LR_BLENDS = (0.0, 0.25, 0.5, 1.0)  # the model's P(liked) added to the digest's score (0: control)


def _stable_seed(*parts: object) -> int:
    return int(hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:8], 16)


def liked_lr_scores(day: Day, vectors: Vectors, negatives: int, c: float) -> list[np.ndarray]:
    """Per liked reader of the day, P(liked) of every pool paper from a logistic regression
    over the paper embeddings (Scholar Inbox style): the five liked papers are the
    positives, ``negatives`` papers sampled from the day's pool (seeded by reader and day)
    the negatives; balanced classes, L2 with inverse strength ``c``."""
    ids = [p.id for p in day.liked_pool]
    pool = np.vstack([vectors.by_id[i] for i in ids])
    out = []
    for task in day.liked:
        positive = np.vstack([vectors.by_id[s] for s in task.profile.liked])
        rng = np.random.default_rng(_stable_seed(task.profile.id, day.day))
        sampled = rng.choice(len(ids), size=min(negatives, len(ids)), replace=False)
        x = np.vstack([positive, pool[sampled]])
        y = np.r_[np.ones(len(positive)), np.zeros(len(sampled))]
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=500).fit(x, y)
        out.append(model.predict_proba(pool)[:, 1])
    return out


def liked_lr_comparison(
    days: Sequence[Day],
    opts: RankOptions,
    embedder: sem.Embedder,
    vectors: Vectors,
    negatives: int,
    c: float,
) -> dict[str, Score]:
    """The liked task ranked by the per-reader model alone, and by the digest's own
    candidates (its best 40 by score) re-ranked with the model's P(liked) added with each
    weight of ``LR_BLENDS``; beside the digest's liked ranking on the same readers."""
    rows = ["digest", "model alone", *(f"digest + {w} x model" for w in LR_BLENDS)]
    out = {row: Score([], []) for row in rows}
    for day in days:
        if not day.liked:
            continue
        prepared = build_pool(
            day.liked_pool,
            day.history,
            opts,
            embedder=embedder,
            vectors=vectors.by_id,
            glossary=GLOSSARY,
        )
        profiles = [t.profile for t in day.liked]
        plain = rank_pool(prepared, profiles, top_k=K, options=opts)
        wide = rank_pool(prepared, profiles, top_k=4 * K, options=opts.with_(diversity=False))
        ids = [p.id for p in day.liked_pool]
        scores = liked_lr_scores(day, vectors, negatives, c)
        for task, picks, candidates, model in zip(day.liked, plain, wide, scores, strict=True):
            out["digest"].add([p.paper_id for p in picks], task.relevant)
            seeds = set(task.profile.liked)
            order = [ids[i] for i in np.argsort(-model, kind="stable") if ids[i] not in seeds]
            out["model alone"].add(order[:K], task.relevant)
            for w in LR_BLENDS:
                blended = sorted(
                    candidates,
                    key=lambda p: -(p.score + w * model[prepared.index[p.paper_id]]),
                )
                out[f"digest + {w} x model"].add([p.paper_id for p in blended[:K]], task.relevant)
    return out


# -- tuning ------------------------------------------------------------------------------
# The ablation grid: each research knob of a feature the tasks exercise, switched off or at
# its neutral value (``DIGEST_RANK`` syntax, research keys allowed), against the defaults.
# BM25's own k1 and b stay at the textbook values the baseline uses; knobs of signals no task
# exercises (categories in profiles, trending figures, recency within one day's pool,
# followed authors, 👎, the learned model) are not in the grid: their rows would equal the
# defaults (docs/ranking.md, "Which knobs a deployment sees").
ABLATIONS = (
    "lexical.acronyms=off",  # topics match acronyms and long forms alike
    "lexical.prf_docs=0",  # no pseudo-relevance expansion (prf_terms, prf_weight unused)
    "lexical.prf_scored=off",  # feedback papers weigh equally (not by their score, RM3)
    "lexical.head_weight=0",  # a description's first sentence weighs like the rest
    "lexical.query_k3=0",  # a topic word said n times weighs 1, not 4n/(3+n)
    "lexical.title_weight=1",  # the title counted once in BM25
    "liked_top_k=1",  # the closest seed alone instead of the mean of the closest 3
    "liked_standardize=off",  # raw TF-IDF cosines to the seeds
    "liked_threshold=0",  # any paper sharing a word with a seed is eligible
    "coauthor_weight=0",  # no co-author signal
    "coauthor_max_authors=20",  # the old cap: seeds of collaborations (> 20 authors) skipped
    "code_owner_weight=0",  # no code-owner signal
    "group_max_share=1",  # names and owners on many papers count too
    "diversity=off",  # no interests' turns
    "duplicate_threshold=2",  # no near-duplicate suppression
)
SEMANTIC_ABLATIONS = (
    "semantic_share=0",  # topic relevance from words only
    "semantic_topic_threshold=2",  # a topic never matches by meaning alone
    "semantic_liked_share=0",  # liked similarity from words only
    "semantic_liked_threshold=2",  # a seed never makes a paper eligible by meaning alone
)


def tuning_grid(
    base: RankOptions, rows: Sequence[str] | None = None
) -> list[tuple[str, RankOptions]]:
    """``defaults`` and, against them, each row (the ablations unless ``rows`` is given)."""
    if rows is None:
        rows = ABLATIONS + (SEMANTIC_ABLATIONS if base.semantic else ())
    return [("defaults", base)] + [
        (row, RankOptions.parse(row, base, research=True)) for row in rows
    ]


def _ratio(value: float, base: float) -> float:
    return value / base if base else float("nan")


# -- main --------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, action="append", help="(repeatable; both files)")
    parser.add_argument("--categories", type=Path, default=CATEGORIES)
    parser.add_argument("--period", choices=("tune", "report"), default="tune")
    parser.add_argument("--every", type=int, default=1, help="tuning months: every N-th day")
    parser.add_argument("--semantic", action=argparse.BooleanOptionalAction, default=False)
    parser.add_argument(
        "--tune", action="store_true", help="the ablation grid (or --try rows) vs the defaults"
    )
    parser.add_argument(
        "--try", dest="rows", action="append", help="--tune: a row to run instead of the grid"
    )
    parser.add_argument("--feedback", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--options", default="", help="ranker options, any field ('k=v, k=v', lexical.k1=...)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--liked-lr",
        type=int,
        metavar="NEGATIVES",
        help="tuning months, --semantic: the liked task ranked by a per-reader logistic"
        " regression over embeddings (NEGATIVES sampled pool papers), against the digest",
    )
    parser.add_argument("--liked-lr-c", type=float, default=1.0, help="its inverse L2 strength")
    args = parser.parse_args(argv)
    if args.tune and args.period != "tune":
        parser.error("--tune runs on the tuning months only")
    if args.liked_lr and (args.period != "tune" or not args.semantic):
        parser.error("--liked-lr runs on the tuning months only, with --semantic")
    try:  # before the data loads: a typo should not cost a minute
        opts = RankOptions.parse(args.options, RankOptions(semantic=args.semantic), research=True)
        grid = tuning_grid(opts, args.rows)
    except ConfigError as exc:
        parser.error(f"--options: {exc}")

    papers, taxonomy = load_all(args.data or DATA, args.categories)
    GLOSSARY.update(glossary(taxonomy))
    days = period_days(papers, taxonomy, args.period, args.every)
    if not days:
        parser.error(f"no announcement day of the {args.period} period in the data")
    embedder = vectors = None
    if args.semantic:
        embedder = sem.default_embedder()
        vectors = Vectors(papers, embedder, needed_ids(days))
    sampled = f", every {args.every}th day" if args.period == "tune" and args.every > 1 else ""
    print(
        f"{len(papers)} papers; {args.period} period: {len(days)} days {days[0].day} .. "
        f"{days[-1].day}{sampled}; backend "
        f"{'lexical + ' + sem.MODEL_NAME if args.semantic else 'lexical'}"
    )
    if args.period == "report":
        print("  the report months: a look to count in docs/ranking.md (Evaluation)")
    if args.liked_lr:
        assert embedder is not None and vectors is not None
        print(
            f"liked task, {sum(len(d.liked) for d in days)} readers; a per-reader logistic"
            f" regression, {args.liked_lr} sampled negatives, C {args.liked_lr_c}; nDCG@10"
            " (difference from the digest ± its 95 % half-width)",
            flush=True,
        )
        rows = liked_lr_comparison(days, opts, embedder, vectors, args.liked_lr, args.liked_lr_c)
        for label, score in rows.items():
            diff, half = score.minus(rows["digest"])
            print(f"  {label:24s} {score.mean[0]:.4f} ({diff:+.4f} ± {half:.4f})")
        return 0
    if args.tune:
        print(
            f"tuning: {sum(len(d.liked) for d in days)} liked queries; each row: nDCG@10"
            " (difference from the defaults ± its 95 % half-width)",
            flush=True,
        )
        defaults: dict[str, Score] = {}
        for label, candidate in grid:
            result = evaluate(days, candidate, embedder, vectors, baseline=False)
            shown = []
            for task in TASKS:
                score = result[task]["digest"]
                defaults.setdefault(task, score)
                diff, half = score.minus(defaults[task])
                both = f", both {score.both_share:.0%}" if score.both else ""
                shown.append(f"{task} {score.mean[0]:.4f} ({diff:+.4f} ± {half:.4f}{both})")
            print(f"  {label:32s} " + "  ".join(shown), flush=True)
        return 0

    started = time.perf_counter()
    result = evaluate(days, opts, embedder, vectors)
    figures: dict[str, object] = {
        "backend": "semantic" if args.semantic else "lexical",
        "period": args.period,
        "days": len(days),
    }
    print(f"\n{args.period} period ({len(days)} days), top {K}:")
    print(
        f"  {'task':15s} {'method':8s} {'queries':>7s} {'nDCG@10':>8s} {'P@10':>6s}"
        f" {'x bm25':>7s} {'x bm25-qtf':>10s}"
    )
    for task in TASKS:
        count = len(result[task]["digest"].ndcg)
        figures[task] = {"queries": count}
        if not count:
            print(f"  {task:15s} (no queries)")
            continue
        for method in (*BASELINES, "digest"):
            value, prec = result[task][method].mean
            ratios = [_ratio(value, result[task][b].mean[0]) for b in BASELINES]
            figures[task][method] = {"ndcg@10": value, "p@10": prec}  # type: ignore[index]
            shown = "".join(f" {r:7.3f}" if i == 0 else f" {r:10.3f}" for i, r in enumerate(ratios))
            if result[task][method].both:
                both = result[task][method].both_share
                aware = result[task][method].intent_aware
                figures[task][method]["both_interests"] = both  # type: ignore[index]
                parts = result[task][method].interest_means
                figures[task][method]["ia_ndcg@10"] = aware  # type: ignore[index]
                figures[task][method]["per_interest_ndcg@10"] = parts  # type: ignore[index]
                shown += (
                    f"   both interests in the top {K}: {both:.0%}, intent-aware nDCG {aware:.4f}"
                    f" ({' / '.join(f'{v:.4f}' for v in parts)})"
                )
            shows = result[task][method].shown
            figures[task][method]["shown"] = float(np.mean(shows))  # type: ignore[index]
            if np.mean(shows) < K:
                empty = sum(1 for n in shows if n == 0)
                shown += f"   shows {np.mean(shows):.2f} papers on average, none to {empty} readers"
            print(f"  {task:15s} {method:8s} {count:7d} {value:8.4f} {prec:6.3f}{shown}")
        figures[task]["ratio"] = ratios[0]  # type: ignore[index]
        figures[task]["ratio_qtf"] = ratios[1]  # type: ignore[index]
        diff, half = result[task]["digest"].minus(result[task]["bm25"])
        base = result[task]["bm25"].mean[0]
        low, high = _ratio(base + diff - half, base), _ratio(base + diff + half, base)
        figures[task]["ratio_95"] = [low, high]  # type: ignore[index]
        print(
            f"  {'':15s} digest - bm25: {diff:+.4f} ± {half:.4f} (95 %),"
            f" x bm25 between {low:.3f} and {high:.3f}"
        )
    shows = np.array(result[ABSENT]["digest"].shown)
    if shows.size:
        figures[ABSENT] = {"readers": int(shows.size), "shown": float(shows.mean())}
        figures[ABSENT]["shown_any"] = float(np.mean(shows > 0))  # type: ignore[index]
        print(
            f"  {ABSENT}: {shows.size} readers whose topic is the name of a category with no"
            f" paper that day are shown {shows.mean():.2f} papers on average"
            f" ({np.mean(shows > 0):.0%} shown any)"
        )
    print(f"  ({time.perf_counter() - started:.1f} s)")
    if vectors is not None and not math.isnan(vectors.seconds_per_paper):
        print(f"  embedding: {vectors.seconds_per_paper * 1000:.1f} ms per paper")

    if args.feedback:
        by_id = {p.id: p for p in papers}
        sim = feedback_simulation(days, by_id, opts, embedder, vectors)
        figures["feedback"] = {}
        for task, rows in sim.items():
            print(
                f"\nfeedback simulation, {task}: nDCG@10 per day without / with the 👍 so far,"
                " all readers | readers who gave 👍 before that day"
            )
            for r in rows:
                bar = "+" * max(0, round((r.fed - r.plain) * 100))
                print(
                    f"  {r.day}  {r.readers:4d} readers  {r.plain:.3f} {r.fed:.3f}"
                    f" {r.fed - r.plain:+.3f} | {r.with_feedback:4d}  {r.plain_fb:.3f}"
                    f" {r.fed_fb:.3f} {r.fed_fb - r.plain_fb:+.3f} {bar}"
                )
            third = max(1, len(rows) // 3)
            summary = {}
            for label, part in (("first", rows[:third]), ("last", rows[-third:])):
                summary[f"gain_{label}"] = float(np.mean([r.fed - r.plain for r in part]))
                weights = [r.with_feedback for r in part]
                summary[f"gain_fb_{label}"] = (
                    float(np.average([r.fed_fb - r.plain_fb for r in part], weights=weights))
                    if sum(weights)
                    else 0.0
                )
                summary[f"readers_fb_{label}"] = sum(weights)
            print(
                f"  gain from feedback, all readers: first {third} days"
                f" {summary['gain_first']:+.3f}, last {third} {summary['gain_last']:+.3f};"
                f" readers who gave 👍: first {summary['gain_fb_first']:+.3f}"
                f" ({summary['readers_fb_first']} reader-days),"
                f" last {summary['gain_fb_last']:+.3f} ({summary['readers_fb_last']})"
            )
            figures["feedback"][task] = {  # type: ignore[index]
                "days": [list(map(str, vars(r).values())) for r in rows],
                **summary,
            }
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
