"""Speed work on the ranker must not change a single pick: a few thousand synthetic readers
(topics, followed authors, categories as boost or filter, excluded and required words, liked
and disliked papers, feedback, papers already sent) are ranked, in the digest's mode and in
the full ranking, and every pick (paper, exact score, reason, section, shown, match,
trending) is compared with a fingerprint of what the ranker gave before that work (commit
96c2e06). A change that is meant to move the ranking updates ``EXPECTED`` on purpose.

Feedback here is votes only: the order of a reader's click-only papers follows a set's
iteration order (``feedback.labels``), which changes with ``PYTHONHASHSEED``."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, date, datetime, timedelta

from digest.domain import FeedbackEvent, Paper, Profile
from digest.rank import RankOptions, build_pool, rank_pool

EXPECTED = "fe69eef8e9641f35af16034aeb7d6ff7ffc7719eeff55dbd4f45f106fcb36256"
READERS = 3000

SUBJECTS = [
    "continual learning",
    "speech recognition",
    "graph neural networks",
    "diffusion models",
    "reinforcement learning",
    "large language models",
    "protein folding",
    "dark matter",
    "black holes",
    "federated learning",
    "time series forecasting",
    "image segmentation",
    "machine translation",
    "robot manipulation",
    "quantum error correction",
    "causal inference",
]
WORDS = [
    "model",
    "data",
    "learning",
    "method",
    "network",
    "training",
    "task",
    "results",
    "performance",
    "approach",
    "neural",
    "robust",
    "efficient",
    "scalable",
    "sparse",
    "benchmark",
    "dataset",
    "evaluation",
    "attention",
    "transformer",
    "memory",
    "replay",
    "forgetting",
    "audio",
    "molecule",
    "galaxy",
    "planet",
    "policy",
    "reward",
    "agent",
    "language",
    "vision",
    "survey",
    "theorem",
    "bound",
    "optimal",
    "convex",
    "kernel",
    "bayesian",
    "uncertainty",
    "privacy",
    "attack",
    "defense",
]
CATEGORIES = ["cs.LG", "cs.CL", "cs.CV", "astro-ph.CO", "q-bio.BM", "eess.AS", "cs.RO", "stat.ML"]
AUTHORS = [
    f"{first} {last}"
    for first in ("Ada", "Bob", "Chen", "Dana", "Emil", "Fatima")
    for last in ("Lovelace", "Builder", "Wei", "Scully", "Ångström", "Haddad", "Müller")
]


def _papers(rng: random.Random, n: int, prefix: str, day: date) -> list[Paper]:
    out = []
    for k in range(n):
        subject = rng.choice(SUBJECTS)
        other = rng.choice(SUBJECTS)
        title = f"{rng.choice(WORDS).title()} {subject} with {rng.choice(WORDS)} {other}"
        abstract = " ".join(
            [subject, *rng.sample(WORDS, 12), other if rng.random() < 0.5 else "", "LLMs"]
        )
        if rng.random() < 0.1:
            abstract += f" Code: https://github.com/lab{rng.randint(0, 30)}/repo{k}"
        out.append(
            Paper(
                id=f"{prefix}{k}",
                title=title,
                abstract=abstract,
                authors=tuple(rng.sample(AUTHORS, rng.randint(1, 4))),
                categories=tuple(rng.sample(CATEGORIES, rng.randint(1, 2))),
                announced=day - timedelta(days=rng.randint(0, 4)),
                upvotes=rng.choice([None, 0, 1, 3, 12, 80]),
                github_stars=rng.choice([None, None, 5, 400]),
            )
        )
    for k in range(0, n, 25):  # near-copies, which diversity skips
        out.append(Paper(id=f"{prefix}dup{k}", title=out[k].title, abstract=out[k].abstract))
    return out


def _readers(rng: random.Random, papers: list[Paper], history: list[Paper]) -> list[Profile]:
    seen = [p.id for p in [*papers, *history]]
    start = datetime(2025, 5, 1, tzinfo=UTC)
    profiles = []
    for i in range(READERS):
        r = rng.random()
        topics = rng.sample(SUBJECTS, rng.randint(1, 3))
        if rng.random() < 0.2:
            topics.append(" ".join(rng.sample(WORDS, rng.randint(1, 9))))  # odd and long ones
        feedback = ()
        if rng.random() < 0.03:
            feedback = tuple(
                FeedbackEvent(
                    rng.choice(seen),
                    rng.choice(["up", "up", "down"]),
                    start + timedelta(hours=h),
                )
                for h in range(rng.randint(2, 8))
            )
        profiles.append(
            Profile(
                id=f"r{i}",
                topics=tuple(topics) if r > 0.05 else (),
                authors=tuple(rng.sample(AUTHORS, rng.randint(1, 2))) if r < 0.2 else (),
                categories=tuple(rng.sample(CATEGORIES, rng.randint(1, 2))) if r < 0.4 else (),
                category_mode="filter" if rng.random() < 0.1 else "boost",
                exclude=(rng.choice(WORDS),) if rng.random() < 0.15 else (),
                require=(rng.choice(WORDS),) if rng.random() < 0.05 else (),
                liked=tuple(rng.sample(seen, rng.randint(1, 4))) if rng.random() < 0.1 else (),
                disliked=(rng.choice(seen),) if rng.random() < 0.05 else (),
                feedback=feedback,
            )
        )
    return profiles


def _fingerprint() -> str:
    rng = random.Random(2025)
    papers = _papers(rng, 400, "p", date(2025, 5, 2))
    history = _papers(rng, 150, "h", date(2025, 4, 20))
    profiles = _readers(rng, papers, history)
    sent = {p.id: set(rng.sample([x.id for x in papers], 5)) for p in profiles[::7]}
    opts = RankOptions(semantic=False, chunk_size=700)
    pool = build_pool(papers, history, opts)
    digest = hashlib.sha256()
    for shown_only in (True, False):
        for picks in rank_pool(
            pool, profiles, already_sent=sent, top_k=10, options=opts, shown_only=shown_only
        ):
            for p in picks:
                fields = (p.paper_id, p.score, p.why, p.section, p.shown, p.match, p.trending)
                digest.update(repr(fields).encode())
            digest.update(b"\n")
    return digest.hexdigest()


def test_picks_are_those_of_the_ranker_before_the_speed_work() -> None:
    assert _fingerprint() == EXPECTED
